"""IMTA's training techniques for any model family (Li et al., "Improved Techniques for
Training Adaptive Deep Networks", ICCV 2019; docs/imta.md).

Stage 1, `train.gradient_equilibrium`: identity layers whose backward pass multiplies by a
weight, on the tensor x_k = `head_key(k)` of every stage k of K: classifier k reads
GR(1/(K-k))(x_k), later stages GR(K-k-1) of that. Every exit j >= k then reaches x_k with
weight 1/(K-k) wherever every route from x_k to exit j passes each rescale point in between
(a chain, as in MSDNet; where RANet's fusion blocks skip points, see docs/imta.md). Loss: the
plain sum of cross-entropies.

Stage 2, `train.imta.from: STAGE1_RUN`: the backbone (everything but the heads) is the
stage-1 run's, frozen; new inline-subnetwork-collaboration heads (`models.heads`) train with
one-for-all distillation from the stage-1 network's own last exit:
    exit k < K-1: (1 - gamma) * CE + gamma * T^2 * KL(softmax(t/T) || softmax(z_k/T))
    exit K-1:     CE
with t = the stage-1 last Dense on the frozen features (stop-gradient).

    objective = make_objective(cfg, model, stage1_model)

The objective's training graph shares the model's layers and adds training-only layers
(GradientRescale, StopGradient, the teacher's Dense): the model itself, its exit and stage
models, model.keras and every TFLite file carry no trace of them.
"""

import dataclasses
import shutil
from pathlib import Path

import keras
import tensorflow as tf

from msdnet_tf.cli import UserError
from msdnet_tf.data.holdout import HOLDOUT_FILE
from msdnet_tf.models import base
from msdnet_tf.models import heads as heads_lib

TEACHER = "teacher"
# Data keys both stages must share: the hold-out is the same images.
SHARED_DATA_KEYS = ("dataset", "holdout_size", "holdout_seed")


# ------------------------------------------------------------------ losses
def cross_entropy(labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, tf.cast(logits, tf.float32))


def kd_divergence(student, teacher, temperature, reduction):
    """Per-sample KL(softmax(teacher/T) || softmax(student/T)), float32 [N].

    reduction "batchmean": the KL itself; "code": divided by the number of classes, which
    is what PyTorch's KLDivLoss with its default 'mean' (over batch x classes) gives per
    sample, as in the authors' code.
    """
    student = tf.cast(student, tf.float32) / temperature
    teacher = tf.cast(teacher, tf.float32) / temperature
    target = tf.nn.softmax(teacher, axis=-1)
    # xlogy: a zero probability contributes 0, like PyTorch's kl_div.
    kl = tf.reduce_sum(tf.math.xlogy(target, target)
                       - target * tf.nn.log_softmax(student, axis=-1), axis=-1)
    if reduction == "code":
        kl = kl / float(student.shape[-1])
    return kl


def cross_entropy_losses(num_exits):
    """exit_losses of plain training: per-exit cross-entropy."""

    def exit_losses(outputs, labels):
        return [cross_entropy(labels, outputs[f"exit_{k}"]) for k in range(num_exits)]

    return exit_losses


def distillation_losses(num_exits, gamma, temperature, reduction):
    """exit_losses of stage 2: per-exit one-for-all distillation (module docstring)."""

    def exit_losses(outputs, labels):
        teacher = tf.stop_gradient(tf.cast(outputs[TEACHER], tf.float32))
        losses = []
        for k in range(num_exits):
            logits = outputs[f"exit_{k}"]
            ce = cross_entropy(labels, logits)
            if k == num_exits - 1:
                losses.append(ce)
                continue
            kd = kd_divergence(logits, teacher, temperature, reduction)
            losses.append((1.0 - gamma) * ce + gamma * temperature ** 2 * kd)
        return losses

    return exit_losses


# ------------------------------------------------------- training-only layers
class GradientRescale(keras.layers.Layer):
    """Identity on the forward pass; the backward pass multiplies the gradient by `scale`."""

    def __init__(self, scale, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.scale = float(scale)

    def call(self, x):
        scale = self.scale

        @tf.custom_gradient
        def rescale(t):
            def grad(dy):
                return dy * tf.cast(scale, dy.dtype)

            return tf.identity(t), grad

        return rescale(x)

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, x.dtype)


class StopGradient(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(autocast=False, **kwargs)

    def call(self, x):
        return tf.stop_gradient(x)

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, x.dtype)


class GradientEquilibrium(heads_lib.Taps):
    """Stage 1: the two rescale points around classifier k (module docstring)."""

    def __init__(self, num_exits):
        self.num_exits = num_exits

    def head_input(self, k, x):
        n = self.num_exits
        x = GradientRescale(1.0 / (n - k), name=f"ge{k}_head")(x)
        if k == n - 1:  # Nothing is carried on after the last exit (its weight would be 0).
            return x, x
        return x, GradientRescale(n - k - 1, name=f"ge{k}_carry")(x)


class Stage2Taps(heads_lib.Taps):
    """Stage 2: optional stop-gradient into the previous exit; keeps the last exit's f."""

    def __init__(self, num_exits, stop_gradient):
        self.num_exits, self.stop_gradient = num_exits, stop_gradient
        self.last_features = None

    def previous_logits(self, k, logits):
        return StopGradient(name=f"isc{k}_stop_gradient")(logits) if self.stop_gradient \
            else logits

    def features(self, k, features):
        if k == self.num_exits - 1:
            self.last_features = features


# --------------------------------------------------------------- objective
@dataclasses.dataclass
class Objective:
    """What the trainer optimises.

    model: the training graph (outputs exit_k, and `teacher` in stage 2), sharing the
    deployable model's layers; variables: what the optimizer updates; exit_losses(outputs,
    labels) -> per-exit per-sample losses; restore(): undoes training-time changes to the
    deployable model (layer.trainable) before it is counted and saved.
    """

    model: keras.Model
    variables: list
    exit_losses: object
    restore: object = lambda: None


def training_graph(model, taps):
    graph = model.graph()
    image = graph.image_input()
    outputs, _ = base.apply_graph(graph, image, model.exit_heads, graph.make, model.num_classes,
                                  model.sync_bn, taps)
    return graph, image, outputs


def make_objective(cfg, model, stage1=None):
    """The objective for `cfg`: plain, gradient equilibrium (stage 1) or stage 2.

    stage1: the stage-1 run's model (`load_stage1`) when train.imta.from is set.
    """
    t = cfg.train
    if stage1 is not None:
        return _stage2_objective(t.imta, model, stage1)
    losses = cross_entropy_losses(model.num_exits)
    if not t.gradient_equilibrium:
        return Objective(model, list(model.trainable_variables), losses)
    _, image, outputs = training_graph(model, GradientEquilibrium(model.num_exits))
    train_model = keras.Model(image, outputs, name=f"{model.name}_gradient_equilibrium")
    return Objective(train_model, list(model.trainable_variables), losses)


def head_layer_names(model):
    """Names of the layers of the model's ISC heads (what stage 2 trains)."""
    names = []
    for k in range(model.num_exits):
        names.append(f"exit_{k}")
        if k > 0:
            names += [f"isc{k}_{part}" for part in ("fc", "bn", "relu", "concat")]
    return [n for n in names if any(layer.name == n for layer in model.layers)]


def last_dense(model):
    """The layer computing the last exit's logits of a plain model (the teacher's head)."""
    tensor = model.output[f"exit_{model.num_exits - 1}"]
    return tensor._keras_history.operation  # pylint: disable=protected-access


def copy_backbone(stage1, model):
    """Copies every non-head layer's weights from `stage1` into `model` by layer name."""
    heads = set(head_layer_names(model))
    copied = 0
    for layer in model.layers:
        if layer.name in heads or not layer.weights:
            continue
        layer.set_weights(stage1.get_layer(layer.name).get_weights())
        copied += 1
    return copied


def _stage2_objective(imta, model, stage1):
    copy_backbone(stage1, model)
    heads = set(head_layer_names(model))
    backbone = [layer for layer in model.layers if layer.name not in heads and layer.weights]
    taps = Stage2Taps(model.num_exits, imta.isc_stop_gradient)
    _, image, outputs = training_graph(model, taps)
    source = last_dense(stage1)
    teacher = keras.layers.Dense(source.units, use_bias=source.use_bias, dtype="float32",
                                 name=TEACHER, trainable=False)
    outputs[TEACHER] = teacher(taps.last_features)
    teacher.set_weights(source.get_weights())
    train_model = keras.Model(image, outputs, name=f"{model.name}_imta")
    variables = [v for layer in model.layers if layer.name in heads
                 for v in layer.trainable_weights]
    if imta.backbone_bn == "frozen":  # BN in inference mode: nothing in the backbone changes.
        for layer in backbone:
            layer.trainable = False

    def restore():
        for layer in backbone:
            layer.trainable = True

    losses = distillation_losses(model.num_exits, imta.gamma, imta.temperature,
                                 imta.kd_reduction)
    return Objective(train_model, variables, losses, restore)


# ------------------------------------------------------------ stage-1 run
def _first_difference(a, b):
    for field in dataclasses.fields(a):
        if getattr(a, field.name) != getattr(b, field.name):
            return field.name
    return None


def check_stage1(cfg, stage1_cfg, source):
    """Raises UserError (one line) unless the stage-1 run's config fits stage 2 of `cfg`."""
    if stage1_cfg.train.imta.from_:
        raise UserError(f"train.imta.from={source} is a stage-2 run itself (its train.imta.from "
                        f"is {stage1_cfg.train.imta.from_}); give the stage-1 run")
    key = _first_difference(stage1_cfg.model, cfg.model)
    if key is not None:
        raise UserError(f"train.imta.from={source} was trained with model.{key}="
                        f"{getattr(stage1_cfg.model, key)!r}, this config has model.{key}="
                        f"{getattr(cfg.model, key)!r}; stage 2 needs the stage-1 model section")
    for key in SHARED_DATA_KEYS:
        old, new = getattr(stage1_cfg.data, key), getattr(cfg.data, key)
        if old != new:
            raise UserError(f"train.imta.from={source} was trained with data.{key}={old!r}, this "
                            f"config has data.{key}={new!r}; both stages must share the hold-out")


def load_stage1(cfg, workdir):
    """The stage-1 model of train.imta.from, checked against `cfg`.

    Copies the stage-1 hold-out (holdout.json) into `workdir`, so both stages hold out the
    same images; a workdir with another hold-out is refused.
    """
    from msdnet_tf.inference import load_run

    source = Path(cfg.train.imta.from_)
    if not source.is_dir():
        raise UserError(f"train.imta.from={source} is not a directory (give the stage-1 "
                        "training run)")
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        stage1_cfg, stage1 = load_run(source)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    check_stage1(cfg, stage1_cfg, source)
    if getattr(stage1, "exit_heads", "plain") != "plain":
        raise UserError(f"train.imta.from={source} has {stage1.exit_heads} heads; give the "
                        "stage-1 run")
    held, mine = source / HOLDOUT_FILE, Path(workdir) / HOLDOUT_FILE
    if not held.is_file():
        raise UserError(f"train.imta.from={source} has no {HOLDOUT_FILE}")
    if not mine.exists():
        shutil.copyfile(held, mine)
    elif mine.read_bytes() != held.read_bytes():
        raise UserError(f"{mine} differs from the stage-1 hold-out {held}: use a new --workdir")
    return stage1


def check_resume(saved_cfg, cfg, workdir):
    """A workdir keeps its IMTA stage (and stage-1 run) on resume."""
    if saved_cfg.train.imta.from_ != cfg.train.imta.from_:
        raise UserError(f"{workdir} was trained with train.imta.from="
                        f"{saved_cfg.train.imta.from_!r}, not {cfg.train.imta.from_!r}; use a "
                        "new --workdir or the same config")
