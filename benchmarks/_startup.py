"""Measurements that need a fresh process: first fit (warm and cold Numba cache), peak memory.

Each runs a short script in a subprocess of the same Python, importing the same skminibatch as
this process (its directory is put first on ``PYTHONPATH``), and reads one JSON line back.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import skminibatch

from ._common import REPO

PACKAGE_PARENT = str(Path(skminibatch.__file__).resolve().parent.parent)

_FIRST_FIT = r"""
import json, sys, time
start = time.perf_counter()
import numpy as np
from skminibatch import MiniBatchMLPClassifier
imported = time.perf_counter()
from sklearn.datasets import make_blobs

dtype = np.dtype(sys.argv[1])
X, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
X, y = X[:500].astype(dtype), y[:500]


def make():
    return MiniBatchMLPClassifier(
        (50,), solver="sgd", momentum=0.9, learning_rate_init=0.01, alpha=0.0, batch_size=32,
        max_iter=1, tol=None, random_state=0,
    )


seconds = {"import_s": imported - start}
for label in ("first", "second"):
    t0 = time.perf_counter()
    model = make().fit(X, y)
    t1 = time.perf_counter()
    model.predict(X)
    t2 = time.perf_counter()
    seconds[f"{label}_fit_s"] = t1 - t0
    seconds[f"{label}_predict_s"] = t2 - t1
seconds["dtype"] = str(model.coefs_[0].dtype)
print(json.dumps(seconds))
"""

_PEAK_MEMORY = r"""
import json, resource, sys, time, warnings
library, batch, x_path, y_path = sys.argv[1:5]
batch = batch if batch == "full" else int(batch)


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def vm_hwm_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


import numpy as np

settings = dict(
    activation="relu", solver="sgd", momentum=0.9, nesterovs_momentum=True,
    learning_rate_init=0.01, alpha=0.0, max_iter=1, random_state=0,
)
if library == "ours":
    from skminibatch import MiniBatchMLPClassifier

    model = MiniBatchMLPClassifier((128, 64), batch_size=batch, tol=None, **settings)
else:
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier((128, 64), batch_size=batch, **settings)
after_import = peak_mb()
X = np.load(x_path)
y = np.load(y_path)
if library == "sklearn" and batch == "full":
    model.set_params(batch_size=X.shape[0])
before_fit = peak_mb()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
print(json.dumps({
    "after_import_mb": after_import, "before_fit_mb": before_fit, "peak_mb": peak_mb(),
    "vm_hwm_mb": vm_hwm_mb(), "data_mb": (X.nbytes + y.nbytes) / 2**20, "fit_s": seconds,
}))
"""


# Linux keeps a process's ru_maxrss across execve, and a child started by a large process
# inherits that process's resident size as its high-water mark (measured: a child of a process
# holding 400 MB reported ru_maxrss = 408 MB at its first line). So memory runs start through
# this small launcher: its child's high-water mark starts from the launcher's ~10 MB.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def _run(script, args, extra_env=None, timeout=900, launcher=False):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [PACKAGE_PARENT, str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.update(extra_env or {})
    with tempfile.TemporaryDirectory(prefix="skminibatch-bench-cwd-") as cwd:
        command = [sys.executable, "-c", script, *map(str, args)]
        if launcher:
            command = [sys.executable, "-c", _LAUNCHER, *command]
        result = subprocess.run(
            command,
            cwd=cwd,  # an empty directory: nothing there shadows a package
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"subprocess failed ({result.returncode}): {' | '.join(tail)}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def first_fit_warm(dtype, runs=3):
    """A new process's first ``fit`` (one epoch of workload (a) at batch 32) and ``predict``.

    One untimed run first, so that the cache holds every kernel (``predict_outputs`` too);
    then ``runs`` measured processes. Returns their results.
    """
    _run(_FIRST_FIT, [dtype])
    return [_run(_FIRST_FIT, [dtype]) for _ in range(runs)]


def cold_compile(dtype):
    """The same script in a process whose ``NUMBA_CACHE_DIR`` is a fresh, empty directory."""
    with tempfile.TemporaryDirectory(prefix="skminibatch-cold-cache-") as cache_dir:
        return _run(_FIRST_FIT, [dtype], {"NUMBA_CACHE_DIR": cache_dir})


def peak_memory(X, y, cases):
    """Peak resident memory of one ``fit`` (``max_iter=1``) per (library, batch) in ``cases``.

    Each case runs in its own process (started through a small launcher, see ``_LAUNCHER``),
    which loads X and y from ``.npy`` files (no temporary copies from generating them) and
    reports ``ru_maxrss`` after importing, after loading the data and after the fit, and
    ``VmHWM`` from ``/proc/self/status`` after the fit (the same high-water mark, as a check).
    """
    results = {}
    with tempfile.TemporaryDirectory(prefix="skminibatch-memory-") as folder:
        x_path, y_path = Path(folder, "X.npy"), Path(folder, "y.npy")
        np.save(x_path, X)
        np.save(y_path, y)
        for library, batch in cases:
            results[library, str(batch)] = _run(
                _PEAK_MEMORY, [library, batch, x_path, y_path], launcher=True
            )
    return results
