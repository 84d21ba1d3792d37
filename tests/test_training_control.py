"""Training control seen from the estimators: optimizers, accumulation, reduction, schedules,
validation and early stopping, history, callbacks, divergence, dropout, class weights."""

import pickle
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import make_blobs, make_classification, make_regression
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV

from skminibatch import DivergenceError, MiniBatchMLPClassifier, MiniBatchRegressor, schedules

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
    clf.fit(X[:300], y[:300], validation_data=(X_val, y_val))
    records = clf.history_
    assert all("val_loss" in r and "val_score" in r for r in records)
    assert clf.validation_scores_ == records["val_score"]
    assert clf.best_validation_score_ == max(records["val_score"])
    assert clf.n_iter_ < 200  # stopped early, after the best epoch
    assert int(np.argmax(records["val_score"])) < clf.n_iter_ - 1
    # The weights kept are the best epoch's, not the last one's.
    assert clf.score(X_val, y_val) == clf.best_validation_score_
    assert clf.best_loss_ is None


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
    np.testing.assert_array_equal(first.predict_proba(X), first.predict_proba(X))
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
    ]
    for call in calls:
        with pytest.warns(Warning) as caught:
            call()
        assert {w.filename for w in caught} == {__file__}
