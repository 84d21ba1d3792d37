"""Side measurement: would product loops of our own beat OpenBLAS at (b)'s shapes?

``python -m benchmarks.blocked_product [--repeats R]``

This environment exports ``OPENBLAS_CORETYPE=Haswell``, which holds OpenBLAS to its AVX2
kernels, while Numba compiles for the host CPU (AVX-512 here). This script times, in one
process at 1 BLAS thread, the forward products ``A @ W`` of workload (b) (``A`` the batch's
rows or activations, ``W`` the weights, both C-ordered, as the kernels hold them) two ways:
the kernels' ``_gemm`` (NumPy's OpenBLAS) and a register-blocked Numba loop (``ROWS`` rows of
``A`` times ``DEPTH`` rows of ``W`` per sweep along ``W``'s rows, which LLVM vectorises), and
checks that the two agree; then every float64 product of a (b) step at batch 32 and 512,
including the weight gradients ``A.T @ D`` (the same loop, ``A`` read transposed) and the input
deltas ``D @ W.T`` (blocks of dot products), with the step's totals. Run it twice, as given
and with ``env -u OPENBLAS_CORETYPE``, to see whether the loops win only because OpenBLAS is
held back. ``benchmarks/RESULTS.md`` records both runs. The timings are reported, not
asserted; the package does not use the loops.
"""

import argparse
import os
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from skminibatch._kernels import _gemm

# Forward products of workload (b): (batch rows, fan_in, fan_out), layers 1 and 2.
SHAPES = [(m, k, n) for m in (32, 128, 512) for k, n in ((100, 128), (128, 64))]
BLOCKS = ((4, 4), (8, 4))  # (ROWS, DEPTH) of the blocked loop
LAYERS = ((100, 128), (128, 64), (64, 5))  # (fan_in, fan_out) of (b)'s layers
STEP_ROWS = (32, 512)  # the batch sizes of the missed targets
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}  # the kernels' flags
FLOPS_PER_TIMING = 2e8


def blocked_product(rows, depth, transposed=False):
    """A compiled ``product(A, W, C)`` computing ``C = A @ W`` (``A.T @ W`` if
    ``transposed``: the weight gradients), ``rows`` x ``depth`` blocked.

    The loop body is written out for the block (``rows * depth`` scalars of ``op(A)`` held
    while one sweep along ``W``'s rows updates ``rows`` rows of ``C``), so it is generated as
    source; the scalars are loaded outside the sweep, so ``A``'s layout does not matter.
    """

    def a(i, p):
        return f"A[{p}, {i}]" if transposed else f"A[{i}, {p}]"

    lines = [
        "def product(A, W, C):",
        "    m, n = C.shape",
        "    k = W.shape[0]",
        "    C[:] = 0",
        f"    for i in range(0, m - m % {rows}, {rows}):",
        "        p = 0",
        f"        while p + {depth} <= k:",
        *(
            f"            a{r}_{q} = {a(f'i + {r}', f'p + {q}')}"
            for r in range(rows)
            for q in range(depth)
        ),
        "            for j in range(n):",
        *(f"                w{q} = W[p + {q}, j]" for q in range(depth)),
        *(
            f"                C[i + {r}, j] += "
            + " + ".join(f"a{r}_{q} * w{q}" for q in range(depth))
            for r in range(rows)
        ),
        f"            p += {depth}",
        "        for p in range(p, k):",
        "            for j in range(n):",
        *(f"                C[i + {r}, j] += {a(f'i + {r}', 'p')} * W[p, j]" for r in range(rows)),
        f"    for i in range(m - m % {rows}, m):",
        "        for p in range(k):",
        "            for j in range(n):",
        f"                C[i, j] += {a('i', 'p')} * W[p, j]",
    ]
    namespace = {}
    exec("\n".join(lines), namespace)
    return numba.njit(fastmath=FASTMATH)(namespace["product"])


def blocked_dot_product(rows, cols):
    """A compiled ``product(D, W, C)`` computing ``C = D @ W.T`` (the deltas sent back through
    a layer), as ``rows`` x ``cols`` blocks of dot products along the rows of ``D`` and ``W``,
    both contiguous there, which LLVM vectorises as reductions."""
    lines = [
        "def product(D, W, C):",
        "    m, n = C.shape",
        "    k = D.shape[1]",
        f"    for i in range(0, m - m % {rows}, {rows}):",
        f"        for j in range(0, n - n % {cols}, {cols}):",
        *(f"            s{r}_{q} = 0.0" for r in range(rows) for q in range(cols)),
        "            for p in range(k):",
        *(f"                d{r} = D[i + {r}, p]" for r in range(rows)),
        *(f"                w{q} = W[j + {q}, p]" for q in range(cols)),
        *(f"                s{r}_{q} += d{r} * w{q}" for r in range(rows) for q in range(cols)),
        *(f"            C[i + {r}, j + {q}] = s{r}_{q}" for r in range(rows) for q in range(cols)),
        f"        for j in range(n - n % {cols}, n):",
        *(f"            C[i + {r}, j] = 0.0" for r in range(rows)),
        "            for p in range(k):",
        *(f"                C[i + {r}, j] += D[i + {r}, p] * W[j, p]" for r in range(rows)),
        f"    for i in range(m - m % {rows}, m):",
        "        for j in range(n):",
        "            total = 0.0",
        "            for p in range(k):",
        "                total += D[i, p] * W[j, p]",
        "            C[i, j] = total",
    ]
    namespace = {}
    exec("\n".join(lines), namespace)
    return numba.njit(fastmath=FASTMATH)(namespace["product"])


@numba.njit
def _repeat_openblas(A, W, C, repeats):
    for _ in range(repeats):
        _gemm(A, False, W, False, C)


@numba.njit
def _repeat_gemm(A, trans_a, B, trans_b, C, repeats):
    for _ in range(repeats):
        _gemm(A, trans_a, B, trans_b, C)


@numba.njit
def _repeat(product, A, W, C, repeats):
    for _ in range(repeats):
        product(A, W, C)


def _rate(repeat, arguments, flops, repeats):
    """GFLOP/s of the best of ``repeats`` timings of ``repeat(*arguments)`` (one untimed
    call first)."""
    return flops / _best(repeat, arguments, repeats) / 1e9


def _seconds(function, arguments):
    start = time.perf_counter()
    function(*arguments)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.blocked_product")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    products = {block: blocked_product(*block) for block in BLOCKS}
    rng = np.random.default_rng(0)
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; 1 BLAS thread")
    header = " | ".join(f"loop {r}x{d} | loop/OpenBLAS" for r, d in BLOCKS)
    print(f"| dtype | rows x fan_in x fan_out | OpenBLAS GFLOP/s | {header} |")
    print("|---|---|---|" + "---|---|" * len(BLOCKS))
    for dtype in (np.float64, np.float32):
        for m, k, n in SHAPES:
            A = rng.standard_normal((m, k)).astype(dtype)
            W = rng.standard_normal((k, n)).astype(dtype)
            expected, C = np.empty((m, n), dtype), np.empty((m, n), dtype)
            calls = max(1, int(FLOPS_PER_TIMING / (2 * m * k * n)))
            flops = 2 * m * k * n * calls
            cells = []
            with threadpool_limits(1):
                reference = _rate(_repeat_openblas, (A, W, expected, calls), flops, args.repeats)
                for product in products.values():
                    rate = _rate(_repeat, (product, A, W, C, calls), flops, args.repeats)
                    tolerance = 1e-4 if dtype == np.float32 else 1e-10
                    np.testing.assert_allclose(C, expected, rtol=tolerance, atol=tolerance)
                    cells += [f"{rate:.0f}", f"{rate / reference:.2f}"]
            print(
                f"| {dtype.__name__} | {m} x {k} x {n} | {reference:.0f} | {' | '.join(cells)} |"
            )
    print()
    _step_products(rng, args.repeats)


def _step_products(rng, repeats):
    """Time every matrix product of a (b) training step in float64, OpenBLAS against a loop
    of each kind: forward ``A @ W`` and weight gradient ``A.T @ D`` (8 x 4 blocks), input delta
    ``D @ W.T`` (4 x 4 blocks of dot products); print each and the step's totals."""
    forward, gradient = blocked_product(8, 4), blocked_product(8, 4, transposed=True)
    delta = blocked_dot_product(4, 4)
    print("float64, every product of a (b) step, microseconds per call (1 BLAS thread):")
    print("| rows | product | OpenBLAS | loop | loop/OpenBLAS speed |")
    print("|---|---|---|---|---|")
    for m in STEP_ROWS:
        totals = np.zeros(3)  # OpenBLAS, loop, the faster of the two per product
        for layer, (k, n) in enumerate(LAYERS):
            A, W = rng.standard_normal((m, k)), rng.standard_normal((k, n))
            D = rng.standard_normal((m, n))
            kinds = [(f"A @ W {m}x{k}x{n}", forward, (A, False, W, False), (m, n))]
            kinds.append((f"A.T @ D {k}x{m}x{n}", gradient, (A, True, D, False), (k, n)))
            if layer:  # the input layer needs no delta
                kinds.append((f"D @ W.T {m}x{n}x{k}", delta, (D, False, W, True), (m, k)))
            for name, loop, (X, trans_x, Y, trans_y), shape in kinds:
                expected, C = np.empty(shape), np.empty(shape)
                calls = max(1, int(FLOPS_PER_TIMING / (2 * m * k * n)))
                with threadpool_limits(1):
                    blas = _best(_repeat_gemm, (X, trans_x, Y, trans_y, expected, calls), repeats)
                    ours = _best(_repeat, (loop, X, Y, C, calls), repeats)
                np.testing.assert_allclose(C, expected, rtol=1e-10, atol=1e-10)
                blas, ours = blas / calls * 1e6, ours / calls * 1e6
                totals += blas, ours, min(blas, ours)
                print(f"| {m} | {name} | {blas:.1f} | {ours:.1f} | {blas / ours:.2f} |")
        print(
            f"| {m} | **step** | **{totals[0]:.0f}** | **{totals[1]:.0f}** (faster of the two "
            f"per product: {totals[2]:.0f}) | **{totals[0] / totals[1]:.2f}** "
            f"({totals[0] / totals[2]:.2f}) |"
        )


def _best(repeat, arguments, repeats):
    """The best of ``repeats`` timings of ``repeat(*arguments)`` (one untimed call first)."""
    repeat(*arguments)
    return min(_seconds(repeat, arguments) for _ in range(repeats))


if __name__ == "__main__":
    main()
