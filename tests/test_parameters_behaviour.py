"""Documented semantics of parameters checked against independent references: Keras' weight
initialisers, the validation split's size and rows, the elastic-net penalty, class weights as
sample weights, the weights kept on divergence, and scikit-learn's stopping rule."""

import math
import warnings

import numpy as np
import pytest
from scipy.stats import truncnorm
from sklearn.datasets import make_blobs, make_classification, make_regression

from skminibatch import (
    DivergenceError,
    DivergenceWarning,
    MiniBatchMLPClassifier,
    MiniBatchRegressor,
)

# Keras' constant: the standard deviation of a unit normal truncated at +-2.
KERAS_TRUNCATED_UNIT_NORMAL_STD = 0.87962566103423978


def initial_weights(weight_init, n_features=300, n_hidden=400):
    """The weights a fit starts from: one full-batch SGD step with a learning rate of 1e-300
    leaves every drawn weight as it was (and the biases within 1e-250 of where they began)."""
    rng = np.random.RandomState(0)
    X, y = rng.randn(8, n_features), rng.randn(8)
    reg = MiniBatchRegressor(
        (n_hidden,),
        weight_init=weight_init,
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=1e-300,
        batch_size="full",
        max_iter=1,
        tol=None,
        random_state=0,
    ).fit(X, y)
    return reg.coefs_, reg.intercepts_


def test_keras_truncated_normal_constant_is_the_std_of_a_unit_normal_cut_at_two():
    np.testing.assert_allclose(
        truncnorm(-2.0, 2.0).std(), KERAS_TRUNCATED_UNIT_NORMAL_STD, rtol=1e-12
    )


def keras_std(weight_init, fan_in, fan_out):
    """sqrt(scale / fan): Glorot's scale 1 over the mean fan, He's scale 2 over fan_in."""
    if weight_init.startswith("he"):
        return math.sqrt(2.0 / fan_in)
    return math.sqrt(1.0 / ((fan_in + fan_out) / 2.0))


@pytest.mark.parametrize("weight_init", ["glorot_uniform", "he_uniform"])
def test_uniform_weight_inits_fill_the_keras_interval(weight_init):
    """Keras: uniform on [-limit, limit] with limit = sqrt(3) * sqrt(scale / fan); zero biases."""
    coefs, intercepts = initial_weights(weight_init)
    for coef, rtol in zip(coefs, (0.01, 0.15), strict=True):  # 120000, then 400 weights
        limit = math.sqrt(3.0) * keras_std(weight_init, *coef.shape)
        assert np.abs(coef).max() <= limit
        np.testing.assert_allclose(coef.std(), limit / math.sqrt(3.0), rtol=rtol)
    first = coefs[0]
    # 120000 draws reach the last 0.1 % of the interval (else: probability e^-120).
    assert np.abs(first).max() > 0.999 * math.sqrt(3.0) * keras_std(weight_init, *first.shape)
    assert abs(first.mean()) < 5 * first.std() / math.sqrt(first.size)
    for intercept in intercepts:
        np.testing.assert_allclose(intercept, 0.0, rtol=0, atol=1e-250)


@pytest.mark.parametrize("weight_init", ["glorot_normal", "he_normal"])
def test_normal_weight_inits_are_keras_truncated_normals(weight_init):
    """Keras: a normal of stddev sqrt(scale / fan) / 0.8796... cut at two stddevs, so that the
    weights' standard deviation is sqrt(scale / fan); zero biases."""
    coefs, intercepts = initial_weights(weight_init)
    unit_std = truncnorm(-2.0, 2.0).std()  # computed here, not the package's constant
    for coef, rtol in zip(coefs, (0.01, 0.15), strict=True):  # 120000, then 400 weights
        std = keras_std(weight_init, *coef.shape)
        assert np.abs(coef).max() <= 2.0 * std / unit_std
        np.testing.assert_allclose(coef.std(), std, rtol=rtol)
    first = coefs[0]
    # Truncated (a plain normal's largest of 120000 draws is near 4.4 stddevs), and the draws
    # reach the last 1 % before the cut (else: probability e^-270).
    cut = 2.0 * keras_std(weight_init, *first.shape) / unit_std
    assert np.abs(first).max() > 0.99 * cut
    assert abs(first.mean()) < 5 * first.std() / math.sqrt(first.size)
    for intercept in intercepts:
        np.testing.assert_allclose(intercept, 0.0, rtol=0, atol=1e-250)


def held_out_rows(validation_fraction, random_state, n=32):
    """(held-out rows, training rows) of an early-stopping fit, read from its history.

    Row i's loss at zero weights is 0.5 * y_i^2 = 2^i, and a learning rate of 1e-300 keeps
    the weights at zero: the training loss times the training rows, and the validation loss
    times the held-out rows, are integers whose binary digits are the rows used."""
    y = np.sqrt(2.0 ** np.arange(1, n + 1))
    X = np.random.RandomState(0).randn(n, 2)
    reg = MiniBatchRegressor(
        (),
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=1e-300,
        batch_size="full",
        max_iter=1,
        tol=None,
        early_stopping=True,
        validation_fraction=validation_fraction,
        random_state=random_state,
    )
    reg.fit(X, y, coefs_init=[np.zeros((2, 1))], intercepts_init=[np.zeros(1)])
    record = reg.history_[0]
    n_train = record["n_samples"]
    assert reg.t_ == n_train
    trained = round(record["loss"] * n_train)
    held = round(record["val_loss"] * (n - n_train))
    return rows_of(held, n), rows_of(trained, n)


def rows_of(bits, n):
    """The rows whose bit is set in the integer ``bits``."""
    return {i for i in range(n) if bits >> i & 1}


@pytest.mark.parametrize(
    ("validation_fraction", "n_held_out"),
    # scikit-learn's train_test_split holds out ceil(fraction * n): 6.4 -> 7, 9.6 -> 10.
    [(0.125, 4), (0.2, 7), (0.3, 10), (0.5, 16)],
)
def test_validation_fraction_holds_out_its_share_of_rows_never_trained_on(
    validation_fraction, n_held_out
):
    held, trained = held_out_rows(validation_fraction, random_state=0)
    assert n_held_out == math.ceil(validation_fraction * 32)
    assert len(held) == n_held_out
    assert held.isdisjoint(trained)
    assert held | trained == set(range(32))
    assert held != set(range(32 - n_held_out, 32))  # not Keras' tail


def test_validation_split_follows_random_state_and_fraction():
    held, _ = held_out_rows(0.25, random_state=0)
    assert held_out_rows(0.25, random_state=0)[0] == held
    assert held_out_rows(0.25, random_state=1)[0] != held
    larger, _ = held_out_rows(0.5, random_state=0)
    assert len(larger) == 16 and larger != held


def elastic_net_sgd_epoch(X, Y, W, b, batch_size, lr, alpha, l1_ratio):
    """One epoch of plain SGD, in order, on mean_i mean_j 0.5 r_ij^2 + alpha * (l1_ratio *
    sum|W| + (1 - l1_ratio) / 2 * sum W^2), biases unpenalised; also the epoch's loss (each
    batch's objective before its step, weighted by its rows)."""
    n, n_outputs = Y.shape
    objective_sum = 0.0
    for start in range(0, n, batch_size):
        Xb, Yb = X[start : start + batch_size], Y[start : start + batch_size]
        m = len(Xb)
        R = Xb @ W + b - Yb
        penalty = alpha * (l1_ratio * np.abs(W).sum() + (1 - l1_ratio) / 2 * np.sum(W**2))
        objective_sum += m * (0.5 * np.mean(R**2) + penalty)
        grad_W = Xb.T @ R / (m * n_outputs) + alpha * (l1_ratio * np.sign(W) + (1 - l1_ratio) * W)
        grad_b = R.sum(axis=0) / (m * n_outputs)
        W, b = W - lr * grad_W, b - lr * grad_b
    return W, b, objective_sum / n


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("batch_size", [1, 7, "full"])
def test_elastic_net_penalty_steps_match_numpy(l1_ratio, batch_size):
    rng = np.random.RandomState(0)
    X, Y = rng.randn(20, 3), rng.randn(20, 2)
    W0, b0 = rng.randn(3, 2), rng.randn(2)  # no zero weight: |W| is differentiable
    lr, alpha = 0.05, 0.2
    reg = MiniBatchRegressor(
        (),
        solver="sgd",
        momentum=0.0,
        alpha=alpha,
        l1_ratio=l1_ratio,
        learning_rate_init=lr,
        batch_size=batch_size,
        shuffle=False,
        max_iter=1,
        tol=None,
    ).fit(X, Y, coefs_init=[W0], intercepts_init=[b0])
    size = 20 if batch_size == "full" else batch_size
    W, b, loss = elastic_net_sgd_epoch(X, Y, W0, b0, size, lr, alpha, l1_ratio)
    np.testing.assert_allclose(reg.coefs_[0], W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(reg.intercepts_[0], b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(reg.loss_curve_[0], loss, rtol=1e-12)


def imbalanced_labelled_blobs():
    X, codes = make_blobs(n_samples=[60, 25, 15], n_features=3, random_state=0)
    return X, np.array(["ant", "bee", "cat"])[codes]


def small_classifier(**params):
    base = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate_init=0.05,
        batch_size=16,
        max_iter=3,
        tol=None,
        random_state=0,
    )
    return MiniBatchMLPClassifier(**{**base, **params})


def assert_same_weights(a, b, exact=False):
    """The two estimators' weights and biases are equal: bit for bit if ``exact``, else up to
    rounding (1e-12)."""
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        if exact:
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)


def test_class_weight_dict_is_the_equivalent_sample_weight():
    X, y = imbalanced_labelled_blobs()
    class_weight = {"ant": 3.0, "cat": 0.5}  # 'bee' is missing: weight 1, as in scikit-learn
    per_sample = np.array([class_weight.get(label, 1.0) for label in y])
    weighted = small_classifier(class_weight=class_weight).fit(X, y)
    assert_same_weights(weighted, small_classifier().fit(X, y, sample_weight=per_sample))
    assert not np.allclose(weighted.coefs_[0], small_classifier().fit(X, y).coefs_[0])
    # With sample weights too, the class weights multiply them.
    sample_weight = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    both = small_classifier(class_weight=class_weight).fit(X, y, sample_weight=sample_weight)
    product = small_classifier().fit(X, y, sample_weight=sample_weight * per_sample)
    assert_same_weights(both, product)


def test_balanced_class_weight_is_n_samples_over_n_classes_times_class_count():
    X, y = imbalanced_labelled_blobs()
    classes, codes = np.unique(y, return_inverse=True)
    per_sample = len(y) / (len(classes) * np.bincount(codes)[codes])
    balanced = small_classifier(class_weight="balanced").fit(X, y)
    assert_same_weights(balanced, small_classifier().fit(X, y, sample_weight=per_sample))
    assert not np.allclose(balanced.coefs_[0], small_classifier().fit(X, y).coefs_[0])


@pytest.mark.parametrize("on_divergence", ["warn", "raise"])
def test_divergence_keeps_the_weights_of_the_last_finite_epoch(on_divergence):
    X, y = make_regression(n_samples=64, n_features=4, noise=1.0, random_state=0)
    params = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.05,
        batch_size=32,
        tol=None,
        random_state=0,
    )
    diverged = MiniBatchRegressor(max_iter=30, on_divergence=on_divergence, **params)
    if on_divergence == "warn":
        with pytest.warns(DivergenceWarning) as caught:
            diverged.fit(X, y)
        message = next(str(w.message) for w in caught if w.category is DivergenceWarning)
    else:
        with pytest.raises(DivergenceError) as caught:
            diverged.fit(X, y)
        message = str(caught.value)
    n_finite = diverged.n_iter_
    # Some epochs train first, and the diverging epoch updates before its loss overflows (a
    # trainer that does not put the weights back fails here).
    assert 2 <= n_finite < 30
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        fresh = MiniBatchRegressor(max_iter=n_finite, **params).fit(X, y)
    assert_same_weights(diverged, fresh, exact=True)
    np.testing.assert_array_equal(diverged.loss_curve_, fresh.loss_curve_)
    assert (diverged.t_, diverged.n_updates_) == (fresh.t_, fresh.n_updates_)
    assert f"epoch {n_finite + 1}" in message
    assert "last finite epoch are kept" in message
    assert "learning_rate_init smaller than 0.05" in message
    assert "batch_size larger than 32" in message


@pytest.mark.parametrize("dtype, learning_rate", [(np.float64, 1e3), (np.float32, 1e6)])
def test_divergence_at_an_epochs_first_update_keeps_the_weights_before_that_epoch(
    dtype, learning_rate
):
    """At full batch an epoch's only loss is that of the weights it starts from: when it is
    not finite, those weights (the end of the epoch before) are bad too, and the last good
    ones are those the epoch before started from."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3)).astype(dtype)
    y = X @ np.array([10.0, 20.0, 30.0], dtype)
    params = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        momentum=0.9,
        batch_size="full",
        learning_rate_init=learning_rate,
        tol=None,
        random_state=0,
    )
    with pytest.warns(DivergenceWarning):
        diverged = MiniBatchRegressor(max_iter=30, **params).fit(X, y)
    residual = diverged.predict(X).astype(np.float64) - y
    assert np.isfinite(0.5 * np.mean(residual**2))  # the weights kept have a finite loss
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        fresh = MiniBatchRegressor(max_iter=diverged.n_iter_, **params).fit(X, y)
    assert_same_weights(diverged, fresh, exact=True)


def sklearn_stopping_epoch(losses, tol, n_iter_no_change):
    """The epoch at which scikit-learn's MLP (``_update_no_improvement_count``) stops on the
    training loss: an epoch whose loss is not below the best so far minus tol adds one to a
    count that an improving epoch resets, and training stops once the count exceeds
    n_iter_no_change. None if it never stops."""
    best, count = np.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            return epoch
    return None


@pytest.mark.parametrize(("tol", "n_iter_no_change"), [(1e-3, 2), (1e-2, 3), (0.0, 4)])
def test_tol_stops_on_the_training_loss_by_sklearns_rule(tol, n_iter_no_change):
    X, y = make_classification(
        n_samples=120, n_features=6, n_informative=4, flip_y=0.1, random_state=0
    )
    clf = MiniBatchMLPClassifier(
        (8,),
        learning_rate_init=0.05,
        batch_size=8,
        max_iter=300,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        random_state=0,
    ).fit(X, y)
    assert clf.n_iter_ < 300
    assert clf.n_iter_ == sklearn_stopping_epoch(clf.loss_curve_, tol, n_iter_no_change)


@pytest.mark.parametrize(("n_samples", "expected"), [(500, 200), (150, 150)])
def test_auto_batch_size_is_scikit_learns_min_200_n_samples(n_samples, expected):
    """As in scikit-learn's MLP, without a clipping warning when the data are fewer."""
    X, y = make_blobs(n_samples, centers=3, random_state=0)
    params = dict(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = MiniBatchMLPClassifier(batch_size="auto", **params).fit(X, y)
    explicit = MiniBatchMLPClassifier(batch_size=expected, **params).fit(X, y)
    assert auto.history_["batch_size"] == [expected, expected]
    for a, b in zip(auto.coefs_, explicit.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    chunk = MiniBatchMLPClassifier(batch_size="auto", **params).partial_fit(
        X[:50], y[:50], [0, 1, 2]
    )
    assert chunk.history_["batch_size"] == [50] and chunk.n_updates_ == 1
