"""One augmented crop of an image at several input sides (resolution-switchable training).

SAN and RS-Nets train every resolution on *the same* random crop of an image,
resized to each side. `preprocess_resolutions` runs the training recipe of
the largest side's spec once, and branches where the recipe
sizes the image: at its last `resize` / `random_resized_crop` op, which is
applied once per side with the same random box (so ImageNet's crop box is
resized straight to every side, never resized twice); a recipe that ends at
its native side (CIFAR, Fashion-MNIST at 32) gets the resize of the test-time
recipe at each smaller side appended, i.e. the crop is resized with
`tf.image.resize` by that recipe's method (bilinear with antialiasing; nearest
for digits). Ops after the branch point (a flip) run on every branch with the
same seed, so every side sees the same flip. At sizes[0] the result is
exactly `preprocess(spec, image, training=True, seed=seed)` with that side's spec.
"""

import tensorflow as tf

from msdnet_tf.data import registry
from msdnet_tf.data.preprocessing import _APPLY, _RANDOM_OPS, _as_hwc_uint8, op_seeds

_SIZING_OPS = ("resize", "random_resized_crop")


def _resize_op(spec, size):
    """The test-time recipe's resize to `size` (the method training must match)."""
    ops = [op for op in spec["ops"] if op["op"] == "resize" and op["height"] == size]
    if not ops:
        raise ValueError(f"the {spec['dataset']} recipe has no resize to {size}")
    return ops[-1]


def _normalise(x, spec, size):
    mean = tf.constant(spec["mean"], tf.float32)
    std = tf.constant(spec["std"], tf.float32)
    return tf.ensure_shape((x * spec["pixel_scale"] - mean) / std, [size, size, 3])


def side_specs(specs_or_dataset, sizes=None):
    """[spec] one per side, largest first: `specs_or_dataset` is such a list (a
    `DataBundle.spec_at` per side) or a listed dataset's name with its `sizes`."""
    if isinstance(specs_or_dataset, str):
        return [registry.preprocessing_spec(specs_or_dataset, int(s)) for s in sizes]
    specs = list(specs_or_dataset)
    if sizes is not None and [sp["output"]["height"] for sp in specs] != [int(s) for s in sizes]:
        raise ValueError(f"the specs make {[sp['output']['height'] for sp in specs]} inputs. "
                         f"Received: sizes={list(sizes)}")
    return specs


def preprocess_resolutions(specs_or_dataset, image, sizes=None, seed=None):
    """uint8 HWC image -> tuple of float32 [s, s, 3], one augmented crop per side.

    `specs_or_dataset`: the preprocessing spec of every side, largest first (their
    `train_ops` follow one `data.augment` rule; `DataBundle.spec_at`), or the name of
    a listed dataset together with `sizes` (decreasing: the model's resolutions).
    `seed` a shape-[2] integer tensor for the stateless random ops, as in `preprocess`.
    """
    specs = side_specs(specs_or_dataset, sizes)
    sizes = [sp["output"]["height"] for sp in specs]
    spec = specs[0]
    ops = spec["train_ops"]
    x = tf.cast(_as_hwc_uint8(image, spec["channels_in"]), tf.float32)
    seeds = op_seeds(ops, seed)
    branch = max((i for i, op in enumerate(ops) if op["op"] in _SIZING_OPS), default=None)
    xs, used = [x], 0
    for i, op in enumerate(ops):
        op_seed = None
        if op["op"] in _RANDOM_OPS:
            op_seed, used = seeds[used], used + 1
        if i == branch:
            xs = [_APPLY[op["op"]](xs[0], {**op, "height": s, "width": s}, op_seed)
                  for s in sizes]
        else:
            xs = [_APPLY[op["op"]](t, op, op_seed) for t in xs]
    if branch is None:
        xs = xs + [_APPLY["resize"](xs[0], _resize_op(sp, s), None)
                   for sp, s in zip(specs[1:], sizes[1:])]
    return tuple(_normalise(t, sp, s) for t, sp, s in zip(xs, specs, sizes))
