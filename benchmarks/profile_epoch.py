"""Where one epoch of ours spends its time, piece by piece (by default at 1 BLAS thread).

``python -m benchmarks.profile_epoch [--n-samples N] [--repeats R] [--batch-sizes 1 32 full]
[--threads T] [--dtype float64|float32]``

For each batch size it times, on the benchmark data and network (workload (b), see
:mod:`benchmarks._workloads`):

* ``partial_fit``: one epoch through the estimator, as the user calls it;
* ``train_epoch``: the compiled epoch alone, replayed with the very arguments the trainer passed
  it in a ``partial_fit`` (captured by wrapping ``_kernels.train_epoch`` for one call), so the
  difference is the estimator's per-call Python work: validation, shuffling, buffer allocation;
* cumulative prefixes of the compiled epoch, each a compiled loop over the same batches (and,
  as the kernels do, over chunks of at most ``CHUNK_ROWS`` rows) calling skminibatch's own
  kernels: gather only, gather + forward pass, gather + forward + loss + backward pass
  (``batch_gradient``); and the optimizer steps alone. Differences of prefixes give each
  piece's share;
* the epoch's matrix products alone (3 forward, 3 weight-gradient and 2 input-delta products
  per chunk, at the kernels' chunk shapes and layouts), through the kernels' ``_gemm`` and from
  NumPy, next to a large matrix product's GFLOP/s (what the core can do), and the suite's floor
  (:mod:`benchmarks._floor`: products at each step's own shapes plus the updates).

At batch size 1 the compiled epoch takes the single-sample path instead of these pieces; the
report says so. The pieces call private kernels of skminibatch; this profile follows their
signatures as they are today and needs updating when those change (the arguments themselves
come from the trainer).
Nothing here is asserted.
"""

import argparse
import inspect
import sys
import time
from itertools import pairwise

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from skminibatch import _kernels

from ._common import HIDDEN, OtherLoad, fmt_time, make_data, median, ours
from ._floor import FloorMeter, product_flops

jit = numba.njit(cache=False)


@jit
def _gather_only(X, Y, sample_weight, order, batch_size, chunk_rows, ws):
    n = order.size
    for start in range(0, n, batch_size):
        rows = order[start : min(start + batch_size, n)]
        for first in range(0, rows.size, chunk_rows):
            chunk = rows[first : min(first + chunk_rows, rows.size)]
            _kernels._gather(X, Y, sample_weight, chunk, ws.Xb, ws.Yb, ws.swb)


@jit
def _gather_forward(
    X, Y, sample_weight, order, batch_size, chunk_rows, theta, layout, hyper, dropout, rng, ws
):
    n = order.size
    for start in range(0, n, batch_size):
        rows = order[start : min(start + batch_size, n)]
        for first in range(0, rows.size, chunk_rows):
            chunk = rows[first : min(first + chunk_rows, rows.size)]
            _kernels._gather(X, Y, sample_weight, chunk, ws.Xb, ws.Yb, ws.swb)
            _kernels._forward(
                _kernels._input_rows(X, ws.Xb, chunk.size),
                theta,
                layout,
                hyper.activation,
                dropout,
                rng,
                ws.acts,
                ws.masks,
            )


@jit
def _gradients(X, Y, sample_weight, order, batch_size, theta, layout, hyper, dropout, rng, ws):
    n = order.size
    no_norms = np.empty(0, theta.dtype)
    total = 0.0
    for start in range(0, n, batch_size):
        rows = order[start : min(start + batch_size, n)]
        total += _kernels.batch_gradient(
            X,
            Y,
            sample_weight,
            rows,
            1.0 / rows.size,
            False,
            theta,
            layout,
            hyper,
            dropout,
            rng,
            ws,
            no_norms,
        )
    return total


@jit
def _optimizer_only(theta, grad, state, n_updates, lr, hyper):
    for step in range(1, n_updates + 1):
        _kernels.optimizer_step(theta, grad, state, lr, step, hyper)


def _product_operands(rows, layer_sizes, dtype, rng):
    """Operands of one chunk's matrix products, in the kernels' shapes and memory layouts."""
    sizes = [int(s) for s in layer_sizes]
    acts = [rng.standard_normal((rows, s)).astype(dtype) for s in sizes]
    weights = [(rng.standard_normal((a, b)) * 0.1).astype(dtype) for a, b in pairwise(sizes)]
    grads = [np.empty_like(w) for w in weights]
    deltas = [np.empty((rows, s), dtype) for s in sizes]
    return acts, weights, grads, deltas


@jit
def _products_compiled(n_calls, acts, weights, grads, deltas):
    n_layers = len(weights)
    for _ in range(n_calls):
        for layer in range(n_layers):  # forward
            _kernels._gemm(acts[layer], False, weights[layer], False, acts[layer + 1])
        for layer in range(n_layers - 1, -1, -1):  # backward
            _kernels._gemm(acts[layer], True, deltas[layer + 1], False, grads[layer])
            if layer > 0:
                _kernels._gemm(deltas[layer + 1], False, weights[layer], True, deltas[layer])


def _products_numpy(n_calls, acts, weights, grads, deltas):
    n_layers = len(weights)
    for _ in range(n_calls):
        for layer in range(n_layers):
            np.dot(acts[layer], weights[layer], out=acts[layer + 1])
        for layer in range(n_layers - 1, -1, -1):
            np.dot(acts[layer].T, deltas[layer + 1], out=grads[layer])
            if layer > 0:
                np.dot(deltas[layer + 1], weights[layer].T, out=deltas[layer])


def capture_epoch_arguments(estimator, X, y):
    """The named arguments the trainer passes to ``train_epoch`` in one ``partial_fit``.

    Arrays the epoch changes (parameters, optimizer state) are copied before the call.
    """
    original = _kernels.train_epoch
    signature = inspect.signature(original)
    captured = {}

    def spy(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        captured.update(
            {
                name: value.copy() if isinstance(value, np.ndarray) else value
                for name, value in bound.arguments.items()
            }
        )
        return original(*args, **kwargs)

    _kernels.train_epoch = spy
    try:
        estimator.partial_fit(X, y)
    finally:
        _kernels.train_epoch = original
    return captured


def profile(X, y, batch_size, repeats, n_threads=1):
    """Median seconds per epoch of each piece at one batch size and BLAS thread limit."""
    n_samples = X.shape[0]
    classes = np.unique(y)
    estimator = ours(batch_size)
    with threadpool_limits(n_threads):
        estimator.partial_fit(X, y, classes=classes)
    args = capture_epoch_arguments(estimator, X, y)
    rows = args["batch_size"]
    n_batches = -(-n_samples // rows)
    chunk_rows = _kernels.CHUNK_ROWS
    layer_sizes = np.asarray(args["layout"].sizes)
    theta0, state0 = args["theta"], args["state"]
    ws, hyper, layout = args["ws"], args["hyper"], args["layout"]
    common = (args["X"], args["Y"], args["sample_weight"], args["order"], rows)
    dropout, rng_state = args["dropout"], args["rng_state"]

    def epoch():
        replay = dict(args, theta=theta0.copy(), state=state0.copy())
        _kernels.train_epoch(*replay.values())

    chunk = min(rows, chunk_rows)
    products = _product_operands(chunk, layer_sizes, X.dtype, np.random.default_rng(0))
    product_args = tuple(numba.typed.List(group) for group in products)
    n_calls = n_batches * -(-rows // chunk_rows)
    pieces = {
        "partial_fit (estimator)": lambda: estimator.partial_fit(X, y),
        "train_epoch (compiled epoch)": epoch,
        "gather": lambda: _gather_only(*common, chunk_rows, ws),
        "gather + forward": lambda: _gather_forward(
            *common, chunk_rows, theta0, layout, hyper, dropout, rng_state.copy(), ws
        ),
        "gather + forward + loss + backward": lambda: _gradients(
            *common, theta0, layout, hyper, dropout, rng_state.copy(), ws
        ),
        "optimizer steps only": lambda: _optimizer_only(
            theta0.copy(), ws.grad, state0.copy(), n_batches, args["learning_rates"][0], hyper
        ),
        "matrix products only, compiled (the kernels' _gemm)": lambda: _products_compiled(
            n_calls, *product_args
        ),
        "matrix products only, NumPy (NumPy's BLAS)": lambda: _products_numpy(n_calls, *products),
    }
    with threadpool_limits(n_threads), OtherLoad() as load:
        for run in pieces.values():  # compile and warm up
            run()
        times = {name: [] for name in pieces}
        for _ in range(repeats):
            for name, run in pieces.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    medians = {name: median(values) for name, values in times.items()}
    floor = FloorMeter().epoch(n_samples, batch_size, layer_sizes.tolist(), X.dtype, n_threads)
    return medians, n_batches, load.share, floor


def peak_gflops(size=1500, rounds=3):
    a = np.random.default_rng(0).standard_normal((size, size))
    out = np.empty_like(a)
    best = np.inf
    with threadpool_limits(1):
        for _ in range(rounds + 1):
            start = time.perf_counter()
            np.dot(a, a, out=out)
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def report(batch_size, medians, n_batches, n_samples, layer_sizes, peak, other_load, floor):
    epoch = medians["train_epoch (compiled epoch)"]
    gather = medians["gather"]
    forward = medians["gather + forward"] - gather
    backward = medians["gather + forward + loss + backward"] - medians["gather + forward"]
    optimizer = medians["optimizer steps only"]
    derived = {
        "  = gather (copy the batch's rows)": gather,
        "  = forward pass": forward,
        "  = loss + backward pass": backward,
        "  = optimizer steps": optimizer,
        "  = rest (train_epoch - the four above)": epoch - gather - forward - backward - optimizer,
        "suite floor: products at the step's shapes + updates": floor["floor_s"],
    }
    flops = product_flops(n_samples, layer_sizes)
    lines = [
        f"\n## batch size {batch_size}: {n_batches:,} updates per epoch\n",
        f"(other processes used {other_load:.0%} of the CPUs during these measurements)\n",
        *(
            [
                "At batch size 1 `train_epoch` takes the single-sample path "
                "(`_kernels._sample_epoch`); the pieces below time the batch path's kernels at "
                "one row, so they do not add up to it and 'rest' is negative.\n"
            ]
            if batch_size == 1
            else []
        ),
        "| piece | s/epoch | share of train_epoch | per step |",
        "|---|---|---|---|",
    ]
    for name, seconds in [*medians.items(), *derived.items()]:
        lines.append(
            f"| {name} | {seconds:.4f} | {seconds / epoch:.0%} | {fmt_time(seconds / n_batches)} |"
        )
    compiled = medians["matrix products only, compiled (the kernels' _gemm)"]
    numpy_products = medians["matrix products only, NumPy (NumPy's BLAS)"]
    lines.append(
        f"\nmatrix-product FLOPs per epoch: {flops / 1e9:.2f} GFLOP (the input layer needs no "
        f"input delta); at the large product's {peak:.0f} GFLOP/s they would take "
        f"{fmt_time(flops / peak / 1e9)}. Achieved: train_epoch {flops / epoch / 1e9:.1f} "
        f"GFLOP/s, products alone (chunks of at most {_kernels.CHUNK_ROWS} rows) compiled "
        f"{flops / compiled / 1e9:.1f}, NumPy {flops / numpy_products / 1e9:.1f}; the suite "
        f"floor's products (each step's own shape) {floor['product_gflops_per_s']:.1f}."
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_epoch")
    parser.add_argument("--n-samples", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", nargs="+", default=["1", "32", "full"])
    parser.add_argument("--threads", type=int, default=1, help="BLAS thread limit")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = parser.parse_args(argv)
    X, y = make_data(args.n_samples)
    X = X.astype(args.dtype)
    layer_sizes = [X.shape[1], *HIDDEN, np.unique(y).size]
    peak = peak_gflops()
    print(
        f"# Where our epoch's time goes ({args.n_samples:,} rows, {args.dtype}, "
        f"threadpool_limits({args.threads}))"
    )
    print(f"\nthe kernels' BLAS: {_kernels.BLAS_LIBRARY}")
    print(
        f"\nmedian of {args.repeats} runs per piece, pieces interleaved; large float64 matrix "
        f"product (NumPy, 1500x1500, 1 thread): {peak:.0f} GFLOP/s"
    )
    for name in args.batch_sizes:
        batch_size = name if name == "full" else int(name)
        medians, n_batches, other_load, floor = profile(
            X, y, batch_size, args.repeats, args.threads
        )
        print(
            report(
                batch_size,
                medians,
                n_batches,
                args.n_samples,
                layer_sizes,
                peak,
                other_load,
                floor,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
