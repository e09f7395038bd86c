"""Distributed train and eval steps for multi-exit MSDNet training.

Loss: sum over exits of w_k * cross-entropy, averaged over the *global*
batch (each replica divides by the global batch size, gradients are summed
across replicas). Weight decay is PyTorch's coupled L2 (gradient +=
wd * w on every trainable variable): it is added to the loss as
0.5 * wd * sum(w^2) / replicas, so it is summed back to wd * w across
replicas and is scaled together with the loss under mixed_float16.
"""

import tensorflow as tf


def _cross_entropy(labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, tf.cast(logits, tf.float32))


def _correct(labels, logits):
    pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(pred, labels), tf.float32))



def weight_decay_loss(variables, weight_decay, replicas):
    """Coupled L2 weight decay as a loss term: 0.5 * wd * sum(w^2), per replica (0 when off)."""
    if not weight_decay:
        return 0.0
    l2 = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])
    return 0.5 * weight_decay * l2 / replicas

def make_train_step(model, optimizer, strategy, exit_weights, weight_decay, global_batch,
                    jit_compile=False, variables=None, exit_losses=None):
    """A tf.function running one step on a distributed batch.

    Returns per-exit sums over the global batch: (loss, correct), the loss being
    cross-entropy unless `exit_losses(outputs, labels)` gives other per-exit per-sample
    losses (IMTA's stage 2, `training.imta`). `variables`: what the optimizer updates
    (default: the model's trainable variables).
    """
    variables = model.trainable_variables if variables is None else list(variables)
    replicas = strategy.num_replicas_in_sync
    weights = [float(w) for w in exit_weights]
    scale_loss = getattr(optimizer, "scale_loss", None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            if exit_losses is None:
                ce = [_cross_entropy(labels, outputs[f"exit_{k}"]) for k in range(len(weights))]
            else:
                ce = exit_losses(outputs, labels)
            loss = tf.add_n([w * tf.reduce_sum(c) for w, c in zip(weights, ce)]) / global_batch
            loss += weight_decay_loss(variables, weight_decay, replicas)
            if scale_loss is not None:
                loss = scale_loss(loss)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return (tf.stack([tf.reduce_sum(c) for c in ce]),
                tf.stack([_correct(labels, outputs[f"exit_{k}"]) for k in range(len(weights))]))

    if jit_compile:
        # XLA cannot compile the iterator read: compile the replica step only.
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def step(iterator):
        images, labels = next(iterator)
        ce, correct = strategy.run(replica_step, args=(images, labels))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, ce, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None))

    return step


def make_eval_step(model, strategy, num_exits):
    """A tf.function returning per-exit (correct count, example count) of a batch."""

    def replica_step(images, labels):
        outputs = model(images, training=False)
        correct = tf.stack([_correct(labels, outputs[f"exit_{k}"]) for k in range(num_exits)])
        return correct, tf.cast(tf.shape(labels)[0], tf.float32)

    @tf.function
    def step(batch):
        correct, count = strategy.run(replica_step, args=batch)
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None))

    return step


def evaluate_top1(model, strategy, dataset, num_exits, step=None):
    """Top-1 accuracy (percent) of every exit over a finite dataset of (images, labels).

    `step`: a `make_eval_step` function to reuse (one trace for every call).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dist = strategy.experimental_distribute_dataset(dataset.with_options(options))
    step = step or make_eval_step(model, strategy, num_exits)
    correct, total = None, 0.0
    for batch in dist:
        c, n = step(batch)
        correct = c if correct is None else correct + c
        total += float(n)
    if not total:
        raise ValueError("evaluation dataset is empty")
    return [100.0 * float(v) / total for v in correct.numpy()]
