"""Training on data that does not fit in memory: passes of ``partial_fit`` over chunks.

:func:`fit_stream` trains from any iterable of ``(X_chunk, y_chunk)`` (pandas'
``read_csv(chunksize=...)``, a generator over files), several passes when it can be restarted,
with one history record per pass as ``fit`` records one per epoch. :class:`MemmapBlocks` is such
an iterable over arrays on disk: one shuffled block of rows in memory at a time.
"""

import mmap
import time

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import check_random_state

from ._trainer import _report


def fit_stream(estimator, chunks, *, n_passes=1, classes=None):
    """Train ``estimator`` with ``partial_fit`` over ``chunks``, ``n_passes`` times.

    Parameters
    ----------
    estimator : MiniBatchMLPClassifier or MiniBatchRegressor
        Trained in place (continuing from its current state if already fitted).
    chunks : iterable of (X_chunk, y_chunk), or callable returning one
        The data, chunk after chunk. For more than one pass it must be restartable: a list,
        an object whose ``__iter__`` starts again (such as :class:`MemmapBlocks`), or a
        function returning a fresh iterable (``lambda: pd.read_csv(path, chunksize=10_000)``
        mapped to pairs).
    n_passes : int, default=1
        Passes over the data: epochs.
    classes : array-like, default=None
        All class labels (classifier): required unless the estimator is already fitted.

    Returns
    -------
    estimator
        With one ``history_`` record per pass (loss averaged over samples, updates and samples
        summed), printed as ``fit`` prints epochs when ``verbose`` is set.

    Examples
    --------
    >>> import numpy as np
    >>> from skminibatch import MiniBatchRegressor, fit_stream
    >>> rng = np.random.RandomState(0)
    >>> chunks = [(rng.normal(size=(100, 3)), rng.normal(size=100)) for _ in range(4)]
    >>> reg = fit_stream(MiniBatchRegressor((5,), batch_size=10), chunks, n_passes=3)
    >>> len(reg.history_), reg.history_[-1]["n_updates"], reg.history_[-1]["n_samples"]
    (3, 40, 400)
    """
    if not (isinstance(n_passes, int) and n_passes >= 1):
        raise ValueError(f"n_passes must be an int >= 1; got {n_passes!r}.")
    if n_passes > 1 and not callable(chunks) and iter(chunks) is chunks:
        raise ValueError(
            "chunks is a one-shot iterator, which cannot be read for more than one pass; pass "
            "a list, a restartable iterable such as MemmapBlocks, or a function returning a "
            "fresh iterable."
        )
    train_passes(estimator, chunks, n_passes, classes)
    return estimator


def train_passes(estimator, chunks, n_passes, classes, stopper=None):
    """``n_passes`` passes of :func:`_one_pass`, printed as epochs; ``stopper`` (the trainer's
    :class:`~skminibatch._trainer.Stopper`) may end them early. Returns whether it did."""
    verbose = estimator.verbose
    estimator.set_params(verbose=0)
    try:
        for _ in range(n_passes):
            _one_pass(estimator, chunks() if callable(chunks) else chunks, classes)
            _report(estimator.history_[-1], estimator.history_[-1]["epoch"], verbose)
            if stopper is not None and stopper.should_stop(estimator.history_[-1], None):
                return True
    finally:
        estimator.set_params(verbose=verbose)
    return False


def _one_pass(estimator, chunks, classes):
    """partial_fit over every chunk, then the pass's records merged into one (also when a
    chunk fails or the pass is interrupted: the chunks before it were trained on)."""
    started = time.perf_counter()
    first = len(getattr(estimator, "history_", []))
    try:
        for X_chunk, y_chunk in chunks:
            if is_classifier(estimator):
                estimator.partial_fit(X_chunk, y_chunk, classes=classes)
            else:
                estimator.partial_fit(X_chunk, y_chunk)
    finally:
        _merge_records(estimator, first, started)
    if len(getattr(estimator, "history_", [])) == first:
        raise ValueError("chunks yielded no data.")


def _merge_records(estimator, first, started):
    """The records from ``history_[first]`` on (one per chunk) merged into one, if any."""
    records = getattr(estimator, "history_", [])[first:]
    if not records:
        return
    n_samples = sum(record["n_samples"] for record in records)
    merged = {
        "epoch": first + 1,
        "loss": sum(r["loss"] * r["n_samples"] for r in records) / max(n_samples, 1),
        "batch_size": max(record["batch_size"] for record in records),
        "n_updates": sum(record["n_updates"] for record in records),
        "n_samples": n_samples,
        "learning_rate": records[0]["learning_rate"],
        "seconds": time.perf_counter() - started,
    }
    del estimator.history_[first:]
    estimator.history_.append(merged)
    estimator.n_iter_ = len(estimator.history_)
    estimator.loss_curve_ = estimator.history_["loss"]
    estimator.loss_ = merged["loss"]


class MemmapBlocks:
    """Blocks of rows of arrays on disk, in a fresh shuffled order at every pass.

    Each pass visits the blocks of ``block_rows`` consecutive rows in a random order and
    shuffles the rows within each block; only one block is in memory at a time. A
    ``numpy.memmap`` is read with ordinary file reads rather than through its mapping, so the
    pages read do not stay in the process's memory; any other array-like is sliced.

    Parameters
    ----------
    X : numpy.memmap or array-like with row slicing, shape (n_samples, n_features)
        The samples, for example ``np.load(path, mmap_mode="r")``.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The targets, read block by block alike.
    block_rows : int, default=65536
        Rows per block: the rows in memory at a time.
    shuffle : bool, default=True
        Visit the blocks in a new random order at every pass and shuffle the rows within each
        block; False gives the rows in order.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling (one generator for all passes).

    Examples
    --------
    >>> import numpy as np
    >>> blocks = MemmapBlocks(np.arange(10.0)[:, None], np.arange(10), block_rows=4,
    ...                       random_state=0)
    >>> sorted(len(y) for _, y in blocks)
    [2, 4, 4]
    """

    def __init__(self, X, y, block_rows=65536, shuffle=True, random_state=None):
        if len(X) != len(y):
            raise ValueError(f"X and y have different lengths: {len(X)} and {len(y)}.")
        if not (isinstance(block_rows, int) and block_rows >= 1):
            raise ValueError(f"block_rows must be an int >= 1; got {block_rows!r}.")
        self.X = X
        self.y = y
        self.block_rows = block_rows
        self.shuffle = shuffle
        self.random_state = check_random_state(random_state)

    def __iter__(self):
        starts = np.arange(0, len(self.X), self.block_rows)
        if self.shuffle:
            starts = self.random_state.permutation(starts)
        for start in starts:
            stop = min(start + self.block_rows, len(self.X))
            X_block, y_block = _read_rows(self.X, start, stop), _read_rows(self.y, start, stop)
            if self.shuffle:
                order = self.random_state.permutation(stop - start)
                X_block, y_block = X_block[order], y_block[order]
            yield X_block, y_block


def _read_rows(array, start, stop):
    """Rows start:stop of ``array`` as an in-memory array, by file reads for a C-ordered
    memmap (its mapping would keep the pages read in the process's memory)."""
    # Only a memmap that owns its mapping starts at ``offset`` in its file (a slice does not),
    # and only a C-ordered one holds its rows one after the other there.
    if (
        isinstance(array, np.memmap)
        and isinstance(array.base, mmap.mmap)
        and array.filename
        and array.flags.c_contiguous
    ):
        row = int(np.prod(array.shape[1:], dtype=np.int64))
        with open(array.filename, "rb") as file:
            file.seek(array.offset + start * row * array.itemsize)
            flat = np.fromfile(file, dtype=array.dtype, count=(stop - start) * row)
        return flat.reshape((stop - start, *array.shape[1:]))
    return np.array(array[start:stop])
