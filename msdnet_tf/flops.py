"""Exact FLOPs and parameter counts of a built model (any family), with the reference's rules.

Counts are read off the Keras graph itself: every layer of every stage model
(stage k = block k + classifier k) is counted from its type, configuration
and actual tensor shapes, so the figures cannot drift from the network.

Rules (spec, "Counting rules"): FLOPs are multiply-adds at batch size 1;
Conv = Cin * Cout * kh * kw * Hout * Wout / groups (no bias term);
ReLU = input elements; max/avg pool = C * Hout * Wout * kh * kw (a global
average pool over an HxW map counts C * H * W, like the 2x2 pool it replaces);
Dense = weights + biases; BatchNorm, padding, concatenation = 0. A layer
class of ours that the rules do not cover states its own count with a
`reference_flops()` method (RANet's bilinear resize: 0, as the reference's
counter never sees functional ops). Parameters are trainable ones only. Per-exit figures are cumulative: exit k counts blocks
and classifiers 0..k, as a cascade runs them all before reaching exit k.
"""

import dataclasses
import math

from keras import layers

_FREE = (layers.InputLayer, layers.BatchNormalization, layers.ZeroPadding2D,
         layers.Concatenate, layers.Flatten, layers.Activation)


@dataclasses.dataclass
class Counts:
    stage_flops: list
    stage_params: list

    @property
    def exit_cumulative_flops(self):
        return _cumsum(self.stage_flops)

    @property
    def exit_cumulative_params(self):
        return _cumsum(self.stage_params)

    @property
    def trainable_params(self):
        return sum(self.stage_params)

    def as_dict(self):
        return {
            "trainable_params": self.trainable_params,
            "exit_cumulative_flops": self.exit_cumulative_flops,
            "exit_cumulative_params": self.exit_cumulative_params,
        }


def _cumsum(values):
    out, total = [], 0
    for v in values:
        total += v
        out.append(total)
    return out


def _shape(tensor):
    return tuple(int(d) for d in tensor.shape[1:])


def layer_flops(layer):
    """Multiply-adds of one call of `layer` at batch size 1 (node 0's shapes)."""
    if isinstance(layer, _FREE):
        return 0
    own_rule = getattr(layer, "reference_flops", None)
    if callable(own_rule):
        return int(own_rule())
    out = _shape(layer.output)
    if isinstance(layer, layers.Conv2D):
        cin = _shape(layer.input)[-1]
        kh, kw = layer.kernel_size
        return cin * layer.filters * kh * kw * out[0] * out[1] // layer.groups
    if isinstance(layer, layers.Dense):
        return int(math.prod(layer.kernel.shape)) + (layer.units if layer.use_bias else 0)
    if isinstance(layer, layers.ReLU):
        return math.prod(_shape(layer.input))
    if isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
        kh, kw = layer.pool_size
        return out[-1] * out[0] * out[1] * kh * kw
    if isinstance(layer, layers.GlobalAveragePooling2D):
        return math.prod(_shape(layer.input))
    raise TypeError(
        f"no FLOP rule for layer {layer.name} of type {type(layer).__name__}; "
        "add one to msdnet_tf.flops before counting this model"
    )


def layer_params(layer):
    return sum(int(math.prod(w.shape)) for w in layer.trainable_weights)


def count(model, resolution=None):
    """Per-stage and cumulative per-exit FLOPs and trainable parameters of a multi-exit model.

    A resolution-switchable model is counted as what serves one resolution
    (`serving_model`): at `resolution`, by default the largest.
    """
    if resolution is not None or getattr(model, "switchable", False):
        model = model.serving_model(resolution)
    stage_flops, stage_params = [], []
    for stage in model.stage_models(batch_size=1):
        stage_flops.append(sum(layer_flops(layer) for layer in stage.layers))
        stage_params.append(sum(layer_params(layer) for layer in stage.layers))
    total = sum(int(math.prod(w.shape)) for w in model.trainable_weights)
    if total != sum(stage_params):
        raise AssertionError(f"stages hold {sum(stage_params)} trainable parameters, the model "
                             f"{total}: a layer is missing from or shared between stages")
    return Counts(stage_flops, stage_params)


def count_config(family="msdnet", **model_kwargs):
    """Counts for model hyperparameters, building a throwaway model."""
    from msdnet_tf.models import family as family_lib

    return count(family_lib.get(family).build(model_kwargs))


def truncated_flops(model):
    """FLOPs of each truncated exit model (image -> exit k only), at batch size 1.

    Lower than the cumulative figure: a truncated model runs no earlier
    classifier and none of the finer-scale work that only later blocks read.
    """
    return [sum(layer_flops(layer) for layer in model.exit_model(k, batch_size=1).layers)
            for k in range(model.num_exits)]
