"""The gradient noise scale against theory, and the batch-size advisor."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs

from skminibatch import (
    MiniBatchMLPClassifier,
    MiniBatchRegressor,
    NoiseScaleMonitor,
    _kernels,
    gradient_noise_scale,
    suggest_batch_size,
)
from skminibatch._network import make_layer_sizes, n_parameters


def regressor_at(coef, intercept, X, y):
    """A linear regressor whose weights are (almost exactly) the given ones."""
    reg = MiniBatchRegressor(
        (), solver="sgd", momentum=0.0, learning_rate_init=1e-15, alpha=0.0, max_iter=1, tol=None
    )
    return reg.fit(X, y, coefs_init=[coef[:, None]], intercepts_init=[[intercept]])


@pytest.mark.parametrize(("delta_norm", "sigma"), [(1.0, 1.0), (0.5, 2.0), (3.0, 0.5)])
def test_noise_scale_of_linear_regression_matches_its_closed_form(delta_norm, sigma):
    """y = x.w* + noise, x ~ N(0, I_d), weights w* + delta: per-sample gradients
    g = (x, 1) (x.delta - noise) have mean (delta, 0) and covariance trace
    (d + 1)(|delta|^2 + sigma^2) + |delta|^2, so B_simple = that / |delta|^2."""
    rng = np.random.RandomState(0)
    n, d = 40_000, 5
    w_true = rng.normal(size=d)
    X = rng.normal(size=(n, d))
    y = X @ w_true + sigma * rng.normal(size=n)
    delta = rng.normal(size=d)
    delta *= delta_norm / np.linalg.norm(delta)
    estimate = gradient_noise_scale(regressor_at(w_true + delta, 0.0, X, y), X, y)
    trace = (d + 1) * (delta_norm**2 + sigma**2) + delta_norm**2
    np.testing.assert_allclose(estimate.trace_covariance, trace, rtol=0.05)
    np.testing.assert_allclose(estimate.gradient_norm_squared, delta_norm**2, rtol=0.1)
    expected = trace / delta_norm**2
    np.testing.assert_allclose(estimate.noise_scale, expected, rtol=0.1)
    np.testing.assert_allclose(estimate.noise_scale_two_batch, expected, rtol=0.2)


def test_per_sample_gradient_norms_equal_the_norms_of_single_sample_gradients():
    """The |a|^2 |delta|^2 shortcut against gradients computed one sample at a time (whose
    correctness the finite-difference property of test_kernels establishes)."""
    rng = np.random.RandomState(1)
    layer_sizes = make_layer_sizes(3, (5, 4), 2)
    theta = rng.normal(size=n_parameters(layer_sizes))
    X, Y, w = rng.normal(size=(9, 3)), rng.normal(size=(9, 2)), rng.uniform(0.5, 2, size=9)
    hyper = _kernels.Hyperparameters(
        _kernels.TANH,
        _kernels.SQUARED_ERROR,
        1.0,
        0.0,
        0.0,
        _kernels.SGD,
        0.0,
        False,
        0.9,
        0.999,
        1e-8,
        0.9,
        0.0,
        0.0,
        False,
        1,
        False,
        1e-300,
    )

    def gradient(rows, sq_norms):
        layout, act_size = _kernels.make_layout(layer_sizes, rows.size)
        ws = _kernels.Workspace(
            *(
                np.empty(k)
                for k in (
                    rows.size * 3,
                    rows.size * 2,
                    rows.size,
                    act_size,
                    act_size,
                    act_size,
                    theta.size,
                    theta.size,
                )
            )
        )
        _kernels.batch_gradient(
            X,
            Y,
            w,
            rows,
            1.0,
            False,
            theta,
            layout,
            hyper,
            np.zeros(2),
            np.zeros(1, np.uint64),
            ws,
            sq_norms,
        )
        return ws.grad.copy()

    sq_norms = np.zeros(9)
    gradient(np.arange(9), sq_norms)
    singles = [gradient(np.array([i]), np.empty(0)) for i in range(9)]
    np.testing.assert_allclose(sq_norms, [g @ g for g in singles], rtol=1e-12)


def test_suggest_batch_size_trains_a_clone_and_explains_itself():
    X, y = make_blobs(n_samples=600, centers=3, cluster_std=3.0, random_state=0)
    estimator = MiniBatchMLPClassifier(
        (20,), batch_size=32, learning_rate_init=0.01, random_state=0
    )
    advice = suggest_batch_size(estimator, X, y, trial_epochs=4)
    assert not hasattr(estimator, "coefs_")  # the estimator itself is untouched
    # Near a minimum |G|^2 drowns in noise and the estimate may be infinite: positive, at least.
    assert len(advice.trajectory) == 4 and all(value > 0 for value in advice.trajectory)
    assert advice.noise_scale == np.median(advice.trajectory)
    assert 1 <= advice.batch_size <= 600
    assert advice.batch_size == min(2 ** round(np.log2(max(advice.noise_scale, 1))), 600)
    expected_lr = (
        0.01 * (1 + advice.noise_scale / 32) / (1 + advice.noise_scale / advice.batch_size)
    )
    np.testing.assert_allclose(advice.learning_rate, expected_lr, rtol=1e-12)
    assert "B_simple" in advice.formulas


def test_noise_scale_monitor_records_into_history_during_a_normal_fit():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    monitor = NoiseScaleMonitor(X, y, max_samples=200)
    clf = MiniBatchMLPClassifier((10,), max_iter=3, tol=None, callbacks=[monitor], random_state=0)
    clf.fit(X, y)
    assert len(clf.history_["noise_scale"]) == 3
    assert all(value > 0 for value in clf.history_["noise_scale"])
    # clone keeps the monitor as a parameter
    assert isinstance(clone(clf).callbacks[0], NoiseScaleMonitor)


def test_noise_scale_needs_a_fitted_estimator():
    with pytest.raises(ValueError, match="not fitted"):
        gradient_noise_scale(MiniBatchRegressor(), np.ones((3, 2)), np.ones(3))
