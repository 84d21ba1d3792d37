"""Side measurement: would a product loop of our own beat OpenBLAS at (b)'s forward shapes?

``python -m benchmarks.blocked_product [--repeats R]``

This environment exports ``OPENBLAS_CORETYPE=Haswell``, which holds OpenBLAS to its AVX2
kernels, while Numba compiles for the host CPU (AVX-512 here). This script times, in one
process at 1 BLAS thread, the forward products ``A @ W`` of workload (b) (``A`` the batch's
rows or activations, ``W`` the weights, both C-ordered, as the kernels hold them) two ways:
the kernels' ``_gemm`` (NumPy's OpenBLAS) and a register-blocked Numba loop (``ROWS`` rows of
``A`` times ``DEPTH`` rows of ``W`` per sweep along ``W``'s rows, which LLVM vectorises), and
checks that the two agree. Run it twice, as given and with ``env -u OPENBLAS_CORETYPE``, to
see whether the loop wins only because OpenBLAS is held back. ``benchmarks/RESULTS.md`` records
both runs. The timings are reported, not asserted; the package does not use the loop.
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
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}  # the kernels' flags
FLOPS_PER_TIMING = 2e8


def blocked_product(rows, depth):
    """A compiled ``product(A, W, C)`` computing ``C = A @ W``, ``rows`` x ``depth`` blocked.

    The loop body is written out for the block (``rows * depth`` scalars of ``A`` held while
    one sweep along ``W``'s rows updates ``rows`` rows of ``C``), so it is generated as source.
    """
    lines = [
        "def product(A, W, C):",
        "    m, k = A.shape",
        "    n = W.shape[1]",
        "    C[:] = 0",
        f"    for i in range(0, m - m % {rows}, {rows}):",
        "        p = 0",
        f"        while p + {depth} <= k:",
        *(
            f"            a{r}_{q} = A[i + {r}, p + {q}]"
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
        *(f"                C[i + {r}, j] += A[i + {r}, p] * W[p, j]" for r in range(rows)),
        f"    for i in range(m - m % {rows}, m):",
        "        for p in range(k):",
        "            for j in range(n):",
        "                C[i, j] += A[i, p] * W[p, j]",
    ]
    namespace = {}
    exec("\n".join(lines), namespace)
    return numba.njit(fastmath=FASTMATH)(namespace["product"])


@numba.njit
def _repeat_openblas(A, W, C, repeats):
    for _ in range(repeats):
        _gemm(A, False, W, False, C)


@numba.njit
def _repeat(product, A, W, C, repeats):
    for _ in range(repeats):
        product(A, W, C)


def _rate(repeat, arguments, flops, repeats):
    """GFLOP/s of the best of ``repeats`` timings of ``repeat(*arguments)`` (one untimed
    call first)."""
    repeat(*arguments)
    best = min(_seconds(repeat, arguments) for _ in range(repeats))
    return flops / best / 1e9


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


if __name__ == "__main__":
    main()
