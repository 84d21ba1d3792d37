"""Repeated ``partial_fit`` calls: what a call after the first skips (re-checking unchanged
parameters, scikit-learn's data validation and target typing for plain arrays, rebuilding an
unchanged training config, re-reading the whole history) changes nothing that can be seen:
the same weights bit for bit, the same errors, the same fitted attributes.
"""

import copy
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_blobs, make_regression
from sklearn.utils._param_validation import InvalidParameterError

from skminibatch import DivergenceError, MiniBatchMLPClassifier, MiniBatchRegressor, fit_stream
from skminibatch.schedules import GrowBatchSizeOnPlateau, StepDecay

X, y = make_blobs(60, centers=3, n_features=4, cluster_std=2.0, random_state=2)
X_reg, y_reg = make_regression(60, n_features=4, noise=1.0, random_state=0)
y_reg = (y_reg - y_reg.mean()) / y_reg.std()
SMALL = {"hidden_layer_sizes": (7,), "batch_size": 16, "tol": None, "random_state": 0}
CLASSES = np.array([0, 1, 2])


def weights(estimator):
    return estimator.coefs_ + estimator.intercepts_


def assert_same_weights(first, second):
    for a, b in zip(weights(first), weights(second), strict=True):
        assert_array_equal(a, b)


def chunks(X, y, n_chunks=4):
    size = len(X) // n_chunks
    return [(X[i * size : (i + 1) * size], y[i * size : (i + 1) * size]) for i in range(n_chunks)]


def stream(estimator, X, y, classes=None, every_call=False):
    """partial_fit over the chunks of (X, y); ``classes`` on the first call or every call."""
    for i, (X_chunk, y_chunk) in enumerate(chunks(X, y)):
        kwargs = {"classes": classes} if classes is not None and (i == 0 or every_call) else {}
        estimator.partial_fit(X_chunk, y_chunk, **kwargs)
    return estimator


# --- the same training, whichever validation ran -------------------------------------------


@pytest.mark.parametrize(
    "labels",
    ["int64", "int32", "float", "str", "object", "list"],
)
def test_classifier_labels_in_any_form_train_the_same(labels):
    # ndarrays of numbers or strings skip scikit-learn's checks after the first call; lists
    # and object arrays still take them: all give the same weights.
    names = np.array(["a", "b", "c"])
    y_as = {
        "int64": y,
        "int32": y.astype(np.int32),
        "float": y.astype(float),
        "str": names[y],
        "object": names.astype(object)[y],
        "list": y.tolist(),
    }[labels]
    classes = names if labels in ("str", "object") else CLASSES
    reference = stream(MiniBatchMLPClassifier(**SMALL), X.tolist(), y.tolist(), CLASSES)
    estimator = stream(MiniBatchMLPClassifier(**SMALL), X, y_as, classes)
    assert_same_weights(estimator, reference)
    assert estimator.loss_curve_ == reference.loss_curve_


@pytest.mark.parametrize("classes", [[0, 1, 2], [0.0, 1.0, 2.0], [2, 1, 0], [0, 1, 2, 2]])
def test_classes_given_at_every_call(classes):
    reference = stream(MiniBatchMLPClassifier(**SMALL), X, y, CLASSES)
    estimator = stream(MiniBatchMLPClassifier(**SMALL), X, y, classes, every_call=True)
    assert_same_weights(estimator, reference)
    assert_array_equal(estimator.classes_, CLASSES)


@pytest.mark.parametrize("form", ["list", "float32", "fortran", "2d_y"])
def test_regressor_inputs_in_any_form_train_the_same(form):
    X_as, y_as = {
        "list": (X_reg.tolist(), y_reg.tolist()),
        "float32": (X_reg.astype(np.float32), y_reg),  # converted to the network's float64
        "fortran": (np.asfortranarray(X_reg), y_reg),
        "2d_y": (X_reg, y_reg.reshape(-1, 1)),
    }[form]
    X_ref = X_reg.astype(np.float32).astype(np.float64) if form == "float32" else X_reg
    reference = MiniBatchRegressor(**SMALL).partial_fit(X_reg, y_reg)
    estimator = copy.deepcopy(reference)
    stream(reference, X_ref, y_reg)
    stream(estimator, X_as, y_as)
    assert_same_weights(estimator, reference)


# --- errors and warnings of later calls -------------------------------------------------------


def fitted_classifier():
    return MiniBatchMLPClassifier(**SMALL).partial_fit(X, y, classes=CLASSES)


@pytest.mark.parametrize(
    ("y_bad", "error", "match"),
    [
        (y + 0.5, ValueError, r"'continuous' target"),
        (np.where(y == 0, 7, y), ValueError, r"labels \[7\] that are not in classes \[0, 1, 2\]"),
        (np.array(["a", "b", "c"])[y], ValueError, r"labels \['a', 'b', 'c'\]"),
        (np.column_stack([y, y]), ValueError, r"'multiclass-multioutput' target"),
        (np.array([b"a", b"b", b"c"])[y], TypeError, r"bytes"),
        (y.astype(float) * np.nan, ValueError, r"Input y contains NaN"),
        (y[:-1], ValueError, r"inconsistent numbers of samples"),
    ],
    ids=["continuous", "unknown", "strings", "multioutput", "bytes", "nan", "short"],
)
def test_bad_labels_after_the_first_call(y_bad, error, match):
    estimator = fitted_classifier()
    before = [w.copy() for w in weights(estimator)]
    with pytest.raises(error, match=match):
        estimator.partial_fit(X, y_bad)
    for a, b in zip(weights(estimator), before, strict=True):
        assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("X_bad", "match"),
    [
        (X[:, :3], r"X has 3 features, but MiniBatchMLPClassifier is expecting 4"),
        (np.where(np.arange(4) == 1, np.inf, X), r"Input X contains infinity"),
        (X[:0], r"0 sample"),
        (X[:, :, None], r"dim 3"),
    ],
    ids=["features", "inf", "empty", "3d"],
)
def test_bad_X_after_the_first_call(X_bad, match):
    with pytest.raises(ValueError, match=match):
        fitted_classifier().partial_fit(X_bad, y[: len(X_bad)])


def test_huge_finite_X_after_the_first_call_is_accepted_without_warning():
    # Its sum overflows: the quick test of finiteness fails, the full check passes it.
    X_huge = X.copy()
    X_huge[:2, 0] = 1e308
    estimator = fitted_classifier()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimator.partial_fit(X_huge, y)
    assert estimator.n_iter_ == 2


def test_feature_names_checked_after_the_first_call():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_reg, columns=list("abcd"))
    estimator = MiniBatchRegressor(**SMALL).partial_fit(frame, y_reg)
    with pytest.warns(UserWarning, match=r"X does not have valid feature names"):
        estimator.partial_fit(X_reg, y_reg)


# --- parameters changed between calls ------------------------------------------------------


@pytest.mark.parametrize("how", ["set_params", "assignment"])
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("alpha", -1.0),
        ("learning_rate_init", 0.0),
        ("batch_size", 0),
        ("solver", "lbfgs"),
        ("dropout", 1.5),
        ("max_iter", 2.5),
        ("momentum", 1.5),
        ("random_state", "seed"),
        ("hidden_layer_sizes", (0,)),
    ],
)
def test_parameter_made_invalid_between_calls(param, value, how):
    estimator = fitted_classifier().partial_fit(X, y)
    if how == "set_params":
        estimator.set_params(**{param: value})
    else:
        setattr(estimator, param, value)
    error = ValueError if param == "hidden_layer_sizes" else InvalidParameterError
    with pytest.raises(error, match=param):
        estimator.partial_fit(X, y)
    with pytest.raises(error, match=param):  # still, on the next call
        estimator.partial_fit(X, y)


@pytest.mark.parametrize(
    ("param", "value"),
    [("learning_rate_init", 0.1), ("solver", "sgd"), ("batch_size", "full"), ("alpha", 0.3)],
)
def test_parameter_changed_between_calls_takes_effect(param, value):
    changed = fitted_classifier().set_params(**{param: value}).partial_fit(X, y)
    # An unpickled estimator keeps no training config: it builds one from its parameters.
    rebuilt = pickle.loads(pickle.dumps(fitted_classifier()))
    rebuilt.set_params(**{param: value}).partial_fit(X, y)
    assert_same_weights(changed, rebuilt)
    unchanged = fitted_classifier().partial_fit(X, y)
    assert not np.array_equal(changed.coefs_[0], unchanged.coefs_[0])


@pytest.mark.parametrize(
    ("first", "second"), [("sgd", "rmsprop"), ("sgd", "adagrad"), ("sgd", "adam"), ("adam", "sgd")]
)
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_another_solver_starts_a_new_optimizer(first, second, how):
    """sgd, rmsprop and adagrad keep one value per parameter: a momentum must not become a
    squared average. The reference: a fit of the second solver from the same weights."""
    params = dict(SMALL, shuffle=False, max_iter=1)

    def trained_with_first():
        return MiniBatchMLPClassifier(**params, solver=first).fit(X, y).partial_fit(X, y)

    switched = trained_with_first().set_params(solver=second)
    if how == "partial_fit":
        switched.partial_fit(X, y)
    else:
        switched.set_params(warm_start=True).fit(X, y)
    start = trained_with_first()
    reference = MiniBatchMLPClassifier(**params, solver=second).fit(
        X, y, coefs_init=start.coefs_, intercepts_init=start.intercepts_
    )
    assert_same_weights(switched, reference)
    assert switched.n_updates_ == reference.n_updates_ == 4  # a new optimizer's steps


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_an_estimator_pickled_without_its_optimizers_solver_continues(solver):
    """Pickles of an earlier build lack ``_optimizer_solver``: their state's size says
    whether it is the current solver's, as it did then."""
    fitted = MiniBatchMLPClassifier(**SMALL, solver=solver).fit(X, y)
    old = pickle.loads(pickle.dumps(fitted))
    del old._optimizer_solver
    assert_same_weights(old.partial_fit(X, y), fitted.partial_fit(X, y))
    assert old.n_updates_ == fitted.n_updates_


class InterruptAtFirstEpochEnd:
    """Ctrl-C as the first epoch of a call ends, before it is kept."""

    def on_epoch_end(self, estimator, record):
        raise KeyboardInterrupt


@pytest.mark.parametrize("failure", ["interrupt", "divergence"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_call_stopped_in_its_first_epoch_leaves_the_fitted_model(failure, method):
    """No epoch of the call completed: as after any other error, the model, its history and
    its curves are those of before the call (not freshly drawn weights, for fit)."""
    estimator = MiniBatchMLPClassifier(**SMALL, max_iter=3).fit(X, y)
    before = copy.deepcopy(estimator)
    if failure == "interrupt":
        estimator.set_params(callbacks=[InterruptAtFirstEpochEnd()], random_state=1)
        X_call, error = X, KeyboardInterrupt
    else:
        estimator.set_params(
            solver="sgd", learning_rate_init=1e9, batch_size=1, on_divergence="raise"
        )
        X_call, error = X * 1e3, DivergenceError
    with pytest.raises(error, match="the estimator is left as it was"):
        getattr(estimator, method)(X_call, y)
    assert_same_weights(estimator, before)
    assert estimator.history_ == before.history_
    assert estimator.loss_curve_ == before.loss_curve_
    assert (estimator.n_iter_, estimator.n_updates_) == (before.n_iter_, before.n_updates_)


def test_dropout_list_changed_in_place_takes_effect():
    def trained(second_dropout, in_place):
        estimator = MiniBatchRegressor(**SMALL, dropout=[0.0]).partial_fit(X_reg, y_reg)
        if in_place:
            estimator.dropout[0] = second_dropout
        else:
            estimator.set_params(dropout=[second_dropout])
        return estimator.partial_fit(X_reg, y_reg)

    assert_same_weights(trained(0.5, in_place=True), trained(0.5, in_place=False))
    assert not np.array_equal(trained(0.5, True).coefs_[0], trained(0.0, True).coefs_[0])
    estimator = MiniBatchRegressor(**SMALL, dropout=[0.0]).partial_fit(X_reg, y_reg)
    estimator.dropout[0] = 1.5
    with pytest.raises(ValueError, match=r"dropout must be a rate in \[0, 1\)"):
        estimator.partial_fit(X_reg, y_reg)


def test_hidden_layer_sizes_list_changed_in_place_is_caught():
    estimator = MiniBatchRegressor(**{**SMALL, "hidden_layer_sizes": [7]})
    estimator.partial_fit(X_reg, y_reg)
    estimator.hidden_layer_sizes[0] = 9
    with pytest.raises(ValueError, match=r"layer sizes \[4, 7, 1\].*\[4, 9, 1\]"):
        estimator.partial_fit(X_reg, y_reg)


def test_schedule_changed_in_place_takes_effect_and_is_checked():
    schedule = StepDecay(gamma=0.5, step_size=1)
    estimator = MiniBatchRegressor(**SMALL, learning_rate=schedule).partial_fit(X_reg, y_reg)
    schedule.gamma = 0.25
    estimator.partial_fit(X_reg, y_reg)
    rates = estimator.history_["learning_rate"]
    assert rates[1] == pytest.approx(estimator.learning_rate_init * 0.25)
    estimator.set_params(learning_rate__gamma=-2.0)
    with pytest.raises(ValueError, match=r"gamma"):
        estimator.partial_fit(X_reg, y_reg)


def test_a_batch_size_schedule_changed_in_place_is_checked_again():
    """A batch-size schedule made to watch the validation loss, which partial_fit never
    records, is refused at the next call, as a new one would be."""
    schedule = GrowBatchSizeOnPlateau(initial=8, monitor="loss")
    estimator = MiniBatchRegressor(**dict(SMALL, batch_size=schedule)).partial_fit(X_reg, y_reg)
    schedule.monitor = "val_loss"
    with pytest.raises(ValueError, match=r"batch_size=GrowBatchSizeOnPlateau\(.*'val_loss'"):
        estimator.partial_fit(X_reg, y_reg)


# --- fitted attributes from a long history ---------------------------------------------------


def test_loss_curve_and_best_loss_follow_the_history():
    estimator = MiniBatchRegressor(**SMALL)
    curves = []
    for _ in range(12):
        estimator.partial_fit(X_reg, y_reg)
        curves.append(estimator.loss_curve_)
        assert estimator.loss_curve_ == estimator.history_["loss"]
        assert estimator.best_loss_ == min(estimator.history_["loss"])
        assert estimator.loss_ == estimator.history_[-1]["loss"]
        assert estimator.n_iter_ == len(estimator.history_)
    # Each call appends to the same list, as scikit-learn's MLP does.
    assert all(curve is estimator.loss_curve_ for curve in curves)
    estimator.set_params(warm_start=True, early_stopping=True, max_iter=2).fit(X_reg, y_reg)
    assert estimator.best_loss_ is None
    estimator.set_params(early_stopping=False).partial_fit(X_reg, y_reg)
    assert estimator.best_loss_ == min(estimator.history_["loss"])


class SealedRecord(dict):
    """A history record that fails when read: a call that reads it re-reads old records."""

    def __getitem__(self, key):
        raise AssertionError(f"an earlier record was read ({key!r})")

    __contains__ = get = __getitem__


@pytest.mark.parametrize("validating", [False, True])
def test_a_call_reads_only_its_own_records(validating):
    # A stream of calls must not cost more per call as the history grows: partial_fit, or
    # warm-started one-epoch fits with validation data.
    estimator = MiniBatchMLPClassifier(**SMALL, warm_start=True, max_iter=1)
    if validating:
        kwargs = {"validation_data": (X[:20], y[:20])}
        train = lambda model: model.fit(X, y, **kwargs)  # noqa: E731
    else:
        train = lambda model: model.partial_fit(X, y, classes=CLASSES)  # noqa: E731
    train(train(estimator))
    reference = copy.deepcopy(estimator)
    estimator.history_[:] = [SealedRecord(record) for record in estimator.history_]
    for model in (estimator, reference):
        train(train(model))
    assert estimator.loss_curve_ == reference.loss_curve_
    assert estimator.best_loss_ == reference.best_loss_
    assert estimator.validation_scores_ == reference.validation_scores_
    assert estimator.best_validation_score_ == reference.best_validation_score_
    assert len(estimator.validation_scores_ or ()) == (4 if validating else 0)


@pytest.mark.parametrize("change", ["history_trimmed", "record_replaced", "curve_replaced"])
def test_loss_curve_after_the_history_was_changed(change):
    # fit_stream, for one, merges the records of a pass and sets loss_curve_ anew.
    estimator = MiniBatchRegressor(**SMALL)
    for _ in range(5):
        estimator.partial_fit(X_reg, y_reg)
    if change == "history_trimmed":
        del estimator.history_[:2]
    elif change == "record_replaced":
        estimator.history_[1] = {**estimator.history_[1], "loss": -1.0}
        estimator.loss_curve_ = estimator.history_["loss"]
    else:
        estimator.loss_curve_ = [0.0] * len(estimator.history_)
    estimator.partial_fit(X_reg, y_reg)
    assert estimator.loss_curve_ == estimator.history_["loss"]
    assert estimator.best_loss_ == min(estimator.history_["loss"])


def test_loss_curve_after_fit_stream():
    estimator = MiniBatchRegressor(**SMALL)
    fit_stream(estimator, chunks(X_reg, y_reg), n_passes=3)
    for _ in range(3):
        estimator.partial_fit(X_reg, y_reg)
        assert estimator.loss_curve_ == estimator.history_["loss"]
        assert estimator.best_loss_ == min(estimator.history_["loss"])


# --- copies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("duplicate", [lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy])
def test_copies_continue_like_the_original(duplicate):
    estimator = fitted_classifier().partial_fit(X, y)
    duplicated = duplicate(estimator)
    assert "_kept_training_config" not in vars(duplicated)
    for model in (estimator, duplicated):
        model.partial_fit(X, y).partial_fit(X, y)
    assert_same_weights(estimator, duplicated)
    assert duplicated.loss_curve_ == estimator.loss_curve_
    assert duplicated.best_loss_ == estimator.best_loss_
