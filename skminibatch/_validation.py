"""Parameter constraints, data validation, target encoding: all checks of user input.

The one module that uses scikit-learn's private helpers. It turns what the user gave into
canonical arrays (C-contiguous, float64 or float32, read-only views so that nothing downstream
can modify the caller's data, and so that every call compiles the same kernel specialisation)
and turns strings into the integer codes of :mod:`skminibatch._kernels`.
"""

import reprlib
from numbers import Integral, Real
from operator import attrgetter, is_

import numpy as np
from scipy.sparse import csr_matrix, issparse
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, column_or_1d, validate_data

from . import _kernels, _warnings
from ._network import WEIGHT_INITS, layer_shapes
from ._trainer import TrainingConfig, validation_watchers
from .schedules import as_schedule, check_batch_size

PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(_kernels.ACTIVATIONS))],
    "weight_init": [StrOptions(set(WEIGHT_INITS))],
    "solver": [StrOptions(set(_kernels.SOLVERS))],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "l1_ratio": [Interval(Real, 0, 1, closed="both")],
    "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
    "batch_size": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"full", "auto"}),
        HasMethods(["batch_size"]),
    ],
    "drop_last": ["boolean"],
    "learning_rate": [
        StrOptions({"constant", "invscaling", "adaptive"}),
        HasMethods(["multipliers"]),
    ],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "rho": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
    "accumulate": [Interval(Integral, 1, np.iinfo(np.int32).max, closed="both")],
    "gradient_reduction": [StrOptions({"mean", "sum"})],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "tol": [Interval(Real, 0, None, closed="left"), None],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "monitor": [StrOptions({"val_loss", "val_score"})],
    "record_batches": ["boolean"],
    "callbacks": [list, None],
    "on_divergence": [StrOptions({"warn", "raise"})],
    "random_state": ["random_state"],
    "warm_start": ["boolean"],
    "verbose": ["verbose"],
}
CLASSIFIER_PARAMETER_CONSTRAINTS = {
    **PARAMETER_CONSTRAINTS,
    "class_weight": [StrOptions({"balanced"}), dict, list, None],
}
REGRESSOR_PARAMETER_CONSTRAINTS = {
    **PARAMETER_CONSTRAINTS,
    "loss": [StrOptions({"squared_error", "huber", "absolute_error"})],
    "huber_delta": [Interval(Real, 0, None, closed="neither")],
}
FLOAT_DTYPES = (np.float64, np.float32)


def check_int(value, name, minimum):
    """``value`` as an int, or a ValueError naming ``name``: it must be an integer (not a
    bool) of at least ``minimum`` (any when None)."""
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int; got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}.")
    if not -(2**63) <= value < 2**63:  # counted in int64
        raise ValueError(f"{name} must be < 2**63; got {value!r}.")
    return int(value)


def check_pair(value, description):
    """``value``, or a ValueError if it is not a pair (a tuple or list of two items):
    ``description`` says what it must be, naming the parameter ("validation_data must be a
    pair (X_val, y_val)"), and the error adds what it is."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        items = getattr(value, "__len__", None)
        raise ValueError(
            f"{description}; got a {type(value).__name__}"
            + (f" of {items()} items." if items is not None else ".")
        )
    return value


def check_ours(estimator):
    """The final estimator of ``estimator``: a MiniBatchMLPClassifier or MiniBatchRegressor,
    or a Pipeline ending in one (else a ValueError)."""
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    params = final.get_params(deep=False) if hasattr(final, "get_params") else {}
    needed = ("batch_size", "learning_rate_init", "callbacks", "random_state")
    if not all(name in params for name in needed):
        raise ValueError(
            "estimator must be a MiniBatchMLPClassifier or MiniBatchRegressor (or a Pipeline "
            f"ending in one); got {estimator!r}."
        )
    return final


def split_pipeline(estimator, X, y):
    """``(final, steps)``: a Pipeline's last step and a clone of the steps before it fitted
    on (X, y), whose ``transform`` prepares data for the last step; ``(estimator, None)`` for
    an estimator or a Pipeline of one step (a ValueError unless the last step is ours)."""
    final = check_ours(estimator)
    if not isinstance(estimator, Pipeline) or len(estimator.steps) == 1:
        return final, None
    return final, clone(estimator[:-1]).fit(X, y)


def n_samples(X):
    """The number of rows of X: an array, a sparse matrix, a DataFrame or a list of rows."""
    return X.shape[0] if hasattr(X, "shape") else len(X)


def check_params(estimator):
    """Check every parameter against the estimator's ``_parameter_constraints``."""
    validate_parameter_constraints(
        estimator._parameter_constraints,
        estimator.get_params(deep=False),
        type(estimator).__name__,
    )


def constrained_parameter_values(estimator):
    """The values of the parameters named in the estimator's ``_parameter_constraints``.

    Parameters
    ----------
    estimator : estimator instance
        An estimator with a ``_parameter_constraints`` dict.

    Returns
    -------
    values : tuple
        The parameters' current values (the objects themselves), in the order of the
        constraints' keys.
    """
    names = list(estimator._parameter_constraints)
    values = attrgetter(*names)(estimator)
    return values if len(names) > 1 else (values,)


def same_objects(values, other_values):
    """Whether two tuples hold the very same objects, position by position (``is``, not ``==``:
    equal values of different types, such as ``1`` and ``True``, may not satisfy the same
    constraints)."""
    return len(values) == len(other_values) and all(map(is_, values, other_values))


def hidden_layer_sizes_tuple(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a tuple of positive ints; an int means one hidden layer."""
    if type(hidden_layer_sizes) in (tuple, list) and all(
        type(size) is int and 1 <= size < 2**63 for size in hidden_layer_sizes
    ):  # the common case, without NumPy's conversions
        return tuple(hidden_layer_sizes)
    sizes = np.atleast_1d(np.asarray(hidden_layer_sizes, dtype=object))
    if sizes.ndim != 1 or not all(
        isinstance(s, Integral) and 1 <= s < 2**63 for s in sizes.tolist()
    ):
        raise ValueError(
            "hidden_layer_sizes must be a sequence of positive integers below 2**63 (or () for "
            f"no hidden layer), got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)


def read_only(array, dtype):
    """A C-contiguous read-only view of ``array`` as ``dtype`` (copied only if it must be)."""
    view = np.ascontiguousarray(array, dtype=dtype).view()
    view.flags.writeable = False
    return view


def canonical_rows(X, dtype):
    """X as ``dtype``: a C-contiguous read-only array, or a CSR matrix if sparse, with sorted
    indices and no duplicate entries (summed, in a copy: the caller's matrix is untouched).

    A sparse matrix gets int64 index arrays of its own (the kernels' index type), checked in
    full: the kernels index with them unchecked, and scipy checks only their types and lengths
    when a matrix is built from arrays or its arrays are edited (an index past the last column
    corrupted the heap); a matrix built anew also recomputes its canonical flag, which edits
    leave stale.
    """
    if not issparse(X):
        return read_only(X, dtype)
    X = X.tocsr()  # structure checked where X came in (check_X, check_X_y), before scipy's
    # conversions, which trust it too; the others give rows of such a matrix
    # A new matrix (scipy would narrow int64 indices given to its constructor), its arrays
    # checked after the copy: what is checked is what the kernels read.
    X = csr_matrix((X.data.astype(dtype, copy=False), X.indices, X.indptr), shape=X.shape)
    X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    check_sparse_structure(X)
    if not X.has_canonical_format:
        X = X.copy()  # its data may still be the caller's
        X.sum_duplicates()
        X.indices = X.indices.astype(np.int64, copy=False)  # scipy may have narrowed them
        X.indptr = X.indptr.astype(np.int64, copy=False)
    return X


def check_sparse_structure(X):
    """A ValueError unless the index arrays of sparse X (CSR, CSC or COO) stay within its
    shape: scipy checks only their types and lengths when a matrix is built from arrays or
    its arrays are edited, and its conversions, as the kernels, index with them unchecked."""
    problem = None
    if X.format in ("csr", "csc"):
        n_major, n_minor = X.shape if X.format == "csr" else X.shape[::-1]
        indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
        if indptr.ndim != 1 or indptr.size != n_major + 1:
            problem = f"indptr has {indptr.size} entries for {n_major} rows (or columns)"
        elif indptr[0] != 0 or indptr[-1] != indices.size or indices.size != np.size(X.data):
            problem = "indptr does not span indices and data"
        elif (np.diff(indptr) < 0).any():
            problem = "indptr decreases"
        elif indices.size and not (indices.min() >= 0 and indices.max() < n_minor):
            problem = f"an index is outside [0, {n_minor})"
    elif X.format == "coo":
        for name, coords, size in zip(("row", "col"), (X.row, X.col), X.shape, strict=True):
            coords = np.asarray(coords)
            if coords.size != np.size(X.data):
                problem = f"{name} and data have different lengths"
            elif coords.size and not (coords.min() >= 0 and coords.max() < size):
                problem = f"a {name} index is outside [0, {size})"
            if problem:
                break
    if problem:
        raise ValueError(f"X is a malformed sparse matrix: {problem}.")


def kernel_rows(X):
    """X as the kernels take it: the array itself, or :class:`SparseRows` (read-only views of
    the CSR arrays, int64 indices) if sparse."""
    if not issparse(X):
        return X
    return _kernels.SparseRows(
        read_only(X.data, X.dtype),
        read_only(X.indices, np.int64),
        read_only(X.indptr, np.int64),
        X.shape[1],
    )


def check_X(estimator, X, reset, dtype=None):
    """Validated X: float64 or float32 (``dtype`` when given), dense or CSR."""
    if issparse(X):
        check_sparse_structure(X)  # scikit-learn converts it with scipy's unchecked code
    X = validate_data(
        estimator, X, accept_sparse=("csr", "csc"), dtype=dtype or FLOAT_DTYPES, reset=reset
    )
    return canonical_rows(X, X.dtype)


def check_X_y(estimator, X, y, reset, dtype=None, y_numeric=False):
    """Validated (X, y): X as :func:`check_X` gives it, y an array of one or more outputs.

    Parameters
    ----------
    estimator : estimator instance
        The estimator whose ``n_features_in_`` and ``feature_names_in_`` X must match (or
        which records them, with ``reset``).
    X : array-like or sparse matrix of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    reset : bool
        Record X's number of features and feature names on ``estimator`` instead of
        checking them.
    dtype : numpy dtype or None, default=None
        The dtype of the returned X; None keeps float64 and float32 and makes the rest
        float64.
    y_numeric : bool, default=False
        Convert a y of object dtype to float64.

    Returns
    -------
    X : ndarray or CSR matrix
        C-contiguous and read-only if dense.
    y : ndarray or CSR matrix

    Notes
    -----
    scikit-learn's ``validate_data`` costs about 0.1 ms, more than a ``partial_fit`` epoch on
    a small chunk; it is skipped when :func:`_validates_unchanged` shows that it would return
    X and y as they are, without a warning or an error.
    """
    if issparse(X):
        check_sparse_structure(X)  # scikit-learn converts it with scipy's unchecked code
    if reset or not _validates_unchanged(estimator, X, y, dtype):
        X, y = validate_data(
            estimator,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=dtype or FLOAT_DTYPES,
            multi_output=True,
            y_numeric=y_numeric,
            reset=reset,
        )
    return canonical_rows(X, X.dtype), y


def _validates_unchanged(estimator, X, y, dtype):
    """Whether ``check_X_y(estimator, X, y, reset=False, dtype=dtype)`` would return X and y
    as they are, without a warning or an error: a cheap test that may answer False when that
    holds, never True when it does not.

    It holds when X is a finite 2-D ndarray of ``dtype`` with at least one row and the
    estimator's number of features, the estimator was fitted without feature names (an
    ndarray has none), and y is a finite 1-D or 2-D ndarray of booleans, numbers or strings
    with as many rows: then every check of ``validate_data`` passes and converts nothing.
    """
    if not (
        type(X) is np.ndarray
        and type(y) is np.ndarray
        and dtype is not None
        and X.dtype == dtype
        and X.ndim == 2
        and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] > 0))
        and 0 < X.shape[0] == y.shape[0]
        and X.shape[1] == getattr(estimator, "n_features_in_", None)
        and getattr(estimator, "feature_names_in_", None) is None
        and y.dtype.kind in "biufU"
    ):
        return False
    # A finite sum means finite values, as scikit-learn's own first test of X assumes.
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(X.sum())) and (y.dtype.kind != "f" or bool(np.isfinite(y.sum())))


def check_sample_weight(sample_weight, X, factors=None, rescale=True):
    """Weights of X's dtype, one per row, times ``factors`` (class weights) when given, and
    rescaled to mean 1 if ``rescale`` (ones when both are None).

    The kernels sum ``w_i * loss_i`` over a batch and divide by its number of rows: with mean-1
    weights that estimates the weighted mean loss without bias, and the weights count even
    at ``batch_size=1`` (dividing each batch by its own weight sum would cancel them there).
    ``partial_fit`` takes the weights as given (``rescale=False``): rescaling each chunk would
    cancel the weights of a one-sample chunk, or of a chunk of one class. ``rescale`` may also
    be the :func:`mean_one_scale` of the whole training set's weights, for ``fit`` on a large
    memmap, which trains on its blocks as ``fit`` on the array in memory would.
    """
    if sample_weight is None and factors is None:
        return read_only(np.ones(X.shape[0]), X.dtype)
    weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if factors is not None:
        weights = weights * factors
    if rescale is False:
        return read_only(weights, X.dtype)
    peak, multiplier = mean_one_scale(weights) if rescale is True else rescale
    return read_only(weights / peak * multiplier, X.dtype)


def balanced_class_weight(labels, target_type):
    """``class_weight='balanced'`` as the dict (a list of dicts, one per label column, for
    multilabel targets) that weighs every sample of ``labels`` as
    ``compute_sample_weight('balanced', labels)`` does: for ``partial_fit`` on parts of them."""
    multilabel = target_type == "multilabel-indicator"
    weights = []
    for column in labels.T if multilabel else [labels]:
        present = np.unique(column)
        balanced = compute_class_weight("balanced", classes=present, y=column)
        weights.append(dict(zip(present.tolist(), balanced.tolist(), strict=True)))
    return weights if multilabel else weights[0]


def mean_one_scale(weights):
    """``(peak, multiplier)`` such that ``weights / peak * multiplier`` has mean 1: dividing by
    the peak first, so that the sum cannot overflow."""
    peak = weights.max()
    if peak <= 0:  # scikit-learn's check refuses all-zero sample weights before
        raise ValueError(
            "sample_weight times the class weights must have a positive sum; got all zeros."
        )
    return peak, weights.size / (weights / peak).sum()


def regression_targets(y, dtype):
    """Targets as an (n_samples, n_outputs) array."""
    return read_only(y.reshape(len(y), -1), dtype)


def fitted_dtype(estimator):
    """The dtype the fitted network computes in: its weights', float32 or float64 (a
    ValueError for ``coefs_`` of another dtype, set by hand)."""
    dtype = np.asarray(estimator.coefs_[0]).dtype
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"coefs_ must hold float32 or float64 arrays; coefs_[0] is {dtype}.")
    return dtype


def check_n_features(X, layer_sizes):
    """A ValueError unless X (checked against ``n_features_in_``) has a column per input of
    the network that ``coefs_`` make: fitted attributes set by hand may disagree."""
    if X.shape[1] != layer_sizes[0]:
        raise ValueError(
            f"X has {X.shape[1]} features, but coefs_[0] takes {layer_sizes[0]}: "
            f"n_features_in_ and coefs_ disagree."
        )


def check_n_outputs(Y, layer_sizes):
    """A ValueError unless the encoded targets Y have a column per output of the network:
    the kernels index them by the network's outputs."""
    if Y.shape[1] != layer_sizes[-1]:
        raise ValueError(
            f"y has {Y.shape[1]} target column(s), but the network has {layer_sizes[-1]} "
            f"output(s)."
        )


def ravel_column(y):
    """Class labels y, raveled with a DataConversionWarning if a column vector, as
    scikit-learn's classifiers do."""
    if y.ndim == 2 and y.shape[1] == 1:
        _warnings.warn(  # scikit-learn's words, at the caller's line
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples, ), for example using ravel().",
            DataConversionWarning,
        )
        return column_or_1d(y)
    return y


def check_classification_targets(y):
    """(y, its type): 'binary', 'multiclass' or 'multilabel-indicator'.

    A column vector y is raveled with a DataConversionWarning, as scikit-learn's classifiers do.
    """
    y = ravel_column(y)
    target_type = type_of_target(y, input_name="y", raise_unknown=True)
    if target_type not in ("binary", "multiclass", "multilabel-indicator"):
        raise ValueError(
            f"MiniBatchMLPClassifier supports binary, multiclass and multilabel-indicator "
            f"targets; got a {target_type!r} target."
        )
    return y, target_type


def is_label_vector(y):
    """Whether ``type_of_target(y)`` is certainly 'binary' or 'multiclass', tested cheaply.

    True for a non-empty 1-D ndarray of booleans, integers, strings, or floats that are all
    integers; False also for some such targets (an object array of strings, for one), which
    then take the full check of :func:`check_classification_targets`.
    """
    if not isinstance(y, np.ndarray) or y.ndim != 1 or y.size == 0:
        return False
    if y.dtype.kind in "biuU":
        return True
    if y.dtype.kind != "f":
        return False
    with np.errstate(invalid="ignore"):  # NaN and infinity are not integers
        return bool((y.astype(np.int64).astype(y.dtype) == y).all())


def classes_from(y, target_type, classes=None):
    """``classes_``: labels given in ``classes`` or found in y (label columns if multilabel)."""
    if target_type == "multilabel-indicator":
        return np.arange(y.shape[1])
    if classes is not None and np.ndim(classes) != 1:
        raise ValueError(
            f"classes must be a 1-d array-like of all class labels; got an array of shape "
            f"{np.shape(classes)}."
        )
    if classes is None:
        found = unique_labels(y)
    else:
        try:  # as given: an array of labels of mixed types would have turned them to strings
            found = unique_labels(classes)
        except ValueError as error:
            raise ValueError(f"classes={reprlib.repr(classes)}: {error}") from error
    if found.size < 2:
        raise ValueError(
            f"The classifier needs samples of at least 2 classes; got 1 class: {found[0]!r}."
            if classes is None
            else f"classes must hold at least 2 labels, got {list(found)!r}."
        )
    return found


def same_classes(classes, fitted_classes, y, target_type):
    """Whether ``classes`` given to ``partial_fit`` after the first call are those the
    classifier was set up with: whether ``classes_from(y, target_type, classes)`` equals
    ``fitted_classes``.

    Classes given as an array equal to ``fitted_classes`` and of its dtype (sorted unique labels,
    which ``classes_from`` returns as they are) skip the labels' type checks.
    """
    if target_type != "multilabel-indicator":
        given = np.asarray(classes)
        if given.dtype == fitted_classes.dtype and np.array_equal(given, fitted_classes):
            return True
    return np.array_equal(classes_from(y, target_type, classes), fitted_classes)


def classification_targets(y, classes, target_type, dtype):
    """Network targets: one column for 2 classes, one-hot for more, y itself for multilabel."""
    if (y.ndim == 2) != (target_type == "multilabel-indicator"):
        raise ValueError(
            f"y of shape {y.shape} does not fit the classifier, set up for {target_type} "
            f"targets: " + ("an indicator matrix." if y.ndim == 1 else "one label per sample.")
        )
    if target_type == "multilabel-indicator":
        if y.shape[1] != classes.size:
            raise ValueError(
                f"y has {y.shape[1]} label columns, but the classifier was set up for "
                f"{classes.size}."
            )
        if not ((y == 0) | (y == 1)).all():
            raise ValueError(
                f"Multilabel targets must be an indicator matrix of 0s and 1s; got the values "
                f"{np.unique(y).tolist()!r}."
            )
        return read_only(y, dtype)
    codes = _label_codes(y, classes)
    if classes.size == 2:
        return read_only(codes.reshape(-1, 1), dtype)
    one_hot = np.zeros((y.shape[0], classes.size), dtype=dtype)
    one_hot[np.arange(y.shape[0]), codes] = 1.0
    return read_only(one_hot, dtype)


def _label_codes(y, classes):
    """The index in ``classes`` (sorted) of each label of y; a ValueError naming the labels
    that are not in ``classes``.

    Labels and classes that are both numbers or both strings are looked up directly, a label
    being known when the class at its sorted position equals it; other kinds (object arrays)
    are first checked with ``np.setdiff1d``.
    """
    numbers = "biuf"
    comparable = (y.dtype.kind in numbers and classes.dtype.kind in numbers) or (
        y.dtype.kind == classes.dtype.kind == "U"
    )
    if comparable:
        codes = np.searchsorted(classes, y)
        if (classes.take(codes, mode="clip") == y).all():
            return codes
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise ValueError(
            f"y contains labels {unknown.tolist()!r} that are not in classes {classes.tolist()!r}."
        )
    return np.searchsorted(classes, y)


def check_same_target_kind(target_type, fitted_target_type):
    """A classifier fitted on multilabel targets takes only multilabel targets, and vice versa."""
    multilabel = target_type == "multilabel-indicator"
    if multilabel != (fitted_target_type == "multilabel-indicator"):
        raise ValueError(
            f"y is a {target_type!r} target, but the classifier was fitted on "
            f"{fitted_target_type!r} targets. Call fit without warm_start to start anew."
        )


def initial_weights(coefs_init, intercepts_init, layer_sizes):
    """Check user-given initial weights against the network's shapes; returns copies."""
    shapes = layer_shapes(layer_sizes)
    if coefs_init is None or intercepts_init is None:
        raise ValueError("coefs_init and intercepts_init must be given together.")
    if not all(isinstance(given, (list, tuple)) for given in (coefs_init, intercepts_init)):
        raise TypeError(
            f"coefs_init and intercepts_init must be lists of arrays, one per layer; got "
            f"{type(coefs_init).__name__} and {type(intercepts_init).__name__}."
        )
    if len(coefs_init) != len(shapes) or len(intercepts_init) != len(shapes):
        raise ValueError(
            f"coefs_init and intercepts_init must each hold {len(shapes)} arrays, one per "
            f"layer; got {len(coefs_init)} and {len(intercepts_init)}."
        )
    coefs, intercepts = [], []
    for layer, (shape, coef, intercept) in enumerate(
        zip(shapes, coefs_init, intercepts_init, strict=True)
    ):
        try:
            if any(np.iscomplexobj(given) for given in (coef, intercept)):
                raise TypeError("complex values")  # float64 would drop the imaginary parts
            coef = np.array(coef, dtype=np.float64)
            intercept = np.array(intercept, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"coefs_init[{layer}] and intercepts_init[{layer}] must be numeric arrays: {error}"
            ) from error
        if coef.shape != shape or intercept.shape != (shape[1],):
            raise ValueError(
                f"coefs_init[{layer}] must have shape {shape} and intercepts_init[{layer}] "
                f"shape {(shape[1],)}; got {coef.shape} and {intercept.shape}."
            )
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise ValueError(f"coefs_init[{layer}] and intercepts_init[{layer}] must be finite.")
        coefs.append(coef)
        intercepts.append(intercept)
    return coefs, intercepts


def dropout_rates(dropout, n_hidden):
    """One dropout rate per hidden layer, from a single rate or one per layer."""
    if isinstance(dropout, Real):  # one rate: the same answer without NumPy's conversions
        if n_hidden and not 0 <= dropout < 1:
            raise ValueError(_dropout_message(dropout, n_hidden))
        return np.full(n_hidden, float(dropout))
    try:
        rates = np.broadcast_to(np.asarray(dropout, dtype=np.float64), (n_hidden,)).copy()
    except (TypeError, ValueError) as error:
        raise ValueError(_dropout_message(dropout, n_hidden)) from error
    if not np.all((rates >= 0) & (rates < 1)):
        raise ValueError(_dropout_message(dropout, n_hidden))
    return rates


def _dropout_message(dropout, n_hidden):
    return (
        f"dropout must be a rate in [0, 1) or a sequence of one rate per hidden layer "
        f"({n_hidden}); got {dropout!r}."
    )


def training_config(estimator, loss, n_hidden, dtype, *, incremental=False):
    """The :class:`TrainingConfig` of an estimator's (validated) parameters; ``incremental``
    for ``partial_fit``, which validates on nothing: 'adaptive' then watches the training
    loss even with ``early_stopping``."""
    dropout = dropout_rates(estimator.dropout, n_hidden)
    hyperparameters = _kernels.Hyperparameters(
        activation=_kernels.ACTIVATIONS[estimator.activation],
        loss=_kernels.LOSSES[loss],
        huber_delta=float(getattr(estimator, "huber_delta", 1.0)),
        alpha=float(estimator.alpha),
        l1_ratio=float(estimator.l1_ratio),
        solver=_kernels.SOLVERS[estimator.solver],
        momentum=float(estimator.momentum),
        nesterov=bool(estimator.nesterovs_momentum),
        beta_1=float(estimator.beta_1),
        beta_2=float(estimator.beta_2),
        epsilon=float(estimator.epsilon),
        rho=float(estimator.rho),
        weight_decay=float(estimator.weight_decay),
        clip_norm=float(estimator.clip_norm or 0.0),
        sum_reduction=estimator.gradient_reduction == "sum",
        accumulate=int(estimator.accumulate),
        drop_last=bool(estimator.drop_last),
        tiny=float(np.finfo(dtype).tiny),
    )
    schedule = as_schedule(
        estimator.learning_rate,
        estimator.power_t,
        estimator.tol or 0.0,
        n_iter_no_change=estimator.n_iter_no_change,
        early_stopping=estimator.early_stopping and not incremental,
        monitor=estimator.monitor,
    )
    batch_size = check_batch_size(estimator.batch_size)
    return TrainingConfig(
        hyperparameters=hyperparameters,
        dropout=dropout,
        learning_rate=float(estimator.learning_rate_init),
        schedule=schedule,
        batch_size=batch_size,
        shuffle=bool(estimator.shuffle),
        record_batches=bool(estimator.record_batches),
        on_divergence=estimator.on_divergence,
        verbose=int(estimator.verbose),
        validation_watchers=validation_watchers(schedule, batch_size),
    )
