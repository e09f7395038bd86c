"""The MSDNet layer plan and hyperparameter checks, in pure Python.

`plan(**model_kwargs)` computes, from the paper's hyperparameters, which
layers exist: how many dense layers each block has, which scales every layer
reads and writes, the running base width `c`, and where transitions sit. The
Keras builder, the reference-weight importer and config validation all walk
this one plan, so they cannot disagree.

Symbols follow the paper and the reference port: `S` scales (the length of
`growth_factors`), `L` dense layers in total, `c` the base width.
"""

import dataclasses
import math


from msdnet_tf.models.family import ArchitectureError


@dataclasses.dataclass(frozen=True)
class DenseLayer:
    index: int  # l, counted from 1 across all blocks
    in_scales: int
    out_scales: int
    width_in: int  # c before this layer
    transition_to: int  # c after the transition that follows, 0 if none

    @property
    def discard(self):
        return self.in_scales > self.out_scales


@dataclasses.dataclass(frozen=True)
class Block:
    index: int
    layers: tuple
    width_out: int  # c at the end of the block
    out_scales: int  # scales surviving at the end of the block


@dataclasses.dataclass(frozen=True)
class Plan:
    num_scales: int
    steps: tuple
    blocks: tuple
    resolutions: tuple  # spatial side of each scale


def block_steps(num_blocks, step_mode, step, base):
    steps = [base]
    for i in range(1, num_blocks):
        steps.append(step if step_mode == "even" else step * i + 1)
    return steps


def layer_scales(l, total, num_scales, prune):
    """(in_scales, out_scales) of dense layer l (1-based) of `total`."""
    if prune == "min":
        return min(num_scales, total - l + 2), min(num_scales, total - l + 1)
    interval = math.ceil(total / num_scales)
    in_scales = num_scales - math.floor(max(0, l - 2) / interval)
    out_scales = num_scales - math.floor((l - 1) / interval)
    return in_scales, out_scales


def _has_transition(l, total, in_scales, out_scales, prune):
    if prune == "max":
        return in_scales > out_scales
    return l in (math.floor(total / 3), math.floor(2 * total / 3))


def _conv_out(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def scale_resolutions(stem, image_size, num_scales):
    if stem == "imagenet":
        side = _conv_out(_conv_out(image_size, 7, 2, 3), 3, 2, 1)
    else:
        side = image_size
    sides = [side]
    for _ in range(1, num_scales):
        sides.append(_conv_out(sides[-1], 3, 2, 1))
    return tuple(sides)


def classifier_pool_side(coarsest_side):
    """Side of the map that reaches the 2x2 average pool of a classifier."""
    return _conv_out(_conv_out(coarsest_side, 3, 2, 1), 3, 2, 1)


def _check(cond, key, value, why):
    if not cond:
        raise ArchitectureError(f"model.{key} {why}. Received: model.{key}={value!r}")


def validate_model_kwargs(
    stem, num_blocks, step_mode, step, base, num_channels, growth_rate, growth_factors,
    bottleneck_factors, bottleneck, reduction, prune, num_classes, image_size, head_pool="fixed",
):
    """Raises ArchitectureError naming the first invalid or inconsistent value.

    head_pool "fixed" (the reference's 2x2 average pool) needs a 2x2 or 3x3 map
    at the classifiers; "global" pools any map.
    """
    _check(stem in ("cifar", "imagenet"), "stem", stem, "must be cifar or imagenet")
    _check(step_mode in ("even", "lin_grow"), "step_mode", step_mode, "must be even or lin_grow")
    _check(prune in ("max", "min"), "prune", prune, "must be max or min")
    for key, value in (("num_blocks", num_blocks), ("base", base), ("num_channels", num_channels),
                       ("growth_rate", growth_rate), ("num_classes", num_classes),
                       ("image_size", image_size)):
        _check(isinstance(value, int) and value >= 1, key, value, "must be an integer >= 1")
    _check(isinstance(step, int) and step >= (1 if num_blocks > 1 else 0), "step", step,
           "must be an integer >= 1")
    _check(isinstance(bottleneck, bool), "bottleneck", bottleneck, "must be true or false")
    _check(0 < reduction <= 1, "reduction", reduction, "must be in (0, 1]")
    _check(len(growth_factors) >= 1 and all(isinstance(g, int) and g >= 1 for g in growth_factors),
           "growth_factors", growth_factors, "must be a non-empty list of integers >= 1")
    _check(len(bottleneck_factors) == len(growth_factors), "bottleneck_factors",
           bottleneck_factors,
           f"must have one entry per scale, like growth_factors={list(growth_factors)}")
    _check(all(isinstance(b, int) and b >= 1 for b in bottleneck_factors), "bottleneck_factors",
           bottleneck_factors, "must be integers >= 1")
    # A ConvDownNormal splits growth_rate * gf[s] evenly between its two branches.
    odd = [s for s in range(1, len(growth_factors)) if (growth_rate * growth_factors[s]) % 2]
    _check(not odd, "growth_rate", growth_rate,
           f"times growth_factors[s] must be even for every scale s >= 1 (odd at scales {odd})")
    sides = scale_resolutions(stem, image_size, len(growth_factors))
    pool_side = classifier_pool_side(sides[-1])
    _check(pool_side in (2, 3) or head_pool == "global", "image_size", image_size,
           f"gives a {sides[-1]}x{sides[-1]} coarsest scale ({len(growth_factors)} scales, "
           f"{stem} stem) and a {pool_side}x{pool_side} map at the classifier's 2x2 average pool; "
           "it needs 2x2 or 3x3 (e.g. 32 for the cifar stem with 3 scales, 224 for imagenet "
           "with 4)")


def plan(stem, num_blocks, step_mode, step, base, num_channels, growth_rate, growth_factors,
         bottleneck_factors, bottleneck, reduction, prune, num_classes, image_size):
    """The layer plan for validated model hyperparameters."""
    num_scales = len(growth_factors)
    steps = block_steps(num_blocks, step_mode, step, base)
    total = sum(steps)
    c, l, blocks = num_channels, 0, []
    out_scales = num_scales
    for b, n in enumerate(steps):
        layers = []
        for _ in range(n):
            l += 1
            in_scales, out_scales = layer_scales(l, total, num_scales, prune)
            after = c + growth_rate
            to = 0
            if reduction > 0 and _has_transition(l, total, in_scales, out_scales, prune):
                to = math.floor(reduction * after)
            layers.append(DenseLayer(l, in_scales, out_scales, c, to))
            c = to or after
        blocks.append(Block(b, tuple(layers), c, out_scales))
    return Plan(num_scales, tuple(steps), tuple(blocks),
                scale_resolutions(stem, image_size, num_scales))
