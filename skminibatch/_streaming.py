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

from ._trainer import (
    TrainingInterrupted,
    _converged,
    _report,
    end_report,
    interrupted_in_stream,
    stop_message,
)
from ._validation import check_int, check_pair

# The keys of a pass's record that merge its chunks' records; any other key a chunk's record
# has (one that a callback added) is the last such chunk's value.
_MERGED_KEYS = (
    "epoch",
    "loss",
    "batch_size",
    "n_updates",
    "n_samples",
    "learning_rate",
    "batch_losses",
    "seconds",
)


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
        summed, the learning rate of its first chunk; a key that a callback added to the
        chunks' records, such as :class:`~skminibatch.NoiseScaleMonitor`'s ``noise_scale``,
        has the value of the last chunk that has it), printed as ``fit`` prints epochs when
        ``verbose`` is set.

    Raises
    ------
    ValueError
        If ``estimator`` is not one of ours, ``classes`` is given for a regressor, an item of
        ``chunks`` is not a pair ``(X_chunk, y_chunk)``, ``chunks`` yields nothing to train on,
        ``n_passes`` is not an int >= 1, or the estimator has ``early_stopping=True``.

    Notes
    -----
    The estimator's ``callbacks`` are called after every chunk, with that chunk's record.
    When one returns True, training stops after that chunk, as ``fit`` stops after the epoch
    where a callback asked: the pass's record covers its chunks up to that one, and no
    further pass runs. Training that diverges stops at the chunk that diverged, keeping the
    weights from before it; the pass's record covers the chunks before it. The
    ``DivergenceWarning`` (or, with ``on_divergence='raise'``, ``DivergenceError``) names the
    pass and the chunk.

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
    if not hasattr(estimator, "_fit_in_memory"):  # partial_fit with our options
        raise ValueError(
            f"fit_stream trains a MiniBatchMLPClassifier or MiniBatchRegressor; got {estimator!r}."
        )
    if classes is not None and not is_classifier(estimator):
        raise ValueError(f"classes is for classifiers; {estimator!r} is a regressor.")
    check_int(n_passes, "n_passes", minimum=1)
    if n_passes > 1 and not callable(chunks) and iter(chunks) is chunks:
        raise ValueError(
            "chunks is a one-shot iterator, which cannot be read for more than one pass; pass "
            "a list, a restartable iterable such as MemmapBlocks, or a function returning a "
            "fresh iterable."
        )
    train_passes(estimator, chunks, n_passes, classes)
    return estimator


def train_passes(estimator, chunks, n_passes, classes, stopper=None, weight_scale=None):
    """Up to ``n_passes`` passes of :func:`_one_pass`, printed as epochs.

    Parameters
    ----------
    estimator : MiniBatchMLPClassifier or MiniBatchRegressor
        Trained in place.
    chunks : iterable of (X_chunk, y_chunk), or callable returning one
        Iterated once per pass (called first, if callable).
    n_passes : int
        The most passes to run.
    classes : array-like or None
        All class labels, for a classifier's ``partial_fit``.
    stopper : Stopper, default=None
        Decides, after each pass, whether training converged, by the rule of ``fit``'s
        epochs (:func:`~skminibatch._trainer._converged`: the plateaus of a schedule such as
        ``learning_rate='adaptive'`` lower the rate rather than stop). None never stops.
    weight_scale : (float, float) or None, default=None
        The :func:`~skminibatch._validation.mean_one_scale` of the class weights of all the
        rows (``fit`` on a large memmap rescales them as ``fit`` in memory does); None takes
        the weights as given, as ``partial_fit`` does.

    Returns
    -------
    status : {'converged', 'stopped', 'diverged', 'max_iter'}
        How training ended, as :func:`~skminibatch._trainer.train` says it: ``stopper``
        stopped it, a callback asked to stop (after the chunk where it asked), a chunk
        diverged (the weights from before it are kept), or all ``n_passes`` ran.
    """
    verbose = estimator.verbose
    last_epoch = len(getattr(estimator, "history_", ())) + n_passes  # as fit prints "Epoch 1/10"
    estimator.set_params(verbose=0)  # the chunks' partial_fit: the passes are reported here
    try:
        for _ in range(n_passes):
            status = _report_pass(estimator, chunks, classes, weight_scale, verbose, last_epoch)
            if status != "max_iter":
                return status
            if stopper is not None:
                config = estimator._training_config(
                    len(estimator.coefs_) - 1, estimator.coefs_[0].dtype, incremental=True
                )
                if _converged(stopper, estimator.history_, None, config, estimator.n_updates_):
                    if verbose:
                        print(stop_message(stopper, config))
                    return "converged"
    except KeyboardInterrupt as interrupt:  # between passes: the passes completed are kept
        if isinstance(interrupt, TrainingInterrupted):
            raise
        history = getattr(estimator, "history_", ())
        raise TrainingInterrupted(interrupted_in_stream(history, 1, False)) from None
    finally:
        estimator.set_params(verbose=verbose)
        end_report(verbose)
    return "max_iter"


def _report_pass(estimator, chunks, classes, weight_scale, verbose, last_epoch):
    """One pass of :func:`_one_pass` over ``chunks`` (called first, if callable), printed as
    an epoch of ``last_epoch``; returns its status."""
    n_records = len(getattr(estimator, "history_", ()))
    passed = chunks() if callable(chunks) else chunks
    status = _one_pass(estimator, passed, classes, weight_scale)
    if len(estimator.history_) > n_records:  # not when the pass's first chunk diverged
        _report(estimator.history_[-1], last_epoch, verbose)
    return status


def _one_pass(estimator, chunks, classes, weight_scale=None):
    """``partial_fit`` over every chunk, then the pass's records merged into one (also when a
    chunk fails or the pass is interrupted: the chunks before it were trained on).

    Each chunk's record is taken out of ``history_`` as soon as its ``partial_fit`` returns,
    so that every chunk of a pass sees the history of the passes completed before it: the
    epoch counter of learning-rate and batch-size schedules counts passes, as ``fit``'s counts
    epochs (the update counter, kept by the estimator, counts on across chunks).

    Returns 'stopped' when a callback asked to stop after a chunk and 'diverged' when a chunk
    diverged (the pass ends there), else 'max_iter'.
    """
    started = time.perf_counter()
    records = []
    status = "max_iter"
    done = 0  # chunks whose partial_fit returned
    try:
        for number, chunk in enumerate(chunks, start=1):
            what = f"chunks must yield pairs (X_chunk, y_chunk): chunk {number} of the pass"
            check_pair(chunk, f"{what} is not one")
            n_before = len(getattr(estimator, "history_", ()))
            # partial_fit, told the chunk's number (for its messages) and how fit rescales.
            status = estimator._fit(
                *chunk,
                None,
                incremental=True,
                classes=classes,
                chunk=number,
                weight_scale=weight_scale,
            )
            records.extend(estimator.history_[n_before:])
            del estimator.history_[n_before:]
            done = number
            if status != "max_iter":
                break
    except KeyboardInterrupt as interrupt:  # outside training: while reading the next chunk
        if isinstance(interrupt, TrainingInterrupted):
            raise
        history = getattr(estimator, "history_", ())  # the chunk: being read, or checked
        raise TrainingInterrupted(interrupted_in_stream(history, done + 1, done > 0)) from None
    finally:
        _merge_records(estimator, records, started)
    if not records and status == "max_iter":
        if not done:
            raise ValueError("chunks yielded no data.")
        raise ValueError(
            f"No chunk of the pass was trained on: each of the {done} had fewer samples than "
            f"batch_size={estimator.batch_size!r}, and drop_last=True drops a partial batch. "
            f"Pass larger chunks, or drop_last=False to train on them."
        )
    return status


def _merge_records(estimator, records, started):
    """Append the records of a pass's chunks to ``history_`` as one record, if any, and set
    the fitted attributes read from the history.

    A key outside :data:`_MERGED_KEYS` (one that a callback added) takes the value of the
    last record that has it.
    """
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
    for record in records:
        merged.update((key, value) for key, value in record.items() if key not in _MERGED_KEYS)
    estimator.history_.append(merged)
    estimator.n_iter_ = len(estimator.history_)
    estimator.loss_curve_ = estimator.history_["loss"]
    estimator.loss_ = merged["loss"]
    estimator.best_loss_ = min(estimator.loss_curve_)  # no early stopping: it is refused


class MemmapBlocks:
    """Blocks of rows of arrays on disk, in a fresh shuffled order at every pass.

    Each pass visits the blocks of ``block_rows`` consecutive rows in a random order and
    shuffles the rows within each block; one block at a time is read from disk (memory grows
    by about three blocks: the block read, its shuffled copy, the chunk training). A
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
        if not isinstance(shuffle, bool | np.bool_):
            raise ValueError(f"shuffle must be a bool; got {shuffle!r}.")
        self.X = X
        self.y = y
        self.shuffle = bool(shuffle)
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
