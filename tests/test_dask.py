"""The estimators on dask: dask-ml's Incremental and HyperbandSearchCV, scikit-learn's
GridSearchCV through joblib's dask backend, and Numba's on-disk cache filled by several processes
at once.

The cluster is a ``distributed.LocalCluster`` of two single-threaded worker processes started
here, whose every server listens on 127.0.0.1 only (no bokeh dashboard), and whose workers start
on an empty NUMBA_CACHE_DIR: their first fits, one on each at the same time, compile the kernels.
The module is skipped when the ``dask`` extra (dask-ml, distributed) is not installed.
"""

# ruff: noqa: E402  (imports after pytest.importorskip)

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

dask_ml = pytest.importorskip("dask_ml")
distributed = pytest.importorskip("distributed")

import cloudpickle
import dask
import dask.array as da
import dask.utils
import joblib
from dask_ml.model_selection import HyperbandSearchCV
from dask_ml.wrappers import Incremental
from packaging.version import Version
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV

import skminibatch
from skminibatch import MiniBatchMLPClassifier

# Workers cannot import this test module: send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

CLASSES = [0, 1, 2]
CHUNK = 150
# dask-ml 2025.1.0 calls dask.persist inside a coroutine on the client's event loop, which dask
# refuses from 2025.3.0 on (https://github.com/dask/dask-ml/issues/1016): the search classes
# that drive partial_fit (HyperbandSearchCV, IncrementalSearchCV, ...) fail there.
DASK_ML_1016 = Version(dask.__version__) >= Version("2025.3.0") and Version(
    dask_ml.__version__
) <= Version("2025.1.0")


def make_classifier(**params):
    defaults = dict(hidden_layer_sizes=(16,), max_iter=5, tol=None, random_state=0)
    return MiniBatchMLPClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=1200, centers=3, n_features=4, cluster_std=1.5, random_state=0)
    return X, y


def local_cluster(**kwargs):
    """Two single-threaded worker processes; scheduler, workers and their HTTP servers (health
    and metrics only: bokeh is not needed) listen on 127.0.0.1, on free ports."""
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        **kwargs,
    )


def listening_hosts():
    """Addresses this process listens on."""
    import psutil

    connections = psutil.Process().net_connections(kind="inet")
    return {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}


def numba_cache_state():
    """This process's NUMBA_CACHE_DIR, and how many kernel specialisations it loaded from the
    cache (hits) and compiled (misses), over all of skminibatch's compiled functions."""
    import numba

    from skminibatch import _kernels

    dispatchers = [
        f for f in vars(_kernels).values() if isinstance(f, numba.core.dispatcher.Dispatcher)
    ]
    hits = sum(sum(f.stats.cache_hits.values()) for f in dispatchers)
    misses = sum(sum(f.stats.cache_misses.values()) for f in dispatchers)
    return numba.config.CACHE_DIR, hits, misses


def kernel_index_files(cache):
    """Names of the Numba cache index files of skminibatch's kernels under ``cache``."""
    return [path.name for path in cache.rglob("_kernels.*.nbi")]


def fit_on_each_worker(client, clf, X, y):
    """Fit clf on every worker at once; their fitted weights, start and end times, and Numba
    cache states."""
    workers = list(client.scheduler_info()["workers"])
    assert len(workers) == 2

    def timed_fit():
        import time

        start = time.time()
        coefs = clone(clf).fit(X, y).coefs_
        return start, time.time(), coefs

    futures = [client.submit(timed_fit, workers=[w], pure=False) for w in workers]
    return client.gather(futures), client.run(numba_cache_state)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, blobs):
    """A new cluster whose workers share an empty NUMBA_CACHE_DIR, and the first fits of its
    workers, one on each at the same time: the fits that compile the kernels."""
    cache = tmp_path_factory.mktemp("numba-cache")
    with (
        local_cluster(env={"NUMBA_CACHE_DIR": str(cache)}) as local,
        distributed.Client(local) as client,
    ):
        assert listening_hosts() == {"127.0.0.1"}  # scheduler and nannies, in this process
        assert all(hosts == {"127.0.0.1"} for hosts in client.run(listening_hosts).values())
        first_fits = fit_on_each_worker(client, make_classifier(batch_size=8), *blobs)
        yield SimpleNamespace(client=client, cache=cache, first_fits=first_fits)


@pytest.fixture
def client(cluster):
    with cluster.client.as_current():
        yield cluster.client


def ran_on_workers(task_stream, client, prefix):
    """Workers of the recorded tasks whose key starts with prefix (all must be the cluster's)."""
    workers = {
        record["worker"]
        for record in task_stream.data
        if dask.utils.key_split(record["key"]).startswith(prefix)
    }
    assert workers <= set(client.scheduler_info()["workers"])
    return workers


# --- Numba's cache, cold, filled by several processes at once -------------------------------


def test_two_workers_compile_into_one_cold_numba_cache(cluster, blobs):
    """Both workers of the new cluster compiled the kernels at the same time into one empty
    NUMBA_CACHE_DIR; the cache they left is complete: restarted workers load all of it."""
    X, y = blobs
    clf = make_classifier(batch_size=8)
    expected = clone(clf).fit(X, y).coefs_

    def check(fits):
        for _, _, coefs in fits:
            for got, want in zip(coefs, expected, strict=True):
                np.testing.assert_array_equal(got, want)

    fits, cold = cluster.first_fits
    check(fits)
    (start_a, end_a, _), (start_b, end_b, _) = fits
    assert start_a < end_b and start_b < end_a  # the two compiling fits ran at the same time
    # Each worker compiled kernels into the fresh directory (it may also have loaded some that
    # the other one had just written).
    assert {cache_dir for cache_dir, _, _ in cold.values()} == {str(cluster.cache)}
    assert all(misses >= 1 for _, _, misses in cold.values()), cold
    assert kernel_index_files(cluster.cache)
    assert not list(cluster.cache.rglob("*.tmp.*"))  # no write left half done

    cluster.client.restart()
    fits, warm = fit_on_each_worker(cluster.client, clf, X, y)
    check(fits)
    # New worker processes load every kernel from what the first two wrote.
    assert all(hits >= 1 and misses == 0 for _, hits, misses in warm.values()), warm


GRID_SCRIPT = """
import json, sys, warnings
import numba
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV
from skminibatch import MiniBatchMLPClassifier, _kernels

warnings.simplefilter("error", numba.NumbaWarning)
spec = json.loads(sys.argv[1])
X, y = make_blobs(**spec["data"])
search = GridSearchCV(
    MiniBatchMLPClassifier(**spec["estimator"]), spec["grid"], cv=3, n_jobs=2,
    error_score="raise",
).fit(X, y)
kernels = [f for f in vars(_kernels).values() if isinstance(f, numba.core.dispatcher.Dispatcher)]
json.dump({
    "cache_dir": numba.config.CACHE_DIR,
    "mean_test_score": search.cv_results_["mean_test_score"].tolist(),
    "best_params": search.best_params_,
    "refit_cache_hits": sum(sum(f.stats.cache_hits.values()) for f in kernels),
    "refit_cache_misses": sum(sum(f.stats.cache_misses.values()) for f in kernels),
}, sys.stdout)
"""


def test_grid_search_n_jobs_2_from_a_cold_numba_cache(tmp_path):
    """GridSearchCV(n_jobs=2) in a new process whose two loky workers compile the kernels at
    the same time into an empty NUMBA_CACHE_DIR: same scores as in this process, and the
    parent's refit loads what the workers wrote."""
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    spec = {
        "data": dict(n_samples=300, centers=3, n_features=4, cluster_std=1.5, random_state=0),
        "estimator": dict(hidden_layer_sizes=[16], max_iter=5, tol=None, random_state=0),
        "grid": {"batch_size": [8, 32, "full"]},
    }
    package_root = str(Path(skminibatch.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(cache),
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run(
        [sys.executable, "-c", GRID_SCRIPT, json.dumps(spec)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "NumbaWarning" not in run.stderr, run.stderr
    result = json.loads(run.stdout)

    X, y = make_blobs(**spec["data"])
    estimator = make_classifier(**{**spec["estimator"], "hidden_layer_sizes": (16,)})
    local = GridSearchCV(estimator, spec["grid"], cv=3).fit(X, y)
    assert result["cache_dir"] == str(cache)
    assert result["mean_test_score"] == local.cv_results_["mean_test_score"].tolist()
    assert result["best_params"] == local.best_params_
    assert kernel_index_files(cache)
    assert result["refit_cache_hits"] >= 1 and result["refit_cache_misses"] == 0, result


# --- dask-ml -----------------------------------------------------------------------------------


def test_incremental_trains_on_a_dask_array(client, blobs):
    """Incremental calls partial_fit once per block, on the workers, carrying the optimizer
    state from block to block: the same weights as partial_fit over the blocks here."""
    X, y = blobs
    Xd, yd = da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK)
    base = make_classifier(batch_size=16, learning_rate_init=0.01)
    inc = Incremental(base, scoring="accuracy", shuffle_blocks=False)
    with distributed.get_task_stream(client) as tasks:
        inc.fit(Xd, yd, classes=CLASSES)
    assert ran_on_workers(tasks, client, "fit")

    local = clone(base)
    for start in range(0, len(X), CHUNK):
        local.partial_fit(X[start : start + CHUNK], y[start : start + CHUNK], classes=CLASSES)
    fitted = inc.estimator_
    assert fitted.n_iter_ == Xd.numblocks[0] == 8  # one epoch per block
    assert fitted.t_ == len(X)
    for got, want in zip(
        fitted.coefs_ + fitted.intercepts_, local.coefs_ + local.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(got, want)

    predicted = inc.predict(Xd)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), local.predict(X))
    assert inc.score(Xd, yd) > 0.9


@pytest.mark.xfail(
    DASK_ML_1016,
    raises=RuntimeError,
    strict=True,
    reason="dask-ml<=2025.1.0 with dask>=2025.3.0: dask/dask-ml#1016; install skminibatch[dask]",
)
def test_hyperband_tunes_batch_size_and_learning_rate(client, blobs):
    """HyperbandSearchCV trains through partial_fit (one epoch per call) on the cluster."""
    X, y = blobs
    Xd, yd = da.from_array(X, chunks=CHUNK), da.from_array(y, chunks=CHUNK)
    params = {"batch_size": [1, 8, 32, "full"], "learning_rate_init": loguniform(1e-3, 1e-1)}
    search = HyperbandSearchCV(make_classifier(), params, max_iter=9, random_state=0)
    search.fit(Xd, yd, classes=CLASSES)

    results = search.cv_results_
    assert len(set(results["param_batch_size"])) >= 2  # several batch sizes were tried
    assert search.best_score_ > 0.9
    best = search.best_estimator_
    assert isinstance(best, MiniBatchMLPClassifier)
    assert best.batch_size == search.best_params_["batch_size"]
    assert best.learning_rate_init == search.best_params_["learning_rate_init"]
    # Every partial_fit call is one epoch of the best model's history.
    assert best.n_iter_ == results["partial_fit_calls"][search.best_index_]
    assert search.score(Xd, yd) > 0.9


def test_grid_search_on_joblib_dask_backend(client, blobs):
    """GridSearchCV over batch_size on the cluster gives exactly the in-process results."""
    X, y = blobs
    grid = {"batch_size": [8, 32, "full"]}
    local = GridSearchCV(make_classifier(), grid, cv=3).fit(X, y)
    with (
        joblib.parallel_backend("dask", client=client),
        distributed.get_task_stream(client) as tasks,
    ):
        remote = GridSearchCV(make_classifier(), grid, cv=3, error_score="raise").fit(X, y)
    assert tasks.data and all(
        record["worker"] in client.scheduler_info()["workers"] for record in tasks.data
    )
    for key in ["mean_test_score", *[f"split{i}_test_score" for i in range(3)]]:
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.best_params_ == local.best_params_
    for got, want in zip(remote.best_estimator_.coefs_, local.best_estimator_.coefs_, strict=True):
        np.testing.assert_array_equal(got, want)
