"""The compiled engine against the plain NumPy reference of ``tests/reference.py``.

Every comparison starts both from the same ``coefs_init``/``intercepts_init`` (so that the
estimator draws no weights and its random state only shuffles), trains for a few epochs with
``tol=None`` in float64 and compares the weights, biases, ``loss_curve_`` and the number of
updates to 1e-12. The reference itself is checked first: finite differences for its gradients,
scikit-learn's metrics for its losses, hand-derived steps for its optimizers.
"""

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import SGDRegressor
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error

from skminibatch import MiniBatchMLPClassifier, MiniBatchRegressor


def _load_reference():
    # The tests run with --import-mode=importlib: the tests directory is not on sys.path.
    name = "skminibatch_tests_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("reference.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


ref = _load_reference()

RTOL = ATOL = 1e-12
N_SAMPLES = 44  # batches of 3 or 7 leave a partial last batch of 2 rows
N_FEATURES = 4


# --------------------------------------------------------------------------------------------
# Data and comparison helpers
# --------------------------------------------------------------------------------------------


def make_X(seed, n_samples=N_SAMPLES, n_features=N_FEATURES):
    return np.random.RandomState(seed).normal(size=(n_samples, n_features))


def make_regression_y(X, n_outputs, seed):
    rng = np.random.RandomState(seed)
    Y = np.tanh(X @ rng.normal(size=(X.shape[1], n_outputs))) + 0.3 * rng.normal(
        size=(X.shape[0], n_outputs)
    )
    return Y[:, 0] if n_outputs == 1 else Y


def make_sample_weight(n_samples, seed):
    return np.random.RandomState(seed).uniform(0.2, 3.0, size=n_samples)


def make_classification_y(X, target, seed):
    rng = np.random.RandomState(seed)
    n = X.shape[0]
    if target == "binary":
        y = np.array(["no", "yes"])[(X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)]
        y[:2] = ["no", "yes"]
    elif target == "multiclass":
        y = np.array([5, 0, 2])[np.argmax(X[:, :3] + 0.5 * rng.normal(size=(n, 3)), axis=1)]
        y[:3] = [5, 0, 2]
    else:
        y = (X[:, :3] + 0.5 * rng.normal(size=(n, 3)) > 0).astype(int)
        y[0], y[1] = 0, 1  # every label column holds both values
    return y


def fit_and_reference(estimator, X, y, Y, loss, sample_weight, init, n_epochs):
    """Fit ``estimator`` from ``init`` and train the reference with the same parameters."""
    coefs, intercepts = init
    estimator.set_params(max_iter=n_epochs, tol=None)
    estimator.fit(X, y, sample_weight=sample_weight, coefs_init=coefs, intercepts_init=intercepts)
    p = estimator.get_params()
    random_state = p["random_state"]
    if isinstance(random_state, np.random.RandomState):
        raise TypeError("pass an int seed: the estimator advanced its RandomState")
    expected = ref.train_epochs(
        coefs,
        intercepts,
        X,
        Y,
        sample_weight,
        batch_size=p["batch_size"],
        drop_last=p["drop_last"],
        shuffle=p["shuffle"],
        random_state=random_state,
        n_epochs=n_epochs,
        solver=p["solver"],
        learning_rate=p["learning_rate_init"],
        momentum=p["momentum"],
        nesterov=p["nesterovs_momentum"],
        beta_1=p["beta_1"],
        beta_2=p["beta_2"],
        epsilon=p["epsilon"],
        activation=p["activation"],
        loss=loss,
        alpha=p["alpha"],
        huber_delta=p.get("huber_delta", 1.0),
    )
    return expected


def assert_matches_reference(estimator, expected, init=None):
    assert len(estimator.coefs_) == len(expected.coefs)
    for layer, (got, want) in enumerate(zip(estimator.coefs_, expected.coefs, strict=True)):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"coefs_[{layer}]")
    for layer, (got, want) in enumerate(
        zip(estimator.intercepts_, expected.intercepts, strict=True)
    ):
        np.testing.assert_allclose(
            got, want, rtol=RTOL, atol=ATOL, err_msg=f"intercepts_[{layer}]"
        )
    np.testing.assert_allclose(estimator.loss_curve_, expected.losses, rtol=RTOL, atol=ATOL)
    assert estimator.n_updates_ == expected.n_updates
    assert estimator.n_iter_ == len(expected.losses)
    if init is not None:  # training did move the weights: the comparison is not vacuous
        assert not np.allclose(estimator.coefs_[0], init[0][0], rtol=0, atol=1e-6)


# --------------------------------------------------------------------------------------------
# The reference itself
# --------------------------------------------------------------------------------------------


def _numerical_gradient(f, params, h=1e-6):
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for index in np.ndindex(p.shape):
            saved = p[index]
            p[index] = saved + h
            up = f()
            p[index] = saved - h
            down = f()
            p[index] = saved
            g[index] = (up - down) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize("activation", ref.ACTIVATIONS)
@pytest.mark.parametrize("loss", ref.LOSSES)
def test_reference_gradients_match_finite_differences(activation, loss):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(9, 3))
    if loss == "softmax_log_loss":
        Y = np.eye(3)[rng.randint(3, size=9)]
    elif loss == "logistic_log_loss":
        Y = (rng.uniform(size=(9, 3)) > 0.5).astype(float)
    else:
        Y = rng.normal(size=(9, 3))
    w = rng.uniform(0.2, 2.0, size=9)
    coefs, intercepts = ref.random_init([3, 5, 4, 3], 1)
    args = (X, Y, w, activation, loss, 0.3, 0.7)

    def objective():
        return ref.objective_and_gradients(coefs, intercepts, *args)[0]

    _, coef_grads, intercept_grads = ref.objective_and_gradients(coefs, intercepts, *args)
    numerical = _numerical_gradient(objective, coefs + intercepts)
    for got, want in zip(coef_grads + intercept_grads, numerical, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_reference_losses_match_scikit_learn_metrics():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 3))
    w = rng.uniform(0.2, 2.0, size=20)
    w /= w.mean()  # with mean-1 weights the batch objective is the weighted mean loss
    coefs, intercepts = ref.random_init([3, 4, 3], 2)
    hidden, Z = ref.forward(coefs, intercepts, X, "tanh")
    np.testing.assert_allclose(hidden, np.tanh(X @ coefs[0] + intercepts[0]), rtol=1e-15)
    np.testing.assert_allclose(Z, hidden @ coefs[1] + intercepts[1], rtol=1e-15)

    def objective(Y, loss, huber_delta=1.0):
        return ref.objective_and_gradients(
            coefs, intercepts, X, Y, w, "tanh", loss, 0.0, huber_delta
        )[0]

    Y = rng.normal(size=(20, 3))
    assert np.isclose(
        objective(Y, "squared_error"), 0.5 * mean_squared_error(Y, Z, sample_weight=w)
    )
    assert np.isclose(objective(Y, "absolute_error"), mean_absolute_error(Y, Z, sample_weight=w))
    # Huber with a huge threshold is half the squared error, with a tiny one delta * |r|.
    assert np.isclose(objective(Y, "huber", 1e6), objective(Y, "squared_error"))
    assert np.isclose(objective(Y, "huber", 1e-9) / 1e-9, objective(Y, "absolute_error"))

    labels = rng.randint(3, size=20)
    softmax = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    assert np.isclose(
        objective(np.eye(3)[labels], "softmax_log_loss"),
        log_loss(labels, softmax, sample_weight=w, labels=[0, 1, 2]),
    )
    indicator = (rng.uniform(size=(20, 3)) > 0.5).astype(float)
    per_label = sum(
        log_loss(indicator[:, j], 1 / (1 + np.exp(-Z[:, j])), sample_weight=w, labels=[0, 1])
        for j in range(3)
    )
    assert np.isclose(objective(indicator, "logistic_log_loss"), per_label)
    # A penalty of alpha / 2 * ||W||^2 over the weights only.
    penalty = ref.objective_and_gradients(
        coefs, intercepts, X, Y, w, "tanh", "squared_error", 0.5
    )[0] - objective(Y, "squared_error")
    assert np.isclose(penalty, 0.25 * sum(np.sum(c**2) for c in coefs))


def test_reference_optimizer_steps_by_hand():
    g1, g2 = np.array([0.5, -2.0, 0.0]), np.array([1.5, 1.0, -3.0])
    p0 = np.array([1.0, 2.0, 3.0])
    lr, mu = 0.1, 0.9
    for nesterov in (False, True):
        state = ref.sgd_init([p0])
        (p1,), state = ref.sgd_step(
            [p0], [g1], state, learning_rate=lr, momentum=mu, nesterov=nesterov
        )
        (p2,), state = ref.sgd_step(
            [p1], [g2], state, learning_rate=lr, momentum=mu, nesterov=nesterov
        )
        v1, v2 = g1, mu * g1 + g2
        d1, d2 = (g1 + mu * v1, g2 + mu * v2) if nesterov else (v1, v2)
        np.testing.assert_allclose(p2, p0 - lr * d1 - lr * d2, rtol=1e-15)
    (p1,), _ = ref.sgd_step(
        [p0], [g1], ref.sgd_init([p0]), learning_rate=lr, momentum=0.0, nesterov=True
    )
    np.testing.assert_allclose(p1, p0 - lr * g1, rtol=1e-15)

    # Adam's first step is lr * g / (|g| + eps); with a constant gradient every step is too.
    state = ref.adam_init([p0])
    p = p0
    for t in range(1, 4):
        (p,), state = ref.adam_step(
            [p], [g1], state, learning_rate=lr, beta_1=0.8, beta_2=0.99, epsilon=1e-3
        )
        assert state["t"] == t
        np.testing.assert_allclose(p, p0 - t * lr * g1 / (np.abs(g1) + 1e-3), rtol=1e-13)


def test_reference_batches():
    order = np.arange(10)
    assert [b.tolist() for b in ref.batches(order, 4, False)] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
    ]
    assert [b.tolist() for b in ref.batches(order, 4, True)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [b.tolist() for b in ref.batches(order, 5, True)] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


# --------------------------------------------------------------------------------------------
# The estimators against the reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ref.ACTIVATIONS)
@pytest.mark.parametrize("loss", ref.REGRESSION_LOSSES)
@pytest.mark.parametrize(("hidden", "n_outputs"), [((7,), 1), ((6, 5), 2)])
def test_regressor_activations_and_losses(activation, loss, hidden, n_outputs):
    X = make_X(0)
    y = make_regression_y(X, n_outputs, 1)
    sample_weight = make_sample_weight(N_SAMPLES, 2)
    init = ref.random_init(ref.layer_sizes(N_FEATURES, hidden, n_outputs), 3)
    estimator = MiniBatchRegressor(
        hidden,
        activation,
        loss=loss,
        huber_delta=0.5,
        solver="sgd",
        momentum=0.9,
        nesterovs_momentum=True,
        learning_rate_init=0.05,
        alpha=1e-3,
        batch_size=3,
        shuffle=False,
    )
    expected = fit_and_reference(estimator, X, y, y, loss, sample_weight, init, 2)
    assert_matches_reference(estimator, expected, init)


SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
    "sgd_momentum": dict(
        solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.02
    ),
    "sgd_nesterov": dict(
        solver="sgd", momentum=0.8, nesterovs_momentum=True, learning_rate_init=0.02
    ),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam_betas": dict(
        solver="adam", beta_1=0.5, beta_2=0.9, epsilon=1e-4, learning_rate_init=0.02
    ),
}
BATCHES = {
    "1": dict(batch_size=1),
    "3": dict(batch_size=3),
    "7": dict(batch_size=7),
    "full": dict(batch_size="full"),
    "3_drop_last": dict(batch_size=3, drop_last=True),
    "7_drop_last": dict(batch_size=7, drop_last=True),
}


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("batches", BATCHES)
@pytest.mark.parametrize("hidden", [(6, 5), ()])
def test_regressor_solvers_and_batches(solver, batches, hidden):
    X = make_X(4)
    y = make_regression_y(X, 1, 5)
    sample_weight = make_sample_weight(N_SAMPLES, 6)
    init = ref.random_init(ref.layer_sizes(N_FEATURES, hidden, 1), 7)
    estimator = MiniBatchRegressor(
        hidden, "tanh", alpha=1e-3, shuffle=False, **SOLVERS[solver], **BATCHES[batches]
    )
    expected = fit_and_reference(estimator, X, y, y, "squared_error", sample_weight, init, 3)
    assert_matches_reference(estimator, expected, init)


@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize(
    ("hidden", "activation"), [((), "relu"), ((7,), "relu"), ((6, 5), "logistic")]
)
@pytest.mark.parametrize("solver", ["sgd_nesterov", "adam"])
def test_classifier(target, hidden, activation, solver):
    X = make_X(8)
    y = make_classification_y(X, target, 9)
    Y, loss = ref.classifier_targets(y)
    assert Y.shape[1] == {"binary": 1, "multiclass": 3, "multilabel": 3}[target]
    sample_weight = make_sample_weight(N_SAMPLES, 10)
    init = ref.random_init(ref.layer_sizes(N_FEATURES, hidden, Y.shape[1]), 11)
    estimator = MiniBatchMLPClassifier(
        hidden, activation, alpha=1e-3, batch_size=3, shuffle=False, **SOLVERS[solver]
    )
    expected = fit_and_reference(estimator, X, y, Y, loss, sample_weight, init, 2)
    assert_matches_reference(estimator, expected, init)


@pytest.mark.parametrize("random_state", [0, 12345])
@pytest.mark.parametrize(("batch_size", "drop_last"), [(1, False), (3, False), (7, True)])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_shuffle_with_seed(random_state, batch_size, drop_last, kind):
    X = make_X(12)
    if kind == "regressor":
        y = Y = make_regression_y(X, 2, 13)
        loss = "huber"
        estimator = MiniBatchRegressor((7,), "relu", loss=loss)
    else:
        y = make_classification_y(X, "multiclass", 13)
        Y, loss = ref.classifier_targets(y)
        estimator = MiniBatchMLPClassifier((7,), "tanh")
    estimator.set_params(
        solver="adam",
        learning_rate_init=0.01,
        alpha=1e-3,
        batch_size=batch_size,
        drop_last=drop_last,
        shuffle=True,
        random_state=random_state,
    )
    init = ref.random_init(ref.layer_sizes(N_FEATURES, (7,), Y.shape[1]), 14)
    expected = fit_and_reference(estimator, X, y, Y, loss, None, init, 3)
    assert_matches_reference(estimator, expected, init)


def test_shuffle_without_weights_given():
    """The estimator draws glorot_uniform weights from its random state, then shuffles."""
    X = make_X(15)
    y = make_regression_y(X, 1, 16)
    estimator = MiniBatchRegressor(
        (6, 5),
        "tanh",
        solver="sgd",
        learning_rate_init=0.02,
        batch_size=3,
        shuffle=True,
        random_state=17,
        max_iter=2,
        tol=None,
    ).fit(X, y)
    rng = np.random.RandomState(17)
    coefs, intercepts = ref.glorot_uniform_init(ref.layer_sizes(N_FEATURES, (6, 5), 1), rng)
    expected = ref.train_epochs(
        coefs,
        intercepts,
        X,
        y,
        batch_size=3,
        shuffle=True,
        random_state=rng,
        n_epochs=2,
        solver="sgd",
        learning_rate=0.02,
        momentum=0.9,
        nesterov=True,
        activation="tanh",
        loss="squared_error",
        alpha=1e-4,
    )
    assert_matches_reference(estimator, expected)


def test_partial_fit_calls_are_epochs():
    """Each partial_fit call is one epoch; Adam's state and step count carry over; the sample
    weights apply as given (not rescaled to mean 1, as fit rescales them)."""
    X = make_X(26)
    y = make_regression_y(X, 2, 27)
    sample_weight = 3.0 * make_sample_weight(N_SAMPLES, 28)
    estimator = MiniBatchRegressor(
        (7,), "logistic", solver="adam", learning_rate_init=0.01, batch_size=5, random_state=29
    )
    for _ in range(3):
        estimator.partial_fit(X, y, sample_weight=sample_weight)
    rng = np.random.RandomState(29)
    coefs, intercepts = ref.glorot_uniform_init(ref.layer_sizes(N_FEATURES, (7,), 2), rng)
    expected = ref.train_epochs(
        coefs,
        intercepts,
        X,
        y,
        sample_weight,
        batch_size=5,
        shuffle=True,
        random_state=rng,
        n_epochs=3,
        solver="adam",
        learning_rate=0.01,
        activation="logistic",
        loss="squared_error",
        alpha=1e-4,
        rescale_weights=False,
    )
    assert_matches_reference(estimator, expected)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_zero_weight_batches_still_step_on_the_penalty(batch_size):
    X = make_X(18, n_samples=12)
    y = make_regression_y(X, 1, 19)
    sample_weight = np.array([1.0, 0.0, 0.0, 0.0, 2.0, 0.5, 0.0, 1.0, 0.0, 0.0, 3.0, 0.0])
    init = ref.random_init(ref.layer_sizes(N_FEATURES, (7,), 1), 20)
    estimator = MiniBatchRegressor(
        (7,), "tanh", solver="adam", learning_rate_init=0.01, batch_size=batch_size, shuffle=False
    )
    expected = fit_and_reference(estimator, X, y, y, "squared_error", sample_weight, init, 2)
    assert expected.n_updates == 2 * (12 // batch_size)
    assert_matches_reference(estimator, expected, init)


def test_batch_size_larger_than_data_is_full_batch():
    X = make_X(21, n_samples=10)
    y = make_regression_y(X, 1, 22)
    init = ref.random_init(ref.layer_sizes(N_FEATURES, (7,), 1), 23)
    estimator = MiniBatchRegressor((7,), "logistic", solver="sgd", batch_size=50, shuffle=False)
    with pytest.warns(UserWarning, match="clipped"):
        expected = fit_and_reference(estimator, X, y, y, "squared_error", None, init, 3)
    assert expected.n_updates == 3
    assert_matches_reference(estimator, expected, init)


# --------------------------------------------------------------------------------------------
# Linear regression by plain SGD: scikit-learn's SGDRegressor
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_epochs", [1, 3])
@pytest.mark.parametrize("penalty", [None, "l2"])
def test_linear_sgd_tracks_sgd_regressor(n_epochs, penalty):
    """With no hidden layer, batch_size=1 and plain SGD, each step is SGDRegressor's.

    SGDRegressor(learning_rate='constant') takes, sample after sample in the data's order
    (shuffle=False), ``p = w.x + b``, ``update = -eta0 * (p - y)`` (the gradient of its half
    squared error), ``w += update * x`` and ``b += update`` (intercept_decay is 1 for dense
    data; no averaging; power_t only matters for 'invscaling'). With alpha=0 there is no
    penalty: penalty=None skips it, penalty='l2' rescales w by ``1 - eta0 * alpha`` = 1.0
    exactly. That is our SGD step on ``0.5 (x.W + b - y)^2`` from the same zero weights; only
    the summation order of the dot product differs.
    """
    X = make_X(24, n_samples=50)
    rng = np.random.RandomState(25)
    y = X @ rng.normal(size=N_FEATURES) + 0.5 + 0.1 * rng.normal(size=50)
    lr = 0.01
    sgd = SGDRegressor(
        loss="squared_error",
        penalty=penalty,
        alpha=0.0,
        learning_rate="constant",
        eta0=lr,
        max_iter=n_epochs,
        tol=None,
        shuffle=False,
        average=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no ConvergenceWarning with tol=None, but be safe
        sgd.fit(X, y)
    estimator = MiniBatchRegressor(
        (),
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=lr,
        batch_size=1,
        shuffle=False,
        max_iter=n_epochs,
        tol=None,
    ).fit(X, y, coefs_init=[np.zeros((N_FEATURES, 1))], intercepts_init=[np.zeros(1)])
    np.testing.assert_allclose(estimator.coefs_[0][:, 0], sgd.coef_, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(estimator.intercepts_[0], sgd.intercept_, rtol=RTOL, atol=ATOL)
    assert estimator.n_updates_ == n_epochs * 50
    assert abs(sgd.intercept_[0]) > 0.1  # the intercept did move
