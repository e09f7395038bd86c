"""RANet: plan against the reference, every option builds, stages, serialisation, init."""

import numpy as np
import pytest

import keras

from msdnet_tf.models import RANet, run_stages
from msdnet_tf.models.family import ArchitectureError
from msdnet_tf.models.ranet import plan as plan_lib
from msdnet_tf.models.ranet.layers import AlignCornersResize, resize_reference
from tests.conftest import RANET_TINY, reference_json

# Every option: even / lg steps, cifar / imagenet stems, repeated resolution levels
# (identity resizes), two to four sub-networks, transitions with and without down-sampling.
VARIANTS = {
    "cifar_even": {},
    "lg": dict(step_mode="lg"),
    "repeated_levels": dict(scale_list=[1, 2, 3, 3], growth_factors=[2, 1, 1, 1],
                            bottleneck_factors=[2, 1, 1, 1], num_blocks=1),
    "repeated_second_level": dict(scale_list=[1, 2, 2], image_size=16),
    "two_subnets": dict(scale_list=[1, 2], growth_factors=[2, 1], bottleneck_factors=[2, 1],
                        image_size=16, block_step=2),
    "one_subnet": dict(scale_list=[1], growth_factors=[1], bottleneck_factors=[1],
                       image_size=8, num_blocks=3),
    "imagenet_stem": dict(stem="imagenet", image_size=112, num_classes=20),
    "reduction_one_compress_half": dict(reduction=1.0, compress_factor=0.5),
}


def _inputs(size, n=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size, size, 3)).astype("float32")


@pytest.fixture(scope="module")
def tiny():
    return RANet(**RANET_TINY)


PUBLISHED = ["cifar10_train_script", "cifar100_train_script", "cifar10_readme_lg",
             "cifar100_readme_lg", "imagenet_c64_figure", "imagenet_readme_c32",
             "imagenet_train_script_c16"]


@pytest.mark.parametrize("name", PUBLISHED)
def test_plan_matches_the_reference_module_tree(name):
    entry = reference_json("ranet/counts.json")[name]
    plan = plan_lib.plan(**entry["model"])
    assert plan_lib.reference_plan(plan) == entry["plan"]
    assert len(plan.exits) == entry["num_exits"] == plan_lib.num_exits(**entry["model"])


def test_plan_widths_of_the_cifar_anytime_network():
    """The spec's example: channels@side of each block's input, then the last output."""
    kwargs = dict(RANET_TINY, num_channels=16, growth_rate=6, growth_factors=[4, 2, 1, 1],
                  bottleneck_factors=[4, 2, 1, 1], scale_list=[1, 2, 3, 3], step=4,
                  block_step=2, num_classes=100)
    plan = plan_lib.plan(**kwargs)
    rows = [[(b.feat_widths[0], b.side_in) for b in blocks] + [(blocks[-1].width_out,
                                                               blocks[-1].side_out)]
            for blocks in plan.subnets]
    assert rows == [
        [(64, 8), (160, 8), (256, 8)],
        [(32, 16), (100, 16), (92, 8), (140, 8), (188, 8)],
        [(16, 32), (50, 32), (46, 16), (87, 16), (69, 8), (93, 8), (117, 8)],
        [(16, 32), (50, 32), (46, 32), (87, 32), (138, 16), (101, 16), (156, 8), (180, 8),
         (204, 8)]]
    # Transitions and down-sampling are independent: sub-network 3 has transitions after
    # blocks 2 and 5, down-sampling in blocks 4 and 6 (1-based).
    last = plan.subnets[3]
    assert [b.index + 1 for b in last if b.transition] == [2, 5]
    assert [b.index + 1 for b in last if b.down] == [4, 6]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_builds_and_stages_compose_to_the_full_model(variant):
    kwargs = {**RANET_TINY, **VARIANTS[variant]}
    model = RANet(**kwargs)
    x = _inputs(kwargs["image_size"])
    outputs = model(x, training=False)
    k_exits = plan_lib.num_exits(**kwargs)
    assert sorted(outputs) == [f"exit_{k}" for k in range(k_exits)] and model.num_exits == k_exits
    for logits in outputs.values():
        assert logits.shape == (2, kwargs["num_classes"]) and logits.dtype == "float32"
        assert np.isfinite(np.asarray(logits)).all()
    staged = run_stages(model.stage_models(), x)
    for key, logits in outputs.items():
        np.testing.assert_array_equal(np.asarray(staged[key]), np.asarray(logits))
    k = k_exits - 1
    np.testing.assert_array_equal(np.asarray(model.exit_model(k)(x)),
                                  np.asarray(outputs[f"exit_{k}"]))


def test_stage_boundaries_carry_every_map_later_stages_read(tiny):
    stages = tiny.stage_models(batch_size=1)
    graph = tiny.graph()
    # Exit 1 ends sub-network 0: stage 1 hands on every feats list of sub-network 0
    # (its two blocks: input and the map after each layer) and the stem maps of
    # sub-networks 1 and 2, and nothing of what sub-network 1 will not read.
    assert list(stages[1].output) == ["logits", "s0_stem", "s1_stem", "s2_stem", "s0_b0_l1",
                                      "s0_b0_l2", "s0_b1_l1", "s0_b1_l2"]
    # Stage k takes exactly what stage k - 1 returned.
    for previous, stage in zip(stages, stages[1:]):
        assert sorted(stage.input) == sorted(k for k in previous.output if k != "logits")
    assert list(stages[-1].output) == ["logits"]
    # The fusion blocks of sub-network 1 read each map of sub-network 0's feats lists.
    reads = {n for i, b in graph.schedule[2] for n in graph._reads(i, b)}
    assert {"s0_stem", "s0_b0_l1", "s0_b0_l2", "s0_b1_l1", "s0_b1_l2"} <= reads
    # No weight is copied and no layer runs twice along the cascade.
    ids = {id(w) for w in tiny.weights}
    assert all(id(w) in ids for s in stages for w in s.weights)
    owned = [layer.name for s in stages for layer in s.layers
             if not isinstance(layer, keras.layers.InputLayer)]
    assert len(owned) == len(set(owned))


def test_exit_models_match_the_full_model(tiny):
    x = _inputs(32)
    full = tiny(x, training=False)
    for k in range(tiny.num_exits):
        np.testing.assert_array_equal(np.asarray(tiny.exit_model(k)(x)),
                                      np.asarray(full[f"exit_{k}"]))
    with pytest.raises(ValueError, match="exit must be an integer"):
        tiny.exit_model(tiny.num_exits)


def test_get_config_round_trip_and_keras_save_load(tmp_path, tiny):
    config = tiny.get_config()
    clone = RANet.from_config(config)
    assert clone.get_config() == config
    path = tmp_path / "m.keras"
    tiny.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, RANet) and loaded.family == "ranet"
    x = _inputs(32)
    for key, logits in tiny(x, training=False).items():
        np.testing.assert_allclose(np.asarray(loaded(x, training=False)[key]),
                                   np.asarray(logits), atol=1e-6)


def test_resize_is_the_spec_formula_and_identity_resizes_are_skipped():
    rng = np.random.default_rng(0)
    for n, m in ((8, 16), (16, 8), (7, 14), (14, 7), (28, 56), (56, 28), (5, 3), (3, 1)):
        x = rng.normal(size=(2, n, n + 1, 3)).astype("float32")
        got = np.asarray(AlignCornersResize((m, m + 1))(x))
        np.testing.assert_allclose(got, resize_reference(x, (m, m + 1)), atol=2e-6, rtol=0)
    # 16 -> 8 reads rows 0, 2.14, 4.29, ..., 15: neither pooling nor strided slicing.
    x = np.arange(16, dtype="float32").reshape(1, 16, 1, 1) * np.ones((1, 1, 2, 1), "float32")
    rows = np.asarray(AlignCornersResize((8, 2))(x))[0, :, 0, 0]
    np.testing.assert_allclose(rows, np.arange(8) * 15 / 7, atol=1e-5)
    # scale_list [1, 2, 3, 3]: the last sub-network's first fusion blocks concatenate
    # same-size maps, with no resize layer in between.
    model = RANet(**{**RANET_TINY, **VARIANTS["repeated_levels"]})
    names = {layer.name for layer in model.layers}
    assert "s3_b0_l0_resize" not in names and "s3_b0_l0_up_resize" not in names
    assert "s2_b0_l0_up_resize" in names


def test_initialisation_follows_the_reference():
    big = RANet(**{**RANET_TINY, "num_channels": 32, "growth_rate": 32})
    # Sub-networks: He-normal, fan-out, std sqrt(2 / (k * k * C_out)).
    w = big.get_layer("s0_b0_l0_normal_3x3_conv").kernel.numpy()
    assert abs(w.std() - np.sqrt(2 / (9 * w.shape[-1]))) < 0.1 * np.sqrt(2 / (9 * w.shape[-1]))
    # Stem: PyTorch's default uniform(+-1/sqrt(fan_in)), fan_in = 9 * C_in.
    for name, fan_in in (("stem_s2_conv", 9 * 3), ("stem_s1_conv", 9 * 32)):
        w = big.get_layer(name).kernel.numpy()
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    dense = big.get_layer("exit_0")
    bound = 1 / np.sqrt(dense.kernel.shape[0])
    assert np.abs(dense.kernel.numpy()).max() <= bound and not dense.bias.numpy().any()
    imagenet = RANet(**{**RANET_TINY, **VARIANTS["imagenet_stem"]})
    stem = imagenet.get_layer("stem_s2_conv")
    bias, bound = stem.bias.numpy(), 1 / np.sqrt(3 * 7 * 7)
    assert stem.use_bias and bias.any() and np.abs(bias).max() <= bound
    bn = big.get_layer("s1_b0_l0_up_3x3_bn")
    assert bn.epsilon == 1e-5 and bn.momentum == 0.9


def test_strided_convs_pad_symmetrically(tiny):
    assert tiny.get_layer("stem_s1_pad").padding == ((1, 1), (1, 1))
    down = [b for blocks in tiny.plan.subnets for b in blocks if b.down][0]
    name = f"s{down.subnet}_b{down.index}_l{down.layers - 1}_normal_3x3_pad"
    assert tiny.get_layer(name).padding == ((1, 1), (1, 1))


@pytest.mark.parametrize("change, key", [
    (dict(growth_factors=[2, 1]), "growth_factors"),
    (dict(bottleneck_factors=[2, 1, 1, 1]), "bottleneck_factors"),
    (dict(scale_list=[2, 2, 3]), "scale_list"),
    (dict(scale_list=[1, 3, 3]), "scale_list"),
    (dict(scale_list=[1, 1, 2]), "scale_list"),
    (dict(scale_list=[1, 2, 1]), "scale_list"),
    (dict(scale_list=[1, 2, 2]), "scale_list"),  # a 16x16 coarsest map on 32x32 images
    (dict(step=1), "step"),
    (dict(growth_rate=2), "compress_factor"),
    (dict(block_step=0), "block_step"),
    (dict(bottleneck=False), "bottleneck"),
    (dict(bn_after=False), "bn_after"),
    (dict(step_mode="lin_grow"), "step_mode"),
    (dict(compress_factor=1.0), "compress_factor"),
    (dict(reduction=0.0), "reduction"),
])
def test_invalid_configurations_name_the_key(change, key):
    with pytest.raises(ArchitectureError, match=rf"^model\.{key} .*Received: model\.{key}="):
        RANet(**{**RANET_TINY, **change})
