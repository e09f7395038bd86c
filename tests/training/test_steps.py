"""make_train_step: the XLA-compiled step (train.jit_compile) equals the graph-mode step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf.models import MSDNet
from msdnet_tf.training import steps
from tests.conftest import TINY

SMALL = dict(TINY, num_blocks=2, base=1)


def _one_step(model, initial, jit_compile, images, labels):
    model.set_weights(initial)
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    step = steps.make_train_step(model, optimizer, tf.distribute.get_strategy(),
                                 [1.0] * model.num_exits, 1e-4, len(labels), jit_compile)
    # Through a tf.data iterator, as the trainer does: XLA must not see the iterator read.
    iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    ce, correct = step(iterator)
    return ce.numpy(), correct.numpy(), [w.numpy() for w in model.weights]


# About 16 s: XLA compiles the whole step on CPU.
@pytest.mark.slow
def test_jit_compiled_step_equals_graph_step():
    keras.utils.set_random_seed(0)
    model = MSDNet(**SMALL)
    initial = model.get_weights()
    rng = np.random.default_rng(0)
    images = rng.normal(size=(16, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, 16).astype("int32")
    ce, correct, after = _one_step(model, initial, False, images, labels)
    ce_xla, correct_xla, after_xla = _one_step(model, initial, True, images, labels)
    np.testing.assert_allclose(ce_xla, ce, rtol=1e-4)
    np.testing.assert_array_equal(correct_xla, correct)
    moved = max(np.abs(a - w).max() for a, w in zip(after, initial))
    assert moved > 1e-3  # the step did update the weights
    # The same update up to float32 reassociation in the compiled kernels. At this tiny
    # size a few ReLU masks flip with it and move single tensors by several % (float32
    # graph-mode gradients differ from float64 ones by as much), so: typical tensors
    # within 1% of their own update, none beyond 15%.
    errors = [np.abs(a - b).max() / max(np.abs(b - w).max(), 1e-9)
              for a, b, w in zip(after_xla, after, initial)]
    assert np.median(errors) < 0.01, errors
    assert max(errors) < 0.15, errors


# ------------------------------------------------------------- thread settings
def test_auto_threads_only_on_small_cpu_only_machines():
    from msdnet_tf.training.strategy import thread_settings

    assert thread_settings(-1, -1, cores=2, accelerators=False) == (1, 2)
    assert thread_settings(-1, -1, cores=4, accelerators=False) == (1, 4)
    assert thread_settings(-1, -1, cores=16, accelerators=False) == (0, 0)
    assert thread_settings(-1, -1, cores=2, accelerators=True) == (0, 0)
    # Explicit values are kept as they are; 0 is TensorFlow's default.
    assert thread_settings(3, 0, cores=2, accelerators=False) == (3, 0)
    assert thread_settings(-1, 5, cores=2, accelerators=False) == (1, 5)
