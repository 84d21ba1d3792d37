"""MiniBatchMLPClassifier and MiniBatchRegressor: parameters, validation, fitted attributes.

No loops and no math here: the estimators validate what they are given, hand canonical arrays to
:func:`skminibatch._trainer.train`, and expose the result as scikit-learn's fitted attributes.
"""

import mmap
import reprlib
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from . import _kernels, _network, _validation, _warnings
from ._callbacks import CallbackSupportMixin, EpochCallbacks, with_callbacks
from ._history import History
from ._streaming import MemmapBlocks, train_passes
from ._trainer import (
    INTERRUPTED_BEFORE_AN_EPOCH,
    DivergenceError,
    Stopper,
    TrainingInterrupted,
    TrainingState,
    train,
)

BLOCK_BYTES = 2**26  # about 64 MB: the blocks fit reads a large memmap in
# The folders where joblib puts the memmaps through which it hands arrays over 1 MB to its
# worker processes (GridSearchCV(n_jobs=2), VotingClassifier(n_jobs=2), ...).
JOBLIB_MEMMAP_FOLDER = "joblib_memmapping_folder_"
# out_activation_ by the loss (scikit-learn's names); regression losses are "identity"
OUT_ACTIVATIONS = {"softmax_log_loss": "softmax", "logistic_log_loss": "logistic"}


def reads_in_blocks(X):
    """Whether ``fit`` trains on X block by block: X is a ``numpy.memmap`` of a file, larger
    than a block (a smaller one is read whole anyway), that a user opened, not one that joblib
    made to hand an in-memory array to a worker process, whose fit must train as the array's
    would."""
    if not isinstance(X, np.memmap) or X.nbytes <= BLOCK_BYTES:
        return False
    base = X.base  # a copy (still typed np.memmap) has none; a view leads to the mapping
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, mmap.mmap) and JOBLIB_MEMMAP_FOLDER not in str(X.filename)


class _BaseMiniBatchMLP(CallbackSupportMixin, BaseEstimator):
    """Everything the classifier and the regressor share; see their docstrings.

    Subclasses define ``__init__`` (their full signature, as scikit-learn's ``get_params``
    reads it), ``_numeric_targets`` (whether y must be numbers: ``not is_classifier(self)``,
    which costs more to ask at every call), ``_loss``, ``_set_up_targets``,
    ``_encode_targets`` and ``_decode_outputs``.
    """

    def _store_parameters(self, parameters):
        """``__init__``'s body: store every argument as given."""
        for name, value in parameters.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _check_params(self):
        """Check the parameters against ``_parameter_constraints``, unless each parameter is
        the very object it was when they last passed.

        Checking costs about 0.1 ms, more than a ``partial_fit`` epoch on a small chunk. A
        parameter changed by ``set_params`` or assignment is a new object and is checked; a
        mutable one changed in place (a list, a dict) keeps satisfying its constraint, which
        depends only on its type.
        """
        values = _validation.constrained_parameter_values(self)
        if not _validation.same_objects(values, getattr(self, "_checked_parameter_values", ())):
            _validation.check_params(self)
            self._checked_parameter_values = values

    def __getstate__(self):
        """The pickled state: that of scikit-learn's estimators, less the kept training config
        (internal types, rebuilt by the next call)."""
        state = dict(super().__getstate__())
        state.pop("_kept_training_config", None)
        return state

    def _training_config(self, n_hidden, dtype, incremental):
        """:func:`_validation.training_config` of the parameters, kept for the next call.

        The kept config is reused while it would be built the same: while the parameters
        are the objects that passed :meth:`_check_params` with it (call that first), and
        none of those it reads can have changed in place (``dropout`` is a number,
        ``learning_rate`` a string and ``batch_size`` an int or a string, not a list or a
        schedule object).
        """
        key = (self._loss, n_hidden, np.dtype(dtype), incremental)
        checked = self._checked_parameter_values
        kept_checked, kept_key, kept_config = getattr(self, "_kept_training_config", (0, 0, 0))
        if kept_checked is checked and kept_key == key:
            return kept_config
        config = _validation.training_config(
            self, self._loss, n_hidden, dtype, incremental=incremental
        )
        if (
            isinstance(self.dropout, Real)
            and isinstance(self.learning_rate, str)
            and isinstance(self.batch_size, Integral | str)
        ):
            self._kept_training_config = (checked, key, config)
        return config

    def _fit(self, X, y, sample_weight, *, incremental, **options):
        """``fit`` and ``partial_fit``: in memory, or block by block for ``fit`` on a large
        memmap (:func:`reads_in_blocks`). Returns how training ended, as
        :func:`~skminibatch._trainer.train` says it: 'converged', 'stopped' (by a callback),
        'diverged' or 'max_iter'; :func:`~skminibatch._streaming.fit_stream` reads it.

        A call that raises leaves the estimator as it was before the call: its attributes and
        its history, but not its random generator, which epochs run before the error have
        advanced (rewinding it would cost a quarter of a small ``partial_fit``). Two
        exceptions are raised once the state of the last complete epoch is stored, as their
        messages say, when the call completed an epoch: :class:`DivergenceError`, and
        ``KeyboardInterrupt`` during training (Ctrl-C keeps the epochs completed, as Keras
        and scikit-learn's MLP keep them; with early stopping, the best epoch's weights, as
        scikit-learn's MLP restores them). In the first epoch of the call they restore the
        estimator like any error: a fitted model is not replaced by untrained weights.
        """
        if incremental and self.early_stopping:
            caller = "partial_fit" if options.get("chunk") is None else "fit_stream"
            raise ValueError(
                f"{caller} does not support early_stopping=True, as scikit-learn's MLP does "
                f"not: it trains on the data it is given and holds none out. Set "
                f"early_stopping=False, or use fit."
            )
        attributes = dict(vars(self))
        # What a call extends in place: the history, and the curves kept to be extended.
        extended = [getattr(self, "history_", None), *getattr(self, "_kept_curves", ())[:2]]
        lengths = [None if items is None else len(items) for items in extended]
        try:
            if reads_in_blocks(X) and not incremental:
                return self._fit_blocks(X, y, (sample_weight, *options.values()))
            return self._fit_in_memory(X, y, sample_weight, incremental=incremental, **options)
        except BaseException as error:
            history = getattr(self, "history_", None)
            trained = history is not None and len(history) > (
                lengths[0] if history is extended[0] else 0
            )
            if isinstance(error, DivergenceError | TrainingInterrupted) and trained:
                raise
            vars(self).clear()
            vars(self).update(attributes)
            for items, length in zip(extended, lengths, strict=True):
                if items is not None:
                    del items[length:]
            if isinstance(error, TrainingInterrupted) and options.get("chunk") is None:
                # Block-mode fit, interrupted in its first chunk, said what a chunk keeps.
                raise TrainingInterrupted(INTERRUPTED_BEFORE_AN_EPOCH) from None
            raise

    @with_callbacks
    def _fit_in_memory(
        self,
        X,
        y,
        sample_weight,
        *,
        incremental,
        classes=None,
        coefs_init=None,
        intercepts_init=None,
        validation_data=None,
        chunk=None,
        weight_scale=None,
    ):
        self._check_params()
        given = {"X": X, "y": y, "sample_weight": sample_weight}  # what the callbacks see
        hidden_layer_sizes = _validation.hidden_layer_sizes_tuple(self.hidden_layer_sizes)
        given_init = coefs_init is not None or intercepts_init is not None
        fresh = not hasattr(self, "coefs_") or not (incremental or self.warm_start) or given_init
        dtype = None if fresh else _validation.fitted_dtype(self)
        X, y = _validation.check_X_y(
            self, X, y, reset=fresh, dtype=dtype, y_numeric=self._numeric_targets
        )
        if fresh:
            self._random_state = check_random_state(self.random_state)
        y = self._set_up_targets(y, fresh, incremental, classes)
        hold_out = validation_data is None and self.early_stopping and not incremental
        sample_weight = _validation.check_sample_weight(
            sample_weight,
            X,
            factors=self._class_weights(y, incremental),
            # a hold-out rescales the weights of the rows left for training
            rescale=not (incremental or hold_out) if weight_scale is None else weight_scale,
        )
        validation = None
        if validation_data is not None:
            validation = self._validation_set(validation_data, X.dtype)
        elif hold_out:
            X, y, sample_weight, validation = self._hold_out(X, y, sample_weight)
        Y = self._encode_targets(y, X.dtype)
        layer_sizes = _network.make_layer_sizes(X.shape[1], hidden_layer_sizes, Y.shape[1])
        state = self._initial_state(
            fresh, given_init, coefs_init, intercepts_init, layer_sizes, X.dtype
        )
        config = self._training_config(len(hidden_layer_sizes), X.dtype, incremental)
        evaluate = None if validation is None else self._evaluator(validation, layer_sizes, config)
        if incremental:
            stopper = None
        elif self.early_stopping:
            stopper = Stopper(self.monitor, self.tol, self.n_iter_no_change, restore_best=True)
        else:
            stopper = Stopper("loss", self.tol, self.n_iter_no_change)
        max_epochs = 1 if incremental else self.max_iter
        n_earlier_records = len(self.history_)
        callbacks = self._epoch_callbacks(state, layer_sizes, given)
        callbacks.on_fit_begin(max_epochs)
        try:
            status = train(
                _validation.kernel_rows(X),
                Y,
                sample_weight,
                layer_sizes,
                state,
                config,
                self._random_state,
                incremental=incremental,
                history=self.history_,
                max_epochs=max_epochs,
                stopper=stopper,
                evaluate=evaluate,
                on_epoch_begin=callbacks.on_epoch_begin,
                on_epoch_end=callbacks.on_epoch_end,
                chunk=chunk,
            )
        except (DivergenceError, TrainingInterrupted):  # the last complete epoch is in state
            self._store_state(state, layer_sizes, n_earlier_records, stopper)
            raise
        self._store_state(state, layer_sizes, n_earlier_records, stopper)
        if status == "max_iter" and not incremental:
            self._warn_if_not_converged()
        callbacks.on_fit_end()
        return status

    def _fit_blocks(self, X, y, given):
        """``fit`` on a large ``numpy.memmap``: epochs of ``partial_fit`` over shuffled blocks
        of about 64 MB read from disk (:class:`MemmapBlocks`), so that memory stays bounded by
        a block, not the data; stopping as ``fit`` does, by the training loss or the plateaus
        of the learning-rate schedule, when a callback asks (after the block where it asked)
        or when training diverges (before the block that diverged). Returns how it ended."""
        self._check_params()
        if any(value is not None for value in given) or self.early_stopping:
            raise ValueError(
                f"fit on a numpy.memmap larger than {BLOCK_BYTES >> 20} MB reads it block by "
                "block and takes no sample_weight, coefs_init, intercepts_init, "
                "validation_data or early_stopping; load the data into memory, or train with "
                "fit_stream(estimator, MemmapBlocks(X, y))."
            )
        if not self.warm_start:
            for name in [name for name in vars(self) if name.endswith("_")]:
                delattr(self, name)
        row_bytes = max(1, X.dtype.itemsize * int(np.prod(X.shape[1:], dtype=np.int64)))
        block_rows = max(BLOCK_BYTES // row_bytes, 1024)
        if (
            self.drop_last
            and isinstance(self.batch_size, Integral)
            and self.batch_size > block_rows
        ):
            raise ValueError(
                f"fit on a numpy.memmap larger than {BLOCK_BYTES >> 20} MB trains on blocks of "
                f"{block_rows} rows, and drop_last=True would drop every block as a partial "
                f"batch of batch_size={self.batch_size}: use a batch_size of at most "
                f"{block_rows}, or drop_last=False."
            )
        blocks = MemmapBlocks(
            X,
            y,
            block_rows=block_rows,
            shuffle=self.shuffle,
            random_state=self.random_state,
        )
        classes, weight_scale, class_weight = None, None, None
        if is_classifier(self):  # all of them, for the first block's partial_fit
            labels, target_type = _validation.check_classification_targets(np.asarray(y))
            if hasattr(self, "classes_"):  # a warm start: the fitted classes, as in memory
                classes, target_type = self.classes_, self._target_type
            else:
                classes = _validation.classes_from(labels, target_type)
            factors = self._class_weights(labels, False, classes, target_type)
            if factors is not None:  # the rescaling of fit in memory, over all the rows
                weight_scale = _validation.mean_one_scale(factors)
            class_weight = self.class_weight
        stopper = Stopper("loss", self.tol, self.n_iter_no_change)
        if isinstance(class_weight, str):  # the blocks weigh by the frequencies of all rows
            self.class_weight = _validation.balanced_class_weight(labels, target_type)
        try:
            status = train_passes(self, blocks, self.max_iter, classes, stopper, weight_scale)
        finally:
            if isinstance(class_weight, str):
                self.class_weight = class_weight
        if status == "max_iter":
            self._warn_if_not_converged()
        return status

    def _warn_if_not_converged(self):
        """scikit-learn's ConvergenceWarning when ``max_iter`` epochs ran without the stopping
        rule firing, unless ``tol=None`` asked for every epoch."""
        if self.tol is not None:
            _warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and the "
                f"optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    def _initial_state(self, fresh, given_init, coefs_init, intercepts_init, layer_sizes, dtype):
        """New parameters (drawn or given) and optimizer state, or the fitted ones."""
        state_slots = _kernels.SOLVER_STATE_SLOTS[self.solver]  # optimizer values per parameter
        if fresh:
            if given_init:
                coefs, intercepts = _validation.initial_weights(
                    coefs_init, intercepts_init, layer_sizes
                )
                theta = _network.pack(coefs, intercepts, layer_sizes, dtype)
            else:
                theta = _network.initial_parameters(
                    layer_sizes, self.weight_init, self._random_state, dtype
                )
            self.history_ = History()
            return TrainingState(theta, np.zeros(state_slots * theta.size, dtype))
        fitted_sizes = _network.layer_sizes_of(self.coefs_).tolist()
        if fitted_sizes != layer_sizes.tolist():
            raise ValueError(
                f"The network was fitted with layer sizes {fitted_sizes}; with the current "
                f"parameters and data it would have {layer_sizes.tolist()}. "
                + (
                    "Call fit without warm_start to start a new network."
                    if self.warm_start
                    else "Call fit to start a new network, or keep hidden_layer_sizes and the "
                    "number of features and outputs of the fitted one."
                )
            )
        theta = _network.pack(self.coefs_, self.intercepts_, layer_sizes, dtype)
        fitted_solver = getattr(self, "_optimizer_solver", None)
        fitted_state = np.asarray(self._optimizer_state)
        n_state = state_slots * theta.size  # the kernels index the state unchecked
        if fitted_solver is None:  # pickled by an earlier build: the state's size tells
            fitted_solver = self.solver if fitted_state.size == n_state else None
        if fitted_solver != self.solver:  # a new optimizer, from its first step
            return TrainingState(theta, np.zeros(n_state, dtype), 0, self.t_)
        if fitted_state.shape != (n_state,):
            raise ValueError(
                f"The fitted optimizer state has the shape {fitted_state.shape}, not "
                f"({n_state},) as solver={self.solver!r} keeps for this network: it was "
                f"changed. Call fit to start anew."
            )
        return TrainingState(theta, fitted_state.astype(dtype), self.n_updates_, self.t_)

    def _store_state(self, state, layer_sizes, n_earlier_records, stopper=None):
        """Fitted attributes from the training state and history (all copies, no views);
        ``history_`` held ``n_earlier_records`` records before this call; ``stopper``, the
        call's :class:`~skminibatch._trainer.Stopper`, tells which epoch's weights early
        stopping kept."""
        self.coefs_, self.intercepts_ = _network.unpack(state.theta, layer_sizes)
        self._optimizer_state = state.optimizer_state
        self._optimizer_solver = self.solver  # the solver whose state that is
        self.n_updates_ = state.n_updates
        self.t_ = state.n_samples_seen
        self.n_iter_ = len(self.history_)
        self.n_layers_ = len(layer_sizes)
        self.n_outputs_ = int(layer_sizes[-1])
        lowest_loss = self._store_curves(n_earlier_records)
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        self.best_loss_ = None if self.early_stopping else lowest_loss
        kept = None if stopper is None or not stopper.restore_best else stopper.best_epoch
        if kept is not None and self.best_validation_score_ is not None:
            # the score of the weights kept, as in scikit-learn's MLP (not the highest score
            # when early stopping watched the validation loss)
            self.best_validation_score_ = self.history_[kept - 1]["val_score"]

    def _store_curves(self, n_earlier_records):
        """Set ``loss_curve_``, ``validation_scores_`` and ``best_validation_score_`` from
        ``history_``; return the lowest loss (``min``'s answer: the first of equal ones, None
        for no record).

        When the curves are still the lists the previous call stored, of the ``history_``
        records before this call, the new records are appended to them in place, as
        scikit-learn's MLP appends to its curves, so that a call of ``partial_fit`` costs the
        same however long the history. Otherwise (``history_`` or a curve was changed) they
        are read anew from the whole history.

        ``validation_scores_`` lists the scores of the records that have one (epochs of an
        earlier warm-started fit without validation data have none); it is None, as
        ``best_validation_score_`` is, when the last record has no score.
        """
        kept = getattr(self, "_kept_curves", None)
        continues = (
            kept is not None
            and n_earlier_records
            and kept[0] is getattr(self, "loss_curve_", None)
            and len(kept[0]) == n_earlier_records
            and (
                getattr(self, "validation_scores_", None) is None
                or self.validation_scores_ is kept[1]
            )
        )
        if continues:
            losses, scores, lowest_loss, best_score = kept
            records = self.history_[n_earlier_records:]
        else:
            losses, scores, lowest_loss, best_score = [], [], None, None
            records = self.history_
        new_losses = [record["loss"] for record in records]
        new_scores = [record["val_score"] for record in records if "val_score" in record]
        losses.extend(new_losses)
        scores.extend(new_scores)
        lowest_loss = min([lowest_loss, *new_losses] if continues else new_losses, default=None)
        if new_scores:
            best_score = max(new_scores if best_score is None else [best_score, *new_scores])
        self._kept_curves = (losses, scores, lowest_loss, best_score)
        self.loss_curve_ = losses
        validating = bool(self.history_) and "val_score" in self.history_[-1]
        self.validation_scores_ = scores if validating else None
        self.best_validation_score_ = best_score if validating else None
        return lowest_loss

    def _validation_set(self, validation_data, dtype):
        """``(X_val, y_val, weights_val)`` checked, from ``fit``'s ``validation_data``: a pair
        ``(X_val, y_val)``, or a triple with the validation rows' sample weights, as Keras
        takes."""
        weights_val = None
        if isinstance(validation_data, tuple | list) and len(validation_data) == 3:
            *validation_data, weights_val = validation_data
        X_val, y_val = _validation.check_pair(
            validation_data,
            "validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, "
            "sample_weight_val)",
        )
        try:
            X_val, y_val = _validation.check_X_y(self, X_val, y_val, reset=False, dtype=dtype)
        except ValueError as error:
            raise ValueError(f"validation_data: {error}") from error
        if is_classifier(self):  # as fit takes y
            y_val = _validation.ravel_column(y_val)
        if weights_val is not None:
            try:
                weights_val = _validation.check_sample_weight(weights_val, X_val)
            except ValueError as error:
                raise ValueError(f"validation_data's sample_weight_val: {error}") from error
        return X_val, y_val, weights_val

    def _hold_out(self, X, y, sample_weight):
        """Split off ``validation_fraction`` of the rows: shuffled by ``random_state``,
        stratified for binary and multiclass targets (never the last rows, as Keras'
        ``validation_split`` takes).
        The weights of the rows left for training are rescaled to mean 1, as ``fit`` rescales
        those of all rows without a hold-out."""
        stratify = (
            y if is_classifier(self) and self._target_type != "multilabel-indicator" else None
        )
        n_samples = X.shape[0]
        advice = "Increase validation_fraction or the size of your dataset."
        try:
            X, X_val, y, y_val, weights, weights_val = train_test_split(
                X,
                y,
                np.asarray(sample_weight),
                test_size=self.validation_fraction,
                random_state=self._random_state,
                stratify=stratify,
            )
        except ValueError as error:  # too few rows for a stratified split, ...
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction="
                f"{self.validation_fraction} of {n_samples} samples: {error}. {advice}"
            ) from error
        if X_val.shape[0] < 2:  # scikit-learn's MLP refuses it too: a score of one row is moot
            raise ValueError(
                f"The validation set is too small: validation_fraction={self.validation_fraction}"
                f" of {n_samples} samples holds out {X_val.shape[0]}. {advice}"
            )
        if not weights.any():
            raise ValueError(
                f"The rows left for training after early_stopping held out "
                f"validation_fraction={self.validation_fraction} have sample weights (times "
                f"class weights) that are all zero: nothing to train on. Give those rows "
                f"weight, or validate on validation_data."
            )
        peak, multiplier = _validation.mean_one_scale(weights)
        return (
            _validation.canonical_rows(X, X.dtype),
            y,
            _validation.read_only(weights / peak * multiplier, weights.dtype),
            (_validation.canonical_rows(X_val, X_val.dtype), y_val, weights_val),
        )

    def _evaluator(self, validation, layer_sizes, config):
        """``evaluate(theta) -> (val_loss, val_score)``: the training objective (penalty
        included) and the estimator's score on the validation set."""
        X_val, y_val, weights_val = validation
        try:
            Y_val = self._encode_targets(y_val, X_val.dtype)
            _validation.check_n_outputs(Y_val, layer_sizes)
        except ValueError as error:  # held-out rows cannot fail here: they are X's and y's
            raise ValueError(f"validation_data's y_val: {error}") from error
        weights = _validation.check_sample_weight(weights_val, X_val)
        hyper = config.hyperparameters
        layout = _kernels.make_layout(layer_sizes, 1)[0]
        outputs = np.empty((X_val.shape[0], layer_sizes[-1]), X_val.dtype)
        rows = _validation.kernel_rows(X_val)

        def evaluate(theta):
            loss_sum = _kernels.forward_outputs(
                rows,
                Y_val,
                weights,
                theta,
                layer_sizes,
                hyper.activation,
                hyper.loss,
                hyper.huber_delta,
                outputs,
            )
            penalty = 0.0
            if hyper.alpha > 0:
                scratch = np.zeros_like(theta)
                penalty = _kernels.add_penalty(theta, scratch, layout, hyper.alpha, hyper.l1_ratio)
            # Weights about to diverge may predict inf: no score (scikit-learn's metrics refuse
            # it), an infinite loss; the training loss then shows the divergence.
            finite = np.isfinite(outputs).all()
            score = self._score_outputs(outputs, y_val, weights_val) if finite else np.nan
            return float(loss_sum / X_val.shape[0] + penalty), float(score)

        return evaluate

    def _epoch_callbacks(self, state, layer_sizes, given):
        """The ``callbacks`` and scikit-learn's callbacks (``set_callbacks``) behind the one
        interface the trainer calls: each callback sees the current weights."""

        def fitted_attributes():
            coefs, intercepts = _network.unpack(state.theta, layer_sizes)  # copies
            return {"coefs_": coefs, "intercepts_": intercepts}

        return EpochCallbacks(self, self.callbacks, **given, fitted_attributes=fitted_attributes)

    def _class_weights(self, y, incremental, classes=None, target_type=None):
        return None

    @property
    def out_activation_(self):
        """The output's activation, named as scikit-learn's MLP names it (read from the
        fitted target type, so that models pickled before it existed have it too)."""
        check_is_fitted(self, "coefs_")
        return OUT_ACTIVATIONS.get(self._loss, "identity")

    def _raw_outputs(self, X):
        """Network outputs for X: probabilities for the classifier, values for the regressor."""
        check_is_fitted(self, "coefs_")
        X = _validation.check_X(self, X, reset=False, dtype=_validation.fitted_dtype(self))
        layer_sizes = _network.layer_sizes_of(self.coefs_)
        _validation.check_n_features(X, layer_sizes)
        theta = _network.pack(self.coefs_, self.intercepts_, layer_sizes, X.dtype)
        outputs = np.empty((X.shape[0], layer_sizes[-1]), dtype=X.dtype)
        no_targets = _validation.read_only(np.empty((0, layer_sizes[-1])), X.dtype)
        no_weights = _validation.read_only(np.empty(0), X.dtype)
        _kernels.forward_outputs(
            _validation.kernel_rows(X),
            no_targets,
            no_weights,
            theta,
            layer_sizes,
            _kernels.ACTIVATIONS[self.activation],
            _kernels.LOSSES[self._loss],
            1.0,
            outputs,
        )
        return outputs

    def predict(self, X):
        """Predicted classes or values of the samples of X.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (a binary indicator matrix for multilabel targets), or values.
        """
        return self._decode_outputs(self._raw_outputs(X))


_PARAMETERS_DOC = """
    hidden_layer_sizes : array-like of int, default=(100,)
        Units of each hidden layer. ``()`` gives no hidden layer: a linear model.
    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu', 'elu'}, default='relu'
        Activation of the hidden layers. 'leaky_relu' has slope 0.2 below zero and 'elu' has
        alpha 1, as Keras' ``activation="leaky_relu"`` and ``"elu"``.
    weight_init : {'glorot_uniform', 'glorot_normal', 'he_uniform', 'he_normal'}, \
default='glorot_uniform'
        Initial weights, as Keras defines these initialisers; biases start at zero.
    solver : {'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad'}, default='adam'
        Update rule, exactly as documented for ``torch.optim.SGD`` (with ``momentum`` and
        ``nesterovs_momentum``), ``Adam``, ``AdamW``, ``RMSprop`` (no momentum, not centred)
        and ``Adagrad`` (no learning-rate decay, accumulator starting at 0). Another solver
        in a later ``partial_fit`` or warm-started ``fit`` starts a new optimizer, as a new
        Keras optimizer does: its state and step count (``n_updates_``, which per-update
        learning-rate schedules follow) start from zero.
    alpha : float, default=0.0001
        Penalty: the objective is ``mean loss + alpha * (l1_ratio * |W| + (1 - l1_ratio) / 2 *
        ||W||^2)`` over all weights (not biases), whatever the batch size. scikit-learn's MLP
        divides the L2 penalty by the batch size instead, so its ``alpha`` means more
        regularisation at small batches.
    l1_ratio : float in [0, 1], default=0.0
        Share of L1 in the penalty (elastic net); 0 is pure L2.
    dropout : float in [0, 1) or sequence of float, default=0.0
        Inverted dropout rate of the hidden layers' outputs (one rate, or one per hidden
        layer): a fresh mask for every sample, seeded by ``random_state``, off when predicting.
    batch_size : int >= 1, 'full', 'auto' or batch-size schedule, default=32
        Samples per gradient update. 1 is stochastic gradient descent (n updates per epoch),
        ``'full'`` is batch gradient descent (one update per epoch), anything between is
        mini-batch gradient descent. ``'auto'`` is ``min(200, n_samples)``, scikit-learn's
        MLP default (32 is Keras'). A value larger than the training set is clipped to it in
        ``fit``. A schedule of :mod:`skminibatch.schedules` (``GrowBatchSize``...) changes it
        between epochs.
    drop_last : bool, default=False
        Drop the last partial batch of each epoch. By default it is kept: 1050 samples with
        ``batch_size=100`` make 11 updates per epoch, the last on 50 samples.
    learning_rate : {'constant', 'invscaling', 'adaptive'} or schedule, default='constant'
        How the learning rate changes: scikit-learn's names, or a schedule of
        :mod:`skminibatch.schedules` whose multipliers scale ``learning_rate_init``.
        'adaptive' (and a ``ReduceOnPlateau`` schedule) divides the rate on plateaus of the
        training loss, or of ``monitor`` with early stopping, instead of stopping; ``fit``
        stops at a plateau once the rate is at most 1e-6, as scikit-learn's MLP does. A
        schedule watching ``'val_loss'`` or ``'val_score'`` (its ``monitor``) is refused with
        a ValueError by a call that records no validation (``partial_fit``, ``fit`` without
        early stopping or ``validation_data``): it would never act.
    learning_rate_init : float, default=0.001
        Learning rate (the peak for schedules that rise and fall).
    power_t : float, default=0.5
        Exponent of 'invscaling'.
    momentum : float in [0, 1], default=0.9
        Momentum of 'sgd'. 0 gives plain stochastic gradient descent.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for 'sgd' (when ``momentum > 0``).
    beta_1, beta_2 : float in [0, 1), default=0.9 and 0.999
        Decay rates of the moment estimates of 'adam' and 'adamw'.
    epsilon : float, default=1e-8
        Term added to the denominator of 'adam', 'adamw', 'rmsprop' and 'adagrad'.
    rho : float in [0, 1), default=0.99
        Smoothing constant of 'rmsprop' (torch's ``alpha``).
    weight_decay : float, default=0.01
        Decoupled weight decay of 'adamw', applied to the weights, not the biases.
    clip_norm : float or None, default=None
        Clip the gradient (penalty included) to this global norm before each update, as
        ``torch.nn.utils.clip_grad_norm_`` does.
    accumulate : int, default=1
        Batches whose gradients are accumulated into one update (Keras'
        ``gradient_accumulation_steps``); with 'mean' reduction, ``accumulate=k`` batches of
        size b make the update of one batch of size k * b. A last group of fewer batches at the
        end of an epoch makes its own update.
    gradient_reduction : {'mean', 'sum'}, default='mean'
        Whether a batch's gradient is the mean or the sum of its samples' gradients.
    max_iter : int, default=200
        Epochs (passes over the training data) of ``fit``.
    shuffle : bool, default=True
        Reshuffle the training data before every epoch.
    tol : float or None, default=1e-4
        ``fit`` stops when the monitored quantity (the training loss, or ``monitor`` with early
        stopping) has not improved by at least ``tol`` for more than ``n_iter_no_change``
        consecutive epochs. ``None`` runs all ``max_iter`` epochs, as Keras does.
    n_iter_no_change : int, default=10
        Epochs without improvement tolerated before stopping.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (a shuffled split seeded by
        ``random_state``, stratified for binary and multiclass targets; or ``validation_data``
        given to ``fit``),
        stop on ``monitor`` and restore the weights of the best epoch, however training ends
        (convergence, a callback, divergence, Ctrl-C). Fewer than 2 held-out rows is an
        error, as in scikit-learn. Held-out rows keep their sample and class weights: the
        validation loss is their weighted mean loss, as the training loss is that of the rows
        left, whose weights ``fit`` rescales to mean 1 among them. ``fit`` only:
        ``partial_fit`` and ``fit_stream`` refuse it, as scikit-learn's MLP's ``partial_fit``
        does.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out for early stopping.
    monitor : {'val_loss', 'val_score'}, default='val_loss'
        What early stopping watches: the validation loss or score.
    record_batches : bool, default=False
        Record every batch's loss in the history (``history_[epoch]["batch_losses"]``).
    callbacks : list or None, default=None
        Objects with ``on_epoch_end(estimator, record)``, called after every epoch with the
        estimator holding the current weights; returning True stops training. (``fit_stream``
        and ``fit`` on a large memmap call them after every chunk, with its record, and stop
        after the chunk where one returned True.) As a parameter,
        the list is deep-copied by ``clone`` (in ``GridSearchCV`` each fit has its own copies)
        and pickled with the estimator. scikit-learn's callbacks (``ProgressBar``,
        ``ScoringMonitor``, scikit-learn >= 1.9) are registered with ``set_callbacks``; they
        see one task per ``fit`` or ``partial_fit`` call, with one subtask per epoch.
    on_divergence : {'warn', 'raise'}, default='warn'
        When the loss or weights stop being finite, training stops, the weights of the last
        finite epoch are kept (with early stopping, the best epoch's), and a
        ``DivergenceWarning`` is issued or a ``DivergenceError`` raised. A ``DivergenceError``
        in the call's first epoch leaves the estimator as it was before the call; a warning
        there keeps the weights the call started from (the initial ones for a new fit).
        ``fit_stream`` and ``fit`` on a large memmap stop at the chunk that diverged, keeping
        the weights from before it, and the message names the chunk.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the validation split and dropout. The same
        seed and data give bit-identical weights with the same number of BLAS threads (another
        number may round large products differently).
    warm_start : bool, default=False
        Continue from the fitted weights and optimizer state (moments, step count) in ``fit``.
        ``partial_fit`` always continues from them.
    verbose : int, default=0
        1 prints one line per epoch; 2 draws a progress bar in a terminal."""


def _parameters_doc(after_activation="", after_monitor=""):
    """:data:`_PARAMETERS_DOC` with an estimator's own parameters inserted where its signature
    has them: after ``activation`` and after ``monitor`` (each text starts with a newline)."""
    head, rest = _PARAMETERS_DOC.split("\n    weight_init :", 1)
    middle, tail = rest.split("\n    record_batches :", 1)
    return (
        f"{head}{after_activation}\n    weight_init :{middle}{after_monitor}"
        f"\n    record_batches :{tail}"
    )


_ATTRIBUTES_DOC = """
    coefs_ : list of ndarray
        Weight matrix of each layer, shape ``(n_units_in, n_units_out)``.
    intercepts_ : list of ndarray
        Bias vector of each layer.
    n_iter_ : int
        Epochs run, over all calls of ``fit`` (with ``warm_start``) and ``partial_fit``.
    t_ : int
        Training samples seen.
    n_updates_ : int
        Optimizer steps taken.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss of each epoch (penalty included). Later calls of ``partial_fit`` (and
        warm-started fits) append to the same list, as scikit-learn's MLP does.
    best_loss_ : float or None
        Lowest training loss (None with early stopping, as in scikit-learn).
    validation_scores_ : list of float or None
        Validation score of each validated epoch, when the last epoch was validated.
    best_validation_score_ : float or None
        When validating, the validation score of the epoch whose weights early stopping kept
        (with ``monitor='val_loss'``, that of the lowest validation loss), as in
        scikit-learn's MLP; without early stopping, the highest validation score.
    history_ : History
        One record per epoch with its ``epoch``, ``loss``, ``batch_size``, ``n_updates``,
        ``n_samples`` (rows trained on), ``learning_rate`` and ``seconds`` (and ``val_loss``,
        ``val_score`` when validating); ``history_["loss"]`` lists one key.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit``, when X has them.
    n_layers_ : int
        Layers, input and output included.
    n_outputs_ : int
        Output units.
    out_activation_ : str
        The output's activation, as scikit-learn's MLP names it: 'softmax' (multiclass),
        'logistic' (binary, multilabel) or 'identity' (regression)."""

_FIT_DOC = """Train for up to ``max_iter`` epochs on (X, y).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training data. float32 trains in float32, anything else in float64. A
            ``numpy.memmap`` larger than 64 MB is read in blocks of about 64 MB (shuffled with
            ``shuffle``; memory grows by about three blocks), but for the memmaps through which
            joblib hands arrays to its worker processes; such a fit takes none of the other
            arguments, and its batches differ from those of a fit on the array in memory.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            {targets}
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, rescaled to mean 1: each sample's loss is multiplied by its
            weight, so a batch's gradient estimates that of the weighted mean loss.
        coefs_init, intercepts_init : list of ndarray, default=None
            Initial weights and biases, shaped like ``coefs_`` and ``intercepts_``.
        validation_data : tuple (X_val, y_val) or (X_val, y_val, sample_weight_val), default=None
            Data to validate on after every epoch (recorded in ``history_``; watched by early
            stopping instead of a held-out share of X), weighted by ``sample_weight_val`` if
            given, as in Keras; ``class_weight`` weighs the training loss only, as Keras' does.

        Returns
        -------
        self : object
            The fitted estimator.
        """

_PARTIAL_FIT_DOC = """One epoch over (X, y) in batches of ``batch_size``, keeping optimizer state.

        A chunk smaller than ``batch_size`` is one partial batch. With ``shuffle=False``, calls
        over chunks whose sizes are multiples of ``batch_size`` give the weights of one epoch
        of ``fit`` (with sample weights, up to rounding, when they have mean 1 over all the
        chunks: ``fit`` rescales them to that mean, ``partial_fit`` does not), without dropout
        and with a learning rate and batch size that do not change between epochs: each call
        is an epoch for schedules, ``'invscaling'`` and the dropout seed.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The chunk's samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            {targets}
        {classes}sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, applied as given (as ``SGDClassifier.partial_fit`` applies
            them): each sample's loss is multiplied by its weight. Unlike ``fit``, which
            rescales the weights to mean 1 over its data, a chunk is not rescaled: that would
            cancel the weights of a one-sample chunk, or of a chunk of one class.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """


_CLASS_TARGETS_DOC = "Class labels, or a binary indicator matrix for multilabel classification."
_CLASS_WEIGHT_DOC = """
    class_weight : dict, list of dict, 'balanced' or None, default=None
        Non-negative weights of the classes, multiplied into ``sample_weight``: a dict
        ``{class: weight}``; for multilabel targets a list of such dicts, one per label
        column (their product weighs each sample); 'balanced' (``n_samples / (n_classes *
        np.bincount(y))``, in ``fit`` only). ``partial_fit`` applies them as given, see its
        ``sample_weight``."""
_REGRESSION_LOSS_DOC = """
    loss : {'squared_error', 'huber', 'absolute_error'}, default='squared_error'
        Per-sample loss, averaged over outputs: half the squared error (as scikit-learn's MLP,
        so learning rates carry over), Huber's loss with threshold ``huber_delta``, or the
        absolute error.
    huber_delta : float, default=1.0
        Residual at which the Huber loss turns from quadratic to linear."""


class MiniBatchMLPClassifier(ClassifierMixin, _BaseMiniBatchMLP):
    __doc__ = f"""Multilayer perceptron classifier trained by batch, mini-batch or stochastic
    gradient descent in compiled code.

    Minimises log loss: softmax cross-entropy for multiclass targets, logistic loss for binary
    and multilabel ones. The parameters are those of scikit-learn's ``MLPClassifier`` where the
    meaning is the same.

    Parameters
    ----------{_parameters_doc(after_monitor=_CLASS_WEIGHT_DOC)}

    Attributes
    ----------
    classes_ : ndarray
        Class labels (for multilabel targets, the label columns 0..n_labels-1).{_ATTRIBUTES_DOC}

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skminibatch import MiniBatchMLPClassifier
    >>> X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    >>> clf = MiniBatchMLPClassifier(hidden_layer_sizes=(20,), batch_size=16, tol=None,
    ...                              max_iter=20, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.history_[-1]["n_updates"]  # ceil(300 / 16) updates per epoch
    19
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = _validation.CLASSIFIER_PARAMETER_CONSTRAINTS
    _numeric_targets = False

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        weight_init="glorot_uniform",
        solver="adam",
        alpha=0.0001,
        l1_ratio=0.0,
        dropout=0.0,
        batch_size=32,
        drop_last=False,
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        rho=0.99,
        weight_decay=0.01,
        clip_norm=None,
        accumulate=1,
        gradient_reduction="mean",
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        monitor="val_loss",
        class_weight=None,
        record_batches=False,
        callbacks=None,
        on_divergence="warn",
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self._store_parameters(locals())

    @property
    def _loss(self):
        return "softmax_log_loss" if self._target_type == "multiclass" else "logistic_log_loss"

    def _set_up_targets(self, y, fresh, incremental, classes):
        """Check y (raveled if a column), and set ``classes_`` on a fresh start.

        When continuing a binary or multiclass fit, a vector of labels needs no type check
        (:func:`_validation.is_label_vector`): :meth:`_encode_targets` checks the labels.
        """
        if fresh:
            y, target_type = _validation.check_classification_targets(y)
            if incremental and classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = _validation.classes_from(y, target_type, classes)
            self._target_type = (
                "multiclass" if target_type == "binary" and self.classes_.size > 2 else target_type
            )
            return y
        if self._target_type == "multilabel-indicator" or not _validation.is_label_vector(y):
            y, target_type = _validation.check_classification_targets(y)
            _validation.check_same_target_kind(target_type, self._target_type)
        if classes is not None and not _validation.same_classes(
            classes, self.classes_, y, self._target_type
        ):
            raise ValueError(
                f"classes={classes!r} differs from the classes of earlier calls, "
                f"{self.classes_.tolist()!r}."
            )
        return y

    def _encode_targets(self, y, dtype):
        return _validation.classification_targets(y, self.classes_, self._target_type, dtype)

    def _decode_outputs(self, proba):
        if self._target_type == "multilabel-indicator":
            return (proba > 0.5).astype(int)
        if self._target_type == "binary":
            return self.classes_[(proba[:, 0] > 0.5).astype(int)]
        return self.classes_[np.argmax(proba, axis=1)]

    def _score_outputs(self, proba, y, sample_weight):
        return accuracy_score(y, self._decode_outputs(proba), sample_weight=sample_weight)

    def _class_weights(self, y, incremental, classes=None, target_type=None):
        """Each sample's class weight (the product over label columns for multilabel
        targets), looked up among ``classes_``: a chunk of ``partial_fit`` may hold any of
        them, or only one. ``classes`` and ``target_type`` stand for ``classes_`` and the
        target type before a fit sets them (``fit`` on a large memmap)."""
        given = self.class_weight
        if given is None:
            return None
        classes_ = self.classes_ if classes is None else classes
        target_type = self._target_type if target_type is None else target_type
        if isinstance(given, str):  # 'balanced'
            if incremental:
                raise ValueError(
                    "class_weight='balanced' needs the class frequencies of the whole training "
                    "set, which partial_fit does not see; pass a dict of class weights instead."
                )
            return compute_sample_weight(given, y)
        multilabel = target_type == "multilabel-indicator"
        if isinstance(given, list) != multilabel or (multilabel and len(given) != y.shape[1]):
            raise ValueError(
                f"class_weight must be a dict {{class: weight}} for binary and multiclass "
                f"targets, and a list of such dicts, one per label column, for multilabel "
                f"ones; got {reprlib.repr(given)} for {target_type} targets"
                + (f" with {y.shape[1]} label columns." if multilabel else ".")
            )
        columns = zip(given, y.T, strict=True) if multilabel else [(given, y)]
        factors = np.ones(len(y))
        for weights, labels in columns:
            classes = np.array([0, 1]) if multilabel else classes_
            if not isinstance(weights, dict) or not all(
                isinstance(w, Real) and np.isfinite(w) and w >= 0 for w in weights.values()
            ):
                raise ValueError(
                    f"class_weight must map classes ({classes.tolist()}) to finite "
                    f"non-negative numbers; got {reprlib.repr(weights)}."
                )
            # scikit-learn's rule (compute_class_weight): keys that are not classes are ignored
            # when every class has a weight (a fold of a cross-validation may lack a rare
            # class); otherwise they are likely classes misnamed ('1' for 1), an error.
            unweighted = [label for label in classes.tolist() if label not in weights]
            if unweighted and len(classes) - len(unweighted) != len(weights):
                raise ValueError(
                    f"The classes, {unweighted}, are not in class_weight "
                    f"{reprlib.repr(weights)}, whose other keys are not classes."
                )
            per_class = np.array([weights.get(label, 1.0) for label in classes.tolist()], float)
            codes = np.minimum(np.searchsorted(classes, labels), classes.size - 1)
            factors *= per_class[codes]  # labels outside classes are refused when encoded
        return factors

    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        coefs_init=None,
        intercepts_init=None,
        validation_data=None,
    ):
        self._fit(
            X,
            y,
            sample_weight,
            incremental=False,
            coefs_init=coefs_init,
            intercepts_init=intercepts_init,
            validation_data=validation_data,
        )
        return self

    fit.__doc__ = _FIT_DOC.format(targets=_CLASS_TARGETS_DOC)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        self._fit(X, y, sample_weight, incremental=True, classes=classes)
        return self

    partial_fit.__doc__ = _PARTIAL_FIT_DOC.format(
        targets=_CLASS_TARGETS_DOC,
        classes="classes : array-like, default=None\n            All class labels. Required "
        "on the first call, as in scikit-learn.\n        ",
    )

    def predict_proba(self, X):
        """Class probabilities of the samples of X.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_`` (for multilabel targets, each label's
            own probability).
        """
        proba = self._raw_outputs(X)
        if self._target_type == "binary":
            return np.hstack([1.0 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Natural logarithms of the probabilities, in the order of ``classes_``.
        """
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags


class MiniBatchRegressor(RegressorMixin, _BaseMiniBatchMLP):
    __doc__ = f"""Multilayer perceptron regressor trained by batch, mini-batch or stochastic
    gradient descent in compiled code.

    With ``hidden_layer_sizes=()`` it is linear regression. The parameters are those of
    scikit-learn's ``MLPRegressor`` where the meaning is the same.

    Parameters
    ----------{_parameters_doc(after_activation=_REGRESSION_LOSS_DOC)}

    Attributes
    ----------{_ATTRIBUTES_DOC}

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skminibatch import MiniBatchRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=0.1, random_state=0)
    >>> reg = MiniBatchRegressor(hidden_layer_sizes=(), solver="sgd", momentum=0.0,
    ...                          learning_rate_init=0.01, batch_size=1, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.99
    True
    >>> reg.coefs_[0].shape  # linear regression: one layer
    (5, 1)
    """

    _parameter_constraints = _validation.REGRESSOR_PARAMETER_CONSTRAINTS
    _numeric_targets = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        loss="squared_error",
        huber_delta=1.0,
        weight_init="glorot_uniform",
        solver="adam",
        alpha=0.0001,
        l1_ratio=0.0,
        dropout=0.0,
        batch_size=32,
        drop_last=False,
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        rho=0.99,
        weight_decay=0.01,
        clip_norm=None,
        accumulate=1,
        gradient_reduction="mean",
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        monitor="val_loss",
        record_batches=False,
        callbacks=None,
        on_divergence="warn",
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self._store_parameters(locals())

    @property
    def _loss(self):
        return self.loss

    def _set_up_targets(self, y, fresh, incremental, classes):
        return y

    def _encode_targets(self, y, dtype):
        return _validation.regression_targets(y, dtype)

    def _decode_outputs(self, outputs):
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def _score_outputs(self, outputs, y, sample_weight):
        return r2_score(y, self._decode_outputs(outputs), sample_weight=sample_weight)

    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        coefs_init=None,
        intercepts_init=None,
        validation_data=None,
    ):
        self._fit(
            X,
            y,
            sample_weight,
            incremental=False,
            coefs_init=coefs_init,
            intercepts_init=intercepts_init,
            validation_data=validation_data,
        )
        return self

    fit.__doc__ = _FIT_DOC.format(targets="Targets.")

    def partial_fit(self, X, y, sample_weight=None):
        self._fit(X, y, sample_weight, incremental=True)
        return self

    partial_fit.__doc__ = _PARTIAL_FIT_DOC.format(targets="Targets.", classes="")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags
