"""scikit-learn's estimator contract, checked by scikit-learn itself."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skminibatch import MiniBatchMLPClassifier, MiniBatchRegressor

# Small networks and few epochs keep the ~100 checks fast; tol=None runs every epoch (no
# ConvergenceWarning, and no check result depends on where training stopped).
ESTIMATORS = [
    MiniBatchMLPClassifier(hidden_layer_sizes=(8,), max_iter=20, tol=None, random_state=0),
    MiniBatchRegressor(
        hidden_layer_sizes=(8,), max_iter=50, learning_rate_init=0.01, tol=None, random_state=0
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
