"""What the benchmarks share: the data set, the two estimators, machine facts, formatting."""

import os
import platform
import subprocess
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skminibatch import MiniBatchMLPClassifier

REPO = Path(__file__).resolve().parent.parent
HIDDEN = (128, 64)
LEARNING_RATE = 0.01
MOMENTUM = 0.9
SEED = 0


def make_data(n_samples=50_000):
    """``make_classification`` (100 features, 20 informative, 5 classes), standardised, float64."""
    X, y = make_classification(
        n_samples=n_samples,
        n_features=100,
        n_informative=20,
        n_classes=5,
        random_state=SEED,
    )
    X = np.ascontiguousarray(StandardScaler().fit_transform(X), dtype=np.float64)
    return X, y


def ours(batch_size):
    """Our classifier, configured as :func:`theirs` (``batch_size`` an int or ``'full'``)."""
    return MiniBatchMLPClassifier(
        HIDDEN,
        activation="relu",
        solver="sgd",
        momentum=MOMENTUM,
        nesterovs_momentum=True,
        learning_rate_init=LEARNING_RATE,
        alpha=0.0,
        batch_size=batch_size,
        tol=None,
        random_state=SEED,
    )


def theirs(batch_size):
    """scikit-learn's ``MLPClassifier`` with plain SGD, Nesterov momentum 0.9, no penalty."""
    return MLPClassifier(
        HIDDEN,
        activation="relu",
        solver="sgd",
        momentum=MOMENTUM,
        nesterovs_momentum=True,
        learning_rate_init=LEARNING_RATE,
        alpha=0.0,
        batch_size=batch_size,
        random_state=SEED,
    )


def n_parameters(n_features, n_outputs):
    sizes = [n_features, *HIDDEN, n_outputs]
    return sum(a * b + b for a, b in pairwise(sizes))


def updates_per_epoch(n_samples, batch_size):
    return 1 if batch_size == "full" else -(-n_samples // batch_size)


def fmt_time(seconds):
    """A duration with a unit that keeps three significant digits readable."""
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds >= 1.0:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def median(values):
    return float(np.median(values)) if len(values) else float("nan")


def quartiles(values):
    return tuple(float(q) for q in np.percentile(values, [25, 75]))


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision():
    """The checked-out commit and whether skminibatch/ differs from it."""

    def git(*args):
        try:
            result = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if commit is None:
        return "unknown (not a git checkout)"
    changed = git("status", "--porcelain", "--", "skminibatch")
    return f"{commit}{' + uncommitted changes in skminibatch/' if changed else ''}"


class OtherLoad:
    """Share of the machine's CPU time used by other processes (and the hypervisor) meanwhile.

    Busy time of all CPUs from ``/proc/stat`` (steal included) minus this process's CPU time,
    over the wall time times the number of CPUs; NaN where ``/proc/stat`` is missing.
    """

    share = float("nan")

    def __enter__(self):
        self._start = self._sample()
        return self

    def __exit__(self, *exc_info):
        end = self._sample()
        if end is not None and self._start is not None:
            wall = end[0] - self._start[0]
            busy = end[1] - self._start[1]
            own = end[2] - self._start[2]
            self.share = max(0.0, (busy - own) / (wall * len(os.sched_getaffinity(0))))
        return False

    @staticmethod
    def _sample():
        try:
            values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(values[:8]) - values[3] - values[4]  # user .. steal, minus idle and iowait
        times = os.times()
        return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), times.user + times.system


def machine_facts():
    """Versions, CPU and BLAS libraries, as ``(label, value)`` pairs."""
    import numba
    import scipy
    import sklearn
    import threadpoolctl

    import skminibatch
    from skminibatch import _kernels

    facts = [
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("skminibatch", f"{skminibatch.__version__} at {git_revision()}"),
        ("nproc", f"{len(os.sched_getaffinity(0))} (os.cpu_count() = {os.cpu_count()})"),
        ("CPU", cpu_model()),
        ("load average before", " ".join(Path("/proc/loadavg").read_text().split()[:3])),
        ("Python", platform.python_version()),
        ("numpy", np.__version__),
        ("scipy", scipy.__version__),
        ("numba", numba.__version__),
        ("scikit-learn", sklearn.__version__),
        ("threadpoolctl", threadpoolctl.__version__),
        ("skminibatch's products", Path(_kernels.BLAS_LIBRARY).name),
    ]
    settings = {
        name: value
        for name, value in sorted(os.environ.items())
        if name.startswith(("OPENBLAS", "OMP_", "MKL_", "NUMBA_", "BLIS"))
    }
    facts.append(
        (
            "environment",
            " ".join(f"{k}={v}" for k, v in settings.items()) or "no BLAS/OpenMP/Numba variables",
        )
    )
    for lib in threadpoolctl.threadpool_info():
        facts.append(
            (
                f"threadpool {lib['user_api']}",
                f"{lib['internal_api']} {lib.get('version')} "
                f"({lib.get('architecture', '-')}, {lib.get('threading_layer', '-')}, "
                f"{lib['num_threads']} threads) {Path(lib['filepath']).name}",
            )
        )
    return facts
