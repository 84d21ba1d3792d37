"""Seconds per training epoch: skminibatch against scikit-learn's MLPClassifier, side by side.

Both estimators train the same network (100 standardised features -> 128 -> 64 -> 5 classes,
relu, float64) with plain SGD, Nesterov momentum 0.9, learning rate 0.01 and no penalty, at batch
sizes 1, 32 and the full data set, on ``make_classification(n_samples=50_000, n_features=100,
n_informative=20, n_classes=5, random_state=0)``.

How one epoch is timed, the same way for both:

* one timed call is one ``partial_fit(X, y)`` (one epoch for both libraries) of an estimator that
  has already trained one untimed epoch under the same thread limit, so initialisation, our JIT
  compilation and BLAS thread start-up are excluded, while each library's per-call input
  validation, shuffling and buffer allocation are included (a user pays them per epoch too);
* the peers are interleaved (ours, sklearn, ours, sklearn, ...), the thread limits alternate
  within each repeat, and each cell reports the median over the repeats;
* BLAS is limited with ``threadpoolctl.threadpool_limits`` to 1 and to 2 threads. Our kernels
  reach BLAS through Numba, which calls SciPy's ``cython_blas``; the run checks that this
  library is one of those threadpoolctl controls and that the limit changes its speed;
* scikit-learn at batch size 1 runs one Python-level step per sample (minutes per epoch on
  50,000 rows), so it is timed on a fixed subset of the rows (the first ``--sklearn-rows``) and
  scaled per sample to the full epoch; ours always runs the full epoch.

The first fit in the process (Numba loading or compiling the kernels) is timed separately, and,
unless ``--no-cold-compile``, so is a first fit in a fresh process with an empty Numba cache.

Run from the repository root: ``python -m benchmarks.epoch_time`` (full, a few minutes) or
``python -m benchmarks.epoch_time --quick`` (under 2 minutes). (``python -m benchmarks`` runs the
larger suite, :mod:`benchmarks.suite`.)
"""

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits

from skminibatch import DivergenceWarning

from ._common import (
    REPO,
    OtherLoad,
    fmt_time,
    machine_facts,
    make_data,
    median,
    n_parameters,
    ours,
    quartiles,
    theirs,
    updates_per_epoch,
)

BATCH_SIZES = (1, 32, "full")
# The project's speed targets: sklearn's seconds per epoch over ours, at 1 BLAS thread.
TARGETS = {1: 20.0, 32: 6.0, "full": 1.2}
MODES = {
    "full": {"n_samples": 50_000, "repeats": 11, "sklearn_rows": 2_000, "cold_compile": True},
    "quick": {"n_samples": 10_000, "repeats": 3, "sklearn_rows": 500, "cold_compile": False},
}


def timed(function, *args, **kwargs):
    """Seconds taken by one call, after a garbage collection (outside the timing)."""
    gc.collect()
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------
# First fit and Numba's cache


def numba_cache_state():
    """Whether Numba's cache holds the compiled batch epoch for the current source."""
    from skminibatch import _kernels

    if not _kernels.CACHE:
        return "no writable cache: kernels are compiled in every process"
    try:
        cache = _kernels._batch_epoch._cache
        entries = cache._cache_file._load_index()  # empty when the source changed since
        path = cache._cache_path
    except Exception as error:  # Numba internals: report, never fail on them
        return f"unknown ({error!r})"
    if entries:
        return f"warm ({len(entries)} batch epoch signature(s) cached in {path})"
    return f"cold (no batch epoch for the current source in {path})"


def first_fit(X, y, classes):
    """Seconds of the first ``partial_fit`` of this process (batch 32, 1 BLAS thread)."""
    state = numba_cache_state()
    with threadpool_limits(1):
        seconds = timed(ours(32).partial_fit, X, y, classes=classes)
    return seconds, state


_COLD_COMPILE = """
import json, time
t0 = time.perf_counter()
import numpy as np
from benchmarks._common import make_data, ours
t1 = time.perf_counter()
X, y = make_data(2048)
model = ours(32)
t2 = time.perf_counter(); model.partial_fit(X, y, classes=np.unique(y)); t3 = time.perf_counter()
model.partial_fit(X, y); t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t3 - t2, "second": t4 - t3}))
"""


def cold_compile():
    """First fit in a fresh process whose Numba cache directory is empty (2,048 rows)."""
    with tempfile.TemporaryDirectory(prefix="skminibatch-numba-cache-") as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, OPENBLAS_NUM_THREADS="1")
        result = subprocess.run(
            [sys.executable, "-c", _COLD_COMPILE],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if result.returncode != 0:
        return None, result.stderr.strip().splitlines()[-1:]
    return json.loads(result.stdout.strip().splitlines()[-1]), None


# --------------------------------------------------------------------------------------------
# Which BLAS Numba calls, and whether threadpoolctl limits it


@numba.njit(cache=False)
def _numba_dot(a, b, out):
    np.dot(a, b, out)


def _linked_libraries(shared_object):
    """Resolved paths of the libraries ``shared_object`` links to, from ``ldd`` (Linux)."""
    try:
        output = subprocess.run(
            ["ldd", shared_object], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = []
    for line in output.splitlines():
        if "=>" in line:
            target = line.split("=>", 1)[1].strip().split(" (")[0]
            if target.startswith("/"):
                paths.append(Path(target).resolve())
    return paths


def numba_blas_check(size=1500, rounds=3):
    """Report lines on the BLAS behind Numba's ``np.dot`` and on ``threadpool_limits``."""
    import scipy.linalg.cython_blas as cython_blas

    lines = [
        "Numba implements np.dot in compiled code by calling BLAS through SciPy's cython_blas "
        f"({Path(cython_blas.__file__).name})."
    ]
    linked = _linked_libraries(cython_blas.__file__)
    blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    behind_numba = [lib for lib in blas if Path(lib.filepath).resolve() in linked]
    if behind_numba:
        for lib in behind_numba:
            lines.append(
                f"cython_blas links to {Path(lib.filepath).name} ({lib.internal_api} "
                f"{lib.version}), a library threadpoolctl lists and controls."
            )
    else:
        lines.append(
            "Could not tell from ldd which BLAS cython_blas links to; threadpoolctl lists: "
            + ", ".join(Path(lib.filepath).name for lib in blas)
        )
    for n_threads in (1, 2):
        with threadpool_limits(n_threads):
            observed = ", ".join(f"{Path(lib.filepath).name}: {lib.num_threads}" for lib in blas)
        lines.append(
            f"Inside threadpool_limits({n_threads}) the libraries report (queried from each "
            f"library) {observed}."
        )
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size))
    out = np.empty_like(a)
    _numba_dot(a, a, out)
    best = {1: np.inf, 2: np.inf}
    with OtherLoad() as load:
        for _ in range(rounds):
            for n_threads in best:
                with threadpool_limits(n_threads):
                    best[n_threads] = min(best[n_threads], timed(_numba_dot, a, a, out))
    flops = 2.0 * size**3
    lines.append(
        f"Numba-compiled np.dot of two {size}x{size} float64 matrices, best of {rounds}: "
        f"{fmt_time(best[1])} ({flops / best[1] / 1e9:.0f} GFLOP/s) under threadpool_limits(1), "
        f"{fmt_time(best[2])} ({flops / best[2] / 1e9:.0f} GFLOP/s) under threadpool_limits(2): "
        f"speed-up {best[1] / best[2]:.2f}x (about 2 expected on 2 idle cores; other processes "
        f"used {load.share:.0%} of the CPUs meanwhile)."
    )
    if behind_numba and any(
        Path(lib.filepath).resolve() not in linked for lib in blas
    ):  # numpy's own BLAS differs from SciPy's
        others = [Path(lib.filepath).name for lib in blas if lib not in behind_numba]
        lines.append(
            f"scikit-learn's matrix products go through NumPy's BLAS ({', '.join(others)}): the "
            f"two peers use different OpenBLAS builds; threadpool_limits sets both."
        )
    return lines


# --------------------------------------------------------------------------------------------
# The epochs


def time_epochs(X, y, classes, batch_size, thread_counts, repeats, sklearn_rows):
    """Interleaved epoch timings of both peers at one batch size, for each thread limit.

    Returns ``{n_threads: {"ours": [...], "sklearn": [...]}}`` in seconds per full epoch, and the
    number of rows scikit-learn was timed on (its times are scaled per sample to all rows).
    """
    n_samples = X.shape[0]
    rows = min(sklearn_rows, n_samples) if batch_size == 1 else n_samples
    X_theirs, y_theirs = X[:rows], y[:rows]
    scale = n_samples / rows
    expected_updates = updates_per_epoch(n_samples, batch_size)
    mine = ours(batch_size)
    other = theirs(n_samples if batch_size == "full" else batch_size)

    def check():
        record = mine.history_[-1]
        if record["n_updates"] != expected_updates or not np.isfinite(record["loss"]):
            raise RuntimeError(f"our epoch was not complete: {record}")
        if not np.isfinite(other.loss_):
            raise RuntimeError(f"scikit-learn's loss is not finite: {other.loss_}")

    for position, n_threads in enumerate(thread_counts):  # untimed warm-up epochs
        with threadpool_limits(n_threads):
            first = {"classes": classes} if position == 0 else {}
            mine.partial_fit(X, y, **first)
            other.partial_fit(X_theirs, y_theirs, **first)
            check()
    times = {n_threads: {"ours": [], "sklearn": []} for n_threads in thread_counts}
    for _ in range(repeats):
        for n_threads in thread_counts:
            with threadpool_limits(n_threads):
                times[n_threads]["ours"].append(timed(mine.partial_fit, X, y))
                times[n_threads]["sklearn"].append(
                    timed(other.partial_fit, X_theirs, y_theirs) * scale
                )
                check()
    return times, rows


def summarise(batch_size, n_threads, n_samples, times, sklearn_rows):
    ours_times = np.array(times["ours"])
    theirs_times = np.array(times["sklearn"])
    updates = updates_per_epoch(n_samples, batch_size)
    ours_median = median(ours_times)
    theirs_median = median(theirs_times)
    return {
        "batch_size": batch_size,
        "threads": n_threads,
        "updates_per_epoch": updates,
        "ours_s_per_epoch": ours_median,
        "sklearn_s_per_epoch": theirs_median,
        "ratio": theirs_median / ours_median,
        "paired_ratio_quartiles": quartiles(theirs_times / ours_times),
        "ours_s_per_step": ours_median / updates,
        "sklearn_s_per_step": theirs_median / updates,
        "sklearn_rows": sklearn_rows,
        "raw_ours": times["ours"],
        "raw_sklearn": times["sklearn"],
    }


def table(rows, n_samples, loads):
    header = (
        "| batch | BLAS threads | updates/epoch | ours s/epoch | sklearn s/epoch "
        "| sklearn/ours | paired ratio IQR | ours per step | sklearn per step | others' CPU |"
    )
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    scaled = set()
    for row in rows:
        mark = ""
        if row["sklearn_rows"] < n_samples:
            mark = "*"
            scaled.add(row["sklearn_rows"])
        low, high = row["paired_ratio_quartiles"]
        lines.append(
            f"| {row['batch_size']} | {row['threads']} | {row['updates_per_epoch']:,} "
            f"| {row['ours_s_per_epoch']:.3f} | {row['sklearn_s_per_epoch']:.3f}{mark} "
            f"| **{row['ratio']:.2f}x** | {low:.2f}-{high:.2f} "
            f"| {fmt_time(row['ours_s_per_step'])} | {fmt_time(row['sklearn_s_per_step'])}{mark} "
            f"| {loads[str(row['batch_size'])]:.0%} |"
        )
    for rows_timed in sorted(scaled):
        lines.append(
            f"\n\\* scikit-learn at batch size 1 was timed on the first {rows_timed:,} rows and "
            f"scaled per sample (x{n_samples / rows_timed:g}) to the {n_samples:,}-row epoch; "
            f"ours ran the full epoch."
        )
    return "\n".join(lines)


def target_lines(rows):
    lines = []
    for row in rows:
        if row["threads"] != 1 or row["batch_size"] not in TARGETS:
            continue
        target = TARGETS[row["batch_size"]]
        ratio = row["ratio"]
        verdict = (
            "met"
            if ratio >= target
            else f"needs {target / ratio:.2f}x more speed (our epoch at most "
            f"{fmt_time(row['sklearn_s_per_epoch'] / target)})"
        )
        lines.append(
            f"batch {row['batch_size']}: {ratio:.2f}x now, target >= {target:g}x: {verdict}"
        )
    return lines


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.epoch_time",
        description="Seconds per epoch of skminibatch and scikit-learn's MLPClassifier.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10,000 rows, 3 repeats, sklearn batch 1 on 500 rows, no cold compile",
    )
    parser.add_argument("--n-samples", type=int, help="rows of the data set (full: 50,000)")
    parser.add_argument("--repeats", type=int, help="timed epochs per cell (full: 11)")
    parser.add_argument(
        "--sklearn-rows", type=int, help="rows sklearn is timed on at batch size 1 (full: 2,000)"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="BLAS limits")
    parser.add_argument(
        "--cold-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time a first fit in a fresh process with an empty Numba cache",
    )
    parser.add_argument("--json", type=Path, help="write all raw timings to this file")
    args = parser.parse_args(argv)
    settings = dict(MODES["quick" if args.quick else "full"])
    for name in ("n_samples", "repeats", "sklearn_rows", "cold_compile"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    return args, settings


def main(argv=None):
    args, settings = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    print("# Seconds per epoch: skminibatch vs scikit-learn MLPClassifier\n")
    arguments = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"command: python -m benchmarks.epoch_time {arguments}")
    facts = machine_facts()
    for label, value in facts:
        print(f"{label}: {value}")
    n_samples = settings["n_samples"]
    X, y = make_data(n_samples)
    classes = np.unique(y)
    print(
        f"\ndata: make_classification({n_samples:,} x {X.shape[1]}, 20 informative, "
        f"{classes.size} classes, random_state=0), standardised, float64; network "
        f"{X.shape[1]}-128-64-{classes.size}, {n_parameters(X.shape[1], classes.size):,} "
        f"parameters; {settings['repeats']} timed epochs per cell (median)"
    )

    warnings.simplefilter("error", DivergenceWarning)
    first_seconds, cache_state = first_fit(X, y, classes)
    print(
        f"\nfirst fit in this process (batch 32, 1 thread, one epoch): {fmt_time(first_seconds)}"
    )
    print(f"  Numba cache before it: {cache_state}")
    cold = None
    if settings["cold_compile"]:
        cold, error = cold_compile()
        if cold is None:
            print(f"  cold compile run failed: {error}")
        else:
            print(
                f"  first fit in a fresh process with an empty Numba cache (2,048 rows): "
                f"{fmt_time(cold['first'])}, its second epoch {fmt_time(cold['second'])}, so "
                f"compiling costs about {fmt_time(cold['first'] - cold['second'])} "
                f"(import skminibatch + sklearn: {fmt_time(cold['import'])})"
            )

    print("\nBLAS and threads:")
    for line in numba_blas_check():
        print(f"  {line}")

    print("\nmeasuring:")
    rows = []
    loads = {}
    for batch_size in BATCH_SIZES:
        step_started = time.perf_counter()
        with OtherLoad() as load:
            times, sklearn_rows = time_epochs(
                X,
                y,
                classes,
                batch_size,
                args.threads,
                settings["repeats"],
                settings["sklearn_rows"],
            )
        loads[str(batch_size)] = load.share
        for n_threads in args.threads:
            rows.append(
                summarise(batch_size, n_threads, n_samples, times[n_threads], sklearn_rows)
            )
        print(
            f"  batch {batch_size}: {time.perf_counter() - step_started:.0f} s; other processes "
            f"used {load.share:.0%} of the CPUs meanwhile"
        )

    print("\n" + table(rows, n_samples, loads))
    print(
        f"\nsklearn/ours is the ratio of the medians; 'paired ratio IQR' is the interquartile "
        f"range of the per-repeat ratios of neighbouring (interleaved) runs. A step is one "
        f"optimizer update (s/epoch divided by updates/epoch). 'others' CPU' is the share of "
        f"the CPUs that other processes used while that batch size was measured: 2-thread "
        f"cells are unreliable when it is high.\n"
        f"first fit in this process: {fmt_time(first_seconds)} ({cache_state.split(' ')[0]} "
        f"Numba cache); a warm epoch at batch 32 and 1 thread: "
        f"{fmt_time(next(r['ours_s_per_epoch'] for r in rows if r['batch_size'] == 32))}"
    )
    print(
        "\nTargets (1 BLAS thread)"
        + ("" if n_samples == 50_000 else f" -- indicative only: {n_samples:,} rows, not 50,000")
        + ":"
    )
    for line in target_lines(rows):
        print(f"  {line}")
    print(
        f"\nload average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; "
        f"total time {time.perf_counter() - started:.0f} s"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "settings": settings,
                    "facts": dict(facts),
                    "first_fit_s": first_seconds,
                    "numba_cache": cache_state,
                    "cold_compile": cold,
                    "other_load": loads,
                    "rows": rows,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
