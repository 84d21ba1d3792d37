"""``python -m skminibatch``: a batch-size report on built-in data.

Fits the classifier on the seed tutorial's blobs problem and the regressor on scikit-learn's
diabetes data at several batch sizes, and prints, per batch size, the updates per epoch, the time
per epoch and the train and test scores.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, make_blobs
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from . import DivergenceWarning, MiniBatchMLPClassifier, MiniBatchRegressor

BATCH_SIZES = (1, 8, 32, 128, "full")


def blobs_problem():
    """The seed tutorial's data: 1000 blobs in 3 classes, first half for training."""
    X, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    return X[:500], X[500:], y[:500], y[500:]


def diabetes_problem():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
    scaler = StandardScaler().fit(X_train)
    y_scale = y_train.std()
    return (
        scaler.transform(X_train),
        scaler.transform(X_test),
        y_train / y_scale,
        y_test / y_scale,
    )


def report(name, estimator, problem, batch_sizes, epochs):
    X_train, X_test, y_train, y_test = problem
    print(f"\n{name}: {len(X_train)} training and {len(X_test)} test samples, {epochs} epochs")
    print(f"{'batch_size':>10} {'updates/epoch':>14} {'ms/epoch':>9} {'train':>7} {'test':>7}")
    for batch_size in batch_sizes:
        estimator.set_params(batch_size=batch_size, max_iter=epochs, tol=None)
        with warnings.catch_warnings(record=True, category=DivergenceWarning) as diverged:
            estimator.fit(X_train, y_train)
        epochs_run = f"diverged after {estimator.n_iter_} epochs" if diverged else ""
        ms_per_epoch = 1000 * np.median(estimator.history_["seconds"] or [np.nan])
        print(
            f"{batch_size!s:>10} {estimator.n_updates_ // max(estimator.n_iter_, 1):>14} "
            f"{ms_per_epoch:>9.3f} {estimator.score(X_train, y_train):>7.3f} "
            f"{estimator.score(X_test, y_test):>7.3f} {epochs_run}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m skminibatch",
        description="Train at several batch sizes on built-in data and report speed and scores.",
    )
    parser.add_argument("--epochs", type=int, default=200, help="epochs per fit (default 200)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    # The tutorial's network: 50 ReLU units, He-uniform weights, SGD with momentum 0.9.
    sgd = dict(solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.01)
    classifier = MiniBatchMLPClassifier(
        (50,), weight_init="he_uniform", alpha=0.0, random_state=0, **sgd
    )
    report(
        "Classifier on blobs (score: accuracy)",
        classifier,
        blobs_problem(),
        BATCH_SIZES,
        args.epochs,
    )
    regressor = MiniBatchRegressor(
        (10,), alpha=0.0, random_state=0, **{**sgd, "learning_rate_init": 0.001}
    )
    report(
        "Regressor on diabetes (score: R^2)",
        regressor,
        diabetes_problem(),
        BATCH_SIZES,
        args.epochs,
    )
    print(
        f"\nTotal {time.perf_counter() - started:.1f} s, including the kernels' compilation on "
        f"the first run after installing (cached afterwards)."
    )


if __name__ == "__main__":
    main()
