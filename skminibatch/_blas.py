"""The BLAS behind the kernels' matrix products: NumPy's own OpenBLAS when NumPy has one.

Numba's ``np.dot`` calls SciPy's BLAS. NumPy's wheels bundle their own OpenBLAS
(scipy-openblas64), a newer build whose small products were markedly faster on our benchmark
machine: float32 products of a 4-row batch of workload (b) took half the time, float64 products
of a 512-row batch 15 % less (``benchmarks/RESULTS.md``). So the kernels call an external
symbol per dtype, :data:`SYMBOLS`, with the CBLAS ``?gemm`` interface and 64-bit integers, and
this module points the symbols at NumPy's OpenBLAS at import. When NumPy has no such library
(a conda NumPy linked to MKL, macOS Accelerate, ...), they point at :func:`_stand_in`, a
compiled function that calls ``np.dot``, that is SciPy's BLAS as before.

The compiled kernels name the symbol, not an address, so Numba's cache holds the same code
whichever library a later process finds. :mod:`._kernels` calls :func:`register` at import,
before any kernel is compiled or loaded from the cache.
"""

import ctypes
from functools import cache

import numba
import numpy as np
from llvmlite import binding
from numba import types
from numba.extending import intrinsic
from threadpoolctl import threadpool_info

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS's enumerations


def _cblas_gemm_signature(real):
    """``cblas_?gemm`` with 64-bit integers: (order, trans_a, trans_b, m, n, k, alpha, a, lda,
    b, ldb, beta, c, ldc), computing ``c = alpha op(a) @ op(b) + beta c``; the three matrices
    are passed as addresses."""
    return types.void(
        *(types.int32,) * 3,
        *(types.int64,) * 3,
        real,
        types.intp,
        types.int64,
        types.intp,
        types.int64,
        real,
        types.intp,
        types.int64,
    )


PREFIXES = {"float32": "s", "float64": "d"}  # BLAS's letter for each dtype
SYMBOLS = {name: f"skminibatch_cblas_{prefix}gemm64" for name, prefix in PREFIXES.items()}
GEMM = {
    name: types.ExternalFunction(symbol, _cblas_gemm_signature(getattr(types, name)))
    for name, symbol in SYMBOLS.items()
}


def _numpy_openblas():
    """The path and ``{dtype name: address}`` of the ``?gemm`` of a loaded OpenBLAS with
    64-bit integers and scipy-openblas64's names (NumPy's wheels), or None."""
    for info in threadpool_info():
        if info.get("internal_api") != "openblas":
            continue
        library = ctypes.CDLL(info["filepath"])
        try:
            functions = {
                name: getattr(library, f"scipy_cblas_{prefix}gemm64_")
                for name, prefix in PREFIXES.items()
            }
        except AttributeError:
            continue
        return info["filepath"], {
            name: ctypes.cast(function, ctypes.c_void_p).value
            for name, function in functions.items()
        }
    return None


@intrinsic
def _pointer(typingctx, address, scalar):
    """The integer ``address`` as a pointer to ``scalar`` values (a NumPy scalar type)."""
    signature = types.CPointer(scalar.instance_type)(address, scalar)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return signature, codegen


@cache
def _stand_in(name, numba_cache):
    """A compiled ``cblas_?gemm`` for dtype ``name`` that calls ``np.dot`` (SciPy's BLAS).

    It serves what the kernels pass: row-major matrices whose leading dimensions are their
    column counts, ``alpha`` 1 and ``beta`` 0. ``numba_cache``: whether Numba may cache it.
    """
    scalar = getattr(np, name)

    @numba.cfunc(_cblas_gemm_signature(getattr(types, name)), cache=numba_cache)
    def gemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        A = numba.carray(_pointer(a, scalar), (k, m) if trans_a == TRANS else (m, k))
        B = numba.carray(_pointer(b, scalar), (n, k) if trans_b == TRANS else (k, n))
        C = numba.carray(_pointer(c, scalar), (m, n))
        if trans_a == TRANS and trans_b == TRANS:
            np.dot(A.T, B.T, C)
        elif trans_a == TRANS:
            np.dot(A.T, B, C)
        elif trans_b == TRANS:
            np.dot(A, B.T, C)
        else:
            np.dot(A, B, C)

    return gemm


def register(numba_cache):
    """Point :data:`SYMBOLS` at NumPy's OpenBLAS, or at the stand-ins (cached by Numba if
    ``numba_cache``); returns which library they point at, for reports."""
    found = _numpy_openblas()
    if found is None:
        addresses = {name: _stand_in(name, numba_cache).address for name in SYMBOLS}
        library = "np.dot in compiled code (SciPy's BLAS): NumPy has no scipy-openblas64"
    else:
        library, addresses = found
    for name, symbol in SYMBOLS.items():
        binding.add_symbol(symbol, addresses[name])
    return library
