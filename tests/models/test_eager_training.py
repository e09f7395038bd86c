"""Every way Keras runs a model in training mode works with the packed-row BatchNorm:
eagerly, in a tf.function, and through compile/fit with and without run_eagerly."""

import numpy as np
import pytest

from tests.conftest import RANET_TINY, TINY


def _gradients(model, x, y, compiled):
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(x, y):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = tf.add_n([loss_fn(y, out[k]) for k in sorted(out)])
        return loss, tape.gradient(loss, model.trainable_variables)

    return (tf.function(step) if compiled else step)(x, y)


# RANet's twin (11 s) runs with pytest -m slow; MSDNet's stays in the default run.
@pytest.mark.parametrize("family", ["msdnet", pytest.param("ranet", marks=pytest.mark.slow)])
def test_eager_training_call_equals_the_graph_one(family):
    import keras

    from msdnet_tf.models import MSDNet, RANet

    keras.utils.set_random_seed(0)
    model = MSDNet(**TINY) if family == "msdnet" else RANet(**RANET_TINY)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=6)
    eager_loss, eager_grads = _gradients(model, x, y, compiled=False)
    graph_loss, graph_grads = _gradients(model, x, y, compiled=True)
    np.testing.assert_allclose(eager_loss, graph_loss, rtol=1e-5)
    names = [v.path for v in model.trainable_variables]
    assert any("gamma" in n for n in names)
    for name, a, b in zip(names, eager_grads, graph_grads):
        assert a is not None and b is not None, name
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_fit_trains_in_graph_and_eager_mode(run_eagerly):
    import keras

    from msdnet_tf.models import MSDNet

    keras.utils.set_random_seed(0)
    model = MSDNet(**TINY)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss={f"exit_{k}": keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                        for k in range(model.num_exits)},
                  run_eagerly=run_eagerly)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=8)
    before = [v.numpy().copy() for v in model.trainable_variables]
    history = model.fit(x, {f"exit_{k}": y for k in range(model.num_exits)}, batch_size=4,
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    moved = [not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables)]
    assert all(moved), [v.path for v, m in zip(model.trainable_variables, moved) if not m]
