"""The suite's three workloads: data, network and task.

* (a) the seed tutorial's blobs problem: ``make_blobs(n_samples=1000, centers=3, n_features=2,
  cluster_std=2, random_state=2)``, first 500 rows for training (not standardised, as in the
  tutorial); one hidden layer of 50 relu units, 3 classes.
* (b) ``make_classification(50_000, n_features=100, n_informative=20, n_classes=5,
  random_state=0)``, standardised; hidden layers (128, 64), 5 classes.
* (c) ``make_regression(50_000, n_features=100, random_state=0)``, features and targets
  standardised; one hidden layer of 128 units, one output.

Every peer uses the same learning rate: 0.01 for (a) and (b), 0.001 for (c), where 0.01 and 0.003
make SGD with momentum 0.9 diverge at batch size 1.
"""

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from sklearn.datasets import make_blobs, make_classification, make_regression
from sklearn.preprocessing import StandardScaler

SEED = 0


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    task: str  # "classification" or "regression"
    hidden: tuple
    n_samples: int  # rows of a full-size run
    learning_rate: float
    data_text: str

    def data(self, n_samples=None):
        """(X float64 C-contiguous, y): int labels, or standardised float64 targets."""
        n_samples = self.n_samples if n_samples is None else n_samples
        if self.key == "a":
            X, y = make_blobs(
                n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2
            )
            X, y = X[:500], y[:500]
            return np.ascontiguousarray(X[:n_samples], dtype=np.float64), y[:n_samples]
        if self.key == "b":
            X, y = make_classification(
                n_samples=n_samples,
                n_features=100,
                n_informative=20,
                n_classes=5,
                random_state=SEED,
            )
        else:
            X, y = make_regression(n_samples=n_samples, n_features=100, random_state=SEED)
            y = (y - y.mean()) / y.std()
        X = np.ascontiguousarray(StandardScaler().fit_transform(X), dtype=np.float64)
        return X, y

    def layer_sizes(self, n_features, n_outputs):
        return [n_features, *self.hidden, n_outputs]

    def n_outputs(self, y):
        return int(np.unique(y).size) if self.task == "classification" else 1

    def n_parameters(self, n_features, n_outputs):
        sizes = self.layer_sizes(n_features, n_outputs)
        return sum(a * b + b for a, b in pairwise(sizes))


WORKLOADS = {
    "a": Workload(
        "a",
        "(a) blobs, 500 x 2, hidden (50,), 3 classes",
        "classification",
        (50,),
        500,
        0.01,
        "make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2), "
        "first 500 rows, not standardised",
    ),
    "b": Workload(
        "b",
        "(b) make_classification, 50,000 x 100, hidden (128, 64), 5 classes",
        "classification",
        (128, 64),
        50_000,
        0.01,
        "make_classification(n_samples, n_features=100, n_informative=20, n_classes=5, "
        "random_state=0), standardised",
    ),
    "c": Workload(
        "c",
        "(c) make_regression, 50,000 x 100, hidden (128,), 1 output",
        "regression",
        (128,),
        50_000,
        0.001,  # 0.01 and 0.003 diverge at batch size 1 (with momentum 0.9)
        "make_regression(n_samples, n_features=100, random_state=0), X and y standardised",
    ),
}
