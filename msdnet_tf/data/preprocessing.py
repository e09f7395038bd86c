"""The one preprocessing function of every dataset (training, eval, calibration, harness).

`preprocess` executes a preprocessing spec (`registry.preprocessing_spec(dataset,
image_size)`, a `DataBundle`'s `preprocessing_spec()`, or the `preprocessing` of a
manifest.json): the ops run in pixel space on float32 0..255, then
`(x * pixel_scale - mean) / std`. Pass the spec dict itself, or a listed dataset's name
and the image size.
Random ops are stateless: given the same `seed` (int32/int64 pair) the result
is the same eagerly and inside `tf.data`, whatever the parallelism.
"""

import functools
import json

import numpy as np
import tensorflow as tf

from msdnet_tf.data import registry
from msdnet_tf.data.errors import DataError

_RANDOM_OPS = ("random_crop", "random_flip_left_right", "random_resized_crop")


def _gray_to_rgb(x, op, seed):
    del op, seed
    return tf.tile(x, [1, 1, 3]) if x.shape[-1] == 1 else x


def _pad(x, op, seed):
    del seed
    p = op["pixels"]
    return tf.pad(x, [[p, p], [p, p], [0, 0]], constant_values=float(op["value"]))


def _resize(x, op, seed):
    del seed
    return tf.image.resize(x, [op["height"], op["width"]], method=op["method"],
                           antialias=op["antialias"])


def _resize_shorter_side(x, op, seed):
    del seed
    shape = tf.cast(tf.shape(x)[:2], tf.float64)
    short = tf.reduce_min(shape)
    size = tf.constant(op["size"], tf.float64)
    # The shorter side becomes `size`, the longer floor(size * longer / shorter).
    new = tf.where(shape == short, size, tf.floor(size * shape / short))
    return tf.image.resize(x, tf.cast(new, tf.int32), method=op["method"],
                           antialias=op["antialias"])


def _center_crop(x, op, seed):
    del seed
    crop = tf.constant([op["height"], op["width"]], tf.int32)
    shape = tf.shape(x)[:2]
    # tf.round rounds half to even, like torchvision's int(round(...)).
    offset = tf.cast(tf.round(tf.cast(shape - crop, tf.float32) / 2.0), tf.int32)
    return tf.image.crop_to_bounding_box(x, offset[0], offset[1], op["height"], op["width"])


def _random_crop(x, op, seed):
    size = tf.stack([op["height"], op["width"], tf.shape(x)[2]])
    return tf.image.stateless_random_crop(x, size, seed=seed)


def _random_flip(x, op, seed):
    del op
    return tf.image.stateless_random_flip_left_right(x, seed=seed)


def _random_resized_crop(x, op, seed):
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(x), bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
        seed=seed, min_object_covered=0.0, aspect_ratio_range=op["aspect_ratio_range"],
        area_range=op["area_range"], max_attempts=op["max_attempts"],
        use_image_if_no_bounding_boxes=True)
    x = tf.slice(x, begin, size)
    return tf.image.resize(x, [op["height"], op["width"]], method=op["method"],
                           antialias=op["antialias"])


_APPLY = {
    "gray_to_rgb": _gray_to_rgb,
    "pad": _pad,
    "resize": _resize,
    "resize_shorter_side": _resize_shorter_side,
    "center_crop": _center_crop,
    "random_crop": _random_crop,
    "random_flip_left_right": _random_flip,
    "random_resized_crop": _random_resized_crop,
}


def _as_hwc_uint8(image, channels):
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        raise DataError("preprocess expects uint8 pixels (0..255). "
                        f"Received: dtype={image.dtype.name}")
    if image.shape.rank == 2:
        image = image[:, :, tf.newaxis]
    if image.shape.rank != 3:
        raise DataError(f"preprocess expects one HWC (or HW) image. Received: shape={image.shape}")
    if image.shape[-1] is not None and image.shape[-1] != channels:
        raise DataError(f"this dataset's images have {channels} channel(s). "
                        f"Received: shape={image.shape}")
    return image


def _resolve(spec_or_dataset, image_size):
    """(spec dict, output side) of a spec dict or a listed dataset's name."""
    if isinstance(spec_or_dataset, dict):
        spec = spec_or_dataset
        size = spec["output"]["height"]
        if image_size is not None and image_size != size:
            raise DataError(f"this preprocessing spec makes {size}x{size} inputs. "
                            f"Received: image_size={image_size!r}")
        return spec, size
    if image_size is None:
        raise DataError("preprocess needs image_size with a dataset name")
    return registry._spec(spec_or_dataset, image_size), image_size  # pylint: disable=protected-access



def op_seeds(ops, seed):
    """One stateless seed per random op of `ops`, split from `seed` (a shape-[2] integer
    tensor; drawn from the global generator when None); None when no op is random."""
    num_random = sum(op["op"] in _RANDOM_OPS for op in ops)
    if not num_random:
        return None
    if seed is None:
        seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
    return tf.random.experimental.stateless_split(seed, num=num_random)

def preprocess(spec_or_dataset, image, image_size=None, training=False, seed=None):
    """One uint8 HWC (or HW) image -> float32 normalised `image_size x image_size x 3`.

    `spec_or_dataset`: a preprocessing spec dict, or the name of a listed dataset
    (then `image_size` is required). With `training=True` applies the training ops
    (`train_ops`, the `data.augment` rule); `seed` is a shape-[2] integer tensor for
    the stateless random ops (drawn from the global generator when None). Works
    eagerly and in `tf.data`/`tf.function`.
    """
    spec, image_size = _resolve(spec_or_dataset, image_size)
    ops = spec["train_ops"] if training else spec["ops"]
    x = tf.cast(_as_hwc_uint8(image, spec["channels_in"]), tf.float32)
    seeds = op_seeds(ops, seed)
    used = 0
    for op in ops:
        op_seed = None
        if op["op"] in _RANDOM_OPS:
            op_seed, used = seeds[used], used + 1
        x = _APPLY[op["op"]](x, op, op_seed)
    mean = tf.constant(spec["mean"], tf.float32)
    std = tf.constant(spec["std"], tf.float32)
    x = (x * spec["pixel_scale"] - mean) / std
    return tf.ensure_shape(x, [image_size, image_size, 3])


@functools.lru_cache(maxsize=64)
def _test_time_fn(spec_json):
    spec = json.loads(spec_json)
    signature = [tf.TensorSpec([None, None, spec["channels_in"]], tf.uint8)]
    return tf.function(lambda image: preprocess(spec, image), input_signature=signature)


def preprocess_batch(spec_or_dataset, images_uint8, image_size=None):
    """Test-time preprocessing of a batch, for harnesses: returns np.float32 [N, S, S, 3].

    `spec_or_dataset` as for `preprocess`. `images_uint8` is an array [N, H, W] /
    [N, H, W, C] or a sequence of HW / HWC uint8 arrays (sizes may differ, e.g. ImageNet).
    """
    spec, image_size = _resolve(spec_or_dataset, image_size)
    fn = _test_time_fn(json.dumps(spec, sort_keys=True))
    channels, dataset = spec["channels_in"], spec["dataset"]
    out = []
    for image in images_uint8:
        image = np.asarray(image)
        image = image[..., np.newaxis] if image.ndim == 2 else image
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != channels:
            raise DataError(f"preprocess_batch expects uint8 {dataset} images of shape "
                            f"[H, W, {channels}] (or [H, W] if gray). Received: "
                            f"dtype={image.dtype}, shape={image.shape}")
        out.append(fn(image).numpy())
    if not out:
        return np.zeros([0, image_size, image_size, 3], np.float32)
    return np.stack(out)
