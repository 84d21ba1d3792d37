"""Out of core: passes of partial_fit over chunks, and shuffled blocks read from disk."""

import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skminibatch import MemmapBlocks, MiniBatchMLPClassifier, MiniBatchRegressor, fit_stream


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

    from skminibatch import _estimators

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
