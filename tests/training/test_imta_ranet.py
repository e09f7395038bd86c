"""IMTA on RANet: the gradient-equilibrium points on RANet's graph, and a stage-2 step."""

import functools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf import config as config_lib
from msdnet_tf.models import RANet
from msdnet_tf.training import imta
from msdnet_tf.training import steps as steps_lib
from tests.conftest import RANET_TINY
from tests.training.test_imta import _Recorder, _StopGradientRule, _summed_loss_gradients

# Three sub-networks (exits 0, 1 | 2 | 3) on 8x8, 16x16 and 32x32 maps.
TINY = RANET_TINY
OVERRIDES = ["model.family=ranet"] + [f"model.{k}={json.dumps(v)}" for k, v in TINY.items()]


def _images(n=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 32, 32, 3)).astype("float32")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return RANet(**TINY)


def _probes(num_exits):
    return [tf.constant(np.random.default_rng(10 + j).normal(size=(4, 10)), tf.float32)
            for j in range(num_exits)]


def _per_exit_gradients(model, rescale):
    """grads[j][i] = d(L_j) / d(x_i), x_i the raw tensor classifier i reads."""
    graph, probes = model.graph(), _probes(model.num_exits)
    taps = _Recorder(model.num_exits, rescale)
    with tf.GradientTape(persistent=True) as tape:
        carried, losses = {"image": tf.constant(_images())}, []
        for k in range(model.num_exits):
            logits, carried = model.apply_exit(graph, k, carried, taps)
            losses.append(tf.reduce_sum(logits * probes[k]))
    return [[tape.gradient(losses[j], taps.raw[i]) for i in range(model.num_exits)]
            for j in range(model.num_exits)]


class _Cut(imta.GradientEquilibrium):
    """No rescaling; what stage k carries on is cut from the gradient except at `keep`."""

    def __init__(self, num_exits, keep):
        super().__init__(num_exits)
        self.keep, self.raw, self.carry = keep, [], {}

    def head_input(self, k, x):
        self.raw.append(x)
        carry = tf.identity(x) if k == self.keep else tf.stop_gradient(x)
        self.carry[k] = carry
        return tf.identity(x), carry


def _rule_by_hand(model):
    """d(L_j)/d(x_i) under gradient equilibrium, without any rescale layer.

    In the plain graph, one backward hop from the x_m (m > i) to what stage i carries on,
    with every other carried tensor cut (so no path passes another rescale point), gives
    hop(i, m). The rule then reads: G_j(x_j) = dL_j/dx_j / (K - j), and for i < j
    G_j(x_i) = (K - i - 1) / (K - i) * sum_m hop(i, m)(G_j(x_m)).
    """
    n, graph, probes = model.num_exits, model.graph(), _probes(model.num_exits)
    hops, local = {}, {}
    for i in range(n - 1):
        taps = _Cut(n, keep=i)
        with tf.GradientTape(persistent=True) as tape:
            carried, losses = {"image": tf.constant(_images())}, []
            for k in range(n):
                logits, carried = model.apply_exit(graph, k, carried, taps)
                losses.append(tf.reduce_sum(logits * probes[k]))
        for m in range(n):
            if m != i:  # exit m reads x_m through its head only
                local.setdefault(m, tape.gradient(losses[m], taps.raw[m]))
        for m in range(i + 1, n):
            hops[i, m] = (tape, taps.raw[m], taps.carry[i])

    expected = [[None] * n for _ in range(n)]
    for j in range(n):
        expected[j][j] = local[j] / (n - j)
        for i in range(j - 1, -1, -1):
            total = None
            for m in range(i + 1, j + 1):
                tape, target, source = hops[i, m]
                g = tape.gradient(target, source, output_gradients=expected[j][m])
                if g is not None:
                    total = g if total is None else total + g
            expected[j][i] = None if total is None else total * ((n - i - 1) / (n - i))
    return expected


def test_gradients_follow_the_two_point_rule(model):
    """Every exit's gradient at every rescale point, against the rule applied by hand."""
    n = model.num_exits
    assert [i for i, _ in model.plan.exits] == [0, 0, 1, 2]
    ge = _per_exit_gradients(model, rescale=True)
    expected = _rule_by_hand(model)
    for j in range(n):
        for i in range(n):
            if j < i:
                assert ge[j][i] is None
                continue
            np.testing.assert_allclose(ge[j][i].numpy(), expected[j][i].numpy(), rtol=1e-4,
                                       atol=1e-7, err_msg=f"exit {j}, point {i}")


def test_one_over_k_minus_i_where_every_route_is_a_chain(model):
    """Exit j reaches x_i with weight 1/(K-i) exactly (as in MSDNet) when every route from x_i
    to exit j passes each rescale point in between: in the same sub-network, or for the next
    exit. A later sub-network's exit further on also reaches x_i through fusion blocks that
    skip rescale points, each route rescaled on its own, so its weight differs (docs/imta.md).
    """
    n, subnet = model.num_exits, [i for i, _ in model.plan.exits]
    plain = _per_exit_gradients(model, rescale=False)
    ge = _per_exit_gradients(model, rescale=True)
    other = []
    for j in range(n):
        for i in range(j + 1):
            assert float(tf.reduce_max(tf.abs(plain[j][i]))) > 0  # every later exit depends
            want = plain[j][i].numpy() / (n - i)
            if subnet[i] == subnet[j] or j == i + 1:
                np.testing.assert_allclose(ge[j][i].numpy(), want, rtol=1e-5, atol=1e-7,
                                           err_msg=f"exit {j}, block {i}")
            else:
                assert not np.allclose(ge[j][i].numpy(), want, rtol=1e-3, atol=0), (j, i)
                other.append((j, i))
    assert other == [(2, 0), (3, 0), (3, 1)]


def test_rescale_layers_give_the_gradients_of_the_rule(model):
    """Every variable's gradient of a summed loss, against a stop-gradient implementation."""
    grads = functools.partial(_summed_loss_gradients, model, _images())
    n = model.num_exits
    got, want = grads(imta.GradientEquilibrium(n)), grads(_StopGradientRule(n))
    # Float32 sums in another order: BN's beta sums a whole map, with cancellation.
    atol = 1e-5 * max(float(np.abs(w.numpy()).max()) for w in want)
    for g, w, v in zip(got, want, model.trainable_variables):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=atol, err_msg=v.path)


@pytest.mark.slow
def test_forward_is_bit_identical_and_leaves_no_trace():
    cfg = config_lib.load_config(None, OVERRIDES + ["train.gradient_equilibrium=true"])
    model = config_lib.build_model(cfg)
    objective = imta.make_objective(cfg, model)
    rescales = [l for l in objective.model.layers if isinstance(l, imta.GradientRescale)]
    assert [l.scale for l in rescales] == [1 / 4, 3.0, 1 / 3, 2.0, 1 / 2, 1.0, 1.0]
    run = tf.function(lambda t, training: (model(t, training=training),
                                           objective.model(t, training=training)))
    for training in (False, True):
        want, got = run(tf.constant(_images()), training)
        for key in want:
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))
    deployed = [model] + model.stage_models() + [model.exit_model(3)]
    assert not any(isinstance(l, imta.GradientRescale) for m in deployed for l in m.layers)


# ------------------------------------------------------------------ stage 2
@pytest.mark.parametrize("backbone_bn",
                         ["train", pytest.param("frozen", marks=pytest.mark.slow)])
def test_stage2_step_trains_the_heads_only(backbone_bn):
    cfg = config_lib.load_config(None, OVERRIDES + [
        "train.imta.from=STAGE1", f"train.imta.backbone_bn={backbone_bn}"])
    keras.utils.set_random_seed(0)
    stage1 = RANet(**TINY)
    model = config_lib.build_model(cfg)
    assert model.exit_heads == "isc" and model.family == "ranet"
    objective = imta.make_objective(cfg, model, stage1)
    heads = set(imta.head_layer_names(model))
    assert heads == {"exit_0", "exit_1", "exit_2", "exit_3"} | {
        f"isc{k}_{p}" for k in (1, 2, 3) for p in ("fc", "bn", "relu", "concat")}
    # The ISC embedding of exit k >= 1 has the width of RANet's classifier features (128).
    assert model.get_layer("isc2_fc").kernel.shape == (10, 128)
    assert model.get_layer("exit_2").kernel.shape == (256, 10)
    x = _images()
    np.testing.assert_array_equal(np.asarray(objective.model(x)[imta.TEACHER]),
                                  np.asarray(stage1(x)["exit_3"]))
    before = {v.path: np.array(v) for v in objective.model.weights}
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(objective.variables)
    labels = (np.arange(8) % 10).astype("int32")
    data = tf.data.Dataset.from_tensors((_images(8, seed=3), labels)).repeat()
    step = steps_lib.make_train_step(objective.model, optimizer, tf.distribute.get_strategy(),
                                     [1.0] * 4, 1e-4, 8, variables=objective.variables,
                                     exit_losses=objective.exit_losses)
    step(iter(data))
    changed = {v.path for v in objective.model.weights
               if not np.array_equal(before[v.path], np.asarray(v))}
    head_vars = {v.path for name in heads for v in model.get_layer(name).weights}
    assert {v.path for v in objective.variables} <= head_vars
    assert {p for p in head_vars if "moving" not in p} <= changed
    moved = changed - head_vars
    if backbone_bn == "frozen":
        assert not moved
    else:  # only the backbone's BN moving statistics move
        assert moved and all("moving_mean" in p or "moving_variance" in p for p in moved)
    objective.restore()
    assert imta.TEACHER not in [l.name for l in model.layers]
