"""The deployment graphs of a trained MSDNet, at batch size 1, as converter signatures.

    exit_signature(model, k)     image -> {"logits"}                     (exit_k.tflite)
    stage_signatures(model)      stage_k: scales of stage k-1 -> logits + scales (cascade)
    early_exit_signature(stages, size)  image, thresholds -> logits, exit  (early_exit.tflite)

All share the trained layers (no weight copies). Works for Keras 3 MSDNet models.
"""

import tensorflow as tf

from msdnet_tf.export.convert import Signature, keras_signature


def exit_signature(model, k):
    return keras_signature("serving_default", model.exit_model(k, batch_size=1))


def stage_signatures(model):
    return [keras_signature(f"stage_{k}", stage)
            for k, stage in enumerate(model.stage_models(batch_size=1))]


def _max_softmax(logits):
    return tf.reduce_max(tf.nn.softmax(logits, axis=-1))


def _exit_from(stages, k, feeds, thresholds):
    """Runs stage k, then leaves (tf.cond -> TFLite IF) or goes on to stage k + 1."""
    out = dict(stages[k](feeds, training=False))
    logits = out.pop("logits")
    done = tf.constant(k, tf.int32)
    if k == len(stages) - 1:
        return logits, done
    return tf.cond(_max_softmax(logits) >= thresholds[k],
                   lambda: (logits, done),
                   lambda: _exit_from(stages, k + 1, out, thresholds))


def early_exit_signature(stages, image_size):
    """One graph that exits inside: inputs `image` [1, S, S, 3] and `thresholds` [K].

    `stages`: the stage models (Keras 3 `model.stage_models(1)` or their tf_keras
    counterparts). Outputs `logits` [1, C] of the exit taken and `exit` (int32
    [1]): the first k whose max softmax probability is >= thresholds[k]; the
    last exit always answers. Untaken branches are not computed.
    """
    inputs = {"image": tf.TensorSpec([1, image_size, image_size, 3], tf.float32, name="image"),
              "thresholds": tf.TensorSpec([len(stages)], tf.float32, name="thresholds")}

    def fn(feeds):
        logits, taken = _exit_from(stages, 0, feeds["image"], feeds["thresholds"])
        return {"logits": logits, "exit": tf.reshape(taken, [1])}

    return Signature("serving_default", fn, inputs)
