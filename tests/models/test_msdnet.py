import numpy as np
import pytest

import keras

from msdnet_tf.models import MSDNet, RANet, run_stages
from tests.conftest import RANET_TINY, TINY

VARIANTS = {
    "cifar_even_max": {},
    "lin_grow": dict(num_blocks=3, step_mode="lin_grow", step=1, base=1),
    "prune_min": dict(prune="min", num_blocks=3, step=2, base=2),
    "no_bottleneck": dict(bottleneck=False),
    "two_scales": dict(growth_factors=[1, 2], bottleneck_factors=[1, 2], image_size=16),
    "four_scales": dict(growth_factors=[1, 2, 4, 4], bottleneck_factors=[1, 2, 4, 4],
                        image_size=64),
    "reduction_one": dict(reduction=1.0),
    "imagenet_stem": dict(stem="imagenet", image_size=112, num_classes=20),
}


def _inputs(size, n=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size, size, 3)).astype("float32")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_builds_with_one_output_per_exit(variant):
    kwargs = {**TINY, **VARIANTS[variant]}
    model = MSDNet(**kwargs)
    outputs = model(_inputs(kwargs["image_size"]), training=False)
    assert sorted(outputs) == [f"exit_{k}" for k in range(kwargs["num_blocks"])]
    for logits in outputs.values():
        assert logits.shape == (2, kwargs["num_classes"])
        assert logits.dtype == "float32"
        assert np.isfinite(np.asarray(logits)).all()
    # Stage composition reproduces the full model exactly.
    staged = run_stages(model.stage_models(), _inputs(kwargs["image_size"]))
    for key, logits in outputs.items():
        np.testing.assert_array_equal(np.asarray(staged[key]), np.asarray(logits))


def test_stage_interfaces(tiny_model):
    stages = tiny_model.stage_models(batch_size=1)
    assert [s.name for s in stages] == ["stage_0", "stage_1", "stage_2"]
    assert list(stages[0].output) == ["logits", "scale_0", "scale_1", "scale_2"]
    # Layers per block 2, 1, 1; interval ceil(4 / 3) = 2, so layer 3 (block 1)
    # drops scale 0 and is followed by a transition.
    assert sorted(stages[1].input) == ["scale_0", "scale_1", "scale_2"]
    assert sorted(stages[2].input) == ["scale_1", "scale_2"]
    # Layer 4 keeps scales 1 and 2, but only scale 2 feeds the last exit.
    assert "l4_s1_normal_3x3_conv" in tiny_model.unreachable_layers
    assert list(stages[-1].output) == ["logits"]
    # Stages share the model's layers: no copied weights.
    ids = {id(w) for w in tiny_model.weights}
    assert all(id(w) in ids for s in stages for w in s.weights)


def test_exit_models_match_full_model(tiny_model):
    x = _inputs(32)
    full = tiny_model(x, training=False)
    for k in range(tiny_model.num_exits):
        np.testing.assert_array_equal(np.asarray(tiny_model.exit_model(k)(x)),
                                      np.asarray(full[f"exit_{k}"]))
    with pytest.raises(ValueError, match="exit must be an integer"):
        tiny_model.exit_model(3)


def test_get_config_round_trip(tiny_model):
    config = tiny_model.get_config()
    clone = MSDNet.from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == tiny_model.count_params()


def test_keras_save_and_load(tmp_path, tiny_model):
    path = tmp_path / "m.keras"
    tiny_model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, MSDNet)
    x = _inputs(32)
    for key, logits in tiny_model(x, training=False).items():
        np.testing.assert_allclose(np.asarray(loaded(x, training=False)[key]),
                                   np.asarray(logits), atol=1e-6)


def test_batchnorm_follows_the_reference(tiny_model):
    bn = tiny_model.get_layer("l1_s0_normal_3x3_bn")
    assert bn.epsilon == 1e-5 and bn.momentum == 0.9
    np.testing.assert_array_equal(bn.gamma.numpy(), 1.0)
    np.testing.assert_array_equal(bn.beta.numpy(), 0.0)
    assert tiny_model.get_layer("l1_s0_normal_3x3_conv").use_bias is False


# Wide enough for tens of thousands of weights per probed kernel.
WIDE = {**TINY, "num_channels": 64, "growth_rate": 32}


def _ks(samples, cdf):
    """Kolmogorov-Smirnov distance between the samples and a distribution."""
    from scipy import stats

    return stats.kstest(samples.ravel(), cdf).statistic


def _unequal_fans(model):
    """exit0_c1_conv: 3x3 from the coarsest scale (C_in channels) to 128 channels."""
    w = model.get_layer("exit0_c1_conv").kernel.numpy().astype(np.float64)
    kh, kw, c_in, c_out = w.shape
    assert max(c_in, c_out) / min(c_in, c_out) > 1.5, w.shape
    return w, kh * kw * c_in, kh * kw * c_out


def test_he_normal_init_is_normal_with_the_fan_out():
    from scipy import stats

    keras.utils.set_random_seed(0)
    model = MSDNet(**WIDE, init="he_normal")
    w, fan_in, fan_out = _unequal_fans(model)
    std = np.sqrt(2.0 / fan_out)
    assert w.size > 20_000
    # Fan-in would give a std far outside the tolerance; so would truncation (0.88x).
    assert abs(np.sqrt(2.0 / fan_in) / std - 1) > 0.2
    assert abs(w.std() / std - 1) < 0.03
    assert abs(w.mean()) < 0.03 * std
    # Normal, not uniform or truncated with the same std: measured KS distances here
    # 0.001 (He-normal), 0.017 (truncated normal), 0.057 (uniform).
    assert _ks(w / std, stats.norm.cdf) < 0.005
    dense = model.get_layer("exit_0")
    bound = 1.0 / np.sqrt(dense.kernel.shape[0])
    assert np.abs(dense.kernel.numpy()).max() <= bound
    np.testing.assert_array_equal(dense.bias.numpy(), 0.0)


def test_torch_default_init_is_pytorchs():
    """kaiming_uniform(a=sqrt(5)) kernels and uniform biases, bound 1 / sqrt(fan_in)."""
    from scipy import stats

    keras.utils.set_random_seed(0)
    model = MSDNet(**WIDE, init="torch_default")
    w, fan_in, _ = _unequal_fans(model)
    bound = 1.0 / np.sqrt(fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() / (bound / np.sqrt(3)) - 1) < 0.03
    assert _ks((w + bound) / (2 * bound), stats.uniform.cdf) < 0.005
    # Normal with the same std would be far from uniform.
    assert _ks((np.random.default_rng(0).normal(size=w.size) * bound / np.sqrt(3) + bound)
               / (2 * bound), stats.uniform.cdf) > 0.03
    for name in ("stem_s0_conv", "l1_s0_normal_1x1_conv", "exit_0"):
        kernel = model.get_layer(name).kernel.numpy()
        b = 1.0 / np.sqrt(np.prod(kernel.shape[:-1]))
        assert np.abs(kernel).max() <= b and np.abs(kernel).max() > 0.9 * b, name
    dense = model.get_layer("exit_0")
    bias = dense.bias.numpy()
    b = 1.0 / np.sqrt(dense.kernel.shape[0])
    assert np.abs(bias).max() <= b and np.abs(bias).min() > 0 and bias.std() > 0.3 * b
    bn = model.get_layer("l1_s0_normal_3x3_bn")
    np.testing.assert_array_equal(bn.gamma.numpy(), 1.0)
    np.testing.assert_array_equal(bn.beta.numpy(), 0.0)


def test_init_is_checked_and_kept_in_the_config():
    model = MSDNet(**TINY, init="torch_default")
    assert model.get_config()["init"] == "torch_default"
    assert MSDNet.from_config(model.get_config()).init == "torch_default"
    assert MSDNet(**TINY).init == MSDNet(**TINY, init="default").init == "torch_default"
    assert MSDNet(**TINY, init="he_normal").get_config()["init"] == "he_normal"
    with pytest.raises(ValueError, match="init must be one of default, torch_default, he_normal"):
        MSDNet(**TINY, init="glorot")
    with pytest.raises(ValueError, match="init must be one of default, reference for ranet"):
        RANet(**RANET_TINY, init="torch_default")


def test_strided_convs_pad_symmetrically(tiny_model):
    pad = tiny_model.get_layer("stem_s1_pad")
    assert pad.padding == ((1, 1), (1, 1))


def test_invalid_arguments_name_the_key():
    from msdnet_tf.models.family import ArchitectureError

    with pytest.raises(ArchitectureError, match="model.growth_rate"):
        MSDNet(**{**TINY, "growth_rate": 3, "growth_factors": [1, 1, 1]})
    with pytest.raises(ArchitectureError, match="model.image_size"):
        MSDNet(**{**TINY, "image_size": 8})
