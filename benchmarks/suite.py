"""The benchmark suite: time per epoch of skminibatch and its peers, floors, start-up, memory.

``python -m benchmarks`` (about 15 minutes on an idle machine) or ``python -m benchmarks --quick``
(a few minutes: batch sizes 1, 32 and full, 5,000 rows for (b) and (c), 3 repeats, no cold
compile), from the repository root. In one run:

* **Time per epoch, side by side.** For each workload (:mod:`benchmarks._workloads`), dtype
  (float64, float32) and batch size (1, 4, 16, 32, 128, 512, full), every peer
  (:mod:`benchmarks._peers`: skminibatch, scikit-learn's ``MLPClassifier`` / ``MLPRegressor``
  with ``solver='sgd'``, a plain PyTorch loop, skorch) trains one untimed epoch under each BLAS
  thread limit, then timed epochs are interleaved: every repeat runs each peer once under each
  limit, in an order that rotates between repeats. BLAS is limited with
  ``threadpoolctl.threadpool_limits`` to 1 and 2 threads and PyTorch with
  ``torch.set_num_threads`` to the same count. Each cell is the median over the repeats.
  A peer whose epoch takes less than 0.1 s runs an untimed epoch right before each timed one
  (see :func:`time_cell`), so that short epochs are timed in the steady state of a fit loop.
* **Subsets.** A peer other than skminibatch whose epoch at a batch size would take longer than
  ``--budget`` seconds is timed on the first rows of the data only (a multiple of the batch
  size, sized from one probe epoch) and its time is scaled per sample to the full epoch; such
  cells are marked ``*`` with the rows used. skminibatch always runs the full epoch, and no peer
  uses a subset at full batch (that would change the batch).
* **Floors** (:mod:`benchmarks._floor`): the epoch's matrix products at the rate measured at
  exactly their shapes, dtype and thread count, plus one measured parameter update per step.
* **Start-up and memory** (:mod:`benchmarks._startup`), each in a fresh process: the first fit
  with a warm Numba cache, the first fit with an empty cache (compilation) per dtype, and the
  peak resident memory of a fit, ours against scikit-learn's, on workload (b).
* **Figure**: seconds per epoch against batch size (log-log) for workload (b), float64, 1
  thread, with the floor, saved to ``benchmarks/epoch_time.png`` and
  ``benchmarks/README_epoch_time.png``.

Nothing is asserted: the run prints Markdown tables and how each target fares. ``--json`` saves
every raw timing.
"""

import argparse
import gc
import hashlib
import json
import platform
import shutil
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import skminibatch

from . import _startup
from ._common import REPO, OtherLoad, fmt_time, git_revision, machine_facts
from ._floor import FloorMeter, torch_products_per_epoch
from ._peers import ALL_PEERS, Sklearn, available_peers
from ._workloads import WORKLOADS

HERE = Path(__file__).resolve().parent
BATCH_SIZES = (1, 4, 16, 32, 128, 512, "full")
MODES = {
    "full": {
        "batch_sizes": BATCH_SIZES,
        "repeats": 7,
        "repeats_small": 15,  # workload (a): epochs of a few ms need more repeats
        "n_samples": None,  # the workloads' own sizes: 500, 50,000, 50,000
        "budget": 0.3,
        "min_rows": 512,
        "figure": HERE / "epoch_time.png",
        "memory_rows": 50_000,
        "cell_cap": 30.0,
        "cold_compile": True,
    },
    "quick": {
        "batch_sizes": (1, 32, "full"),
        "repeats": 3,
        "repeats_small": 5,
        "n_samples": 5_000,
        "budget": 0.05,
        "min_rows": 256,
        "figure": None,
        "memory_rows": 10_000,
        "cell_cap": 8.0,
        "cold_compile": False,
    },
}
PEER_ORDER = ("ours", "sklearn", "torch", "skorch")
LABELS = {name: cls.label for name, cls in ALL_PEERS.items()}

# Targets of the performance issue. Ratios are a peer's seconds per epoch over ours.
SKLEARN_TARGETS = {"b": {1: 20.0, 32: 6.0, 512: 2.0, "full": 1.2}, "a": {1: 100.0}}
FLOOR_TARGET = 1.5
FIRST_FIT_TARGET = 1.0
COLD_COMPILE_TARGET = 10.0
MEMORY_MARGIN_MB = 150.0


def timed(function, warm_up=False):
    """Seconds of one call, after a garbage collection and, with ``warm_up``, an untimed call
    (both outside the timing)."""
    gc.collect()
    if warm_up:
        function()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


@contextmanager
def thread_limit(n_threads):
    """BLAS and OpenMP limited with threadpoolctl, and PyTorch's own pool (when imported)."""
    torch = sys.modules.get("torch")
    previous = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(n_threads):
        if torch is not None:
            torch.set_num_threads(n_threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(previous)


def batch_label(batch_size):
    return str(batch_size)


# --------------------------------------------------------------------------------------------
# Timing one cell: one workload, dtype and batch size, every peer, every thread limit


def choose_rows(peer_class, workload, X, y, batch_size, threads, budget, min_rows):
    """Rows to time ``peer_class`` on: all of them, or a subset sized from probe epochs.

    One probe epoch on a few hundred rows under each thread limit; the slowest per-sample time
    decides, so that no limit's epochs exceed the budget by much.
    """
    n = X.shape[0]
    if not peer_class.may_use_subset or batch_size == "full" or batch_size >= n:
        return n
    probe_rows = min(n, max(256, 16 * batch_size) // batch_size * batch_size)
    probe = peer_class(workload, X, y, batch_size, probe_rows)
    per_sample = 0.0
    for position, n_threads in enumerate(threads):
        with thread_limit(n_threads):
            if position == 0:
                probe.first_epoch()
            per_sample = max(per_sample, timed(probe.epoch) / probe_rows)
    rows = int(budget / per_sample) // batch_size * batch_size
    rows = max(rows, -(-min_rows // batch_size) * batch_size, probe_rows)
    return n if rows >= 0.75 * n else rows


# A peer whose epoch is shorter than this runs an untimed epoch right before each timed one.
WARM_UP_BELOW_S = 0.1


def time_cell(workload, X, y, batch_size, peer_classes, threads, repeats, budget, min_rows, cap):
    """Interleaved epoch timings; returns ``{threads: {peer: [seconds per full epoch]}}``,
    the rows each peer ran on, the others' CPU share and notes.

    Each timed epoch of a peer whose epoch is short (below ``WARM_UP_BELOW_S``) follows an
    untimed one of the same peer: after the garbage collection that precedes every timing and
    the other peers' epochs, the first sub-millisecond epoch runs on cold caches and costs up
    to twice the next one (measured on workload (a): 0.9 ms against 0.5 ms), which is what a
    fit loop pays per epoch.

    Stops after fewer repeats (at least 3) once the timed repeats have taken ``cap`` seconds:
    on a loaded machine a 2-thread epoch can take 10-100x longer than usual.
    """
    n = X.shape[0]
    rows = {
        cls.name: choose_rows(cls, workload, X, y, batch_size, threads, budget, min_rows)
        for cls in peer_classes
    }
    peers = [cls(workload, X, y, batch_size, rows[cls.name]) for cls in peer_classes]
    notes = {}
    for position, n_threads in enumerate(threads):  # untimed first epochs
        with thread_limit(n_threads):
            for peer in peers:
                (peer.first_epoch if position == 0 else peer.epoch)()
                peer.check()
    with thread_limit(threads[0]):
        short = {peer.name: timed(peer.epoch) < WARM_UP_BELOW_S for peer in peers}
    notes["warmed_up"] = sorted(name for name, is_short in short.items() if is_short)
    for peer in peers:
        if isinstance(peer, Sklearn):
            notes["sklearn_dtype"] = str(peer.trained_dtype())
    times = {t: {peer.name: [] for peer in peers} for t in threads}
    inner = {t: [] for t in threads}
    started = time.perf_counter()
    with OtherLoad() as load:
        for repeat in range(repeats):
            shift = repeat % len(peers)
            order = peers[shift:] + peers[:shift]
            for n_threads in threads:
                with thread_limit(n_threads):
                    for peer in order:
                        seconds = timed(peer.epoch, warm_up=short[peer.name])
                        times[n_threads][peer.name].append(seconds * n / peer.rows)
                        if peer.name == "ours":
                            inner[n_threads].append(peer.inner_seconds())
                        peer.check()
            if repeat + 1 >= 3 and time.perf_counter() - started > cap:
                break
    notes["repeats"] = repeat + 1
    notes["ours_inner_s"] = {t: values for t, values in inner.items() if None not in values}
    return times, rows, load.share, notes


def summarise(times, rows, n, ours_inner=None):
    """Medians, and each peer's median and quartiles of its paired ratio to ours.

    ``ours_inner``: seconds of our training loop alone per epoch (from ``history_``), which
    gives our per-call overhead: the epoch minus its training loop.
    """
    out = {}
    ours = np.array(times["ours"])
    for name, values in times.items():
        values = np.array(values)
        ratio = values / ours
        out[name] = {
            "median_s": float(np.median(values)),
            "ratio_to_ours": float(np.median(values) / np.median(ours)),
            "paired_ratio_quartiles": [float(q) for q in np.percentile(ratio, [25, 75])],
            "rows": rows[name],
            "scaled": rows[name] < n,
            "raw_s": [float(v) for v in values],
        }
    if ours_inner:
        out["ours"]["overhead_s"] = float(np.median(ours - np.array(ours_inner)))
    return out


# --------------------------------------------------------------------------------------------
# Reports


def updates_per_epoch(n, batch_size):
    return 1 if batch_size == "full" else -(-n // batch_size)


def cell_table(results, workload_key, dtype, n_threads, peer_names):
    """Markdown table: one row per batch size for one workload, dtype and thread limit."""
    cells = [
        c
        for c in results["cells"]
        if c["workload"] == workload_key and c["dtype"] == dtype and n_threads in c["by_threads"]
    ]
    if not cells:
        return ""
    n = cells[0]["n_samples"]
    others = [p for p in peer_names if p != "ours"]
    header = ["batch", "updates", "ours", "ours' per-call overhead", "floor", "ours/floor"]
    for name in others:
        header += [LABELS[name], f"{name}/ours"]
    header.append("others' CPU")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    footnotes, capped, warmed = [], [], []
    for cell in cells:
        stats = cell["by_threads"][n_threads]
        floor = cell["floor"].get(str(n_threads))
        ours = stats["ours"]["median_s"]
        overhead = stats["ours"].get("overhead_s")
        row = [
            batch_label(cell["batch_size"]),
            f"{updates_per_epoch(n, cell['batch_size']):,}",
            fmt_time(ours),
            fmt_time(overhead) if overhead is not None else "n/a",
            fmt_time(floor["floor_s"]) if floor else "n/a",
            f"{ours / floor['floor_s']:.2f}" if floor else "n/a",
        ]
        for name in others:
            if name not in stats:
                row += ["not run", ""]
                continue
            peer = stats[name]
            mark = "*" if peer["scaled"] else ""
            if peer["scaled"]:
                footnotes.append(
                    f"{LABELS[name]} at batch {cell['batch_size']}: {peer['rows']:,} rows "
                    f"(x{n / peer['rows']:.3g})"
                )
            row += [f"{fmt_time(peer['median_s'])}{mark}", f"**{peer['ratio_to_ours']:.2f}x**"]
        row.append(f"{cell['other_load']:.0%}")
        lines.append("| " + " | ".join(row) + " |")
        if cell["notes"]["repeats"] < cell["repeats_wanted"]:
            capped.append(f"batch {cell['batch_size']}: {cell['notes']['repeats']}")
        if cell["notes"].get("warmed_up"):
            names = ", ".join(LABELS[name] for name in cell["notes"]["warmed_up"])
            warmed.append(f"batch {cell['batch_size']}: {names}")
    if footnotes:
        lines.append(
            "\n\\* timed on the first rows only and scaled per sample to the "
            f"{n:,}-row epoch: " + "; ".join(footnotes) + "."
        )
    if capped:
        lines.append(
            f"\nFewer than {cells[0]['repeats_wanted']} repeats (the cell hit its time cap): "
            + "; ".join(capped)
            + "."
        )
    if warmed:
        lines.append(
            "\nEach timed epoch right after an untimed one (epochs under "
            f"{WARM_UP_BELOW_S:g} s): " + "; ".join(warmed) + "."
        )
    return "\n".join(lines)


def target_report(results):
    """Each target with the measured value, met or missed and by how much."""
    lines = []
    cells = results["cells"]

    def find(workload, dtype, batch_size, n_threads=1):
        for cell in cells:
            if (
                cell["workload"] == workload
                and cell["dtype"] == dtype
                and cell["batch_size"] == batch_size
                and n_threads in cell["by_threads"]
            ):
                return cell["by_threads"][n_threads], cell
        return None, None

    for workload, targets in SKLEARN_TARGETS.items():
        for dtype in ("float64", "float32"):
            for batch_size, target in targets.items():
                stats, _ = find(workload, dtype, batch_size)
                if stats is None or "sklearn" not in stats:
                    continue
                ratio = stats["sklearn"]["ratio_to_ours"]
                verdict = (
                    "met"
                    if ratio >= target
                    else f"MISSED: needs {target / ratio:.2f}x more speed (our epoch at most "
                    f"{fmt_time(stats['sklearn']['median_s'] / target)}, now "
                    f"{fmt_time(stats['ours']['median_s'])})"
                )
                lines.append(
                    f"({workload}) {dtype}, 1 thread, batch {batch_size}: sklearn/ours "
                    f"{ratio:.2f}x, target >= {target:g}x: {verdict}"
                )
    for workload in sorted({c["workload"] for c in cells}):
        for dtype in ("float64", "float32"):
            for n_threads in results["settings"]["threads"]:
                slower = {"sklearn": [], "torch": [], "floor": []}
                checked = {"sklearn": 0, "torch": 0, "floor": 0}
                for cell in cells:
                    if cell["workload"] != workload or cell["dtype"] != dtype:
                        continue
                    stats = cell["by_threads"].get(n_threads)
                    if stats is None:
                        continue
                    for name in ("sklearn", "torch"):
                        if name in stats:
                            checked[name] += 1
                            if stats[name]["ratio_to_ours"] <= 1.0:
                                slower[name].append(
                                    f"{cell['batch_size']}: {stats[name]['ratio_to_ours']:.2f}x"
                                )
                    floor = cell["floor"].get(str(n_threads))
                    if floor:
                        checked["floor"] += 1
                        ratio = stats["ours"]["median_s"] / floor["floor_s"]
                        if ratio > FLOOR_TARGET:
                            slower["floor"].append(f"{cell['batch_size']}: {ratio:.2f}")
                prefix = f"({workload}) {dtype}, {n_threads} thread(s)"
                if checked["torch"]:
                    lines.append(
                        f"{prefix}: faster than the PyTorch loop at every batch size: "
                        + (
                            "met"
                            if not slower["torch"]
                            else "MISSED at batch " + ", ".join(slower["torch"]) + " (torch/ours)"
                        )
                    )
                if checked["floor"]:
                    lines.append(
                        f"{prefix}: within {FLOOR_TARGET}x of the floor at every batch size: "
                        + (
                            "met"
                            if not slower["floor"]
                            else "MISSED at batch " + ", ".join(slower["floor"]) + " (ours/floor)"
                        )
                    )
                if workload == "a" and checked["sklearn"]:
                    lines.append(
                        f"{prefix}: faster than sklearn at every batch size: "
                        + (
                            "met"
                            if not slower["sklearn"]
                            else "MISSED at batch " + ", ".join(slower["sklearn"])
                        )
                    )
    startup = results.get("startup") or {}
    for dtype, runs in (startup.get("first_fit_warm") or {}).items():
        fit = float(np.median([r["first_fit_s"] for r in runs]))
        lines.append(
            f"first fit in a new process, warm cache, {dtype}: {fmt_time(fit)} "
            f"(target < {FIRST_FIT_TARGET:g} s: {'met' if fit < FIRST_FIT_TARGET else 'MISSED'})"
        )
    for dtype, run in (startup.get("cold_compile") or {}).items():
        if "error" in run:
            continue
        compile_s = compile_seconds(run)
        lines.append(
            f"cold compile, {dtype}: {fmt_time(compile_s)} (target < {COLD_COMPILE_TARGET:g} s: "
            f"{'met' if compile_s < COLD_COMPILE_TARGET else 'MISSED'})"
        )
    memory = startup.get("peak_memory") or {}
    for batch in ("full", "32"):
        ours, theirs = memory.get(f"ours/{batch}"), memory.get(f"sklearn/{batch}")
        if ours and theirs:
            excess = ours["peak_mb"] - theirs["peak_mb"]
            lines.append(
                f"peak memory, (b) batch {batch}: ours {ours['peak_mb']:.0f} MB, sklearn "
                f"{theirs['peak_mb']:.0f} MB, ours - sklearn = {excess:+.0f} MB (target <= "
                f"+{MEMORY_MARGIN_MB:g} MB: {'met' if excess <= MEMORY_MARGIN_MB else 'MISSED'})"
            )
    return lines


def compile_seconds(run):
    """Compilation in a cold-cache process: first fit + predict minus the second ones."""
    return (
        run["first_fit_s"] + run["first_predict_s"] - run["second_fit_s"] - run["second_predict_s"]
    )


def startup_report(startup):
    lines = []
    warm = startup.get("first_fit_warm") or {}
    if warm:
        lines += [
            "| dtype | import skminibatch | first fit | first predict | second fit | runs |",
            "|---|---|---|---|---|---|",
        ]
        for dtype, runs in warm.items():

            def med(key, runs=runs):
                return fmt_time(float(np.median([r[key] for r in runs])))

            lines.append(
                f"| {dtype} | {med('import_s')} | {med('first_fit_s')} | "
                f"{med('first_predict_s')} | {med('second_fit_s')} | {len(runs)} |"
            )
        lines.append(
            "\nWarm cache: a new process, Numba's cache already holding every kernel; each "
            "value is the median over the runs. A fit is `fit` with `max_iter=1` on workload "
            "(a), batch 32."
        )
    cold = startup.get("cold_compile") or {}
    if cold:
        lines += [
            "\n| dtype | import | first fit | first predict | second fit | compile |",
            "|---|---|---|---|---|---|",
        ]
        for dtype, run in cold.items():
            if "error" in run:
                lines.append(f"| {dtype} | failed: {run['error']} | | | | |")
                continue
            lines.append(
                f"| {dtype} | {fmt_time(run['import_s'])} | {fmt_time(run['first_fit_s'])} | "
                f"{fmt_time(run['first_predict_s'])} | {fmt_time(run['second_fit_s'])} | "
                f"**{fmt_time(compile_seconds(run))}** |"
            )
        lines.append(
            "\nCold cache: a new process with `NUMBA_CACHE_DIR` set to a fresh empty directory, "
            "one per dtype. compile = first fit + first predict - second fit - second predict."
        )
    memory = startup.get("peak_memory") or {}
    if memory:
        lines += [
            "\n| library | batch | after import | data loaded | peak (ru_maxrss) | peak - loaded "
            "| VmHWM | fit time |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key, run in memory.items():
            library, batch = key.split("/")
            lines.append(
                f"| {LABELS[library]} | {batch} | {run['after_import_mb']:.0f} MB | "
                f"{run['before_fit_mb']:.0f} MB | **{run['peak_mb']:.0f} MB** | "
                f"{run['peak_mb'] - run['before_fit_mb']:.0f} MB | {run['vm_hwm_mb']:.0f} MB | "
                f"{fmt_time(run['fit_s'])} |"
            )
        lines.append(
            f"\nOne process per line: import the library, load workload (b) "
            f"({startup.get('memory_rows', 0):,} rows, float64) from .npy files, then one "
            f"`fit` with `max_iter=1`."
        )
    return "\n".join(lines)


def figure(results, path, workload="b", dtype="float64", n_threads=1):
    """Log-log seconds per epoch against batch size; hollow markers for subset-scaled cells."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib): no figure"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [
        c
        for c in results["cells"]
        if c["workload"] == workload and c["dtype"] == dtype and n_threads in c["by_threads"]
    ]
    if not cells:
        return "no cells for the figure"
    n = cells[0]["n_samples"]

    def x_of(batch_size):
        return n if batch_size == "full" else batch_size

    fig, ax = plt.subplots(figsize=(7.5, 5))
    styles = {"ours": "o-", "sklearn": "s-", "torch": "^-", "skorch": "D-"}
    for name in PEER_ORDER:
        points = [
            (x_of(c["batch_size"]), c["by_threads"][n_threads][name])
            for c in cells
            if name in c["by_threads"][n_threads]
        ]
        if not points:
            continue
        xs = [x for x, _ in points]
        ys = [p["median_s"] for _, p in points]
        (line,) = ax.plot(xs, ys, styles[name], label=LABELS[name])
        scaled = [(x, p["median_s"]) for x, p in points if p["scaled"]]
        if scaled:
            ax.plot(
                *zip(*scaled, strict=True),
                styles[name][0],
                markerfacecolor="white",
                color=line.get_color(),
            )
    floors = [
        (x_of(c["batch_size"]), c["floor"][str(n_threads)]["floor_s"])
        for c in cells
        if str(n_threads) in c["floor"]
    ]
    if floors:
        ax.plot(*zip(*floors, strict=True), "k--", label="floor (products + updates)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [x_of(c["batch_size"]) for c in cells]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"full\n({n:,})" if t == n else str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("batch size")
    ax.set_ylabel("seconds per epoch (median)")
    ax.set_title(
        f"Workload ({workload}): {n:,} x 100, hidden (128, 64), 5 classes; {dtype}, "
        f"{n_threads} BLAS thread",
        fontsize=10,
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title="hollow: timed on a subset, scaled", fontsize=9, title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


# --------------------------------------------------------------------------------------------
# Facts


def package_fingerprint():
    """Where skminibatch was imported from and a hash of its source files."""
    folder = Path(skminibatch.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"{folder} (sha256 of its *.py: {digest.hexdigest()[:12]})"


def suite_facts():
    facts = machine_facts()
    folder = Path(skminibatch.__file__).resolve().parent
    if folder != REPO / "skminibatch":
        facts = [
            (
                label,
                f"{skminibatch.__version__} from outside this checkout (which is at "
                f"{git_revision()})"
                if label == "skminibatch"
                else value,
            )
            for label, value in facts
        ]
    facts.insert(2, ("skminibatch imported from", package_fingerprint()))
    for module in ("torch", "skorch", "matplotlib"):
        try:
            imported = __import__(module)
        except ImportError:
            facts.append((module, "not installed"))
            continue
        version = imported.__version__
        if module == "torch":
            config = imported.__config__.show()
            blas = next(
                (part.split("=", 1)[1] for part in config.split(", ") if "BLAS_INFO=" in part),
                "?",
            )
            version += (
                f" (BLAS: {blas}; CPU capability used: "
                f"{imported.backends.cpu.get_cpu_capability()}; intra-op threads at start: "
                f"{imported.get_num_threads()})"
            )
        facts.append((module, version))
    facts.append(("platform", platform.platform()))
    return facts


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Seconds per epoch of skminibatch and its peers, floors, start-up, memory.",
    )
    parser.add_argument("--quick", action="store_true", help="a short run (a few minutes)")
    parser.add_argument(
        "--workloads", nargs="+", choices=sorted(WORKLOADS), default=sorted(WORKLOADS)
    )
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batch-sizes", nargs="+", help="e.g. 1 32 full")
    parser.add_argument("--peers", nargs="+", choices=PEER_ORDER, default=list(PEER_ORDER))
    parser.add_argument("--repeats", type=int, help="timed epochs per cell, (b) and (c)")
    parser.add_argument("--n-samples", type=int, help="rows of (b) and (c) (full: 50,000)")
    parser.add_argument(
        "--budget", type=float, help="seconds above which a slow peer is timed on a subset"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the floors")
    parser.add_argument("--no-startup", action="store_true", help="skip start-up and memory")
    parser.add_argument(
        "--cold-compile",
        action=argparse.BooleanOptionalAction,
        help="time compiling with an empty Numba cache (default: in the full run only)",
    )
    parser.add_argument("--json", type=Path, help="write all results and raw timings here")
    parser.add_argument("--markdown", type=Path, help="write the report (Markdown) here too")
    parser.add_argument(
        "--figure",
        type=Path,
        help="figure path (full run: benchmarks/epoch_time.png; 'none' for no figure)",
    )
    args = parser.parse_args(argv)
    settings = dict(MODES["quick" if args.quick else "full"])
    if args.batch_sizes:
        settings["batch_sizes"] = tuple(b if b == "full" else int(b) for b in args.batch_sizes)
    for name in ("repeats", "n_samples", "budget", "cold_compile"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    if args.figure is not None:
        settings["figure"] = None if str(args.figure) == "none" else args.figure
    settings.update(
        workloads=args.workloads,
        dtypes=args.dtypes,
        threads=args.threads,
        peers=args.peers,
        floor=not args.no_floor,
        startup=not args.no_startup,
        quick=args.quick,
    )
    return args, settings


def run_startup(settings, say):
    startup = {"first_fit_warm": {}, "cold_compile": {}, "peak_memory": {}}
    for dtype in settings["dtypes"]:
        say(f"  first fit with a warm cache, {dtype} (one warming process + 3 measured)")
        startup["first_fit_warm"][dtype] = _startup.first_fit_warm(dtype)
    for dtype in settings["dtypes"] if settings["cold_compile"] else ():
        say(f"  cold compile, {dtype} (a fresh NUMBA_CACHE_DIR)")
        try:
            startup["cold_compile"][dtype] = _startup.cold_compile(dtype)
        except RuntimeError as error:
            startup["cold_compile"][dtype] = {"error": str(error)}
    rows = settings["memory_rows"]
    X, y = WORKLOADS["b"].data(rows)
    say(f"  peak memory, workload (b), {rows:,} rows: ours and sklearn at full batch and 32")
    cases = [("ours", "full"), ("sklearn", "full"), ("ours", 32), ("sklearn", 32)]
    for (library, batch), run in _startup.peak_memory(X, y, cases).items():
        startup["peak_memory"][f"{library}/{batch}"] = run
    startup["memory_rows"] = rows
    return startup


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args, settings = parse_args(argv)
    started = time.perf_counter()
    report = []

    def say(text=""):
        print(text, flush=True)

    def out(text=""):
        say(text)
        report.append(text)

    out("# Benchmark suite: skminibatch vs scikit-learn, PyTorch and skorch\n")
    out(f"command: `python -m benchmarks {' '.join(argv)}`".replace(" `", "`"))
    peer_classes, notes = available_peers(settings["peers"])
    if "torch" in [c.name for c in peer_classes] or "skorch" in [c.name for c in peer_classes]:
        import torch  # noqa: F401  (imported once, before any timing)
    facts = suite_facts()
    out()
    for label, value in facts:
        out(f"- {label}: {value}")
    for note in notes:
        out(f"- NOTE: {note}")
    out(
        f"- settings: batch sizes {', '.join(map(str, settings['batch_sizes']))}; "
        f"{settings['repeats']} timed epochs per cell ({settings['repeats_small']} for (a)); "
        f"subset budget {settings['budget']} s per timed epoch (at least "
        f"{settings['min_rows']:,} rows); threads {settings['threads']}"
    )
    warnings.simplefilter("ignore")  # sklearn's batch-size clipping and convergence warnings
    # Four libraries in one process make ~300,000 tracked objects: a full collection then takes
    # 0.15 s (measured), before every timed epoch and inside any epoch whose garbage triggers
    # one. Freezing them (they live as long as the process) keeps collections as cheap as in a
    # process that imports one library.
    gc.collect()
    gc.freeze()

    results = {"settings": {**settings, "figure": str(settings["figure"])}, "cells": []}
    results["facts"] = dict(facts)
    results["notes"] = notes
    meter = FloorMeter()
    say("\nmeasuring:")
    for key in settings["workloads"]:
        workload = WORKLOADS[key]
        n_samples = None if key == "a" else settings["n_samples"]
        X64, y = workload.data(n_samples)
        n = X64.shape[0]
        layer_sizes = workload.layer_sizes(X64.shape[1], workload.n_outputs(y))
        repeats = settings["repeats_small"] if key == "a" else settings["repeats"]
        for dtype in settings["dtypes"]:
            X = np.ascontiguousarray(X64, dtype=dtype)
            for batch_size in settings["batch_sizes"]:
                if batch_size != "full" and batch_size >= n:
                    say(f"  ({key}) {dtype} batch {batch_size}: skipped, not below {n} rows")
                    continue
                step_started = time.perf_counter()
                times, rows, load, cell_notes = time_cell(
                    workload,
                    X,
                    y,
                    batch_size,
                    peer_classes,
                    settings["threads"],
                    repeats,
                    settings["budget"],
                    settings["min_rows"],
                    settings["cell_cap"],
                )
                cell = {
                    "workload": key,
                    "dtype": dtype,
                    "batch_size": batch_size,
                    "n_samples": n,
                    "layer_sizes": layer_sizes,
                    "other_load": load,
                    "notes": cell_notes,
                    "repeats_wanted": repeats,
                    "by_threads": {
                        t: summarise(times[t], rows, n, cell_notes["ours_inner_s"].get(t))
                        for t in settings["threads"]
                    },
                    "floor": {},
                }
                results["cells"].append(cell)
                ours1 = cell["by_threads"][settings["threads"][0]]["ours"]["median_s"]
                say(
                    f"  ({key}) {dtype} batch {batch_size}: "
                    f"{time.perf_counter() - step_started:.0f} s, ours {fmt_time(ours1)}"
                    + "".join(
                        f", {name} {stats['ratio_to_ours']:.2f}x"
                        for name, stats in cell["by_threads"][settings["threads"][0]].items()
                        if name != "ours"
                    )
                    + f"; others' CPU {load:.0%}"
                )
        if settings["floor"]:
            floor_started = time.perf_counter()
            with OtherLoad() as load:
                for cell in results["cells"]:
                    if cell["workload"] != key:
                        continue
                    for n_threads in settings["threads"]:
                        cell["floor"][str(n_threads)] = meter.epoch(
                            n, cell["batch_size"], layer_sizes, cell["dtype"], n_threads
                        )
            say(
                f"  ({key}) floors: {time.perf_counter() - floor_started:.0f} s; others' CPU "
                f"{load.share:.0%}"
            )

    side = {}
    if settings["floor"] and "b" in settings["workloads"] and "torch" in settings["peers"]:
        say("  products of (b) through torch.mm, 1 thread (side measurement)")
        n_b = next(c["n_samples"] for c in results["cells"] if c["workload"] == "b")
        sizes_b = next(c["layer_sizes"] for c in results["cells"] if c["workload"] == "b")
        for dtype in settings["dtypes"]:
            for batch_size in settings["batch_sizes"]:
                if batch_size in (1, 4):  # Python's per-call cost dominates: not informative
                    continue
                seconds = torch_products_per_epoch(n_b, batch_size, sizes_b, dtype, 1)
                if seconds is not None:
                    side[f"{dtype}/{batch_size}"] = seconds
    results["torch_products"] = side

    if settings["startup"]:
        say("\nstart-up and memory (subprocesses):")
        results["startup"] = run_startup(settings, say)

    figure_note = None
    if settings["figure"] is not None and "b" in settings["workloads"]:
        figure_note = figure(results, settings["figure"])
        if figure_note is None:
            copy = Path(settings["figure"]).with_name("README_" + Path(settings["figure"]).name)
            shutil.copyfile(settings["figure"], copy)
            figure_note = f"figure written to {settings['figure']} and {copy}"

    peer_names = [c.name for c in peer_classes]
    out("\n## Seconds per epoch (medians), peers' ratios to ours, floors")
    out(
        "\n'x/ours' is the peer's median over ours (above 1: we are faster). 'ours/floor' is our "
        "median over the floor (1 would be only the matrix products and updates). 'others' CPU' "
        "is the share of the 2 CPUs other processes used while the cell was measured. \"ours' "
        "per-call overhead\" is our `partial_fit` minus its training loop (the epoch's "
        "`seconds` in `history_`): validation, target encoding, set-up, unpacking."
    )
    for key in settings["workloads"]:
        for dtype in settings["dtypes"]:
            for n_threads in settings["threads"]:
                table = cell_table(results, key, dtype, n_threads, peer_names)
                if table:
                    out(f"\n### {WORKLOADS[key].title}; {dtype}; {n_threads} thread(s)\n")
                    out(table)
    sklearn_dtypes = sorted(
        {c["notes"].get("sklearn_dtype") for c in results["cells"] if c["dtype"] == "float32"}
        - {None}
    )
    if sklearn_dtypes:
        out(
            f"\nscikit-learn given float32 input trained in: {', '.join(sklearn_dtypes)} "
            "(its coefs_ dtype)."
        )
    if side:
        out("\n### Products of an epoch of (b), 1 thread: OpenBLAS (the floor) vs torch.mm\n")
        out("| dtype | batch | floor's products (OpenBLAS) | torch.mm (Python loop) |")
        out("|---|---|---|---|")
        for cell in results["cells"]:
            key = f"{cell['dtype']}/{cell['batch_size']}"
            if cell["workload"] == "b" and key in side and "1" in cell["floor"]:
                out(
                    f"| {cell['dtype']} | {cell['batch_size']} | "
                    f"{fmt_time(cell['floor']['1']['products_s'])} | {fmt_time(side[key])} |"
                )
    if results.get("startup"):
        out("\n## Start-up and memory\n")
        out(startup_report(results["startup"]))
    out("\n## Targets\n")
    if settings["n_samples"] not in (None, 50_000):
        out(f"(indicative only: (b) and (c) ran on {settings['n_samples']:,} rows, not 50,000)\n")
    for line in target_report(results):
        out(f"- {line}")
    if figure_note:
        out(f"\n{figure_note}")
    total = time.perf_counter() - started
    out(
        f"\nload average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; "
        f"total time {total:.0f} s"
    )
    results["total_s"] = total
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if args.markdown:
        args.markdown.write_text("\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
