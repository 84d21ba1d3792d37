"""Bad input: every mistake gets a ValueError or TypeError that names the parameter or the
problem (never a Numba error, a hang or a silently wrong answer), and the caller's arrays are
left untouched. Also: batch sizes larger than the data are clipped with a warning, and
diverging training stops with a DivergenceWarning and finite weights.
"""

import faulthandler
import warnings

import numpy as np
import pytest
from numba.core.errors import NumbaError
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from skminibatch import (
    DivergenceWarning,
    MiniBatchMLPClassifier,
    MiniBatchRegressor,
    NoiseScaleMonitor,
    fit_stream,
    gradient_noise_scale,
)

N_SAMPLES, N_FEATURES = 20, 3
# tol=None: no ConvergenceWarning; batch_size < N_SAMPLES: no clipping warning.
SMALL = {
    "hidden_layer_sizes": (4,),
    "max_iter": 2,
    "batch_size": 8,
    "tol": None,
    "random_state": 0,
}
CLASSES = np.array([0, 1])
KINDS = ["classifier", "regressor"]
ERRORS = (ValueError, TypeError)


@pytest.fixture(autouse=True)
def _no_hang():
    """A hang (even inside compiled code, where signals are not handled) ends the run with a
    traceback instead of blocking it forever."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def make(kind, **params):
    cls = MiniBatchMLPClassifier if kind == "classifier" else MiniBatchRegressor
    return cls(**{**SMALL, **params})


def data(kind, n_samples=N_SAMPLES, n_features=N_FEATURES, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    if kind == "classifier":
        y = np.arange(n_samples) % 2
    else:
        y = X @ np.linspace(-1.0, 1.0, n_features) + 0.1 * rng.randn(n_samples)
    return X, y


def fitted(kind, **params):
    X, y = data(kind)
    return make(kind, **params).fit(X, y)


def run(estimator, method, X, y=None, **kwargs):
    """Call ``method``; the classifier's partial_fit gets ``classes`` unless given."""
    if method == "partial_fit" and is_classifier(estimator):
        kwargs.setdefault("classes", CLASSES)
    if method in ("fit", "partial_fit"):
        return getattr(estimator, method)(X, y, **kwargs)
    if method == "score":
        return estimator.score(X, y, **kwargs)
    return getattr(estimator, method)(X, **kwargs)


def assert_rejected(call, arrays, match, errors=ERRORS):
    """``call()`` raises one of ``errors`` matching ``match``, not from Numba, and leaves every
    array of ``arrays`` (the caller's data) unchanged and writeable."""
    arrays = [a for a in arrays if isinstance(a, np.ndarray)]
    copies = [a.copy() for a in arrays]
    with pytest.raises(errors, match=match) as excinfo:
        call()
    assert not isinstance(excinfo.value, NumbaError), repr(excinfo.value)
    assert not type(excinfo.value).__module__.startswith("numba"), repr(excinfo.value)
    for array, copy in zip(arrays, copies, strict=True):
        assert array.dtype == copy.dtype
        np.testing.assert_array_equal(array, copy)  # NaN equals NaN here
        assert array.flags.writeable
    return excinfo


def assert_same_weights(estimator, coefs, intercepts):
    for got, expected in zip(
        estimator.coefs_ + estimator.intercepts_, coefs + intercepts, strict=True
    ):
        np.testing.assert_array_equal(got, expected)


# --- NaN and inf ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "partial_fit_again", "predict", "score"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X(kind, method, bad):
    X, y = data(kind)
    estimator = make(kind)
    if method in ("predict", "score", "partial_fit_again"):
        run(estimator, "partial_fit", X, y)
    coefs, intercepts = getattr(estimator, "coefs_", []), getattr(estimator, "intercepts_", [])
    X_bad = X.copy()
    X_bad[3, 1] = bad
    method = method.replace("_again", "")
    assert_rejected(
        lambda: run(estimator, method, X_bad, y), [X_bad, y], r"Input X contains (NaN|infinity)"
    )
    if coefs:  # a rejected call leaves the fitted model as it was
        assert_same_weights(estimator, coefs, intercepts)


@pytest.mark.parametrize("method", ["predict_proba", "predict_log_proba"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_predict_proba(method, bad):
    estimator = fitted("classifier")
    X, _ = data("classifier")
    X[0, 0] = bad
    assert_rejected(lambda: run(estimator, method, X), [X], r"Input X contains (NaN|infinity)")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "partial_fit_again"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_y(kind, method, bad):
    X, y = data(kind)
    estimator = make(kind)
    if method == "partial_fit_again":
        run(estimator, "partial_fit", X, y)
    coefs, intercepts = getattr(estimator, "coefs_", []), getattr(estimator, "intercepts_", [])
    y_bad = y.astype(np.float64)
    y_bad[5] = bad
    method = method.replace("_again", "")
    assert_rejected(
        lambda: run(estimator, method, X, y_bad), [X, y_bad], r"Input y contains (NaN|infinity)"
    )
    if coefs:
        assert_same_weights(estimator, coefs, intercepts)


@pytest.mark.parametrize("kind", KINDS)
def test_non_finite_multioutput_y(kind):
    X, y = data(kind)
    Y = np.column_stack([y, y]).astype(np.float64)
    Y[2, 1] = np.nan
    assert_rejected(lambda: make(kind).fit(X, Y), [X, Y], r"Input y contains NaN")


# --- shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "predict", "score"])
@pytest.mark.parametrize(
    ("shape", "match"),
    [((N_SAMPLES,), r"Expected 2D array, got 1D array"), ((N_SAMPLES, N_FEATURES, 2), r"dim 3")],
    ids=["1d", "3d"],
)
def test_X_of_wrong_dimension(kind, method, shape, match):
    _, y = data(kind)
    X_bad = np.random.RandomState(1).randn(*shape)
    estimator = fitted(kind) if method in ("predict", "score") else make(kind)
    assert_rejected(lambda: run(estimator, method, X_bad, y), [X_bad, y], match)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("n_y", [N_SAMPLES - 5, N_SAMPLES + 5])
def test_X_and_y_of_different_lengths(kind, method, n_y):
    X, _ = data(kind)
    _, y = data(kind, n_samples=n_y)
    assert_rejected(
        lambda: run(make(kind), method, X, y), [X, y], r"inconsistent numbers of samples"
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "predict"])
def test_empty_X(kind, method):
    X, y = data(kind)
    X_empty, y_empty = X[:0].copy(), y[:0].copy()
    estimator = fitted(kind) if method == "predict" else make(kind)
    assert_rejected(
        lambda: run(estimator, method, X_empty, y_empty), [X_empty, y_empty], r"0 sample"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_X_without_features(kind):
    X, y = data(kind)
    X_empty = X[:, :0].copy()
    assert_rejected(lambda: make(kind).fit(X_empty, y), [X_empty, y], r"0 feature")


# --- batch_size and learning_rate_init ----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize(
    "batch_size",
    [
        0,
        -1,
        32.0,
        0.5,
        "Auto",
        "all",
        None,
    ],
)
def test_bad_batch_size(kind, method, batch_size):
    X, y = data(kind)
    assert_rejected(
        lambda: run(make(kind, batch_size=batch_size), method, X, y), [X, y], r"batch_size"
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("learning_rate_init", [0, 0.0, -0.001, -1, np.nan, np.inf, "0.1"])
def test_bad_learning_rate_init(kind, method, learning_rate_init):
    X, y = data(kind)
    estimator = make(kind, learning_rate_init=learning_rate_init)
    assert_rejected(lambda: run(estimator, method, X, y), [X, y], r"learning_rate_init")


@pytest.mark.parametrize("kind", KINDS)
def test_batch_size_larger_than_training_set_is_clipped(kind):
    X, y = data(kind)
    copies = X.copy(), y.copy()
    estimator = make(kind, batch_size=50, max_iter=3)
    with pytest.warns(UserWarning, match=r"batch_size=50") as record:
        estimator.fit(X, y)
    messages = [str(w.message) for w in record if "batch_size=50" in str(w.message)]
    assert len(messages) == 1  # once per fit, not once per epoch
    assert str(N_SAMPLES) in messages[0]  # says what it was clipped to
    assert estimator.history_[-1]["n_updates"] == 1
    assert estimator.history_[-1]["batch_size"] == N_SAMPLES
    assert [epoch["n_updates"] for epoch in estimator.history_] == [1, 1, 1]
    assert estimator.n_updates_ == 3
    for array, copy in zip((X, y), copies, strict=True):
        np.testing.assert_array_equal(array, copy)
        assert array.flags.writeable


@pytest.mark.parametrize("accumulate", [1, 3])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("batch_size", [2**63 - 1, 2**63, 10**30])
def test_enormous_batch_size_is_one_batch_of_every_row(method, batch_size, accumulate):
    X, y = data("regressor")
    estimator = make("regressor", batch_size=batch_size, max_iter=1, accumulate=accumulate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fit's clipping warning
        run(estimator, method, X, y)
    assert estimator.history_[-1]["n_samples"] == N_SAMPLES
    assert estimator.history_[-1]["n_updates"] == 1
    assert np.isfinite(estimator.loss_)


def test_partial_fit_on_a_chunk_that_drop_last_drops_warns_and_trains_nothing():
    X, y = data("regressor")
    estimator = make("regressor", batch_size=8, drop_last=True)
    run(estimator, "partial_fit", X, y)
    before = _fitted_state(estimator)
    with pytest.warns(UserWarning, match=r"5 samples, fewer than batch_size=8.*drop_last"):
        run(estimator, "partial_fit", X[:5], y[:5])
    _assert_same_state(estimator, before)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_partial_fit_refuses_early_stopping_as_scikit_learn_does(kind):
    X, y = data(kind)
    estimator = make(kind).fit(X, y)
    before = _fitted_state(estimator)
    estimator.set_params(early_stopping=True)
    with pytest.raises(ValueError, match=r"^partial_fit does not support early_stopping=True"):
        run(estimator, "partial_fit", X, y)
    _assert_same_state(estimator, before)


def test_early_stopping_that_leaves_only_rows_of_weight_zero_says_so():
    X, y = data("regressor")
    estimator = make("regressor", early_stopping=True, validation_fraction=0.5, shuffle=False)
    held_out = train_test_split(np.arange(N_SAMPLES), test_size=0.5, random_state=0)[1]
    weights = np.zeros(N_SAMPLES)
    weights[held_out] = 1.0  # the sum is positive: only the held-out rows have weight
    with pytest.raises(ValueError, match=r"^The rows left for training after early_stopping"):
        estimator.set_params(random_state=0).fit(X, y, sample_weight=weights)


def test_fit_stream_drops_small_chunks_as_fit_drops_a_partial_batch_but_not_all_of_them():
    X, y = data("regressor")
    estimator = make("regressor", batch_size=8, drop_last=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the last chunk, smaller than a batch, goes silently
        fit_stream(estimator, [(X, y), (X[:5], y[:5])])
    assert estimator.history_[-1]["n_samples"] == N_SAMPLES // 8 * 8
    small = make("regressor", batch_size=8, drop_last=True)
    with pytest.raises(ValueError, match=r"^No chunk of the pass was trained on: each of the 2 "):
        fit_stream(small, [(X[:5], y[:5])] * 2)


class _BadSchedule(BaseEstimator):
    """A custom schedule answering ``value`` to whatever it is asked."""

    def __init__(self, value=None):
        self.value = value

    def multipliers(self, steps, epoch, history):
        return self.value(steps) if callable(self.value) else self.value

    def batch_size(self, epoch, history, n_samples):
        return self.value


@pytest.mark.parametrize(
    "returned",
    [
        lambda steps: 1.0,  # a scalar
        lambda steps: np.ones(steps.size - 1),  # too short
        lambda steps: np.ones((steps.size, 2)),
        lambda steps: -np.ones(steps.size),
        lambda steps: np.full(steps.size, np.nan),
        lambda steps: ["fast"] * steps.size,
        lambda steps: None,
    ],
    ids=["scalar", "short", "2d", "negative", "nan", "strings", "none"],
)
def test_a_learning_rate_schedule_returning_nonsense(returned):
    X, y = data("regressor")
    estimator = make("regressor", learning_rate=_BadSchedule(returned))
    estimator.learning_rate.batch_size = None  # not a batch-size schedule
    with pytest.raises(ValueError, match=r"_BadSchedule.multipliers.*one finite non-negative"):
        estimator.fit(X, y)
    assert not hasattr(estimator, "coefs_")


@pytest.mark.parametrize("returned", [0, -5, 2.7, "full", None, True])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_batch_size_schedule_returning_nonsense(returned, method):
    X, y = data("regressor")
    estimator = make("regressor", batch_size=_BadSchedule(returned))
    with pytest.raises(ValueError, match=r"_BadSchedule.batch_size.*must return an int >= 1"):
        run(estimator, method, X, y)


@pytest.mark.parametrize("kind", KINDS)
def test_partial_fit_on_fewer_rows_than_batch_size_is_one_update(kind):
    # partial_fit may or may not warn here (a small chunk is normal when streaming), but a
    # chunk smaller than batch_size is one batch: one update, never an error.
    X, y = data(kind)
    estimator = make(kind, batch_size=50)
    run(estimator, "partial_fit", X, y)
    run(estimator, "partial_fit", X[:7], y[:7])
    assert [epoch["n_updates"] for epoch in estimator.history_] == [1, 1]
    assert estimator.n_updates_ == 2
    assert estimator.t_ == N_SAMPLES + 7


# --- targets and classes ------------------------------------------------------------------


def test_partial_fit_classifier_requires_classes_on_first_call():
    X, y = data("classifier")
    assert_rejected(lambda: make("classifier").partial_fit(X, y), [X, y], r"classes")


@pytest.mark.parametrize("call", ["first", "second", "second_with_classes"])
def test_partial_fit_labels_outside_classes(call):
    X, _ = data("classifier")
    classes = np.array(["cat", "dog"])
    y_good = np.array(["cat", "dog"] * (N_SAMPLES // 2), dtype="U4")
    y_bad = y_good.copy()
    y_bad[7] = "bird"
    estimator = make("classifier")
    if call == "first":
        rejected = lambda: estimator.partial_fit(X, y_bad, classes=classes)  # noqa: E731
    else:
        estimator.partial_fit(X, y_good, classes=classes)
        kwargs = {"classes": classes} if call == "second_with_classes" else {}
        rejected = lambda: estimator.partial_fit(X, y_bad, **kwargs)  # noqa: E731
    excinfo = assert_rejected(rejected, [X, y_bad, classes], r"classes")
    assert "bird" in str(excinfo.value)


def test_partial_fit_classes_changed_between_calls():
    X, y = data("classifier")
    estimator = make("classifier").partial_fit(X, y, classes=CLASSES)
    new_classes = np.array([0, 1, 2])
    assert_rejected(
        lambda: estimator.partial_fit(X, y, classes=new_classes), [X, y, new_classes], r"classes"
    )


@pytest.mark.parametrize("warm_start", [False, True], ids=["partial_fit", "warm_start_fit"])
@pytest.mark.parametrize(
    "change", ["binary_to_multilabel", "multiclass_to_multilabel", "multilabel_to_binary"]
)
def test_classifier_target_type_changed_between_calls(warm_start, change):
    X, y = data("classifier")
    first, second = {
        "binary_to_multilabel": (y, np.column_stack([y, 1 - y])),
        "multiclass_to_multilabel": (np.arange(N_SAMPLES) % 3, np.column_stack([y, 1 - y])),
        "multilabel_to_binary": (np.column_stack([y, 1 - y]), y),
    }[change]
    classes = np.unique(first) if first.ndim == 1 else CLASSES
    estimator = make("classifier", warm_start=warm_start)
    if warm_start:
        estimator.fit(X, first)
        rejected = lambda: estimator.fit(X, second)  # noqa: E731
    else:
        estimator.partial_fit(X, first, classes=classes)
        rejected = lambda: estimator.partial_fit(X, second)  # noqa: E731
    assert_rejected(rejected, [X, second], r"(?i)multilabel|multiclass|binary|target|label")


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize(
    "y", [np.array(["a", "b"] * 10), np.array(["low", "high"] * 10, dtype=object)]
)
def test_regressor_string_targets(method, y):
    X, _ = data("regressor")
    assert_rejected(
        lambda: run(make("regressor"), method, X, y),
        [X, y],
        r"(?i)could not convert string to float|numeric",
    )


@pytest.mark.parametrize(
    ("y", "classes"),
    [
        (np.zeros(N_SAMPLES, dtype=int), None),
        (np.array(["cat"] * N_SAMPLES), None),
        (np.zeros(N_SAMPLES, dtype=int), np.array([0])),
        (np.zeros(N_SAMPLES, dtype=int), np.array([0, 0])),
    ],
    ids=["fit_int", "fit_str", "partial_fit_one_class", "partial_fit_duplicate_class"],
)
def test_classifier_single_class(y, classes):
    X, _ = data("classifier")
    estimator = make("classifier")
    if classes is None:
        rejected = lambda: estimator.fit(X, y)  # noqa: E731
    else:
        rejected = lambda: estimator.partial_fit(X, y, classes=classes)  # noqa: E731
    assert_rejected(rejected, [X, y, classes], r"at least 2")


def test_partial_fit_classes_of_mixed_types_are_refused_as_given():
    # As an array they would all have become strings: ['3', 'a', 'b'].
    X, _ = data("classifier")
    y = np.array(["a", "b"] * (N_SAMPLES // 2), dtype=object)
    classes = ["a", "b", 3]
    assert_rejected(
        lambda: make("classifier").partial_fit(X, y, classes=classes),
        [X, y],
        r"classes=\['a', 'b', 3\]: Mix of label input types",
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["partial_fit", "warm_start_fit"])
def test_scalar_y_after_the_first_call(kind, method):
    X, y = data(kind)
    estimator = make(kind, warm_start=True)
    run(estimator, "partial_fit" if method == "partial_fit" else "fit", X, y)
    scalar = np.array(y[0])
    call = "partial_fit" if method == "partial_fit" else "fit"
    assert_rejected(lambda: run(estimator, call, X, scalar), [X], r"at least 1 dimension")


@pytest.mark.parametrize("kind", KINDS)
def test_accumulate_beyond_the_kernels_integers(kind):
    X, y = data(kind)
    assert_rejected(
        lambda: make(kind, accumulate=2**63).fit(X, y), [X, y], r"'accumulate' parameter"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_validation_set_of_one_row_is_refused_as_scikit_learn_does(kind):
    X, y = data(kind)  # 0.05 of 20 rows: one row
    assert_rejected(
        lambda: make(kind, early_stopping=True, validation_fraction=0.05).fit(X, y),
        [X, y],
        r"validation_fraction=0.05 of 20 samples.*Increase validation_fraction",
    )


def test_classifier_continuous_target():
    X, y = data("regressor")
    assert_rejected(lambda: make("classifier").fit(X, y), [X, y], r"continuous")


# --- number of features and architecture across calls -------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["partial_fit", "warm_start_fit", "predict", "score"])
@pytest.mark.parametrize("n_features", [N_FEATURES - 1, N_FEATURES + 2])
def test_different_number_of_features_than_before(kind, method, n_features):
    X, y = data(kind)
    estimator = make(kind, warm_start=method == "warm_start_fit")
    run(estimator, "partial_fit" if method == "partial_fit" else "fit", X, y)
    coefs, intercepts = estimator.coefs_, estimator.intercepts_
    X_other, _ = data(kind, n_features=n_features, seed=1)
    method = "fit" if method == "warm_start_fit" else method
    excinfo = assert_rejected(
        lambda: run(estimator, method, X_other, y), [X_other, y], r"features"
    )
    assert str(n_features) in str(excinfo.value) and str(N_FEATURES) in str(excinfo.value)
    assert_same_weights(estimator, coefs, intercepts)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["warm_start_fit", "partial_fit"])
@pytest.mark.parametrize("new_sizes", [(5,), (4, 4), ()])
def test_changing_hidden_layer_sizes_of_a_fitted_network(kind, method, new_sizes):
    X, y = data(kind)
    estimator = make(kind, warm_start=method == "warm_start_fit")
    run(estimator, "fit" if method == "warm_start_fit" else "partial_fit", X, y)
    coefs, intercepts = estimator.coefs_, estimator.intercepts_
    estimator.set_params(hidden_layer_sizes=new_sizes)
    method = "fit" if method == "warm_start_fit" else method
    assert_rejected(
        lambda: run(estimator, method, X, y), [X, y], r"layer sizes|hidden_layer_sizes"
    )
    assert_same_weights(estimator, coefs, intercepts)


# --- parameters ---------------------------------------------------------------------------

BAD_PARAMETERS = [
    ("activation", "softmax"),
    ("activation", None),
    ("weight_init", "zeros"),
    ("weight_init", "glorot"),
    ("solver", "lbfgs"),
    ("solver", "SGD"),
    ("alpha", -1.0),
    ("alpha", np.nan),
    ("alpha", "0.1"),
    ("momentum", 1.5),
    ("momentum", -0.1),
    ("nesterovs_momentum", "no"),
    ("beta_1", 1.0),
    ("beta_1", -0.1),
    ("beta_2", 1.5),
    ("beta_2", 1.0),
    ("epsilon", 0.0),
    ("epsilon", -1e-8),
    ("max_iter", 0),
    ("max_iter", -5),
    ("max_iter", 2.5),
    ("tol", -1.0),
    ("tol", np.nan),
    ("tol", "1e-4"),
    ("n_iter_no_change", 0),
    ("n_iter_no_change", 1.5),
    ("hidden_layer_sizes", (0,)),
    ("hidden_layer_sizes", (-3,)),
    ("hidden_layer_sizes", (2.5,)),
    ("hidden_layer_sizes", (4, 0)),
    ("hidden_layer_sizes", "ten"),
    ("hidden_layer_sizes", 0),
    ("hidden_layer_sizes", None),
    ("hidden_layer_sizes", [[3, 4]]),
    ("hidden_layer_sizes", 2**63),  # beyond int64: an OverflowError before
    ("hidden_layer_sizes", (4, 2**63)),
    ("shuffle", "yes"),
    ("shuffle", None),
    ("drop_last", None),
    ("drop_last", 1),
    ("warm_start", "true"),
    ("random_state", "seed"),
    ("random_state", -1),
    # scikit-learn's "verbose" constraint: an int >= 0 or a bool
    ("verbose", -1),
    ("verbose", 0.5),
    ("verbose", "high"),
]
REGRESSOR_BAD_PARAMETERS = [
    ("loss", "hinge"),
    ("loss", "log_loss"),
    ("loss", None),
    ("huber_delta", 0),
    ("huber_delta", -1.0),
    ("huber_delta", np.nan),
]
PARAMETER_CASES = [("classifier", *case) for case in BAD_PARAMETERS] + [
    ("regressor", *case) for case in BAD_PARAMETERS + REGRESSOR_BAD_PARAMETERS
]


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize(
    ("kind", "param", "value"),
    PARAMETER_CASES,
    ids=[f"{kind}-{param}={value!r}" for kind, param, value in PARAMETER_CASES],
)
def test_parameter_outside_its_type_or_range(kind, param, value, method):
    X, y = data(kind)
    estimator = make(kind, **{param: value})
    assert_rejected(lambda: run(estimator, method, X, y), [X, y], param)


# --- sample_weight ------------------------------------------------------------------------


def _bad_sample_weight(case):
    weights = np.ones(N_SAMPLES)
    if case == "short":
        return weights[:-3].copy()
    if case == "long":
        return np.ones(N_SAMPLES + 1)
    if case == "2d":
        return weights.reshape(-1, 1).copy()
    weights[4] = {"negative": -1.0, "nan": np.nan, "inf": np.inf}[case]
    return weights


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("case", ["short", "long", "2d", "negative", "nan", "inf"])
def test_bad_sample_weight(kind, method, case):
    X, y = data(kind)
    sample_weight = _bad_sample_weight(case)
    assert_rejected(
        lambda: run(make(kind), method, X, y, sample_weight=sample_weight),
        [X, y, sample_weight],
        r"(?i)sample.?weight",
    )


# --- not fitted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("classifier", "predict"),
        ("classifier", "predict_proba"),
        ("classifier", "predict_log_proba"),
        ("classifier", "score"),
        ("regressor", "predict"),
        ("regressor", "score"),
    ],
)
def test_not_fitted(kind, method):
    X, y = data(kind)
    assert issubclass(NotFittedError, ValueError)
    assert_rejected(lambda: run(make(kind), method, X, y), [X, y], r"not fitted", NotFittedError)


# --- coefs_init / intercepts_init ---------------------------------------------------------


def _initial_weights(case):
    """coefs_init and intercepts_init for a network 3 -> 4 -> 1 (hidden_layer_sizes=(4,))."""
    coefs = [np.zeros((N_FEATURES, 4)), np.zeros((4, 1))]
    intercepts = [np.zeros(4), np.zeros(1)]
    if case == "too_few":
        return coefs[:1], intercepts[:1]
    if case == "too_many":
        return [*coefs, np.zeros((1, 1))], [*intercepts, np.zeros(1)]
    if case == "transposed":
        return [c.T.copy() for c in coefs], intercepts
    if case == "wrong_fan_in":
        return [np.zeros((N_FEATURES + 1, 4)), coefs[1]], intercepts
    if case == "wrong_intercept":
        return coefs, [np.zeros(5), intercepts[1]]
    if case == "2d_intercept":
        return coefs, [np.zeros((1, 4)), intercepts[1]]
    if case == "counts_differ":
        return coefs, intercepts[:1]
    if case == "no_intercepts":
        return coefs, None
    if case == "no_coefs":
        return None, intercepts
    if case == "nan":
        coefs[1][2, 0] = np.nan
        return coefs, intercepts
    if case == "inf_intercept":
        intercepts[0][1] = np.inf
        return coefs, intercepts
    if case == "scalar":
        return 3, 3
    if case == "ragged":
        return [[[0.0, 0.0, 0.0, 0.0], [0.0]], coefs[1]], intercepts
    if case == "complex":  # float64 would drop the imaginary parts
        return [coefs[0] + 1j, coefs[1]], intercepts
    raise AssertionError(case)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "case",
    [
        "too_few",
        "too_many",
        "transposed",
        "wrong_fan_in",
        "wrong_intercept",
        "2d_intercept",
        "counts_differ",
        "no_intercepts",
        "no_coefs",
        "nan",
        "inf_intercept",
        "scalar",
        "ragged",
        "complex",
    ],
)
def test_bad_initial_weights(kind, case):
    X, y = data(kind)
    coefs_init, intercepts_init = _initial_weights(case)
    arrays = [X, y]
    for weights in (coefs_init, intercepts_init):
        if isinstance(weights, list):
            arrays += weights
    assert_rejected(
        lambda: make(kind).fit(X, y, coefs_init=coefs_init, intercepts_init=intercepts_init),
        arrays,
        r"coefs_init|intercepts_init",
    )


# --- successful calls leave the caller's arrays alone -------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layout", ["float64_C", "float32_F", "int64"])
def test_successful_calls_leave_arrays_untouched(kind, layout):
    X, y = data(kind)
    if layout == "float32_F":
        X = np.asfortranarray(X, dtype=np.float32)
    elif layout == "int64":
        X = np.round(X * 10).astype(np.int64)
    sample_weight = np.linspace(0.5, 2.0, N_SAMPLES)
    arrays = [X, y, sample_weight]
    copies = [a.copy() for a in arrays]
    estimator = make(kind, warm_start=True)
    estimator.fit(X, y, sample_weight=sample_weight)
    estimator.fit(X, y, sample_weight=sample_weight)
    run(estimator, "partial_fit", X, y, sample_weight=sample_weight)
    estimator.predict(X)
    estimator.score(X, y, sample_weight=sample_weight)
    for array, copy in zip(arrays, copies, strict=True):
        assert array.dtype == copy.dtype
        np.testing.assert_array_equal(array, copy)
        assert array.flags.writeable
    if kind == "classifier":
        np.testing.assert_array_equal(np.asarray(estimator.classes_), CLASSES)


# --- divergence ---------------------------------------------------------------------------


def _diverging_data():
    """Unscaled features and large targets: plain SGD with a huge learning rate blows up."""
    rng = np.random.RandomState(0)
    X = rng.randn(N_SAMPLES, N_FEATURES) * 100.0
    y = X @ np.array([1.0, 2.0, 3.0]) * 1000.0 + 5e4
    return X, y


def _assert_all_finite(estimator):
    for array in estimator.coefs_ + estimator.intercepts_:
        assert np.isfinite(array).all()


@pytest.mark.parametrize(
    ("batch_size", "learning_rate_init"), [(1, 1e6), (5, 1e10)], ids=["sgd_1", "minibatch_5"]
)
def test_divergence_stops_with_a_warning_and_finite_weights(batch_size, learning_rate_init):
    X, y = _diverging_data()
    copies = X.copy(), y.copy()
    max_iter = 5
    estimator = MiniBatchRegressor(
        hidden_layer_sizes=(),
        solver="sgd",
        momentum=0.0,
        learning_rate_init=learning_rate_init,
        batch_size=batch_size,
        max_iter=max_iter,
        tol=None,
        random_state=0,
    )
    with pytest.warns(DivergenceWarning, match=r"learning_rate_init") as record:
        estimator.fit(X, y)
    message = next(str(w.message) for w in record if issubclass(w.category, DivergenceWarning))
    assert "smaller" in message
    assert estimator.n_iter_ < max_iter  # it stopped
    assert len(estimator.loss_curve_) == estimator.n_iter_
    assert all(np.isfinite(loss) for loss in estimator.loss_curve_)
    _assert_all_finite(estimator)
    assert np.isfinite(estimator.predict(X)).all()
    for array, copy in zip((X, y), copies, strict=True):
        np.testing.assert_array_equal(array, copy)
        assert array.flags.writeable


@pytest.mark.parametrize("max_iter", [1, 3])
def test_divergence_in_the_last_update_of_an_epoch(max_iter):
    # One full-batch update with an (allowed) enormous learning rate overflows the weights.
    rng = np.random.RandomState(0)
    X, y = rng.randn(N_SAMPLES, N_FEATURES) * 10.0, rng.randn(N_SAMPLES) * 1000.0
    estimator = MiniBatchRegressor(
        hidden_layer_sizes=(),
        solver="sgd",
        momentum=0.0,
        learning_rate_init=1e307,
        batch_size="full",
        max_iter=max_iter,
        tol=None,
        random_state=0,
    )
    with pytest.warns(DivergenceWarning, match=r"learning_rate_init"):
        estimator.fit(X, y)
    _assert_all_finite(estimator)
    assert np.isfinite(estimator.predict(X)).all()


def _fitted_state(estimator):
    """Copies of everything a call may change: attributes and the history's records."""
    state = {}
    for name, value in vars(estimator).items():
        if name.endswith("_") and not name.startswith("_"):
            if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
                state[name] = [array.copy() for array in value]
            elif isinstance(value, list):
                state[name] = [dict(item) if isinstance(item, dict) else item for item in value]
            else:
                state[name] = (
                    np.array(value, copy=True) if isinstance(value, np.ndarray) else value
                )
    return state


def _assert_same_state(estimator, before):
    after = _fitted_state(estimator)
    assert after.keys() == before.keys()
    for name, value in before.items():
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            for a, b in zip(after[name], value, strict=True):
                np.testing.assert_array_equal(a, b)
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[name], value)
        else:
            assert after[name] == value, name


class _Interrupt:
    """A callback standing for Ctrl-C after the epoch ``after``: raises KeyboardInterrupt."""

    def __init__(self, after):
        self.after = after

    def on_epoch_end(self, estimator, record):
        if record["epoch"] == self.after:
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    "case", ["fit_new_data", "partial_fit_bad_labels", "partial_fit_interrupted"]
)
def test_a_call_that_raises_leaves_the_fitted_estimator_as_it_was(case):
    """The second call fails after replacing checks' results (another number of features,
    other labels, then bad validation_data), on labels outside ``classes``, or is interrupted
    before its one epoch completes (its callback raising); the estimator keeps the first fit's
    classes, features, weights and history, so it predicts on the first X as before."""
    X, y = data("classifier")
    clf = MiniBatchMLPClassifier((5,), batch_size=4, max_iter=3, tol=None, random_state=0)
    clf.fit(X, y)
    before, predicted = _fitted_state(clf), clf.predict_proba(X)
    X_other = np.random.RandomState(1).randn(N_SAMPLES, N_FEATURES + 2)
    y_other = np.where(np.arange(N_SAMPLES) % 2, "yes", "no")
    if case == "fit_new_data":
        with pytest.raises(ValueError):
            clf.fit(X_other, y_other, validation_data=(X_other, np.arange(N_SAMPLES) * 1.5))
    elif case == "partial_fit_bad_labels":
        with pytest.raises(ValueError):
            clf.partial_fit(X, np.where(y == 0, 7, y))  # 7 is not a class
    else:
        clf.set_params(callbacks=[_Interrupt(after=4)])
        with pytest.raises(KeyboardInterrupt, match="the estimator is left as it was"):
            clf.partial_fit(X, y)
    _assert_same_state(clf, before)
    np.testing.assert_array_equal(clf.predict_proba(X), predicted)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X_other)


@pytest.mark.parametrize("given", ["four items", "array", "number"])
def test_validation_data_that_is_not_a_pair_or_a_triple(given):
    X, y = data("classifier")
    validation_data = {"four items": (X, y, None, None), "array": X, "number": 5}[given]
    with pytest.raises(
        ValueError, match=r"validation_data must be a pair \(X_val, y_val\) or a triple"
    ):
        make("classifier").fit(X, y, validation_data=validation_data)


@pytest.mark.parametrize(
    "weights, problem",
    [
        ([1.0, 2.0], r"expected \(20,\)"),
        ([-1.0] * N_SAMPLES, "Negative values"),
        ([0.0] * N_SAMPLES, "at least one non-zero"),
    ],
)
def test_validation_weights_that_are_wrong_are_named(weights, problem):
    X, y = data("classifier")
    with pytest.raises(ValueError, match=rf"^validation_data's sample_weight_val: .*{problem}"):
        make("classifier").fit(X, y, validation_data=(X, y, weights))


@pytest.mark.parametrize("where", ["validation_data", "gradient_noise_scale", "monitor"])
@pytest.mark.parametrize("fitted_outputs, given_outputs", [(1, 2), (1, 5), (3, 1)])
def test_targets_of_another_width_than_the_network_are_refused(
    where, fitted_outputs, given_outputs
):
    """The kernels index targets by the network's outputs: other widths corrupted the heap
    (a crash of the interpreter) or read out of bounds before they were checked."""
    X, y = data("regressor")
    Y = np.tile(y[:, None], fitted_outputs)
    Y_other = np.tile(y[:, None], given_outputs)
    estimator = make("regressor").fit(X, Y)
    before = _fitted_state(estimator)
    message = rf"y has {given_outputs} target column\(s\), but the network has {fitted_outputs}"
    with pytest.raises(ValueError, match=message):
        if where == "validation_data":
            estimator.set_params(warm_start=True).fit(X, Y, validation_data=(X, Y_other))
        elif where == "gradient_noise_scale":
            gradient_noise_scale(estimator, X, Y_other)
        else:
            estimator.set_params(warm_start=True, callbacks=[NoiseScaleMonitor(X, Y_other)])
            estimator.fit(X, Y)
    _assert_same_state(estimator, before)


@pytest.mark.parametrize(
    "edit, match",
    [
        ("optimizer state cut", r"^The fitted optimizer state has the shape \(10,\), not"),
        ("intercept cut", r"^coefs_\[0\] must have the shape \(3, 4\) and intercepts_\[0\] 4 "),
        ("coef of one value", r"^coefs_\[0\] must have the shape \(3, 1\)"),  # sizes from coefs_
        ("fewer coef rows", "n_features_in_ and coefs_ disagree"),
        ("integer coefs", r"^coefs_ must hold float32 or float64 arrays; coefs_\[0\] is int64"),
        ("intercepts list cut", r"^coefs_ and intercepts_ must hold an array per layer, 2 "),
    ],
)
def test_fitted_attributes_edited_by_hand_are_refused_before_the_kernels(edit, match):
    """The kernels index the parameters and optimizer state unchecked: a cut state corrupted
    the heap, cut biases were read from uninitialised memory, a weight matrix narrower than
    X was read past its end by gradient_noise_scale."""
    X, y = data("regressor")
    estimator = make("regressor", solver="adam").fit(X, y)
    if edit == "optimizer state cut":
        estimator._optimizer_state = estimator._optimizer_state[:10]
        calls = [lambda: estimator.partial_fit(X, y)]
    elif edit == "intercept cut":
        estimator.intercepts_[0] = estimator.intercepts_[0][:1]
        calls = [lambda: estimator.predict(X), lambda: estimator.partial_fit(X, y)]
    elif edit == "coef of one value":  # NumPy would broadcast it over the whole layer
        estimator.coefs_[1] = np.ones((1, 1))
        calls = [lambda: estimator.predict(X), lambda: gradient_noise_scale(estimator, X, y)]
    elif edit == "intercepts list cut":  # zip's message before
        estimator.intercepts_ = estimator.intercepts_[:1]
        calls = [lambda: estimator.predict(X), lambda: estimator.partial_fit(X, y)]
    elif edit == "integer coefs":  # predict raised a KeyError from the kernels' dispatch
        estimator.coefs_ = [np.ones(c.shape, np.int64) for c in estimator.coefs_]
        calls = [lambda: estimator.predict(X), lambda: estimator.partial_fit(X, y)]
    else:
        estimator.coefs_[0] = estimator.coefs_[0][:2]
        calls = [lambda: gradient_noise_scale(estimator, X, y), lambda: estimator.predict(X)]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()


class _ShiftedRandomState(np.random.RandomState):
    """A RandomState subclass whose permutations are off by one: rows past the end."""

    def permutation(self, x):
        return super().permutation(x) + 1


def test_a_random_state_whose_permutation_is_none_is_refused():
    """The kernels index X with the epoch's order unchecked: it read past X's rows."""
    X, y = data("regressor")
    estimator = make("regressor", random_state=_ShiftedRandomState(0))
    with pytest.raises(ValueError, match=r"^random_state's permutation\(20\) did not return"):
        estimator.fit(X, y)
    assert not hasattr(estimator, "coefs_")


@pytest.mark.parametrize("fitted_on", ["binary", "multilabel"])
def test_classification_targets_of_another_kind_in_validation_data_are_named(fitted_on):
    X, y = data("classifier")
    labels = {"binary": y, "multilabel": np.c_[y, 1 - y]}
    other = labels["multilabel" if fitted_on == "binary" else "binary"]
    clf = make("classifier")
    with pytest.raises(ValueError, match=r"^validation_data's y_val: y of shape .* does not fit"):
        clf.fit(X, labels[fitted_on], validation_data=(X, other))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^validation_data: Input X contains NaN"):
        clf.fit(X, labels[fitted_on], validation_data=(X_nan, labels[fitted_on]))


def test_partial_fit_on_a_changed_network_says_how_to_start_anew():
    X, y = data("regressor")
    estimator = make("regressor", hidden_layer_sizes=(4,)).fit(X, y)
    estimator.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match=r"\[3, 4, 1\].*\[3, 5, 1\]. Call fit to start"):
        estimator.partial_fit(X, y)


@pytest.mark.parametrize("classes", [[[0, 1]], 1, [[0], [1]]], ids=["row", "scalar", "column"])
def test_partial_fit_classes_that_are_not_a_vector(classes):
    X, y = data("classifier")
    with pytest.raises(ValueError, match=r"classes must be a 1-d array-like .* shape"):
        make("classifier").partial_fit(X, y, classes=classes)


def test_an_interrupted_fit_keeps_the_epochs_it_completed():
    """Ctrl-C during training (here, raised by a callback after epoch 3, before that epoch
    counts) keeps the weights of the epochs completed, as a shorter fit trains them, and
    propagates; the estimator describes the new data."""
    X, y = data("classifier")
    X_other = np.random.RandomState(1).randn(N_SAMPLES, N_FEATURES + 2)
    params = dict(hidden_layer_sizes=(5,), batch_size=4, tol=None, random_state=0)
    clf = MiniBatchMLPClassifier(max_iter=3, **params).fit(X, y)
    clf.set_params(max_iter=10, callbacks=[_Interrupt(after=3)])
    message = r"^Training interrupted: the weights after the 2 epoch\(s\) this call completed"
    with pytest.raises(KeyboardInterrupt, match=message):
        clf.fit(X_other, y)
    shorter = MiniBatchMLPClassifier(max_iter=2, **params).fit(X_other, y)
    assert clf.n_features_in_ == N_FEATURES + 2 and clf.n_iter_ == 2
    assert clf.history_["loss"] == shorter.history_["loss"] == clf.loss_curve_
    assert (clf.t_, clf.n_updates_) == (shorter.t_, shorter.n_updates_)
    assert_same_weights(clf, shorter.coefs_, shorter.intercepts_)
