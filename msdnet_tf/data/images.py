"""Image files of any common format and mode, decoded to uint8 RGB the same way everywhere.

TensorFlow decodes JPEG, PNG, GIF (first frame), BMP and WebP itself; other formats
that Pillow reads (TIFF, PPM/PGM, ...) go through Pillow. Gray, palette, gray+alpha,
RGBA (alpha dropped), CMYK and 16-bit images all become 8-bit RGB (16-bit values are
scaled to 8 bits). The tf.data pipelines (`decode_tensor`), the statistics pass and
`msdnet_tf.predict` (`decode_file`) use the same rules, so a file that passed the
statistics pass decodes in training.
"""

import re

import numpy as np

# File name endings taken as images (lower case); other files in a class folder are ignored.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                    ".ppm", ".pgm", ".pbm", ".pnm")
# (offset, magic bytes) of the formats TensorFlow decodes; WebP: "RIFF" ... "WEBP".
TF_MAGIC = ((0, b"\xff\xd8\xff"), (0, b"\x89PNG\r\n\x1a\n"), (0, b"GIF8"), (0, b"BM"),
            (8, b"WEBP"))
_HEAD = 12


def is_image_name(name):
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def tf_decodes(head):
    """True when TensorFlow's decoders read these leading bytes (see TF_MAGIC)."""
    return any(head[offset:offset + len(magic)] == magic for offset, magic in TF_MAGIC)


def _to_rgb8(img):
    """A loaded PIL image as uint8 [H, W, 3]."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(img).astype(np.uint32)
        if mode == "I":  # 32-bit integers: keep the 16-bit range PNG/TIFF put there.
            array = np.clip(array, 0, 65535)
        gray = (array >> 8).astype(np.uint8)
        return np.repeat(gray[..., np.newaxis], 3, axis=-1)
    if mode == "F":
        gray = np.clip(np.asarray(img), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., np.newaxis], 3, axis=-1)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def pil_decode(data):
    """Encoded bytes -> uint8 [H, W, 3] with Pillow; ValueError when it cannot."""
    import io

    from PIL import Image, UnidentifiedImageError

    if isinstance(data, np.ndarray):  # a scalar string tensor, through tf.numpy_function
        data = data.item()
    try:
        with Image.open(io.BytesIO(bytes(data))) as img:
            img.load()
            return np.ascontiguousarray(_to_rgb8(img))
    except UnidentifiedImageError:
        raise ValueError("is not in an image format TensorFlow or Pillow reads") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"cannot be decoded ({e})") from None


def decode_tensor(contents):
    """A scalar string tensor of file bytes -> uint8 [H, W, 3] tensor (inside tf.data too).

    Undecodable bytes raise an InvalidArgumentError when run (the statistics pass
    finds such files first, so training never meets them).
    """
    import tensorflow as tf

    head = tf.strings.join([tf.strings.substr(contents, 0, _HEAD), "\0" * _HEAD])
    native = tf.zeros([], tf.bool)
    for offset, magic in TF_MAGIC:
        native = native | tf.equal(tf.strings.substr(head, offset, len(magic)), magic)

    def with_tf():
        return tf.io.decode_image(contents, channels=3, expand_animations=False)

    def with_pil():
        image = tf.numpy_function(pil_decode, [contents], tf.uint8, stateful=False)
        return tf.ensure_shape(image, [None, None, 3])

    image = tf.cond(native, with_tf, with_pil)
    image.set_shape([None, None, 3])
    return image


def _tf_reason(error):
    """The reason of a TensorFlow op error, without its function and op decorations."""
    text = (getattr(error, "message", None) or str(error)).strip().splitlines()[-1]
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:\w+\]\s*$", "", text).strip()


def decode_bytes(data):
    """Encoded bytes -> uint8 numpy [H, W, 3], by the rules of `decode_tensor`.

    ValueError (with the decoder's reason) when the bytes are not a readable image.
    """
    if tf_decodes(bytes(data[:_HEAD])):
        import tensorflow as tf

        try:
            return tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
            raise ValueError(f"cannot be decoded ({_tf_reason(e)})") from None
    return pil_decode(data)


def decode_file(path):
    """uint8 [H, W, 3] of an image file; ValueError saying why it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"cannot be read ({e.strerror or e})") from None
    if not data:
        raise ValueError("is empty")
    return decode_bytes(data)
