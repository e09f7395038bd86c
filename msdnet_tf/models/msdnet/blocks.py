"""MSDNet's own blocks: the multi-scale stem, the dense layer, the transition.

Feature maps travel as a list indexed by absolute scale (finest first); a
pruned scale is None. Every block takes `make` (see `msdnet_tf.models.blocks`).
"""

from keras import layers

from msdnet_tf.models.blocks import apply_conv_bn, apply_conv_bn_relu, apply_imagenet_stem


def apply_first_layer(make, image, stem, num_channels, growth_factors, sync_bn=False):
    """The multi-scale stem: one feature map per scale."""
    width = num_channels * growth_factors[0]
    if stem == "imagenet":
        x = apply_imagenet_stem(make, image, width, "stem_s0", sync_bn)
    else:
        x = apply_conv_bn_relu(make, image, width, 3, 1, "stem_s0", sync_bn)
    feats = [x]
    for s in range(1, len(growth_factors)):
        x = apply_conv_bn_relu(make, x, num_channels * growth_factors[s], 3, 2, f"stem_s{s}",
                               sync_bn)
        feats.append(x)
    return feats


def apply_dense_layer(make, feats, layer, growth_rate, growth_factors, bottleneck_factors,
                      bottleneck, sync_bn=False):
    """One MSDNet layer: every surviving scale grows by growth_rate * gf[s].

    Channel order is the reference's: [x, new] for ConvNormal and
    [same, down(finer), normal(same)] for ConvDownNormal.
    """
    num_scales = len(growth_factors)
    offset = num_scales - layer.out_scales
    c = layer.width_in
    out = [None] * num_scales
    for s in range(offset, num_scales):
        name = f"l{layer.index}_s{s}"
        n_out = growth_rate * growth_factors[s]
        if s == offset and not layer.discard:
            new = apply_conv_bn(make, feats[s], c * growth_factors[s], n_out, False, bottleneck,
                                bottleneck_factors[s], f"{name}_normal", sync_bn)
            parts = [feats[s], new]
        else:
            down = apply_conv_bn(make, feats[s - 1], c * growth_factors[s - 1], n_out // 2, True,
                                 bottleneck, bottleneck_factors[s - 1], f"{name}_down", sync_bn)
            normal = apply_conv_bn(make, feats[s], c * growth_factors[s], n_out // 2, False,
                                   bottleneck, bottleneck_factors[s], f"{name}_normal", sync_bn)
            parts = [feats[s], down, normal]
        out[s] = make(layers.Concatenate, f"{name}_concat", axis=-1)(parts)
    return out


def apply_transition(make, feats, layer, growth_factors, sync_bn=False):
    """1x1 ConvBasic compressing every surviving scale to floor(reduction * c)."""
    offset = len(growth_factors) - layer.out_scales
    out = list(feats)
    for s in range(offset, len(growth_factors)):
        out[s] = apply_conv_bn_relu(make, feats[s], layer.transition_to * growth_factors[s], 1, 1,
                                    f"l{layer.index}_t_s{s}", sync_bn)
    return out
