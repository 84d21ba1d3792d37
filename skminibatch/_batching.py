"""Batch plans: the batch size in effect, the order of the rows in each epoch, batch counts.

All randomness of training after initialisation lives here: the trainer asks for each epoch's
row order, and the compiled epoch cuts it into consecutive batches.
"""

import warnings

import numpy as np


def effective_batch_size(batch_size, n_samples, clip):
    """The batch size used on ``n_samples`` rows: ``'full'`` means all of them.

    With ``clip`` (in ``fit``), a larger integer is clipped to ``n_samples`` with a warning, as
    scikit-learn's MLP does. Without it (in ``partial_fit``, where a chunk smaller than the batch
    size is normal when streaming) the integer is kept: the chunk is one partial batch.
    """
    if batch_size == "full":
        return n_samples
    if clip and batch_size > n_samples:
        warnings.warn(
            f"Got batch_size={batch_size} larger than the number of samples ({n_samples}); "
            f"it is clipped to {n_samples}, which is batch gradient descent.",
            UserWarning,
            stacklevel=4,
        )
        return n_samples
    return int(batch_size)


def epoch_order(n_samples, shuffle, random_state):
    """The order in which an epoch visits the rows: a fresh permutation, or 0..n-1."""
    if shuffle:
        return random_state.permutation(n_samples).astype(np.int64)
    return np.arange(n_samples, dtype=np.int64)
