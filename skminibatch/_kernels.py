"""Compiled kernels: all per-batch work of skminibatch.

Every function here is ``@njit`` with one shared flag set, takes arrays and scalars only, and
writes into buffers its caller allocated. One call of :func:`train_epoch` runs a whole epoch of
batches (gather, forward pass, loss, backward pass, optimizer update), so Python runs once per
epoch, never per batch. The functions are valid Python: ``NUMBA_DISABLE_JIT=1`` runs them as is.

The network lives in one flat parameter vector ``theta``: for each layer ``l`` the weight matrix
``W_l`` of shape ``(layer_sizes[l], layer_sizes[l + 1])`` in C order, then its bias ``b_l``. The
depth is data (``layer_sizes``), not part of the compiled type, so any depth shares one
specialisation per dtype. Strings never reach this module: activations, losses and solvers are
integer codes chosen in Python.
"""

import math
import warnings

import numba
import numpy as np

# Never ``fastmath=True``: it lets LLVM assume no NaN or inf, and the divergence check would pass.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _numba_cache_is_available():
    """Whether Numba finds a writable cache directory for this module.

    Numba picks its cache location when a function is decorated with ``cache=True`` and raises
    ``RuntimeError`` there (that is, at import) when neither the package directory nor the
    user-wide cache directory under ``HOME`` is writable.
    """

    def probe():
        return 0

    try:
        numba.njit(cache=True)(probe)
    except RuntimeError:
        return False
    return True


CACHE = _numba_cache_is_available()
if not CACHE:
    warnings.warn(
        "skminibatch: Numba found no writable cache directory (neither the package directory "
        "nor the user cache directory under HOME is writable), so its kernels are compiled "
        "anew in every process. Set the environment variable NUMBA_CACHE_DIR to a writable "
        "directory to cache them.",
        RuntimeWarning,
        stacklevel=2,
    )

jit = numba.njit(cache=CACHE, nogil=True, fastmath=FASTMATH)

ACTIVATIONS = {"identity": 0, "logistic": 1, "tanh": 2, "relu": 3}
IDENTITY, LOGISTIC, TANH, RELU = 0, 1, 2, 3

LOSSES = {
    "squared_error": 0,
    "huber": 1,
    "absolute_error": 2,
    "softmax_log_loss": 3,
    "logistic_log_loss": 4,
}
SQUARED_ERROR, HUBER, ABSOLUTE_ERROR, SOFTMAX_LOG_LOSS, LOGISTIC_LOG_LOSS = 0, 1, 2, 3, 4

SOLVERS = {"sgd": 0, "adam": 1}
SGD, ADAM = 0, 1
# Length of the optimizer state, in multiples of the number of parameters.
SOLVER_STATE_SLOTS = {"sgd": 1, "adam": 2}

# Below this many rows per batch, plain loops beat a BLAS call (measured: about 4 rows).
GEMM_MIN_ROWS = 4
# Rows per forward (and backward) pass: a larger batch, or X when predicting, is processed in
# chunks of this many rows, so memory stays bounded and activations stay in cache.
CHUNK_ROWS = 1024


@jit
def parameter_layout(layer_sizes):
    """Offsets of each layer's weights and biases in ``theta``, and the number of parameters."""
    n_layers = layer_sizes.size - 1
    weight_offsets = np.empty(n_layers, np.int64)
    bias_offsets = np.empty(n_layers, np.int64)
    position = 0
    for layer in range(n_layers):
        weight_offsets[layer] = position
        position += layer_sizes[layer] * layer_sizes[layer + 1]
        bias_offsets[layer] = position
        position += layer_sizes[layer + 1]
    return weight_offsets, bias_offsets, position


@jit
def activation_layout(layer_sizes, max_rows):
    """Offsets of each layer's outputs in the activation buffer, and the buffer's length."""
    n_layers = layer_sizes.size - 1
    offsets = np.empty(n_layers, np.int64)
    position = 0
    for layer in range(n_layers):
        offsets[layer] = position
        position += max_rows * layer_sizes[layer + 1]
    return offsets, position


@jit
def _matrix(buffer, offset, n_rows, n_cols):
    """The C-ordered ``(n_rows, n_cols)`` matrix stored in ``buffer`` from ``offset`` on."""
    return buffer[offset : offset + n_rows * n_cols].reshape((n_rows, n_cols))


@jit
def _gather(X, Y, sample_weight, rows, Xb, Yb, swb):
    """Copy the given rows of X, Y and sample_weight to the first rows of the batch buffers."""
    n_features = X.shape[1]
    n_outputs = Y.shape[1]
    for r in range(rows.size):
        i = rows[r]
        for j in range(n_features):
            Xb[r * n_features + j] = X[i, j]
        for j in range(n_outputs):
            Yb[r * n_outputs + j] = Y[i, j]
        swb[r] = sample_weight[i]


@jit
def _affine(A, W, b, Z):
    """Z = A @ W + b."""
    n_rows, n_in = A.shape
    n_out = W.shape[1]
    if n_rows >= GEMM_MIN_ROWS:
        np.dot(A, W, Z)
        for i in range(n_rows):
            for j in range(n_out):
                Z[i, j] += b[j]
    else:
        for i in range(n_rows):
            for j in range(n_out):
                Z[i, j] = b[j]
            for k in range(n_in):
                a = A[i, k]
                for j in range(n_out):
                    Z[i, j] += a * W[k, j]


@jit
def _sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@jit
def _log_sum_exp(Z, i):
    """log(sum(exp(Z[i]))), computed without overflow."""
    z_max = Z[i, 0]
    for j in range(1, Z.shape[1]):
        z_max = max(z_max, Z[i, j])
    exp_sum = 0.0
    for j in range(Z.shape[1]):
        exp_sum += math.exp(Z[i, j] - z_max)
    return z_max + math.log(exp_sum)


@jit
def _activate(Z, activation):
    """Apply the hidden activation to Z in place."""
    flat = Z.reshape(Z.size)
    if activation == RELU:
        for i in range(flat.size):
            if flat[i] < 0.0:
                flat[i] = 0.0
    elif activation == TANH:
        for i in range(flat.size):
            flat[i] = math.tanh(flat[i])
    elif activation == LOGISTIC:
        for i in range(flat.size):
            flat[i] = _sigmoid(flat[i])


@jit
def _multiply_by_derivative(D, A, activation):
    """D *= f'(z), written with the activation's output A = f(z)."""
    d = D.reshape(D.size)
    a = A.reshape(A.size)
    if activation == RELU:
        for i in range(d.size):
            if a[i] <= 0.0:
                d[i] = 0.0
    elif activation == TANH:
        for i in range(d.size):
            d[i] *= 1.0 - a[i] * a[i]
    elif activation == LOGISTIC:
        for i in range(d.size):
            d[i] *= a[i] * (1.0 - a[i])


@jit
def _forward(A0, theta, layer_sizes, weight_offsets, bias_offsets, act_offsets, activation, acts):
    """Forward pass of the rows of A0; leaves each layer's output in ``acts``.

    Hidden layers hold activations, the last layer holds the logits (pre-activation output):
    losses are computed from logits so that they are stable for large values.
    """
    n_rows = A0.shape[0]
    n_layers = layer_sizes.size - 1
    A = A0
    for layer in range(n_layers):
        n_in = layer_sizes[layer]
        n_out = layer_sizes[layer + 1]
        W = _matrix(theta, weight_offsets[layer], n_in, n_out)
        b = theta[bias_offsets[layer] : bias_offsets[layer] + n_out]
        Z = _matrix(acts, act_offsets[layer], n_rows, n_out)
        _affine(A, W, b, Z)
        if layer < n_layers - 1:
            _activate(Z, activation)
        A = Z


@jit
def _loss_and_output_delta(Z, Y, swb, loss, huber_delta, D):
    """Weighted sum of the per-sample losses; D = d(weighted loss) / d(logits).

    Per-sample losses: regression losses are means over outputs ('squared_error' is half the
    squared error); log losses are sums over outputs (softmax cross-entropy, or one binary
    cross-entropy per output). Both are computed from the logits Z without overflow.
    """
    n_rows, n_outputs = Z.shape
    total = 0.0
    for i in range(n_rows):
        w = swb[i]
        sample_loss = 0.0
        if loss == SOFTMAX_LOG_LOSS:
            log_sum_exp = _log_sum_exp(Z, i)
            y_sum = 0.0
            for j in range(n_outputs):
                y_sum += Y[i, j]
            for j in range(n_outputs):
                sample_loss += Y[i, j] * (log_sum_exp - Z[i, j])
                D[i, j] = w * (math.exp(Z[i, j] - log_sum_exp) * y_sum - Y[i, j])
        elif loss == LOGISTIC_LOG_LOSS:
            for j in range(n_outputs):
                z = Z[i, j]
                sample_loss += max(z, 0.0) - Y[i, j] * z + math.log1p(math.exp(-abs(z)))
                D[i, j] = w * (_sigmoid(z) - Y[i, j])
        else:
            for j in range(n_outputs):
                r = Z[i, j] - Y[i, j]
                sign = 1.0 if r > 0.0 else (-1.0 if r < 0.0 else 0.0)
                if loss == SQUARED_ERROR or (loss == HUBER and abs(r) <= huber_delta):
                    sample_loss += 0.5 * r * r
                    g = r
                elif loss == HUBER:
                    sample_loss += huber_delta * (abs(r) - 0.5 * huber_delta)
                    g = huber_delta * sign
                else:
                    sample_loss += abs(r)
                    g = sign
                D[i, j] = w * g / n_outputs
            sample_loss /= n_outputs
        total += w * sample_loss
    return total


@jit
def _weight_gradient(A, D, G):
    """G = A.T @ D."""
    n_rows, n_in = A.shape
    n_out = D.shape[1]
    if n_rows >= GEMM_MIN_ROWS:
        np.dot(A.T, D, G)
    else:
        G[:, :] = 0.0
        for i in range(n_rows):
            for k in range(n_in):
                a = A[i, k]
                for j in range(n_out):
                    G[k, j] += a * D[i, j]


@jit
def _input_delta(D, W, D_in):
    """D_in = D @ W.T."""
    n_rows, n_out = D.shape
    n_in = W.shape[0]
    if n_rows >= GEMM_MIN_ROWS:
        np.dot(D, W.T, D_in)
    else:
        for i in range(n_rows):
            for k in range(n_in):
                s = 0.0
                for j in range(n_out):
                    s += D[i, j] * W[k, j]
                D_in[i, k] = s


@jit
def _chunk_gradient(
    A0,
    Yb,
    swb,
    batch_rows,
    theta,
    layer_sizes,
    weight_offsets,
    bias_offsets,
    act_offsets,
    activation,
    loss,
    huber_delta,
    acts,
    deltas,
    grad,
):
    """Loss sum ``sum_i w_i l_i / batch_rows`` of the rows of A0 and its gradient, in ``grad``."""
    n_rows = A0.shape[0]
    n_layers = layer_sizes.size - 1
    _forward(A0, theta, layer_sizes, weight_offsets, bias_offsets, act_offsets, activation, acts)
    last = n_layers - 1
    Z = _matrix(acts, act_offsets[last], n_rows, layer_sizes[last + 1])
    D = _matrix(deltas, act_offsets[last], n_rows, layer_sizes[last + 1])
    objective = _loss_and_output_delta(Z, Yb, swb, loss, huber_delta, D) / batch_rows
    d = D.reshape(D.size)
    for i in range(d.size):
        d[i] /= batch_rows

    for layer in range(last, -1, -1):
        n_in = layer_sizes[layer]
        n_out = layer_sizes[layer + 1]
        D = _matrix(deltas, act_offsets[layer], n_rows, n_out)
        A = A0 if layer == 0 else _matrix(acts, act_offsets[layer - 1], n_rows, n_in)
        _weight_gradient(A, D, _matrix(grad, weight_offsets[layer], n_in, n_out))
        bias_grad = grad[bias_offsets[layer] : bias_offsets[layer] + n_out]
        bias_grad[:] = 0.0
        for i in range(n_rows):
            for j in range(n_out):
                bias_grad[j] += D[i, j]
        if layer > 0:
            W = _matrix(theta, weight_offsets[layer], n_in, n_out)
            D_in = _matrix(deltas, act_offsets[layer - 1], n_rows, n_in)
            _input_delta(D, W, D_in)
            _multiply_by_derivative(D_in, A, activation)
    return objective


@jit
def batch_gradient(
    X,
    Y,
    sample_weight,
    rows,
    theta,
    layer_sizes,
    weight_offsets,
    bias_offsets,
    act_offsets,
    activation,
    loss,
    huber_delta,
    alpha,
    Xb,
    Yb,
    swb,
    acts,
    deltas,
    grad,
    chunk_grad,
):
    """Objective and gradient of the batch made of X's ``rows``, gradient written to ``grad``.

    The objective is ``sum_i w_i l_i / n_rows`` plus ``alpha / 2 * ||W||^2`` over all weights
    (not biases). With weights rescaled to mean 1 over the training set, it is an unbiased
    estimate of the weighted mean loss, and the weights count even in a batch of one sample.

    The rows are copied to the buffers ``Xb``, ``Yb``, ``swb`` and passed forward and backward
    ``CHUNK_ROWS`` at a time, the gradients of later chunks summed through ``chunk_grad``: a full
    batch needs no more memory than a chunk, and its activations stay in cache. The buffers hold
    ``min(n_rows, CHUNK_ROWS)`` rows; the offsets come from :func:`parameter_layout` and
    :func:`activation_layout` for that many rows, computed once per epoch so that no batch
    allocates.
    """
    n_rows = rows.size
    n_features = X.shape[1]
    n_outputs = Y.shape[1]
    objective = 0.0
    for start in range(0, n_rows, CHUNK_ROWS):
        chunk = rows[start : min(start + CHUNK_ROWS, n_rows)]
        m = chunk.size
        _gather(X, Y, sample_weight, chunk, Xb, Yb, swb)
        target = grad if start == 0 else chunk_grad
        objective += _chunk_gradient(
            _matrix(Xb, 0, m, n_features),
            _matrix(Yb, 0, m, n_outputs),
            swb[:m],
            n_rows,
            theta,
            layer_sizes,
            weight_offsets,
            bias_offsets,
            act_offsets,
            activation,
            loss,
            huber_delta,
            acts,
            deltas,
            target,
        )
        if start > 0:
            for p in range(grad.size):
                grad[p] += chunk_grad[p]

    n_layers = layer_sizes.size - 1
    if alpha > 0.0:
        squared_norm = 0.0
        for layer in range(n_layers):
            start = weight_offsets[layer]
            for p in range(start, bias_offsets[layer]):
                squared_norm += theta[p] * theta[p]
                grad[p] += alpha * theta[p]
        objective += 0.5 * alpha * squared_norm
    return objective


@jit
def optimizer_step(
    theta, grad, state, solver, lr, momentum, nesterov, beta_1, beta_2, epsilon, step, tiny
):
    """One update of ``theta`` from ``grad``, with the rules documented for torch.optim.

    SGD: ``v = momentum * v + g``; the step is ``g + momentum * v`` (Nesterov) or ``v``.
    Adam: ``m = beta_1 m + (1 - beta_1) g``, ``v = beta_2 v + (1 - beta_2) g^2`` and
    ``theta -= lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)``.
    ``step`` is the 1-based count of this update. Optimizer state smaller than ``tiny`` in
    magnitude is flushed to zero: subnormal numbers slow arithmetic tenfold.
    """
    n = theta.size
    if solver == SGD:
        if momentum == 0.0:
            for p in range(n):
                theta[p] -= lr * grad[p]
            return
        for p in range(n):
            v = momentum * state[p] + grad[p]
            if abs(v) < tiny:
                v = 0.0
            state[p] = v
            direction = grad[p] + momentum * v if nesterov else v
            theta[p] -= lr * direction
    else:
        step_size = lr / (1.0 - beta_1**step)
        bias_correction_2_sqrt = math.sqrt(1.0 - beta_2**step)
        for p in range(n):
            g = grad[p]
            m = beta_1 * state[p] + (1.0 - beta_1) * g
            v = beta_2 * state[n + p] + (1.0 - beta_2) * g * g
            if abs(m) < tiny:
                m = 0.0
            if v < tiny:
                v = 0.0
            state[p] = m
            state[n + p] = v
            theta[p] -= step_size * m / (math.sqrt(v) / bias_correction_2_sqrt + epsilon)


@jit
def train_epoch(
    X,
    Y,
    sample_weight,
    order,
    batch_size,
    drop_last,
    theta,
    layer_sizes,
    activation,
    loss,
    huber_delta,
    alpha,
    solver,
    lr,
    momentum,
    nesterov,
    beta_1,
    beta_2,
    epsilon,
    state,
    step,
    tiny,
    Xb,
    Yb,
    swb,
    acts,
    deltas,
    grad,
    chunk_grad,
):
    """One pass over the rows ``order`` of (X, Y), in batches of ``batch_size``.

    Batch ``k`` holds ``order[k * batch_size : (k + 1) * batch_size]``; the last partial batch
    is kept unless ``drop_last``. Each batch takes one optimizer step. The pass stops at the
    first batch whose objective is not finite, before updating on it.

    Returns ``(objective_sum, n_rows_used, step, diverged)``: the sum over batches of each
    batch's objective times its number of rows, the rows used, the optimizer's step count after
    the pass, and whether it stopped on a non-finite objective.
    """
    n = order.size
    n_batches = n // batch_size if drop_last else (n + batch_size - 1) // batch_size
    weight_offsets, bias_offsets, _ = parameter_layout(layer_sizes)
    act_offsets, _ = activation_layout(layer_sizes, min(batch_size, n, CHUNK_ROWS))
    objective_sum = 0.0
    n_rows_used = 0
    for k in range(n_batches):
        rows = order[k * batch_size : min((k + 1) * batch_size, n)]
        n_rows = rows.size
        objective = batch_gradient(
            X,
            Y,
            sample_weight,
            rows,
            theta,
            layer_sizes,
            weight_offsets,
            bias_offsets,
            act_offsets,
            activation,
            loss,
            huber_delta,
            alpha,
            Xb,
            Yb,
            swb,
            acts,
            deltas,
            grad,
            chunk_grad,
        )
        if not math.isfinite(objective):
            return objective_sum, n_rows_used, step, True
        objective_sum += objective * n_rows
        n_rows_used += n_rows
        step += 1
        optimizer_step(
            theta, grad, state, solver, lr, momentum, nesterov, beta_1, beta_2, epsilon, step, tiny
        )
    return objective_sum, n_rows_used, step, False


@jit
def predict_outputs(X, theta, layer_sizes, activation, loss, out):
    """Network outputs for X in ``out``: probabilities for the log losses, else raw values.

    Rows are processed in blocks of ``CHUNK_ROWS`` so memory stays bounded.
    """
    n, n_features = X.shape
    n_outputs = out.shape[1]
    n_layers = layer_sizes.size - 1
    block = min(n, CHUNK_ROWS)
    weight_offsets, bias_offsets, _ = parameter_layout(layer_sizes)
    act_offsets, act_size = activation_layout(layer_sizes, block)
    acts = np.empty(act_size, theta.dtype)
    Xb = np.empty(block * n_features, theta.dtype)
    for start in range(0, n, block):
        stop = min(start + block, n)
        n_rows = stop - start
        for i in range(n_rows):
            for j in range(n_features):
                Xb[i * n_features + j] = X[start + i, j]
        _forward(
            _matrix(Xb, 0, n_rows, n_features),
            theta,
            layer_sizes,
            weight_offsets,
            bias_offsets,
            act_offsets,
            activation,
            acts,
        )
        Z = _matrix(acts, act_offsets[n_layers - 1], n_rows, n_outputs)
        for i in range(n_rows):
            if loss == SOFTMAX_LOG_LOSS:
                log_sum_exp = _log_sum_exp(Z, i)
                for j in range(n_outputs):
                    out[start + i, j] = math.exp(Z[i, j] - log_sum_exp)
            elif loss == LOGISTIC_LOG_LOSS:
                for j in range(n_outputs):
                    out[start + i, j] = _sigmoid(Z[i, j])
            else:
                for j in range(n_outputs):
                    out[start + i, j] = Z[i, j]
