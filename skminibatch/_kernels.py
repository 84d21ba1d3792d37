"""Compiled kernels: all per-batch work of skminibatch.

Every function here but :func:`train_epoch` (which picks a compiled path) is ``@njit`` with one
shared flag set, takes arrays and scalars only, and writes into buffers its caller allocated.
One call of :func:`train_epoch` runs a whole epoch of batches (gather, forward pass, loss,
backward pass, optimizer update), so Python runs once per epoch, never per batch. The functions
are valid Python: ``NUMBA_DISABLE_JIT=1`` runs them as is.

The network lives in one flat parameter vector ``theta``: for each layer ``l`` the weight matrix
``W_l`` of shape ``(layer_sizes[l], layer_sizes[l + 1])`` in C order, then its bias ``b_l``. The
depth is data (``layer_sizes``), not part of the compiled type, so any depth shares one
specialisation per dtype. Strings never reach this module: activations, losses and solvers are
integer codes chosen in Python.

Two paths: batches go through BLAS (:func:`_gemm` on views of the flat buffers), forward and
backward, then one optimizer pass over all parameters; batches of one sample (stochastic
gradient descent) take :func:`_sample_epoch`, plain loops over offsets into flat buffers with
the gradient computed inside the update, because at that size a BLAS call, an array view (its
reference counting) and a stored gradient each cost more than the arithmetic.
"""

import inspect
import math
import warnings
from collections import namedtuple

import numba
import numpy as np
from numba import types
from numba.extending import overload

from . import _blas

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

# error_model="numpy": a float division by zero gives inf or NaN (which the divergence check
# sees) instead of a check and exception path per division, which also kept Numba from pruning
# reference counts (measured: 0.75 -> 0.62 us per single-sample update of a 303-weight network).
JIT_OPTIONS = {"cache": CACHE, "nogil": True, "fastmath": FASTMATH, "error_model": "numpy"}
jit = numba.njit(**JIT_OPTIONS)
BLAS_LIBRARY = _blas.register(numba_cache=CACHE)  # before any kernel is compiled or loaded
# For the single-sample path's own helpers (one call site each): one function for LLVM.
jit_inline = numba.njit(inline="always", **JIT_OPTIONS)

ACTIVATIONS = {"identity": 0, "logistic": 1, "tanh": 2, "relu": 3, "leaky_relu": 4, "elu": 5}
IDENTITY, LOGISTIC, TANH, RELU, LEAKY_RELU, ELU = 0, 1, 2, 3, 4, 5
LEAKY_RELU_SLOPE = 0.2  # Keras' default for activation="leaky_relu"

LOSSES = {
    "squared_error": 0,
    "huber": 1,
    "absolute_error": 2,
    "softmax_log_loss": 3,
    "logistic_log_loss": 4,
}
SQUARED_ERROR, HUBER, ABSOLUTE_ERROR, SOFTMAX_LOG_LOSS, LOGISTIC_LOG_LOSS = 0, 1, 2, 3, 4

SOLVERS = {"sgd": 0, "adam": 1, "adamw": 2, "rmsprop": 3, "adagrad": 4}
SGD, ADAM, ADAMW, RMSPROP, ADAGRAD = 0, 1, 2, 3, 4
# Length of the optimizer state, in multiples of the number of parameters.
SOLVER_STATE_SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 1, "adagrad": 1}

# Rows per forward (and backward) pass: a larger batch, or X when predicting, is processed in
# chunks of this many rows, so memory stays bounded and activations stay in cache.
CHUNK_ROWS = 1024
# From this many parameters on, the single-sample path runs each sample's forward pass along
# with the previous sample's update (see _sample_epoch): the parameters no longer fit in the L1
# cache, and the update and a separate pass would stream them twice (workload (b), 21,509
# parameters: about 12 % less time per update). Below, the separate pass, which skips zero
# inputs, is as fast or faster (the seed tutorial's 303 parameters).
FUSED_PASS_MIN_PARAMETERS = 4096

# Scalars of training, coded as ints, floats and bools by the trainer (one compiled type).
Hyperparameters = namedtuple(
    "Hyperparameters",
    [
        "activation",  # int code of ACTIVATIONS
        "loss",  # int code of LOSSES
        "huber_delta",
        "alpha",  # penalty alpha * (l1_ratio * |W| + (1 - l1_ratio) / 2 * W^2) on weights
        "l1_ratio",
        "solver",  # int code of SOLVERS
        "momentum",
        "nesterov",
        "beta_1",
        "beta_2",
        "epsilon",
        "rho",  # RMSprop's smoothing constant
        "weight_decay",  # AdamW's decoupled decay of the weights
        "clip_norm",  # 0: no clipping
        "sum_reduction",  # gradient of the sum over samples instead of the mean
        "accumulate",  # batches per update
        "drop_last",
        "tiny",  # optimizer state below this is flushed to zero
    ],
)
# Where each layer's parameters and outputs live in the flat vectors (see parameter_layout).
Layout = namedtuple("Layout", ["sizes", "weight_offsets", "bias_offsets", "act_offsets"])


class SparseRows(namedtuple("SparseRows", ["data", "indices", "indptr", "n_cols"])):
    """Rows in CSR form (a scipy CSR matrix's arrays, indices as int64): sparse X is passed to
    the kernels so, and never densified. The input layer's product and weight gradient, and
    the gathering of batch rows, have a dense and a sparse version (see ``_by_input_type``);
    every other layer is dense."""

    __slots__ = ()

    @property
    def shape(self):
        return (self.indptr.size - 1, self.n_cols)


# Buffers the trainer allocates once per call, for up to ``chunk_rows`` rows.
Workspace = namedtuple(
    "Workspace", ["Xb", "Yb", "swb", "acts", "deltas", "masks", "grad", "chunk_grad"]
)


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


def make_layout(layer_sizes, max_rows):
    """The :class:`Layout` of a network for passes of up to ``max_rows`` rows, and the length
    of its activation buffers."""
    weight_offsets, bias_offsets, _ = parameter_layout(layer_sizes)
    act_offsets, act_size = activation_layout(layer_sizes, max_rows)
    return Layout(layer_sizes, weight_offsets, bias_offsets, act_offsets), act_size


@jit
def _uniform(rng_state):
    """A uniform draw in [0, 1) from the splitmix64 generator whose state is rng_state[0]."""
    rng_state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = rng_state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


# 0 (an index or offset) passed to a compiled function as a plain int64: a literal ``0`` would
# make Numba compile a second specialisation, for ``Literal[int](0)``, of a function also called
# with int64.
ZERO = np.int64(0)


@jit
def _unsigned(i):
    """The index ``i`` (non-negative) as unsigned. Numba wraps negative signed indices around,
    as ``a[-1]`` does, with a check at every access that keeps LLVM from vectorising a loop
    whose indices it cannot prove non-negative: those of a flat buffer plus an offset."""
    return np.uint64(i)


@jit
def _matrix(buffer, offset, n_rows, n_cols):
    """The C-ordered ``(n_rows, n_cols)`` matrix stored in ``buffer`` from ``offset`` on."""
    return buffer[offset : offset + n_rows * n_cols].reshape((n_rows, n_cols))


def _gemm(A, trans_a, B, trans_b, C):
    """C = op(A) @ op(B), where op transposes when ``trans_a`` / ``trans_b`` says so.

    In compiled code through the BLAS :mod:`._blas` chose (NumPy's own OpenBLAS when it has
    one): A, B and C must be C-ordered, which every buffer view here is.
    """
    np.dot(A.T if trans_a else A, B.T if trans_b else B, out=C)


@overload(_gemm, jit_options=JIT_OPTIONS)
def _compiled_gemm(A, trans_a, B, trans_b, C):
    if not all(isinstance(M, types.Array) and M.layout == "C" for M in (A, B, C)):
        raise numba.TypingError(f"_gemm takes C-ordered matrices, got {A}, {B} and {C}")
    external = _blas.GEMM[str(C.dtype)]
    scalar = np.dtype(str(C.dtype)).type
    one, zero = scalar(1), scalar(0)  # alpha and beta, in C's dtype

    def compiled_gemm(A, trans_a, B, trans_b, C):
        m, n = C.shape
        k = A.shape[0] if trans_a else A.shape[1]
        external(
            _blas.ROW_MAJOR,
            _blas.TRANS if trans_a else _blas.NO_TRANS,
            _blas.TRANS if trans_b else _blas.NO_TRANS,
            m,
            n,
            k,
            one,
            A.ctypes.data,
            max(A.shape[1], 1),
            B.ctypes.data,
            max(B.shape[1], 1),
            zero,
            C.ctypes.data,
            max(n, 1),
        )

    return compiled_gemm


@jit
def _dense_affine(A, W, b, Z):
    """Z = A @ W + b."""
    _gemm(A, False, W, False, Z)
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            Z[i, j] += b[j]


@jit
def _sparse_affine(A, W, b, Z):
    """Z = A @ W + b for CSR rows A: each stored value adds a row of W."""
    for i in range(A.indptr.size - 1):
        for j in range(W.shape[1]):
            Z[i, j] = b[j]
        for p in range(A.indptr[i], A.indptr[i + 1]):
            a = A.data[p]
            k = A.indices[p]
            for j in range(W.shape[1]):
                Z[i, j] += a * W[k, j]


@jit
def _dense_weight_gradient(A, D, G):
    """G = A.T @ D."""
    _gemm(A, True, D, False, G)


@jit
def _sparse_weight_gradient(A, D, G):
    """G = A.T @ D for CSR rows A."""
    G[:, :] = 0.0
    for i in range(A.indptr.size - 1):
        for p in range(A.indptr[i], A.indptr[i + 1]):
            a = A.data[p]
            k = A.indices[p]
            for j in range(D.shape[1]):
                G[k, j] += a * D[i, j]


@jit
def _dense_row_squared_norm(A, i):
    total = 0.0
    for k in range(A.shape[1]):
        total += A[i, k] * A[i, k]
    return total


@jit
def _sparse_row_squared_norm(A, i):
    total = 0.0
    for p in range(A.indptr[i], A.indptr[i + 1]):
        total += A.data[p] * A.data[p]
    return total


@jit
def _dense_gather_inputs(X, rows, Xb):
    """Copy the given rows of X to the first rows of the flat buffer Xb."""
    n_features = X.shape[1]
    for r in range(rows.size):
        # The row index read once: read in the loop, it is reloaded at every element (Xb's
        # stores might alias it, for all LLVM knows) and the copy is not vectorised: 4.7x
        # slower on workload (b)'s gathers.
        i = rows[r]
        for j in range(n_features):
            Xb[r * n_features + j] = X[i, j]


@jit
def _sparse_gather_inputs(X, rows, Xb):
    """Copy the given CSR rows of X to the first rows of the CSR buffer Xb."""
    position = 0
    Xb.indptr[0] = 0
    for r in range(rows.size):
        for p in range(X.indptr[rows[r]], X.indptr[rows[r] + 1]):
            Xb.data[position] = X.data[p]
            Xb.indices[position] = X.indices[p]
            position += 1
        Xb.indptr[r + 1] = position


@jit
def _dense_input_rows(X, Xb, n_rows):
    """The first ``n_rows`` gathered rows of Xb, as a matrix."""
    return Xb[: n_rows * X.shape[1]].reshape((n_rows, X.shape[1]))


@jit
def _sparse_input_rows(X, Xb, n_rows):
    """The first ``n_rows`` gathered rows of Xb, as CSR rows."""
    return SparseRows(Xb.data, Xb.indices, Xb.indptr[: n_rows + 1], Xb.n_cols)


@jit
def _dense_load_row(X, i, x, start):
    """Copy row i of X to the dense vector x from ``start`` on."""
    for k in range(X.shape[1]):
        x[start + k] = X[i, k]


@jit
def _sparse_load_row(X, i, x, start):
    """Write CSR row i of X, zeros included, to the dense vector x from ``start`` on."""
    for k in range(X.n_cols):
        x[start + k] = 0.0
    for p in range(X.indptr[i], X.indptr[i + 1]):
        x[start + X.indices[p]] = X.data[p]


@jit
def _dense_n_columns(A):
    return A.shape[1]


@jit
def _sparse_n_columns(A):
    return A.n_cols


@jit
def _dense_n_rows(A):
    return A.shape[0]


@jit
def _sparse_n_rows(A):
    return A.indptr.size - 1


@jit
def _dense_input_buffer(X, n_rows, template):
    """A buffer for ``n_rows`` gathered rows of X, of ``template``'s dtype."""
    return np.empty(n_rows * X.shape[1], template.dtype)


@jit
def _sparse_input_buffer(X, n_rows, template):
    """A CSR buffer for any ``n_rows`` gathered rows of X, of ``template``'s dtype."""
    most = 0
    for i in range(X.indptr.size - 1):
        most = max(most, X.indptr[i + 1] - X.indptr[i])
    return SparseRows(
        np.empty(n_rows * most, template.dtype),
        np.empty(n_rows * most, np.int64),
        np.zeros(n_rows + 1, np.int64),
        X.n_cols,
    )


def _by_input_type(dense, sparse):
    """One function that runs ``dense`` on arrays and ``sparse`` on :class:`SparseRows`, in
    compiled code (chosen at compile time, by type) and in plain Python alike.

    In compiled code the chosen function's body is the implementation itself (no wrapper to
    compile): both must have the same parameters, which the overload's signature states.
    """

    def dispatch(A, *args):
        return (sparse if isinstance(A, SparseRows) else dense)(A, *args)

    def _typed(A, *args):
        return (sparse if isinstance(A, types.BaseNamedTuple) else dense).py_func

    signature = inspect.signature(dense.py_func)
    if inspect.signature(sparse.py_func) != signature:
        raise TypeError(f"{dense.__name__} and {sparse.__name__} differ in parameters")
    _typed.__signature__ = signature
    overload(dispatch, jit_options=JIT_OPTIONS)(_typed)
    dispatch.__name__ = dispatch.__qualname__ = dense.__name__.replace("_dense", "")
    return dispatch


_affine = _by_input_type(_dense_affine, _sparse_affine)
_weight_gradient = _by_input_type(_dense_weight_gradient, _sparse_weight_gradient)
_row_squared_norm = _by_input_type(_dense_row_squared_norm, _sparse_row_squared_norm)
_gather_inputs = _by_input_type(_dense_gather_inputs, _sparse_gather_inputs)
_input_rows = _by_input_type(_dense_input_rows, _sparse_input_rows)
_n_rows = _by_input_type(_dense_n_rows, _sparse_n_rows)
_n_columns = _by_input_type(_dense_n_columns, _sparse_n_columns)
_load_row = _by_input_type(_dense_load_row, _sparse_load_row)
input_buffer = _by_input_type(_dense_input_buffer, _sparse_input_buffer)


@jit
def _gather(X, Y, sample_weight, rows, Xb, Yb, swb):
    """Copy the given rows of X, Y and sample_weight to the first rows of the batch buffers."""
    _gather_inputs(X, rows, Xb)
    n_outputs = Y.shape[1]
    for r in range(rows.size):
        i = rows[r]
        for j in range(n_outputs):
            Yb[r * n_outputs + j] = Y[i, j]
        swb[r] = sample_weight[i]


@jit
def _sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@jit
def _softmax(z, start, n, p, p_start):
    """p[p_start : p_start + n] = softmax(z[start : start + n]), computed without overflow
    (``p`` may be ``z``, in place); returns log(sum(exp(z[start : start + n]))). One
    exponential per value."""
    z_max = z[_unsigned(start)]
    for j in range(start + 1, start + n):
        z_max = max(z_max, z[_unsigned(j)])
    exp_sum = 0.0
    for j in range(n):
        e = math.exp(z[_unsigned(start + j)] - z_max)
        p[_unsigned(p_start + j)] = e
        exp_sum += e
    for j in range(n):
        p[_unsigned(p_start + j)] /= exp_sum
    return z_max + math.log(exp_sum)


@jit
def _activation(z, activation):
    if activation == RELU:
        return max(z, 0.0)
    if activation == TANH:
        return math.tanh(z)
    if activation == LOGISTIC:
        return _sigmoid(z)
    if activation == LEAKY_RELU:
        return z if z > 0.0 else LEAKY_RELU_SLOPE * z
    if activation == ELU:
        return z if z > 0.0 else math.expm1(z)
    return z


@jit
def _derivative(a, activation):
    """f'(z) written with the activation's output a = f(z)."""
    if activation == RELU:
        return 1.0 if a > 0.0 else 0.0
    if activation == TANH:
        return 1.0 - a * a
    if activation == LOGISTIC:
        return a * (1.0 - a)
    if activation == LEAKY_RELU:
        return 1.0 if a > 0.0 else LEAKY_RELU_SLOPE
    if activation == ELU:
        return 1.0 if a > 0.0 else a + 1.0
    return 1.0


@jit
def _activate(z, start, stop, activation, rate, masks, rng_state):
    """z[start:stop] = f(z[start:stop]) in place, then inverted dropout at ``rate``: each unit
    is kept with probability 1 - rate and scaled by 1 / (1 - rate); ``masks[start:stop]``
    records the factors."""
    for i in range(start, stop):
        z[_unsigned(i)] = _activation(z[_unsigned(i)], activation)
    if rate > 0.0:
        keep_scale = 1.0 / (1.0 - rate)
        for i in range(start, stop):
            masks[i] = 0.0 if _uniform(rng_state) < rate else keep_scale
            z[i] *= masks[i]


@jit
def _multiply_by_derivative(d, a, masks, start, stop, activation, rate):
    """d[start:stop] *= d(output) / dz for the layer outputs a[start:stop] (after dropout at
    ``rate`` with ``masks[start:stop]``)."""
    if rate > 0.0:
        for i in range(start, stop):
            m = masks[i]
            d[i] = 0.0 if m == 0.0 else d[i] * m * _derivative(a[i] / m, activation)
    elif activation != IDENTITY:
        for i in range(start, stop):
            d[_unsigned(i)] *= _derivative(a[_unsigned(i)], activation)


@jit
def _forward(A0, theta, layout, activation, dropout, rng_state, acts, masks):
    """Forward pass of the rows of A0; leaves each layer's output in ``acts``.

    Hidden layers hold activations (after dropout at the rates ``dropout[layer]``), the last
    layer the logits (pre-activation output): losses are computed from logits so that they are
    stable for large values.
    """
    n_layers = layout.sizes.size - 1
    A = _layer_forward(A0, ZERO, theta, layout, activation, dropout, rng_state, acts, masks)
    for layer in range(1, n_layers):
        A = _layer_forward(A, layer, theta, layout, activation, dropout, rng_state, acts, masks)


@jit
def _layer_forward(A, layer, theta, layout, activation, dropout, rng_state, acts, masks):
    """One layer's output for the input rows A (dense, or CSR for the input layer)."""
    n_rows = _n_rows(A)
    n_in = layout.sizes[layer]
    n_out = layout.sizes[layer + 1]
    W = _matrix(theta, layout.weight_offsets[layer], n_in, n_out)
    b = theta[layout.bias_offsets[layer] : layout.bias_offsets[layer] + n_out]
    start = layout.act_offsets[layer]
    Z = _matrix(acts, start, n_rows, n_out)
    _affine(A, W, b, Z)
    if layer < layout.sizes.size - 2:
        stop = start + n_rows * n_out
        _activate(acts, start, stop, activation, dropout[layer], masks, rng_state)
    return Z


@jit
def _sample_loss_and_delta(z, d, start, Y, i, w, loss, huber_delta, scale):
    """``w * l`` for the logits ``z[start : start + n_outputs]`` of the sample whose targets
    are ``Y[i]``; ``d[start : start + n_outputs] = scale * d(w * l) / d(logits)``.

    Per-sample losses: regression losses are means over outputs ('squared_error' is half the
    squared error); log losses are sums over outputs (softmax cross-entropy, or one binary
    cross-entropy per output). Both are computed from the logits without overflow.
    """
    n_outputs = Y.shape[1]
    ws = w * scale
    sample_loss = 0.0
    if loss == SOFTMAX_LOG_LOSS:
        log_sum_exp = _softmax(z, start, n_outputs, d, start)
        y_sum = 0.0
        for j in range(n_outputs):
            y_sum += Y[i, j]
        for j in range(n_outputs):
            sample_loss += Y[i, j] * (log_sum_exp - z[start + j])
            d[start + j] = ws * (d[start + j] * y_sum - Y[i, j])
    elif loss == LOGISTIC_LOG_LOSS:
        for j in range(n_outputs):
            zj = z[start + j]
            sample_loss += max(zj, 0.0) - Y[i, j] * zj + math.log1p(math.exp(-abs(zj)))
            d[start + j] = ws * (_sigmoid(zj) - Y[i, j])
    else:
        for j in range(n_outputs):
            r = z[start + j] - Y[i, j]
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
            d[start + j] = ws * g / n_outputs
        sample_loss /= n_outputs
    return w * sample_loss


@jit
def _loss_and_output_delta(z, d, start, Y, swb, loss, huber_delta, scale):
    """Sum over the rows of Y of ``w_i * l_i`` for the logits stored row after row in ``z``
    from ``start`` on (see :func:`_sample_loss_and_delta`); the deltas go to ``d`` alike."""
    n_outputs = Y.shape[1]
    total = 0.0
    for i in range(Y.shape[0]):
        offset = start + i * n_outputs
        total += _sample_loss_and_delta(z, d, offset, Y, i, swb[i], loss, huber_delta, scale)
    return total


@jit
def _input_delta(D, W, D_in):
    """D_in = D @ W.T."""
    _gemm(D, False, W, True, D_in)


@jit
def _layer_gradient(A, D, layer, layout, grad, sq_norms):
    """A layer's weight and bias gradients from its input rows A and output deltas D; adds
    each sample's ``|a_i|^2 |delta_i|^2`` (plus ``|delta_i|^2``, the bias) to ``sq_norms``."""
    n_rows, n_out = D.shape
    n_in = layout.sizes[layer]
    _weight_gradient(A, D, _matrix(grad, layout.weight_offsets[layer], n_in, n_out))
    bias_grad = grad[layout.bias_offsets[layer] : layout.bias_offsets[layer] + n_out]
    bias_grad[:] = 0.0
    for i in range(n_rows):
        for j in range(n_out):
            bias_grad[j] += D[i, j]
    if sq_norms.size:
        for i in range(n_rows):
            d_sq = 0.0
            for j in range(n_out):
                d_sq += D[i, j] * D[i, j]
            sq_norms[i] += (1.0 + _row_squared_norm(A, i)) * d_sq


@jit
def batch_gradient(
    X,
    Y,
    sample_weight,
    rows,
    scale,
    accumulate,
    theta,
    layout,
    hyper,
    dropout,
    rng_state,
    ws,
    sq_norms,
):
    """``sum_i w_i l_i`` over X's ``rows``; its gradient times ``scale`` written to ``ws.grad``,
    or added to it when ``accumulate``.

    With ``scale = 1 / n_rows`` and weights rescaled to mean 1 over the training set, this is
    the gradient of an unbiased estimate of the weighted mean loss (the weights count even in a
    batch of one sample). The penalty is not included: see :func:`add_penalty`.

    The rows are copied to the buffers ``ws.Xb``, ``ws.Yb``, ``ws.swb`` and passed forward and
    backward ``CHUNK_ROWS`` at a time, the gradients of later chunks summed through
    ``ws.chunk_grad``: a full batch needs no more memory than a chunk, and its activations stay
    in cache. The buffers and ``layout`` are made once per epoch for ``min(n_rows,
    CHUNK_ROWS)`` rows, so that no batch allocates.

    When ``sq_norms`` (one entry per row, or empty) is not empty, ``sq_norms[i]`` receives the
    squared norm of row i's gradient (times ``scale**2``): its weight gradient in a layer is
    ``outer(a_i, delta_i)``, of squared norm ``|a_i|^2 |delta_i|^2``, and its bias gradient is
    ``delta_i``.
    """
    n_rows = rows.size
    n_outputs = Y.shape[1]
    sizes = layout.sizes
    last = sizes.size - 2
    loss_sum = 0.0
    for start in range(0, n_rows, CHUNK_ROWS):
        chunk = rows[start : min(start + CHUNK_ROWS, n_rows)]
        m = chunk.size
        _gather(X, Y, sample_weight, chunk, ws.Xb, ws.Yb, ws.swb)
        add = accumulate or start > 0
        grad = ws.chunk_grad if add else ws.grad
        chunk_sq_norms = sq_norms[start : start + m] if sq_norms.size else sq_norms
        # The chunk's pass, written out here: a function per chunk costs seconds of compile.
        A0 = _input_rows(X, ws.Xb, m)
        _forward(A0, theta, layout, hyper.activation, dropout, rng_state, ws.acts, ws.masks)
        loss_sum += _loss_and_output_delta(
            ws.acts,
            ws.deltas,
            layout.act_offsets[last],
            ws.Yb[: m * n_outputs].reshape((m, n_outputs)),
            ws.swb[:m],
            hyper.loss,
            hyper.huber_delta,
            scale,
        )
        for layer in range(last, 0, -1):
            n_in = sizes[layer]
            D = _matrix(ws.deltas, layout.act_offsets[layer], m, sizes[layer + 1])
            A = _matrix(ws.acts, layout.act_offsets[layer - 1], m, n_in)
            _layer_gradient(A, D, layer, layout, grad, chunk_sq_norms)
            W = _matrix(theta, layout.weight_offsets[layer], n_in, sizes[layer + 1])
            in_start = layout.act_offsets[layer - 1]
            _input_delta(D, W, _matrix(ws.deltas, in_start, m, n_in))
            _multiply_by_derivative(
                ws.deltas,
                ws.acts,
                ws.masks,
                in_start,
                in_start + m * n_in,
                hyper.activation,
                dropout[layer - 1],
            )
        D = _matrix(ws.deltas, layout.act_offsets[0], m, sizes[1])
        _layer_gradient(A0, D, ZERO, layout, grad, chunk_sq_norms)
        if add:
            for p in range(ws.grad.size):
                ws.grad[p] += ws.chunk_grad[p]
    return loss_sum


@jit
def add_penalty(theta, grad, layout, alpha, l1_ratio):
    """Add the gradient of ``alpha * (l1_ratio * |W| + (1 - l1_ratio) / 2 * W^2)``, summed over
    all weights (not biases), to ``grad``; return the penalty. (Pure L2 takes a branch-free loop
    that vectorises: it runs once per update over every weight.)"""
    l2 = alpha * (1.0 - l1_ratio)
    squares = 0.0
    absolutes = 0.0
    for layer in range(layout.weight_offsets.size):
        start, stop = layout.weight_offsets[layer], layout.bias_offsets[layer]
        for p in range(start, stop):
            w = theta[p]
            squares += w * w
            grad[p] += l2 * w
        if l1_ratio > 0.0:
            l1 = alpha * l1_ratio
            for p in range(start, stop):
                w = theta[p]
                absolutes += abs(w)
                grad[p] += l1 * ((w > 0.0) - (w < 0.0))
    return 0.5 * l2 * squares + alpha * l1_ratio * absolutes


@jit
def clip_by_global_norm(grad, max_norm):
    """Scale ``grad`` to global norm ``max_norm`` when larger (torch's clip_grad_norm_)."""
    squared = 0.0
    for p in range(grad.size):
        squared += grad[p] * grad[p]
    coefficient = max_norm / (math.sqrt(squared) + 1e-6)
    if coefficient < 1.0:
        for p in range(grad.size):
            grad[p] *= coefficient


@jit
def _step_sizes(lr, step, hyper):
    """The update's step size and, for Adam, ``sqrt(1 - beta_2^t)`` (else 1)."""
    if hyper.solver in (ADAM, ADAMW):
        return lr / (1.0 - hyper.beta_1**step), math.sqrt(1.0 - hyper.beta_2**step)
    return lr, 1.0


@jit
def _update_block(
    theta, state, start, a, a_start, n_a, d, d_start, n_d, l2, shrink, steps, hyper, ahead, shift
):
    """Update the ``n_a + 1`` rows of ``n_d`` parameters stored in C order from ``theta[start]``
    by the optimizer's rule (see :func:`optimizer_step`): a layer's weights and, in the last
    row, its biases (as :func:`parameter_layout` stores them), for one sample whose input to
    the layer is ``a[a_start : a_start + n_a]`` and output delta ``d[d_start : d_start + n_d]``.
    The weight gradient ``outer(a, d) + l2 * W`` (the L2 penalty's included) and the bias
    gradient ``d`` are computed as the update goes, never stored: one pass over the parameters,
    where a stored gradient takes three. AdamW's decoupled decay multiplies the weights by
    ``shrink`` first. ``steps``: see :func:`_step_sizes`. With ``n_a = 0`` this updates
    ``theta[start : start + n_d]`` from the gradient ``d``.

    ``ahead`` is None, or the buffer of the next sample's forward pass riding along (see
    :func:`_sample_epoch`): its input ``ahead[a_start + shift :][:n_a]`` times the updated
    weights, after the updated biases, is added to ``ahead[d_start + shift :][:n_d]`` (zeroed
    by the caller), each parameter read once for both. Numba compiles the two cases apart.

    Returns the sum of the squares of the weights before the update (for the penalty).
    Arithmetic is in the parameters' dtype: float32 parameters are not promoted to float64.
    """
    real = theta.dtype.type
    n = theta.size
    zero, one = real(0.0), real(1.0)
    tiny = real(hyper.tiny)
    solver = hyper.solver
    momentum = real(hyper.momentum)
    step_size, bias_correction_2_sqrt = real(steps[0]), real(steps[1])
    l2, shrink = real(l2), real(shrink)
    squares = zero
    for r in range(n_a + 1):
        # The biases first (their row is stored after the weights'), then the weights by row:
        # the order in which _sample_affine adds them up, which a pass riding along follows.
        k = n_a if r == 0 else r - 1
        ak = a[a_start + k] if k < n_a else one
        if ahead is not None:
            next_ak = ahead[a_start + shift + k] if k < n_a else one
        # The biases: no penalty, no decay, their squares not counted.
        l2_k, shrink_k = (l2, shrink) if k < n_a else (zero, one)
        row = start + k * n_d
        if solver == SGD and momentum == 0.0:
            for j in range(n_d):
                p = _unsigned(row + j)
                w = theta[p]
                squares += w * w if k < n_a else zero
                w = w - step_size * (ak * d[_unsigned(d_start + j)] + l2_k * w)
                theta[p] = w
                if ahead is not None:
                    ahead[_unsigned(d_start + shift + j)] += next_ak * w
        elif solver == SGD:
            for j in range(n_d):
                p = _unsigned(row + j)
                w = theta[p]
                squares += w * w if k < n_a else zero
                g = ak * d[_unsigned(d_start + j)] + l2_k * w
                v = momentum * state[p] + g
                if abs(v) < tiny:
                    v = zero
                state[p] = v
                w = w - step_size * (g + momentum * v if hyper.nesterov else v)
                theta[p] = w
                if ahead is not None:
                    ahead[_unsigned(d_start + shift + j)] += next_ak * w
        elif solver in (ADAM, ADAMW):
            beta_1, beta_2, epsilon = real(hyper.beta_1), real(hyper.beta_2), real(hyper.epsilon)
            for j in range(n_d):
                p = _unsigned(row + j)
                w = theta[p]
                squares += w * w if k < n_a else zero
                g = ak * d[_unsigned(d_start + j)] + l2_k * w
                m = beta_1 * state[p] + (one - beta_1) * g
                v = beta_2 * state[_unsigned(n + p)] + (one - beta_2) * g * g
                if abs(m) < tiny:
                    m = zero
                if v < tiny:
                    v = zero
                state[p] = m
                state[_unsigned(n + p)] = v
                w = shrink_k * w - step_size * m / (np.sqrt(v) / bias_correction_2_sqrt + epsilon)
                theta[p] = w
                if ahead is not None:
                    ahead[_unsigned(d_start + shift + j)] += next_ak * w
        else:
            rho = real(hyper.rho) if solver == RMSPROP else one
            scale = one - rho if solver == RMSPROP else one
            epsilon = real(hyper.epsilon)
            for j in range(n_d):
                p = _unsigned(row + j)
                w = theta[p]
                squares += w * w if k < n_a else zero
                g = ak * d[_unsigned(d_start + j)] + l2_k * w
                v = rho * state[p] + scale * g * g
                if v < tiny:
                    v = zero
                state[p] = v
                w = w - step_size * g / (np.sqrt(v) + epsilon)
                theta[p] = w
                if ahead is not None:
                    ahead[_unsigned(d_start + shift + j)] += next_ak * w
    return float(squares)


@jit
def optimizer_step(theta, grad, state, lr, step, hyper):
    """One update of ``theta`` from ``grad``, with the rules documented for torch.optim.

    - SGD: ``v = momentum v + g``; the step is ``g + momentum v`` (Nesterov) or ``v``.
    - Adam and AdamW: ``m = beta_1 m + (1 - beta_1) g``, ``v = beta_2 v + (1 - beta_2) g^2``,
      ``theta -= lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)`` (AdamW's
      decoupled decay is applied before, by :func:`decay_weights`).
    - RMSprop: ``v = rho v + (1 - rho) g^2``, ``theta -= lr g / (sqrt(v) + epsilon)``.
    - Adagrad: ``s += g^2``, ``theta -= lr g / (sqrt(s) + epsilon)``.

    ``step`` is the 1-based count of this update. Optimizer state smaller than ``hyper.tiny`` in
    magnitude is flushed to zero: subnormal numbers slow arithmetic tenfold.
    """
    steps = _step_sizes(lr, step, hyper)
    _update_block(
        theta,
        state,
        ZERO,
        grad,
        ZERO,
        ZERO,
        grad,
        ZERO,
        grad.size,
        0.0,
        1.0,
        steps,
        hyper,
        None,
        ZERO,
    )


@jit
def decay_weights(theta, layout, factor):
    """Multiply every weight (not the biases) by ``factor``: AdamW's decoupled decay."""
    for layer in range(layout.weight_offsets.size):
        for p in range(layout.weight_offsets[layer], layout.bias_offsets[layer]):
            theta[p] *= factor


@jit_inline
def _sample_affine(a, a_start, n_in, theta, weights, z, z_start, n_out):
    """z[z_start : z_start + n_out] = a[a_start : a_start + n_in] @ W + b for one sample, with
    W and then b stored in theta from ``weights`` on. Zero inputs (ReLU's, a sparse row's) are
    skipped. A pass riding along with the updates (:func:`_update_block`) adds the same terms
    in the same order (a skipped term adds an exact zero there)."""
    bias = weights + n_in * n_out
    for j in range(n_out):
        z[_unsigned(z_start + j)] = theta[_unsigned(bias + j)]
    for k in range(n_in):
        ak = a[a_start + k]
        if ak != 0.0:
            row = weights + k * n_out
            for j in range(n_out):
                z[_unsigned(z_start + j)] += ak * theta[_unsigned(row + j)]


@jit_inline
def _sample_input_delta(d, d_start, n_out, theta, weights, n_in, d_in_start):
    """d[d_in_start : d_in_start + n_in] = W @ d[d_start : d_start + n_out] for one sample."""
    for k in range(n_in):
        row = weights + k * n_out
        total = theta.dtype.type(0.0)
        for j in range(n_out):
            total += d[_unsigned(d_start + j)] * theta[_unsigned(row + j)]
        d[d_in_start + k] = total


@jit
def _sample_epoch(
    X,
    Y,
    sample_weight,
    order,
    theta,
    state,
    step,
    learning_rates,
    layout,
    hyper,
    dropout,
    rng_state,
    batch_losses,
    fused,
):
    """:func:`train_epoch` at batch size one: one update per row of ``order``.

    The stochastic counterpart of :func:`batch_gradient` followed by :func:`add_penalty` and
    :func:`optimizer_step`, for an L2 penalty (or none) and no clipping: loops over flat
    buffers instead of BLAS calls and array views (whose reference counting costs more than a
    small layer's arithmetic), and a gradient never stored: each layer's update computes it
    from the layer's input and delta (see :func:`_update_block`). The sample's row is loaded
    into ``values[: starts[1]]``; layer ``l``'s input is ``values[starts[l] : starts[l + 1]]``
    (its output the next layer's input) and its output's delta and dropout mask are at the
    same place in ``deltas`` and ``masks`` (all offset by ``here``, see below).

    ``fused``: True (networks of at least ``FUSED_PASS_MIN_PARAMETERS`` parameters, chosen by
    :func:`train_epoch`) runs each sample's forward pass along with the previous update, None
    runs it on its own.

    The update is written out in the loop rather than called: an array argument of an
    inlined function costs a reference count (an atomic increment and decrement) per call,
    about 100 ns of a 600 ns update on the seed tutorial's network. Layout arrays are read
    once, out of the namedtuple, for the same reason.
    """
    sizes, weight_offsets = layout.sizes, layout.weight_offsets
    last = sizes.size - 2
    starts = np.zeros(sizes.size + 1, np.int64)
    for layer in range(sizes.size):
        starts[layer + 1] = starts[layer] + sizes[layer]
    # Room for two samples' activations, deltas and masks: this sample's from ``here`` on and,
    # when ``fused`` is not None, the next one's from ``there`` on: its forward pass rides
    # along with this sample's update, each parameter read once for both. Every update of a
    # fused epoch takes the fused loop (the last one's pass goes to scratch, zeroed so that it
    # stays finite), so that all updates compute the same bits wherever a partial_fit chunk
    # starts. With ``fused`` None (a specialisation of its own) ``here`` stays 0.
    width = starts[-1]
    values = np.empty(2 * width, theta.dtype)
    deltas = np.empty(2 * width, theta.dtype)
    masks = np.empty(2 * width, theta.dtype)
    values[:] = 0.0
    targets = Y.copy()  # writable, as the batch path's gathered rows: one compiled loss for both
    objective_sum = 0.0
    here, there = 0, width
    ready = False  # whether this sample's forward pass rode along with the previous update
    for t in range(order.size):
        i = order[t]
        if not ready:
            _load_row(X, i, values, here)
            for layer in range(last + 1):
                n_out = sizes[layer + 1]
                out = here + starts[layer + 1]
                _sample_affine(
                    values,
                    here + starts[layer],
                    sizes[layer],
                    theta,
                    weight_offsets[layer],
                    values,
                    out,
                    n_out,
                )
                if layer < last:
                    stop = out + n_out
                    _activate(
                        values, out, stop, hyper.activation, dropout[layer], masks, rng_state
                    )
        loss = _sample_loss_and_delta(
            values,
            deltas,
            here + starts[last + 1],
            targets,
            i,
            sample_weight[i],
            hyper.loss,
            hyper.huber_delta,
            1.0,
        )
        if not math.isfinite(loss):
            return objective_sum, t, step, True
        for layer in range(last, 0, -1):
            n_in = sizes[layer]
            start = here + starts[layer]
            weights = weight_offsets[layer]
            _sample_input_delta(
                deltas, here + starts[layer + 1], sizes[layer + 1], theta, weights, n_in, start
            )
            _multiply_by_derivative(
                deltas, values, masks, start, start + n_in, hyper.activation, dropout[layer - 1]
            )
        lr = learning_rates[t]
        steps = _step_sizes(lr, step + 1, hyper)
        shrink = 1.0 - lr * hyper.weight_decay if hyper.solver == ADAMW else 1.0
        ahead = False
        if fused is not None:
            ahead = t + 1 < order.size
            if ahead:
                _load_row(X, order[t + 1], values, there)
        squares = 0.0
        for layer in range(last + 1):
            a_start, n_in = here + starts[layer], sizes[layer]
            out, n_out = starts[layer + 1], sizes[layer + 1]
            weights = weight_offsets[layer]
            if fused is not None:
                for j in range(there + out, there + out + n_out):
                    values[j] = 0.0
                squares += _update_block(
                    theta, state, weights, values, a_start, n_in, deltas, here + out, n_out,
                    hyper.alpha, shrink, steps, hyper, values, there - here,
                )  # fmt: skip
                if ahead and layer < last:
                    start, stop = there + out, there + out + n_out
                    _activate(
                        values, start, stop, hyper.activation, dropout[layer], masks, rng_state
                    )
            else:
                squares += _update_block(
                    theta, state, weights, values, a_start, n_in, deltas, here + out, n_out,
                    hyper.alpha, shrink, steps, hyper, None, 0,
                )  # fmt: skip
        ready = ahead
        if ahead:
            here, there = there, here
        penalty = 0.5 * hyper.alpha * squares
        # A non-finite penalty is found after its update: the trainer restores the weights.
        if not math.isfinite(penalty):
            return objective_sum, t, step, True
        step += 1
        objective_sum += loss + penalty
        if batch_losses.size:
            batch_losses[t] = loss + penalty
    return objective_sum, order.size, step, False


def train_epoch(
    X,
    Y,
    sample_weight,
    order,
    batch_size,
    theta,
    state,
    step,
    learning_rates,
    layout,
    hyper,
    dropout,
    rng_state,
    ws,
    batch_losses,
):
    """One pass over the rows ``order`` of (X, Y), in batches of ``batch_size``.

    Batch ``k`` holds ``order[k * batch_size : (k + 1) * batch_size]``; the last partial batch
    is kept unless ``hyper.drop_last``. Each group of ``hyper.accumulate`` consecutive batches
    makes one update (the last group may be smaller): the gradients of its batches are summed,
    divided by the group's rows (mean reduction) or not (sum reduction), the penalty's gradient
    added, the result clipped to ``hyper.clip_norm`` (when positive), and the optimizer steps
    with learning rate ``learning_rates[update]``. The pass stops at the first batch whose loss,
    or update whose penalty, is not finite, before updating on it.

    ``batch_losses``, when not empty, receives each batch's objective (mean loss plus penalty).
    Returns ``(objective_sum, n_rows_used, step, diverged)``: the sum over batches of each
    batch's objective times its rows, the rows used, the optimizer's step count after the pass,
    and whether it stopped on a non-finite value.

    The one function here that is not compiled: it picks the compiled path, so that a first fit
    compiles only the path it takes. Batches of one sample with an L2 penalty (or none) and no
    clipping take the single-sample path, :func:`_sample_epoch` (its forward passes riding along
    with the updates from ``FUSED_PASS_MIN_PARAMETERS`` parameters on); others
    :func:`_batch_epoch`.
    """
    if (
        batch_size == 1
        and hyper.accumulate == 1
        and hyper.clip_norm == 0.0
        and (hyper.alpha == 0.0 or hyper.l1_ratio == 0.0)
    ):
        return _sample_epoch(
            X,
            Y,
            sample_weight,
            order,
            theta,
            state,
            step,
            learning_rates,
            layout,
            hyper,
            dropout,
            rng_state,
            batch_losses,
            True if theta.size >= FUSED_PASS_MIN_PARAMETERS else None,
        )
    return _batch_epoch(
        X,
        Y,
        sample_weight,
        order,
        batch_size,
        theta,
        state,
        step,
        learning_rates,
        layout,
        hyper,
        dropout,
        rng_state,
        ws,
        batch_losses,
    )


@jit
def _batch_epoch(
    X,
    Y,
    sample_weight,
    order,
    batch_size,
    theta,
    state,
    step,
    learning_rates,
    layout,
    hyper,
    dropout,
    rng_state,
    ws,
    batch_losses,
):
    """:func:`train_epoch` through :func:`batch_gradient` (BLAS), batch after batch."""
    n = order.size
    no_norms = np.empty(0, theta.dtype)
    n_batches = n // batch_size if hyper.drop_last else (n + batch_size - 1) // batch_size
    accumulate = hyper.accumulate
    n_updates = (n_batches + accumulate - 1) // accumulate
    objective_sum = 0.0
    n_rows_used = 0
    for update in range(n_updates):
        first = update * accumulate
        stop = min(first + accumulate, n_batches)
        group_rows = min(stop * batch_size, n) - first * batch_size
        scale = 1.0 if hyper.sum_reduction else 1.0 / group_rows
        group_loss = 0.0
        for k in range(first, stop):
            rows = order[k * batch_size : min((k + 1) * batch_size, n)]
            loss_sum = batch_gradient(
                X,
                Y,
                sample_weight,
                rows,
                scale,
                k > first,
                theta,
                layout,
                hyper,
                dropout,
                rng_state,
                ws,
                no_norms,
            )
            if not math.isfinite(loss_sum):
                return objective_sum, n_rows_used, step, True
            if batch_losses.size:
                batch_losses[k] = loss_sum / rows.size
            group_loss += loss_sum
        penalty = 0.0
        if hyper.alpha > 0.0:
            penalty = add_penalty(theta, ws.grad, layout, hyper.alpha, hyper.l1_ratio)
            if not math.isfinite(penalty):
                return objective_sum, n_rows_used, step, True
            if batch_losses.size:
                for k in range(first, stop):
                    batch_losses[k] += penalty
        objective_sum += group_loss + penalty * group_rows
        n_rows_used += group_rows
        if hyper.clip_norm > 0.0:
            clip_by_global_norm(ws.grad, hyper.clip_norm)
        lr = learning_rates[update]
        if hyper.solver == ADAMW and hyper.weight_decay > 0.0:
            decay_weights(theta, layout, 1.0 - lr * hyper.weight_decay)
        step += 1
        optimizer_step(theta, ws.grad, state, lr, step, hyper)
    return objective_sum, n_rows_used, step, False


@jit
def forward_outputs(X, Y, sample_weight, theta, layer_sizes, activation, loss, huber_delta, out):
    """Network outputs for X in ``out`` (probabilities for the log losses, else raw values),
    and, when Y has rows, ``sum_i w_i l_i`` of the outputs against Y (else 0).

    Rows are processed in chunks of ``CHUNK_ROWS`` so memory stays bounded. No dropout.
    """
    n = _n_rows(X)
    n_outputs = out.shape[1]
    n_layers = layer_sizes.size - 1
    chunk = min(n, CHUNK_ROWS)
    weight_offsets, bias_offsets, _ = parameter_layout(layer_sizes)
    act_offsets, act_size = activation_layout(layer_sizes, chunk)
    layout = Layout(layer_sizes, weight_offsets, bias_offsets, act_offsets)
    acts = np.empty(act_size, theta.dtype)
    deltas = np.empty(act_size if Y.shape[0] else 0, theta.dtype)  # written by the loss, not read
    Xb = input_buffer(X, chunk, theta)
    no_dropout = np.zeros(n_layers, np.float64)
    no_rng = np.zeros(1, np.uint64)
    loss_sum = 0.0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        n_rows = stop - start
        _gather_inputs(X, np.arange(start, stop), Xb)
        A0 = _input_rows(X, Xb, n_rows)
        _forward(A0, theta, layout, activation, no_dropout, no_rng, acts, acts)
        logits = act_offsets[n_layers - 1]
        if Y.shape[0]:
            # Writable copies, as training's gathered batches are: one compiled loss for both.
            loss_sum += _loss_and_output_delta(
                acts,
                deltas,
                logits,
                Y[start:stop].copy(),
                sample_weight[start:stop].copy(),
                loss,
                huber_delta,
                0.0,
            )
        for i in range(n_rows):
            z = logits + i * n_outputs
            if loss == SOFTMAX_LOG_LOSS:
                _softmax(acts, z, n_outputs, acts, z)
                for j in range(n_outputs):
                    out[start + i, j] = acts[z + j]
            elif loss == LOGISTIC_LOG_LOSS:
                for j in range(n_outputs):
                    out[start + i, j] = _sigmoid(acts[z + j])
            else:
                for j in range(n_outputs):
                    out[start + i, j] = acts[z + j]
    return loss_sum
