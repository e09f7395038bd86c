"""Exit heads over any family graph: the family's own classifiers, or IMTA's inline
subnetwork collaboration (Li et al., "Improved Techniques for Training Adaptive Deep
Networks", ICCV 2019).

    plain   logits_k = graph.head(k, x_k)
    isc     logits_0 = Dense(f_0)
            logits_k = Dense(concat[f_k, ReLU(BN(Dense(num_classes -> C_k)(logits_{k-1})))])

x_k is the tensor `graph.head_key(k)` names and f_k = `graph.head_features(k, x_k)` the
pooled vector (C_k values) the family's own Dense layer reads. An ISC exit k >= 1 thus sees
its own features and an embedding of the previous exit's logits; a cascade stage carries
those logits on as `isc_logits` ([N, num_classes]) next to the family's maps.

Layers of an ISC exit k: `exit_k` (its Dense, named like the plain one), and for k >= 1
`isc{k}_fc`, `isc{k}_bn`, `isc{k}_relu`, `isc{k}_concat`. New Dense layers start as
PyTorch's nn.Linear does (weights and biases uniform in +-1/sqrt(fan_in)), BN as
everywhere else (epsilon 1e-5, momentum 0.9).

A factory with `fold_isc_bn = True` (the QAT rebuild, whose BN runs in inference mode) gets
`isc{k}_fc` with `isc{k}_bn` folded into it and no BN layer (`fold_isc_bn_weights`): Dense
-> ReLU quantises as one op, where Dense -> BN -> ReLU would leave a float Dense.

`Taps` lets a training graph insert training-only layers (identity at inference) at the
points IMTA needs; the model's own graphs use none, so deployment graphs carry no trace.
"""

import re

import numpy as np
from keras import layers

from msdnet_tf.models.blocks import (BN_EPSILON, BN_MOMENTUM, BatchNormalization,
                                     torch_bias_init, torch_linear_init)

EXIT_HEADS = ("plain", "isc")
ISC_LOGITS = "isc_logits"


class Taps:
    """Training-time insertions into a graph; these defaults insert nothing."""

    def head_input(self, k, x):
        """(what classifier k reads, what is carried on) for the tensor `head_key(k)` names."""
        return x, x

    def previous_logits(self, k, logits):
        """What ISC exit k's embedding reads of exit k - 1's logits."""
        return logits

    def features(self, k, features):
        """Sees ISC exit k's pooled features f_k."""


def check_exit_heads(exit_heads):
    if exit_heads not in EXIT_HEADS:
        raise ValueError(f"exit_heads must be one of {', '.join(EXIT_HEADS)}. "
                         f"Received: exit_heads={exit_heads!r}")


def _linear(make, name, x, units):
    fan_in = int(x.shape[-1])
    return make(layers.Dense, name, units=units, kernel_initializer=torch_linear_init(),
                bias_initializer=torch_bias_init(fan_in))(x)


def apply_isc_head(make, features, previous_logits, k, num_classes, sync_bn=False):
    """ISC exit k: float32 logits from f_k and (k >= 1) the logits of exit k - 1."""
    x = features
    if k > 0:
        if previous_logits is None:
            raise ValueError(f"ISC exit {k} needs the logits of exit {k - 1} ({ISC_LOGITS})")
        h = _linear(make, f"isc{k}_fc", previous_logits, int(features.shape[-1]))
        if not getattr(make, "fold_isc_bn", False):
            h = make(BatchNormalization, f"isc{k}_bn", momentum=BN_MOMENTUM,
                     epsilon=BN_EPSILON, synchronized=sync_bn)(h)
        h = make(layers.ReLU, f"isc{k}_relu")(h)
        x = make(layers.Concatenate, f"isc{k}_concat", axis=-1)([features, h])
    fan_in = int(x.shape[-1])
    return make(layers.Dense, f"exit_{k}", units=num_classes, dtype="float32",
                kernel_initializer=torch_linear_init(),
                bias_initializer=torch_bias_init(fan_in))(x)


def apply_exit(graph, k, carried, exit_heads="plain", make=None, num_classes=None,
               sync_bn=False, taps=None):
    """Trunk k, then exit k, on what stage k - 1 carried: (logits, what stage k carries on).

    `make` and `num_classes` are needed for "isc" only.
    """
    taps = taps or Taps()
    previous = carried.get(ISC_LOGITS)
    maps = graph.trunk(k, {n: t for n, t in carried.items() if n != ISC_LOGITS})
    key = graph.head_key(k)
    x, maps[key] = taps.head_input(k, maps[key])
    if exit_heads == "plain":
        return graph.head(k, x), maps
    features = graph.head_features(k, x)
    taps.features(k, features)
    if previous is not None:
        previous = taps.previous_logits(k, previous)
    logits = apply_isc_head(make, features, previous, k, num_classes, sync_bn)
    maps[ISC_LOGITS] = logits
    return logits, maps


def fold_isc_bn_weights(weights, epsilon=BN_EPSILON):
    """{"layer/i": array} with every isc{k}_bn (inference mode) folded into isc{k}_fc.

    BN(x W + b) = x (W s) + (b - mean) s + beta with s = gamma / sqrt(var + epsilon).
    """
    out = dict(weights)
    for key in weights:
        match = re.fullmatch(r"(isc\d+)_bn/0", key)
        if not match:
            continue
        prefix = match.group(1)
        gamma, beta, mean, var = (out.pop(f"{prefix}_bn/{i}") for i in range(4))
        scale = gamma / np.sqrt(var + np.float32(epsilon))
        out[f"{prefix}_fc/0"] = (weights[f"{prefix}_fc/0"] * scale).astype(np.float32)
        out[f"{prefix}_fc/1"] = ((weights[f"{prefix}_fc/1"] - mean) * scale + beta).astype(
            np.float32)
    return out
