"""Resolution-switchable RANet: the contract of tests/models/test_resolution.py for the
second family (private BatchNorm, global heads, folding, sizes, calibration)."""

import numpy as np
import pytest

import keras
import tensorflow as tf

from msdnet_tf import calibrate_bn
from msdnet_tf.models.family import ArchitectureError, get
from msdnet_tf.models.ranet.model import RANet
from msdnet_tf.models.resolution import ConditionedConv2D, is_batch_norm, private_name
from tests.conftest import RANET_TINY
from tests.techniques.test_calibrate_bn import _direct_statistics

SIZES = [32, 24, 16]


def _x(size, n=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size, size, 3)).astype("float32")


def _max_diff(a, b):
    return max(float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in a)


@pytest.fixture(scope="module")
def switchable():
    model = RANet(**RANET_TINY, head_pool="global", resolutions=SIZES,
                  resolution_conditioned=True)
    rng = np.random.default_rng(1)
    for layer in model.layers:  # A = 0 at init: give it values so that e matters
        if isinstance(layer, ConditionedConv2D):
            layer.kernel_a.assign(0.1 * rng.normal(size=layer.kernel_a.shape))
    return model


def test_global_heads_equal_fixed_heads_at_the_native_size():
    fixed = RANet(**RANET_TINY)
    pooled = RANet(**RANET_TINY, head_pool="global")
    pooled.set_weights(fixed.get_weights())
    assert _max_diff(fixed(_x(32), training=False), pooled(_x(32), training=False)) == 0.0
    # At 40 the coarsest map is 10x10 and the heads see 3x3: the 2x2 pool takes a corner.
    fixed40 = RANet(**{**RANET_TINY, "image_size": 40})
    pooled40 = RANet(**{**RANET_TINY, "image_size": 40}, head_pool="global")
    pooled40.set_weights(fixed40.get_weights())
    assert _max_diff(fixed40(_x(40)), pooled40(_x(40))) > 1e-3


def test_only_batch_norm_is_private(switchable):
    plain = RANet(**RANET_TINY)
    bn = [layer for layer in plain.layers if is_batch_norm(layer)]
    assert len(switchable.resolution_layers) == 2 * len(bn)
    assert {layer.name for layer in switchable.resolution_layers} == \
        {private_name(layer.name, r) for layer in bn for r in (24, 16)}
    shared_ids = {id(w) for w in switchable.weights}
    for r in (24, 16):
        view = switchable.at_resolution(r)
        assert all(id(w) in shared_ids for w in view.weights)
        assert view.get_layer("exit_0") is switchable.get_layer("exit_0")
        # The resize layers are the side's own: their target sizes follow the input.
        resize = view.get_layer(private_name("s2_b0_l0_up_resize", r))
        assert resize.size == (r, r)


def test_a_step_at_one_resolution_leaves_the_others_statistics_alone(switchable):
    stats = lambda: {v.path: np.array(v) for v in switchable.non_trainable_weights}  # noqa: E731
    before = stats()
    view = switchable.at_resolution(16)
    tf.function(lambda x: view(x, training=True))(_x(16))
    after = stats()
    changed = {p for p in before if not np.array_equal(before[p], after[p])}
    assert changed == {p for p in before if "_r16/" in p}


def test_serving_model_equals_the_switchable_graph(switchable):
    name = "s2_b1_l0_normal_3x3_conv"
    conv = switchable.get_layer(name)
    for r in SIZES:
        served = switchable.serving_model(r)
        assert not served.switchable and served.image_size == r
        e = 0.7 * r / 32
        np.testing.assert_allclose(np.asarray(served.get_layer(name).kernel),
                                   e * np.asarray(conv.kernel_a) + np.asarray(conv.kernel),
                                   rtol=0, atol=1e-6)
        diff = _max_diff(switchable.at_resolution(r)(_x(r), training=False),
                         served(_x(r), training=False))
        assert diff < 1e-4, (r, diff)


def test_save_and_load_keep_every_resolution(tmp_path, switchable):
    path = tmp_path / "ranet.keras"
    switchable.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.resolutions == tuple(SIZES)
    for r in SIZES:
        assert _max_diff(loaded.at_resolution(r)(_x(r), training=False),
                         switchable.at_resolution(r)(_x(r), training=False)) == 0.0


@pytest.mark.parametrize("overrides,match", [
    ({"resolutions": [32, 24, 16]},
     r"^model.resolutions: this network cannot take 16x16 inputs with head_pool fixed "
     r"\(.*1x1 map.*\); the smallest size it takes is 17; with model.head_pool: global it "
     r"takes 16$"),
    ({"resolutions": [32, 24]}, None),
    ({"resolutions": [32, 24, 16], "head_pool": "global"}, None),
    ({"resolutions": [24, 16], "head_pool": "global"}, r"must start with model.image_size=32"),
])
def test_config(overrides, match):
    kwargs = {"family": "ranet", **RANET_TINY, **overrides}
    kwargs.pop("family")
    if match is None:
        get("ranet").validate(kwargs)
        return
    with pytest.raises(ArchitectureError, match=match):
        get("ranet").validate(kwargs)


# About 18 s; the MSDNet twin (tests/techniques/test_calibrate_bn.py) runs by default.
@pytest.mark.slow
def test_calibration_statistics_equal_a_direct_computation():
    model = RANet(**RANET_TINY, head_pool="global", resolutions=[32, 24]).serving_model(20)
    images = _x(20, n=10)
    batches = [images[:4], images[4:8], images[8:]]
    names = ["stem_s2_bn", "stem_s0_bn", "s1_b0_l1_up_3x3_bn", "s2_b2_l1_normal_3x3_bn",
             "exit3_c2_bn"]
    expected = _direct_statistics(model, batches, names)
    assert calibrate_bn.calibrate(model, batches) == 10
    for n in names:
        bn = model.get_layer(n)
        np.testing.assert_allclose(np.asarray(bn.moving_mean), expected[n][0], rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(np.asarray(bn.moving_variance), expected[n][1], rtol=1e-4,
                                   atol=1e-5)
