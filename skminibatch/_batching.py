"""Batch plans: the batch size of each epoch, the order of the rows, updates per epoch.

All randomness of training after initialisation lives here: the trainer asks for each epoch's
row order (and dropout seed), and the compiled epoch cuts the order into consecutive batches.
"""

from numbers import Integral

import numpy as np

from . import _warnings

AUTO_BATCH_SIZE = 200  # batch_size='auto' is min(200, n_samples), as in scikit-learn's MLP


def epoch_batch_size(batch_size, n_samples, clip, epoch=0, history=(), warn=True):
    """The batch size of the coming epoch on ``n_samples`` rows.

    ``batch_size`` is an int, ``'full'`` (all rows), ``'auto'`` (scikit-learn's MLP's
    ``min(200, n_samples)``) or a batch-size schedule (an object with
    ``batch_size(epoch, history, n_samples)``, whose answer is checked). With ``clip`` (in
    ``fit``), an integer larger than ``n_samples`` is clipped to it, with a warning if
    ``warn``, as scikit-learn's MLP does. Without it (in ``partial_fit``, where a chunk smaller
    than the batch size is normal when streaming) the integer is kept: the chunk is one partial
    batch.
    """
    if hasattr(batch_size, "batch_size"):
        size = batch_size.batch_size(epoch, list(history), n_samples)
        if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
            raise ValueError(
                f"{type(batch_size).__name__}.batch_size(epoch={epoch}, history, "
                f"n_samples={n_samples}) returned {size!r}; a batch-size schedule must return "
                f"an int >= 1."
            )
        return min(int(size), n_samples) if clip else int(size)
    if batch_size == "full":
        return n_samples
    if batch_size == "auto":
        return min(AUTO_BATCH_SIZE, n_samples)
    if clip and batch_size > n_samples:
        if warn:
            _warnings.warn(
                f"Got batch_size={batch_size} larger than the number of samples ({n_samples}); "
                f"it is clipped to {n_samples}, which is batch gradient descent.",
                UserWarning,
            )
        return n_samples
    return int(batch_size)


def updates_per_epoch(n_samples, batch_size, drop_last, accumulate):
    """Optimizer steps in one epoch: one per ``accumulate`` batches of ``batch_size`` rows."""
    n_batches = n_samples // batch_size if drop_last else -(-n_samples // batch_size)
    return -(-n_batches // accumulate)


def epoch_order(n_samples, shuffle, random_state):
    """The order in which an epoch visits the rows: a fresh permutation, or 0..n-1.

    The kernels index X with it unchecked: a ``RandomState`` subclass's ``permutation`` is
    checked to be one (NumPy's own is, and costs no check)."""
    if not shuffle:
        return np.arange(n_samples, dtype=np.int64)
    order = np.asarray(random_state.permutation(n_samples)).astype(np.int64, copy=False)
    if type(random_state) is not np.random.RandomState and not (
        order.shape == (n_samples,)
        and np.array_equal(np.sort(order), np.arange(n_samples, dtype=np.int64))
    ):
        raise ValueError(
            f"random_state's permutation({n_samples}) did not return a permutation of "
            f"0..{n_samples - 1}: {type(random_state).__name__} is a RandomState subclass "
            f"whose permutation the training cannot use."
        )
    return order


def dropout_seed(random_state, dropout):
    """The state of the compiled dropout generator for one epoch, drawn from ``random_state``
    only when some dropout rate is positive (so that without dropout nothing else changes)."""
    seed = random_state.randint(2**63, dtype=np.uint64) if dropout.any() else 0
    return np.array([seed], dtype=np.uint64)
