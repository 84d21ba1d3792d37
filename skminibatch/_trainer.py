"""The training loop: for each epoch, plan the batches, run the compiled epoch, record, stop?

Python runs here once per epoch; everything per batch happens in
:func:`skminibatch._kernels.train_epoch`. This module knows nothing of scikit-learn: it takes
canonical arrays and a :class:`TrainingConfig` and updates the parameter vector in place.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np

from . import _kernels
from ._batching import effective_batch_size, epoch_order


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the loss or the weights stopped being finite."""


@dataclass(frozen=True)
class TrainingConfig:
    """Everything the training loop needs besides data and state, strings already coded."""

    activation: int
    loss: int
    huber_delta: float
    alpha: float
    solver: int
    learning_rate: float
    momentum: float
    nesterov: bool
    beta_1: float
    beta_2: float
    epsilon: float
    batch_size: object  # int or "full"
    drop_last: bool
    shuffle: bool
    verbose: int


@dataclass
class TrainingState:
    """What training changes: parameters, optimizer state and counters (plain NumPy data)."""

    theta: np.ndarray
    optimizer_state: np.ndarray
    n_updates: int = 0
    n_samples_seen: int = 0


@dataclass
class PlateauStopper:
    """scikit-learn's rule: stop when the training loss has not improved by ``tol`` for more
    than ``n_iter_no_change`` consecutive epochs. ``tol=None`` never stops."""

    tol: float
    n_iter_no_change: int
    best_loss: float = np.inf
    n_without_improvement: int = 0

    def should_stop(self, loss):
        if self.tol is None:
            return False
        if loss > self.best_loss - self.tol:
            self.n_without_improvement += 1
        else:
            self.n_without_improvement = 0
        self.best_loss = min(self.best_loss, loss)
        return self.n_without_improvement > self.n_iter_no_change


def train(X, Y, sample_weight, layer_sizes, state, config, random_state, *, incremental, history,
          max_epochs=1, stopper=None):  # fmt: skip
    """Run up to ``max_epochs`` epochs over (X, Y), appending one record per epoch to ``history``.

    ``incremental`` marks a ``partial_fit`` call: a batch size larger than the data is then one
    partial batch rather than clipped with a warning.

    X, Y and sample_weight are C-contiguous arrays of the parameters' dtype; ``state`` is
    updated in place. Returns ``"converged"`` when ``stopper`` stopped training, ``"diverged"``
    when the objective stopped being finite (the state is then restored to the end of the last
    finite epoch and a :class:`DivergenceWarning` is issued), else ``"max_iter"``.
    """
    n_samples, n_features = X.shape
    batch_size = effective_batch_size(config.batch_size, n_samples, clip=not incremental)
    batch_rows = min(batch_size, n_samples)
    chunk_rows = min(batch_rows, _kernels.CHUNK_ROWS)
    dtype = state.theta.dtype
    act_size = _kernels.activation_layout(layer_sizes, chunk_rows)[1]
    workspace = (
        np.empty(chunk_rows * n_features, dtype),
        np.empty(chunk_rows * Y.shape[1], dtype),
        np.empty(chunk_rows, dtype),
        np.empty(act_size, dtype),
        np.empty(act_size, dtype),
        np.empty(state.theta.size, dtype),
        np.empty(state.theta.size, dtype),
    )
    tiny = float(np.finfo(dtype).tiny)
    for _ in range(max_epochs):
        started = time.perf_counter()
        order = epoch_order(n_samples, config.shuffle, random_state)
        theta_before = state.theta.copy()
        optimizer_state_before = state.optimizer_state.copy()
        objective_sum, n_rows_used, step, diverged = _kernels.train_epoch(
            X,
            Y,
            sample_weight,
            order,
            batch_size,
            config.drop_last,
            state.theta,
            layer_sizes,
            config.activation,
            config.loss,
            config.huber_delta,
            config.alpha,
            config.solver,
            config.learning_rate,
            config.momentum,
            config.nesterov,
            config.beta_1,
            config.beta_2,
            config.epsilon,
            state.optimizer_state,
            state.n_updates,
            tiny,
            *workspace,
        )
        # A batch's objective is checked before its update; the last update is checked here.
        if diverged or not np.isfinite(state.theta).all():
            state.theta[:] = theta_before
            state.optimizer_state[:] = optimizer_state_before
            _warn_divergence(len(history) + 1, config)
            return "diverged"
        n_updates = int(step) - state.n_updates
        state.n_updates = int(step)
        state.n_samples_seen += n_rows_used
        loss = objective_sum / n_rows_used if n_rows_used else float("nan")
        record = {
            "epoch": len(history) + 1,
            "loss": float(loss),
            "batch_size": batch_rows,
            "n_updates": int(n_updates),
            "learning_rate": float(config.learning_rate),
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        if config.verbose:
            print(
                f"Epoch {record['epoch']} - {n_updates} batches of {batch_rows} - "
                f"loss {loss:.6f} - {record['seconds']:.3f} s"
            )
        if stopper is not None and stopper.should_stop(loss):
            return "converged"
    return "max_iter"


def _warn_divergence(epoch, config):
    batch_advice = (
        "" if config.batch_size == "full" else f" or a batch_size larger than {config.batch_size}"
    )
    warnings.warn(
        f"Training diverged in epoch {epoch}: the loss is no longer finite. Training stopped "
        f"and the weights from the end of the last finite epoch are kept. Try a "
        f"learning_rate_init smaller than {config.learning_rate}{batch_advice}, or scale the "
        f"features (for example with StandardScaler).",
        DivergenceWarning,
        stacklevel=4,
    )
