"""Training control seen from the estimators: optimizers, accumulation, reduction, schedules,
validation and early stopping, history, callbacks, divergence, dropout, class weights."""

import math
import pickle
import re
import sys
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import is_classifier
from sklearn.datasets import make_blobs, make_classification, make_regression
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import accuracy_score, log_loss, recall_score
from sklearn.model_selection import GridSearchCV, train_test_split

from skminibatch import (
    DivergenceError,
    DivergenceWarning,
    MiniBatchMLPClassifier,
    MiniBatchRegressor,
    batch_size_sweep,
    fit_stream,
    schedules,
)
from skminibatch._trainer import Stopper, TrainingInterrupted

SOLVERS = ["sgd", "adam", "adamw", "rmsprop", "adagrad"]


def linear_problem(n=48, seed=0):
    X, y = make_regression(n_samples=n, n_features=3, noise=1.0, random_state=seed)
    return X, y / y.std()


def sgd_regressor(**params):
    base = dict(
        hidden_layer_sizes=(4,),
        activation="tanh",
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.01,
        alpha=0.0,
        shuffle=False,
        max_iter=2,
        tol=None,
        random_state=0,
    )
    return MiniBatchRegressor(**{**base, **params})


class RecordWeights:
    """A callback keeping a copy of the weights at the end of each epoch, by epoch number."""

    def __init__(self):
        self.of_epoch = {}

    def on_epoch_end(self, estimator, record):
        self.of_epoch[record["epoch"]] = (
            [c.copy() for c in estimator.coefs_],
            [b.copy() for b in estimator.intercepts_],
        )


def assert_weights_equal(estimator, weights):
    coefs, intercepts = weights
    for got, want in zip(
        estimator.coefs_ + estimator.intercepts_, coefs + intercepts, strict=True
    ):
        np.testing.assert_array_equal(got, want)


def numpy_forward(estimator, X):
    """The network's output by plain NumPy: ReLU hidden layers, then the identity (regressor)
    or softmax (classifier of more than two classes); no dropout."""
    assert estimator.activation == "relu"
    out = X
    for i, (coef, intercept) in enumerate(
        zip(estimator.coefs_, estimator.intercepts_, strict=True)
    ):
        out = out @ coef + intercept
        if i < len(estimator.coefs_) - 1:
            out = np.maximum(out, 0)
    if is_classifier(estimator):
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return out


def numpy_val_loss(estimator, X, y):
    """A regressor's validation loss as recorded: half the mean squared error plus the L2
    penalty, from a plain NumPy forward pass."""
    errors = numpy_forward(estimator, X)[:, 0] - y
    penalty = 0.5 * estimator.alpha * sum(np.sum(c**2) for c in estimator.coefs_)
    return 0.5 * np.mean(errors**2) + penalty


def sklearn_adaptive(values, learning_rate_init, tol, n_iter_no_change, maximize=False):
    """scikit-learn's MLP ``learning_rate='adaptive'``, written after its code
    (``_update_no_improvement_count``, then ``trigger_stopping``), on the monitored value of
    each epoch (None for an epoch without one, skipped): the learning rate of each epoch and
    the 1-based epoch at which ``fit`` stops (None if it does not)."""
    rate, best, count, rates = learning_rate_init, -math.inf if maximize else math.inf, 0, []
    for epoch, value in enumerate(values, start=1):
        rates.append(rate)
        if value is None:
            continue
        bad = value < best + tol if maximize else value > best - tol
        count = count + 1 if bad else 0
        best = max(best, value) if maximize else min(best, value)
        if count > n_iter_no_change:
            if rate <= 1e-6:
                return rates, epoch
            rate /= 5.0
            count = 0
    return rates, None


class Jumpy:
    """A learning-rate schedule multiplying the rate by ``multipliers[epoch]`` (else 1)."""

    def __init__(self, multipliers):
        self.multipliers_of_epoch = multipliers

    def multipliers(self, steps, epoch, history):
        return np.full(len(steps), self.multipliers_of_epoch.get(epoch, 1.0))


def scaled_regression():
    X, y = make_regression(n_samples=300, n_features=5, noise=5, random_state=0)
    y = y / y.std()
    return X[:200], y[:200], X[200:], y[200:]


@given(batch_size=st.integers(1, 8), accumulate=st.integers(1, 6))
def test_accumulating_k_batches_of_b_is_one_batch_of_k_times_b(batch_size, accumulate):
    X, y = linear_problem()
    accumulated = sgd_regressor(batch_size=batch_size, accumulate=accumulate).fit(X, y)
    single = sgd_regressor(batch_size=batch_size * accumulate).fit(X, y)
    for a, b in zip(accumulated.coefs_, single.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert accumulated.n_updates_ == single.n_updates_
    np.testing.assert_allclose(accumulated.loss_curve_, single.loss_curve_, rtol=1e-10)


def test_sum_reduction_is_mean_reduction_with_a_learning_rate_b_times_larger():
    X, y = linear_problem()
    summed = sgd_regressor(batch_size=8, gradient_reduction="sum").fit(X, y)
    mean = sgd_regressor(batch_size=8, learning_rate_init=0.08).fit(X, y)
    np.testing.assert_allclose(summed.coefs_[0], mean.coefs_[0], rtol=1e-10)


def test_clip_norm_bounds_every_step():
    X, y = linear_problem()
    X[0] *= 1e3  # one outlier makes a huge gradient
    clipped = sgd_regressor(hidden_layer_sizes=(), batch_size=1, clip_norm=0.5, max_iter=1)
    init = dict(coefs_init=[np.zeros((3, 1))], intercepts_init=[np.zeros(1)])
    clipped.fit(X[:1], y[:1], **init)  # one step: lr * norm(clipped gradient) <= lr * 0.5
    step = np.sqrt(np.sum(clipped.coefs_[0] ** 2) + np.sum(clipped.intercepts_[0] ** 2))
    assert step <= 0.01 * 0.5 * (1 + 1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_learns_and_keeps_its_state_through_pickling(solver):
    X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier(
        (10,), solver=solver, learning_rate_init=0.01, batch_size=16, random_state=0
    )
    for _ in range(30):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.score(X, y) > 0.9
    copy = pickle.loads(pickle.dumps(clf))
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(copy.coefs_[0], clf.coefs_[0])


def test_adamw_decays_weights_but_not_biases():
    X, y = linear_problem()
    params = dict(
        hidden_layer_sizes=(),
        solver="adamw",
        learning_rate_init=0.1,
        max_iter=1,
        batch_size=8,
        shuffle=False,
        tol=None,
        alpha=0.0,
    )
    init = dict(coefs_init=[np.full((3, 1), 5.0)], intercepts_init=[np.full(1, 5.0)])
    decayed = MiniBatchRegressor(weight_decay=0.5, **params).fit(X, y, **init)
    plain = MiniBatchRegressor(weight_decay=0.0, **params).fit(X, y, **init)
    assert np.all(decayed.coefs_[0] < plain.coefs_[0])  # pulled towards zero from +5
    np.testing.assert_allclose(decayed.intercepts_[0], plain.intercepts_[0], rtol=1e-3)


def test_learning_rate_schedules_and_their_grid_search():
    X, y = make_blobs(n_samples=120, centers=3, random_state=0)
    common = dict(hidden_layer_sizes=(6,), max_iter=6, tol=None, random_state=0)
    clf = MiniBatchMLPClassifier(learning_rate="invscaling", solver="sgd", **common).fit(X, y)
    rates = clf.history_["learning_rate"]
    assert all(a > b for a, b in pairwise(rates))
    step = schedules.StepDecay(step_size=2, gamma=0.5)
    clf = MiniBatchMLPClassifier(learning_rate=step, learning_rate_init=0.1, **common).fit(X, y)
    np.testing.assert_allclose(clf.history_["learning_rate"], [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    search = GridSearchCV(clf, {"learning_rate__gamma": [0.1, 0.9]}, cv=2).fit(X, y)
    gamma = search.best_params_["learning_rate__gamma"]
    # The nested parameter reached the refitted schedule: its third epoch runs at 0.1 * gamma.
    np.testing.assert_allclose(search.best_estimator_.history_["learning_rate"][2], 0.1 * gamma)
    scores = search.cv_results_["split0_test_score"]
    assert len(set(scores)) == 2  # the two schedules trained different networks


def test_batch_size_schedule_grows_the_batch_between_epochs():
    X, y = make_blobs(n_samples=200, centers=3, random_state=0)
    grow = schedules.GrowBatchSize(initial=8, factor=2, epochs=(2, 4))
    clf = MiniBatchMLPClassifier((6,), batch_size=grow, max_iter=5, tol=None, random_state=0)
    clf.fit(X, y)
    assert clf.history_["batch_size"] == [8, 8, 16, 16, 32]
    assert clf.history_["n_updates"] == [25, 25, 13, 13, 7]


def sine_over_log_spaced_x(n=400):
    """Seed 000's case: a sine over log-spaced x, rows sorted by x."""
    x = np.logspace(-1, 1, n)
    return x[:, None], np.sin(x)


def test_early_stopping_validates_on_a_shuffled_split_not_the_tail():
    X, y = sine_over_log_spaced_x()
    params = dict(
        hidden_layer_sizes=(32, 32),
        activation="tanh",
        learning_rate_init=0.01,
        batch_size=16,
        max_iter=150,
        early_stopping=True,
        n_iter_no_change=20,
        random_state=0,
    )
    order = np.random.RandomState(1).permutation(len(y))
    results = {}
    for name, rows in {"sorted": np.arange(len(y)), "shuffled": order}.items():
        reg = MiniBatchRegressor(**params).fit(X[rows], y[rows])
        overall = np.mean((reg.predict(X) - y) ** 2)
        results[name] = (min(reg.history_["val_loss"]), overall)
    for val_loss, overall in results.values():
        assert overall < 0.02  # learned the wave
        assert val_loss < 4 * overall + 0.01  # and the validation set said so
    # The same answer whether the rows come sorted or not.
    assert results["sorted"][1] < 3 * results["shuffled"][1] + 0.005
    # Keras' validation_split takes the last rows: on sorted data that validates on the tail.
    tail = len(y) // 10
    keras_like = MiniBatchRegressor(**{**params, "early_stopping": False, "max_iter": 60})
    keras_like.fit(X[:-tail], y[:-tail], validation_data=(X[-tail:], y[-tail:]))
    assert min(keras_like.history_["val_loss"]) > 5 * results["sorted"][0]


@pytest.mark.parametrize("batch_size", [1, 5, "full"])
def test_early_stopping_trains_on_its_rows_as_fit_on_them_alone(batch_size):
    """The hold-out rows leave; the rows left are weighted as ``fit`` weighs a training set
    (rescaled to mean 1 among them), whatever weight the held-out rows carried."""
    X, y = linear_problem(n=40)
    weights = np.ones(40)
    weights[:4] = 50.0  # heavy rows: rescaled over all 40 rows, the training rows' mean is not 1
    rng = np.random.RandomState(1)  # given weights: the split draws from random_state first
    init = dict(
        coefs_init=[rng.normal(size=(3, 4)), rng.normal(size=(4, 1))],
        intercepts_init=[np.zeros(4), np.zeros(1)],
    )
    params = dict(batch_size=batch_size, max_iter=3, tol=None, shuffle=False, random_state=0)
    held = sgd_regressor(**params, early_stopping=True, validation_fraction=0.25)
    held.fit(X, y, sample_weight=weights, **init)
    X_train, _, y_train, _, w_train, _ = train_test_split(
        X, y, weights, test_size=0.25, random_state=np.random.RandomState(0)
    )
    alone = sgd_regressor(**params).fit(X_train, y_train, sample_weight=w_train, **init)
    np.testing.assert_allclose(held.loss_curve_, alone.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(held.coefs_[0], alone.coefs_[0], rtol=1e-12)


def test_early_stopping_restores_the_best_weights_and_records_validation():
    X, y = make_classification(n_samples=400, n_informative=5, flip_y=0.2, random_state=0)
    X_val, y_val = X[300:], y[300:]
    clf = MiniBatchMLPClassifier(
        (50,),
        learning_rate_init=0.05,
        max_iter=200,
        early_stopping=True,
        monitor="val_score",
        n_iter_no_change=5,
        random_state=0,
    )
    weights = RecordWeights()
    clf.set_params(callbacks=[weights]).fit(X[:300], y[:300], validation_data=(X_val, y_val))
    records = clf.history_
    assert all("val_loss" in r and "val_score" in r for r in records)
    assert clf.validation_scores_ == records["val_score"]
    assert clf.best_validation_score_ == max(records["val_score"])
    assert clf.n_iter_ < 200  # stopped early, after the best epoch
    best = int(np.argmax(records["val_score"]))  # the first of ties: later ones do not improve
    assert best < clf.n_iter_ - 1
    # The weights kept are the best epoch's, not the last one's (whatever its accuracy).
    assert_weights_equal(clf, weights.of_epoch[best + 1])
    assert not np.array_equal(clf.coefs_[0], weights.of_epoch[clf.n_iter_][0][0])
    assert clf.score(X_val, y_val) == clf.best_validation_score_
    assert clf.best_loss_ is None


def test_best_validation_score_is_that_of_the_weights_kept_by_the_validation_loss():
    X, y = make_classification(n_samples=400, n_informative=5, flip_y=0.2, random_state=0)
    X_val, y_val = X[300:], y[300:]
    clf = MiniBatchMLPClassifier(
        (50,), learning_rate_init=0.05, max_iter=200, early_stopping=True, random_state=0
    )
    clf.fit(X[:300], y[:300], validation_data=(X_val, y_val))
    records = clf.history_
    kept = int(np.argmin(records["val_loss"]))
    assert records["val_score"][kept] < max(records["val_score"])  # the case in question
    assert clf.best_validation_score_ == records["val_score"][kept]
    assert clf.best_validation_score_ == clf.score(X_val, y_val)
    assert clf.validation_scores_ == records["val_score"]


def test_history_reads_as_skorchs_history():
    X, y = linear_problem(n=40)
    params = dict(batch_size=10, max_iter=2, tol=None, record_batches=True, random_state=0)
    reg = MiniBatchRegressor((4,), **params).fit(X, y)
    reg.set_params(warm_start=True).fit(X[:30], y[:30], validation_data=(X[30:], y[30:]))
    history = reg.history_
    assert history[-1, "loss"] == history[-1]["loss"] == reg.loss_
    assert history[:, "loss"] == [record["loss"] for record in history] == reg.loss_curve_
    # epochs without the key are skipped, as skorch skips them
    assert history[:, "val_loss"] == [history[2]["val_loss"], history[3]["val_loss"]]
    assert history[1:, ("epoch", "val_loss")] == [
        (3, history[2]["val_loss"]),
        (4, history[3]["val_loss"]),
    ]
    assert history[:2, ["epoch", "loss"]] == [[1, history[0]["loss"]], [2, history[1]["loss"]]]
    assert history[-1, "batch_losses", -1] == history[-1]["batch_losses"][2]  # 3 batches of 30
    assert history[:, "batch_losses", 0] == [record["batch_losses"][0] for record in history]
    for missing in [(0, "val_loss"), (slice(None), "nope"), (slice(None, 2), "val_loss")]:
        with pytest.raises(KeyError, match="was not found in history"):
            history[missing]
    with pytest.raises(KeyError):  # a bare key needs it in every record
        history["val_loss"]


def test_a_column_of_validation_labels_is_taken_as_fit_takes_one():
    X, y = make_classification(n_samples=60, n_informative=3, random_state=0)
    params = dict(hidden_layer_sizes=(4,), max_iter=3, tol=None, random_state=0)
    flat = MiniBatchMLPClassifier(**params).fit(X[:40], y[:40], validation_data=(X[40:], y[40:]))
    column = MiniBatchMLPClassifier(**params)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column.fit(X[:40], y[:40], validation_data=(X[40:], y[40:, None]))
    assert column.history_["val_score"] == flat.history_["val_score"]


@pytest.mark.parametrize("validation", ["early_stopping", "validation_data"])
def test_validating_weights_that_predict_infinity_is_no_error(validation):
    """Weights about to diverge may predict inf on the validation rows: no score there (it
    raised scikit-learn's 'Input contains infinity' from r2_score), and the divergence is
    told as such one epoch later."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([10.0, 20.0, 30.0])
    params = dict(hidden_layer_sizes=(8,), solver="sgd", momentum=0.9, batch_size="full")
    params.update(learning_rate_init=1e3, max_iter=30, tol=None, random_state=0)
    reg = MiniBatchRegressor(**params, early_stopping=validation == "early_stopping")
    with pytest.warns(DivergenceWarning):
        if validation == "early_stopping":
            reg.fit(X, y)
        else:
            reg.fit(X, y, validation_data=(X, y))
    assert np.isfinite(reg.predict(X)).all()


def test_validation_data_is_recorded_without_early_stopping():
    X, y = make_regression(n_samples=200, n_features=4, random_state=0)
    y = y / y.std()
    reg = MiniBatchRegressor((8,), max_iter=5, tol=None, random_state=0)
    reg.fit(X[:150], y[:150], validation_data=(X[150:], y[150:]))
    last = reg.history_[-1]
    assert np.isclose(last["val_score"], reg.score(X[150:], y[150:]))
    expected = 0.5 * np.mean((reg.predict(X[150:]) - y[150:]) ** 2)
    penalty = 0.5 * reg.alpha * sum(np.sum(c**2) for c in reg.coefs_)
    np.testing.assert_allclose(last["val_loss"], expected + penalty, rtol=1e-10)


def test_validation_data_with_sample_weights_as_keras_takes_them():
    X, y = make_classification(n_samples=200, n_informative=4, flip_y=0.2, random_state=0)
    X_val, y_val = X[150:], y[150:]
    w_val = np.random.RandomState(0).uniform(0, 3, size=50)
    w_val[:10] = 0.0
    clf = MiniBatchMLPClassifier((8,), alpha=0.0, max_iter=3, tol=None, random_state=0)
    clf.set_params(class_weight={0: 5.0})  # weighs training only
    clf.fit(X[:150], y[:150], validation_data=(X_val, y_val, w_val))
    last = clf.history_[-1]
    proba = clf.predict_proba(X_val)
    np.testing.assert_allclose(last["val_loss"], log_loss(y_val, proba, sample_weight=w_val))
    weighted = accuracy_score(y_val, clf.predict(X_val), sample_weight=w_val)
    assert np.isclose(last["val_score"], weighted, rtol=1e-12)
    assert not np.isclose(weighted, accuracy_score(y_val, clf.predict(X_val)))


def test_validation_data_after_a_warm_start_without_it():
    """A warm-started fit with validation data after one without: only its epochs have scores."""
    X, y = make_blobs(n_samples=200, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier((5,), max_iter=2, tol=None, warm_start=True, random_state=0)
    clf.fit(X, y)
    clf.fit(X, y, validation_data=(X[:50], y[:50]))
    assert len(clf.history_) == 4
    assert clf.validation_scores_ == [record["val_score"] for record in clf.history_[2:]]
    assert clf.validation_scores_[-1] == clf.score(X[:50], y[:50])
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_callbacks_see_every_epoch_with_current_weights_and_can_stop():
    class StopAtThree:
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, estimator, record):
            self.seen.append((record["epoch"], estimator.coefs_[0].copy()))
            return record["epoch"] == 3

    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    callback = StopAtThree()
    clf = MiniBatchMLPClassifier((4,), max_iter=10, tol=None, callbacks=[callback]).fit(X, y)
    assert clf.n_iter_ == 3 and [epoch for epoch, _ in callback.seen] == [1, 2, 3]
    assert not np.array_equal(callback.seen[0][1], callback.seen[1][1])
    np.testing.assert_array_equal(callback.seen[-1][1], clf.coefs_[0])


def test_divergence_can_raise():
    X, y = linear_problem()
    reg = sgd_regressor(learning_rate_init=1e6, batch_size=1, on_divergence="raise")
    with pytest.raises(DivergenceError, match="learning_rate_init smaller"):
        reg.fit(X * 100, y * 1e3)


def test_record_batches_collects_each_batch_loss():
    X, y = linear_problem(n=40)
    reg = sgd_regressor(batch_size=10, record_batches=True, max_iter=2).fit(X, y)
    for record in reg.history_:
        assert len(record["batch_losses"]) == 4
        np.testing.assert_allclose(np.mean(record["batch_losses"]), record["loss"], rtol=1e-12)


def test_dropout_is_seeded_changes_training_and_is_off_when_predicting():
    X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    params = dict(hidden_layer_sizes=(16, 16), max_iter=5, tol=None, random_state=0)
    first = MiniBatchMLPClassifier(dropout=0.3, **params).fit(X, y)
    second = MiniBatchMLPClassifier(dropout=[0.3, 0.3], **params).fit(X, y)
    without = MiniBatchMLPClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(first.coefs_[0], second.coefs_[0])
    assert not np.array_equal(first.coefs_[0], without.coefs_[0])
    # Predictions are the plain forward pass of coefs_ and intercepts_, without dropout.
    np.testing.assert_allclose(first.predict_proba(X), numpy_forward(first, X), rtol=1e-12)
    with pytest.raises(ValueError, match="dropout"):
        MiniBatchMLPClassifier(dropout=[0.1, 0.2, 0.3], **params).fit(X, y)


def test_balanced_class_weight_lifts_the_minority_class():
    X, y = make_classification(
        n_samples=600, weights=[0.95], flip_y=0, class_sep=0.5, random_state=0
    )
    params = dict(hidden_layer_sizes=(), max_iter=30, tol=None, random_state=0)
    plain = MiniBatchMLPClassifier(**params).fit(X, y)
    balanced = MiniBatchMLPClassifier(class_weight="balanced", **params).fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.1
    with pytest.raises(ValueError, match="partial_fit"):
        MiniBatchMLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_partial_fit_applies_weights_as_given_so_they_count_in_a_stream():
    """One sample per call: a weight of 3 on plain SGD (no momentum, no penalty) is a step
    three times as long, and a class weight acts as the same sample weight; fit rescales its
    weights to mean 1, so weights of 3 everywhere change nothing there."""
    X, y = make_blobs(n_samples=40, centers=3, random_state=0)
    params = dict(
        hidden_layer_sizes=(),
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        batch_size=1,
        tol=None,
        random_state=0,
    )

    def streamed(learning_rate_init=0.01, weight=None, **extra):
        clf = MiniBatchMLPClassifier(learning_rate_init=learning_rate_init, **params, **extra)
        for i in range(len(y)):
            sample_weight = None if weight is None else [weight]
            clf.partial_fit(
                X[i : i + 1], y[i : i + 1], classes=[0, 1, 2], sample_weight=sample_weight
            )
        return clf.coefs_[0]

    tripled = streamed(weight=3.0)
    np.testing.assert_allclose(tripled, streamed(learning_rate_init=0.03), rtol=1e-12)
    assert not np.allclose(tripled, streamed())
    by_class = streamed(class_weight={0: 3.0, 1: 3.0, 2: 3.0})
    np.testing.assert_array_equal(by_class, tripled)
    fitted = MiniBatchMLPClassifier(max_iter=2, **params)
    unweighted = fitted.fit(X, y).coefs_[0]
    np.testing.assert_array_equal(
        fitted.fit(X, y, sample_weight=np.full(40, 3.0)).coefs_[0], unweighted
    )


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({0: -1.0, 1: 1.0, 2: 1.0}, r"finite non-negative numbers; got \{0: -1.0"),
        ({0: np.inf}, r"finite non-negative numbers; got \{0: inf\}"),
        ({0: "2"}, r"map classes \(\[0, 1, 2\]\) to finite non-negative numbers"),
        ({0: [1, 2]}, "finite non-negative numbers"),
        ({0: 0.0, 1: 0.0, 2: 0.0}, "sample_weight times the class weights must have a positive"),
        ([{0: 2.0}], "a list of such dicts, one per label column, for multilabel ones"),
        # keys that are not classes while classes go unweighted: scikit-learn's error
        ({5: 10.0}, r"^The classes, \[0, 1, 2\], are not in class_weight \{5: 10.0\}"),
        ({"0": 10.0, "1": 1.0}, r"^The classes, \[0, 1, 2\], are not in class_weight"),
        ({0: 1.0, 5: 2.0}, r"^The classes, \[1, 2\], are not in class_weight"),
    ],
)
def test_bad_class_weights(weights, match):
    X, y = make_blobs(n_samples=30, centers=3, random_state=0)
    with pytest.raises(ValueError, match=match):
        MiniBatchMLPClassifier(class_weight=weights).fit(X, y)


def test_multilabel_class_weight_is_a_list_of_dicts_acting_as_their_product():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(40, 4)), (rng.uniform(size=(40, 2)) > 0.5).astype(int)
    params = dict(hidden_layer_sizes=(4,), batch_size=8, max_iter=2, tol=None, random_state=0)
    per_column = [{0: 1.0, 1: 3.0}, {0: 2.0, 1: 1.0}]
    weighted = MiniBatchMLPClassifier(class_weight=per_column, **params).fit(X, Y)
    product = np.where(Y[:, 0] == 1, 3.0, 1.0) * np.where(Y[:, 1] == 1, 1.0, 2.0)
    expected = MiniBatchMLPClassifier(**params).fit(X, Y, sample_weight=product)
    np.testing.assert_allclose(weighted.coefs_[0], expected.coefs_[0], rtol=1e-12)
    for bad, match in [([{0: 1.0, 1: 3.0}, 2.0], "map classes"), ({1: 3.0}, "one per label")]:
        with pytest.raises(ValueError, match=match):
            MiniBatchMLPClassifier(class_weight=bad, **params).fit(X, Y)
    with pytest.raises(
        ValueError, match=r"indicator matrix of 0s and 1s; got the values \[0, 2\]"
    ):
        MiniBatchMLPClassifier(**params).fit(X, 2 * Y)


def test_class_weight_may_name_classes_a_fit_does_not_see():
    """As in scikit-learn: a fold of a cross-validation may lack a rare class."""
    X, y = make_blobs(n_samples=30, centers=2, random_state=0)
    params = dict(hidden_layer_sizes=(4,), batch_size=8, max_iter=2, tol=None, random_state=0)
    weighted = MiniBatchMLPClassifier(class_weight={0: 1.0, 1: 3.0, 2: 5.0}, **params).fit(X, y)
    expected = MiniBatchMLPClassifier(**params).fit(X, y, sample_weight=np.where(y == 1, 3, 1))
    np.testing.assert_allclose(weighted.coefs_[0], expected.coefs_[0], rtol=1e-12)


def test_partial_fit_with_class_weights_on_chunks_of_one_class():
    """A dict naming some classes weighs chunks of any class (SGDClassifier's behaviour), as
    the same weights given per sample."""
    X, y = make_blobs(n_samples=30, centers=3, random_state=0)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    params = dict(hidden_layer_sizes=(4,), batch_size=5, random_state=0)
    by_class = MiniBatchMLPClassifier(class_weight={1: 3.0}, **params)
    by_sample = MiniBatchMLPClassifier(**params)
    for chunk in np.split(np.arange(30), 3):  # each chunk holds one class
        by_class.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
        weights = np.where(y[chunk] == 1, 3.0, 1.0)
        by_sample.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2], sample_weight=weights)
    np.testing.assert_array_equal(by_class.coefs_[0], by_sample.coefs_[0])


def test_huge_sample_weights_are_rescaled_without_overflow():
    X, y = make_blobs(n_samples=30, centers=3, random_state=0)
    weights = np.where(np.arange(30) % 2, 1e308, 0.5e308)
    params = dict(hidden_layer_sizes=(4,), batch_size=8, max_iter=2, tol=None, random_state=0)
    huge = MiniBatchMLPClassifier(**params).fit(X, y, sample_weight=weights)
    small = MiniBatchMLPClassifier(**params).fit(X, y, sample_weight=weights / 1e308)
    np.testing.assert_allclose(huge.coefs_[0], small.coefs_[0], rtol=1e-12)


def test_verbose_prints_one_keras_like_line_per_epoch(capsys):
    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    MiniBatchMLPClassifier((4,), batch_size=16, max_iter=3, tol=None, verbose=1).fit(
        X, y, validation_data=(X, y)
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("Epoch 2/3 - 4 updates - loss ")
    assert " - val_loss " in lines[1] and lines[1].endswith(" s")
    # partial_fit plans no epochs: each call is numbered, out of nothing
    streamed = MiniBatchMLPClassifier((4,), batch_size=16, verbose=1)
    for _ in range(2):
        streamed.partial_fit(X, y, classes=[0, 1])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1", "Epoch 2"]


def test_verbose_2_draws_a_bar_in_a_terminal_and_ends_its_line(capsys, monkeypatch):
    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    params = dict(hidden_layer_sizes=(4,), batch_size=16, tol=None, verbose=2)
    MiniBatchMLPClassifier(**params, max_iter=3).fit(X, y)
    drawn = capsys.readouterr().out
    assert drawn.count("\r[") == 3 and drawn.endswith(" s\n") and drawn.count("\n") == 1
    streamed = MiniBatchMLPClassifier(**params)
    fit_stream(streamed, [(X[:30], y[:30]), (X[30:], y[30:])], n_passes=2, classes=[0, 1])
    drawn = capsys.readouterr().out
    assert drawn.count("\r[") == 2 and drawn.endswith(" s\n") and drawn.count("\n") == 1
    for _ in range(2):  # partial_fit plans no epochs: a line per call, no bar
        streamed.partial_fit(X, y)
    lines = capsys.readouterr().out.split("\n")
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 3", "Epoch 4", ""]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "Training loss did not improve more than tol=0.100000 for 2 consecutive epochs."),
        (
            {"early_stopping": True, "monitor": "val_score"},
            "Validation score did not improve more than tol=0.100000 for 2 consecutive epochs.",
        ),
        ({"learning_rate": "adaptive", "solver": "sgd"}, "Learning rate too small"),
    ],
)
def test_verbose_says_why_training_stopped_as_scikit_learn_does(capsys, params, reason):
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier(
        (5,), tol=0.1, n_iter_no_change=2, max_iter=500, verbose=1, random_state=0, **params
    ).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert clf.n_iter_ < 500 and len(lines) == clf.n_iter_ + 1
    assert lines[-1].startswith(reason) and lines[-1].endswith(" Stopping.")


@pytest.mark.parametrize("activation", ["leaky_relu", "elu"])
def test_new_activations_train(activation):
    X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier(
        (10,), activation=activation, learning_rate_init=0.01, max_iter=50, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) > 0.9


def test_adaptive_divides_the_rate_by_five_on_plateaus_and_stops_below_1e_6():
    """scikit-learn's 'adaptive': a plateau divides the rate by 5 instead of stopping, and
    training stops at a plateau once the rate is at most 1e-6."""
    X, y = linear_problem(n=200)
    reg = MiniBatchRegressor(
        (10,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.1,
        n_iter_no_change=2,
        batch_size=20,
        max_iter=500,
        random_state=0,
    )
    reg.fit(X, y)
    rates = sorted(set(reg.history_["learning_rate"]), reverse=True)
    np.testing.assert_allclose(rates, 0.1 * 0.2 ** np.arange(len(rates)), rtol=1e-12)
    assert rates[-2] > 1e-6 >= rates[-1] and reg.n_iter_ < 500


def test_warnings_point_at_the_callers_line(tmp_path):
    X, y = linear_problem(n=20)
    np.save(tmp_path / "X.npy", X)
    X_on_disk = np.load(tmp_path / "X.npy", mmap_mode="r")
    calls = [
        lambda: MiniBatchRegressor((), batch_size=50, max_iter=1, tol=None).fit(X, y),
        lambda: MiniBatchRegressor((), max_iter=1).fit(X, y),
        lambda: sgd_regressor(learning_rate_init=1e8, batch_size=1).fit(X * 1e3, y * 1e6),
        lambda: MiniBatchRegressor((), max_iter=1).fit(X_on_disk, y),
        # deeper in the package: fit_stream's chunks, a sweep's fits
        lambda: MiniBatchMLPClassifier((), max_iter=1, tol=None).fit(X, (y > 0)[:, None]),
        lambda: fit_stream(MiniBatchMLPClassifier(()), [(X, (y > 0)[:, None])], classes=[0, 1]),
        lambda: fit_stream(
            sgd_regressor(learning_rate_init=1e8, batch_size=1), [(X * 1e3, y * 1e6)]
        ),
        lambda: batch_size_sweep(MiniBatchRegressor((), max_iter=1), X, y, batch_sizes=[4]),
        lambda: batch_size_sweep(  # from worker processes
            MiniBatchRegressor((), max_iter=1), X, y, batch_sizes=[4, 8], n_jobs=2
        ),
    ]
    for call in calls:
        with pytest.warns(Warning) as caught:
            call()
        assert {w.filename for w in caught} == {__file__}


# ---------------------------------------------------------------------------------------------
# Early stopping keeps the best epoch's weights, however training ends
# ---------------------------------------------------------------------------------------------


class StopAt:
    """A callback stopping training at the end of epoch ``epoch``, recording weights."""

    def __init__(self, epoch):
        self.epoch = epoch
        self.weights = RecordWeights()

    def on_epoch_end(self, estimator, record):
        self.weights.on_epoch_end(estimator, record)
        return record["epoch"] == self.epoch


def test_a_callback_stopping_at_the_best_epoch_keeps_its_weights():
    X, y, X_val, y_val = scaled_regression()
    callback = StopAt(5)
    reg = MiniBatchRegressor(
        (16,),
        learning_rate_init=0.01,
        max_iter=50,
        early_stopping=True,
        random_state=0,
        callbacks=[callback],
    )
    reg.fit(X, y, validation_data=(X_val, y_val))
    val_loss = reg.history_["val_loss"]
    assert reg.n_iter_ == 5 and int(np.argmin(val_loss)) == 4  # the last epoch is the best
    assert_weights_equal(reg, callback.weights.of_epoch[5])
    np.testing.assert_allclose(numpy_val_loss(reg, X_val, y_val), min(val_loss), rtol=1e-10)


@pytest.mark.parametrize("on_divergence", ["warn", "raise"])
def test_divergence_with_early_stopping_keeps_the_best_epoch(on_divergence):
    """Epoch 4 runs at 60 times the rate (its validation loss worse than epoch 3's), epoch 5
    at 1e12 times (it diverges): both ways, the weights kept are epoch 3's, as the message
    says."""
    X, y, X_val, y_val = scaled_regression()
    weights = RecordWeights()
    reg = MiniBatchRegressor(
        (16,),
        solver="sgd",
        learning_rate=Jumpy({3: 60.0, 4: 1e12}),
        learning_rate_init=0.01,
        max_iter=20,
        early_stopping=True,
        random_state=0,
        on_divergence=on_divergence,
        callbacks=[weights],
    )
    if on_divergence == "warn":
        with pytest.warns(DivergenceWarning) as caught:
            reg.fit(X, y, validation_data=(X_val, y_val))
        message = next(str(w.message) for w in caught if w.category is DivergenceWarning)
    else:
        with pytest.raises(DivergenceError) as caught:
            reg.fit(X, y, validation_data=(X_val, y_val))
        message = str(caught.value)
    val_loss = reg.history_["val_loss"]
    assert len(val_loss) == 4 and int(np.argmin(val_loss)) == 2
    assert_weights_equal(reg, weights.of_epoch[3])
    np.testing.assert_allclose(numpy_val_loss(reg, X_val, y_val), min(val_loss), rtol=1e-10)
    assert "Training diverged in epoch 5" in message
    assert "early stopping keeps the weights of epoch 3, the best by val_loss." in message
    assert "last finite epoch" not in message


def test_ctrl_c_with_early_stopping_keeps_the_best_epoch():
    """As scikit-learn's MLP restores its best weights on KeyboardInterrupt."""
    X, y, X_val, y_val = scaled_regression()

    class CtrlCAtSeven(RecordWeights):
        def on_epoch_end(self, estimator, record):
            super().on_epoch_end(estimator, record)
            if record["epoch"] == 7:
                raise KeyboardInterrupt

    weights = CtrlCAtSeven()
    reg = MiniBatchRegressor(
        (16,),
        solver="sgd",
        learning_rate=Jumpy({3: 40.0, 4: 40.0, 5: 40.0}),  # epochs 4-6 get worse
        learning_rate_init=0.01,
        max_iter=20,
        early_stopping=True,
        random_state=0,
        callbacks=[weights],
    )
    message = (
        "Training interrupted after the 6 epoch(s) this call completed: early stopping keeps "
        "the weights of epoch 3, the best by val_loss."
    )
    with pytest.raises(TrainingInterrupted, match=re.escape(message)):
        reg.fit(X, y, validation_data=(X_val, y_val))
    val_loss = reg.history_["val_loss"]
    assert len(val_loss) == 6 and int(np.argmin(val_loss)) == 2
    assert_weights_equal(reg, weights.of_epoch[3])
    np.testing.assert_allclose(numpy_val_loss(reg, X_val, y_val), min(val_loss), rtol=1e-10)


def test_ctrl_c_after_the_stopper_saw_the_epoch_rolls_the_stopper_back_too():
    """Ctrl-C while the schedule decides whether epoch 5 ends a plateau, after the stopper
    took epoch 5 for the best: the epoch is rolled back, and so is the stopper, which keeps
    the best of the epochs still recorded."""
    X, y, X_val, y_val = scaled_regression()

    class CtrlCInPlateauCheck:
        def multipliers(self, steps, epoch, history):
            return np.ones(len(steps))

        def ends_plateau(self, history):
            if len(history) == 5:
                raise KeyboardInterrupt
            return False

    weights = RecordWeights()
    reg = MiniBatchRegressor(
        (16,),
        learning_rate=CtrlCInPlateauCheck(),
        learning_rate_init=0.01,
        max_iter=50,
        early_stopping=True,
        random_state=0,
        callbacks=[weights],
    )
    with pytest.raises(TrainingInterrupted, match="keeps the weights of epoch 4, the best by"):
        reg.fit(X, y, validation_data=(X_val, y_val))
    val_loss = reg.history_["val_loss"]
    assert len(val_loss) == 4 and int(np.argmin(val_loss)) == 3
    assert_weights_equal(reg, weights.of_epoch[4])


def test_a_nan_monitored_value_is_no_improvement():
    """A validation score undefined on its data (R^2 of one row) neither improves nor becomes
    the best: after n_iter_no_change + 1 of them in a row, training stops."""
    stopper = Stopper("val_score", tol=1e-4, n_iter_no_change=2, restore_best=True)
    scores = [0.5, float("nan"), 0.6, float("nan"), float("nan"), float("nan")]
    stops = [
        stopper.should_stop({"epoch": epoch, "val_score": score}, np.full(1, epoch))
        for epoch, score in enumerate(scores, start=1)
    ]
    assert stops == [False, False, False, False, False, True]
    theta = np.zeros(1)
    assert stopper.restore(theta) == "the weights of epoch 3, the best by val_score"
    assert theta.tolist() == [3]


# ---------------------------------------------------------------------------------------------
# Plateau schedules: 'adaptive' and ReduceOnPlateau decide when fit stops
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("monitor", ["val_loss", "val_score"])
def test_adaptive_with_early_stopping_watches_monitor(monitor):
    """'adaptive' lowers the rate on plateaus of what early stopping watches (scikit-learn's
    MLP watches its validation score), and fit stops at a plateau once the rate is at most
    1e-6: scikit-learn's rule replayed on that column, not on the other."""
    X, y = make_blobs(n_samples=400, centers=2, random_state=0)
    clf = MiniBatchMLPClassifier(
        (8,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.01,
        n_iter_no_change=2,
        tol=1e-3,
        max_iter=200,
        early_stopping=True,
        monitor=monitor,
        random_state=0,
    ).fit(X, y)
    rates, stop = sklearn_adaptive(clf.history_[monitor], 0.01, 1e-3, 2, monitor == "val_score")
    np.testing.assert_allclose(clf.history_["learning_rate"], rates, rtol=1e-12)
    assert clf.n_iter_ == stop
    other = "val_score" if monitor == "val_loss" else "val_loss"
    assert sklearn_adaptive(clf.history_[other], 0.01, 1e-3, 2, other == "val_score")[1] != stop


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_adaptive_with_early_stopping_after_epochs_without_validation():
    """A warm-started fit with early stopping after one without skips the epochs that have
    no validation loss."""
    X, y = linear_problem(n=100)
    params = dict(learning_rate="adaptive", n_iter_no_change=1, tol=10.0, random_state=0)
    warm = sgd_regressor(warm_start=True, max_iter=3, **params).fit(X, y)
    warm.set_params(early_stopping=True, max_iter=8).fit(X, y)
    values = [record.get("val_loss") for record in warm.history_]
    assert values[:3] == [None] * 3 and None not in values[3:]
    rates, _ = sklearn_adaptive(values, 0.01, 10.0, 1)
    np.testing.assert_allclose(warm.history_["learning_rate"], rates, rtol=1e-12)
    assert rates[-1] < 0.01


@pytest.mark.parametrize("min_multiplier", [0.0, 0.03])
def test_reduce_on_plateau_decides_when_fit_stops_whatever_n_iter_no_change(min_multiplier):
    """A plateau of the schedule lowers the rate instead of stopping fit, until the rate is at
    most 1e-6 or at the schedule's floor: the estimator's own count (n_iter_no_change) plays
    no part, whatever its parity."""
    X, y = linear_problem(n=100)
    schedule = schedules.ReduceOnPlateau(patience=1, threshold=10.0, min_multiplier=min_multiplier)
    fits = [
        sgd_regressor(
            learning_rate=schedule, tol=10.0, n_iter_no_change=n, max_iter=500, shuffle=True
        ).fit(X, y)
        for n in (1, 4, 5)
    ]

    # No epoch improves on the best by 10 but the first: with patience=1 a plateau ends every
    # second epoch (0-based 2, 4, ...), each multiplying the rate by 0.2 down to the floor; fit
    # stops at the first plateau that finds the rate at most 1e-6 or at the floor.
    def multiplier(n_plateaus):
        return max(0.2**n_plateaus, min_multiplier)

    n_plateaus, rates = 0, []
    for epoch in range(500):
        rates.append(0.01 * multiplier(n_plateaus))
        if epoch >= 2 and epoch % 2 == 0:
            if rates[-1] <= 1e-6 or multiplier(n_plateaus + 1) == multiplier(n_plateaus):
                break
            n_plateaus += 1
    assert len(rates) < 500
    for reg in fits:
        np.testing.assert_allclose(reg.history_["learning_rate"], rates, rtol=1e-12)
        assert_weights_equal(reg, (fits[0].coefs_, fits[0].intercepts_))


@pytest.mark.parametrize(
    ("name", "schedule", "key"),
    [
        ("learning_rate", schedules.ReduceOnPlateau(monitor="val_loss"), "val_loss"),
        (
            "learning_rate",
            schedules.Warmup(schedules.ReduceOnPlateau(monitor="val_score")),
            "val_score",
        ),
        (
            "batch_size",
            schedules.GrowBatchSizeOnPlateau(initial=8, monitor="val_loss"),
            "val_loss",
        ),
    ],
)
@pytest.mark.parametrize("call", ["fit", "partial_fit", "fit_stream"])
def test_a_schedule_watching_validation_in_a_call_without_it_is_refused(name, schedule, key, call):
    """No record of the call would have the key: the schedule would never act. Refused
    before any epoch, the estimator left as it was; with validation data, fit takes it."""
    X, y = linear_problem(n=60)
    reg = sgd_regressor(max_iter=4, **{name: schedule})
    calls = {
        "fit": lambda: reg.fit(X, y),
        "partial_fit": lambda: reg.partial_fit(X, y),
        "fit_stream": lambda: fit_stream(reg, [(X[:30], y[:30]), (X[30:], y[30:])]),
    }
    message = f"{name}={schedule!r} watches {key!r}, which this call does not record"
    with pytest.raises(ValueError, match=re.escape(message)):
        calls[call]()
    assert not hasattr(reg, "coefs_")
    reg.fit(X[:40], y[:40], validation_data=(X[40:], y[40:]))
    assert reg.n_iter_ == 4 and key in reg.history_[-1]
    with pytest.raises(ValueError, match=re.escape(message)):
        calls[call]()
    assert reg.n_iter_ == len(reg.history_) == 4


def test_a_validated_reduce_on_plateau_lowers_the_rate_on_validation_plateaus():
    """The schedule refused without validation acts with it: scikit-learn's 'adaptive'
    rule replayed on the validation losses recorded."""
    X, y = linear_problem(n=100)
    schedule = schedules.ReduceOnPlateau(patience=1, threshold=0.01, monitor="val_loss")
    reg = sgd_regressor(learning_rate=schedule, learning_rate_init=0.05, max_iter=12)
    reg.fit(X[:70], y[:70], validation_data=(X[70:], y[70:]))
    rates, _ = sklearn_adaptive(reg.history_["val_loss"], 0.05, 0.01, 1)
    np.testing.assert_allclose(reg.history_["learning_rate"], rates, rtol=1e-12)
    assert rates[-1] < 0.05


def test_a_schedule_class_for_an_instance_is_rejected_before_training():
    X, y = make_blobs(n_samples=60, centers=3, random_state=0)
    for name, value in [
        ("learning_rate", schedules.StepDecay),
        ("learning_rate", schedules.Cosine),
        ("batch_size", schedules.GrowBatchSize),
    ]:
        clf = MiniBatchMLPClassifier((4,), max_iter=2, tol=None, **{name: value})
        message = f"{name} must be a schedule instance, not a class: pass {value.__name__}()"
        with pytest.raises(TypeError, match=re.escape(message)):
            clf.fit(X, y)
        assert not hasattr(clf, "coefs_")


# ---------------------------------------------------------------------------------------------
# The divergence advice
# ---------------------------------------------------------------------------------------------


def diverging(**params):
    """A linear regressor whose plain SGD diverges on 20 rows of features scaled by 1e3."""
    X, y = make_regression(20, 3, random_state=0)
    reg = MiniBatchRegressor((), solver="sgd", learning_rate_init=1e8, tol=None, **params)
    return reg, X * 1e3, y * 1e6


@pytest.mark.parametrize(
    ("method", "batch_size", "advice"),
    [
        ("fit", "full", None),
        ("fit", 8, "a batch_size larger than 8, "),
        ("partial_fit", 1000, None),  # one partial batch of the 20 rows
        ("partial_fit", 8, "a batch_size larger than 8, "),
    ],
)
def test_divergence_advice_names_the_users_batch_size_unless_it_is_all_the_data(
    method, batch_size, advice
):
    reg, X, y = diverging(batch_size=batch_size, max_iter=60)
    with pytest.warns(DivergenceWarning) as caught:
        for _ in range(60 if method == "partial_fit" else 1):
            getattr(reg, method)(X, y)
    message = next(str(w.message) for w in caught if w.category is DivergenceWarning)
    assert "Try a learning_rate_init smaller than 100000000.0, " in message
    if advice is None:
        assert "batch_size" not in message
    else:
        assert advice in message
    assert "clip_norm to clip the gradients" in message
