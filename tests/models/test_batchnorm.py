"""blocks.BatchNormalization (fused kernel or packed rows in training) equals Keras BN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf.models import MSDNet, blocks


def _pair(shape, dtype="float32"):
    rng = np.random.default_rng(0)
    layers = []
    for cls in (keras.layers.BatchNormalization, blocks.BatchNormalization):
        layer = cls(momentum=blocks.BN_MOMENTUM, epsilon=blocks.BN_EPSILON, dtype=dtype)
        layer.build(shape)
        layers.append(layer)
    gamma = rng.uniform(0.5, 1.5, shape[-1]).astype("float32")
    beta = rng.standard_normal(shape[-1]).astype("float32")
    mean = rng.standard_normal(shape[-1]).astype("float32")
    var = rng.uniform(0.5, 2.0, shape[-1]).astype("float32")
    for layer in layers:
        layer.set_weights([gamma, beta, mean, var])
    return layers


def _train_call(layer, x, w):
    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, "float32") * w)
        return y, tape.gradient(loss, [x, layer.gamma, layer.beta])

    y, grads = run(x)
    return [y] + grads + [layer.moving_mean, layer.moving_variance]


def _rel(a, b):
    a, b = (np.asarray(tf.cast(v, "float32")) for v in (a, b))
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))


@pytest.mark.parametrize("packed", [True, False], ids=["packed_rows", "fused_kernel"])
@pytest.mark.parametrize("shape", [(8, 16, 16, 12), (64, 2, 2, 32), (3, 5, 7, 4), (4, 8, 8, 70),
                                   (3, 5, 7, 6), (1, 1, 3, 22)])
def test_training_outputs_gradients_and_moving_stats_match_keras(shape, packed, monkeypatch):
    # (3, 5, 7, 6) and (1, 1, 3, 22): N*H*W is not a multiple of the row packing (8).
    monkeypatch.setattr(blocks.BatchNormalization, "packed", packed)
    x = tf.random.stateless_normal(shape, seed=(1, 2)) * 3.0 + 1.5
    w = tf.random.stateless_normal(shape, seed=(3, 4))
    keras_bn, fused = _pair(shape)
    # Inference is Keras's own code path: identical.
    np.testing.assert_array_equal(keras_bn(x, training=False), fused(x, training=False))
    names = ("y", "dx", "dgamma", "dbeta", "moving_mean", "moving_variance")
    for name, a, b in zip(names, _train_call(keras_bn, x, w), _train_call(fused, x, w)):
        assert _rel(a, b) < 2e-5, name


@pytest.mark.parametrize("shape", [(16, 8, 8, 12), (16, 8, 8, 32)])
def test_bfloat16_inputs_match_keras(shape):
    x = tf.random.stateless_normal(shape, seed=(5, 6)) * 2.0 + 0.5
    w = tf.random.stateless_normal(shape, seed=(7, 8))
    keras_bn, fused = _pair(shape, dtype="mixed_bfloat16")
    x = tf.cast(x, "bfloat16")
    a, b = _train_call(keras_bn, x, w), _train_call(fused, x, w)
    assert a[0].dtype == b[0].dtype == tf.bfloat16
    names = ("y", "dx", "dgamma", "dbeta", "moving_mean", "moving_variance")
    for name, u, v, tol in zip(names, a, b, (1e-2, 1e-2, 1e-2, 1e-2, 1e-5, 1e-5)):
        assert _rel(u, v) < tol, name  # y and dx are bfloat16; statistics float32 in both


def test_model_uses_it_and_it_is_a_keras_batchnorm():
    model = MSDNet(num_blocks=2, step=1, base=1, num_channels=4, growth_rate=2, num_classes=5)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(type(layer) is blocks.BatchNormalization for layer in bns)
    assert type(bns[0]).__name__ == "BatchNormalization"  # export/qat.py maps layers by name


def test_falls_back_to_keras_when_synchronized_not_4d_or_float64():
    layer = blocks.BatchNormalization(synchronized=True)
    assert not layer._fused(tf.zeros((2, 3, 3, 4)), True, None)
    layer = blocks.BatchNormalization()
    assert not layer._fused(tf.zeros((2, 4)), True, None)
    assert not layer._fused(tf.zeros((2, 3, 3, 4)), False, None)
    assert not layer._fused(tf.zeros((2, 3, 3, 4), "float64"), True, None)
    assert layer._fused(tf.zeros((2, 3, 3, 4), "bfloat16"), True, None)
    assert layer._fused(tf.zeros((2, 3, 3, 4)), True, None)
