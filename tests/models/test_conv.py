"""blocks.Conv2D (1x1 gradients as MatMuls in training) equals keras.layers.Conv2D."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf.models import MSDNet, RANet, blocks
from tests.conftest import RANET_TINY


def _pair(shape, filters, dtype="float32", **kwargs):
    """(keras.layers.Conv2D, blocks.Conv2D): 1x1, built for `shape`, same weights."""
    rng = np.random.default_rng(0)
    layers = [cls(filters, 1, dtype=dtype, **kwargs)
              for cls in (keras.layers.Conv2D, blocks.Conv2D)]
    for layer in layers:
        layer.build(shape)
    weights = [rng.standard_normal(w.shape).astype("float32") for w in layers[0].weights]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def _train_call(layer, x, w, function=True):
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, "float32") * w)
        return y, tape.gradient(loss, [x] + layer.trainable_weights)

    y, grads = (tf.function(run) if function else run)(x)
    return [y] + grads


def _rel(a, b):
    a, b = (np.asarray(tf.cast(v, "float32")) for v in (a, b))
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))


@pytest.mark.parametrize("function", [True, False], ids=["graph", "eager"])
@pytest.mark.parametrize("shape,filters,kwargs", [
    ((8, 16, 16, 40), 6, {"use_bias": False}),
    ((4, 8, 8, 332), 164, {"use_bias": False}),
    ((3, 5, 7, 6), 11, {"use_bias": True, "activation": "relu"}),
    ((1, 1, 1, 3), 2, {"use_bias": True, "padding": "same"}),
])
def test_pointwise_training_outputs_and_gradients_match_keras(shape, filters, kwargs, function):
    x = tf.random.stateless_normal(shape, seed=(1, 2))
    keras_conv, conv = _pair(shape, filters, **kwargs)
    assert conv._pointwise(True)
    w = tf.random.stateless_normal(keras_conv.compute_output_shape(shape), seed=(3, 4))
    a = _train_call(keras_conv, x, w, function)
    b = _train_call(conv, x, w, function)
    # The forward is the same convolution op: identical outputs, in training and inference.
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(keras_conv(x, training=False), conv(x, training=False))
    assert len(a) == len(b) == 3 + kwargs["use_bias"]
    for name, u, v in zip(("dx", "dkernel", "dbias"), a[1:], b[1:]):
        assert u.shape == v.shape, name
        assert _rel(u, v) < 1e-5, name


def test_gradients_are_the_matrix_products_over_pixel_rows():
    # dx = dy W^T and dW = X^T dy, against float64 numpy.
    shape, filters = (2, 6, 5, 24), 7
    x = tf.random.stateless_normal(shape, seed=(5, 6))
    _, conv = _pair(shape, filters, use_bias=False)
    w = tf.random.stateless_normal((2, 6, 5, filters), seed=(7, 8))
    _, dx, dkernel = _train_call(conv, x, w)
    rows = x.numpy().reshape(-1, 24).astype("float64")
    dy = w.numpy().reshape(-1, filters).astype("float64")
    kernel = conv.kernel.numpy().reshape(24, filters).astype("float64")
    np.testing.assert_allclose(dkernel.numpy().reshape(24, filters), rows.T @ dy, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(dx.numpy().reshape(-1, 24), dy @ kernel.T, rtol=1e-5, atol=1e-5)


def test_bfloat16_inputs_match_keras():
    shape, filters = (16, 8, 8, 40), 12
    x = tf.cast(tf.random.stateless_normal(shape, seed=(9, 10)), "bfloat16")
    w = tf.random.stateless_normal((16, 8, 8, filters), seed=(11, 12))
    keras_conv, conv = _pair(shape, filters, dtype="mixed_bfloat16", use_bias=False)
    a, b = _train_call(keras_conv, x, w), _train_call(conv, x, w)
    assert a[0].dtype == b[0].dtype == tf.bfloat16
    assert a[2].dtype == b[2].dtype == tf.float32  # the variable's gradient, float32 in both
    np.testing.assert_array_equal(a[0], b[0])
    for name, u, v in zip(("dx", "dkernel"), a[1:], b[1:]):
        assert _rel(u, v) < 1e-2, name


def test_falls_back_to_keras_outside_1x1_stride_1_training():
    for kwargs in ({"kernel_size": 3}, {"kernel_size": 1, "strides": 2},
                   {"kernel_size": 1, "dilation_rate": 2}, {"kernel_size": 1, "groups": 2},
                   {"kernel_size": 1, "data_format": "channels_first"}):
        assert not blocks.Conv2D(4, **kwargs)._pointwise(True), kwargs
    layer = blocks.Conv2D(4, 1)
    assert layer._pointwise(True)
    assert not layer._pointwise(False) and not layer._pointwise(None)


def test_pointwise_matmul_off_is_keras_own_gradient(monkeypatch):
    monkeypatch.setattr(blocks.Conv2D, "pointwise_matmul", False)
    assert not blocks.Conv2D(4, 1)._pointwise(True)


def _grads(model, x, labels):
    @tf.function
    def run():
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            loss = tf.add_n([tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, outputs[k], from_logits=True)) for k in sorted(outputs)])
        return tape.gradient(loss, model.trainable_variables)
    return run()


@pytest.mark.parametrize("family", ["msdnet", "ranet"])
def test_models_use_it_and_whole_model_gradients_match(family, monkeypatch):
    if family == "msdnet":
        def build():
            return MSDNet(num_blocks=3, step=1, base=1, num_channels=8, growth_rate=4,
                          num_classes=5)
    else:
        def build():
            return RANet(**{**RANET_TINY, "num_classes": 5})
    keras.utils.set_random_seed(0)
    model = build()
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(type(layer) is blocks.Conv2D for layer in convs)
    assert type(convs[0]).__name__ == "Conv2D"  # export/qat.py maps layers by class name
    assert any(layer._pointwise(True) for layer in convs)
    x = tf.random.stateless_normal((6, 32, 32, 3), seed=(13, 14))
    labels = tf.constant([0, 1, 2, 3, 4, 0])
    fast = _grads(model, x, labels)
    monkeypatch.setattr(blocks.Conv2D, "pointwise_matmul", False)
    keras.utils.set_random_seed(0)
    reference = build()
    reference.set_weights(model.get_weights())
    for v, a, b in zip(model.trainable_variables, _grads(reference, x, labels), fast):
        assert _rel(a, b) < 1e-4, v.path


def test_config_round_trip():
    layer = blocks.Conv2D(6, 1, use_bias=False, name="c")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is blocks.Conv2D and clone.get_config() == layer.get_config()
