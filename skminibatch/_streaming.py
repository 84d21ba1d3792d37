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
from ._validation import check_int


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
    check_int(n_passes, "n_passes", minimum=1)
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
    last_epoch = len(getattr(estimator, "history_", ())) + n_passes  # as fit prints "Epoch 1/10"
    estimator.set_params(verbose=0)
    try:
        for _ in range(n_passes):
            _one_pass(estimator, chunks() if callable(chunks) else chunks, classes)
            _report(estimator.history_[-1], last_epoch, verbose)
            if stopper is not None and stopper.should_stop(estimator.history_[-1], None):
                return True
    finally:
        estimator.set_params(verbose=verbose)
    return False


def _one_pass(estimator, chunks, classes):
    """partial_fit over every chunk, then the pass's records merged into one (also when a
    chunk fails or the pass is interrupted: the chunks before it were trained on).

    Each chunk's record is taken out of ``history_`` as soon as its ``partial_fit`` returns,
    so that every chunk of a pass sees the history of the passes completed before it: the
    epoch counter of learning-rate and batch-size schedules counts passes, as ``fit``'s counts
    epochs (the update counter, kept by the estimator, counts on across chunks).
    """
    started = time.perf_counter()
    records = []
    try:
        for X_chunk, y_chunk in chunks:
            n_before = len(getattr(estimator, "history_", ()))
            if is_classifier(estimator):
                estimator.partial_fit(X_chunk, y_chunk, classes=classes)
            else:
                estimator.partial_fit(X_chunk, y_chunk)
            records.extend(estimator.history_[n_before:])
            del estimator.history_[n_before:]
    finally:
        _merge_records(estimator, records, started)
    if not records:
        raise ValueError("chunks yielded no data.")


def _merge_records(estimator, records, started):
    """Append the records of a pass's chunks to ``history_`` as one record, if any, and set
    the fitted attributes read from the history."""
    if not records:
        return
    n_samples = sum(record["n_samples"] for record in records)
    merged = {
        "epoch": len(estimator.history_) + 1,
        "loss": sum(r["loss"] * r["n_samples"] for r in records) / max(n_samples, 1),
        "batch_size": max(record["batch_size"] for record in records),
        "n_updates": sum(record["n_updates"] for record in records),
        "n_samples": n_samples,
        "learning_rate": records[0]["learning_rate"],
    }
    if all("batch_losses" in record for record in records):
        merged["batch_losses"] = [loss for record in records for loss in record["batch_losses"]]
    merged["seconds"] = time.perf_counter() - started
    estimator.history_.append(merged)
    estimator.n_iter_ = len(estimator.history_)
    estimator.loss_curve_ = estimator.history_["loss"]
    estimator.loss_ = merged["loss"]
    estimator.best_loss_ = None if estimator.early_stopping else min(estimator.loss_curve_)


class MemmapBlocks:
    """Blocks of rows of arrays on disk, in a fresh shuffled order at every pass.

    Each pass visits the blocks of ``block_rows`` consecutive rows in a random order and
    shuffles the rows within each block; only one block is in memory at a time. A
    ``numpy.memmap`` opened in mode ``'r'``, ``'r+'`` or ``'w+'`` is read with ordinary file
    reads rather than through its mapping, so the pages read do not stay in the process's
    memory; any other array-like is sliced, including a copy-on-write memmap (mode ``'c'``),
    whose edits are in memory, not in its file.

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
        self.block_rows = check_int(block_rows, "block_rows", minimum=1)
        self.X = X
        self.y = y
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


def shares_file_pages(array):
    """Whether ``array`` is a ``numpy.memmap`` (or a view of one) whose data are its file's.

    Parameters
    ----------
    array : object
        Any object; only a ``numpy.memmap`` can qualify.

    Returns
    -------
    bool
        True for a mapping opened in mode ``'r'``, ``'r+'`` or ``'w+'``, shared with the file:
        writes through it are in the file's pages at once, which file reads see even before
        a flush. False for a copy-on-write mapping (mode ``'c'``: edits stay in the process)
        and for a copy of a memmap (its mode is None), whose data may differ from the file.
    """
    return isinstance(array, np.memmap) and array.mode in ("r", "r+", "w+")


def _read_rows(array, start, stop):
    """Rows start:stop of ``array`` as an in-memory array, by file reads for a C-ordered
    memmap whose data are its file's (its mapping would keep the pages read in the process's
    memory)."""
    # Only a memmap that owns its mapping starts at ``offset`` in its file (a slice does not),
    # and only a C-ordered one holds its rows one after the other there.
    if (
        shares_file_pages(array)
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
