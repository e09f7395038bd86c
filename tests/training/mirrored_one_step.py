"""Two train steps of msdnet_tf's make_train_step on one device and on two replicas.

    python mirrored_one_step.py '<model kwargs as JSON>' out.npz

Splits the host CPU into two logical devices (before TensorFlow initialises
them), then runs the same two steps, from the same initial weights on the same
fixed global batch, under OneDeviceStrategy and under MirroredStrategy over
/cpu:0 and /cpu:1, with momentum SGD, weight decay and unequal exit weights.
The optimizer is the trainer's (torch-style momentum, coupled weight decay in
its fused update); saves each strategy's per-step (CE sums, correct counts) and
its weights after each step. Run by tests/training/test_distributed.py in its own process, so the
pytest process keeps its single CPU device.
"""

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from msdnet_tf.models import MSDNet  # noqa: E402
from msdnet_tf.training import optimizers  # noqa: E402
from msdnet_tf.training.steps import make_train_step  # noqa: E402

GLOBAL_BATCH = 8
EXIT_WEIGHTS = [0.5, 2.0, 1.0, 1.5]  # The first num_blocks of them.
WEIGHT_DECAY = 0.05  # Large, so that a decay applied once per replica would show.
STEPS = 2  # The second step uses the momentum buffers filled by the first.


def main(tiny, out):
    assert len(tf.config.list_logical_devices("CPU")) == 2
    rng = np.random.default_rng(0)
    images = rng.normal(size=(GLOBAL_BATCH, tiny["image_size"], tiny["image_size"], 3))
    images = images.astype(np.float32)
    labels = rng.integers(0, tiny["num_classes"], GLOBAL_BATCH).astype(np.int32)
    keras.utils.set_random_seed(0)
    initial = MSDNet(**tiny).get_weights()

    strategies = {
        "one_device": tf.distribute.OneDeviceStrategy("/cpu:0"),
        "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
    }
    saved = {"initial/" + str(i): w for i, w in enumerate(initial)}
    for name, strategy in strategies.items():
        with strategy.scope():
            # Synchronized BN: the replicas' batch statistics are those of the global batch.
            model = MSDNet(**tiny, sync_bn=True)
            model.set_weights(initial)
            optimizer = optimizers.make_sgd(0.1, 0.9, style="torch", weight_decay=WEIGHT_DECAY)
            optimizer.build(model.trainable_variables)
        step = make_train_step(model, optimizer, strategy, EXIT_WEIGHTS[:tiny["num_blocks"]],
                               0.0, GLOBAL_BATCH)
        data = tf.data.Dataset.from_tensors((images, labels)).repeat()
        iterator = iter(strategy.experimental_distribute_dataset(data))
        saved[f"{name}/replicas"] = np.asarray(strategy.num_replicas_in_sync)
        for s in range(STEPS):
            ce, correct = step(iterator)
            saved[f"{name}/{s}/ce"] = ce.numpy()
            saved[f"{name}/{s}/correct"] = correct.numpy()
            for i, w in enumerate(model.weights):
                saved[f"{name}/{s}/weights/{i}"] = np.asarray(w)
        saved[f"{name}/num_weights"] = np.asarray(len(model.weights))
        saved[f"{name}/trainable"] = np.asarray(
            [any(w is t for t in model.trainable_weights) for w in model.weights])
    np.savez(out, **saved)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), sys.argv[2])
