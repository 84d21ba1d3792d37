"""The batch-size advisor: the gradient noise scale of a model on given data, and the batch size
and learning rate it suggests (McCandlish et al. 2018, "An Empirical Model of Large-Batch
Training").

The simple noise scale is ``B_simple = tr(Sigma) / |G|^2``: the covariance of per-sample
gradients over the squared norm of the true gradient. Batches much smaller than ``B_simple``
spend their updates on noise, batches much larger spend samples for little gain. Per-sample
gradient norms come almost free in a multilayer perceptron (``|a_i|^2 |delta_i|^2`` per layer),
computed in the compiled backward pass.
"""

from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _kernels, _network, _validation
from ._batching import epoch_batch_size
from ._trainer import _allocate

FORMULAS = (
    "per-sample gradients g_i of the weighted loss (penalty excluded), mean gradient G_n over "
    "n rows; S = mean_i |g_i|^2; tr(Sigma) = n / (n - 1) * (S - |G_n|^2); "
    "|G|^2 = |G_n + penalty gradient|^2 - tr(Sigma) / n (unbiased); "
    "B_simple = tr(Sigma) / |G|^2. Two-batch estimator: with mean squared norms |G_b|^2 of "
    "batches of b rows and |G_B|^2 of all B = n rows (each batch's mean gradient plus the "
    "penalty gradient), |G|^2 = (B |G_B|^2 - b |G_b|^2) / (B - b) "
    "and tr(Sigma) = (|G_b|^2 - |G_B|^2) / (1 / b - 1 / B). The noise scale grows as training "
    "approaches a minimum (|G|^2 shrinks towards its estimation noise, and the estimate becomes "
    "infinite when the gradient cannot be told from noise): the suggestion uses the median of "
    "the estimates after each trial epoch. Suggested batch size: that median "
    "rounded to a power of two, within [1, n]. Suggested learning rate: the optimal step of "
    "SGD scales as eps(B) = eps_max / (1 + B_simple / B), so the learning rate that suits "
    "batch size b0 becomes lr0 * (1 + B_simple / b0) / (1 + B_simple / B) at batch size B."
)


@dataclass
class NoiseScale:
    """Gradient noise scale estimates at one set of weights."""

    noise_scale: float  # B_simple from per-sample gradient norms
    trace_covariance: float
    gradient_norm_squared: float
    noise_scale_two_batch: float  # the two-batch-size estimator, for cross-checking
    n_samples: int


@dataclass
class BatchSizeAdvice:
    """What :func:`suggest_batch_size` found and suggests."""

    batch_size: int
    learning_rate: float
    noise_scale: float  # median of the trajectory
    estimate: NoiseScale  # at the end of the trial, on up to max_samples rows
    trajectory: list = field(default_factory=list)  # noise scale after each trial epoch
    formulas: str = FORMULAS


def gradient_noise_scale(
    estimator, X, y, sample_weight=None, *, batch_size=32, max_samples=None, random_state=None
):
    """The gradient noise scale of a fitted estimator's loss on (X, y), at its current weights.

    Parameters
    ----------
    estimator : MiniBatchMLPClassifier or MiniBatchRegressor
        A fitted estimator.
    X, y : array-like
        Data, as for ``fit``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the samples' losses, as for ``fit``: times the estimator's
        ``class_weight``, if any, so that the loss is the one ``fit`` trains.
    batch_size : int, default=32
        Batch size of the two-batch-size estimator's small batches (at most half the rows).
    max_samples : int >= 2, default=None
        Use a random subset of at most this many rows (all rows when None).
    random_state : int, RandomState instance or None, default=None
        Seeds the subset and the small batches.

    Returns
    -------
    NoiseScale

    Examples
    --------
    >>> import numpy as np
    >>> from skminibatch import MiniBatchRegressor, gradient_noise_scale
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(5000, 3)); y = X @ [1.0, 2.0, 3.0] + rng.normal(size=5000)
    >>> reg = MiniBatchRegressor((), max_iter=1, tol=None, random_state=0).fit(X, y)
    >>> gradient_noise_scale(reg, X, y).noise_scale > 1
    True
    """
    check_is_fitted(estimator, "coefs_")
    batch_size = _validation.check_int(batch_size, "batch_size", minimum=1)
    if max_samples is not None:
        max_samples = _validation.check_int(max_samples, "max_samples", minimum=2)
    dtype = _validation.fitted_dtype(estimator)
    X, y = _validation.check_X_y(
        estimator, X, y, reset=False, dtype=dtype, y_numeric=not hasattr(estimator, "classes_")
    )
    rng = check_random_state(random_state)
    y = estimator._set_up_targets(y, False, True, None)
    # The loss fit trains: sample weights times the estimator's class weights.
    weights = _validation.check_sample_weight(
        sample_weight, X, factors=estimator._class_weights(y, False), rescale=False
    )
    if max_samples is not None and X.shape[0] > max_samples:
        rows = np.sort(rng.choice(X.shape[0], max_samples, replace=False))
        X = _validation.canonical_rows(X[rows], dtype)
        y = y[rows]
        weights = weights[rows]
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"The noise scale needs at least 2 samples; got {n}.")
    Y = estimator._encode_targets(y, dtype)
    weights = _validation.check_sample_weight(weights, X)  # mean 1 over the rows used
    layer_sizes = _network.layer_sizes_of(estimator.coefs_)
    _validation.check_n_features(X, layer_sizes)
    _validation.check_n_outputs(Y, layer_sizes)
    theta = _network.pack(estimator.coefs_, estimator.intercepts_, layer_sizes, dtype)
    config = _validation.training_config(estimator, estimator._loss, layer_sizes.size - 2, dtype)
    no_dropout = np.zeros(layer_sizes.size - 2)
    no_rng = np.zeros(1, np.uint64)
    X = _validation.kernel_rows(X)

    def mean_gradient(rows, sq_norms):
        layout, workspace = _allocate(
            layer_sizes, min(rows.size, _kernels.CHUNK_ROWS), X, Y, theta
        )
        _kernels.batch_gradient(
            X,
            Y,
            weights,
            rows,
            1.0 / rows.size,
            False,
            theta,
            layout,
            config.hyperparameters,
            no_dropout,
            no_rng,
            workspace,
            sq_norms,
        )
        return workspace.grad.astype(np.float64), layout

    sq_norms = np.zeros(n, dtype)
    data_gradient, layout = mean_gradient(np.arange(n, dtype=np.int64), sq_norms)
    mean_sq_norm = float(np.mean(sq_norms.astype(np.float64))) * n * n
    full_sq = float(data_gradient @ data_gradient)
    trace = n / (n - 1) * (mean_sq_norm - full_sq)
    hyper = config.hyperparameters
    total_gradient = data_gradient.copy()
    if hyper.alpha > 0:
        _kernels.add_penalty(
            theta.astype(np.float64), total_gradient, layout, hyper.alpha, hyper.l1_ratio
        )
    total_sq = float(total_gradient @ total_gradient)
    gradient_sq = total_sq - trace / n

    # The two-batch estimator, on the same objective: each batch's gradient plus the penalty's.
    penalty_gradient = total_gradient - data_gradient
    small = min(batch_size, n // 2)
    order = rng.permutation(n).astype(np.int64)
    small_sq = np.mean(
        [
            float(g @ g)
            for g in (
                mean_gradient(order[start : start + small], np.empty(0, dtype))[0]
                + penalty_gradient
                for start in range(0, n - small + 1, small)
            )
        ]
    )
    two_batch_gradient_sq = (n * total_sq - small * small_sq) / (n - small)
    two_batch_trace = (small_sq - total_sq) / (1.0 / small - 1.0 / n)
    return NoiseScale(
        noise_scale=trace / gradient_sq if gradient_sq > 0 else float("inf"),
        trace_covariance=trace,
        gradient_norm_squared=gradient_sq,
        noise_scale_two_batch=(
            two_batch_trace / two_batch_gradient_sq if two_batch_gradient_sq > 0 else float("inf")
        ),
        n_samples=n,
    )


class NoiseScaleMonitor:
    """A callback that records the gradient noise scale in ``history_`` after every epoch.

    ``callbacks=[NoiseScaleMonitor(X, y)]`` adds ``record["noise_scale"]``, estimated on at most
    ``max_samples`` rows of (X, y) at the weights of the end of each epoch.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skminibatch import MiniBatchMLPClassifier, NoiseScaleMonitor
    >>> X, y = make_blobs(n_samples=200, centers=3, random_state=0)
    >>> clf = MiniBatchMLPClassifier((10,), max_iter=3, tol=None,
    ...                              callbacks=[NoiseScaleMonitor(X, y)]).fit(X, y)
    >>> len(clf.history_["noise_scale"])
    3
    """

    def __init__(self, X, y, max_samples=2048, random_state=0):
        self.X = X
        self.y = y
        self.max_samples = max_samples
        self.random_state = random_state

    def on_epoch_end(self, estimator, record):
        estimate = gradient_noise_scale(
            estimator, self.X, self.y, max_samples=self.max_samples, random_state=self.random_state
        )
        record["noise_scale"] = estimate.noise_scale


def suggest_batch_size(estimator, X, y, *, trial_epochs=5, max_samples=20_000, random_state=0):
    """Suggest a batch size and learning rate from the gradient noise scale.

    Trains a clone of ``estimator`` for ``trial_epochs`` epochs, recording the noise scale
    after each epoch (it grows as training approaches a minimum), and suggests from the median
    of these estimates. See ``BatchSizeAdvice.formulas`` for the formulas used.

    Parameters
    ----------
    estimator : MiniBatchMLPClassifier, MiniBatchRegressor or Pipeline
        Not modified: a clone is trained. A Pipeline's steps before the last (such as a
        ``StandardScaler``) are fitted on X and y, and its last step is advised on their
        output.
    X, y : array-like
        Training data.
    trial_epochs : int >= 1, default=5
        Epochs the clone trains; the noise scale is measured after each.
    max_samples : int >= 2, default=20_000
        Rows of X whose per-sample gradients make the final estimate (a random subset when X
        has more; the estimates after each trial epoch use at most 2,048).
    random_state : int, RandomState instance or None, default=0
        Seeds the final estimate's subset and small batches, and the trial's initial weights
        and shuffles when the estimator's ``random_state`` is None: with an int, the same
        call gives the same advice.

    Returns
    -------
    BatchSizeAdvice
        ``batch_size``, ``learning_rate``, ``noise_scale``, the full ``estimate``, the
        ``trajectory`` of the noise scale over the trial epochs, and the ``formulas``.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skminibatch import MiniBatchMLPClassifier, suggest_batch_size
    >>> X, y = make_blobs(n_samples=500, centers=3, random_state=0)
    >>> advice = suggest_batch_size(MiniBatchMLPClassifier((20,), random_state=0), X, y)
    >>> 1 <= advice.batch_size <= 500
    True
    """
    trial_epochs = _validation.check_int(trial_epochs, "trial_epochs", minimum=1)
    max_samples = _validation.check_int(max_samples, "max_samples", minimum=2)
    rng = check_random_state(random_state)
    estimator, steps = _validation.split_pipeline(estimator, X, y)
    if steps is not None:
        X = steps.transform(X)
    monitor = NoiseScaleMonitor(X, y, max_samples=min(max_samples, 2048))
    trial = clone(estimator).set_params(max_iter=trial_epochs, tol=None, callbacks=[monitor])
    if estimator.random_state is None:
        trial.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
    trial.fit(X, y)
    estimate = gradient_noise_scale(trial, X, y, max_samples=max_samples, random_state=rng)
    n = _validation.n_samples(X)
    noise = float(np.median(trial.history_["noise_scale"]))
    suggested = n if not np.isfinite(noise) else int(2 ** np.round(np.log2(max(noise, 1.0))))
    suggested = int(min(max(suggested, 1), n))
    lr = estimator.learning_rate_init
    if np.isfinite(noise):
        current = epoch_batch_size(estimator.batch_size, n, clip=True, warn=False)
        lr = lr * (1 + noise / current) / (1 + noise / suggested)
    return BatchSizeAdvice(
        batch_size=suggested,
        learning_rate=float(lr),
        noise_scale=float(noise),
        estimate=estimate,
        trajectory=trial.history_["noise_scale"],
    )
