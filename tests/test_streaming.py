"""Out of core: passes of partial_fit over chunks, and shuffled blocks read from disk."""

import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_regression
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import SGDRegressor

from skminibatch import (
    DivergenceError,
    DivergenceWarning,
    MemmapBlocks,
    MiniBatchMLPClassifier,
    MiniBatchRegressor,
    NoiseScaleMonitor,
    _estimators,
    _streaming,
    fit_stream,
)
from skminibatch._streaming import shares_file_pages
from skminibatch.schedules import (
    Cosine,
    ExponentialDecay,
    GrowBatchSize,
    ReduceOnPlateau,
    StepDecay,
)


def test_one_pass_over_chunks_is_one_epoch_of_fit_and_records_one_entry_per_pass():
    X, y = make_blobs(n_samples=240, centers=3, random_state=0)
    params = dict(hidden_layer_sizes=(6,), batch_size=8, shuffle=False, random_state=0)
    chunks = [(X[i : i + 80], y[i : i + 80]) for i in range(0, 240, 80)]
    streamed = fit_stream(MiniBatchMLPClassifier(**params), chunks, classes=[0, 1, 2])
    fitted = MiniBatchMLPClassifier(max_iter=1, tol=None, **params).fit(X, y)
    np.testing.assert_array_equal(streamed.coefs_[0], fitted.coefs_[0])
    record = streamed.history_[0]
    assert len(streamed.history_) == streamed.n_iter_ == 1
    assert record["n_updates"] == 30 and record["n_samples"] == 240
    np.testing.assert_allclose(record["loss"], fitted.history_[0]["loss"], rtol=1e-12)
    fit_stream(streamed, lambda: iter(chunks), n_passes=2)  # a callable restarts the stream
    assert streamed.history_["epoch"] == [1, 2, 3] and streamed.n_updates_ == 90


def test_a_one_shot_iterator_cannot_make_several_passes():
    X, y = np.ones((10, 2)), np.ones(10)
    with pytest.raises(ValueError, match="one-shot iterator"):
        fit_stream(MiniBatchRegressor(), iter([(X, y)]), n_passes=2)


def test_memmap_blocks_visit_every_row_once_per_pass_in_a_new_order(tmp_path):
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", shape=(1000, 3))
    X[:] = np.arange(3000).reshape(1000, 3)
    X.flush()
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    blocks = MemmapBlocks(X, np.arange(1000), block_rows=128, random_state=0)
    orders = []
    for _ in range(2):
        pieces = list(blocks)
        assert max(len(y) for _, y in pieces) == 128
        for X_block, y_block in pieces:  # rows stay with their targets
            np.testing.assert_array_equal(X_block[:, 0], 3 * y_block)
        order = np.concatenate([y for _, y in pieces])
        assert sorted(order) == list(range(1000))
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])
    # A slice of a memmap is read correctly too (through slicing, not file offsets), and so
    # is a Fortran-ordered file (its rows are not one after the other on disk).
    part = MemmapBlocks(X[500:], np.arange(500, 1000), block_rows=100, shuffle=False)
    np.testing.assert_array_equal(next(iter(part))[0], X[500:600])
    np.save(tmp_path / "F.npy", np.asfortranarray(np.arange(3000.0).reshape(1000, 3)))
    F = np.load(tmp_path / "F.npy", mmap_mode="r")
    assert F.flags.f_contiguous and not F.flags.c_contiguous
    first = next(iter(MemmapBlocks(F, np.arange(1000), block_rows=100, shuffle=False)))[0]
    np.testing.assert_array_equal(first, np.arange(300.0).reshape(100, 3))


def test_an_interrupted_pass_keeps_one_record_of_the_chunks_it_trained_on():
    X, y = make_blobs(n_samples=90, centers=3, random_state=0)
    chunks = [(X[i : i + 30], y[i : i + 30]) for i in range(0, 90, 30)]

    def interrupted():
        yield chunks[0]
        yield chunks[1]
        raise KeyboardInterrupt

    clf = MiniBatchMLPClassifier((4,), batch_size=10, random_state=0)
    fit_stream(clf, chunks, classes=[0, 1, 2])
    with pytest.raises(KeyboardInterrupt):
        fit_stream(clf, interrupted)
    assert clf.history_["n_samples"] == [90, 60] and clf.n_iter_ == 2
    assert clf.history_["epoch"] == [1, 2] and clf.n_updates_ == 15


@pytest.mark.parametrize("how", ["fit_stream", "fit"])
def test_training_on_a_memmap_keeps_memory_bounded_by_the_block(tmp_path, how, subprocess_env):
    """A 320 MB file, blocks of 8 MB (64 MB in fit): the peak memory of a fresh process grows
    by far less than the file (measured: about 25 MB; reading through the mapping, 330 MB)."""
    path = tmp_path / "big.npy"
    rows, cols = 320_000, 250
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, cols))
    for start in range(0, rows, 20_000):
        X[start : start + 20_000] = np.random.RandomState(start).normal(size=(20_000, cols))
    X.flush()
    del X
    code = textwrap.dedent(
        f"""
        import resource
        import numpy as np
        from skminibatch import MemmapBlocks, MiniBatchRegressor, fit_stream
        X = np.load({str(path)!r}, mmap_mode="r")
        y = np.zeros(len(X), dtype=np.float32)
        reg = MiniBatchRegressor((8,), batch_size=256, random_state=0)
        reg.partial_fit(np.zeros((2, X.shape[1]), np.float32), np.zeros(2, np.float32))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if {how!r} == "fit":
            reg.set_params(max_iter=1, tol=None).fit(X, y)
        else:
            fit_stream(reg, MemmapBlocks(X, y, block_rows=8_000, random_state=0))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(reg.history_[-1]["n_samples"], (after - before) // 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env
    )
    assert done.returncode == 0, done.stderr
    n_samples, growth_mb = map(int, done.stdout.split())
    assert n_samples == rows
    assert growth_mb < 150, f"peak memory grew by {growth_mb} MB for a 320 MB file"


def test_fit_on_a_memmap_within_a_block_or_from_joblib_trains_as_on_the_array(
    tmp_path, monkeypatch
):
    """Only a memmap of a file larger than a block is read block by block: a smaller one, a
    copy, or one through which joblib hands an in-memory array to a worker process (any size:
    joblib does so for arrays over 1 MB) trains exactly as the array, sample weights and early
    stopping included."""
    from joblib import Parallel, delayed
    from sklearn.base import clone

    X, y = make_blobs(n_samples=3000, n_features=50, centers=3, random_state=0)  # 1.2 MB
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    np.save(tmp_path / "X.npy", X)
    clf = MiniBatchMLPClassifier((6,), max_iter=3, early_stopping=True, random_state=0)

    def weights_of(X_given):
        return clone(clf).fit(X_given, y, sample_weight=weights).coefs_

    def joblib_folder_and_weights(X_given):
        return _estimators.JOBLIB_MEMMAP_FOLDER in X_given.filename, weights_of(X_given)

    expected = weights_of(X)
    on_disk = np.load(tmp_path / "X.npy", mmap_mode="r")
    from_joblib = Parallel(n_jobs=2, max_nbytes="1M")(
        delayed(joblib_folder_and_weights)(X) for _ in range(2)
    )
    assert all(named for named, _ in from_joblib)  # joblib still names its folders so
    for coefs in [weights_of(on_disk), *(coefs for _, coefs in from_joblib)]:
        for a, b in zip(coefs, expected, strict=True):
            np.testing.assert_array_equal(a, b)
    # Over the block size, the user's memmap is read in blocks (which take no sample weights),
    # but not a copy of it, nor one in a folder of joblib's.
    monkeypatch.setattr(_estimators, "BLOCK_BYTES", 1 << 20)
    with pytest.raises(ValueError, match="block by block"):
        weights_of(on_disk)
    assert _estimators.reads_in_blocks(on_disk)
    assert _estimators.reads_in_blocks(on_disk[1:])
    assert not _estimators.reads_in_blocks(on_disk.copy())
    with tempfile.TemporaryFile() as unnamed:  # a file without a name is still on disk
        assert _estimators.reads_in_blocks(np.memmap(unnamed, mode="w+", shape=(1 << 21,)))
    folder = tmp_path / f"{_estimators.JOBLIB_MEMMAP_FOLDER}1_2_3"
    folder.mkdir()
    np.save(folder / "X.npy", X)
    assert not _estimators.reads_in_blocks(np.load(folder / "X.npy", mmap_mode="r"))


class RecordLog:
    """A callback keeping each epoch's (each chunk's, when streaming) record."""

    def __init__(self):
        self.records = []

    def on_epoch_end(self, estimator, record):
        self.records.append(dict(record))


@pytest.mark.parametrize(
    "schedule, multiplier",
    [
        (StepDecay(step_size=1, gamma=0.5), lambda p: 0.5**p),
        (ExponentialDecay(gamma=0.8), lambda p: 0.8**p),
        (Cosine(period=3), lambda p: (1 + np.cos(np.pi * p / 3)) / 2),
    ],
)
def test_epoch_schedules_count_passes_not_chunks(schedule, multiplier):
    """Every chunk of pass p (0-based) runs at the rate of epoch p, in closed form."""
    rng = np.random.RandomState(0)
    chunks = [(rng.normal(size=(40, 3)), rng.normal(size=40)) for _ in range(4)]
    log = RecordLog()
    reg = MiniBatchRegressor(
        (5,), learning_rate_init=0.1, learning_rate=schedule, callbacks=[log], random_state=0
    )
    fit_stream(reg, chunks, n_passes=3)
    expected = [0.1 * multiplier(p) for p in range(3) for _ in chunks]
    np.testing.assert_allclose([r["learning_rate"] for r in log.records], expected, rtol=1e-15)
    assert [r["epoch"] for r in log.records] == [p + 1 for p in range(3) for _ in chunks]
    np.testing.assert_allclose(reg.history_["learning_rate"], expected[::4], rtol=1e-15)


def test_update_schedules_count_updates_across_chunks_and_schedules_see_pass_records():
    seen = []

    class Spy(StepDecay):
        def multipliers(self, steps, epoch, history):
            seen.append((epoch, [record["epoch"] for record in history]))
            return super().multipliers(steps, epoch, history)

    rng = np.random.RandomState(0)
    chunks = [(rng.normal(size=(30, 3)), rng.normal(size=30)) for _ in range(3)]
    log = RecordLog()
    schedule = Spy(step_size=4, gamma=0.5, per="update")
    reg = MiniBatchRegressor(
        (5,), batch_size=10, learning_rate_init=0.1, learning_rate=schedule, callbacks=[log]
    )
    fit_stream(reg, chunks, n_passes=2)
    # Three updates per chunk: chunk k starts at update 3k, whatever the pass.
    expected = [0.1 * 0.5 ** (3 * k // 4) for k in range(6)]
    np.testing.assert_allclose([r["learning_rate"] for r in log.records], expected, rtol=1e-15)
    assert seen == [(0, [])] * 3 + [(1, [1])] * 3
    assert reg.n_updates_ == 18 and reg.history_["n_updates"] == [9, 9]


@pytest.mark.parametrize("how", ["fit_stream", "fit on a large memmap"])
def test_passes_over_chunks_train_as_epochs_of_fit(tmp_path, monkeypatch, how):
    """Without shuffling, passes over chunks of whole batches are fit's epochs: the same
    weights (bit for bit) and records, with schedules that read the epoch and the history
    (a batch size growing per epoch, scikit-learn's 'invscaling' counting the samples of the
    records), and best_loss_ the lowest epoch loss."""

    X, y = make_regression(n_samples=3072, n_features=4, noise=1.0, random_state=0)
    params = dict(
        hidden_layer_sizes=(5,),
        batch_size=GrowBatchSize(initial=8, factor=2, epochs=(1, 2)),
        learning_rate="invscaling",
        learning_rate_init=0.05,
        shuffle=False,
        record_batches=True,
        random_state=0,
    )
    fitted = MiniBatchRegressor(max_iter=3, tol=None, **params).fit(X, y)
    if how == "fit_stream":
        chunks = [(X[i : i + 1024], y[i : i + 1024]) for i in range(0, 3072, 1024)]
        streamed = fit_stream(MiniBatchRegressor(**params), chunks, n_passes=3)
    else:  # blocks of 1024 rows, the fewest fit reads
        np.save(tmp_path / "X.npy", X)
        monkeypatch.setattr(_estimators, "BLOCK_BYTES", 1)
        streamed = MiniBatchRegressor(max_iter=3, tol=None, **params)
        streamed.fit(np.load(tmp_path / "X.npy", mmap_mode="r"), y)
    pairs = zip(
        streamed.coefs_ + streamed.intercepts_, fitted.coefs_ + fitted.intercepts_, strict=True
    )
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)
    for key in ["epoch", "batch_size", "n_updates", "n_samples", "learning_rate"]:
        assert streamed.history_[key] == fitted.history_[key], key
    assert streamed.history_["batch_size"] == [8, 16, 32]
    assert streamed.history_["batch_losses"] == fitted.history_["batch_losses"]
    np.testing.assert_allclose(streamed.loss_curve_, fitted.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(streamed.best_loss_, fitted.best_loss_, rtol=1e-12)
    assert streamed.n_iter_ == 3 and streamed.loss_ == streamed.loss_curve_[-1]


def test_best_loss_is_the_lowest_pass_loss_or_none_with_early_stopping():
    rng = np.random.RandomState(0)
    # Chunks of very different losses: a single chunk's loss is far below any pass's.
    chunks = [(rng.normal(size=(50, 3)), rng.normal(size=50) * s) for s in (0.1, 3.0) * 2]
    log = RecordLog()
    reg = fit_stream(MiniBatchRegressor((5,), callbacks=[log], random_state=0), chunks, n_passes=3)
    pass_losses = [  # each pass's loss: its chunks' losses weighted by their samples
        sum(r["loss"] * r["n_samples"] for r in log.records[p : p + 4]) / 200
        for p in range(0, 12, 4)
    ]
    np.testing.assert_allclose(reg.best_loss_, min(pass_losses), rtol=1e-12)
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert reg.best_loss_ > 2 * min(r["loss"] for r in log.records)
    stopping = MiniBatchRegressor((5,), early_stopping=True, random_state=0)
    with pytest.raises(ValueError, match=r"^fit_stream does not support early_stopping=True"):
        fit_stream(stopping, chunks, n_passes=2)
    assert not hasattr(stopping, "coefs_")


def test_an_interruption_inside_a_chunk_keeps_the_chunks_before_it_as_one_record():
    X, y = make_blobs(n_samples=90, centers=3, random_state=0)
    chunks = [(X[i : i + 30], y[i : i + 30]) for i in range(0, 90, 30)]

    class InterruptSecondChunkOfPassTwo:
        calls = 0

        def on_epoch_end(self, estimator, record):
            self.calls += 1
            if self.calls == 5:
                raise KeyboardInterrupt

    clf = MiniBatchMLPClassifier((4,), batch_size=10, random_state=0)
    clf.set_params(callbacks=[InterruptSecondChunkOfPassTwo()])
    message = "in pass 2, at chunk 2: the weights from before that chunk are kept, with the"
    with pytest.raises(KeyboardInterrupt, match=message):
        fit_stream(clf, chunks, n_passes=2, classes=[0, 1, 2])
    assert clf.history_["n_samples"] == [90, 30] and clf.history_["epoch"] == [1, 2]
    assert clf.n_iter_ == 2 and clf.n_updates_ == 12
    assert clf.loss_curve_ == clf.history_["loss"] and clf.best_loss_ == min(clf.loss_curve_)
    reference = MiniBatchMLPClassifier((4,), batch_size=10, random_state=0)
    for X_chunk, y_chunk in [*chunks, chunks[0]]:  # the chunks trained before the interruption
        reference.partial_fit(X_chunk, y_chunk, classes=[0, 1, 2])
    for a, b in zip(clf.coefs_, reference.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("how", ["fit_stream", "fit on a large memmap"])
@pytest.mark.parametrize(
    ("where", "n_passes_kept", "message"),
    [
        ("first read", 0, ": the estimator is left as it was.$"),
        ("read in pass 3", 2, "in pass 3, at chunk 1: the weights from before that chunk"),
        ("between passes 2 and 3", 2, "in pass 3, at chunk 1: the weights from before that"),
    ],
)
def test_ctrl_c_outside_training_keeps_the_passes_before_it(
    tmp_path, monkeypatch, how, where, n_passes_kept, message
):
    """Reading a block from disk is a large share of a block-mode fit: Ctrl-C there, or
    between passes (here while a pass is printed), keeps the completed passes, as during
    training, instead of undoing the whole call; before any, nothing is trained. The
    reference: fit in memory for as many epochs (one block, no shuffling: the same batches)."""
    X, y = make_regression(n_samples=1024, n_features=3, random_state=0)
    params = dict(hidden_layer_sizes=(3,), shuffle=False, max_iter=5, tol=None, random_state=0)
    calls = []

    def interrupt_at(call, function):  # Ctrl-C at the given call of function
        def interrupted(*args):
            calls.append(function.__name__)
            if calls.count(function.__name__) == call:
                raise KeyboardInterrupt
            return function(*args)

        return interrupted

    if where == "between passes 2 and 3":
        monkeypatch.setattr(_streaming, "_report", interrupt_at(2, _streaming._report))
    else:  # X and y of one block per pass
        call = 1 if where == "first read" else 2 * 2 + 1
        monkeypatch.setattr(_streaming, "_read_rows", interrupt_at(call, _streaming._read_rows))
    estimator = MiniBatchRegressor(**params)
    with pytest.raises(KeyboardInterrupt, match=message):
        if how == "fit_stream":
            fit_stream(estimator, MemmapBlocks(X, y, block_rows=1024, shuffle=False), n_passes=5)
        else:
            np.save(tmp_path / "X.npy", X)
            monkeypatch.setattr(_estimators, "BLOCK_BYTES", 1)
            estimator.fit(np.load(tmp_path / "X.npy", mmap_mode="r"), y)
    if not n_passes_kept:
        assert not hasattr(estimator, "coefs_") and not hasattr(estimator, "history_")
        return
    reference = MiniBatchRegressor(**dict(params, max_iter=n_passes_kept)).fit(X, y)
    assert estimator.n_iter_ == n_passes_kept
    for a, b in zip(estimator.coefs_, reference.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_memmap_blocks_read_the_data_a_copy_on_write_memmap_holds(tmp_path, monkeypatch):
    """Edits through a copy-on-write mapping are not in the file: such a memmap is sliced,
    while a shared one is read from its file, which holds its writes even unflushed."""

    np.save(tmp_path / "X.npy", np.arange(3000.0).reshape(1500, 2))
    X = np.load(tmp_path / "X.npy", mmap_mode="c")
    X -= X.mean(axis=0)  # centred in memory only
    y = np.arange(1500.0)
    blocks = MemmapBlocks(X, y, block_rows=400, shuffle=False)
    np.testing.assert_array_equal(np.vstack([X_block for X_block, _ in blocks]), X)
    shared = np.load(tmp_path / "X.npy", mmap_mode="r+")
    shared[:] = 7.0  # not flushed
    assert shares_file_pages(shared)
    blocks = MemmapBlocks(shared, y, block_rows=400, shuffle=False)
    assert all((X_block == 7.0).all() for X_block, _ in blocks)
    modes = {
        "r": np.load(tmp_path / "X.npy", mmap_mode="r"),
        "w+": np.memmap(tmp_path / "w.dat", mode="w+", shape=(4, 2)),
        "view": shared[10:],
        "c": X,
        "copy": shared.copy(),
        "array": np.zeros(3),
    }
    assert {name for name, a in modes.items() if shares_file_pages(a)} == {"r", "w+", "view"}
    # fit reads a large memmap by blocks: those of the edited data, not of the file.
    np.save(tmp_path / "centred.npy", X)
    monkeypatch.setattr(_estimators, "BLOCK_BYTES", 1)
    reg = MiniBatchRegressor((3,), max_iter=2, tol=None, random_state=0)
    on_file = reg.fit(np.load(tmp_path / "centred.npy", mmap_mode="r"), y).coefs_
    for a, b in zip(reg.fit(X, y).coefs_, on_file, strict=True):
        np.testing.assert_array_equal(a, b)


def test_counts_may_be_numpy_integers_but_not_bools():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    params = dict(hidden_layer_sizes=(3,), random_state=0)
    twice = fit_stream(MiniBatchRegressor(**params), [(X, y)], n_passes=np.int64(2))
    reference = fit_stream(MiniBatchRegressor(**params), [(X, y)], n_passes=2)
    np.testing.assert_array_equal(twice.coefs_[0], reference.coefs_[0])
    blocks = MemmapBlocks(X, y, block_rows=np.int32(4), shuffle=False)
    assert [len(y_block) for _, y_block in blocks] == [4, 4, 2]
    for bad in [True, 0, 1.0, "2", 2**63]:
        with pytest.raises(ValueError, match=f"n_passes must be .*got {bad!r}"):
            fit_stream(MiniBatchRegressor(), [(X, y)], n_passes=bad)
        with pytest.raises(ValueError, match=f"block_rows must be .*got {bad!r}"):
            MemmapBlocks(X, y, block_rows=bad)


def test_what_fit_stream_and_memmap_blocks_cannot_use_is_refused_by_name():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    with pytest.raises(ValueError, match=r"^fit_stream trains a MiniBatchMLPClassifier or"):
        fit_stream(SGDRegressor(), [(X, y)])  # a TypeError from inside before
    with pytest.raises(ValueError, match=r"^classes is for classifiers"):
        fit_stream(MiniBatchRegressor(), [(X, y)], classes=[0, 1])
    with pytest.raises(ValueError, match=r"^shuffle must be a bool; got 'no'"):
        MemmapBlocks(X, y, shuffle="no")  # truthy: it shuffled


def test_passes_are_printed_out_of_the_epochs_of_the_call(capsys):
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    reg = MiniBatchRegressor((3,), verbose=1, random_state=0)
    fit_stream(reg, [(X, y)], n_passes=2)
    fit_stream(reg, [(X, y)], n_passes=2)
    printed = [line.split(" - ")[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == ["Epoch 1/2", "Epoch 2/2", "Epoch 3/4", "Epoch 4/4"]


@pytest.mark.parametrize(
    "target", ["multilabel", "column", "class_weight", "balanced", "balanced multilabel"]
)
def test_fit_on_a_large_memmap_takes_every_kind_of_classification_target(
    tmp_path, monkeypatch, target
):
    """Its first block's partial_fit needs all the classes: label columns for multilabel
    targets, the labels of a column y; class weights are rescaled to mean 1 over all the rows,
    as fit does (not per block, as partial_fit would not), and 'balanced' weighs by the
    frequencies over all the rows. The reference: fit on the array in memory, whose batches
    are those of the blocks (1,024 rows each, in order)."""
    X, labels = make_blobs(2100, centers=3, random_state=0)
    labels[:1024] = np.where(
        labels[:1024] == 2, 0, labels[:1024]
    )  # the blocks' frequencies differ
    multilabel = np.c_[np.eye(3, dtype=int)[labels], labels == 0]
    y = {"column": labels[:, None]}.get(target, multilabel if "multilabel" in target else labels)
    np.save(tmp_path / "X.npy", X)
    monkeypatch.setattr(_estimators, "BLOCK_BYTES", 1)
    params = dict(hidden_layer_sizes=(4,), batch_size=32, max_iter=2, tol=None, shuffle=False)
    params["random_state"] = 0
    if target == "class_weight":
        params["class_weight"] = {0: 5.0, 1: 15.0, 2: 2.5}
    elif target.startswith("balanced"):  # weighed by the frequencies over all the rows
        params["class_weight"] = "balanced"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataConversionWarning)  # a column y, as in scikit-learn
        blocks = MiniBatchMLPClassifier(**params).fit(np.load(tmp_path / "X.npy", "r"), y)
        in_memory = MiniBatchMLPClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(blocks.classes_, in_memory.classes_)
    for a, b in zip(blocks.coefs_, in_memory.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert blocks.class_weight == params.get("class_weight")  # the parameter as given


def test_fit_on_a_large_memmap_refuses_a_batch_that_drop_last_would_drop_in_every_block(
    tmp_path, monkeypatch
):
    X, y = make_blobs(1100, centers=3, random_state=0)
    np.save(tmp_path / "X.npy", X)
    monkeypatch.setattr(_estimators, "BLOCK_BYTES", 1)  # blocks of 1,024 rows
    clf = MiniBatchMLPClassifier((4,), batch_size=1025, drop_last=True, max_iter=1, tol=None)
    with pytest.raises(ValueError, match=r"blocks of 1024 rows, and drop_last=True would drop"):
        clf.fit(np.load(tmp_path / "X.npy", mmap_mode="r"), y)
    assert not hasattr(clf, "coefs_")
    clf.set_params(batch_size=1024).fit(np.load(tmp_path / "X.npy", mmap_mode="r"), y)
    assert clf.history_[-1]["n_samples"] == 1024  # the 76 rows of the last block are dropped


def test_chunks_that_are_not_pairs_are_refused_naming_chunks():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    cases = [
        ([X], "ndarray of 10 items"),
        ([(X, y, y)], "tuple of 3 items"),
        ([3], "int"),
    ]
    for chunks, got in cases:
        reg = MiniBatchRegressor((3,))
        message = r"^chunks must yield pairs \(X_chunk, y_chunk\): chunk 1 of the pass is not one"
        with pytest.raises(ValueError, match=rf"{message}; got a {got}\.$"):
            fit_stream(reg, chunks)
        assert not hasattr(reg, "coefs_")
    # A bad item after good ones: the chunks before it were trained on, as in one record.
    reg = MiniBatchRegressor((3,), random_state=0)
    with pytest.raises(ValueError, match="chunk 2 of the pass is not one; got a ndarray"):
        fit_stream(reg, [(X, y), X])
    assert reg.history_["n_samples"] == [10]


def streaming_problem():
    """3072 rows: three chunks (or blocks, the fewest fit reads) of 1024."""
    X, y = make_regression(n_samples=3072, n_features=4, noise=1.0, random_state=0)
    return X, y / y.std(), [(X[i : i + 1024], y[i : i + 1024] / y.std()) for i in (0, 1024, 2048)]


def train_by_passes(how, estimator, n_passes, tmp_path, monkeypatch):
    """``n_passes`` passes over the chunks of :func:`streaming_problem`: ``fit_stream``, or
    ``fit`` on the data as a memmap larger than a block."""
    X, y, chunks = streaming_problem()
    if how == "fit_stream":
        return fit_stream(estimator, chunks, n_passes=n_passes)
    np.save(tmp_path / "X.npy", X)
    monkeypatch.setattr(_estimators, "BLOCK_BYTES", 1)
    estimator.set_params(max_iter=n_passes)
    return estimator.fit(np.load(tmp_path / "X.npy", mmap_mode="r"), y)


class StopAtCall:
    """A callback asking to stop at its ``n``-th call, counting its calls."""

    def __init__(self, n):
        self.n = n
        self.calls = 0

    def on_epoch_end(self, estimator, record):
        self.calls += 1
        return self.calls == self.n


@pytest.mark.parametrize("how", ["fit_stream", "fit on a large memmap"])
def test_a_callback_asking_to_stop_ends_the_passes_after_that_chunk(tmp_path, monkeypatch, how):
    """Asked at the second chunk of the second pass, training stops there: the weights are
    those of partial_fit over chunks 1, 2, 3, 1, 2, the second pass's record covers two
    chunks, and no convergence warning is issued (fit stopped as asked)."""
    params = dict(hidden_layer_sizes=(5,), batch_size=64, shuffle=False, random_state=0)
    callback = StopAtCall(5)
    estimator = MiniBatchRegressor(callbacks=[callback], tol=1e-4, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_by_passes(how, estimator, 4, tmp_path, monkeypatch)
    _, _, chunks = streaming_problem()
    reference = MiniBatchRegressor(**params)
    for X_chunk, y_chunk in [*chunks, *chunks[:2]]:
        reference.partial_fit(X_chunk, y_chunk)
    for a, b in zip(
        estimator.coefs_ + estimator.intercepts_,
        reference.coefs_ + reference.intercepts_,
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert callback.calls == 5
    assert estimator.history_["n_samples"] == [3072, 2048] and estimator.n_iter_ == 2
    assert estimator.n_updates_ == reference.n_updates_ == 80


class ExplodeAtEpoch:
    """A learning-rate schedule multiplying the rate by 1e12 in epoch ``epoch`` (0-based)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def multipliers(self, steps, epoch, history):
        return np.full(len(steps), 1e12 if epoch == self.epoch else 1.0)


@pytest.mark.parametrize("on_divergence", ["warn", "raise"])
@pytest.mark.parametrize("how", ["fit_stream", "fit on a large memmap"])
def test_a_diverging_chunk_stops_the_passes_keeping_the_weights_before_it(
    tmp_path, monkeypatch, how, on_divergence
):
    """The rate explodes in the second pass, whose first chunk diverges: training stops
    there with the weights of the first pass, those of one epoch of fit, and the message
    says so."""
    params = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate=ExplodeAtEpoch(1),
        learning_rate_init=0.01,
        batch_size=64,
        shuffle=False,
        tol=None,
        on_divergence=on_divergence,
        random_state=0,
    )
    X, y, _ = streaming_problem()
    one_epoch = MiniBatchRegressor(max_iter=1, **params).fit(X, y)
    estimator = MiniBatchRegressor(**params)
    if on_divergence == "warn":
        with pytest.warns(DivergenceWarning) as caught:
            train_by_passes(how, estimator, 3, tmp_path, monkeypatch)
        assert [w.category for w in caught] == [DivergenceWarning]  # no ConvergenceWarning
        message = str(caught[0].message)
        kept = "the weights from before that chunk are kept, with the passes and chunks before it."
    else:
        with pytest.raises(DivergenceError) as caught:
            train_by_passes(how, estimator, 3, tmp_path, monkeypatch)
        message = str(caught.value)
        kept = "the estimator is left as it was before that chunk."
    assert message.startswith("Training diverged in epoch 2, at chunk 1: ")
    assert f"Training stopped and {kept}" in message
    pairs = zip(
        estimator.coefs_ + estimator.intercepts_,
        one_epoch.coefs_ + one_epoch.intercepts_,
        strict=True,
    )
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)
    assert estimator.history_["n_samples"] == [3072] and estimator.n_iter_ == 1
    assert estimator.n_updates_ == 48 and estimator.t_ == 3072
    assert estimator.loss_curve_ == [estimator.loss_]  # a pass's loss is averaged over chunks
    np.testing.assert_allclose(estimator.loss_curve_, one_epoch.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("on_divergence", ["warn", "raise"])
def test_a_chunk_diverging_within_a_pass_keeps_the_chunks_before_it_as_the_last_record(
    on_divergence,
):
    """The second chunk's features are 1e4 times larger and diverge: the passes stop, the
    first chunk's training kept as the pass's record, whether the error is raised or not."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    chunks = [(X, y), (X * 1e4, y * 1e8), (X, y)]
    params = dict(
        hidden_layer_sizes=(),
        solver="sgd",
        learning_rate_init=0.01,
        batch_size=1,
        on_divergence=on_divergence,
        random_state=0,
    )
    reg = MiniBatchRegressor(**params)
    message = "Training diverged in epoch 1, at chunk 2: .* Training stopped and the " + (
        "estimator is left as it was before that chunk."
        if on_divergence == "raise"
        else "weights from before that chunk are kept, with the passes and chunks before it."
    )
    with (
        pytest.raises(DivergenceError, match=message)
        if on_divergence == "raise"
        else pytest.warns(DivergenceWarning, match=message)
    ):
        fit_stream(reg, chunks, n_passes=2)
    reference = MiniBatchRegressor(**params).partial_fit(X, y)  # the first chunk only
    np.testing.assert_array_equal(reg.coefs_[0], reference.coefs_[0])
    assert reg.history_["n_samples"] == [40] and reg.n_iter_ == 1 and reg.t_ == 40
    assert reg.loss_curve_ == [reg.loss_] == [reg.best_loss_]
    np.testing.assert_allclose(reg.loss_, reference.loss_, rtol=1e-12)


@pytest.mark.parametrize(
    "learning_rate", ["adaptive", ReduceOnPlateau(patience=1, threshold=10.0)]
)
def test_fit_on_a_large_memmap_lowers_the_rate_on_plateaus_as_fit_does(
    tmp_path, monkeypatch, learning_rate
):
    """A plateau lowers the rate instead of stopping, until the rate is at most 1e-6: the
    epochs and rates of fit in memory (the same weights: no shuffling, whole batches).
    Only the first epoch improves on the best by tol=10: with patience 1, a plateau ends
    every second epoch from the third, and the rate of the epochs after it is divided by 5."""
    params = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate=learning_rate,
        learning_rate_init=0.01,
        n_iter_no_change=1,
        tol=10.0,
        batch_size=64,
        shuffle=False,
        random_state=0,
    )
    X, y, _ = streaming_problem()
    in_memory = MiniBatchRegressor(max_iter=100, **params).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it converged: no ConvergenceWarning
        blocks = train_by_passes(
            "fit on a large memmap", MiniBatchRegressor(**params), 100, tmp_path, monkeypatch
        )
    # Fit stops at the first plateau with the rate at most 1e-6: that of epochs 14 and 15,
    # 0.01 * 0.2**6 (epochs 12 and 13 ran at 0.01 * 0.2**5 > 1e-6).
    rates = [0.01 * 0.2 ** (max(epoch - 2, 0) // 2) for epoch in range(1, 16)]
    np.testing.assert_allclose(in_memory.history_["learning_rate"], rates, rtol=1e-12)
    assert in_memory.n_iter_ == 15
    assert blocks.n_iter_ == in_memory.n_iter_
    assert blocks.history_["learning_rate"] == in_memory.history_["learning_rate"]
    np.testing.assert_array_equal(blocks.coefs_[0], in_memory.coefs_[0])


def test_keys_callbacks_add_to_chunk_records_are_kept_with_the_last_chunks_value():
    rng = np.random.RandomState(0)
    chunks = [(rng.normal(size=(50, 3)), rng.normal(size=50)) for _ in range(3)]
    X, y = np.vstack([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])

    class TagFirstChunk:
        calls = 0

        def on_epoch_end(self, estimator, record):
            self.calls += 1
            if self.calls % 3 == 1:
                record["first_chunk_loss"] = record["loss"]

    log = RecordLog()
    callbacks = [NoiseScaleMonitor(X, y, max_samples=100), TagFirstChunk(), log]
    reg = MiniBatchRegressor((4,), callbacks=callbacks, random_state=0)
    fit_stream(reg, chunks, n_passes=2)
    assert reg.history_["noise_scale"] == [
        log.records[2]["noise_scale"],
        log.records[5]["noise_scale"],
    ]
    assert reg.history_["first_chunk_loss"] == [log.records[0]["loss"], log.records[3]["loss"]]
    assert list(reg.history_[0])[-2:] == ["noise_scale", "first_chunk_loss"]


def test_a_warm_started_fit_on_a_large_memmap_keeps_the_fitted_classes(tmp_path, monkeypatch):
    """Data of fewer classes than the fitted ones: the blocks train against the fitted
    classes (and their class weights), as a warm-started fit in memory does."""
    X, y = make_blobs(300, centers=3, random_state=0)
    two = y < 2
    np.save(tmp_path / "X.npy", X[two])
    params = dict(
        hidden_layer_sizes=(4,),
        max_iter=2,
        tol=None,
        shuffle=False,
        warm_start=True,
        class_weight={0: 2.0, 1: 1.0, 2: 3.0},
        random_state=0,
    )
    in_memory, blocks = (MiniBatchMLPClassifier(**params).fit(X, y) for _ in range(2))
    in_memory.fit(X[two], y[two])
    monkeypatch.setattr(_estimators, "BLOCK_BYTES", 1)
    blocks.fit(np.load(tmp_path / "X.npy", mmap_mode="r"), y[two])
    assert blocks.classes_.tolist() == [0, 1, 2] and blocks.n_iter_ == 4
    for a, b in zip(blocks.coefs_, in_memory.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
