"""RANet's own blocks: the multi-resolution stem, the plain and the fusion block.

Every block takes `make` (see `msdnet_tf.models.blocks`) and a `plan.Block`;
layer names are `s{i}_b{b}_...` for block b of sub-network i. Each block
returns its output and `feats`, the L + 1 maps the next sub-network's fusion
block reads: the block input, then the map after every layer (before
conv_last and the transition).
"""

from keras import layers

from msdnet_tf.models.blocks import (apply_conv_bn, apply_conv_bn_relu, apply_imagenet_stem,
                                     torch_bias_init, torch_linear_init)
from msdnet_tf.models.ranet.layers import AlignCornersResize


def apply_stem(make, image, plan, stem, sync_bn=False):
    """One input map per sub-network (coarsest first), computed finest first.

    The reference never initialises these units: PyTorch's default uniform
    +-1/sqrt(fan_in) weights (and bias of the imagenet 7x7), not He-normal.
    """
    maps = [None] * plan.num_subnets
    x, last = image, plan.num_subnets - 1
    for i in range(last, -1, -1):
        name, width = f"stem_s{i}", plan.stem_widths[i]
        if i == last and stem == "imagenet":
            x = apply_imagenet_stem(make, image, width, name, sync_bn, torch_linear_init(),
                                    torch_bias_init(3 * 7 * 7))
        else:
            stride = 1 if i == last else plan.stem_strides[i]
            x = apply_conv_bn_relu(make, x, width, 3, stride, name, sync_bn,
                                   kernel_initializer=torch_linear_init())
        maps[i] = x
    return maps


def resize(make, x, size, name):
    """Bilinear align_corners resize of x to `size` = (h, w); an identity resize is skipped."""
    if tuple(x.shape[1:3]) == tuple(size):
        return x
    return make(AlignCornersResize, name, size=tuple(int(s) for s in size))(x)


def _concat(make, parts, name):
    return make(layers.Concatenate, name, axis=-1)(parts)


def _transition(make, x, block, name, sync_bn):
    if not block.transition:
        return x
    return apply_conv_bn_relu(make, x, block.width_out, 1, 1, f"{name}_trans", sync_bn)


def apply_plain_block(make, x, block, sync_bn=False):
    """L dense layers x = concat[x, ConvBN(x)], then the transition if any -> (x, feats)."""
    name, feats = f"s{block.subnet}_b{block.index}", [x]
    for l in range(block.layers):
        new = apply_conv_bn(make, x, block.feat_widths[l], block.growth, False, True,
                            block.bottleneck_factor, f"{name}_l{l}_normal", sync_bn)
        x = _concat(make, [x, new], f"{name}_l{l}_concat")
        feats.append(x)
    return _transition(make, x, block, name, sync_bn), feats


def apply_fusion_block(make, x, low, low_widths, block, sync_bn=False):
    """Block b of sub-network i fusing `low`, the feats of block b of sub-network i - 1.

    Layer l: new = ConvBN(x) (stride 2 in the last layer of a down block), up =
    ConvBN(low[l]) at the coarser size, x = concat[R(x), R(up), new] with R the
    align_corners resize to new's size. Then concat[x, R(ConvBasic 1x1 (low[L]))]
    and the transition if any -> (x, feats).
    """
    name, feats = f"s{block.subnet}_b{block.index}", [x]
    for l in range(block.layers):
        down = block.down and l == block.layers - 1
        new = apply_conv_bn(make, x, block.feat_widths[l], block.n_new, down, True,
                            block.bottleneck_factor, f"{name}_l{l}_normal", sync_bn)
        size = new.shape[1:3]
        up = apply_conv_bn(make, low[l], low_widths[l], block.n_up, False, True,
                           block.up_bottleneck_factor, f"{name}_l{l}_up", sync_bn)
        x = _concat(make, [resize(make, x, size, f"{name}_l{l}_resize"),
                           resize(make, up, size, f"{name}_l{l}_up_resize"), new],
                    f"{name}_l{l}_concat")
        feats.append(x)
    last = apply_conv_bn_relu(make, low[block.layers], block.last_width, 1, 1, f"{name}_last",
                              sync_bn)
    last = resize(make, last, x.shape[1:3], f"{name}_last_resize")
    x = _concat(make, [x, last], f"{name}_last_concat")
    return _transition(make, x, block, name, sync_bn), feats
