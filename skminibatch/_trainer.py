"""The training loop: for each epoch, plan the batches, run the compiled epoch, record, stop?

Python runs here once per epoch; everything per batch happens in
:func:`skminibatch._kernels.train_epoch`. This module knows nothing of scikit-learn: it takes
canonical arrays and a :class:`TrainingConfig` and updates the parameter vector in place.
"""

import reprlib
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from . import _kernels, _warnings
from ._batching import dropout_seed, epoch_batch_size, epoch_order, updates_per_epoch
from .schedules import Constant


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the loss or the weights stopped being finite."""


class DivergenceError(FloatingPointError):
    """Training diverged and ``on_divergence='raise'`` was asked for."""


# What fit_stream and fit on a large memmap keep when a chunk diverges or is interrupted.
STREAM_KEPT = "the weights from before that chunk are kept, with the passes and chunks before it"
INTERRUPTED_BEFORE_AN_EPOCH = (
    "Training interrupted before an epoch of this call completed: the estimator is left as it was."
)


def interrupted_in_stream(history, chunk, trained):
    """The message of Ctrl-C at chunk ``chunk`` of the pass after the passes in ``history``
    (``fit_stream``, ``fit`` on a large memmap); ``trained``: whether chunks of this pass
    were trained before it."""
    kept = STREAM_KEPT if len(history) or trained else "the estimator is left as it was"
    return f"Training interrupted in pass {len(history) + 1}, at chunk {chunk}: {kept}."


class TrainingInterrupted(KeyboardInterrupt):
    """The user interrupted training (Ctrl-C); the state holds the epochs completed before."""


@dataclass(frozen=True)
class TrainingConfig:
    """Everything the training loop needs besides data and state, strings already coded."""

    hyperparameters: _kernels.Hyperparameters
    dropout: np.ndarray  # rate per hidden layer
    learning_rate: float  # learning_rate_init, multiplied by the schedule's multipliers
    schedule: object  # with multipliers(steps, epoch, history)
    batch_size: object  # int, "full" or a schedule with batch_size(epoch, history, n)
    shuffle: bool
    record_batches: bool
    on_divergence: str  # "warn" or "raise"
    verbose: int
    # (parameter, schedule, key) for each validation key a schedule watches: see
    # validation_watchers, computed once with the config rather than at every call.
    validation_watchers: tuple = ()


@dataclass
class TrainingState:
    """What training changes: parameters, optimizer state and counters (plain NumPy data)."""

    theta: np.ndarray
    optimizer_state: np.ndarray
    n_updates: int = 0
    n_samples_seen: int = 0


@dataclass
class Stopper:
    """scikit-learn's stopping rule on the record key ``monitor`` ('loss', 'val_loss' or
    'val_score'): stop when it has not improved by ``tol`` for more than ``n_iter_no_change``
    consecutive epochs (``tol=None`` never stops). A NaN value (a validation score undefined
    on its data) is no improvement. With ``restore_best``, the parameters of the best epoch
    are kept and put back at the end; ``best_theta`` is replaced, never changed in place."""

    monitor: str
    tol: float
    n_iter_no_change: int
    restore_best: bool = False
    best: float = np.inf
    n_without_improvement: int = 0
    best_theta: np.ndarray = None
    best_epoch: int = None

    def should_stop(self, record, theta):
        """Observe the record of the epoch just finished.

        Parameters
        ----------
        record : dict
            The epoch's record, with ``'epoch'`` and the monitored key.
        theta : ndarray or None
            The parameters at the end of the epoch, copied if they are the best so far and
            ``restore_best`` is set (None without it).

        Returns
        -------
        stop : bool
            Whether the monitored value has not improved for too long.
        """
        value = -record[self.monitor] if self.monitor == "val_score" else record[self.monitor]
        tol = 0.0 if self.tol is None else self.tol
        improved = value <= self.best - tol  # False for NaN
        self.n_without_improvement = 0 if improved else self.n_without_improvement + 1
        if value < self.best:
            self.best = value
            self.best_epoch = record["epoch"]
            if self.restore_best:
                self.best_theta = theta.copy()
        return self.tol is not None and self.n_without_improvement > self.n_iter_no_change

    def restore(self, theta):
        """Put the parameters of the best epoch back into ``theta``, if they were kept.

        Parameters
        ----------
        theta : ndarray
            The parameters, overwritten in place.

        Returns
        -------
        kept : str or None
            What was put back, for messages ("the weights of epoch 3, the best by
            val_loss"); None when nothing was (no ``restore_best``, or no epoch observed).
        """
        if self.best_theta is None:
            return None
        theta[:] = self.best_theta
        return f"the weights of epoch {self.best_epoch}, the best by {self.monitor}"


def train(
    X,
    Y,
    sample_weight,
    layer_sizes,
    state,
    config,
    random_state,
    *,
    incremental,
    history,
    max_epochs=1,
    stopper=None,
    evaluate=None,
    on_epoch_begin=None,
    on_epoch_end=None,
    chunk=None,
):
    """Run up to ``max_epochs`` epochs over (X, Y), appending one record per epoch to ``history``.

    X, Y and sample_weight are C-contiguous arrays of the parameters' dtype; ``state`` is
    updated in place. ``incremental`` marks a ``partial_fit`` call: a batch size larger than the
    data is then one partial batch rather than clipped with a warning. ``evaluate(theta)``, when
    given, returns the validation loss and score recorded each epoch. ``on_epoch_begin()`` is
    called before each epoch and ``on_epoch_end(record)`` after each finished one; it may
    return True to stop. ``stopper`` then observes every record, that of an epoch where a
    callback stops included, and decides whether training has converged (see
    :func:`_converged`). ``chunk``, the number of the chunk of a pass of
    :func:`~skminibatch._streaming.train_passes` (``fit_stream``, ``fit`` on a large memmap)
    that this call trains on, words the divergence message (the passes stop there, keeping
    the weights from before that chunk); a chunk smaller than a batch that ``drop_last`` drops
    is dropped without the warning ``partial_fit`` gives, as ``fit`` drops a partial batch.

    A schedule (``config.schedule``, or ``config.batch_size`` when it is one) watching
    ``'val_loss'`` or ``'val_score'`` is refused with a ValueError before any epoch when
    ``evaluate`` is None: no record would have the key, and the schedule would never act.

    Returns ``"converged"`` when ``stopper`` stopped training, ``"stopped"`` when
    ``on_epoch_end`` did, ``"diverged"`` when the loss or the weights stopped being finite (the
    state is then restored to the end of the last finite epoch, and a :class:`DivergenceWarning`
    issued, or :class:`DivergenceError` raised; an epoch whose first loss, that of the weights
    it started from, is not finite shows that the epoch before it diverged, which goes too),
    else ``"max_iter"``. Whichever way training
    ends, a stopper with ``restore_best`` then puts the best epoch's parameters back: also on
    divergence and on Ctrl-C (:class:`TrainingInterrupted`), as scikit-learn's MLP restores
    them on Ctrl-C, and the warning or error says so.
    """
    if evaluate is None:
        _check_monitored_keys(config)
    n_samples = X.shape[0]
    hyper = config.hyperparameters
    workspace_rows, status = 0, "max_iter"
    first_epoch = len(history)
    last_epoch = first_epoch + max_epochs
    checkpoint = None  # the state at the start of the current epoch
    previous = None  # and of the epoch before it, in this call
    try:
        for call_epoch in range(max_epochs):
            # Two snapshots at most, as when the new one was made before the old one went.
            previous = checkpoint
            checkpoint = _Checkpoint(state, history, stopper)
            if on_epoch_begin is not None:
                on_epoch_begin()
            started = time.perf_counter()
            epoch = len(history)
            batch_size = epoch_batch_size(
                config.batch_size, n_samples, not incremental, epoch, history, call_epoch == 0
            )
            if min(batch_size, n_samples, _kernels.CHUNK_ROWS) != workspace_rows:
                workspace_rows = min(batch_size, n_samples, _kernels.CHUNK_ROWS)
                layout, workspace = _allocate(layer_sizes, workspace_rows, X, Y, state.theta)
            n_updates = updates_per_epoch(n_samples, batch_size, hyper.drop_last, hyper.accumulate)
            if not n_updates:  # only partial_fit: fit clips the batch size to the data
                if chunk is None:  # a chunk of a pass drops it as fit drops a partial batch
                    _warnings.warn(
                        f"partial_fit got {n_samples} samples, fewer than batch_size="
                        f"{batch_size}, and drop_last=True drops that partial batch: nothing "
                        f"was trained and no epoch recorded. Pass larger chunks, or "
                        f"drop_last=False to train on them.",
                        UserWarning,
                    )
                break
            # A larger batch size is one partial batch of every row: the same for the kernels (as
            # long as it stays above 1, which picks the single-sample path), without overflowing.
            kernel_batch_size = min(batch_size, n_samples + 1)
            learning_rates = _learning_rates(config, state.n_updates, n_updates, epoch, history)
            n_batches = (
                n_samples // kernel_batch_size
                if hyper.drop_last
                else -(-n_samples // kernel_batch_size)
            )
            batch_losses = np.zeros(n_batches if config.record_batches else 0)
            order = epoch_order(n_samples, config.shuffle, random_state)
            rng_state = dropout_seed(random_state, config.dropout)
            objective_sum, n_rows_used, step, diverged = _kernels.train_epoch(
                X,
                Y,
                sample_weight,
                order,
                kernel_batch_size,
                state.theta,
                state.optimizer_state,
                state.n_updates,
                learning_rates,
                layout,
                hyper,
                config.dropout,
                rng_state,
                workspace,
                batch_losses,
            )
            # A batch's loss is checked before its update; the last update is checked here.
            if diverged or not np.isfinite(state.theta).all():
                # Diverged at the first update: the loss of the weights the epoch started from
                # is not finite, so the last good weights are those the epoch before started
                # from (when this call ran it), and that epoch's record goes too.
                bad_start = diverged and n_rows_used == 0 and previous is not None
                (previous if bad_start else checkpoint).restore(state, history, stopper)
                status = "diverged"
                break
            state.n_updates = int(step)
            state.n_samples_seen += int(n_rows_used)
            record = {
                "epoch": epoch + 1,
                "loss": float(objective_sum / n_rows_used) if n_rows_used else float("nan"),
                "batch_size": min(batch_size, n_samples),
                "n_updates": n_updates,
                "n_samples": int(n_rows_used),
                "learning_rate": float(learning_rates[0]) if n_updates else config.learning_rate,
            }
            if evaluate is not None:
                record["val_loss"], record["val_score"] = evaluate(state.theta)
            if config.record_batches:
                record["batch_losses"] = batch_losses.tolist()
            record["seconds"] = time.perf_counter() - started
            history.append(record)
            _report(record, None if incremental else last_epoch, config.verbose)
            stopped = on_epoch_end is not None and on_epoch_end(record)
            converged = stopper is not None and _converged(
                stopper, history, state.theta, config, state.n_updates
            )
            if stopped or converged:
                status = "stopped" if stopped else "converged"
                break
    except KeyboardInterrupt:
        if checkpoint is not None:
            checkpoint.restore(state, history, stopper)
        n_done = len(history) - first_epoch
        restored = None if stopper is None else stopper.restore(state.theta)
        if chunk is not None:  # a chunk of a pass: the chunks before it stay trained
            message = interrupted_in_stream(history, chunk, chunk > 1)
        elif not n_done:  # the estimator restores itself, as after any error
            message = INTERRUPTED_BEFORE_AN_EPOCH
        elif restored is None:
            message = (
                f"Training interrupted: the weights after the {n_done} epoch(s) this call "
                f"completed are kept."
            )
        else:
            message = (
                f"Training interrupted after the {n_done} epoch(s) this call completed: early "
                f"stopping keeps {restored}."
            )
        raise TrainingInterrupted(message) from None
    if not incremental:
        end_report(config.verbose)
    if status == "converged" and config.verbose:
        print(stop_message(stopper, config))
    restored = None if stopper is None else stopper.restore(state.theta)
    if status == "diverged":
        _diverged(len(history) + 1, config, batch_size, n_samples, restored, first_epoch, chunk)
    return status


class _Checkpoint:
    """The training state at the start of an epoch, to return to when the epoch diverges or
    is interrupted: copies of the parameters and optimizer state, the counters, how many
    records the history held, and the stopper's state (which shares ``best_theta``, never
    changed in place)."""

    def __init__(self, state, history, stopper):
        self.theta = state.theta.copy()
        self.optimizer_state = state.optimizer_state.copy()
        self.counters = state.n_updates, state.n_samples_seen
        self.n_records = len(history)
        self.stopper = None if stopper is None else replace(stopper)

    def restore(self, state, history, stopper):
        state.theta[:] = self.theta
        state.optimizer_state[:] = self.optimizer_state
        state.n_updates, state.n_samples_seen = self.counters
        del history[self.n_records :]
        if stopper is not None:
            vars(stopper).update(vars(self.stopper))


def _learning_rates(config, first_step, n_updates, epoch, history):
    """The learning rate of each update of the coming epoch: ``config.learning_rate`` times
    the schedule's multipliers (those of :class:`~skminibatch.schedules.Constant` are ones,
    and not asked for: asking costs more than the updates of a small epoch)."""
    if type(config.schedule) is Constant:
        return np.full(n_updates, config.learning_rate)
    steps = np.arange(first_step, first_step + n_updates)
    returned = config.schedule.multipliers(steps, epoch, history)
    try:
        multipliers = np.asarray(returned, dtype=np.float64)
        valid = multipliers.shape == steps.shape and bool(np.isfinite(multipliers).all())
        valid = valid and bool((multipliers >= 0).all())
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            f"{type(config.schedule).__name__}.multipliers(steps, epoch={epoch}, history) "
            f"must return one finite non-negative number per step, {n_updates} for steps "
            f"{first_step}..{first_step + n_updates - 1}; it returned {reprlib.repr(returned)}."
        )
    return config.learning_rate * multipliers


def _converged(stopper, history, theta, config, n_updates):
    """Whether training has converged after the epoch of the last record of ``history``.

    ``stopper`` observes the record whatever the answer (its best value and weights), and
    decides, unless the schedule lowers the learning rate on plateaus (it has
    ``ends_plateau(history)``, as :class:`~skminibatch.schedules.ReduceOnPlateau` and
    ``learning_rate='adaptive'``). Then the schedule's plateaus take over from the stopper's
    count, as in scikit-learn's 'adaptive': a plateau lowers the rate instead of stopping
    training, and training stops at a plateau only when the rate cannot be lowered, being at
    most 1e-6 (scikit-learn's rule) or at the schedule's floor: as the schedule's
    ``lowers_rate(history, learning_rate_init)`` says, when it has one (a warm-up around it
    may raise the rate while the plateaus lower it), else when the last update's rate is at
    most 1e-6 or the next update's is not below it.
    ``tol=None`` never stops.

    The rule of ``fit``'s epochs (:func:`train`) and of the passes of ``fit`` on a large
    memmap (:func:`~skminibatch._streaming.train_passes`, whose records are passes).

    Parameters
    ----------
    stopper : Stopper
        The stopping rule on the monitored key.
    history : list of dict
        The records so far, the epoch just finished last.
    theta : ndarray or None
        The parameters at the end of the epoch, which ``stopper`` copies when they are the
        best so far and it restores the best (None when it does not).
    config : TrainingConfig
        Its ``schedule`` and ``learning_rate`` (``learning_rate_init``) give the rates.
    n_updates : int
        The updates run so far: the step of the next update.

    Returns
    -------
    converged : bool
        Whether to stop training.
    """
    stop = stopper.should_stop(history[-1], theta)
    ends_plateau = getattr(config.schedule, "ends_plateau", None)
    if ends_plateau is None:
        return stop
    if stopper.tol is None or not ends_plateau(history):
        return False
    lowers_rate = getattr(config.schedule, "lowers_rate", None)
    if lowers_rate is not None:  # the plateau schedule's own answer, whatever wraps it
        return not lowers_rate(history, config.learning_rate)
    # The rate of the epoch's last update (set by the epochs before it), and of the next one.
    rate = _learning_rates(config, n_updates - 1, 1, len(history) - 1, history[:-1])[0]
    if rate <= 1e-6:
        return True
    return not _learning_rates(config, n_updates, 1, len(history), history)[0] < rate


def validation_watchers(schedule, batch_size):
    """``(parameter, schedule, key)`` for each validation key (``'val_loss'``,
    ``'val_score'``) that the learning-rate schedule or a batch-size schedule watches, itself
    or through a schedule it wraps (:class:`~skminibatch.schedules.Warmup`'s): its
    ``monitor`` attribute, if it has one."""
    return tuple(
        (name, given, key)
        for name, given in [("learning_rate", schedule), ("batch_size", batch_size)]
        for key in _monitored_keys(given)
        if key in ("val_loss", "val_score")
    )


def _check_monitored_keys(config):
    """Refuse a schedule watching a validation key in a call that records none: it would
    silently never act."""
    for name, schedule, key in config.validation_watchers:
        raise ValueError(
            f"{name}={schedule!r} watches {key!r}, which this call does not record: only fit "
            f"validates, with early_stopping=True or validation_data (partial_fit and "
            f"fit_stream never do). Watch 'loss' (or 'auto') instead, or fit with validation."
        )


def _monitored_keys(schedule):
    """The ``monitor`` of ``schedule`` and of the schedules among its attributes, recursively
    (objects with a ``multipliers`` or ``batch_size`` method)."""
    keys = [getattr(schedule, "monitor", None)]
    for value in getattr(schedule, "__dict__", {}).values():
        if callable(getattr(value, "multipliers", None)) or callable(
            getattr(value, "batch_size", None)
        ):
            keys += _monitored_keys(value)
    return keys


def _allocate(layer_sizes, rows, X, Y, theta):
    """The layout and buffers of passes of up to ``rows`` rows."""
    dtype = theta.dtype
    layout, act_size = _kernels.make_layout(layer_sizes, rows)
    workspace = _kernels.Workspace(
        Xb=_kernels.input_buffer(X, rows, theta),
        Yb=np.empty(rows * Y.shape[1], dtype),
        swb=np.empty(rows, dtype),
        acts=np.empty(act_size, dtype),
        deltas=np.empty(act_size, dtype),
        masks=np.empty(act_size, dtype),
        grad=np.empty(theta.size, dtype),
        chunk_grad=np.empty(theta.size, dtype),
    )
    return layout, workspace


def stop_message(stopper, config):
    """Why training converged, in scikit-learn's MLP's words, printed when ``verbose``."""
    if getattr(config.schedule, "ends_plateau", None) is not None:
        return "Learning rate too small (at most 1e-6, or at its schedule's floor). Stopping."
    watched = {"loss": "Training loss", "val_loss": "Validation loss"}
    return (
        f"{watched.get(stopper.monitor, 'Validation score')} did not improve more than "
        f"tol={stopper.tol:f} for {stopper.n_iter_no_change} consecutive epochs. Stopping."
    )


def _report(record, last_epoch, verbose):
    """One line per epoch, as Keras prints it; a bar redrawn in place at verbose=2 on a TTY.
    ``last_epoch`` is None for a call of ``partial_fit``, which plans no further epochs."""
    if not verbose:
        return
    planned = "" if last_epoch is None else f"/{last_epoch}"
    line = (
        f"Epoch {record['epoch']}{planned} - {record['n_updates']} updates - "
        f"loss {record['loss']:.4f}"
    )
    if "val_loss" in record:
        line += f" - val_loss {record['val_loss']:.4f} - val_score {record['val_score']:.4f}"
    line += f" - {record['seconds']:.2f} s"
    if verbose >= 2 and last_epoch is not None and sys.stdout.isatty():
        done = int(30 * record["epoch"] / last_epoch)
        print(f"\r[{'=' * done}{' ' * (30 - done)}] {line}", end="", flush=True)
    else:
        print(line)


def end_report(verbose):
    """End the line of the bar that :func:`_report` redraws (verbose=2 on a terminal)."""
    if verbose >= 2 and sys.stdout.isatty():
        print()


def _diverged(epoch, config, batch_size, n_samples, restored, first_epoch, chunk):
    """Warn that training diverged in ``epoch`` (or raise, with ``on_divergence='raise'``):
    which weights are kept (``restored`` describes the best epoch's, when early stopping put
    them back; the call started after epoch ``first_epoch``; ``chunk``, when not None, is the
    number of the chunk of a pass the call trained on, where the passes stop) and what to
    try; a larger batch only when ``batch_size``, the user's for that epoch, is not already
    all ``n_samples`` rows."""
    where = f"epoch {epoch}" if chunk is None else f"epoch {epoch}, at chunk {chunk}"
    before = "the call" if chunk is None else "that chunk"
    if restored:
        kept = f"early stopping keeps {restored}"
    elif epoch > first_epoch + 1:
        kept = "the weights from the end of the last finite epoch are kept"
    elif config.on_divergence == "raise":  # the estimator restores itself, as after any error
        kept = f"the estimator is left as it was before {before}"
    elif chunk is None:
        kept = "the weights this call started from are kept"
    else:
        kept = STREAM_KEPT
    larger_batch = f"a batch_size larger than {batch_size}, " if batch_size < n_samples else ""
    message = (
        f"Training diverged in {where}: the loss or the weights are no longer finite. "
        f"Training stopped and {kept}. Try a learning_rate_init smaller than "
        f"{config.learning_rate}, {larger_batch}clip_norm to clip the gradients, or scale the "
        f"features (for example with StandardScaler)."
    )
    if config.on_divergence == "raise":
        raise DivergenceError(message)
    _warnings.warn(message, DivergenceWarning)
