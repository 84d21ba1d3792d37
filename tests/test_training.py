"""Training seen from outside: batches, chunks, seeds, dtypes, pickling, scikit-learn tools."""

import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skminibatch import MiniBatchMLPClassifier, MiniBatchRegressor


def one_epoch_linear(n, batch_size, drop_last, shuffle, seed):
    """One epoch of plain SGD on one-hot features X = I: weight i moves iff sample i was used."""
    reg = MiniBatchRegressor(
        hidden_layer_sizes=(),
        solver="sgd",
        momentum=0.0,
        learning_rate_init=1e-3,
        alpha=0.0,
        batch_size=batch_size,
        drop_last=drop_last,
        shuffle=shuffle,
        max_iter=1,
        tol=None,
        random_state=seed,
    )
    return reg.fit(np.eye(n), np.ones(n), coefs_init=[np.zeros((n, 1))], intercepts_init=[[0.0]])


@given(
    n=st.integers(1, 40),
    batch_size=st.integers(1, 45),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    seed=st.integers(0, 1000),
)
@pytest.mark.filterwarnings("ignore:Got batch_size")
def test_each_sample_is_used_once_per_epoch_in_ceil_n_over_b_updates(
    n, batch_size, drop_last, shuffle, seed
):
    reg = one_epoch_linear(n, batch_size, drop_last, shuffle, seed)
    b = min(batch_size, n)
    n_updates = n // b if drop_last else -(-n // b)
    assert reg.history_[-1]["n_updates"] == reg.n_updates_ == n_updates
    # Every sample's own weight moves by about lr / |batch| per use (the bias is shared); the
    # epoch has n_updates * b slots at most, so "all used samples moved" means "each once".
    used = np.flatnonzero(reg.coefs_[0][:, 0] != 0)
    assert used.size == (n // b) * b if drop_last else used.size == n
    assert reg.t_ == used.size


def test_full_batch_makes_one_update_per_epoch():
    X, y = make_blobs(n_samples=90, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier((5,), batch_size="full", max_iter=7, tol=None, random_state=0)
    clf.fit(X, y)
    assert clf.history_["n_updates"] == [1] * 7
    assert clf.history_["batch_size"] == [90] * 7
    assert clf.n_updates_ == 7 and clf.n_iter_ == 7 and clf.t_ == 7 * 90


def test_the_last_partial_batch_is_kept_unless_dropped():
    X, y = make_regression(n_samples=1050, n_features=3, random_state=0)
    kept = MiniBatchRegressor((), batch_size=100, max_iter=1, tol=None).fit(X, y)
    dropped = MiniBatchRegressor((), batch_size=100, drop_last=True, max_iter=1, tol=None)
    assert kept.n_updates_ == 11
    assert dropped.fit(X, y).n_updates_ == 10


@given(
    batch_size=st.integers(1, 6),
    chunk_batches=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    remainder=st.integers(0, 5),
    solver=st.sampled_from(["sgd", "adam", "rmsprop"]),
    hidden=st.sampled_from([(6,), (80, 48)]),
)
def test_partial_fit_over_chunks_equals_one_epoch_of_fit(
    batch_size, chunk_batches, remainder, solver, hidden
):
    """Chunks whose sizes are multiples of batch_size (the last may be any size) cut the data
    into the same batches as one epoch of fit, so the weights are bit-identical: also at batch
    size 1 with a network (4,275 parameters) whose forward passes ride along with the
    updates, but for a chunk's first."""
    sizes = [k * batch_size for k in chunk_batches] + [remainder]
    n = sum(sizes)
    assume(n >= 3)  # fit needs every class in y: make_blobs gives each center n // 3 rows
    X, y = make_blobs(n_samples=n, centers=3, random_state=1)
    params = dict(
        hidden_layer_sizes=hidden,
        solver=solver,
        batch_size=batch_size,
        shuffle=False,
        random_state=3,
        max_iter=1,
        tol=None,
        learning_rate_init=0.05,
    )
    fitted = MiniBatchMLPClassifier(**params).fit(X, y)
    streamed = MiniBatchMLPClassifier(**params)
    start = 0
    for size in sizes:
        if size:
            streamed.partial_fit(
                X[start : start + size], y[start : start + size], classes=[0, 1, 2]
            )
        start += size
    for a, b in zip(
        fitted.coefs_ + fitted.intercepts_, streamed.coefs_ + streamed.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert fitted.n_updates_ == streamed.n_updates_


FIT_AND_PRINT = textwrap.dedent(
    """
    import hashlib
    from sklearn.datasets import make_classification
    from skminibatch import MiniBatchMLPClassifier
    X, y = make_classification(n_samples=300, n_classes=3, n_informative=4, random_state=0)
    clf = MiniBatchMLPClassifier((16, 8), batch_size=8, max_iter=5, random_state=42).fit(X, y)
    print(hashlib.sha256(b"".join(c.tobytes() for c in clf.coefs_ + clf.intercepts_)).hexdigest())
    """
)


def fingerprint_in_new_process(env):
    done = subprocess.run(
        [sys.executable, "-c", FIT_AND_PRINT], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_same_seed_gives_bit_identical_weights_across_processes(subprocess_env):
    assert fingerprint_in_new_process(subprocess_env) == fingerprint_in_new_process(subprocess_env)


def test_same_seed_gives_bit_identical_weights_in_one_process():
    X, y = make_classification(n_samples=200, random_state=0)
    first, second = (
        MiniBatchMLPClassifier((8,), batch_size=4, max_iter=3, random_state=7).fit(X, y)
        for _ in range(2)
    )
    different = MiniBatchMLPClassifier((8,), batch_size=4, max_iter=3, random_state=8).fit(X, y)
    np.testing.assert_array_equal(first.coefs_[0], second.coefs_[0])
    assert not np.array_equal(first.coefs_[0], different.coefs_[0])


@pytest.mark.parametrize("Estimator", [MiniBatchMLPClassifier, MiniBatchRegressor])
def test_float32_in_gives_float32_out(Estimator):
    X, y = make_classification(n_samples=100, random_state=0)
    X32 = X.astype(np.float32)
    est = Estimator((5,), max_iter=3, batch_size=10, random_state=0).fit(X32, y)
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
    outputs = est.predict_proba(X32) if hasattr(est, "predict_proba") else est.predict(X32)
    assert outputs.dtype == np.float32
    # float32 training follows float64 training closely on the same problem
    est64 = Estimator((5,), max_iter=3, batch_size=10, random_state=0).fit(X, y)
    np.testing.assert_allclose(est.coefs_[0], est64.coefs_[0], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_after_unpickling_keeps_learning_like_the_original(solver):
    X, y = make_classification(n_samples=120, random_state=0)
    clf = MiniBatchMLPClassifier((6,), solver=solver, batch_size=16, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    copy = pickle.loads(pickle.dumps(clf))
    before = copy.coefs_[0].copy()
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)
    assert not np.array_equal(copy.coefs_[0], before)  # the weights still move
    np.testing.assert_array_equal(copy.coefs_[0], clf.coefs_[0])  # and exactly as before
    np.testing.assert_array_equal(copy._optimizer_state, clf._optimizer_state)


def test_fitted_state_is_plain_numpy_data_without_shared_memory():
    X, y = make_classification(n_samples=60, random_state=0)
    clf = MiniBatchMLPClassifier((4, 3), max_iter=2, random_state=0).fit(X, y)
    arrays = clf.coefs_ + clf.intercepts_ + [clf._optimizer_state]
    assert all(type(a) is np.ndarray and a.base is None for a in arrays)
    for value in vars(clf).values():
        assert "numba" not in type(value).__module__


def test_warm_start_continues_from_fitted_weights_and_optimizer_state():
    X, y = make_classification(n_samples=100, random_state=0)
    params = dict(hidden_layer_sizes=(5,), batch_size=10, tol=None, random_state=0)
    once = MiniBatchMLPClassifier(max_iter=4, **params).fit(X, y)
    twice = MiniBatchMLPClassifier(max_iter=2, warm_start=True, **params).fit(X, y).fit(X, y)
    np.testing.assert_array_equal(once.coefs_[0], twice.coefs_[0])
    assert twice.n_iter_ == 4 and twice.n_updates_ == once.n_updates_


def test_coefs_init_is_the_starting_point_and_is_not_modified():
    X, y = make_regression(n_samples=50, n_features=2, random_state=0)
    coefs, intercepts = [np.ones((2, 1))], [np.zeros(1)]
    reg = MiniBatchRegressor((), learning_rate_init=1e-9, max_iter=1, tol=None)
    reg.fit(X, y, coefs_init=coefs, intercepts_init=intercepts)
    np.testing.assert_allclose(reg.coefs_[0], 1.0, atol=1e-6)
    np.testing.assert_array_equal(coefs[0], 1.0)


def test_read_only_input_is_accepted_and_never_modified(tmp_path):
    X, y = make_classification(n_samples=80, random_state=0)
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_mm = np.load(path, mmap_mode="r")
    clf = MiniBatchMLPClassifier((4,), max_iter=2, random_state=0).fit(X_mm, y)
    np.testing.assert_array_equal(np.load(path), X)
    assert clf.predict(X_mm).shape == (80,)


def test_regressor_multi_output_and_linear_regression():
    X, Y = make_regression(n_samples=300, n_features=4, n_targets=2, noise=0.01, random_state=0)
    reg = MiniBatchRegressor(
        (), solver="sgd", learning_rate_init=0.01, batch_size=8, max_iter=50, random_state=0
    ).fit(X, Y)
    assert reg.predict(X).shape == (300, 2) and reg.n_outputs_ == 2
    lstsq = np.linalg.lstsq(np.c_[X, np.ones(300)], Y, rcond=None)[0]
    np.testing.assert_allclose(reg.coefs_[0], lstsq[:4], rtol=1e-3, atol=1e-3)


def test_classifier_binary_multiclass_and_multilabel_targets():
    X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier((10,), batch_size=8, max_iter=100, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1.0)
    labels = np.array(["cat", "dog"])[(y > 0).astype(int)]
    binary = MiniBatchMLPClassifier((10,), max_iter=200, random_state=0).fit(X, labels)
    assert binary.n_outputs_ == 1 and set(binary.predict(X)) <= {"cat", "dog"}
    assert binary.predict_proba(X).shape == (150, 2) and binary.score(X, labels) > 0.9
    Y = np.c_[y == 0, y == 1, y != 1].astype(int)
    multilabel = MiniBatchMLPClassifier((10,), max_iter=200, random_state=0).fit(X, Y)
    assert multilabel.predict(X).shape == (150, 3) and multilabel.score(X, Y) > 0.8


def test_fitted_attributes_as_scikit_learns_mlp_sets_them():
    """n_layers_, n_outputs_ and out_activation_ against MLPClassifier / MLPRegressor's."""
    X, y = make_blobs(n_samples=60, centers=3, random_state=0)
    targets = {
        "multiclass": y,
        "binary": y > 0,
        "multilabel": np.c_[y == 0, y == 1],
        "regression": X[:, 0],
        "two outputs": X,
    }
    for name, target in targets.items():
        ours = (
            MiniBatchRegressor if name in ("regression", "two outputs") else MiniBatchMLPClassifier
        )
        theirs = MLPRegressor if ours is MiniBatchRegressor else MLPClassifier
        fitted = ours((4, 3), max_iter=2, tol=None, random_state=0).fit(X, target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reference = theirs(hidden_layer_sizes=(4, 3), max_iter=2, random_state=0)
            reference.fit(X, target)
        for attribute in ("n_layers_", "n_outputs_", "out_activation_"):
            assert getattr(fitted, attribute) == getattr(reference, attribute), (name, attribute)


def test_the_issue_example_grid_search_over_batch_size_in_a_pipeline():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    pipe = make_pipeline(
        StandardScaler(),
        MiniBatchMLPClassifier(hidden_layer_sizes=(20,), random_state=0, max_iter=20),
    )
    search = GridSearchCV(
        pipe,
        {
            "minibatchmlpclassifier__batch_size": [1, 8, 32, "full"],
            "minibatchmlpclassifier__learning_rate_init": [0.001, 0.01],
        },
        n_jobs=2,
    ).fit(X, y)
    assert search.best_score_ > 0.85
    assert len(search.cv_results_["params"]) == 8
    assert (
        cross_val_score(
            clone(pipe).set_params(minibatchmlpclassifier__max_iter=100), X, y, cv=3
        ).mean()
        > 0.85
    )


def test_the_issue_example_streaming_with_partial_fit():
    X, y = make_blobs(n_samples=400, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier(batch_size=1, random_state=0)
    clf.partial_fit(X[:200], y[:200], classes=[0, 1, 2])
    clf.partial_fit(X[200:], y[200:])
    assert clf.n_updates_ == 400 and clf.n_iter_ == 2 and clf.score(X, y) > 0.85


def test_kernels_compile_without_a_cache_when_no_directory_is_writable(subprocess_env):
    """Numba raises at import when it finds no writable cache directory; we fall back."""
    code = textwrap.dedent(
        """
        import warnings
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            from skminibatch import MiniBatchRegressor, _kernels
        assert _kernels.CACHE is False
        messages = [str(w.message) for w in caught if "no writable cache" in str(w.message)]
        assert len(messages) == 1, messages
        reg = MiniBatchRegressor((3,), max_iter=2, tol=None).fit([[0.0], [1.0], [2.0]], [0, 1, 2])
        print(reg.predict([[1.0]]).shape)
        """
    )
    # No locator but the IPython one, which declines outside IPython: what numba meets when
    # neither the package directory nor the user cache directory under HOME is writable.
    env = dict(subprocess_env, NUMBA_CACHE_LOCATOR_CLASSES="IPythonCacheLocator")
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1,)"


def test_sample_weight_counts_even_at_batch_size_one():
    """Weights are rescaled to mean 1 over the data, not per batch, so a batch of one sample
    still feels its weight (a per-batch weighted mean would cancel it)."""
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    weights = np.where(np.arange(40) % 2 == 0, 3.0, 1.0)
    params = dict(
        hidden_layer_sizes=(),
        solver="sgd",
        momentum=0.0,
        batch_size=1,
        shuffle=False,
        max_iter=1,
        tol=None,
        learning_rate_init=0.01,
    )
    init = dict(coefs_init=[np.zeros((3, 1))], intercepts_init=[np.zeros(1)])
    plain = MiniBatchRegressor(**params).fit(X, y, **init)
    weighted = MiniBatchRegressor(**params).fit(X, y, sample_weight=weights, **init)
    assert not np.allclose(plain.coefs_[0], weighted.coefs_[0])
    # Scaling all weights by a constant changes nothing: only relative weights matter.
    scaled = MiniBatchRegressor(**params).fit(X, y, sample_weight=10 * weights, **init)
    np.testing.assert_allclose(scaled.coefs_[0], weighted.coefs_[0], rtol=1e-12)


def test_one_compiled_specialisation_per_dtype_whatever_depth_layout_or_flags(subprocess_env):
    code = textwrap.dedent(
        """
        import numpy as np
        from skminibatch import MiniBatchRegressor, _kernels
        rng = np.random.RandomState(0)
        X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
        read_only = X.copy()
        read_only.flags.writeable = False
        for data in (X, np.asfortranarray(X), read_only, X[:, ::2], X.astype(np.float32)):
            for hidden in ((), (3,), (4, 2)):
                model = MiniBatchRegressor(hidden, max_iter=1, tol=None)
                model.fit(data, y, validation_data=(data, y)).predict(data)
        print(len(_kernels._batch_epoch.signatures), len(_kernels.forward_outputs.signatures))
        print(len(_kernels._sample_epoch.signatures))  # batch size 1 was not used
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env
    )
    assert done.returncode == 0, done.stderr
    # float64 and float32, nothing more; the single-sample path is compiled only when used
    assert done.stdout.split() == ["2", "2", "0"]


def test_training_validation_and_batch_size_1_share_one_compiled_loss(tmp_path, subprocess_env):
    # With an empty cache every function compiled is listed, callees included (a cached
    # entry point loads without them). A second specialisation costs about 1 s of compile.
    code = textwrap.dedent(
        """
        import numpy as np
        from skminibatch import MiniBatchRegressor, _kernels
        rng = np.random.RandomState(0)
        X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
        for batch_size in (8, 1):
            model = MiniBatchRegressor((3,), batch_size=batch_size, max_iter=1, tol=None)
            model.fit(X, y, validation_data=(X, y)).predict(X)
        print(len(_kernels._loss_and_output_delta.signatures))
        print(len(_kernels._sample_loss_and_delta.signatures))
        """
    )
    env = {**subprocess_env, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
