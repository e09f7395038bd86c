"""`preprocess`: values, shapes, augmentation, and eager == tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf.data import registry
from msdnet_tf.data.errors import DataError
from msdnet_tf.data.preprocessing import preprocess, preprocess_batch

NATIVE = {"cifar10": (32, 32, 3), "cifar100": (32, 32, 3), "fashion_mnist": (28, 28, 1),
          "digits": (8, 8, 1), "imagenet2012": (60, 80, 3)}
SIZE = {"cifar10": 32, "cifar100": 32, "fashion_mnist": 32, "digits": 32, "imagenet2012": 48}


def _images(name, n=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n,) + NATIVE[name]).astype(np.uint8)


def _denormalise(name, x):
    info = registry.get_info(name)
    return (x * np.asarray(info.std) + np.asarray(info.mean)) * 255.0


def _normalise(name, pixels):
    info = registry.get_info(name)
    return (pixels / 255.0 - np.asarray(info.mean)) / np.asarray(info.std)


@pytest.mark.parametrize("name", sorted(NATIVE))
@pytest.mark.parametrize("training", [False, True])
def test_shape_and_range(name, training):
    info = registry.get_info(name)
    lo = (0 - max(info.mean)) / min(info.std)
    hi = (1 - min(info.mean)) / min(info.std)
    for image in _images(name, 2):
        x = preprocess(name, tf.constant(image), SIZE[name], training=training,
                       seed=tf.constant([1, 2])).numpy()
        assert x.shape == (SIZE[name], SIZE[name], 3) and x.dtype == np.float32
        assert np.isfinite(x).all() and lo - 1e-4 <= x.min() and x.max() <= hi + 1e-4


@pytest.mark.parametrize("name", sorted(NATIVE))
@pytest.mark.parametrize("training", [False, True])
def test_eager_equals_tf_data(name, training):
    images = _images(name)
    seeds = np.arange(2 * len(images), dtype=np.int64).reshape(-1, 2) + 7
    eager = np.stack([preprocess(name, tf.constant(im), SIZE[name], training, tf.constant(s))
                      for im, s in zip(images, seeds)])
    ds = tf.data.Dataset.from_tensor_slices((images, seeds)).map(
        lambda im, s: preprocess(name, im, SIZE[name], training, s), num_parallel_calls=4)
    in_graph = np.stack(list(ds.as_numpy_iterator()))
    np.testing.assert_allclose(in_graph, eager, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_preprocess_batch_equals_eager(name):
    images = _images(name, 3)
    eager = np.stack([preprocess(name, im, SIZE[name]) for im in images])
    np.testing.assert_allclose(preprocess_batch(name, images, SIZE[name]), eager, atol=1e-6)
    if NATIVE[name][-1] == 1:  # Gray batches may come without the channel axis.
        np.testing.assert_allclose(preprocess_batch(name, images[..., 0], SIZE[name]), eager,
                                   atol=1e-6)
    assert preprocess_batch(name, images[:0], SIZE[name]).shape == (0, SIZE[name], SIZE[name], 3)


def test_preprocess_batch_of_different_sizes():
    images = [_images("imagenet2012", 1)[0], np.zeros((90, 50, 3), np.uint8)]
    out = preprocess_batch("imagenet2012", images, 48)
    assert out.shape == (2, 48, 48, 3)
    np.testing.assert_allclose(out[1], np.broadcast_to(_normalise("imagenet2012", 0.0),
                                                       (48, 48, 3)), atol=1e-5)


def test_cifar_test_time_is_normalisation_only():
    image = _images("cifar100", 1)[0]
    x = preprocess("cifar100", image, 32).numpy()
    np.testing.assert_allclose(x, _normalise("cifar100", image.astype(np.float64)), atol=1e-5)


def test_fashion_mnist_zero_pad_then_gray_to_rgb():
    image = _images("fashion_mnist", 1)[0]
    x = preprocess("fashion_mnist", image, 32).numpy()
    np.testing.assert_allclose(x[2:30, 2:30], _normalise("fashion_mnist", image * 1.0),
                               atol=1e-5)
    border = _normalise("fashion_mnist", 0.0)[0]
    assert np.allclose(x[:2], border) and np.allclose(x[:, 30:], border)
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])


def test_digits_nearest_resize_replicates_pixels():
    image = _images("digits", 1)[0][..., 0]
    x = preprocess("digits", image, 32).numpy()
    expected = np.kron(image.astype(np.float64), np.ones((4, 4)))
    np.testing.assert_allclose(_denormalise("digits", x)[..., 1], expected, atol=1e-3)


def test_imagenet_resize_shorter_side_and_centre_crop():
    image = np.random.default_rng(3).integers(0, 256, (300, 400, 3)).astype(np.uint8)
    x = preprocess("imagenet2012", image, 224).numpy()
    # Shorter side 300 -> 256, longer floor(256 * 400 / 300) = 341; crop offsets
    # 16 and round_half_even(58.5) = 58.
    resized = tf.image.resize(tf.cast(image, tf.float32), [256, 341], antialias=True).numpy()
    np.testing.assert_allclose(x, _normalise("imagenet2012", resized[16:240, 58:282]),
                               atol=1e-5)


def test_cifar_augmentation_is_a_shifted_flipped_window():
    image = _images("cifar10", 1)[0]
    padded = np.pad(image, [(4, 4), (4, 4), (0, 0)]).astype(np.float64)
    windows = [w for dy in range(9) for dx in range(9)
               for w in (padded[dy:dy + 32, dx:dx + 32], padded[dy:dy + 32, dx:dx + 32][:, ::-1])]
    outputs = set()
    for s in range(8):
        x = _denormalise("cifar10", preprocess("cifar10", image, 32, True, [s, 0]).numpy())
        matches = [i for i, w in enumerate(windows) if np.allclose(w, x, atol=1e-3)]
        assert matches, "augmented image is not a (flipped) window of the padded image"
        outputs.add(matches[0])
    assert len(outputs) > 1  # Different seeds, different crops.


def test_same_seed_same_output_and_stateful_fallback():
    image = _images("imagenet2012", 1)[0]
    a = preprocess("imagenet2012", image, 48, True, tf.constant([5, 6])).numpy()
    b = preprocess("imagenet2012", image, 48, True, tf.constant([5, 6])).numpy()
    np.testing.assert_array_equal(a, b)
    assert preprocess("imagenet2012", image, 48, True).shape == (48, 48, 3)


def test_input_errors():
    with pytest.raises(DataError, match="uint8"):
        preprocess("cifar10", np.zeros((32, 32, 3), np.float32), 32)
    with pytest.raises(DataError, match="1 channel"):
        preprocess("fashion_mnist", np.zeros((28, 28, 3), np.uint8), 32)
    with pytest.raises(DataError, match="HWC"):
        preprocess("cifar10", np.zeros((1, 32, 32, 3), np.uint8), 32)
    with pytest.raises(DataError, match=r"\[H, W, 3\]"):
        preprocess_batch("imagenet2012", [np.zeros((40, 40), np.uint8)], 32)
