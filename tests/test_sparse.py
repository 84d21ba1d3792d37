"""Sparse input: CSR and CSC train and predict without densifying X, as dense input does."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from skminibatch import MiniBatchMLPClassifier, MiniBatchRegressor


def sparse_problem(n=200, d=60, density=0.08, seed=0):
    X = sp.random(n, d, density=density, format="csr", random_state=seed)
    w = np.random.RandomState(seed).normal(size=d)
    return X, X @ w


def with_duplicates(X):
    """The CSR matrix X with each entry stored twice, halved, in reversed column order within
    the row's second half (duplicates and unsorted indices, as scipy allows)."""
    rows = [slice(start, stop) for start, stop in zip(X.indptr[:-1], X.indptr[1:], strict=True)]
    indices = np.concatenate([np.r_[X.indices[r], X.indices[r][::-1]] for r in rows])
    data = np.concatenate([np.r_[X.data[r], X.data[r][::-1]] / 2 for r in rows])
    duplicated = sp.csr_matrix((data, indices, 2 * X.indptr), shape=X.shape)
    assert not duplicated.has_canonical_format
    return duplicated


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 5, "full"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "csr_with_duplicates"])
def test_sparse_input_trains_exactly_as_its_dense_copy(fmt, batch_size, dtype):
    X, target = sparse_problem()
    X = with_duplicates(X) if fmt == "csr_with_duplicates" else X.asformat(fmt)
    X = X.astype(dtype)
    stored = X.data.copy(), X.indices.copy()
    y = (target > 0).astype(int)
    params = dict(
        hidden_layer_sizes=(7,),
        batch_size=batch_size,
        max_iter=3,
        tol=None,
        random_state=0,
        alpha=1e-3,
        dropout=0.2,
    )
    sparse = MiniBatchMLPClassifier(**params).fit(X, y)
    dense = MiniBatchMLPClassifier(**params).fit(X.toarray(), y)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    for a, b in zip(
        sparse.coefs_ + sparse.intercepts_, dense.coefs_ + dense.intercepts_, strict=True
    ):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(
        sparse.predict_proba(X), dense.predict_proba(X.toarray()), rtol=rtol, atol=rtol
    )
    np.testing.assert_array_equal(X.data, stored[0])  # the caller's matrix is untouched
    np.testing.assert_array_equal(X.indices, stored[1])


def test_sparse_regression_partial_fit_and_validation():
    X, y = sparse_problem()
    reg = MiniBatchRegressor((5,), batch_size=16, random_state=0)
    for start in range(0, 200, 50):
        reg.partial_fit(X[start : start + 50], y[start : start + 50])
    assert reg.n_updates_ == 4 * 4
    reg = MiniBatchRegressor((5,), max_iter=5, early_stopping=True, random_state=0).fit(X, y)
    assert all("val_loss" in record for record in reg.history_)


def test_a_wide_sparse_matrix_is_never_densified():
    """20,000 x 200,000 at 0.05% density: 16 MB stored, 32 GB if densified."""
    rng = np.random.RandomState(0)
    n, d, per_row = 20_000, 200_000, 100
    indptr = np.arange(0, n * per_row + 1, per_row)
    X = sp.csr_matrix(
        (rng.normal(size=n * per_row), rng.randint(0, d, n * per_row), indptr), shape=(n, d)
    )
    row_sums = np.asarray(X.sum(axis=1)).ravel()
    y = (row_sums > np.median(row_sums)).astype(int)
    clf = MiniBatchMLPClassifier((8,), batch_size=256, max_iter=1, tol=None, random_state=0)
    tracemalloc.start()
    clf.fit(X, y)
    clf.predict(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Weights, gradients and optimizer state are 5 copies of 1.6 M parameters (64 MB); X's
    # dense copy would be 32 GB.
    assert peak < 150e6


def _edited(X, edit):
    """A copy of CSR matrix X whose arrays were edited after it was built: scipy checks
    nothing then, and little when a matrix is built from arrays."""
    X = X.copy()
    if edit == "index past the last column":
        X.indices[0] = X.shape[1]
    elif edit == "negative index":
        X.indices[0] = -1
    elif edit == "decreasing indptr":
        X.indptr[1] = X.indptr[-1] + 5
    elif edit == "indptr of another length":
        X.indptr = np.r_[X.indptr, X.indptr[-1]]
    elif edit == "CSC row past the last":  # scipy's conversion to CSR wrote past its buffers
        X = X.tocsc()
        X.indices[0] = X.shape[0]
    elif edit == "COO column past the last":
        X = X.tocoo()
        X.col[0] = X.shape[1]
    return X


@pytest.mark.parametrize(
    "edit",
    [
        "index past the last column",
        "negative index",
        "decreasing indptr",
        "indptr of another length",
        "CSC row past the last",
        "COO column past the last",
    ],
)
def test_malformed_sparse_matrices_are_refused_before_the_kernels(edit):
    """The kernels index with a CSR matrix's arrays unchecked: such matrices corrupted the
    heap (the interpreter crashed) or predicted from memory outside X."""
    X, y = sparse_problem(n=40, d=6)
    fitted = MiniBatchRegressor((4,), max_iter=2, tol=None, random_state=0).fit(X, y)
    bad = _edited(X, edit)
    for call in (
        lambda: MiniBatchRegressor((4,), max_iter=2).fit(bad, y),
        lambda: fitted.partial_fit(bad, y),
        lambda: fitted.predict(bad),
    ):
        with pytest.raises(ValueError, match=r"^X is a malformed sparse matrix: "):
            call()


def test_a_stale_canonical_flag_is_not_trusted():
    """Indices edited into duplicates after scipy cached 'canonical': they are summed, as in
    the dense matrix, on the single-sample path too (which assigned the last duplicate)."""
    X, y = sparse_problem(n=40, d=6)
    X = X.copy()
    assert X.has_canonical_format  # cached
    row = int(np.argmax(np.diff(X.indptr) >= 2))
    X.indices[X.indptr[row] + 1] = X.indices[X.indptr[row]]  # a duplicate, flag unchanged
    params = dict(hidden_layer_sizes=(4,), batch_size=1, max_iter=2, tol=None, random_state=0)
    sparse = MiniBatchRegressor(**params).fit(X, y)
    dense = MiniBatchRegressor(**params).fit(X.toarray(), y)
    np.testing.assert_allclose(sparse.coefs_[0], dense.coefs_[0], rtol=1e-12, atol=1e-15)
