"""The floor of an epoch: its matrix products at this machine's measured rate, plus its updates.

For a network with layer sizes ``s_0 .. s_L`` and a batch of ``r`` rows, one step multiplies

* forward, every layer ``l``: ``(r, s_l) @ (s_l, s_l+1)``;
* weight gradient, every layer: ``(s_l, r) @ (r, s_l+1)`` (the activations transposed);
* input delta, every layer but the first: ``(r, s_l+1) @ (s_l+1, s_l)`` (the weights transposed),

``2 * r * s_l * s_l+1`` FLOPs each. Each product is timed at exactly its shape, dtype, memory
layout and BLAS thread count, in three ways: ``np.dot(..., out=...)`` in a Python loop (NumPy's
OpenBLAS), ``np.dot`` in a Numba-compiled loop (SciPy's OpenBLAS through ``cython_blas``) and
our kernels' ``_gemm`` in a Numba-compiled loop (the BLAS :mod:`skminibatch._blas` chose:
NumPy's OpenBLAS called from compiled code, without Python's per-call cost). The product's time
is the fastest of the three, under any thread count up to the limit (under a limit of 2, a
product that is faster on 1 thread counts at that speed). The floor of an epoch is the sum of
its batches' product times (the last, partial batch at its own shape) plus the updates per
epoch times the measured cost of one parameter update: a fused Numba loop over all parameters
doing SGD with Nesterov momentum (``v = m v + g; theta -= lr (g + m v)``).

Elementwise work (bias, activation, its derivative, the loss), gathering the batch's rows and
per-call overhead are not in the floor: "ours / floor" is what all of that plus any slower
product costs on top of the bare products.
"""

import math
import time
from itertools import pairwise

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from skminibatch._kernels import _gemm

KINDS = ("forward", "weight_gradient", "input_delta")
BLOCK_SECONDS = 0.01  # each timing block runs at least this long
BLOCKS = 3  # the median of this many blocks
MIN_CALLS = 3  # calls per block at least

jit = numba.njit(cache=False)


@jit
def _forward_scipy(A, W, Z, n):
    for _ in range(n):
        np.dot(A, W, Z)


@jit
def _weight_gradient_scipy(A, D, G, n):
    for _ in range(n):
        np.dot(A.T, D, G)


@jit
def _input_delta_scipy(D, W, D_in, n):
    for _ in range(n):
        np.dot(D, W.T, D_in)


@jit
def _forward_compiled(A, W, Z, n):
    for _ in range(n):
        _gemm(A, False, W, False, Z)


@jit
def _weight_gradient_compiled(A, D, G, n):
    for _ in range(n):
        _gemm(A, True, D, False, G)


@jit
def _input_delta_compiled(D, W, D_in, n):
    for _ in range(n):
        _gemm(D, False, W, True, D_in)


def _forward_numpy(A, W, Z, n):
    for _ in range(n):
        np.dot(A, W, out=Z)


def _weight_gradient_numpy(A, D, G, n):
    AT = A.T
    for _ in range(n):
        np.dot(AT, D, out=G)


def _input_delta_numpy(D, W, D_in, n):
    WT = W.T
    for _ in range(n):
        np.dot(D, WT, out=D_in)


@jit
def _nesterov_updates(theta, grad, velocity, lr, momentum, n):
    for _ in range(n):
        for p in range(theta.size):
            v = momentum * velocity[p] + grad[p]
            velocity[p] = v
            theta[p] -= lr * (grad[p] + momentum * v)


FUNCTIONS = {
    ("forward", "scipy"): _forward_scipy,
    ("weight_gradient", "scipy"): _weight_gradient_scipy,
    ("input_delta", "scipy"): _input_delta_scipy,
    ("forward", "compiled"): _forward_compiled,
    ("weight_gradient", "compiled"): _weight_gradient_compiled,
    ("input_delta", "compiled"): _input_delta_compiled,
    ("forward", "numpy"): _forward_numpy,
    ("weight_gradient", "numpy"): _weight_gradient_numpy,
    ("input_delta", "numpy"): _input_delta_numpy,
}


def _operands(kind, rows, fan_in, fan_out, dtype, rng):
    def normal(*shape):
        return rng.standard_normal(shape).astype(dtype)

    if kind == "forward":
        return normal(rows, fan_in), normal(fan_in, fan_out), np.empty((rows, fan_out), dtype)
    if kind == "weight_gradient":
        return normal(rows, fan_in), normal(rows, fan_out), np.empty((fan_in, fan_out), dtype)
    return normal(rows, fan_out), normal(fan_in, fan_out), np.empty((rows, fan_in), dtype)


def seconds_per_call(function, args):
    """Median over BLOCKS blocks of at least BLOCK_SECONDS (and MIN_CALLS calls) of
    ``function(*args, n)``, per call.

    The block size comes from the fastest of 5 single calls, and an untimed block runs first:
    with 2 BLAS threads, a call that finds OpenBLAS's second thread asleep takes a whole
    scheduler tick (8 ms measured, against 60 us awake), and a calibration on such a call
    would time almost nothing but wake-ups.
    """
    function(*args, 1)  # compile (Numba) and warm up
    once = np.inf
    for _ in range(5):
        start = time.perf_counter()
        function(*args, 1)
        once = min(once, time.perf_counter() - start)
    n = max(MIN_CALLS, math.ceil(BLOCK_SECONDS / max(once, 1e-7)))
    function(*args, min(n, MIN_CALLS))  # threads awake
    per_call = []
    for _ in range(BLOCKS):
        start = time.perf_counter()
        function(*args, n)
        per_call.append((time.perf_counter() - start) / n)
    return float(np.median(per_call))


class FloorMeter:
    """Measures and caches product times per shape, and update costs per parameter count."""

    def __init__(self):
        self.products = {}  # (kind, rows, fan_in, fan_out, dtype, threads) -> {method: seconds}
        self.updates = {}  # (n_params, dtype) -> seconds per update
        self._rng = np.random.default_rng(0)

    def product(self, kind, rows, fan_in, fan_out, dtype, threads):
        """Seconds of one product at this shape: the faster method, under the best thread
        count up to ``threads`` (a limit of 2 allows 1; OpenBLAS's second thread costs more than
        it brings on small products)."""
        best = np.inf
        for n_threads in range(1, threads + 1):
            key = (kind, rows, fan_in, fan_out, np.dtype(dtype).name, n_threads)
            if key not in self.products:
                args = _operands(kind, rows, fan_in, fan_out, np.dtype(dtype), self._rng)
                with threadpool_limits(n_threads):
                    self.products[key] = {
                        method: seconds_per_call(FUNCTIONS[kind, method], args)
                        for method in ("compiled", "scipy", "numpy")
                    }
            best = min(best, *self.products[key].values())
        return best

    def update(self, n_params, dtype):
        """Seconds of one fused Nesterov-SGD update of ``n_params`` parameters."""
        key = (n_params, np.dtype(dtype).name)
        if key not in self.updates:
            dtype = np.dtype(dtype)
            theta = self._rng.standard_normal(n_params).astype(dtype)
            grad = (self._rng.standard_normal(n_params) * 1e-3).astype(dtype)
            velocity = np.zeros(n_params, dtype)
            args = (theta, grad, velocity, dtype.type(1e-3), dtype.type(0.9))
            with threadpool_limits(1):
                self.updates[key] = seconds_per_call(_nesterov_updates, args)
        return self.updates[key]

    def step_products(self, rows, layer_sizes, dtype, threads):
        """Seconds of one step's matrix products on a batch of ``rows`` rows."""
        total = 0.0
        for layer, (fan_in, fan_out) in enumerate(pairwise(layer_sizes)):
            for kind in KINDS:
                if kind == "input_delta" and layer == 0:
                    continue
                total += self.product(kind, rows, fan_in, fan_out, dtype, threads)
        return total

    def epoch(self, n_samples, batch_size, layer_sizes, dtype, threads):
        """The floor of one epoch, as a dict of its parts (seconds) and FLOPs."""
        rows = n_samples if batch_size == "full" else min(batch_size, n_samples)
        full_batches, remainder = divmod(n_samples, rows)
        products = full_batches * self.step_products(rows, layer_sizes, dtype, threads)
        if remainder:
            products += self.step_products(remainder, layer_sizes, dtype, threads)
        n_updates = full_batches + (1 if remainder else 0)
        n_params = sum(a * b + b for a, b in pairwise(layer_sizes))
        update = self.update(n_params, dtype)
        flops = product_flops(n_samples, layer_sizes)
        return {
            "products_s": products,
            "update_s": update,
            "updates_s": n_updates * update,
            "floor_s": products + n_updates * update,
            "n_updates": n_updates,
            "n_params": n_params,
            "product_flops": flops,
            "product_gflops_per_s": flops / products / 1e9,
        }


def product_flops(n_samples, layer_sizes):
    """FLOPs of an epoch's matrix products: forward, weight gradients, input deltas."""
    pairs = list(pairwise(layer_sizes))
    macs = sum(a * b for a, b in pairs)
    return 2.0 * n_samples * (2 * macs + sum(a * b for a, b in pairs[1:]))


def torch_products_per_epoch(n_samples, batch_size, layer_sizes, dtype, threads):
    """The same epoch's products through ``torch.mm(..., out=...)`` in a Python loop (PyTorch's
    own BLAS), for comparison with the OpenBLAS floor; None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    rows = n_samples if batch_size == "full" else min(batch_size, n_samples)
    full_batches, remainder = divmod(n_samples, rows)

    def step(rows):
        total = 0.0
        for layer, (fan_in, fan_out) in enumerate(pairwise(layer_sizes)):
            for kind in KINDS:
                if kind == "input_delta" and layer == 0:
                    continue
                a, b, out = (
                    torch.from_numpy(x)
                    for x in _operands(kind, rows, fan_in, fan_out, np.dtype(dtype), rng)
                )
                if kind == "weight_gradient":
                    a = a.t()
                elif kind == "input_delta":
                    b = b.t()

                def run(a, b, out, n):
                    for _ in range(n):
                        torch.mm(a, b, out=out)

                total += seconds_per_call(run, (a, b, out))
        return total

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        seconds = full_batches * step(rows) + (step(remainder) if remainder else 0.0)
    finally:
        torch.set_num_threads(previous)
    return seconds
