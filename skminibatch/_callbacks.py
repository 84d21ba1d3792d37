"""Per-epoch callbacks: the ``callbacks`` parameter and scikit-learn's callback API.

The training loop sees one object, :class:`EpochCallbacks`, and calls two of its methods (or
is given them as ``on_epoch_begin`` and ``on_epoch_end``): ``on_epoch_begin()`` and
``on_epoch_end(record) -> stop``. The estimator builds it in ``fit`` and ``partial_fit``, calls
``on_fit_begin(max_epochs)`` before training and ``on_fit_end()`` once its fitted attributes
are set. Behind that interface it drives

- the estimator's ``callbacks`` parameter: objects with ``on_epoch_end(estimator, record)``
  that may return True to stop training;
- scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9), registered with
  ``estimator.set_callbacks(...)`` or propagated by a meta-estimator (``Pipeline``,
  ``GridSearchCV``, ...): a call of ``fit`` or ``partial_fit`` is a task with one subtask per
  epoch, so ``ProgressBar`` shows one step per epoch and ``ScoringMonitor`` one score per
  epoch.

With scikit-learn < 1.9, :class:`CallbackSupportMixin` and :func:`with_callbacks` are stand-ins
that do nothing, so the estimators can use them whatever the version.
"""

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn < 1.9 has no callback API

    class CallbackSupportMixin:
        """Stand-in for ``sklearn.callback.CallbackSupportMixin`` (scikit-learn < 1.9)."""

    def with_callbacks(method):
        """Stand-in for ``sklearn.callback.with_callbacks`` (scikit-learn < 1.9)."""
        return method


__all__ = ["CallbackSupportMixin", "EpochCallbacks", "check_callbacks", "with_callbacks"]


def check_callbacks(callbacks):
    """The ``callbacks`` parameter as a list, each element checked.

    Parameters
    ----------
    callbacks : list of objects or None
        Objects with an ``on_epoch_end(estimator, record)`` method.

    Returns
    -------
    callbacks : list
        The callbacks; empty for None.

    Raises
    ------
    TypeError
        If an element has no ``on_epoch_end`` method or is a class rather than an instance.
    """
    if callbacks is None:
        return []
    callbacks = list(callbacks)
    for callback in callbacks:
        if isinstance(callback, type) or not callable(getattr(callback, "on_epoch_end", None)):
            hint = (
                " It looks like a scikit-learn callback: register it with "
                "estimator.set_callbacks(...) instead."
                if hasattr(callback, "on_fit_task_end")
                else ""
            )
            raise TypeError(
                f"callbacks must be a list of instances of classes with an "
                f"on_epoch_end(estimator, record) method; got {callback!r}.{hint}"
            )
    return callbacks


class EpochCallbacks:
    """Everything to call at the end of each epoch, behind one interface.

    Built by the estimator at each call of ``fit`` or ``partial_fit``, after the input is
    validated. The estimator's fitting method must be decorated with :func:`with_callbacks`,
    which tears scikit-learn's callbacks down when the method returns or raises.

    Parameters
    ----------
    estimator : estimator instance
        The estimator being fitted. scikit-learn's callbacks are those registered on it with
        ``set_callbacks`` (including those a meta-estimator propagated to it); it has none when
        it does not derive from ``sklearn.callback.CallbackSupportMixin``.
    callbacks : list of objects or None, default=None
        The estimator's ``callbacks`` parameter: objects with an
        ``on_epoch_end(estimator, record)`` method that may return True to stop training. They
        get ``estimator`` itself, holding the weights of the epoch just finished.
    X, y : array-like, default=None
        Training data and targets handed to scikit-learn's callbacks (``ScoringMonitor``
        scores ``fitted_estimator`` on them). Pass them as the user gave them (or their
        training part), so that an estimator fitted on a DataFrame is scored on a DataFrame.
    sample_weight : array-like or None, default=None
        Handed to scikit-learn's callbacks as ``metadata={"sample_weight": ...}``.
    fitted_attributes : callable or None, default=None
        Returns, when called, a dict of the fitted attributes (``coefs_``, ``intercepts_``,
        ...) that make the estimator predict with the current weights: set on ``estimator``
        before ``callbacks`` are called, and set on a copy of it for scikit-learn's callbacks
        that ask for a ``fitted_estimator``. Each array must be a new copy, not a view of the
        weights training keeps changing. Called at most once per epoch end (and once per epoch
        begin), and only when a callback needs it.

    Notes
    -----
    The task tree seen by scikit-learn's callbacks: one root task ``"fit"`` (also for
    ``partial_fit``) with ``max_subtasks=max_epochs``, and a leaf ``"epoch"`` task per epoch.
    When the estimator is fitted inside a meta-estimator, scikit-learn merges the root task
    with the meta-estimator's task that fits it.
    """

    def __init__(
        self,
        estimator,
        callbacks=None,
        *,
        X=None,
        y=None,
        sample_weight=None,
        fitted_attributes=None,
    ):
        self.estimator = estimator
        self.callbacks = check_callbacks(callbacks)
        self.X = X
        self.y = y
        self.metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        self.fitted_attributes = fitted_attributes
        self._fit_context = None
        self._epoch_context = None

    def on_fit_begin(self, max_epochs):
        """Open the fit task: set scikit-learn's callbacks up and call their begin hooks.

        Parameters
        ----------
        max_epochs : int
            The most epochs this call can run (``max_iter`` in ``fit``, 1 in
            ``partial_fit``).
        """
        init_context = getattr(self.estimator, "_init_callback_context", None)
        if init_context is None:  # no scikit-learn callback support
            return
        if not getattr(self.estimator, "_skl_callbacks", None) and not hasattr(
            self.estimator, "_parent_callback_ctx"
        ):
            # No scikit-learn callback to call, here or in a meta-estimator: a task tree
            # would have no reader, and building it costs more than a small epoch.
            return
        self._fit_context = init_context(task_name="fit", max_subtasks=max_epochs)
        self._fit_context.call_on_fit_task_begin(
            estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata
        )

    def on_epoch_begin(self):
        """Open the task of the coming epoch (the weights are those before it).

        Optional: without it, :meth:`on_epoch_end` opens the epoch's task just before closing
        it, with no fitted estimator at its beginning.
        """
        if self._fit_context is not None:
            self._begin_epoch(self.fitted_attributes)

    def on_epoch_end(self, record):
        """Call every callback with the record of the epoch just finished.

        Every callback is called, even after one asked to stop.

        Parameters
        ----------
        record : dict
            The record just appended to ``history_`` (the same dict: keys a callback adds,
            such as a validation score, are kept in ``history_``).

        Returns
        -------
        stop : bool
            True when a callback asked to stop training.
        """
        if not self.callbacks and self._fit_context is None:
            return False
        evaluated = []

        def attributes():
            if not evaluated:
                attrs = self.fitted_attributes() if self.fitted_attributes is not None else {}
                evaluated.append(attrs)
            return evaluated[0]

        stop = False
        if self.callbacks:
            for name, value in attributes().items():
                setattr(self.estimator, name, value)
            for callback in self.callbacks:
                stop |= bool(callback.on_epoch_end(self.estimator, record))
        if self._fit_context is not None:
            if self._epoch_context is None:  # the training loop did not call on_epoch_begin
                self._begin_epoch(None)
            context, self._epoch_context = self._epoch_context, None
            stop |= bool(
                context.call_on_fit_task_end(
                    estimator=self.estimator,
                    X=self.X,
                    y=self.y,
                    metadata=self.metadata,
                    reconstruction_attributes=(
                        attributes if self.fitted_attributes is not None else None
                    ),
                )
            )
        return stop

    def on_fit_end(self):
        """Close the fit task; call it once the estimator's fitted attributes are set.

        An epoch task still open (training diverged during that epoch) is closed first, with
        no data.
        """
        if self._fit_context is None:
            return
        if self._epoch_context is not None:
            context, self._epoch_context = self._epoch_context, None
            context.call_on_fit_task_end(estimator=self.estimator)
        context, self._fit_context = self._fit_context, None
        context.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes={},
        )

    def _begin_epoch(self, reconstruction_attributes):
        self._epoch_context = self._fit_context.subcontext(task_name="epoch")
        self._epoch_context.call_on_fit_task_begin(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=reconstruction_attributes,
        )
