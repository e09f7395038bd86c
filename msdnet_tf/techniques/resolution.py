"""Training a resolution-switchable model (SAN, Li et al., ECCV 2020), for every family.

Every step takes one augmented crop per image at every side r_0 > r_1 > ...
(`msdnet_tf.data.multiscale`), runs the network at each side (shared
convolutions and Dense layers, that side's private BatchNorm in training mode)
and minimises, averaged over the global batch,

    sum_r v_r sum_k w_k CE(z_{r,k}, y)
  + weight * T^2 * sum_{(i, j)} v_j sum_k w_k KL(softmax(sg(z_{i,k}) / T) || softmax(z_{j,k} / T))

where sg is stop-gradient and the pairs (teacher i, student j), i < j (larger
teaches smaller), come from `train.resolution_kd`: none; largest = (0, j) for
every smaller j; dense = every i < j (SAN's "top-down dense" loss, whose
reference uses T = 1, weight 1, batch-mean KL). Exit k of the student learns
from exit k of the teacher. Weight decay and the exit weights w_k are the
ordinary recipe's; v_r is side r's `train.resolution_weights` entry (1 when
empty, as SAN sums the sides). The best checkpoint maximises the mean over
resolutions of the last exit's hold-out top-1 (SAN selects on the mean top-1
over sizes).
"""

import keras
import numpy as np
import tensorflow as tf

from msdnet_tf import flops
from msdnet_tf.training import steps as steps_lib
from msdnet_tf.training.trainer import Trainer


def kd_pairs(num_resolutions, mode):
    """[(teacher, student)] resolution indices (0 = largest) of `train.resolution_kd`."""
    if mode == "none":
        return []
    if mode == "largest":
        return [(0, j) for j in range(1, num_resolutions)]
    if mode == "dense":
        return [(i, j) for j in range(1, num_resolutions) for i in range(j)]
    raise ValueError(f"train.resolution_kd must be none, largest or dense. Received: {mode!r}")


def distillation(teacher_logits, student_logits, temperature):
    """Per-sample T^2 * KL(softmax(sg(t) / T) || softmax(s / T)) -> [N]."""
    t = tf.stop_gradient(tf.cast(teacher_logits, tf.float32)) / temperature
    s = tf.cast(student_logits, tf.float32) / temperature
    p = tf.nn.softmax(t)
    kl = tf.reduce_sum(p * (tf.nn.log_softmax(t) - tf.nn.log_softmax(s)), axis=-1)
    return temperature ** 2 * kl


def resolution_loss(logits, labels, exit_weights, pairs, temperature, kd_weight,
                    side_weights=None):
    """(summed loss over the batch, per (r, k) cross-entropy sums, distillation sum).

    logits: [R][K] logits; the caller divides by the global batch. side_weights: one
    weight per side (None or empty: 1 each) on its cross-entropy and, as the student,
    its distillation; the returned sums are unweighted by side for the CE, weighted
    for the distillation (what enters the loss before `kd_weight`).
    """
    sides = [float(v) for v in side_weights] if side_weights else [1.0] * len(logits)
    if len(sides) != len(logits):
        raise ValueError(f"side_weights must have one weight per side ({len(logits)}). "
                         f"Received: side_weights={list(side_weights)}")
    ce = [[tf.nn.sparse_softmax_cross_entropy_with_logits(labels, tf.cast(z, tf.float32))
           for z in row] for row in logits]
    ce_sums = [[tf.reduce_sum(c) for c in row] for row in ce]
    loss = tf.add_n([v * w * c for v, row in zip(sides, ce_sums)
                     for w, c in zip(exit_weights, row)])
    kd = tf.constant(0.0)
    for i, j in pairs:
        for k, w in enumerate(exit_weights):
            kd += sides[j] * w * tf.reduce_sum(
                distillation(logits[i][k], logits[j][k], temperature))
    return loss + kd_weight * kd, ce_sums, kd


def make_train_step(model, optimizer, strategy, exit_weights, weight_decay, global_batch,
                    kd_mode="dense", temperature=1.0, kd_weight=1.0, jit_compile=False,
                    side_weights=None):
    """One step on a distributed batch ((images per resolution), labels).

    Returns per (resolution, exit) sums over the global batch, flattened [R * K]
    resolution-major: (cross-entropy, correct), and the distillation sum.
    """
    views = [model.at_resolution(r) for r in model.resolutions]
    variables = model.trainable_variables
    replicas = strategy.num_replicas_in_sync
    weights = [float(w) for w in exit_weights]
    pairs = kd_pairs(len(views), kd_mode)
    scale_loss = getattr(optimizer, "scale_loss", None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            outs = [view(x, training=True) for view, x in zip(views, images)]
            logits = [[out[f"exit_{k}"] for k in range(len(weights))] for out in outs]
            loss, ce_sums, kd = resolution_loss(logits, labels, weights, pairs, temperature,
                                                kd_weight, side_weights)
            loss = loss / global_batch
            loss += steps_lib.weight_decay_loss(variables, weight_decay, replicas)
            if scale_loss is not None:
                loss = scale_loss(loss)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        correct = [steps_lib._correct(labels, z) for row in logits for z in row]  # noqa: SLF001
        return tf.stack([c for row in ce_sums for c in row]), tf.stack(correct), kd

    if jit_compile:
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def step(iterator):
        images, labels = next(iterator)
        ce, correct, kd = strategy.run(replica_step, args=(images, labels))
        return tuple(strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                     for v in (ce, correct, kd))

    return step


class ResolutionTrainer(Trainer):
    """`Trainer` for a model with `model.resolutions`: one step trains every resolution.

    history.jsonl and TensorBoard keep the largest resolution under the usual
    keys and add `*_by_resolution` ({side: per-exit list}) and `kd_loss`;
    results.json adds `resolutions` (per side: val/test top-1, FLOPs and
    parameters of what serves it) and `switchable_params`. A context manager
    holding the workdir's lock, like `Trainer`: `with ResolutionTrainer(cfg, d) as run:`.
    """

    def _setup(self):
        # Inside Trainer.__init__'s guard: a failure here releases the workdir's lock too.
        super()._setup()
        t = self.cfg.train
        self.sizes = tuple(self.model.resolutions)
        self.data.train_sizes = self.sizes
        self.train_step = make_train_step(
            self.model, self.optimizer, self.strategy, self.exit_weights, 0.0,  # decay: optimizer
            t.batch_size, t.resolution_kd, t.resolution_kd_temperature, t.resolution_kd_weight,
            t.jit_compile, t.resolution_weights)
        self.eval_steps = {r: steps_lib.make_eval_step(self.model.at_resolution(r),
                                                       self.strategy, self.num_exits)
                           for r in self.sizes}
        self._val_by_resolution, self._train_by_resolution = {}, {}

    def _top1(self, split, r):
        data = self.data.eval_dataset(split, self.cfg.eval.batch_size, image_size=r)
        return steps_lib.evaluate_top1(self.model.at_resolution(r), self.strategy, data,
                                       self.num_exits, self.eval_steps[r])

    def _train_epoch(self, epoch, verbose):
        t = self.cfg.train
        self.data.seed, self.data.epoch = t.seed, epoch  # fixed order per epoch, on resume too
        dist = self.strategy.distribute_datasets_from_function(
            lambda ctx: self.data.train_dataset_fn(ctx, t.batch_size))
        iterator = iter(dist)
        bar = keras.utils.Progbar(self.steps_per_epoch, verbose=1 if verbose else 0,
                                  stateful_metrics=["loss", "kd", "top1_last"])
        shape = (len(self.sizes), self.num_exits)
        ce_sum, correct_sum, kd_sum = np.zeros(shape), np.zeros(shape), 0.0
        for i in range(self.steps_per_epoch):
            ce, correct, kd = self.train_step(iterator)
            ce_sum += ce.numpy().reshape(shape)
            correct_sum += correct.numpy().reshape(shape)
            kd_sum += float(kd.numpy())
            seen = (i + 1) * t.batch_size
            bar.update(i + 1, [("loss", float(ce_sum.sum()) / seen), ("kd", kd_sum / seen),
                               ("top1_last", 100.0 * float(correct_sum[0, -1]) / seen)])
        seen = self.steps_per_epoch * t.batch_size
        self._train_by_resolution = {
            "train_loss_by_resolution": {str(r): (ce_sum[i] / seen).tolist()
                                         for i, r in enumerate(self.sizes)},
            "train_top1_by_resolution": {str(r): (100.0 * correct_sum[i] / seen).tolist()
                                         for i, r in enumerate(self.sizes)},
            "kd_loss": kd_sum / seen,
        }
        return (ce_sum[0] / seen).tolist(), (100.0 * correct_sum[0] / seen).tolist()

    def _validate(self, val):
        del val  # one hold-out pass per resolution instead
        self._val_by_resolution = {r: self._top1("val", r) for r in self.sizes}
        return self._val_by_resolution[self.sizes[0]]

    def _selection_score(self, val_top1):
        del val_top1
        return float(np.mean([v[-1] for v in self._val_by_resolution.values()]))

    def _record(self, epoch, lr, train_ce, train_top1, val_top1, seconds):
        record = super()._record(epoch, lr, train_ce, train_top1, val_top1, seconds)
        record.update(self._train_by_resolution)
        record["val_top1_by_resolution"] = {str(r): v for r, v in self._val_by_resolution.items()}
        if getattr(self, "_verbose", False) and self.chief:
            for r, values in self._val_by_resolution.items():
                print(f"  val top-1 at {r}x{r}: " + " ".join(f"{a:.2f}" for a in values),
                      flush=True)
        with self.writer.as_default(step=epoch + 1):
            tf.summary.scalar("kd_loss", record.get("kd_loss", 0.0))
            for r, values in self._val_by_resolution.items():
                for k, v in enumerate(values):
                    tf.summary.scalar(f"val_top1_r{r}/exit_{k}", v)
        return record

    def fit(self, verbose=True):
        self._verbose = verbose
        return super().fit(verbose)

    def _extra_results(self):
        per = []
        for r in self.sizes:
            counts = flops.count(self.model, r)
            per.append({"resolution": r, "val_top1": self._top1("val", r),
                        "test_top1": self._top1("test", r),
                        "exit_cumulative_flops": counts.exit_cumulative_flops,
                        "exit_cumulative_params": counts.exit_cumulative_params})
        total = sum(int(np.prod(w.shape)) for w in self.model.trainable_weights)
        return {"resolutions": per, "switchable_params": total}
