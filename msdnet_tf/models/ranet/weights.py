"""RANet's map onto the authors' state_dict names (yangle15/RANet-pytorch).

The reference names its modules `FirstLayer.layers.{j}` (stem unit j in chain
order from the finest, so unit j makes the input of sub-network S-1-j; the
imagenet unit 0 is `.0` conv with bias and `.1` BN), `scale_flows.{i}.{b}`
(block b of sub-network i: `layers.{l}.conv_normal`, `layers.{l}.conv_up`,
`conv_last`, `trans`) and `classifier.{k}`; see
`../shared/reference/ranet/README.md`. `reference_names` walks the same plan
as the Keras builder and pairs every Keras layer holding weights with its prefix.
"""

from msdnet_tf.models.naming import (classifier_names, conv_basic_names, conv_bn_names,
                                     imagenet_stem_names)


def _stem(arch, plan):
    pairs, last = [], plan.num_subnets - 1
    for j in range(plan.num_subnets):
        i, prefix = last - j, f"FirstLayer.layers.{j}"
        if j == 0 and arch["stem"] == "imagenet":
            pairs += imagenet_stem_names(prefix, f"stem_s{i}")
        else:
            pairs += conv_basic_names(prefix, f"stem_s{i}")
    return pairs


def _block(block):
    prefix, name = f"scale_flows.{block.subnet}.{block.index}", f"s{block.subnet}_b{block.index}"
    pairs = []
    for l in range(block.layers):
        pairs += conv_bn_names(f"{prefix}.layers.{l}.conv_normal", f"{name}_l{l}_normal")
        if block.fusion:
            pairs += conv_bn_names(f"{prefix}.layers.{l}.conv_up", f"{name}_l{l}_up")
    if block.fusion:
        pairs += conv_basic_names(f"{prefix}.conv_last", f"{name}_last")
    if block.transition:
        pairs += conv_basic_names(f"{prefix}.trans", f"{name}_trans")
    return pairs


def reference_names(arch, plan):
    """[(torch_prefix, keras_layer_name, kind)] for every weight-holding layer."""
    pairs = _stem(arch, plan)
    for blocks in plan.subnets:
        for block in blocks:
            pairs += _block(block)
    for k in range(len(plan.exits)):
        pairs += classifier_names(k)
    return pairs
