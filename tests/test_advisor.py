"""The gradient noise scale against theory, and the batch-size advisor."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skminibatch import (
    MiniBatchMLPClassifier,
    MiniBatchRegressor,
    NoiseScaleMonitor,
    _kernels,
    gradient_noise_scale,
    suggest_batch_size,
)
from skminibatch._network import make_layer_sizes, n_parameters
from skminibatch.schedules import GrowBatchSize


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


def test_an_l2_penalty_enters_both_estimators_as_its_closed_form_says():
    """With penalty 0.5 alpha |w|^2 the true gradient is (delta + alpha w, 0) while the
    per-sample noise is unchanged (the penalty is the same for every sample)."""
    rng = np.random.RandomState(0)
    n, d, alpha = 40_000, 5, 0.3
    w_true = rng.normal(size=d)
    X = rng.normal(size=(n, d))
    y = X @ w_true + rng.normal(size=n)
    delta = 0.5 * rng.normal(size=d)
    w = w_true + delta
    regressor = regressor_at(w, 0.0, X, y).set_params(alpha=alpha)
    estimate = gradient_noise_scale(regressor, X, y, random_state=0)
    trace = (d + 1) * (delta @ delta + 1.0) + delta @ delta
    expected = trace / np.sum((delta + alpha * w) ** 2)
    np.testing.assert_allclose(estimate.noise_scale, expected, rtol=0.1)
    np.testing.assert_allclose(estimate.noise_scale_two_batch, expected, rtol=0.2)


def test_class_weights_weigh_the_loss_as_the_same_sample_weights_would():
    X, y = make_blobs(n_samples=600, centers=3, cluster_std=3.0, random_state=0)
    class_weight = {0: 20.0, 1: 1.0, 2: 1.0}
    weighted = MiniBatchMLPClassifier(
        (), class_weight=class_weight, max_iter=2, tol=None, random_state=0
    )
    weighted.fit(X, y)
    plain = clone(weighted).set_params(class_weight=None).fit(X, y)
    plain.coefs_, plain.intercepts_ = weighted.coefs_, weighted.intercepts_
    as_sample_weights = np.array([class_weight[label] for label in y])
    expected = gradient_noise_scale(plain, X, y, as_sample_weights, random_state=0)
    assert gradient_noise_scale(weighted, X, y, random_state=0) == expected
    unweighted = gradient_noise_scale(plain, X, y, random_state=0)
    assert unweighted.noise_scale != pytest.approx(expected.noise_scale, rel=0.1)


def test_sample_weights_are_checked_against_all_rows_before_a_subset_is_drawn():
    X, y = make_blobs(n_samples=500, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier((5,), max_iter=1, tol=None, random_state=0).fit(X, y)
    for length in (10, 600):
        with pytest.raises(ValueError, match=rf"sample_weight.shape == \({length},\)"):
            gradient_noise_scale(clf, X, y, np.ones(length), max_samples=100)


@pytest.mark.parametrize(
    ("function", "params", "match"),
    [
        ("noise", dict(max_samples=-5), "max_samples must be >= 2; got -5"),
        ("noise", dict(max_samples=2.5), "max_samples must be an int; got 2.5"),
        ("noise", dict(batch_size=0), "batch_size must be >= 1; got 0"),
        ("noise", dict(batch_size="full"), "batch_size must be an int; got 'full'"),
        ("suggest", dict(trial_epochs=0), "trial_epochs must be >= 1; got 0"),
        ("suggest", dict(max_samples=1), "max_samples must be >= 2; got 1"),
    ],
)
def test_bad_advisor_arguments_raise_errors_naming_them(function, params, match):
    X, y = make_blobs(n_samples=100, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier((5,), max_iter=1, tol=None, random_state=0)
    with pytest.raises(ValueError, match=match):
        if function == "noise":
            gradient_noise_scale(clf.fit(X, y), X, y, **params)
        else:
            suggest_batch_size(clf, X, y, **params)


def test_suggest_batch_size_takes_sparse_rows_and_gives_the_dense_advice():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    clf = MiniBatchMLPClassifier((8,), random_state=0)
    sparse = suggest_batch_size(clf, csr_matrix(X), y, trial_epochs=2)
    dense = suggest_batch_size(clf, X, y, trial_epochs=2)
    assert sparse.batch_size == dense.batch_size
    np.testing.assert_allclose(sparse.noise_scale, dense.noise_scale, rtol=1e-6)


def test_suggest_batch_size_takes_a_pipeline_as_batch_size_sweep_does():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    X = X * [100.0, 0.01]
    clf = MiniBatchMLPClassifier((8,), random_state=0)
    piped = suggest_batch_size(make_pipeline(StandardScaler(), clf), X, y, trial_epochs=2)
    scaled = suggest_batch_size(clf, StandardScaler().fit_transform(X), y, trial_epochs=2)
    assert piped.batch_size == scaled.batch_size and piped.noise_scale == scaled.noise_scale
    for wrong in [LogisticRegression(), make_pipeline(StandardScaler(), LogisticRegression())]:
        with pytest.raises(ValueError, match=r"^estimator must be a MiniBatchMLPClassifier or"):
            suggest_batch_size(wrong, X, y)


def test_the_learning_rate_is_rescaled_from_a_schedules_first_batch_size():
    X, y = make_blobs(n_samples=400, centers=3, cluster_std=3.0, random_state=0)
    clf = MiniBatchMLPClassifier(
        (8,), batch_size=GrowBatchSize(initial=2, epochs=(1,)), learning_rate_init=0.01
    )
    advice = suggest_batch_size(clf, X, y, trial_epochs=3)
    noise = advice.noise_scale
    expected = 0.01 * (1 + noise / 2) / (1 + noise / advice.batch_size)
    np.testing.assert_allclose(advice.learning_rate, expected, rtol=1e-12)


def test_the_advice_is_reproducible_when_the_estimator_has_no_random_state():
    X, y = make_blobs(n_samples=400, centers=3, cluster_std=3.0, random_state=0)
    clf = MiniBatchMLPClassifier((8,), random_state=None)
    first, second = (suggest_batch_size(clf, X, y, trial_epochs=3) for _ in range(2))
    assert first.trajectory == second.trajectory
    assert (first.batch_size, first.learning_rate) == (second.batch_size, second.learning_rate)
