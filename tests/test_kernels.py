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


def objective_and_gradient(theta, layer_sizes, X, Y, sample_weight, activation, loss, alpha):
    """Objective and gradient of one batch from the compiled kernel."""
    n_rows, n_features = X.shape
    chunk_rows = min(n_rows, _kernels.CHUNK_ROWS)
    weight_offsets, bias_offsets, _ = _kernels.parameter_layout(layer_sizes)
    act_offsets, act_size = _kernels.activation_layout(layer_sizes, chunk_rows)
    grad = np.empty_like(theta)
    objective = _kernels.batch_gradient(
        X,
        Y,
        sample_weight,
        np.arange(n_rows),
        theta,
        layer_sizes,
        weight_offsets,
        bias_offsets,
        act_offsets,
        _kernels.ACTIVATIONS[activation],
        _kernels.LOSSES[loss],
        0.8,
        alpha,
        np.empty(chunk_rows * n_features, theta.dtype),
        np.empty(chunk_rows * Y.shape[1], theta.dtype),
        np.empty(chunk_rows, theta.dtype),
        np.empty(act_size, theta.dtype),
        np.empty(act_size, theta.dtype),
        grad,
        np.empty_like(theta),
    )
    return objective, grad


@given(
    seed=st.integers(0, 2**31 - 1),
    n_rows=st.integers(1, 7),  # below and above the row count where BLAS takes over
    n_features=st.integers(1, 4),
    hidden=st.lists(st.integers(1, 5), max_size=2),
    n_outputs=st.integers(1, 3),
    activation=st.sampled_from(sorted(_kernels.ACTIVATIONS)),
    loss=st.sampled_from(sorted(LOSS_TARGETS)),
    alpha=st.sampled_from([0.0, 0.3]),
)
def test_gradient_equals_central_finite_differences(
    seed, n_rows, n_features, hidden, n_outputs, activation, loss, alpha
):
    if loss == "softmax_log_loss":
        n_outputs += 1  # softmax over at least two classes
    layer_sizes, theta, X, Y, sample_weight = make_problem(
        seed, n_rows, n_features, hidden, n_outputs, LOSS_TARGETS[loss]
    )
    args = (layer_sizes, X, Y, sample_weight, activation, loss, alpha)
    objective, grad = objective_and_gradient(theta, *args)
    h = 1e-6
    for p in range(theta.size):
        step = np.zeros_like(theta)
        step[p] = h
        f_plus = objective_and_gradient(theta + step, *args)[0]
        f_minus = objective_and_gradient(theta - step, *args)[0]
        # relu, absolute error and Huber have kinks; where one lies within h of theta the
        # one-sided slopes differ and no derivative exists to compare with.
        assume(abs((f_plus - objective) - (objective - f_minus)) / h < 1e-4)
        central = (f_plus - f_minus) / (2 * h)
        np.testing.assert_allclose(grad[p], central, rtol=1e-5, atol=1e-7, err_msg=f"p={p}")


@pytest.mark.parametrize("n_rows", [_kernels.CHUNK_ROWS + 1, 2 * _kernels.CHUNK_ROWS + 500])
def test_a_batch_larger_than_a_chunk_has_the_mean_of_its_chunks_gradients(n_rows):
    """Large batches pass forward and backward chunk by chunk; the result is the batch's."""
    layer_sizes, theta, X, Y, w = make_problem(3, n_rows, 3, (5, 4), 2, "real")
    args = (layer_sizes, X, Y, w, "tanh", "huber", 0.0)
    objective, grad = objective_and_gradient(theta, *args)
    pieces = [slice(0, 700), slice(700, n_rows)]  # cut elsewhere than the chunks are
    expected_objective, expected_grad = 0.0, np.zeros_like(theta)
    for rows in pieces:
        part = objective_and_gradient(
            theta, layer_sizes, X[rows], Y[rows], w[rows], "tanh", "huber", 0.0
        )
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
    objective, grad = objective_and_gradient(theta, layer_sizes, X, Y, np.ones(1), "relu", loss, 0)
    assert np.isfinite(objective) and np.all(np.isfinite(grad))
    # softmax: logsumexp - z_true = 1e4 - (-1e4); logistic: softplus(1e4) + softplus(1e4) - 0
    np.testing.assert_allclose(objective, 2e4, rtol=1e-12)


def optimizer_trajectory(solver, grads, lr=0.1, momentum=0.9, nesterov=False, beta=(0.9, 0.99)):
    theta = np.zeros(grads.shape[1])
    state = np.zeros(_kernels.SOLVER_STATE_SLOTS[solver] * theta.size)
    for step, g in enumerate(grads, start=1):
        _kernels.optimizer_step(
            theta,
            g,
            state,
            _kernels.SOLVERS[solver],
            lr,
            momentum,
            nesterov,
            beta[0],
            beta[1],
            1e-8,
            step,
            np.finfo(float).tiny,
        )
    return theta


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_steps_match_their_closed_form(nesterov):
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    # v1 = g1, v2 = 0.9 v1 + g2; steps v (heavy ball) or g + 0.9 v (Nesterov)
    v1, v2 = g1, 0.9 * g1 + g2
    steps = (g1 + 0.9 * v1) + (g2 + 0.9 * v2) if nesterov else v1 + v2
    theta = optimizer_trajectory("sgd", np.array([g1, g2]), nesterov=nesterov)
    np.testing.assert_allclose(theta, -0.1 * steps, rtol=1e-15)


def test_plain_sgd_step_is_lr_times_gradient():
    theta = optimizer_trajectory("sgd", np.array([[3.0, -1.0]]), momentum=0.0)
    np.testing.assert_allclose(theta, [-0.3, 0.1], rtol=1e-15)


def test_adam_first_steps_match_their_closed_form():
    # After bias correction Adam's first step is lr * g / (|g| + eps'): the sign times lr.
    g1, g2 = np.array([2.0, -0.5]), np.array([1.0, 1.0])
    theta1 = optimizer_trajectory("adam", np.array([g1]))
    np.testing.assert_allclose(theta1, -0.1 * g1 / (np.abs(g1) + 1e-8), rtol=1e-12)
    m2 = 0.9 * 0.1 * g1 + 0.1 * g2
    v2 = 0.99 * 0.01 * g1**2 + 0.01 * g2**2
    step2 = 0.1 / (1 - 0.9**2) * m2 / (np.sqrt(v2) / np.sqrt(1 - 0.99**2) + 1e-8)
    theta2 = optimizer_trajectory("adam", np.array([g1, g2]))
    np.testing.assert_allclose(theta2, theta1 - step2, rtol=1e-12)


@pytest.mark.parametrize("solver", sorted(_kernels.SOLVERS))
def test_optimizers_minimise_a_quadratic(solver):
    """Every optimizer drives f(theta) = 0.5 * sum(c * (theta - 3)^2) to its minimum."""
    curvature = np.array([0.5, 1.0, 2.0])
    theta = np.zeros(3)
    state = np.zeros(_kernels.SOLVER_STATE_SLOTS[solver] * 3)
    for step in range(1, 2001):
        grad = curvature * (theta - 3.0)
        _kernels.optimizer_step(
            theta,
            grad,
            state,
            _kernels.SOLVERS[solver],
            0.05,
            0.9,
            True,
            0.9,
            0.999,
            1e-8,
            step,
            np.finfo(float).tiny,
        )
    np.testing.assert_allclose(theta, 3.0, atol=1e-3)


def test_optimizer_state_flushes_subnormal_numbers_to_zero():
    theta = np.zeros(1)
    state = np.array([1e-300])
    _kernels.optimizer_step(
        theta,
        np.zeros(1),
        state,
        _kernels.SGD,
        0.1,
        1e-10,
        False,
        0.9,
        0.999,
        1e-8,
        1,
        np.finfo(float).tiny,
    )
    assert state[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_outputs_matches_numpy_forward_pass(dtype):
    layer_sizes, theta, X, _, _ = make_problem(0, 2500, 3, (4, 5), 3, "one_hot", dtype)
    out = np.empty((X.shape[0], 3), dtype)
    _kernels.predict_outputs(X, theta, layer_sizes, _kernels.TANH, _kernels.SOFTMAX_LOG_LOSS, out)
    # The same forward pass in NumPy, reading the layout documented in _kernels.
    W1, b1 = theta[:12].reshape(3, 4), theta[12:16]
    W2, b2 = theta[16:36].reshape(4, 5), theta[36:41]
    W3, b3 = theta[41:56].reshape(5, 3), theta[56:59]
    z = np.tanh(np.tanh(X @ W1 + b1) @ W2 + b2) @ W3 + b3
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
