"""Where one epoch of ours spends its time, piece by piece (by default at 1 BLAS thread).

``python -m benchmarks.profile_epoch [--n-samples N] [--repeats R] [--batch-sizes 1 32 full]
[--threads T]``

For each batch size it times, on the benchmark data and network (see :mod:`epoch_time`):

* ``partial_fit``: one epoch through the estimator, as the user calls it;
* ``train_epoch``: the compiled epoch alone, called directly on prepared arrays (the difference
  is the estimator's per-call Python work: validation, shuffling, buffer allocation, copies);
* cumulative prefixes of the compiled epoch, each a compiled loop over the same batches calling
  skminibatch's own kernels: gather only, gather + forward pass, gather + forward + loss +
  backward pass (``batch_gradient``); and the optimizer steps alone. Differences of prefixes
  give each piece's share;
* at full batch only, a prototype: the same gradient computed in 1,024-row chunks straight from
  X (a full batch's gradient does not depend on the row order, so no gather is needed), with
  the chunks' gradients summed -- what cache-sized blocks would save;
* the BLAS floor: only the epoch's matrix products (3 forward, 3 weight-gradient and 2
  input-delta products per batch, same shapes and layouts as the kernels), from compiled code
  and from NumPy, next to a large matrix product's GFLOP/s (what the core can do).

The pieces are private kernels of skminibatch; this profile follows them as they are today and
needs updating when their signatures change. Nothing here is asserted.
"""

import argparse
import sys
import time
from itertools import pairwise

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from skminibatch import _kernels, _network

from ._common import (
    HIDDEN,
    LEARNING_RATE,
    MOMENTUM,
    OtherLoad,
    fmt_time,
    make_data,
    median,
    ours,
)

jit = numba.njit(cache=False)
CHUNK_ROWS = 1024


@jit
def _gather_only(X, Y, sample_weight, order, batch_size, Xb, Yb, swb):
    n = order.size
    for start in range(0, n, batch_size):
        rows = order[start : min(start + batch_size, n)]
        _kernels._gather(X, Y, sample_weight, rows, Xb, Yb, swb)


@jit
def _gather_forward(X, Y, sample_weight, order, batch_size, theta, layer_sizes, Xb, Yb, swb, acts):
    n = order.size
    n_features = X.shape[1]
    weight_offsets, bias_offsets, _ = _kernels.parameter_layout(layer_sizes)
    act_offsets, _ = _kernels.activation_layout(layer_sizes, min(batch_size, n))
    for start in range(0, n, batch_size):
        rows = order[start : min(start + batch_size, n)]
        _kernels._gather(X, Y, sample_weight, rows, Xb, Yb, swb)
        _kernels._forward(
            _kernels._matrix(Xb, 0, rows.size, n_features),
            theta,
            layer_sizes,
            weight_offsets,
            bias_offsets,
            act_offsets,
            _kernels.RELU,
            acts,
        )


@jit
def _gather_gradient(
    X, Y, sample_weight, order, batch_size, theta, layer_sizes, Xb, Yb, swb, acts, deltas, grad
):
    n = order.size
    n_features = X.shape[1]
    n_outputs = Y.shape[1]
    weight_offsets, bias_offsets, _ = _kernels.parameter_layout(layer_sizes)
    act_offsets, _ = _kernels.activation_layout(layer_sizes, min(batch_size, n))
    total = 0.0
    for start in range(0, n, batch_size):
        rows = order[start : min(start + batch_size, n)]
        n_rows = rows.size
        _kernels._gather(X, Y, sample_weight, rows, Xb, Yb, swb)
        objective = _kernels.batch_gradient(
            _kernels._matrix(Xb, 0, n_rows, n_features),
            _kernels._matrix(Yb, 0, n_rows, n_outputs),
            swb[:n_rows],
            theta,
            layer_sizes,
            weight_offsets,
            bias_offsets,
            act_offsets,
            _kernels.RELU,
            _kernels.SOFTMAX_LOG_LOSS,
            1.0,
            0.0,
            acts,
            deltas,
            grad,
        )
        total += objective
    return total


@jit
def _optimizer_only(theta, grad, state, n_steps, lr, momentum, tiny):
    for step in range(1, n_steps + 1):
        _kernels.optimizer_step(
            theta, grad, state, _kernels.SGD, lr, momentum, True, 0.9, 0.999, 1e-8, step, tiny
        )


@jit
def _chunked_gradient(X, Y, sample_weight, theta, layer_sizes, chunk, acts, deltas, grad, total):
    weight_offsets, bias_offsets, n_parameters = _kernels.parameter_layout(layer_sizes)
    act_offsets, _ = _kernels.activation_layout(layer_sizes, chunk)
    n = X.shape[0]
    total[:] = 0.0
    objective = 0.0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        chunk_objective = _kernels.batch_gradient(
            X[start:stop],
            Y[start:stop],
            sample_weight[start:stop],
            theta,
            layer_sizes,
            weight_offsets,
            bias_offsets,
            act_offsets,
            _kernels.RELU,
            _kernels.SOFTMAX_LOG_LOSS,
            1.0,
            0.0,
            acts,
            deltas,
            grad,
        )
        objective += chunk_objective * (stop - start)
        for p in range(n_parameters):
            total[p] += grad[p] * (stop - start)
    for p in range(n_parameters):
        total[p] /= n
    return objective / n


def _product_operands(batch_rows, layer_sizes, rng):
    """Operands of one batch's matrix products, in the kernels' shapes and memory layouts."""
    sizes = [int(s) for s in layer_sizes]
    acts = [rng.standard_normal((batch_rows, s)) for s in sizes]
    weights = [rng.standard_normal((a, b)) * 0.1 for a, b in pairwise(sizes)]
    grads = [np.empty_like(w) for w in weights]
    deltas = [np.empty((batch_rows, s)) for s in sizes]
    return acts, weights, grads, deltas


@jit
def _products_compiled(n_batches, a0, a1, a2, a3, w0, w1, w2, g0, g1, g2, d1, d2, d3):
    for _ in range(n_batches):
        np.dot(a0, w0, a1)  # forward
        np.dot(a1, w1, a2)
        np.dot(a2, w2, a3)
        np.dot(a2.T, d3, g2)  # weight gradients
        np.dot(a1.T, d2, g1)
        np.dot(a0.T, d1, g0)
        np.dot(d3, w2.T, d2)  # input deltas (none for the input layer)
        np.dot(d2, w1.T, d1)


def _products_numpy(n_batches, a0, a1, a2, a3, w0, w1, w2, g0, g1, g2, d1, d2, d3):
    for _ in range(n_batches):
        np.dot(a0, w0, out=a1)
        np.dot(a1, w1, out=a2)
        np.dot(a2, w2, out=a3)
        np.dot(a2.T, d3, out=g2)
        np.dot(a1.T, d2, out=g1)
        np.dot(a0.T, d1, out=g0)
        np.dot(d3, w2.T, out=d2)
        np.dot(d2, w1.T, out=d1)


def product_flops(n_samples, layer_sizes):
    """FLOPs of an epoch's matrix products: forward, weight gradients, input deltas."""
    pairs = list(pairwise(layer_sizes))
    macs = sum(a * b for a, b in pairs)
    return 2.0 * n_samples * (2 * macs + sum(a * b for a, b in pairs[1:]))


def profile(X, y, batch_size, repeats, n_threads=1):
    """Median seconds per epoch of each piece at one batch size and BLAS thread limit."""
    n_samples, n_features = X.shape
    classes = np.unique(y)
    Y = np.zeros((n_samples, classes.size))
    Y[np.arange(n_samples), np.searchsorted(classes, y)] = 1.0
    sample_weight = np.ones(n_samples)
    layer_sizes = _network.make_layer_sizes(n_features, HIDDEN, classes.size)
    rows = n_samples if batch_size == "full" else batch_size
    n_batches = -(-n_samples // rows)
    theta0 = _network.initial_parameters(
        layer_sizes, "glorot_uniform", np.random.RandomState(0), np.float64
    )
    act_size = _kernels.activation_layout(layer_sizes, rows)[1]
    Xb, Yb, swb = np.empty(rows * n_features), np.empty(rows * classes.size), np.empty(rows)
    acts, deltas, grad = np.empty(act_size), np.empty(act_size), np.empty(theta0.size)
    state = np.zeros(theta0.size)
    rng = np.random.default_rng(0)
    order = rng.permutation(n_samples).astype(np.int64)
    tiny = float(np.finfo(np.float64).tiny)

    def epoch(workspace):
        theta = theta0.copy()
        _kernels.train_epoch(
            X, Y, sample_weight, order, rows, False, theta, layer_sizes, _kernels.RELU,
            _kernels.SOFTMAX_LOG_LOSS, 1.0, 0.0, _kernels.SGD, LEARNING_RATE, MOMENTUM, True,
            0.9, 0.999, 1e-8, state.copy(), 0, tiny, *workspace,
        )  # fmt: skip

    def fresh_workspace():
        return (
            np.empty(rows * n_features),
            np.empty(rows * classes.size),
            np.empty(rows),
            np.empty(act_size),
            np.empty(act_size),
            np.empty(theta0.size),
        )

    products = _product_operands(rows, layer_sizes, rng)
    product_args = (n_batches, *products[0], *products[1], *products[2], *products[3][1:])
    # The last batch is partial when rows does not divide n: the floor uses full batches only,
    # a (slight) overestimate of the products' work.
    pieces = {
        "partial_fit (estimator)": None,
        "train_epoch (compiled epoch)": lambda: epoch((Xb, Yb, swb, acts, deltas, grad)),
        "train_epoch, fresh np.empty buffers": lambda: epoch(fresh_workspace()),
        "gather": lambda: _gather_only(X, Y, sample_weight, order, rows, Xb, Yb, swb),
        "gather + forward": lambda: _gather_forward(
            X, Y, sample_weight, order, rows, theta0, layer_sizes, Xb, Yb, swb, acts
        ),
        "gather + forward + loss + backward": lambda: _gather_gradient(
            X, Y, sample_weight, order, rows, theta0, layer_sizes, Xb, Yb, swb, acts, deltas, grad
        ),
        "optimizer steps only": lambda: _optimizer_only(
            theta0.copy(), grad, state.copy(), n_batches, LEARNING_RATE, MOMENTUM, tiny
        ),
        "matrix products only, compiled (Numba -> SciPy BLAS)": lambda: _products_compiled(
            *product_args
        ),
        "matrix products only, NumPy (NumPy's BLAS)": lambda: _products_numpy(*product_args),
    }
    if batch_size == "full" and n_samples > CHUNK_ROWS:
        chunk_size = _kernels.activation_layout(layer_sizes, CHUNK_ROWS)[1]
        chunk_buffers = (np.zeros(chunk_size), np.zeros(chunk_size), np.empty(theta0.size))
        total = np.empty(theta0.size)
        pieces[f"prototype: loss + gradient in {CHUNK_ROWS:,}-row chunks, no gather"] = lambda: (
            _chunked_gradient(
                X, Y, sample_weight, theta0, layer_sizes, CHUNK_ROWS, *chunk_buffers, total
            )
        )
    agreement = None
    if batch_size == "full" and n_samples > CHUNK_ROWS:
        _gather_gradient(
            X, Y, sample_weight, order, rows, theta0, layer_sizes, Xb, Yb, swb, acts, deltas, grad
        )
        _chunked_gradient(
            X, Y, sample_weight, theta0, layer_sizes, CHUNK_ROWS, *chunk_buffers, total
        )
        agreement = float(np.abs(total - grad).max() / np.abs(grad).max())
    estimator = ours(batch_size)
    with threadpool_limits(n_threads), OtherLoad() as load:
        estimator.partial_fit(X, y, classes=classes)
        pieces["partial_fit (estimator)"] = lambda: estimator.partial_fit(X, y)
        for run in pieces.values():  # compile and warm up
            run()
        times = {name: [] for name in pieces}
        for _ in range(repeats):
            for name, run in pieces.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    medians = {name: median(values) for name, values in times.items()}
    return medians, n_batches, load.share, agreement


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


def report(batch_size, medians, n_batches, n_samples, layer_sizes, peak, other_load, agreement):
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
    }
    flops = product_flops(n_samples, layer_sizes)
    lines = [
        f"\n## batch size {batch_size}: {n_batches:,} updates per epoch\n",
        f"(other processes used {other_load:.0%} of the CPUs during these measurements)\n",
        "| piece | s/epoch | share of train_epoch | per step |",
        "|---|---|---|---|",
    ]
    for name, seconds in [*medians.items(), *derived.items()]:
        lines.append(
            f"| {name} | {seconds:.4f} | {seconds / epoch:.0%} | {fmt_time(seconds / n_batches)} |"
        )
    simple = 6.0 * n_samples * _network.n_parameters(np.asarray(layer_sizes))
    compiled = medians["matrix products only, compiled (Numba -> SciPy BLAS)"]
    numpy_products = medians["matrix products only, NumPy (NumPy's BLAS)"]
    lines.append(
        f"\nmatrix-product FLOPs per epoch: {flops / 1e9:.2f} GFLOP (the 6 * n * n_params "
        f"estimate: {simple / 1e9:.2f}; the input layer needs no input delta); at the large "
        f"product's {peak:.0f} GFLOP/s they would take {fmt_time(flops / peak / 1e9)}. "
        f"Achieved: train_epoch {flops / epoch / 1e9:.1f} GFLOP/s, products alone compiled "
        f"{flops / compiled / 1e9:.1f}, NumPy {flops / numpy_products / 1e9:.1f}."
    )
    if agreement is not None:
        lines.append(
            f"The chunked prototype's gradient matches the kernel's full-batch gradient to "
            f"{agreement:.1e} (largest difference relative to the largest gradient entry)."
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_epoch")
    parser.add_argument("--n-samples", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", nargs="+", default=["1", "32", "full"])
    parser.add_argument("--threads", type=int, default=1, help="BLAS thread limit")
    args = parser.parse_args(argv)
    X, y = make_data(args.n_samples)
    layer_sizes = [X.shape[1], *HIDDEN, np.unique(y).size]
    peak = peak_gflops()
    print(
        f"# Where our epoch's time goes ({args.n_samples:,} rows, "
        f"threadpool_limits({args.threads}))"
    )
    print(
        f"\nmedian of {args.repeats} runs per piece, pieces interleaved; large float64 matrix "
        f"product (NumPy, 1500x1500, 1 thread): {peak:.0f} GFLOP/s"
    )
    for name in args.batch_sizes:
        batch_size = name if name == "full" else int(name)
        medians, n_batches, other_load, agreement = profile(
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
                agreement,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
