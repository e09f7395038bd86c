"""The RANet layer plan and hyperparameter checks, in pure Python.

`plan(**model_kwargs)` computes, from the paper's hyperparameters, every
sub-network's blocks: plain or fusion, layers, down-sampling, transition,
channel widths and map sides, and which block ends in which exit. The Keras
builder, the reference-weight map and config validation walk this one plan
(spec: ../shared/docs/ranet-spec.md).

Symbols follow the spec: `S` sub-networks indexed i = 0..S-1 from the coarsest
(the order they run in), `N_i = num_blocks + i * block_step` blocks in
sub-network i, blocks b = 0..N_i-1 here (the spec's b - 1; the reference's
`scale_flows.{i}.{b}`), `g_i` the growth of one layer, `c` the running width.
"""

import dataclasses
import math

from msdnet_tf.models.family import ArchitectureError

STEMS = ("cifar", "imagenet")
STEP_MODES = ("even", "lg")


@dataclasses.dataclass(frozen=True)
class Block:
    subnet: int  # i, from the coarsest
    index: int  # b, from 0
    fusion: bool  # fuses block b of sub-network i - 1 (the reference's "up" block)
    layers: int  # L
    down: bool  # the last layer halves the map (fusion blocks only)
    transition: bool  # ends with a 1x1 ConvBasic to floor(reduction * c)
    growth: int  # g_i, channels one layer adds
    n_up: int  # of g_i, channels from the coarser sub-network (fusion), else 0
    feat_widths: tuple  # channels of feats[0..L]: the input, then after each layer
    last_width: int  # conv_last's channels floor(c * cf) (fusion), else 0
    width_out: int  # channels of the block output (after fusion and transition)
    side_in: int
    side_out: int
    bottleneck_factor: int  # bf_i of the new branch
    up_bottleneck_factor: int  # bf_{i-1} of conv_up (fusion), else 0
    exit: int | None  # the exit that reads this block's output, None for fusion blocks

    @property
    def n_new(self):
        return self.growth - self.n_up

    @property
    def width_before_transition(self):
        return self.feat_widths[-1] + self.last_width


@dataclasses.dataclass(frozen=True)
class Plan:
    num_subnets: int
    stem_widths: tuple  # channels of sub-network i's input map, coarsest first
    stem_strides: tuple  # stride of the stem unit making sub-network i's map
    stem_sides: tuple  # side of sub-network i's input map
    subnets: tuple  # per sub-network, its blocks
    exits: tuple  # exit k -> (i, b) of the block it reads
    coarsest_side: int

    def block(self, i, b):
        return self.subnets[i][b]

    def exit_block(self, k):
        i, b = self.exits[k]
        return self.subnets[i][b]


def conv_out(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def blocks_per_subnet(num_blocks, block_step, num_subnets):
    """N_i = num_blocks + i * block_step."""
    return [num_blocks + i * block_step for i in range(num_subnets)]


def layers_in_block(b, step, step_mode):
    """Layers of block b (from 0): `step` (even) or (b + 1) * step (lg), in every sub-network."""
    return step if step_mode == "even" else (b + 1) * step


def has_transition(b, n_blocks, level):
    """Block b (from 0) of a sub-network of n_blocks blocks on resolution level `level`."""
    return any(b + 1 == math.floor(k * n_blocks / level) for k in range(1, level))


def is_down(b, i, counts, level):
    """Fusion block b of sub-network i down-samples when b + 1 is among the last level - 1
    entries of [0, N_0, ..., N_{i-1}]: where earlier sub-networks ended."""
    ends = [0] + counts[:i]
    return level > 1 and b + 1 in ends[len(ends) - (level - 1):]


def stem_sides(stem, image_size, scale_list):
    """(stem strides, map sides) per sub-network, coarsest first; the stem runs finest first."""
    num = len(scale_list)
    strides, sides = [1] * num, [0] * num
    side = image_size
    if stem == "imagenet":
        side = conv_out(conv_out(image_size, 7, 2, 3), 3, 2, 1)
        strides[-1] = 2
    sides[-1] = side
    for i in range(num - 2, -1, -1):
        strides[i] = 1 if scale_list[i] == scale_list[i + 1] else 2
        sides[i] = conv_out(sides[i + 1], 3, strides[i], 1)
    return tuple(strides), tuple(sides)


def classifier_pool_side(coarsest_side):
    """Side of the map that reaches a classifier's 2x2 average pool (two stride-2 convs)."""
    return conv_out(conv_out(coarsest_side, 3, 2, 1), 3, 2, 1)


def _check(cond, key, value, why):
    if not cond:
        raise ArchitectureError(f"model.{key} {why}. Received: model.{key}={value!r}")


def _is_int(value, low):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_types(kw):
    _check(kw["stem"] in STEMS, "stem", kw["stem"], "must be cifar or imagenet")
    _check(kw["step_mode"] in STEP_MODES, "step_mode", kw["step_mode"], "must be even or lg")
    for key in ("num_blocks", "num_channels", "growth_rate", "num_classes", "image_size"):
        _check(_is_int(kw[key], 1), key, kw[key], "must be an integer >= 1")
    _check(_is_int(kw["block_step"], 1), "block_step", kw["block_step"],
           "must be an integer >= 1 (with 0 the later sub-networks get no exit)")
    _check(_is_int(kw["step"], 2), "step", kw["step"],
           "must be an integer >= 2 (the reference fails on a one-layer fusion block)")
    for key in ("growth_factors", "bottleneck_factors", "scale_list"):
        value = kw[key]
        _check(isinstance(value, (list, tuple)) and len(value) >= 1
               and all(_is_int(v, 1) for v in value), key, value,
               "must be a non-empty list of integers >= 1")
    for key in ("bottleneck", "bn_after"):
        _check(kw[key] is True, key, kw[key],
               "must be true (the reference always uses post-activation 1x1 bottlenecks)")
    _check(isinstance(kw["compress_factor"], (int, float)) and 0 < kw["compress_factor"] < 1,
           "compress_factor", kw["compress_factor"], "must be in (0, 1)")
    _check(isinstance(kw["reduction"], (int, float)) and 0 < kw["reduction"] <= 1,
           "reduction", kw["reduction"], "must be in (0, 1]")


def _check_scales(kw, head_pool="fixed"):
    scales, num = list(kw["scale_list"]), len(kw["scale_list"])
    for key in ("growth_factors", "bottleneck_factors"):
        _check(len(kw[key]) == num, key, kw[key],
               f"must have one entry per sub-network, like scale_list={scales}")
    steps_ok = all(b - a in (0, 1) for a, b in zip(scales, scales[1:]))
    _check(scales[0] == 1 and steps_ok and scales.count(1) == 1, "scale_list", scales,
           "must start at 1 and grow by 0 or 1 per sub-network, with no second 1 "
           "(e.g. [1, 2, 3, 3])")
    _, sides = stem_sides(kw["stem"], kw["image_size"], scales)
    pool = classifier_pool_side(sides[0])
    _check(pool in (2, 3) or head_pool == "global", "scale_list", scales,
           f"gives a {sides[0]}x{sides[0]} coarsest map ({kw['stem']} stem, image_size "
           f"{kw['image_size']}) and a {pool}x{pool} map at the classifiers' 2x2 average pool; "
           "it needs 2x2 or 3x3 (largest level 3 for 32x32 cifar, 4 for 224x224 imagenet)")
    for i in range(1, num):
        g = kw["growth_rate"] * kw["growth_factors"][i]
        _check(math.floor(g * kw["compress_factor"]) >= 1, "compress_factor",
               kw["compress_factor"],
               f"times growth_rate * growth_factors[{i}] = {g} must be >= 1 after flooring "
               "(a fusion layer takes that many channels from the coarser sub-network)")


def validate_model_kwargs(head_pool="fixed", **kwargs):
    """Raises ArchitectureError naming the first invalid or inconsistent value.

    head_pool "fixed" (the reference's 2x2 average pool) needs a 2x2 or 3x3 map
    at the classifiers; "global" pools any map (`msdnet_tf.models.options`).
    """
    keys = ("stem", "num_classes", "image_size", "num_blocks", "block_step", "step", "step_mode",
            "num_channels", "growth_rate", "growth_factors", "bottleneck_factors", "scale_list",
            "compress_factor", "reduction", "bottleneck", "bn_after")
    unknown = sorted(set(kwargs) - set(keys))
    if unknown:
        raise ArchitectureError(f"unknown RANet argument {unknown[0]}; valid: {', '.join(keys)}")
    missing = [k for k in keys if k not in kwargs]
    if missing:
        raise ArchitectureError(f"missing RANet argument {missing[0]}")
    _check_types(kwargs)
    _check_scales(kwargs, head_pool)


def num_exits(num_blocks, block_step, scale_list, **_):
    """K = num_blocks + (S - 1) * block_step."""
    return num_blocks + (len(scale_list) - 1) * block_step


def _subnet(i, kw, counts, side, previous):
    """The blocks of sub-network i; `previous`: the blocks of sub-network i - 1."""
    level, g = kw["scale_list"][i], kw["growth_rate"] * kw["growth_factors"][i]
    cf, bf = kw["compress_factor"], kw["bottleneck_factors"]
    c = kw["num_channels"] * kw["growth_factors"][i]
    blocks = []
    for b in range(counts[i]):
        fusion = i >= 1 and b < counts[i - 1]
        n_layers = layers_in_block(b, kw["step"], kw["step_mode"])
        down = fusion and is_down(b, i, counts, level)
        n_up = math.floor(g * cf) if fusion else 0
        widths = tuple(c + l * g for l in range(n_layers + 1))
        last = math.floor(widths[-1] * cf) if fusion else 0
        trans = has_transition(b, counts[i], level)
        out = widths[-1] + last
        if trans:
            out = math.floor(1.0 * kw["reduction"] * out)
        side_out = conv_out(side, 3, 2, 1) if down else side
        if fusion:
            low = previous[b]
            assert low.layers == n_layers, "fusion blocks pair blocks of equal length"
        blocks.append(Block(
            subnet=i, index=b, fusion=fusion, layers=n_layers, down=down, transition=trans,
            growth=g, n_up=n_up, feat_widths=widths, last_width=last, width_out=out,
            side_in=side, side_out=side_out, bottleneck_factor=bf[i],
            up_bottleneck_factor=bf[i - 1] if fusion else 0, exit=None))
        c, side = out, side_out
    return blocks


def plan(**kwargs):
    """The layer plan for validated model hyperparameters."""
    kw = kwargs
    scales = list(kw["scale_list"])
    num = len(scales)
    counts = blocks_per_subnet(kw["num_blocks"], kw["block_step"], num)
    strides, sides = stem_sides(kw["stem"], kw["image_size"], scales)
    subnets, exits, previous = [], [], None
    for i in range(num):
        blocks = _subnet(i, kw, counts, sides[i], previous)
        for b, block in enumerate(blocks):
            if not block.fusion:
                blocks[b] = dataclasses.replace(block, exit=len(exits))
                exits.append((i, b))
        subnets.append(tuple(blocks))
        previous = blocks
    widths = tuple(kw["num_channels"] * g for g in kw["growth_factors"])
    return Plan(num, widths, strides, sides, tuple(subnets), tuple(exits), sides[0])


def reference_plan(p):
    """The plan as counts.json lists it: per sub-network, per block, type/layers/down/trans."""
    return [[{"type": "up" if b.fusion else "norm", "layers": b.layers, "down": b.down,
              "trans": b.transition} for b in blocks] for blocks in p.subnets]
