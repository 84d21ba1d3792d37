"""The kernels' matrix products (NumPy's OpenBLAS called from compiled code, or the stand-in)
against NumPy's own products."""

import os
import subprocess
import sys
import textwrap
from itertools import product

import numba
import numpy as np
import pytest

from skminibatch import _blas, _kernels

SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 4), (4, 100, 128), (33, 17, 5), (300, 64, 9)]
TRANSPOSES = list(product([False, True], repeat=2))


@numba.njit
def compiled_gemm(A, trans_a, B, trans_b, C):
    _kernels._gemm(A, trans_a, B, trans_b, C)


def operands(m, k, n, trans_a, trans_b, dtype, seed=0):
    """Stored A and B (transposed as the flags say) and a garbage-filled C for op(A) @ op(B)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    C = np.full((m, n), np.nan, dtype)
    expected = (A.T if trans_a else A).astype(np.float64) @ (B.T if trans_b else B)
    return A, B, C, expected


def tolerance(dtype):
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("trans_a", "trans_b"), TRANSPOSES)
@pytest.mark.parametrize("shape", SHAPES)
def test_kernel_products_match_numpy(shape, trans_a, trans_b, dtype):
    A, B, C, expected = operands(*shape, trans_a, trans_b, dtype)
    stored = A.copy(), B.copy()
    compiled_gemm(A, trans_a, B, trans_b, C)
    assert C.dtype == dtype
    np.testing.assert_allclose(C, expected, **tolerance(dtype))
    np.testing.assert_array_equal(A, stored[0])  # the operands are left alone
    np.testing.assert_array_equal(B, stored[1])


@pytest.mark.parametrize("name", ["float64", "float32"])
@pytest.mark.parametrize(("trans_a", "trans_b"), TRANSPOSES)
@pytest.mark.parametrize("shape", SHAPES)
def test_stand_in_products_match_numpy(shape, trans_a, trans_b, name):
    """The stand-in (used when NumPy has no scipy-openblas64), called through its C interface
    as the kernels call it."""
    m, k, n = shape
    A, B, C, expected = operands(m, k, n, trans_a, trans_b, name, seed=1)
    flags = [_blas.TRANS if t else _blas.NO_TRANS for t in (trans_a, trans_b)]
    gemm = _blas._stand_in(name, _kernels.CACHE).ctypes
    gemm(_blas.ROW_MAJOR, *flags, m, n, k, 1.0, A.ctypes.data, A.shape[1],
         B.ctypes.data, B.shape[1], 0.0, C.ctypes.data, n)  # fmt: skip
    np.testing.assert_allclose(C, expected, **tolerance(np.dtype(name)))


def test_kernels_use_numpys_openblas_when_numpy_has_it():
    """NumPy's wheels bundle scipy-openblas64, whose small products are the fast ones: losing it
    silently would slow every batch down."""
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if blas["name"] == "scipy-openblas" and "USE64BITINT" in blas.get(
        "openblas configuration", ""
    ):
        assert "scipy_openblas64" in os.path.basename(_kernels.BLAS_LIBRARY)
    else:
        assert _kernels.BLAS_LIBRARY.startswith("np.dot in compiled code")


def test_training_through_the_stand_in_matches_training_through_numpys_blas(subprocess_env):
    """A process that finds no scipy-openblas64 (its library search reports nothing) trains
    through the stand-in, with the kernels as cached by this process: same weights up to
    rounding."""
    code = textwrap.dedent(
        """
        import threadpoolctl
        threadpoolctl.threadpool_info = lambda: []
        import numpy as np
        from sklearn.datasets import make_classification
        from skminibatch import MiniBatchMLPClassifier, _kernels
        print(_kernels.BLAS_LIBRARY)
        X, y = make_classification(n_samples=300, n_classes=3, n_informative=4, random_state=0)
        clf = MiniBatchMLPClassifier((16, 8), batch_size=8, max_iter=3, tol=None,
                                     random_state=1).fit(X, y)
        print(" ".join(repr(float(v)) for v in clf.coefs_[0].ravel()))
        """
    )
    from sklearn.datasets import make_classification

    from skminibatch import MiniBatchMLPClassifier

    X, y = make_classification(n_samples=300, n_classes=3, n_informative=4, random_state=0)
    clf = MiniBatchMLPClassifier((16, 8), batch_size=8, max_iter=3, tol=None, random_state=1)
    expected = clf.fit(X, y).coefs_[0].ravel()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env
    )
    assert done.returncode == 0, done.stderr
    library, weights = done.stdout.strip().split("\n")
    assert library.startswith("np.dot in compiled code")
    np.testing.assert_allclose(np.array(weights.split(), float), expected, rtol=1e-9, atol=1e-12)
