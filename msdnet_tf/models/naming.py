"""Reference state_dict names of the conv units every family shares.

Each entry is (reference prefix, Keras layer name, kind), kind in
conv | bn | dense; `msdnet_tf.weights` maps the tensors under each prefix.
"""


def conv_bn_names(torch_prefix, keras_name, bottleneck=True):
    """A ConvBN `net` sequence: [1x1 conv, BN, ReLU,] 3x3 conv, BN, ReLU."""
    if bottleneck:
        return [(f"{torch_prefix}.net.0", f"{keras_name}_1x1_conv", "conv"),
                (f"{torch_prefix}.net.1", f"{keras_name}_1x1_bn", "bn"),
                (f"{torch_prefix}.net.3", f"{keras_name}_3x3_conv", "conv"),
                (f"{torch_prefix}.net.4", f"{keras_name}_3x3_bn", "bn")]
    return [(f"{torch_prefix}.net.0", f"{keras_name}_3x3_conv", "conv"),
            (f"{torch_prefix}.net.1", f"{keras_name}_3x3_bn", "bn")]


def conv_basic_names(torch_prefix, keras_name):
    """A ConvBasic `net`: conv, BN, ReLU."""
    return [(f"{torch_prefix}.net.0", f"{keras_name}_conv", "conv"),
            (f"{torch_prefix}.net.1", f"{keras_name}_bn", "bn")]


def imagenet_stem_names(torch_prefix, keras_name):
    """The 7x7 stem conv (with bias) and its BN, numbered 0 and 1 under `torch_prefix`."""
    return [(f"{torch_prefix}.0", f"{keras_name}_conv", "conv"),
            (f"{torch_prefix}.1", f"{keras_name}_bn", "bn")]


def classifier_names(k):
    """Exit k: `classifier.k.m.{0,1}` ConvBasic units and `classifier.k.linear`."""
    return (conv_basic_names(f"classifier.{k}.m.0", f"exit{k}_c1")
            + conv_basic_names(f"classifier.{k}.m.1", f"exit{k}_c2")
            + [(f"classifier.{k}.linear", f"exit_{k}", "dense")])
