"""Every way Keras offers to train the model works and gives the trainer's update.

The trainer's step (`make_train_step` with `optimizers.from_config`: graph mode,
fused update with coupled weight decay), `compile`/`fit` in graph mode and eagerly (`run_eagerly=True`), and a user's
own `GradientTape` loop, eagerly and in a `tf.function`: two SGD steps with
momentum from the same weights on the same batch must land on the same weights and
BatchNorm statistics.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf import config as config_lib
from msdnet_tf.models import MSDNet
from msdnet_tf.training import optimizers, steps
from msdnet_tf.training.optimizers import TorchSGD
from tests.conftest import TINY

SMALL = dict(TINY, num_blocks=2, base=1)
LR, MOMENTUM, WD, BATCH, STEPS = 0.1, 0.9, 1e-4, 16, 2


@pytest.fixture(scope="module")
def setup():
    keras.utils.set_random_seed(0)
    model = MSDNet(**SMALL, init="torch_default")
    rng = np.random.default_rng(0)
    images = rng.normal(size=(BATCH, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, BATCH).astype("int32")
    return model, model.get_weights(), images, labels


def _optimizer():
    return TorchSGD(LR, momentum=MOMENTUM, coupled_weight_decay=WD)


def _mean_ce(model, outputs, labels):
    return tf.add_n([tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, outputs[f"exit_{k}"])) for k in range(model.num_exits)])


def _trainer(model, images, labels):
    """What msdnet_tf.training.Trainer builds (coupled decay inside the optimizer)."""
    cfg = config_lib.load_config(overrides=[
        "train.momentum_style=torch", f"train.learning_rate={LR}", f"train.momentum={MOMENTUM}",
        f"train.weight_decay={WD}"])
    optimizer = optimizers.from_config(cfg.train)
    optimizer.build(model.trainable_variables)
    step = steps.make_train_step(model, optimizer, tf.distribute.get_strategy(),
                                 [1.0] * model.num_exits, 0.0, BATCH)
    iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    for _ in range(STEPS):
        step(iterator)


def _fit(model, images, labels, run_eagerly):
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=_optimizer(),
                  loss={f"exit_{k}": loss for k in range(model.num_exits)},
                  run_eagerly=run_eagerly)
    targets = {f"exit_{k}": labels for k in range(model.num_exits)}
    model.fit(images, targets, batch_size=BATCH, epochs=STEPS, shuffle=False, verbose=0)


def _tape(model, images, labels, function):
    optimizer = _optimizer()

    def step():
        with tf.GradientTape() as tape:
            loss = _mean_ce(model, model(images, training=True), labels)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    step = tf.function(step) if function else step
    for _ in range(STEPS):
        step()


PATHS = {
    "fit_graph": lambda m, x, y: _fit(m, x, y, False),
    "fit_eager": lambda m, x, y: _fit(m, x, y, True),
    "tape_eager": lambda m, x, y: _tape(m, x, y, False),
    "tape_function": lambda m, x, y: _tape(m, x, y, True),
}


def _run(setup, path):
    model, initial, images, labels = setup
    model.set_weights(initial)
    (PATHS[path] if path != "trainer" else _trainer)(model, images, labels)
    return [np.asarray(w) for w in model.get_weights()]


@pytest.fixture(scope="module")
def trainer_weights(setup):
    return _run(setup, "trainer")


def test_eager_training_call_works(setup):
    model, initial, images, _ = setup
    model.set_weights(initial)
    outputs = model(images, training=True)  # failed in the packed-row BN before
    assert all(np.isfinite(np.asarray(v)).all() for v in outputs.values())


@pytest.mark.parametrize("path", sorted(PATHS))
def test_path_gives_the_trainer_update(setup, trainer_weights, path):
    _, initial, _, _ = setup
    got = _run(setup, path)
    moved = [np.abs(t - w).max() for t, w in zip(trainer_weights, initial)]
    assert min(moved) > 0  # every weight and statistic moved
    # Relative to each tensor's own update: graph and eager kernels differ in the
    # last float32 bits only.
    errors = [np.abs(g - t).max() / m for g, t, m in zip(got, trainer_weights, moved)]
    assert max(errors) < 1e-4, (path, max(errors))
