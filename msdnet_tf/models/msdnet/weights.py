"""MSDNet's map onto the PyTorch reference port's state_dict names.

The reference names its modules `blocks.{b}.{i}` (module i of block b; block
0 opens with the multi-scale first layer), `classifier.{k}`; see
`../shared/reference/README.md`. `reference_names` walks the same plan the
Keras builder walks and pairs every Keras layer that holds weights with its
reference prefix.
"""

from msdnet_tf.models.naming import (classifier_names, conv_basic_names, conv_bn_names,
                                     imagenet_stem_names)


def _first_layer(arch):
    pairs = []
    for s in range(len(arch["growth_factors"])):
        prefix = f"blocks.0.0.layers.{s}"
        if s == 0 and arch["stem"] == "imagenet":
            pairs += imagenet_stem_names(prefix, "stem_s0")
        else:
            pairs += conv_basic_names(prefix, f"stem_s{s}")
    return pairs


def _dense_layer(prefix, layer, num_scales, bottleneck):
    pairs = []
    offset = num_scales - layer.out_scales
    for s in range(offset, num_scales):
        j, name = s - offset, f"l{layer.index}_s{s}"
        if s > offset or layer.discard:
            pairs += conv_bn_names(f"{prefix}.layers.{j}.conv_down", f"{name}_down", bottleneck)
        pairs += conv_bn_names(f"{prefix}.layers.{j}.conv_normal", f"{name}_normal", bottleneck)
    return pairs


def reference_names(arch, plan):
    """[(torch_prefix, keras_layer_name, kind)] for every weight-holding layer."""
    pairs = _first_layer(arch)
    for block in plan.blocks:
        i = 1 if block.index == 0 else 0
        for layer in block.layers:
            pairs += _dense_layer(f"blocks.{block.index}.{i}", layer, plan.num_scales,
                                  arch["bottleneck"])
            i += 1
            if layer.transition_to:
                offset = plan.num_scales - layer.out_scales
                for s in range(offset, plan.num_scales):
                    pairs += conv_basic_names(f"blocks.{block.index}.{i}.m.{s - offset}",
                                              f"l{layer.index}_t_s{s}")
                i += 1
        pairs += classifier_names(block.index)
    return pairs
