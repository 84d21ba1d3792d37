"""The compiled kernels against independent references: finite differences and closed forms."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from skminibatch import _kernels
from skminibatch._network import make_layer_sizes, n_parameters

LOSS_TARGETS = {
    "squared_error": "real",
    "huber": "real",
    "absolute_error": "real",
    "softmax_log_loss": "one_hot",
    "logistic_log_loss": "binary",
}
DEFAULTS = dict(
    activation=_kernels.RELU,
    loss=_kernels.SQUARED_ERROR,
    huber_delta=0.8,
    alpha=0.0,
    l1_ratio=0.0,
    solver=_kernels.SGD,
    momentum=0.9,
    nesterov=False,
    beta_1=0.9,
    beta_2=0.99,
    epsilon=1e-8,
    rho=0.9,
    weight_decay=0.0,
    clip_norm=0.0,
    sum_reduction=False,
    accumulate=1,
    drop_last=False,
    tiny=float(np.finfo(np.float64).tiny),
)


def hyperparameters(**changes):
    return _kernels.Hyperparameters(**{**DEFAULTS, **changes})


def make_problem(seed, n_rows, n_features, hidden, n_outputs, target_kind, dtype=np.float64):
    rng = np.random.RandomState(seed)
    layer_sizes = make_layer_sizes(n_features, hidden, n_outputs)
    theta = rng.normal(scale=0.7, size=n_parameters(layer_sizes)).astype(dtype)
    X = rng.normal(size=(n_rows, n_features)).astype(dtype)
    if target_kind == "real":
        Y = rng.normal(scale=2.0, size=(n_rows, n_outputs))
    elif target_kind == "binary":
        Y = rng.randint(0, 2, size=(n_rows, n_outputs)).astype(float)
    else:
        Y = np.eye(n_outputs)[rng.randint(0, n_outputs, size=n_rows)]
    sample_weight = rng.uniform(0.1, 2.0, size=n_rows).astype(dtype)
    return layer_sizes, theta, X, Y.astype(dtype), sample_weight


def objective_and_gradient(theta, layer_sizes, X, Y, sample_weight, hyper, dropout=0.0, seed=1):
    """Objective (mean weighted loss plus penalty) and gradient of one batch, from the kernels.

    The dropout generator restarts from ``seed`` at every call: the same masks every time."""
    n_rows, n_features = X.shape
    rows = min(n_rows, _kernels.CHUNK_ROWS)
    layout, act_size = _kernels.make_layout(layer_sizes, rows)
    dtype = theta.dtype
    ws = _kernels.Workspace(
        np.empty(rows * n_features, dtype),
        np.empty(rows * Y.shape[1], dtype),
        np.empty(rows, dtype),
        np.empty(act_size, dtype),
        np.empty(act_size, dtype),
        np.empty(act_size, dtype),
        np.empty_like(theta),
        np.empty_like(theta),
    )
    loss_sum = _kernels.batch_gradient(
        X,
        Y,
        sample_weight,
        np.arange(n_rows),
        1.0 / n_rows,
        False,
        theta,
        layout,
        hyper,
        np.full(layer_sizes.size - 2, dropout),
        np.array([seed], np.uint64),
        ws,
        np.empty(0, dtype),
    )
    penalty = _kernels.add_penalty(theta, ws.grad, layout, hyper.alpha, hyper.l1_ratio)
    return loss_sum / n_rows + penalty, ws.grad.copy()


@given(
    seed=st.integers(0, 2**31 - 1),
    n_rows=st.integers(1, 7),
    n_features=st.integers(1, 4),
    hidden=st.lists(st.integers(1, 5), max_size=2),
    n_outputs=st.integers(1, 3),
    activation=st.sampled_from(sorted(_kernels.ACTIVATIONS)),
    loss=st.sampled_from(sorted(LOSS_TARGETS)),
    alpha=st.sampled_from([0.0, 0.3]),
    l1_ratio=st.sampled_from([0.0, 0.5]),
    dropout=st.sampled_from([0.0, 0.4]),
)
def test_gradient_equals_central_finite_differences(
    seed, n_rows, n_features, hidden, n_outputs, activation, loss, alpha, l1_ratio, dropout
):
    if loss == "softmax_log_loss":
        n_outputs += 1  # softmax over at least two classes
    layer_sizes, theta, X, Y, sample_weight = make_problem(
        seed, n_rows, n_features, hidden, n_outputs, LOSS_TARGETS[loss]
    )
    hyper = hyperparameters(
        activation=_kernels.ACTIVATIONS[activation],
        loss=_kernels.LOSSES[loss],
        alpha=alpha,
        l1_ratio=l1_ratio,
    )
    args = (layer_sizes, X, Y, sample_weight, hyper, dropout)
    objective, grad = objective_and_gradient(theta, *args)
    h = 1e-6
    for p in range(theta.size):
        step = np.zeros_like(theta)
        step[p] = h
        f_plus = objective_and_gradient(theta + step, *args)[0]
        f_minus = objective_and_gradient(theta - step, *args)[0]
        # relu, leaky relu, absolute error, Huber and L1 have kinks; where one lies within h of
        # theta the one-sided slopes differ and no derivative exists to compare with.
        assume(abs((f_plus - objective) - (objective - f_minus)) / h < 1e-4)
        central = (f_plus - f_minus) / (2 * h)
        np.testing.assert_allclose(grad[p], central, rtol=1e-5, atol=1e-7, err_msg=f"p={p}")


def test_dropout_zeroes_about_its_rate_of_units_and_scales_the_rest():
    layer_sizes, theta, X, _, _ = make_problem(0, 400, 3, (50,), 1, "real")
    layout, act_size = _kernels.make_layout(layer_sizes, 400)
    acts, masks = np.empty(act_size), np.empty(act_size)
    _kernels._forward(
        X, theta, layout, _kernels.TANH, np.array([0.3]), np.array([7], np.uint64), acts, masks
    )
    mask = masks[: 400 * 50]
    assert set(np.unique(mask)) == {0.0, 1 / 0.7}
    assert abs(np.mean(mask == 0.0) - 0.3) < 0.02  # 20,000 draws: 5 standard deviations


@pytest.mark.parametrize("n_rows", [_kernels.CHUNK_ROWS + 1, 2 * _kernels.CHUNK_ROWS + 500])
def test_a_batch_larger_than_a_chunk_has_the_mean_of_its_chunks_gradients(n_rows):
    """Large batches pass forward and backward chunk by chunk; the result is the batch's."""
    layer_sizes, theta, X, Y, w = make_problem(3, n_rows, 3, (5, 4), 2, "real")
    hyper = hyperparameters(activation=_kernels.TANH, loss=_kernels.HUBER)
    objective, grad = objective_and_gradient(theta, layer_sizes, X, Y, w, hyper)
    expected_objective, expected_grad = 0.0, np.zeros_like(theta)
    for rows in [slice(0, 700), slice(700, n_rows)]:  # cut elsewhere than the chunks are
        part = objective_and_gradient(theta, layer_sizes, X[rows], Y[rows], w[rows], hyper)
        share = (rows.stop - rows.start) / n_rows
        expected_objective += share * part[0]
        expected_grad += share * part[1]
    np.testing.assert_allclose(objective, expected_objective, rtol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("loss", ["softmax_log_loss", "logistic_log_loss"])
def test_log_losses_are_finite_for_huge_logits(loss):
    """Log loss from logits: no overflow to inf or NaN, the right limit value."""
    layer_sizes = make_layer_sizes(1, (), 2)
    theta = np.array([1e4, -1e4, 0.0, 0.0])  # logits (1e4, -1e4) for x = 1
    X = np.ones((1, 1))
    Y = np.array([[0.0, 1.0]])  # confidently wrong on both outputs
    hyper = hyperparameters(loss=_kernels.LOSSES[loss])
    objective, grad = objective_and_gradient(theta, layer_sizes, X, Y, np.ones(1), hyper)
    assert np.isfinite(objective) and np.all(np.isfinite(grad))
    # softmax: logsumexp - z_true = 1e4 - (-1e4); logistic: softplus(1e4) + softplus(1e4) - 0
    np.testing.assert_allclose(objective, 2e4, rtol=1e-12)


def optimizer_trajectory(solver, grads, lr=0.1, **changes):
    hyper = hyperparameters(solver=_kernels.SOLVERS[solver], **changes)
    theta = np.zeros(grads.shape[1])
    state = np.zeros(_kernels.SOLVER_STATE_SLOTS[solver] * theta.size)
    for step, g in enumerate(grads, start=1):
        _kernels.optimizer_step(theta, g.copy(), state, lr, step, hyper)
    return theta


G1, G2 = np.array([1.0, -2.0]), np.array([0.5, 4.0])


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_steps_match_their_closed_form(nesterov):
    # v1 = g1, v2 = 0.9 v1 + g2; steps v (heavy ball) or g + 0.9 v (Nesterov)
    v1, v2 = G1, 0.9 * G1 + G2
    steps = (G1 + 0.9 * v1) + (G2 + 0.9 * v2) if nesterov else v1 + v2
    theta = optimizer_trajectory("sgd", np.array([G1, G2]), nesterov=nesterov)
    np.testing.assert_allclose(theta, -0.1 * steps, rtol=1e-15)


def test_plain_sgd_step_is_lr_times_gradient():
    theta = optimizer_trajectory("sgd", np.array([[3.0, -1.0]]), momentum=0.0)
    np.testing.assert_allclose(theta, [-0.3, 0.1], rtol=1e-15)


@pytest.mark.parametrize("solver", ["adam", "adamw"])
def test_adam_first_steps_match_their_closed_form(solver):
    # After bias correction Adam's first step is lr * g / (|g| + eps'): the sign times lr.
    theta1 = optimizer_trajectory(solver, np.array([G1]))
    np.testing.assert_allclose(theta1, -0.1 * G1 / (np.abs(G1) + 1e-8), rtol=1e-12)
    m2 = 0.9 * 0.1 * G1 + 0.1 * G2
    v2 = 0.99 * 0.01 * G1**2 + 0.01 * G2**2
    step2 = 0.1 / (1 - 0.9**2) * m2 / (np.sqrt(v2) / np.sqrt(1 - 0.99**2) + 1e-8)
    theta2 = optimizer_trajectory(solver, np.array([G1, G2]))
    np.testing.assert_allclose(theta2, theta1 - step2, rtol=1e-12)


def test_rmsprop_and_adagrad_steps_match_their_closed_forms():
    v1 = 0.1 * G1**2  # rho = 0.9
    v2 = 0.9 * v1 + 0.1 * G2**2
    expected = -0.1 * G1 / (np.sqrt(v1) + 1e-8) - 0.1 * G2 / (np.sqrt(v2) + 1e-8)
    rmsprop = optimizer_trajectory("rmsprop", np.array([G1, G2]))
    np.testing.assert_allclose(rmsprop, expected, rtol=1e-12)
    s1, s2 = G1**2, G1**2 + G2**2
    expected = -0.1 * G1 / (np.sqrt(s1) + 1e-8) - 0.1 * G2 / (np.sqrt(s2) + 1e-8)
    np.testing.assert_allclose(optimizer_trajectory("adagrad", np.array([G1, G2])), expected)


@pytest.mark.parametrize("solver", sorted(_kernels.SOLVERS))
def test_optimizers_minimise_a_quadratic(solver):
    """Every optimizer drives f(theta) = 0.5 * sum(c * (theta - 3)^2) to its minimum."""
    curvature = np.array([0.5, 1.0, 2.0])
    hyper = hyperparameters(solver=_kernels.SOLVERS[solver], nesterov=True, beta_2=0.999)
    theta = np.zeros(3)
    state = np.zeros(_kernels.SOLVER_STATE_SLOTS[solver] * 3)
    lr = 0.5 if solver == "adagrad" else 0.05
    for step in range(1, 3001):
        grad = curvature * (theta - 3.0)
        _kernels.optimizer_step(theta, grad, state, lr, step, hyper)
    np.testing.assert_allclose(theta, 3.0, atol=1e-2)


def test_optimizer_state_flushes_subnormal_numbers_to_zero():
    theta = np.zeros(1)
    state = np.array([1e-300])
    hyper = hyperparameters(momentum=1e-10)
    _kernels.optimizer_step(theta, np.zeros(1), state, 0.1, 1, hyper)
    assert state[0] == 0.0


@given(
    grad=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20),
    max_norm=st.floats(1e-3, 1e3),
)
def test_clipping_never_increases_the_norm_and_keeps_the_direction(grad, max_norm):
    grad = np.array(grad)
    clipped = grad.copy()
    _kernels.clip_by_global_norm(clipped, max_norm)
    norm = np.linalg.norm(grad)
    assert np.linalg.norm(clipped) <= max(norm, 0.0) + 1e-12
    assert np.linalg.norm(clipped) <= max_norm * (1 + 1e-9) or norm <= max_norm
    np.testing.assert_allclose(clipped * norm, grad * np.linalg.norm(clipped), atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_outputs_matches_numpy_forward_pass(dtype):
    layer_sizes, theta, X, _, _ = make_problem(0, 2500, 3, (4, 5), 3, "one_hot", dtype)
    out = np.empty((X.shape[0], 3), dtype)
    _kernels.forward_outputs(
        X,
        np.empty((0, 3), dtype),
        np.empty(0, dtype),
        theta,
        layer_sizes,
        _kernels.TANH,
        _kernels.SOFTMAX_LOG_LOSS,
        1.0,
        out,
    )
    # The same forward pass in NumPy, reading the layout documented in _kernels.
    W1, b1 = theta[:12].reshape(3, 4), theta[12:16]
    W2, b2 = theta[16:36].reshape(4, 5), theta[36:41]
    W3, b3 = theta[41:56].reshape(5, 3), theta[56:59]
    z = np.tanh(np.tanh(X @ W1 + b1) @ W2 + b2) @ W3 + b3
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


SAMPLE_PATH_CASES = {
    "sgd": dict(solver="sgd", momentum=0.0),
    "sgd_momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "sgd_nesterov": dict(solver="sgd", momentum=0.9, alpha=1e-2),
    "adam": dict(solver="adam", alpha=1e-2),
    "adamw": dict(solver="adamw", weight_decay=0.1, alpha=1e-2),
    "rmsprop": dict(solver="rmsprop"),
    "adagrad": dict(solver="adagrad"),
    "dropout": dict(solver="sgd", momentum=0.9, dropout=0.3),
    "sum_reduction": dict(solver="sgd", momentum=0.9, gradient_reduction="sum"),
}


# Hidden layers of a small network, and of one large enough for the single-sample path to run
# each forward pass along with the previous update (6 inputs, 3 outputs: 4,531 parameters).
SAMPLE_PATH_NETWORKS = {"separate_pass": (5, 4), "fused_pass": (64, 60)}


@pytest.mark.parametrize("network", sorted(SAMPLE_PATH_NETWORKS))
@pytest.mark.parametrize("activation", sorted(_kernels.ACTIVATIONS))
@pytest.mark.parametrize("case", sorted(SAMPLE_PATH_CASES))
@pytest.mark.parametrize("kind", ["softmax", "logistic", "huber", "absolute_error", "sparse"])
def test_single_sample_path_matches_the_batch_path(activation, case, kind, network):
    """Batch size one takes its own loops (``_kernels._sample_epoch``); a clipping threshold
    that never clips sends the same training through the batch path, which the NumPy reference
    and finite differences check. Both must train the same weights, up to rounding (which
    grows with the network: the large one's forward passes ride along with the updates)."""
    from scipy import sparse
    from sklearn.datasets import make_classification

    from skminibatch import MiniBatchMLPClassifier, MiniBatchRegressor

    X, y = make_classification(60, 6, n_informative=4, n_classes=3, random_state=0)
    X = X.astype(np.float64)
    if kind == "sparse":
        X[np.abs(X) < 0.8] = 0.0
        X = sparse.csr_matrix(X)
    if kind in ("huber", "absolute_error"):
        y = np.column_stack([y, -y]).astype(np.float64)
    elif kind == "logistic":
        y = y == 1

    def trained(clip_norm):
        params = dict(
            hidden_layer_sizes=SAMPLE_PATH_NETWORKS[network],
            activation=activation,
            batch_size=1,
            learning_rate_init=0.01 if network == "separate_pass" else 0.002,
            max_iter=3,
            tol=None,
            random_state=0,
            clip_norm=clip_norm,
            **SAMPLE_PATH_CASES[case],
        )
        if kind in ("huber", "absolute_error"):
            model = MiniBatchRegressor(loss=kind, **params)
        else:
            model = MiniBatchMLPClassifier(**params)
        model.fit(X, y)
        return model

    sample, batch = trained(None), trained(1e300)
    assert len(sample.history_) == len(batch.history_) == 3  # no epoch diverged
    n_parameters = sum(p.size for p in sample.coefs_ + sample.intercepts_)
    assert (n_parameters >= _kernels.FUSED_PASS_MIN_PARAMETERS) == (network == "fused_pass")
    rtol, atol = (1e-10, 1e-12) if network == "separate_pass" else (1e-7, 1e-9)
    pairs = zip(sample.coefs_ + sample.intercepts_, batch.coefs_ + batch.intercepts_, strict=True)
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)
    losses = [record["loss"] for record in sample.history_]
    np.testing.assert_allclose(losses, [record["loss"] for record in batch.history_], rtol=rtol)
