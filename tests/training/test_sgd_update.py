"""One training step moves every variable by exactly what SGD prescribes.

With every exit weight 0 the cross-entropy contributes nothing, so the gradient of
each trainable variable is the coupled weight decay alone, g = wd * w, and the
updates can be written down in closed form for both momentum formulations:

    step 1 (both):  w1 = w0 - lr * wd * w0
    torch:          v <- m * v + g,        w <- w - lr * v
    keras:          v <- m * v - lr * g,   w <- w + v

Steps 2 (same lr) agree between the styles; step 3 follows an lr decay, where they
part: each style must match its own formula and not the other's.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf import config as config_lib
from msdnet_tf.models import MSDNet
from msdnet_tf.training import optimizers, steps
from tests.conftest import TINY

SMALL = dict(TINY, num_blocks=2, base=1)
LR, LR_DECAYED, M, WD = 0.1, 0.01, 0.9, 1e-4


def _expected(style, ws, lrs, nesterov=False):
    """Closed-form weights after each step, float64, from the observed previous weights."""
    v = [np.zeros_like(w) for w in ws[0]]
    out = []
    for t, lr in enumerate(lrs):
        prev = ws[t]
        g = [WD * w for w in prev]
        if style == "torch":  # torch.optim.SGD
            v = [M * a + b for a, b in zip(v, g)]
            step = [b + M * a for a, b in zip(v, g)] if nesterov else v
            out.append([w - lr * s for w, s in zip(prev, step)])
        else:  # keras.optimizers.SGD
            v = [M * a - lr * b for a, b in zip(v, g)]
            step = [M * a - lr * b for a, b in zip(v, g)] if nesterov else v
            out.append([w + s for w, s in zip(prev, step)])
    return out


def _assert_moves(got, prev, expected, what):
    """The float32 step equals the float64 formula up to rounding of w itself."""
    for g, p, e in zip(got, prev, expected):
        ulp = np.spacing(np.abs(p).astype(np.float32)).astype(np.float64)
        err = np.abs(g - e)
        assert np.all(err <= 2 * ulp + 1e-6 * np.abs(e - p)), (what, float(err.max()))


def _misses(got, expected):
    """True when some tensor is clearly off the formula (far beyond rounding)."""
    return any(np.abs(g - e).max() > 50 * np.spacing(np.float32(np.abs(g).max()))
               for g, e in zip(got, expected))


def _trainable(model):
    return [v.numpy().astype(np.float64) for v in model.trainable_variables]


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(8, 32, 32, 3)).astype("float32"),
            rng.integers(0, 10, 8).astype("int32"))


@pytest.mark.parametrize("decay_in", ["optimizer", "loss"])
@pytest.mark.parametrize("nesterov", [False, True], ids=["heavy_ball", "nesterov"])
@pytest.mark.parametrize("style", optimizers.MOMENTUM_STYLES)
def test_trainer_step_is_exactly_sgd_with_coupled_weight_decay(style, nesterov, decay_in,
                                                               batch):
    """decay_in="optimizer" is the trainer (optimizers.from_config, fused update);
    "loss" is make_train_step's own weight_decay term with a decay-free optimizer."""
    keras.utils.set_random_seed(1)
    model = MSDNet(**SMALL, init="torch_default")  # non-zero biases too
    cfg = config_lib.load_config(overrides=[
        f"train.momentum_style={style}", f"train.nesterov={str(nesterov).lower()}",
        f"train.learning_rate={LR}", f"train.momentum={M}", f"train.weight_decay={WD}"])
    if decay_in == "optimizer":
        optimizer, loss_decay = optimizers.from_config(cfg.train), 0.0
    else:
        optimizer, loss_decay = optimizers.make_sgd(LR, M, nesterov, style), WD
    optimizer.build(model.trainable_variables)
    step = steps.make_train_step(model, optimizer, tf.distribute.get_strategy(),
                                 [0.0] * model.num_exits, loss_decay, len(batch[1]))
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    lrs = [LR, LR, LR_DECAYED]
    ws = [_trainable(model)]
    for lr in lrs:
        optimizer.learning_rate = lr
        step(iterator)
        ws.append(_trainable(model))
    mine = _expected(style, ws, lrs, nesterov)
    other = _expected("keras" if style == "torch" else "torch", ws, lrs, nesterov)
    if not nesterov:
        # Step 1: every variable (kernels, biases, BN gamma and beta) moves by -lr * wd * w.
        _assert_moves(ws[1], ws[0], [w - LR * WD * w for w in ws[0]], "step 1")
    _assert_moves(ws[1], ws[0], mine[0], "step 1")
    _assert_moves(ws[2], ws[1], mine[1], "step 2, momentum")
    _assert_moves(ws[3], ws[2], mine[2], "step 3, after the lr decay")
    assert _misses(ws[3], other[2]), "the two momentum styles must differ after a decay"


def test_torch_sgd_coupled_weight_decay_in_fit(batch):
    """compile/fit with TorchSGD(coupled_weight_decay) and zero loss weights: same formula."""
    keras.utils.set_random_seed(2)
    model = MSDNet(**SMALL, init="torch_default")
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    names = [f"exit_{k}" for k in range(model.num_exits)]
    model.compile(optimizer=optimizers.TorchSGD(LR, momentum=M, coupled_weight_decay=WD),
                  loss={n: ce for n in names}, loss_weights={n: 0.0 for n in names})
    images, labels = batch
    ws = [_trainable(model)]
    for _ in range(2):
        model.fit(images, {n: labels for n in names}, batch_size=len(labels), epochs=1,
                  shuffle=False, verbose=0)
        ws.append(_trainable(model))
    mine = _expected("torch", ws, [LR, LR])
    _assert_moves(ws[1], ws[0], mine[0], "fit step 1")
    _assert_moves(ws[2], ws[1], mine[1], "fit step 2")


def test_torch_sgd_config_round_trip():
    opt = optimizers.TorchSGD(0.05, momentum=0.9, nesterov=True, coupled_weight_decay=1e-4)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(clone, optimizers.TorchSGD)
    assert (clone.momentum, clone.nesterov, clone.coupled_weight_decay) == (0.9, True, 1e-4)
    with pytest.raises(ValueError, match="momentum style"):
        optimizers.make_sgd(0.1, 0.9, style="adam")


@pytest.mark.parametrize("kind", ["plain", "switchable"])
def test_the_trainers_own_step_moves_every_variable_by_its_weight_decay(kind, tmp_path):
    """The step and optimizer a Trainer (and the resolution-switchable trainer) builds from
    its config, with every exit weight 0: each trainable variable, private BatchNorm of
    every side included, moves exactly as torch.optim.SGD with coupled weight decay does."""
    import json

    from msdnet_tf.techniques import resolution
    from msdnet_tf.training.trainer import Trainer

    overrides = [f"model.{k}={json.dumps(v)}" for k, v in SMALL.items()]
    overrides += ["data.dataset=digits", "data.holdout_size=100", "train.batch_size=8",
                  "train.epochs=1", f"train.learning_rate={LR}", f"train.momentum={M}",
                  f"train.weight_decay={WD}", "train.exit_weights=[0.0,0.0]"]
    if kind == "switchable":
        overrides += ["model.head_pool=global", "model.resolutions=[32,16]",
                      "train.resolution_kd=none"]
    cfg = config_lib.load_config(None, overrides)
    cls = Trainer if kind == "plain" else resolution.ResolutionTrainer
    with cls(cfg, tmp_path / "run") as run:
        assert run.model.num_exits == 2
        iterator = iter(run.strategy.distribute_datasets_from_function(
            lambda ctx: run.data.train_dataset_fn(ctx, 8)))
        ws = [_trainable(run.model)]
        for _ in range(2):
            run.train_step(iterator)
            ws.append(_trainable(run.model))
    if kind == "switchable":  # the other side's BatchNorm is among the variables
        names = [v.path for v in run.model.trainable_variables]
        assert any("r16" in n for n in names), names
    mine = _expected("torch", ws, [LR, LR])
    _assert_moves(ws[1], ws[0], [w - LR * WD * w for w in ws[0]], "trainer step 1")
    _assert_moves(ws[2], ws[1], mine[1], "trainer step 2, momentum")
