"""Resolution-switchable models: shared weights, private BatchNorm, global heads, folding."""

import numpy as np
import pytest

import keras
import tensorflow as tf

from msdnet_tf import config as config_lib
from msdnet_tf.models import MSDNet
from msdnet_tf.models.family import ArchitectureError, get
from msdnet_tf.models.resolution import ConditionedConv2D, private_name
from tests.conftest import TINY

SIZES = [32, 24, 16]


def _x(size, n=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size, size, 3)).astype("float32")


def _max_diff(a, b):
    return max(float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in a)


@pytest.fixture(scope="module")
def switchable():
    return MSDNet(**TINY, head_pool="global", resolutions=SIZES)


@pytest.fixture(scope="module")
def conditioned():
    model = MSDNet(**TINY, head_pool="global", resolutions=SIZES, resolution_conditioned=True)
    rng = np.random.default_rng(1)
    for layer in model.layers:  # A = 0 at init: give it values so that e matters
        if isinstance(layer, ConditionedConv2D):
            layer.kernel_a.assign(0.1 * rng.normal(size=layer.kernel_a.shape))
    return model


def test_global_heads_equal_fixed_heads_at_the_native_size():
    fixed = MSDNet(**TINY)
    pooled = MSDNet(**TINY, head_pool="global")
    pooled.set_weights(fixed.get_weights())
    x = _x(32)
    assert _max_diff(fixed(x, training=False), pooled(x, training=False)) == 0.0
    # At 40 the heads see 3x3 maps: the reference pools the top-left 2x2 only.
    fixed40 = MSDNet(**{**TINY, "image_size": 40})
    pooled40 = MSDNet(**{**TINY, "image_size": 40}, head_pool="global")
    pooled40.set_weights(fixed40.get_weights())
    assert _max_diff(fixed40(_x(40)), pooled40(_x(40))) > 1e-3


def test_only_batch_norm_is_private(switchable):
    plain = MSDNet(**TINY)
    bn = [layer for layer in plain.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(switchable.resolution_layers) == 2 * len(bn)
    names = {layer.name for layer in switchable.resolution_layers}
    assert names == {private_name(layer.name, r) for layer in bn for r in (24, 16)}
    # Weights of the r0 graph come first, in the plain model's order and names.
    assert [w.path for w in switchable.weights[:len(plain.weights)]] == \
        [w.path for w in plain.weights]
    shared_ids = {id(w) for w in switchable.weights}
    for r in (24, 16):
        view = switchable.at_resolution(r)
        assert all(id(w) in shared_ids for w in view.weights)
        assert view.get_layer("exit_0") is switchable.get_layer("exit_0")
        assert view.get_layer("stem_s0_conv") is switchable.get_layer("stem_s0_conv")


def _bn_stats(model):
    return {v.path: np.array(v) for v in model.non_trainable_weights}


def test_a_step_at_one_resolution_leaves_the_others_statistics_alone(switchable):
    before = _bn_stats(switchable)
    view = switchable.at_resolution(24)
    tf.function(lambda x: view(x, training=True))(_x(24))
    after = _bn_stats(switchable)
    changed = {p for p in before if not np.array_equal(before[p], after[p])}
    assert changed and all("_r24/" in p for p in changed)
    mine = [p for p in before if "_r24/" in p]
    assert changed == set(mine)


def test_serving_model_equals_the_switchable_graph(switchable):
    for r in SIZES:
        served = switchable.serving_model(r)
        assert not served.switchable and served.image_size == r
        assert _max_diff(switchable.at_resolution(r)(_x(r), training=False),
                         served(_x(r), training=False)) == 0.0


def test_folded_kernel_equals_the_training_graph(conditioned):
    conv = conditioned.get_layer("l1_s0_normal_3x3_conv")
    assert len(conditioned.trainable_weights) > len(MSDNet(**TINY).trainable_weights)
    for r in SIZES:
        served = conditioned.serving_model(r)
        folded = served.get_layer("l1_s0_normal_3x3_conv").kernel
        e = 0.7 * r / 32
        np.testing.assert_allclose(np.asarray(folded),
                                   e * np.asarray(conv.kernel_a) + np.asarray(conv.kernel),
                                   rtol=0, atol=1e-6)
        diff = _max_diff(conditioned.at_resolution(r)(_x(r), training=False),
                         served(_x(r), training=False))
        assert diff < 1e-4, (r, diff)
    # e matters: the kernels of 32 and 16 differ.
    k32 = conditioned.serving_model(32).get_layer("l1_s0_normal_3x3_conv").kernel
    k16 = conditioned.serving_model(16).get_layer("l1_s0_normal_3x3_conv").kernel
    assert float(np.abs(np.asarray(k32) - np.asarray(k16)).max()) > 1e-3


def test_save_and_load_keep_every_resolution(tmp_path, conditioned):
    path = tmp_path / "m.keras"
    conditioned.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.resolutions == tuple(SIZES) and loaded.options["resolution_conditioned"]
    for r in SIZES:
        assert _max_diff(loaded.at_resolution(r)(_x(r), training=False),
                         conditioned.at_resolution(r)(_x(r), training=False)) == 0.0


def test_unseen_resolution_uses_the_nearest_batch_norm(switchable):
    assert switchable.nearest_resolution(20) == 24  # a tie goes to the larger side
    assert switchable.nearest_resolution(12) == 16
    served = switchable.serving_model(20)
    bn = served.get_layer("stem_s0_bn")
    np.testing.assert_array_equal(
        np.asarray(bn.gamma), np.asarray(switchable.at_resolution(24).get_layer(
            "stem_s0_bn_r24").gamma))


@pytest.mark.parametrize("overrides,match", [
    ({"resolutions": [24, 16]}, r"must start with model.image_size=32"),
    ({"resolutions": [32, 16, 24]}, r"distinct and in decreasing order"),
    ({"resolutions": [32]}, r"at least two sizes"),
    ({"resolutions": [32, 0]}, r"positive integers"),
    ({"resolution_conditioned": True}, r"needs model.resolutions"),
    ({"head_pool": "max"}, r"head_pool must be one of fixed, global"),
    ({"resolutions": [32, 24, 16]},
     r"^model.resolutions: this network cannot take 16x16 inputs with head_pool fixed "
     r"\(.*\); the smallest size it takes is 17; with model.head_pool: global it takes 16$"),
    ({"image_size": 16},  # a single-resolution model: the family's message and the way out
     r"^model.image_size gives a 4x4 coarsest scale.*Received: model.image_size=16; or set "
     r"model.head_pool=global, which takes 16x16 inputs$"),
])
def test_config_errors(overrides, match):
    kwargs = {**{k: v for k, v in TINY.items()}, **overrides}
    with pytest.raises(ArchitectureError, match=match):
        get("msdnet").validate(kwargs)


def test_config_section_has_the_shared_keys(tmp_path):
    cfg = config_lib.load_config(None, ["model.head_pool=global", "model.resolutions=[32,24,16]"])
    assert config_lib.model_kwargs(cfg)["resolutions"] == [32, 24, 16]
    path = tmp_path / "c.yaml"
    config_lib.save_config(cfg, path)
    assert config_lib.load_config(path) == cfg
    with pytest.raises(config_lib.ConfigError, match="model.resolutions: this network cannot"):
        config_lib.load_config(None, ["model.resolutions=[32,16]"])
    with pytest.raises(config_lib.ConfigError, match="model.resolutions must be a list of int"):
        config_lib.load_config(None, ["model.resolutions=32"])
    sides = ["model.head_pool=global", "model.resolutions=[32,24,16]"]
    assert config_lib.load_config(None, [*sides, "train.resolution_weights=[1,0.5,0.5]"]) \
        .train.resolution_weights == [1, 0.5, 0.5]
    with pytest.raises(config_lib.ConfigError, match=r"^train.resolution_weights must be empty "
                       r"or have one weight per side of model.resolutions \(\[32, 24, 16\]\)"):
        config_lib.load_config(None, [*sides, "train.resolution_weights=[1,0.5]"])
    with pytest.raises(config_lib.ConfigError, match="resolution_weights must have a weight > 0"):
        config_lib.load_config(None, [*sides, "train.resolution_weights=[0,0,0]"])
