"""IMTA training (msdnet_tf.training.imta): gradient equilibrium, ISC + distillation losses,
the frozen backbone, stage-1 checks."""

import functools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf import config as config_lib
from msdnet_tf.cli import UserError
from msdnet_tf.models import MSDNet
from msdnet_tf.training import imta
from msdnet_tf.training import steps as steps_lib
from tests.conftest import TINY

# TINY with two scales at 16x16: every block type, fewer layers to trace.
SMALL = {**TINY, "growth_factors": [1, 2], "bottleneck_factors": [1, 2], "image_size": 16}
SMALL_OVERRIDES = [f"model.{k}={json.dumps(v)}" for k, v in SMALL.items()]
K = SMALL["num_blocks"]


def _images(n=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 16, 16, 3)).astype("float32")


# ------------------------------------------------------------- gradient equilibrium
class _Recorder(imta.GradientEquilibrium):
    """GE taps that also keep x_k, the raw tensor classifier k reads (before any rescale)."""

    def __init__(self, num_exits, rescale=True):
        super().__init__(num_exits)
        self.rescale, self.raw = rescale, []

    def head_input(self, k, x):
        self.raw.append(x)
        return super().head_input(k, x) if self.rescale else (x, x)


def _per_exit_gradients(model, rescale):
    """grads[j][i] = d(L_j) / d(x_i), computed eagerly through the model's own layers."""
    graph = model.graph()
    probes = [tf.constant(np.random.default_rng(10 + j).normal(size=(4, 10)), tf.float32)
              for j in range(model.num_exits)]
    taps = _Recorder(model.num_exits, rescale)
    with tf.GradientTape(persistent=True) as tape:
        carried, losses = {"image": tf.constant(_images())}, []
        for k in range(model.num_exits):
            logits, carried = model.apply_exit(graph, k, carried, taps)
            losses.append(tf.reduce_sum(logits * probes[k]))  # any loss of exit k
    return [[tape.gradient(losses[j], taps.raw[i]) for i in range(model.num_exits)]
            for j in range(model.num_exits)]


def test_every_later_exit_reaches_block_i_with_weight_one_over_k_minus_i():
    """IMTA's claim, against an independent computation without any rescaling."""
    model = MSDNet(**SMALL)
    plain = _per_exit_gradients(model, rescale=False)
    ge = _per_exit_gradients(model, rescale=True)
    for j in range(K):
        for i in range(K):
            if j < i:  # exit j does not depend on block i
                assert plain[j][i] is None and ge[j][i] is None
                continue
            assert float(tf.reduce_max(tf.abs(plain[j][i]))) > 0
            np.testing.assert_allclose(ge[j][i].numpy(), plain[j][i].numpy() / (K - i),
                                       rtol=1e-5, atol=1e-7, err_msg=f"exit {j}, block {i}")


class _StopGradientRule(imta.GradientEquilibrium):
    """The same two rescale points written another way: w * x + stop_gradient((1 - w) * x)."""

    def head_input(self, k, x):
        def rescale(t, w):
            return keras.layers.Lambda(lambda v: w * v + tf.stop_gradient((1.0 - w) * v))(t)

        n = self.num_exits
        head = rescale(x, 1.0 / (n - k))
        return head, head if k == n - 1 else rescale(head, float(n - k - 1))


def _summed_loss_gradients(model, images, taps):
    """Every trainable variable's gradient of sum_k sum(sin(exit_k) * (k + 1)), with `taps`."""
    graph, x = model.graph(), tf.constant(images)
    with tf.GradientTape() as tape:
        carried, loss = {"image": x}, 0.0
        for k in range(model.num_exits):
            logits, carried = model.apply_exit(graph, k, carried, taps)
            loss += tf.reduce_sum(tf.sin(logits) * (k + 1))
    return tape.gradient(loss, model.trainable_variables)


def test_rescale_layers_give_the_gradients_of_the_rule():
    """Every variable's gradient of the summed loss, against a second implementation."""
    model = MSDNet(**SMALL)
    grads = functools.partial(_summed_loss_gradients, model, _images())
    for got, want, v in zip(grads(imta.GradientEquilibrium(K)), grads(_StopGradientRule(K)),
                            model.trainable_variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=v.path)


def test_forward_is_bit_identical_and_leaves_no_trace(tmp_path):
    cfg = config_lib.load_config(None, SMALL_OVERRIDES + ["train.gradient_equilibrium=true"])
    model = config_lib.build_model(cfg)
    objective = imta.make_objective(cfg, model)
    rescales = [l for l in objective.model.layers if isinstance(l, imta.GradientRescale)]
    assert [l.name for l in rescales] == ["ge0_head", "ge0_carry", "ge1_head", "ge1_carry",
                                          "ge2_head"]
    assert [l.scale for l in rescales] == [1 / 3, 2.0, 1 / 2, 1.0, 1.0]
    # In a tf.function, as the trainer runs it (the packed BN is graph-mode only).
    run = tf.function(lambda t, training: (model(t, training=training),
                                           objective.model(t, training=training)))
    for training in (False, True):
        want, got = run(tf.constant(_images()), training)
        for key in want:
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))
    # Same variables; the deployable model and its sub-graphs hold no rescale layer.
    assert {id(v) for v in objective.variables} == {id(v) for v in model.trainable_variables}
    deployed = [model] + model.stage_models() + [model.exit_model(2)]
    assert not any(isinstance(l, imta.GradientRescale) for m in deployed for l in m.layers)
    model.save(tmp_path / "m.keras")
    assert "GradientRescale" not in json.dumps(model.get_config())
    assert len(keras.models.load_model(tmp_path / "m.keras").layers) == len(model.layers)


# ------------------------------------------------------------------ losses
def _np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_pointwise_kl(student, teacher, t):
    """PyTorch's kl_div(log_softmax(s/T), softmax(t/T)) before reduction: [B, C]."""
    target = _np_softmax(teacher / t)
    log_q = np.log(_np_softmax(student / t))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(target > 0, target * (np.log(target) - log_q), 0.0)


STUDENT = np.array([[2.0, -1.0, 0.5, 0.0], [0.1, 0.2, 0.3, 0.4], [-3.0, 4.0, 1.0, 2.0]])
TEACHER = np.array([[1.0, 0.0, 0.0, -1.0], [5.0, -5.0, 0.0, 0.0], [0.0, 0.0, 60.0, -60.0]])
LABELS = np.array([0, 3, 2])


@pytest.mark.parametrize("t", [1.0, 3.0])
def test_kd_divergence_reductions_match_numpy(t):
    pointwise = _np_pointwise_kl(STUDENT, TEACHER, t)
    b, c = pointwise.shape
    for reduction, expected in (("code", pointwise.mean()),            # PyTorch 'mean'
                                ("batchmean", pointwise.sum() / b)):   # PyTorch 'batchmean'
        per_sample = imta.kd_divergence(tf.constant(STUDENT, tf.float32),
                                        tf.constant(TEACHER, tf.float32), t, reduction)
        # The trainer averages per-sample losses over the batch.
        np.testing.assert_allclose(float(tf.reduce_mean(per_sample)), expected, rtol=1e-5)
    assert c == 4


@pytest.mark.parametrize("reduction", ["code", "batchmean"])
def test_distillation_losses_match_numpy(reduction):
    gamma, t, num_exits = 0.3, 2.0, 3
    exits = [STUDENT, STUDENT[::-1].copy(), TEACHER * 0.5]
    outputs = {f"exit_{k}": tf.constant(z, tf.float32) for k, z in enumerate(exits)}
    outputs[imta.TEACHER] = tf.constant(TEACHER, tf.float32)
    losses = imta.distillation_losses(num_exits, gamma, t, reduction)(
        outputs, tf.constant(LABELS, tf.int32))
    for k, z in enumerate(exits):
        ce = -np.log(_np_softmax(z)[np.arange(3), LABELS])
        kl = _np_pointwise_kl(z, TEACHER, t).sum(-1)
        if reduction == "code":
            kl = kl / z.shape[-1]
        want = ce if k == num_exits - 1 else (1 - gamma) * ce + gamma * t * t * kl
        np.testing.assert_allclose(losses[k].numpy(), want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ stage 2
def _stage2(backbone_bn="train", stop_gradient=False):
    overrides = SMALL_OVERRIDES + [
        "train.imta.from=STAGE1", f"train.imta.backbone_bn={backbone_bn}",
        f"train.imta.isc_stop_gradient={str(stop_gradient).lower()}"]
    cfg = config_lib.load_config(None, overrides)
    keras.utils.set_random_seed(0)
    stage1 = MSDNet(**SMALL)
    model = config_lib.build_model(cfg)
    assert model.exit_heads == "isc"
    return cfg, stage1, model, imta.make_objective(cfg, model, stage1)


def _one_step(cfg, objective):
    strategy = tf.distribute.get_strategy()
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(objective.variables)
    labels = np.arange(8) % 10
    data = tf.data.Dataset.from_tensors((_images(8, seed=3), labels.astype("int32"))).repeat()
    step = steps_lib.make_train_step(objective.model, optimizer, strategy, [1.0] * K, 1e-4, 8,
                                     variables=objective.variables,
                                     exit_losses=objective.exit_losses)
    step(iter(data))


@pytest.mark.parametrize("backbone_bn", ["train", "frozen"])
def test_stage2_trains_the_heads_only(backbone_bn):
    cfg, stage1, model, objective = _stage2(backbone_bn)
    heads = set(imta.head_layer_names(model))
    assert heads == {"exit_0", "exit_1", "exit_2", "isc1_fc", "isc1_bn", "isc1_relu",
                     "isc1_concat", "isc2_fc", "isc2_bn", "isc2_relu", "isc2_concat"}
    # The backbone is stage 1's; the teacher is stage 1's last Dense, on the same features.
    x = _images()
    np.testing.assert_array_equal(np.asarray(objective.model(x)[imta.TEACHER]),
                                  np.asarray(stage1(x)["exit_2"]))
    before = {v.path: np.array(v) for v in objective.model.weights}
    _one_step(cfg, objective)
    changed = {v.path for v in objective.model.weights
               if not np.array_equal(before[v.path], np.asarray(v))}
    head_vars = {v.path for n in heads for v in model.get_layer(n).weights}
    assert {v.path for v in objective.variables} <= head_vars
    assert {p for p in head_vars if "moving" not in p} <= changed
    moved = changed - head_vars
    assert not any(imta.TEACHER in p for p in moved)
    if backbone_bn == "frozen":
        assert not moved  # nothing in the backbone, BN statistics included
    else:  # the authors' model.train(): only the backbone's BN moving statistics move
        assert moved and all("moving_mean" in p or "moving_variance" in p for p in moved)
    objective.restore()
    assert all(layer.trainable for layer in model.layers)
    # The teacher (stage 1's last Dense) is training-only: the deployed model never holds it.
    assert imta.TEACHER in [l.name for l in objective.model.layers]
    assert imta.TEACHER not in [l.name for l in model.layers]


@pytest.mark.parametrize("stop_gradient", [False, True])
def test_isc_stop_gradient(stop_gradient):
    _, _, model, objective = _stage2(stop_gradient=stop_gradient)
    earlier = model.get_layer("exit_0").kernel
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(objective.model(_images())["exit_1"])
    grad = tape.gradient(loss, earlier)
    assert (grad is None) == stop_gradient  # the code lets exit 1's loss reach exit 0
    assert not any(isinstance(l, imta.StopGradient) for l in model.layers)


def test_stage1_compatibility_errors():
    cfg = config_lib.load_config(None, ["train.imta.from=RUN", "model.num_blocks=5"])
    stage1 = config_lib.load_config(None, [])
    with pytest.raises(UserError, match=r"train.imta.from=RUN was trained with model.num_blocks"
                                        r"=10, this config has model.num_blocks=5; stage 2 "):
        imta.check_stage1(cfg, stage1, "RUN")
    stage1 = config_lib.load_config(None, ["model.num_blocks=5", "data.holdout_seed=3"])
    with pytest.raises(UserError, match="data.holdout_seed=3, this config has data.holdout_seed"
                                        "=0; both stages must share the hold-out"):
        imta.check_stage1(cfg, stage1, "RUN")
    stage1 = config_lib.load_config(None, ["model.num_blocks=5", "train.imta.from=OTHER"])
    with pytest.raises(UserError, match="is a stage-2 run itself"):
        imta.check_stage1(cfg, stage1, "RUN")
    # train and other data keys may differ between the stages.
    stage1 = config_lib.load_config(None, ["model.num_blocks=5", "train.epochs=3",
                                           "data.train_limit=100"])
    imta.check_stage1(cfg, stage1, "RUN")


def test_config_keys_and_errors(tmp_path):
    cfg = config_lib.load_config(None, ["train.imta.from=runs/ge", "train.imta.gamma=0.2",
                                        "train.gradient_equilibrium=true"])
    assert cfg.train.imta.from_ == "runs/ge" and cfg.train.imta.gamma == 0.2
    assert config_lib.exit_heads(cfg) == "isc"
    assert config_lib.to_dict(cfg)["train"]["imta"]["from"] == "runs/ge"
    config_lib.save_config(cfg, tmp_path / "c.yaml")
    assert "  imta:\n    from: runs/ge\n" in (tmp_path / "c.yaml").read_text()
    assert config_lib.load_config(tmp_path / "c.yaml") == cfg
    for override, message in [
            ("train.imta.kd_reduction=sum", "train.imta.kd_reduction must be one of code, "
                                            "batchmean. Received: train.imta.kd_reduction='sum'"),
            ("train.imta.backbone_bn=eval", "train.imta.backbone_bn must be one of train, frozen"),
            ("train.imta.gamma=1.5", "train.imta.gamma must be in [0, 1]"),
            ("train.imta.temperature=0", "train.imta.temperature must be > 0"),
            ("train.imta.frm=x", "unknown key train.imta.frm in --override train.imta.frm=x; "
                                 "valid keys of train.imta: from, gamma,"),
            ("train.imta=3", "train.imta in --override train.imta=3 must be a mapping"),
            ("train.imta.from=[1]", "train.imta.from must be a string"),
            ("train.gradient_equilibrium=1", "train.gradient_equilibrium must be true or false"),
            ("a.b.c.d=1", "--override key must be section.key")]:
        with pytest.raises(config_lib.ConfigError) as info:
            config_lib.load_config(None, [override])
        assert message in str(info.value), (override, str(info.value))


def test_cli_stage2_without_a_stage1_run_is_one_line(tmp_path):
    from tests.training.helpers import run, train_command

    missing = tmp_path / "no_such_run"
    proc = run(train_command(tmp_path / "stage2", f"train.imta.from={missing}"), timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("msdnet_tf.")]
    assert lines == [f"msdnet_tf.train: error: train.imta.from={missing} is not a directory "
                     "(give the stage-1 training run)"]
