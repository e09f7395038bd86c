"""blocks.Conv2D with fold_pad: in a traced training step, strided convs pad inside the
convolution (an option, off by default)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf import config as config_lib
from msdnet_tf.models import MSDNet, blocks
from msdnet_tf.training import optimizers, steps
from tests.conftest import TINY

SMALL = dict(TINY, num_blocks=2, base=1)


def _train(fold, images, labels):
    """Two trainer steps; returns (weights, traced graph)."""
    default, blocks.Conv2D.fold_pad = blocks.Conv2D.fold_pad, fold
    try:
        keras.utils.set_random_seed(0)
        model = MSDNet(**SMALL)
        optimizer = optimizers.from_config(config_lib.load_config().train)
        optimizer.build(model.trainable_variables)
        step = steps.make_train_step(model, optimizer, tf.distribute.get_strategy(),
                                     [1.0] * model.num_exits, 0.0, len(labels))
        iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
        for _ in range(2):
            step(iterator)
        return [w.numpy() for w in model.weights], step.get_concrete_function(iterator).graph
    finally:
        blocks.Conv2D.fold_pad = default


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, 8).astype("int32")
    return {fold: _train(fold, images, labels) for fold in (True, False)}


def _ops(graph, kind):
    return [op for op in graph.get_operations() if op.type == kind]


def test_pads_are_folded_into_the_strided_convs(runs):
    _, graph = runs[True]
    pads = _ops(graph, "Pad")
    assert pads and not any(op.outputs[0].consumers() for op in pads)  # dead, pruned
    explicit = [op for op in _ops(graph, "Conv2D") if op.get_attr("padding") == b"EXPLICIT"]
    assert len(explicit) == len(pads)
    for op in explicit:
        assert op.get_attr("explicit_paddings") == [0, 0, 1, 1, 1, 1, 0, 0]
    _, plain = runs[False]
    assert all(op.outputs[0].consumers() for op in _ops(plain, "Pad"))


def test_same_training_step_as_pad_then_conv(runs):
    folded, _ = runs[True]
    plain, _ = runs[False]
    for a, b in zip(folded, plain):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_inference_and_eager_calls_keep_keras_code(tiny_model):
    """Exported graphs (inference) keep their Pad + Conv; eager calls have no op to fold."""
    fn = tf.function(lambda x: tiny_model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, 32, 32, 3], tf.float32))
    assert not [op for op in _ops(fn.graph, "Conv2D") if op.get_attr("padding") == b"EXPLICIT"]
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    eager = tiny_model(x, training=True)
    assert all(np.isfinite(np.asarray(v)).all() for v in eager.values())


def test_folding_is_off_by_default():
    assert blocks.Conv2D.fold_pad is False


def test_stem_conv_with_bias_folds_its_7x7_pad(monkeypatch):
    monkeypatch.setattr(blocks.Conv2D, "fold_pad", True)
    model = MSDNet(**{**TINY, "stem": "imagenet", "image_size": 112, "num_classes": 20})
    conv = model.get_layer("stem_s0_conv")
    assert isinstance(conv, blocks.Conv2D) and conv.use_bias
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 112, 112, 3)).astype("float32"))
    pad = model.get_layer("stem_s0_pad")

    @tf.function
    def both(x):
        padded = pad(x)
        return conv(padded, training=True), conv(padded, training=False)

    folded, plain = both(x)
    graph = both.get_concrete_function(x).graph
    assert [op for op in _ops(graph, "Conv2D") if op.get_attr("padding") == b"EXPLICIT"]
    np.testing.assert_allclose(folded.numpy(), plain.numpy(), rtol=1e-5, atol=1e-5)
