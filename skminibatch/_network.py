"""The network as one flat parameter vector: layer sizes, weight initialisation, packing.

``theta`` holds, layer after layer, the weight matrix (C order) and then the bias vector (see
:mod:`skminibatch._kernels`). The estimator exposes ``coefs_`` and ``intercepts_`` as separate
arrays (copies, never views into ``theta``), so its fitted state is plain NumPy data that pickles
and clones without aliasing.
"""

from itertools import pairwise

import numpy as np
from scipy.stats import truncnorm

from ._kernels import parameter_layout

# Keras' definitions: uniform on [-limit, limit] with limit = sqrt(3 * scale / fan), or a normal
# truncated at two standard deviations whose standard deviation after truncation is
# sqrt(scale / fan) (hence the division by the std of a unit normal truncated at +-2).
WEIGHT_INITS = {
    "glorot_uniform": ("uniform", "fan_avg"),
    "glorot_normal": ("truncated_normal", "fan_avg"),
    "he_uniform": ("uniform", "fan_in"),
    "he_normal": ("truncated_normal", "fan_in"),
}
_TRUNCATED_UNIT_NORMAL_STD = 0.87962566103423978


def make_layer_sizes(n_features, hidden_layer_sizes, n_outputs):
    """Units per layer, input first: ``[n_features, *hidden_layer_sizes, n_outputs]``."""
    return np.array([n_features, *hidden_layer_sizes, n_outputs], dtype=np.int64)


def layer_sizes_of(coefs):
    """Units per layer of a network given by its weight matrices."""
    return np.array([c.shape[0] for c in coefs] + [coefs[-1].shape[1]], dtype=np.int64)


def layer_shapes(layer_sizes):
    """Shape ``(fan_in, fan_out)`` of each layer's weight matrix."""
    return list(pairwise(layer_sizes.tolist()))


def n_parameters(layer_sizes):
    return int(parameter_layout(layer_sizes)[2])


def initial_parameters(layer_sizes, weight_init, random_state, dtype):
    """A new ``theta``: weights drawn by ``weight_init`` from ``random_state``, zero biases."""
    distribution, fan_mode = WEIGHT_INITS[weight_init]
    shapes = layer_shapes(layer_sizes)
    coefs = []
    for fan_in, fan_out in shapes:
        fan = fan_in if fan_mode == "fan_in" else (fan_in + fan_out) / 2.0
        scale = 2.0 if fan_mode == "fan_in" else 1.0
        std = np.sqrt(scale / fan)
        if distribution == "uniform":
            limit = np.sqrt(3.0) * std
            coefs.append(random_state.uniform(-limit, limit, size=(fan_in, fan_out)))
        else:
            coefs.append(
                truncnorm.rvs(
                    -2.0,
                    2.0,
                    scale=std / _TRUNCATED_UNIT_NORMAL_STD,
                    size=(fan_in, fan_out),
                    random_state=random_state,
                )
            )
    intercepts = [np.zeros(fan_out) for _, fan_out in shapes]
    return pack(coefs, intercepts, layer_sizes, dtype)


def pack(coefs, intercepts, layer_sizes, dtype):
    """One new flat vector from lists of weight matrices and bias vectors (``coefs_`` and
    ``intercepts_``, which must have the shapes of ``layer_sizes``: a ValueError otherwise, as
    a part of the vector would be left uninitialised)."""
    weight_offsets, bias_offsets, size = parameter_layout(layer_sizes)
    theta = np.empty(size, dtype=dtype)
    shapes = layer_shapes(layer_sizes)
    if len(coefs) != len(shapes) or len(intercepts) != len(shapes):
        raise ValueError(
            f"coefs_ and intercepts_ must hold an array per layer, {len(shapes)} for the layer "
            f"sizes {list(map(int, layer_sizes))}; got {len(coefs)} and {len(intercepts)}."
        )
    for layer, (shape, coef, intercept) in enumerate(zip(shapes, coefs, intercepts, strict=True)):
        if np.shape(coef) != shape or np.size(intercept) != shape[1]:
            raise ValueError(
                f"coefs_[{layer}] must have the shape {shape} and intercepts_[{layer}] "
                f"{shape[1]} values for the layer sizes {list(map(int, layer_sizes))}; got "
                f"{np.shape(coef)} and {np.shape(intercept)}."
            )
        theta[weight_offsets[layer] : bias_offsets[layer]] = np.ravel(coef)
        theta[bias_offsets[layer] : bias_offsets[layer] + shape[1]] = np.ravel(intercept)
    return theta


def unpack(theta, layer_sizes):
    """Lists of weight matrices and bias vectors, each a copy (never a view of ``theta``)."""
    weight_offsets, bias_offsets, _ = parameter_layout(layer_sizes)
    coefs, intercepts = [], []
    for layer, (fan_in, fan_out) in enumerate(layer_shapes(layer_sizes)):
        w = weight_offsets[layer]
        b = bias_offsets[layer]
        coefs.append(theta[w : w + fan_in * fan_out].reshape(fan_in, fan_out).copy())
        intercepts.append(theta[b : b + fan_out].copy())
    return coefs, intercepts
