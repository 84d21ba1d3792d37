"""Batch-size sweeps: one fit per batch size (and learning rate, and seed), learning curves,
summaries and the batch-size figure.

:func:`batch_size_sweep` fits clones of an estimator, records every epoch's training and
validation loss and score, and returns a :class:`SweepResult`. The summaries (medians over
repeats, epochs to a target score, volatility) are computed by :class:`SweepResult` from the
raw histories, so they can be recomputed with another target or window.
"""

import math
import numbers
import sys
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing, check_random_state

from . import _warnings
from ._trainer import DivergenceWarning
from ._validation import check_int, check_ours, n_samples, split_pipeline

__all__ = ["SweepResult", "batch_size_sweep"]

_PLOT_EXTRA_MESSAGE = (
    "SweepResult.plot needs matplotlib, which is optional: install it with "
    '`pip install matplotlib` (or `pip install ".[plot]"` from a checkout).'
)


def batch_size_sweep(
    estimator,
    X,
    y,
    *,
    batch_sizes=(1, 8, 32, 128, "full"),
    validation_data=None,
    n_repeats=1,
    learning_rates=None,
    target_score=None,
    volatility_window=0.2,
    n_jobs=None,
    verbose=0,
    progress=None,
    random_state=None,
):
    """Fit a clone of ``estimator`` per batch size, learning rate and seed; record learning curves.

    Every configuration (batch size x learning rate, a grid) is fitted ``n_repeats`` times with
    different seeds, on the same training and validation data. After every epoch the training
    score, validation loss and validation score are computed with the weights of that epoch
    and added to the epoch's record (keys ``'score'``, ``'val_loss'``, ``'val_score'``), next
    to what the estimator records itself (``'loss'``, ``'seconds'``, ``'n_updates'``...).

    Parameters
    ----------
    estimator : MiniBatchMLPClassifier, MiniBatchRegressor or Pipeline
        The estimator to clone; every other parameter (``max_iter``, ``tol``, solver...) is
        kept. Set ``tol=None`` to compare all configurations over the same number of epochs.
        A :class:`~sklearn.pipeline.Pipeline` ending in one of these estimators is accepted:
        its other steps (a scaler, say) are fitted once on the training part, and the sweep
        fits the last step on the transformed data.
    X : array-like of shape (n_samples, n_features)
        Training data (all of it, or the part left after holding out validation data).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    batch_sizes : sequence of int, 'full', 'auto' or batch-size schedules, \
default=(1, 8, 32, 128, 'full')
        The batch sizes to compare, each a value of the estimator's ``batch_size``.
    validation_data : tuple (X_val, y_val), float, CV splitter or None, default=None
        Data on which the validation curves are measured:

        - ``(X_val, y_val)``: these arrays; X and y are all training data.
        - a float in (0, 1): the share of (X, y) held out, a shuffled split seeded by
          ``random_state``, stratified by class for classifiers.
        - an object with a ``split(X, y)`` method (``ShuffleSplit``, ``KFold``...): its first
          ``(train, validation)`` split.
        - None: hold out 20% of (X, y), as ``validation_data=0.2``.

        The validation set is the same for every configuration and repeat.
    n_repeats : int, default=1
        Fits per configuration, each with its own seed (the same seeds for every
        configuration, so configurations are compared on the same initial weights).
    learning_rates : sequence of float or None, default=None
        Values of ``learning_rate_init`` to cross with ``batch_sizes``. None keeps the
        estimator's own.
    target_score : float or None, default=None
        Score for :attr:`SweepResult.configurations`' ``epochs_to_target``: the first epoch
        whose validation score is at least this.
    volatility_window : float in (0, 1], default=0.2
        Share of the last epochs over which the volatility is measured (see
        :class:`SweepResult`).
    n_jobs : int or None, default=None
        Fits run in parallel with joblib (one task per batch size, learning rate and repeat).
        None means 1 unless in a ``joblib.parallel_config`` context; -1 means all CPUs.
        Results do not depend on it, except the measured times.
    verbose : int, default=0
        When positive, print one line per finished fit to standard error.
    progress : callable or None, default=None
        Called with each configuration's summary (a row of
        :attr:`SweepResult.configurations`) as soon as all its repeats have finished, in the
        order of the grid: batch sizes, then learning rates.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split and the fits: repeat ``r`` uses seed ``random_state + r``
        for an int, seeds drawn from the generator for a RandomState instance, fresh seeds
        for None. The seeds used are in :attr:`SweepResult.runs`.

    Returns
    -------
    result : SweepResult
        The histories of every fit and their summaries.

    Raises
    ------
    ValueError
        If a parameter is invalid; the message names it.

    See Also
    --------
    SweepResult : the summaries, ``to_frame`` and ``plot``.

    Notes
    -----
    Times per epoch are those the estimator records (``history_["seconds"]``): the training
    of the epoch, without the sweep's scoring of it. Runs whose training diverges (a loss
    that stops being finite) keep the weights of their last finite epoch; they are counted in
    ``n_diverged`` and their final scores are those of these weights (the fits warn on
    divergence whatever the estimator's ``on_divergence``: one diverging configuration does
    not end the sweep).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skminibatch import MiniBatchMLPClassifier, batch_size_sweep
    >>> X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    >>> clf = MiniBatchMLPClassifier((10,), solver="sgd", learning_rate_init=0.01,
    ...                              max_iter=15, tol=None)
    >>> result = batch_size_sweep(clf, X, y, batch_sizes=[4, 32, "full"], n_repeats=2,
    ...                           target_score=0.9, random_state=0)
    >>> [row["batch_size"] for row in result.configurations]
    [4, 32, 'full']
    >>> row = result.configurations[0]
    >>> row["updates_per_epoch"], row["n_repeats"]  # 240 training rows in batches of 4
    (60.0, 2)
    >>> sorted(result.runs[0]["history"][-1])
    ['batch_size', 'epoch', 'learning_rate', 'loss', 'n_samples', 'n_updates', 'score', \
'seconds', 'val_loss', 'val_score']
    >>> len(result.runs[0]["history"])
    15
    """
    _check_estimator(estimator)
    batch_sizes = _check_batch_sizes(batch_sizes)
    learning_rates = _check_learning_rates(learning_rates)
    n_repeats = check_int(n_repeats, "n_repeats", minimum=1)
    verbose = check_int(verbose, "verbose", minimum=0)
    if n_jobs is not None:
        n_jobs = check_int(n_jobs, "n_jobs", minimum=None)
        if n_jobs == 0:
            raise ValueError("n_jobs must be a non-zero int or None; got 0.")
    if target_score is not None and not _is_real(target_score):
        raise ValueError(f"target_score must be a number or None; got {target_score!r}.")
    _check_window(volatility_window)
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be a callable or None; got {progress!r}.")
    random_state = _check_random_state_param(random_state)
    rng = check_random_state(random_state)

    X_train, y_train, X_val, y_val = _split(estimator, X, y, validation_data, rng)
    estimator, steps = split_pipeline(estimator, X_train, y_train)  # fitted once
    if steps is not None:
        X_train, X_val = steps.transform(X_train), steps.transform(X_val)
    if learning_rates is None:
        learning_rates = [float(estimator.get_params()["learning_rate_init"])]
    seeds = _repeat_seeds(random_state, rng, n_repeats)

    tasks = [
        (batch_size, learning_rate, repeat, seed)
        for batch_size in batch_sizes
        for learning_rate in learning_rates
        for repeat, seed in enumerate(seeds)
    ]
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    outputs = parallel(
        delayed(_fit_one)(
            estimator, X_train, y_train, X_val, y_val, batch_size, learning_rate, repeat, seed
        )
        for batch_size, learning_rate, repeat, seed in tasks
    )
    summary = dict(
        target_score=target_score,
        volatility_window=volatility_window,
        task="classification" if is_classifier(estimator) else "regression",
        n_train=n_samples(X_train),
        n_val=n_samples(X_val),
    )
    runs = []
    started = time.perf_counter()
    for run in outputs:
        for message in run.pop("warnings"):
            _warnings.warn(message, type(message))
        runs.append(run)
        if progress is not None and run["repeat"] == n_repeats - 1:  # a configuration's last
            progress(SweepResult(runs[-n_repeats:], **summary).configurations[0])
        if verbose:
            print(
                f"[batch_size_sweep] fit {len(runs)}/{len(tasks)}: batch_size="
                f"{run['batch_size']!s} learning_rate={run['learning_rate']:g} repeat "
                f"{run['repeat'] + 1}/{n_repeats}: train score {run['train_score']:.4f}, "
                f"validation score {run['val_score']:.4f}"
                f"{' (diverged)' if run['diverged'] else ''}, "
                f"{time.perf_counter() - started:.1f} s elapsed",
                file=sys.stderr,
                flush=True,
            )
    return SweepResult(runs, **summary)


# ----------------------------------------------------------------------------------------------
# One fit, and the callback that scores every epoch


class _EpochScores:
    """Callback adding the training score and the validation loss and score to each record.

    ``on_epoch_end(estimator, record)`` is called by the estimator after every epoch with the
    weights of that epoch; it adds ``record['score']`` (the estimator's score on the training
    data), ``record['val_loss']`` (the training objective, penalty included, on the validation
    data) and ``record['val_score']``. The scores equal ``estimator.score``: accuracy (subset
    accuracy for multilabel targets) or R^2 averaged over outputs, computed here from one
    ``predict_proba`` or ``predict`` call per data set, because ``score`` itself checks its
    input again on every call.

    Parameters
    ----------
    X_train, y_train : array-like
        The training data.
    X_val, y_val : array-like
        The validation data.
    """

    def __init__(self, X_train, y_train, X_val, y_val):
        self.X_train = X_train
        self.y_train = np.asarray(y_train)
        self.X_val = X_val
        self.y_val = np.asarray(y_val)
        self._settings = None

    def on_epoch_end(self, estimator, record):
        record["score"] = self.evaluate(estimator, self.X_train, self.y_train)[1]
        record["val_loss"], record["val_score"] = self.evaluate(estimator, self.X_val, self.y_val)
        return False

    def evaluate(self, estimator, X, y):
        """(objective, score) of the estimator's current weights on (X, y)."""
        if self._settings is None or self._settings[0] is not estimator:
            self._settings = (estimator, _loss_settings(estimator))
        return _loss_and_score(estimator, X, np.asarray(y), self._settings[1])

    def __getstate__(self):  # the cached estimator refers back to this callback
        return {**self.__dict__, "_settings": None}


def _loss_settings(estimator):
    """(loss name, huber_delta, alpha, l1_ratio): what the objective needs. Read once per
    fit: ``get_params`` inspects signatures, which takes longer than an epoch."""
    params = estimator.get_params(deep=False)
    return (
        params.get("loss", "squared_error"),
        params.get("huber_delta", 1.0),
        params.get("alpha", 0.0),
        params.get("l1_ratio", 0.0),
    )


def _loss_and_score(estimator, X, y, settings):
    """(objective, score) of the estimator's current weights on (X, y), from one prediction."""
    loss_name, huber_delta, alpha, l1_ratio = settings
    penalty = _penalty(estimator.coefs_, alpha, l1_ratio)
    if is_classifier(estimator):
        proba = estimator.predict_proba(X)
        tiny = np.finfo(proba.dtype).tiny
        if y.ndim == 2:  # multilabel: one binary cross-entropy per label, summed
            p_true = np.where(y == 1, proba, 1.0 - proba)
            loss = -np.log(np.maximum(p_true, tiny)).sum(axis=1).mean()
            score = np.mean(np.all((proba > 0.5).astype(int) == y, axis=1))
        else:
            codes = np.searchsorted(estimator.classes_, y)
            p_true = proba[np.arange(len(y)), codes]
            loss = -np.log(np.maximum(p_true, tiny)).mean()
            if proba.shape[1] == 2:
                predicted = estimator.classes_[(proba[:, 1] > 0.5).astype(int)]
            else:
                predicted = estimator.classes_[np.argmax(proba, axis=1)]
            score = np.mean(predicted == y)
        return float(loss + penalty), float(score)
    predicted = estimator.predict(X)
    residuals = (predicted - y).reshape(len(y), -1)
    if loss_name == "squared_error":
        losses = 0.5 * residuals**2
    elif loss_name == "huber":
        size = np.abs(residuals)
        losses = np.where(
            size <= huber_delta, 0.5 * residuals**2, huber_delta * (size - 0.5 * huber_delta)
        )
    else:
        losses = np.abs(residuals)
    return float(losses.mean() + penalty), _r2(y, predicted)


def _penalty(coefs, alpha, l1_ratio):
    """``alpha * (l1_ratio * |W| + (1 - l1_ratio) / 2 * ||W||^2)`` over the weights."""
    if not alpha:
        return 0.0
    l1 = sum(float(np.abs(W).sum()) for W in coefs)
    l2 = sum(float(np.square(W).sum()) for W in coefs)
    return alpha * (l1_ratio * l1 + 0.5 * (1.0 - l1_ratio) * l2)


def _r2(y, predicted):
    """scikit-learn's ``r2_score`` (uniform average over outputs, finite for constant y)."""
    y = y.reshape(len(y), -1)
    predicted = np.asarray(predicted).reshape(len(y), -1)
    residual = np.square(y - predicted).sum(axis=0)
    total = np.square(y - y.mean(axis=0)).sum(axis=0)
    scores = np.ones(y.shape[1])
    valid = total != 0
    scores[valid] = 1.0 - residual[valid] / total[valid]
    scores[~valid & (residual != 0)] = 0.0
    return float(scores.mean())


def _fit_one(estimator, X_train, y_train, X_val, y_val, batch_size, learning_rate, repeat, seed):
    """Fit one clone; return its run: configuration, seed, history and final scores."""
    scores = _EpochScores(X_train, y_train, X_val, y_val)
    estimator = clone(estimator)
    estimator.set_params(
        batch_size=batch_size,
        learning_rate_init=learning_rate,
        on_divergence="warn",  # a diverging run is counted, not the end of the sweep
        random_state=seed,
        callbacks=[*(estimator.callbacks or []), scores],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        estimator.fit(X_train, y_train)
    diverged = any(issubclass(warning.category, DivergenceWarning) for warning in caught)
    train_score = scores.evaluate(estimator, X_train, y_train)[1]
    val_loss, val_score = scores.evaluate(estimator, X_val, y_val)
    return {
        "batch_size": batch_size,
        "learning_rate": float(learning_rate),
        "repeat": repeat,
        "random_state": seed,
        "history": [dict(record) for record in estimator.history_],
        "diverged": diverged,
        # issued again by batch_size_sweep, at its caller's line (from worker processes too)
        "warnings": [w.message for w in caught if not issubclass(w.category, DivergenceWarning)],
        "train_score": train_score,
        "val_loss": val_loss,
        "val_score": val_score,
    }


# ----------------------------------------------------------------------------------------------
# The result


class SweepResult:
    """What :func:`batch_size_sweep` returns: every fit's history and their summaries.

    Parameters
    ----------
    runs : list of dict
        One dict per fit with keys ``'batch_size'``, ``'learning_rate'``, ``'repeat'``,
        ``'random_state'``, ``'history'`` (the estimator's per-epoch records, with
        ``'score'``, ``'val_loss'`` and ``'val_score'``), and optionally ``'diverged'``,
        ``'train_score'``, ``'val_score'`` and ``'val_loss'`` (the final values; taken from
        the last record when absent).
    target_score : float or None, default=None
        Validation score whose first reaching is counted in ``epochs_to_target``.
    volatility_window : float in (0, 1], default=0.2
        Share of the last epochs over which the volatility is measured.
    task : {'classification', 'regression'}, default='classification'
        Names the score in figures: accuracy or R^2.
    n_train, n_val : int or None, default=None
        Training and validation samples.

    Attributes
    ----------
    runs : list of dict
        The runs, each completed with its summary: ``train_score``, ``val_score``,
        ``val_loss`` (with the final weights), ``train_loss`` (the estimator's ``loss`` of the
        last epoch: the mean over its batches, as they were trained), ``volatility``,
        ``epochs_to_target``, ``seconds_per_epoch``, ``updates_per_epoch``,
        ``samples_per_update``, ``n_epochs`` and ``diverged``.
    configurations : list of dict
        One summary per configuration (batch size, learning rate), in the order of the sweep:

        - ``batch_size``, ``learning_rate``, ``n_repeats``;
        - ``updates_per_epoch``, ``seconds_per_epoch``: medians over repeats of each run's
          median over epochs (the estimator's recorded training time, without scoring);
        - ``train_score``, ``val_score``, ``train_loss``, ``val_loss``: medians over repeats
          of the final values; ``train_score_spread`` and ``val_score_spread`` their
          interquartile range over repeats (75th minus 25th percentile, linear
          interpolation; 0 for one repeat);
        - ``volatility``: median over repeats of each run's volatility, the population
          standard deviation (``ddof=0``) of the validation score over the last
          ``ceil(volatility_window * n_epochs)`` epochs (at least 2; 0 for a one-epoch run);
        - ``epochs_to_target``: median over repeats of the first epoch (counted from 1) whose
          validation score is at least ``target_score``, a run that never reaches it counting
          as infinitely many; None when the median is not reached or there is no target;
          ``target_reached``: the share of repeats that reached it;
        - ``n_diverged``: repeats whose training diverged.
    target_score, volatility_window, task, n_train, n_val
        As given.
    """

    def __init__(
        self,
        runs,
        *,
        target_score=None,
        volatility_window=0.2,
        task="classification",
        n_train=None,
        n_val=None,
    ):
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression'; got {task!r}.")
        _check_window(volatility_window)
        self.target_score = target_score
        self.volatility_window = volatility_window
        self.task = task
        self.n_train = n_train
        self.n_val = n_val
        self.runs = [self._summarise_run(dict(run)) for run in runs]
        self.configurations = self._summarise_configurations()

    def __repr__(self):
        return (
            f"SweepResult({len(self.configurations)} configurations, {len(self.runs)} fits, "
            f"target_score={self.target_score!r})"
        )

    @property
    def score_name(self):
        """'accuracy' for classification, 'R^2' for regression."""
        return "accuracy" if self.task == "classification" else "R^2"

    def histories(self, batch_size, learning_rate=None):
        """The histories of the repeats of one configuration.

        Parameters
        ----------
        batch_size : int, 'full' or schedule
            A batch size of the sweep.
        learning_rate : float or None, default=None
            A learning rate of the sweep; None when the sweep has only one.

        Returns
        -------
        histories : list of list of dict
            One history per repeat, in the order of the repeats.
        """
        key = self._configuration_key(batch_size, learning_rate)
        return [run["history"] for run in self.runs if _run_key(run) == key]

    def to_frame(self, level="configurations"):
        """The summaries as a pandas DataFrame, or a list of dicts without pandas.

        Parameters
        ----------
        level : {'configurations', 'runs', 'epochs'}, default='configurations'
            One row per configuration (:attr:`configurations`), per fit (:attr:`runs`
            without their histories), or per epoch of each fit (the records, with the
            fit's ``batch_size``, ``learning_rate``, ``repeat`` and ``random_state``).

        Returns
        -------
        frame : pandas.DataFrame or list of dict
        """
        if level == "configurations":
            rows = [dict(row) for row in self.configurations]
        elif level == "runs":
            rows = [{k: v for k, v in run.items() if k != "history"} for run in self.runs]
        elif level == "epochs":
            rows = [
                {
                    "batch_size": run["batch_size"],
                    "learning_rate": run["learning_rate"],
                    "repeat": run["repeat"],
                    "random_state": run["random_state"],
                    **record,
                }
                for run in self.runs
                for record in run["history"]
            ]
        else:
            raise ValueError(f"level must be 'configurations', 'runs' or 'epochs'; got {level!r}.")
        try:
            import pandas as pd
        except ImportError:
            return rows
        for row in rows:  # one column type: a mix of ints and 'full' would be object anyway
            if not isinstance(row["batch_size"], numbers.Integral | str):
                row["batch_size"] = str(row["batch_size"])
        return pd.DataFrame(rows)

    def plot(self, path=None, *, metric="score", ncols=4, dpi=100):
        """Draw the learning curves of every configuration and a summary panel.

        One panel per configuration (one row per learning rate when there are several), all
        on one shared y axis and one shared x axis, shows the training and validation curves
        of the first repeat, with the range of the validation curve over all repeats shaded.
        The summary panel below shows, against the batch size on a log axis, the median final
        validation score (bars: interquartile range over repeats) and the median time per
        epoch (right axis, log scale). ``'full'`` sits at the number of training samples.

        Parameters
        ----------
        path : str or path-like or None, default=None
            When given, the figure is saved there (format from the extension).
        metric : {'score', 'loss'}, default='score'
            Curves of the score (accuracy or R^2) or of the loss.
        ncols : int, default=4
            Panels per row when there is one learning rate.
        dpi : int, default=100
            Resolution of the saved figure.

        Returns
        -------
        figure : matplotlib.figure.Figure
            Made without pyplot, so no window opens; Jupyter displays it.

        Raises
        ------
        ImportError
            If matplotlib is not installed (``pip install matplotlib``).
        """
        if metric not in ("score", "loss"):
            raise ValueError(f"metric must be 'score' or 'loss'; got {metric!r}.")
        try:
            from matplotlib.figure import Figure
        except ImportError as error:
            raise ImportError(_PLOT_EXTRA_MESSAGE) from error
        train_key, val_key = ("score", "val_score") if metric == "score" else ("loss", "val_loss")
        batch_sizes = _unique([row["batch_size"] for row in self.configurations])
        rates = _unique([row["learning_rate"] for row in self.configurations])
        if len(rates) == 1:
            ncols = max(1, min(ncols, len(batch_sizes)))
            nrows = -(-len(batch_sizes) // ncols)
            places = {(bs, rates[0]): divmod(i, ncols) for i, bs in enumerate(batch_sizes)}
        else:
            ncols, nrows = len(batch_sizes), len(rates)
            places = {
                (bs, lr): (i, j) for i, lr in enumerate(rates) for j, bs in enumerate(batch_sizes)
            }
        figure = Figure(figsize=(3.0 * ncols + 1.0, 2.2 * nrows + 3.0), layout="constrained")
        grid = figure.add_gridspec(nrows + 1, ncols, height_ratios=[1.0] * nrows + [1.4])
        first = None
        label = self.score_name if metric == "score" else "loss"
        for row in self.configurations:
            i, j = places[(row["batch_size"], row["learning_rate"])]
            ax = figure.add_subplot(grid[i, j], sharex=first, sharey=first)
            first = first or ax
            histories = self.histories(row["batch_size"], row["learning_rate"])
            self._draw_curves(ax, histories, train_key, val_key)
            title = f"batch={row['batch_size']!s}"
            if len(rates) > 1:
                title += f", lr={row['learning_rate']:g}"
            updates = row["updates_per_epoch"]
            plural = "" if updates == 1 else "s"
            ax.set_title(f"{title} ({updates:g} update{plural}/epoch)", fontsize=9)
            if j == 0:
                ax.set_ylabel(label)
            if i == nrows - 1 or (len(rates) == 1 and i * ncols + j + ncols >= len(batch_sizes)):
                ax.set_xlabel("epoch")
            if ax is first:
                ax.legend(fontsize=8, loc="lower right")
        self._draw_summary(figure.add_subplot(grid[nrows, :]), rates)
        figure.suptitle(
            f"Learning curves by batch size ({self.n_train} training, {self.n_val} validation "
            f"samples; shared y axis)"
        )
        if path is not None:
            figure.savefig(path, dpi=dpi)
        return figure

    # -- internals ---------------------------------------------------------------------------

    def _draw_curves(self, ax, histories, train_key, val_key):
        first = histories[0]
        epochs = [record["epoch"] for record in first]
        ax.plot(epochs, [r.get(train_key, np.nan) for r in first], label="train", lw=1)
        ax.plot(epochs, [r.get(val_key, np.nan) for r in first], label="validation", lw=1)
        if len(histories) > 1:
            length = max(len(history) for history in histories)
            curves = np.full((len(histories), length), np.nan)
            for k, history in enumerate(histories):
                curves[k, : len(history)] = [r.get(val_key, np.nan) for r in history]
            present = ~np.all(np.isnan(curves), axis=0)
            if present.any():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    low, high = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
                x = np.arange(1, length + 1)
                ax.fill_between(
                    x[present], low[present], high[present], color="C1", alpha=0.2, lw=0
                )
        ax.grid(True, alpha=0.3)

    def _draw_summary(self, ax, rates):
        from matplotlib.ticker import FuncFormatter

        right = ax.twinx()
        ticks = {}
        for k, rate in enumerate(rates):
            rows = [
                {**row, **extra}
                for row, extra in zip(self.configurations, self._plot_values, strict=True)
                if row["learning_rate"] == rate
            ]
            x = np.array([row["_x"] for row in rows], dtype=float)
            order = np.argsort(x)
            x = x[order]
            score = np.array([row["val_score"] for row in rows])[order]
            low = np.array([row["_val_score_q25"] for row in rows])[order]
            high = np.array([row["_val_score_q75"] for row in rows])[order]
            ms = 1000 * np.array([row["seconds_per_epoch"] for row in rows])[order]
            suffix = f" (lr={rate:g})" if len(rates) > 1 else ""
            ax.errorbar(
                x,
                score,
                yerr=[score - low, high - score],
                marker="o",
                color=f"C{2 * k}",
                capsize=3,
                label=f"final validation {self.score_name}{suffix}",
            )
            right.plot(
                x, ms, marker="s", ls="--", color=f"C{2 * k + 1}", label=f"ms per epoch{suffix}"
            )
            for row in rows:  # 'full', 'auto' on a second line: often next to a large batch
                size = row["batch_size"]
                named = isinstance(size, str)
                ticks[row["_x"]] = f"\n{size} ({row['_x']:g})" if named else str(size)
        ax.set_xscale("log")
        right.set_yscale("log")
        right.set_ylim(*_one_two_five_span(*right.get_ylim()))  # two labelled ticks at least
        right.yaxis.set_major_formatter(FuncFormatter(_one_two_five))
        right.yaxis.set_minor_formatter(FuncFormatter(_one_two_five))
        ax.set_xticks(sorted(ticks), [ticks[t] for t in sorted(ticks)])
        ax.minorticks_off()
        ax.set_xlabel("batch size (log scale)")
        ax.set_ylabel(f"final validation {self.score_name}")
        right.set_ylabel("time per epoch (ms, log scale)")
        handles = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=8, loc="center right")
        ax.grid(True, alpha=0.3)
        ax.set_title("Final score and time per epoch against batch size", fontsize=10)

    def _summarise_run(self, run):
        history = run["history"]
        val_scores = np.array([r.get("val_score", np.nan) for r in history], dtype=float)
        last = history[-1] if history else {}
        run.setdefault("diverged", False)
        run.setdefault("train_score", last.get("score", np.nan))
        run.setdefault("val_score", last.get("val_score", np.nan))
        run.setdefault("val_loss", last.get("val_loss", np.nan))
        run["train_loss"] = last.get("loss", np.nan)
        run["n_epochs"] = len(history)
        run["volatility"] = volatility(val_scores, self.volatility_window)
        run["epochs_to_target"] = epochs_to_target(val_scores, self.target_score)
        run["seconds_per_epoch"] = _median([r["seconds"] for r in history if "seconds" in r])
        run["updates_per_epoch"] = _median([r["n_updates"] for r in history if "n_updates" in r])
        run["samples_per_update"] = _median(
            [r["batch_size"] for r in history if "batch_size" in r]
        )
        return run

    def _summarise_configurations(self):
        groups = {}
        for run in self.runs:
            groups.setdefault(_run_key(run), []).append(run)
        rows = []
        for runs in groups.values():
            train_scores = [run["train_score"] for run in runs]
            val_scores = [run["val_score"] for run in runs]
            to_target = [run["epochs_to_target"] for run in runs]
            reached = [n for n in to_target if n is not None]
            median_to_target = _median([math.inf if n is None else n for n in to_target])
            q25, q75 = _quartiles(val_scores)
            train_q25, train_q75 = _quartiles(train_scores)
            samples = _median([run["samples_per_update"] for run in runs])
            if not np.isfinite(samples):
                samples = self.n_train if self.n_train else 1
            rows.append(
                {
                    "batch_size": runs[0]["batch_size"],
                    "learning_rate": runs[0]["learning_rate"],
                    "n_repeats": len(runs),
                    "updates_per_epoch": _median([run["updates_per_epoch"] for run in runs]),
                    "seconds_per_epoch": _median([run["seconds_per_epoch"] for run in runs]),
                    "train_score": _median(train_scores),
                    "train_score_spread": train_q75 - train_q25,
                    "val_score": _median(val_scores),
                    "val_score_spread": q75 - q25,
                    "train_loss": _median([run["train_loss"] for run in runs]),
                    "val_loss": _median([run["val_loss"] for run in runs]),
                    "volatility": _median([run["volatility"] for run in runs]),
                    "epochs_to_target": (
                        None
                        if self.target_score is None or math.isinf(median_to_target)
                        else median_to_target
                    ),
                    "target_reached": (
                        None if self.target_score is None else len(reached) / len(runs)
                    ),
                    "n_diverged": sum(bool(run["diverged"]) for run in runs),
                    "_x": samples,
                    "_val_score_q25": q25,
                    "_val_score_q75": q75,
                }
            )
        self._plot_values = [{k: v for k, v in row.items() if k.startswith("_")} for row in rows]
        return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]

    def _configuration_key(self, batch_size, learning_rate):
        rates = _unique([row["learning_rate"] for row in self.configurations])
        if learning_rate is None:
            if len(rates) > 1:
                raise ValueError(
                    f"learning_rate must be given: the sweep has learning rates {rates}."
                )
            learning_rate = rates[0]
        key = (_hashable(batch_size), float(learning_rate))
        if key not in {_run_key(run) for run in self.runs}:
            raise ValueError(
                f"No configuration batch_size={batch_size!r}, learning_rate={learning_rate!r} "
                f"in this sweep."
            )
        return key


def _one_two_five_span(low, high):
    """Log-axis limits around ``(low, high)`` (positive) that include at least two values of
    the 1-2-5 series (1, 2, 5, 10, 20, ...), the ticks :func:`_one_two_five` labels."""
    exponents = range(math.floor(math.log10(low)) - 1, math.floor(math.log10(high)) + 2)
    series = [m * 10.0**e for e in exponents for m in (1, 2, 5)]

    def n_inside(lo, hi):
        return sum(lo <= value <= hi for value in series)

    while n_inside(low, high) < 2:  # at most twice: the series goes a decade below low
        low = max(value for value in series if value < low)
    # A hair wider: matplotlib computes its ticks' values with other rounding (2e-05 may come
    # out just below 2 * 10.0**-5), and a tick a hair outside the limits is not drawn.
    return low * (1 - 1e-9), high * (1 + 1e-9)


def _one_two_five(value, _position):
    """Log-axis tick label: plain numbers at 1, 2 and 5 times a power of ten, else none."""
    if value <= 0:
        return ""
    mantissa = value / 10 ** math.floor(math.log10(value))
    return f"{value:g}" if any(abs(mantissa - m) < 1e-6 for m in (1, 2, 5)) else ""


def volatility(val_scores, window=0.2):
    """Population standard deviation of the last ``ceil(window * n)`` validation scores.

    At least the last 2 epochs are used; a history of 0 or 1 epochs has volatility NaN or 0.

    Parameters
    ----------
    val_scores : sequence of float
        Validation score of each epoch.
    window : float in (0, 1], default=0.2
        Share of the epochs, counted from the end.

    Returns
    -------
    volatility : float

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.6, 0.8]
    >>> round(volatility(scores, window=0.2), 6)  # std of [0.6, 0.8]
    0.1
    """
    scores = np.asarray(val_scores, dtype=float)
    if scores.size == 0:
        return float("nan")
    n_last = min(scores.size, max(2, math.ceil(window * scores.size)))
    return float(np.std(scores[-n_last:]))


def epochs_to_target(val_scores, target_score):
    """The first epoch (counted from 1) whose validation score is at least ``target_score``.

    Returns None when it is never reached or ``target_score`` is None.

    Examples
    --------
    >>> epochs_to_target([0.5, 0.7, 0.8, 0.75], 0.78)
    3
    """
    if target_score is None:
        return None
    reached = np.flatnonzero(np.asarray(val_scores, dtype=float) >= target_score)
    return int(reached[0]) + 1 if reached.size else None


# ----------------------------------------------------------------------------------------------
# Checks and helpers


def _check_estimator(estimator):
    if check_ours(estimator).early_stopping:
        raise ValueError(
            "estimator has early_stopping=True: batch_size_sweep measures every configuration "
            "on its own validation data; set early_stopping=False."
        )


def _check_batch_sizes(batch_sizes):
    if isinstance(batch_sizes, str | numbers.Number) or not hasattr(batch_sizes, "__iter__"):
        raise ValueError(
            f"batch_sizes must be a sequence of ints >= 1, 'full', 'auto' or batch-size "
            f"schedules; "
            f"got {batch_sizes!r}."
        )
    checked = []
    for value in batch_sizes:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
            checked.append(int(value))
        elif value in ("full", "auto") or callable(getattr(value, "batch_size", None)):
            checked.append(value)
        else:
            raise ValueError(
                f"batch_sizes must contain ints >= 1, 'full', 'auto' or batch-size schedules; got "
                f"{value!r} in {batch_sizes!r}."
            )
    if not checked:
        raise ValueError("batch_sizes must not be empty.")
    keys = [_hashable(value) for value in checked]
    if len(set(keys)) != len(keys):
        raise ValueError(f"batch_sizes has duplicates: {batch_sizes!r}.")
    return checked


def _check_learning_rates(learning_rates):
    if learning_rates is None:
        return None
    if isinstance(learning_rates, str | numbers.Number) or not hasattr(learning_rates, "__iter__"):
        raise ValueError(
            f"learning_rates must be a sequence of positive floats or None; got "
            f"{learning_rates!r}."
        )
    rates = list(learning_rates)
    if not rates or not all(_is_real(r) and r > 0 and math.isfinite(r) for r in rates):
        raise ValueError(
            f"learning_rates must be a non-empty sequence of positive floats; got "
            f"{learning_rates!r}."
        )
    rates = [float(r) for r in rates]
    if len(set(rates)) != len(rates):
        raise ValueError(f"learning_rates has duplicates: {learning_rates!r}.")
    return rates


def _check_window(window):
    if not _is_real(window) or not 0 < window <= 1:
        raise ValueError(f"volatility_window must be a float in (0, 1]; got {window!r}.")


def _check_random_state_param(random_state):
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return random_state
    integer = isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    if integer and 0 <= random_state < 2**32:
        return int(random_state)
    raise ValueError(
        f"random_state must be an int in [0, 2**32), a numpy RandomState or None; got "
        f"{random_state!r}."
    )


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _target_shape(y):
    """The shape of a row of targets, a column vector's being that of a vector's."""
    shape = np.shape(y)[1:]
    return () if shape == (1,) else shape


def _split(estimator, X, y, validation_data, rng):
    """(X_train, y_train, X_val, y_val) from the ``validation_data`` parameter."""
    n = n_samples(X)
    if n_samples(y) != n:
        raise ValueError(f"X and y have different numbers of samples: {n} and {n_samples(y)}.")
    classifier = is_classifier(estimator)
    if validation_data is None:
        validation_data = 0.2
    if isinstance(validation_data, tuple | list):
        if len(validation_data) != 2:
            raise ValueError(
                "validation_data must be (X_val, y_val), a float in (0, 1), a CV splitter or "
                f"None; got a sequence of {len(validation_data)} items."
            )
        X_val, y_val = validation_data
        if n_samples(X_val) != n_samples(y_val) or n_samples(X_val) == 0:
            raise ValueError(
                f"validation_data=(X_val, y_val) must have the same non-zero number of rows; "
                f"got {n_samples(X_val)} and {n_samples(y_val)}."
            )
        if _target_shape(y_val) != _target_shape(y):
            raise ValueError(
                f"validation_data=(X_val, y_val): y_val has shape {np.shape(y_val)}, which does "
                f"not match y's {np.shape(y)} (one target or label per row, or as many columns)."
            )
        X_train, y_train = X, y
    elif _is_real(validation_data):
        if not 0 < validation_data < 1:
            raise ValueError(
                f"validation_data as a float is the share held out, in (0, 1); got "
                f"{validation_data!r}."
            )
        y_array = np.asarray(y)
        stratify = y_array if classifier and y_array.ndim == 1 else None
        try:
            X_train, X_val, y_train, y_val = train_test_split(
                X, y, test_size=validation_data, random_state=rng, stratify=stratify
            )
        except ValueError as error:
            raise ValueError(
                f"validation_data={validation_data!r}: cannot hold out this share of the "
                f"{n} samples ({error}). Pass validation_data=(X_val, y_val) instead."
            ) from error
    elif not isinstance(validation_data, str) and callable(
        getattr(validation_data, "split", None)
    ):
        try:
            train, val = next(iter(validation_data.split(X, y)))
        except (StopIteration, ValueError) as error:
            raise ValueError(
                f"validation_data={validation_data!r} gave no (train, validation) split: {error}"
            ) from error
        X_train, X_val = _safe_indexing(X, train), _safe_indexing(X, val)
        y_train, y_val = _safe_indexing(y, train), _safe_indexing(y, val)
    else:
        raise ValueError(
            "validation_data must be (X_val, y_val), a float in (0, 1), a CV splitter or None; "
            f"got {validation_data!r}."
        )
    if classifier and np.asarray(y_val).ndim == 1:
        unseen = np.setdiff1d(np.asarray(y_val), np.asarray(y_train))
        if unseen.size:
            raise ValueError(
                f"validation_data has classes the training data lacks: {unseen.tolist()!r}."
            )
    return X_train, y_train, X_val, y_val


def _repeat_seeds(random_state, rng, n_repeats):
    if isinstance(random_state, numbers.Integral):
        return [(random_state + r) % 2**32 for r in range(n_repeats)]
    return [int(seed) for seed in rng.randint(np.iinfo(np.int32).max, size=n_repeats)]


def _hashable(batch_size):
    """A key for a batch size: ints (NumPy's too) and strings as they are, schedules by repr."""
    if isinstance(batch_size, numbers.Integral):
        return int(batch_size)
    return batch_size if isinstance(batch_size, str) else repr(batch_size)


def _run_key(run):
    return (_hashable(run["batch_size"]), float(run["learning_rate"]))


def _unique(values):
    seen, out = set(), []
    for value in values:
        key = _hashable(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _median(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    return float(np.median(values)) if values else float("nan")


def _quartiles(values):
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return float("nan"), float("nan")
    q25, q75 = np.percentile(values, [25, 75])
    return float(q25), float(q75)
