"""A slow, plain NumPy reference of skminibatch's training semantics.

Written from the specification, independently of :mod:`skminibatch._kernels` (nothing of the
package is imported here), and meant to be read rather than to be fast: whole arrays, no
in-place tricks, one Python loop iteration per batch. The tests compare the compiled engine
with it to about 1e-12.

The specification:

* Network: each hidden layer computes ``a = act(a_prev @ W + b)``; the last layer gives the
  logits ``z = a @ W + b`` (no activation).
* Per-sample loss ``l_i`` of the logits ``z`` and the float targets ``y`` (one row each):
  'squared_error', 'huber' and 'absolute_error' are means over outputs of ``0.5 r^2``, Huber's
  function of ``r`` and ``|r|`` (``r = z - y``); 'softmax_log_loss' is
  ``sum_j y_j (logsumexp(z) - z_j)``; 'logistic_log_loss' is ``sum_j softplus(z_j) - y_j z_j``.
* Sample weights are first rescaled to mean 1 over the data given to the call (``fit``; not
  with ``rescale_weights=False``, as ``partial_fit`` takes them). Batch objective:
  ``sum_i w_i l_i / n_batch + alpha / 2 * sum ||W||^2`` (weights only, not biases); each step
  follows its exact gradient.
* Epochs visit ``arange(n)`` or ``rng.permutation(n)`` (one RandomState for the whole training)
  in consecutive batches; the last partial batch is kept unless ``drop_last``; one optimizer
  step per batch (also for a batch whose weights are all zero: it steps on the penalty).
* SGD and Adam as documented for ``torch.optim.SGD`` (dampening 0) and ``torch.optim.Adam``.
* The epoch loss is the row-weighted mean of the batch objectives, each evaluated at the
  weights before that batch's step.
"""

from itertools import pairwise
from typing import NamedTuple

import numpy as np
from scipy.special import expit, logsumexp

ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
REGRESSION_LOSSES = ("squared_error", "huber", "absolute_error")
LOSSES = (*REGRESSION_LOSSES, "softmax_log_loss", "logistic_log_loss")


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------


def activate(z, activation):
    """The hidden activation of the pre-activations ``z``."""
    if activation == "identity":
        return z
    if activation == "logistic":
        return expit(z)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(activation)


def activation_derivative(z, activation):
    """d act(z) / dz, elementwise (relu: 0 at z = 0)."""
    if activation == "identity":
        return np.ones_like(z)
    if activation == "logistic":
        s = expit(z)
        return s * (1.0 - s)
    if activation == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if activation == "relu":
        return (z > 0.0).astype(z.dtype)
    raise ValueError(activation)


def _forward_with_pre_activations(coefs, intercepts, X, activation):
    """Pre-activations and outputs of every layer (the last layer's output is its logits)."""
    pre_activations, outputs = [], []
    a = X
    n_layers = len(coefs)
    for layer, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        z = a @ W + b
        a = activate(z, activation) if layer < n_layers - 1 else z
        pre_activations.append(z)
        outputs.append(a)
    return pre_activations, outputs


def forward(coefs, intercepts, X, activation):
    """Output of every layer: hidden layers activated, the last one the logits."""
    return _forward_with_pre_activations(coefs, intercepts, X, activation)[1]


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def per_sample_loss_and_gradient(Z, Y, loss, huber_delta=1.0):
    """Per-sample losses ``l`` (shape (n,)) and their gradients ``dl/dZ`` (shape of Z)."""
    n_outputs = Z.shape[1]
    if loss in REGRESSION_LOSSES:
        R = Z - Y
        if loss == "squared_error":
            L, G = 0.5 * R**2, R
        elif loss == "huber":
            small = np.abs(R) <= huber_delta
            L = np.where(small, 0.5 * R**2, huber_delta * (np.abs(R) - 0.5 * huber_delta))
            G = np.where(small, R, huber_delta * np.sign(R))
        else:
            L, G = np.abs(R), np.sign(R)  # np.sign(0) == 0
        return L.mean(axis=1), G / n_outputs
    if loss == "softmax_log_loss":
        lse = logsumexp(Z, axis=1, keepdims=True)
        L = (Y * (lse - Z)).sum(axis=1)
        # d/dz_k sum_j y_j (lse - z_j) = softmax(z)_k * sum_j y_j - y_k
        G = np.exp(Z - lse) * Y.sum(axis=1, keepdims=True) - Y
        return L, G
    if loss == "logistic_log_loss":
        L = (np.logaddexp(0.0, Z) - Y * Z).sum(axis=1)
        G = expit(Z) - Y
        return L, G
    raise ValueError(loss)


def objective_and_gradients(
    coefs, intercepts, X, Y, sample_weight, activation, loss, alpha, huber_delta=1.0
):
    """Batch objective and its exact gradient with respect to every weight and bias.

    Objective: ``sum_i w_i l_i / n_batch + alpha / 2 * sum_l ||W_l||^2``.
    Returns ``(objective, coef_grads, intercept_grads)``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    pre, out = _forward_with_pre_activations(coefs, intercepts, X, activation)
    L, G = per_sample_loss_and_gradient(out[-1], Y, loss, huber_delta)
    penalty = 0.5 * alpha * sum(np.sum(W**2) for W in coefs)
    objective = np.dot(w, L) / X.shape[0] + penalty

    # Backpropagation: delta = d objective / d pre-activation of the current layer.
    delta = w[:, None] * G / X.shape[0]
    n_layers = len(coefs)
    coef_grads = [None] * n_layers
    intercept_grads = [None] * n_layers
    for layer in range(n_layers - 1, -1, -1):
        a_in = X if layer == 0 else out[layer - 1]
        coef_grads[layer] = a_in.T @ delta + alpha * coefs[layer]
        intercept_grads[layer] = delta.sum(axis=0)
        if layer > 0:
            delta = (delta @ coefs[layer].T) * activation_derivative(pre[layer - 1], activation)
    return objective, coef_grads, intercept_grads


# --------------------------------------------------------------------------------------------
# Optimizers (parameters and gradients are lists of arrays; each step returns new arrays)
# --------------------------------------------------------------------------------------------


def sgd_init(params):
    return {"velocity": [np.zeros_like(p) for p in params]}


def sgd_step(params, grads, state, *, learning_rate, momentum, nesterov):
    """torch.optim.SGD (dampening 0): ``v = momentum v + g``; direction ``g + momentum v``
    with Nesterov, else ``v``; ``theta -= lr * direction``. Returns (params, state)."""
    new_params, velocity = [], []
    for p, g, v in zip(params, grads, state["velocity"], strict=True):
        if momentum == 0:
            direction, v = g, np.zeros_like(g)
        else:
            v = momentum * v + g
            direction = g + momentum * v if nesterov else v
        new_params.append(p - learning_rate * direction)
        velocity.append(v)
    return new_params, {"velocity": velocity}


def adam_init(params):
    return {
        "t": 0,
        "m": [np.zeros_like(p) for p in params],
        "v": [np.zeros_like(p) for p in params],
    }


def adam_step(params, grads, state, *, learning_rate, beta_1, beta_2, epsilon):
    """torch.optim.Adam: ``t += 1``, ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``. Returns
    (params, state)."""
    t = state["t"] + 1
    new_params, ms, vs = [], [], []
    for p, g, m, v in zip(params, grads, state["m"], state["v"], strict=True):
        m = beta_1 * m + (1.0 - beta_1) * g
        v = beta_2 * v + (1.0 - beta_2) * g**2
        step_size = learning_rate / (1.0 - beta_1**t)
        denominator = np.sqrt(v) / np.sqrt(1.0 - beta_2**t) + epsilon
        new_params.append(p - step_size * m / denominator)
        ms.append(m)
        vs.append(v)
    return new_params, {"t": t, "m": ms, "v": vs}


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


class TrainingResult(NamedTuple):
    coefs: list
    intercepts: list
    losses: list  # one per epoch
    n_updates: int


def batches(order, batch_size, drop_last):
    """Consecutive slices of ``order`` of ``batch_size`` rows; the last may be shorter."""
    out = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if drop_last and out and len(out[-1]) < batch_size:
        out = out[:-1]
    return out


def train_epochs(
    coefs,
    intercepts,
    X,
    Y,
    sample_weight=None,
    *,
    batch_size,
    drop_last=False,
    shuffle=False,
    random_state=None,
    n_epochs,
    solver,
    learning_rate,
    momentum=0.9,
    nesterov=True,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    activation,
    loss,
    alpha=0.0,
    huber_delta=1.0,
    rescale_weights=True,
):
    """Train a copy of (coefs, intercepts) for ``n_epochs`` epochs; returns a TrainingResult.

    ``batch_size`` is an int (clipped to the number of samples) or 'full'. ``random_state``
    is an int seed or a RandomState (used, not copied, so draws made before the call count).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n = X.shape[0]
    if Y.ndim == 1:
        Y = Y[:, None]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if rescale_weights:
        w = w / w.mean()
    batch_size = n if batch_size == "full" else min(int(batch_size), n)
    rng = (
        random_state
        if isinstance(random_state, np.random.RandomState)
        else np.random.RandomState(random_state)
    )
    n_layers = len(coefs)
    params = [np.array(c, dtype=np.float64) for c in coefs] + [
        np.array(b, dtype=np.float64) for b in intercepts
    ]
    if solver == "sgd":
        state = sgd_init(params)
    elif solver == "adam":
        state = adam_init(params)
    else:
        raise ValueError(solver)

    losses, n_updates = [], 0
    for _ in range(n_epochs):
        order = rng.permutation(n) if shuffle else np.arange(n)
        weighted_objectives, total_rows = 0.0, 0
        for rows in batches(order, batch_size, drop_last):
            objective, coef_grads, intercept_grads = objective_and_gradients(
                params[:n_layers],
                params[n_layers:],
                X[rows],
                Y[rows],
                w[rows],
                activation,
                loss,
                alpha,
                huber_delta,
            )
            weighted_objectives += objective * rows.size
            total_rows += rows.size
            grads = coef_grads + intercept_grads
            if solver == "sgd":
                params, state = sgd_step(
                    params,
                    grads,
                    state,
                    learning_rate=learning_rate,
                    momentum=momentum,
                    nesterov=nesterov,
                )
            else:
                params, state = adam_step(
                    params,
                    grads,
                    state,
                    learning_rate=learning_rate,
                    beta_1=beta_1,
                    beta_2=beta_2,
                    epsilon=epsilon,
                )
            n_updates += 1
        losses.append(weighted_objectives / total_rows if total_rows else np.nan)
    return TrainingResult(params[:n_layers], params[n_layers:], losses, n_updates)


# --------------------------------------------------------------------------------------------
# Helpers for the tests
# --------------------------------------------------------------------------------------------


def layer_sizes(n_features, hidden_layer_sizes, n_outputs):
    return [n_features, *hidden_layer_sizes, n_outputs]


def random_init(sizes, random_state):
    """Random weights of Glorot scale and random (nonzero) biases, from a seed."""
    rng = np.random.RandomState(random_state)
    coefs = [
        rng.uniform(-1.0, 1.0, size=(n_in, n_out)) * np.sqrt(6.0 / (n_in + n_out))
        for n_in, n_out in pairwise(sizes)
    ]
    intercepts = [rng.uniform(-0.5, 0.5, size=n_out) for n_out in sizes[1:]]
    return coefs, intercepts


def glorot_uniform_init(sizes, rng):
    """Keras' glorot_uniform weights drawn from ``rng`` layer after layer, zero biases."""
    coefs = []
    for n_in, n_out in pairwise(sizes):
        limit = np.sqrt(6.0 / (n_in + n_out))
        coefs.append(rng.uniform(-limit, limit, size=(n_in, n_out)))
    return coefs, [np.zeros(n_out) for n_out in sizes[1:]]


def classifier_targets(y):
    """Network targets of a classifier and its loss, for y of any supported target type.

    Binary: one column, 1.0 where ``y == classes_[1]``; multiclass: one-hot over the sorted
    classes; multilabel (2-D 0/1 y): the indicator matrix itself.
    """
    y = np.asarray(y)
    if y.ndim == 2:
        return y.astype(np.float64), "logistic_log_loss"
    classes = np.unique(y)
    if classes.size == 2:
        return (y == classes[1]).astype(np.float64)[:, None], "logistic_log_loss"
    return (y[:, None] == classes[None, :]).astype(np.float64), "softmax_log_loss"
