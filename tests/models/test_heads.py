"""IMTA's inline subnetwork collaboration heads on a family graph (msdnet_tf.models.heads)."""

import json

import keras
import numpy as np
import pytest

from msdnet_tf import flops
from msdnet_tf.models import MSDNet, run_stages
from msdnet_tf.models import heads as heads_lib
from tests.conftest import TINY


def _inputs(n=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 32, 32, 3)).astype("float32")


@pytest.fixture(scope="module")
def isc_model():
    return MSDNet(**TINY, exit_heads="isc")


def test_isc_heads_structure(isc_model):
    """exit 0 = Dense(f_0); exit k = Dense(concat[f_k, ReLU(BN(Dense(logits_{k-1})))])."""
    c, classes = 128, TINY["num_classes"]  # cifar stem: 128-channel classifier features
    assert isc_model.get_layer("exit_0").kernel.shape == (c, classes)
    for k in (1, 2):
        assert isc_model.get_layer(f"isc{k}_fc").kernel.shape == (classes, c)
        assert isc_model.get_layer(f"isc{k}_bn").moving_mean.shape == (c,)
        assert isc_model.get_layer(f"exit_{k}").kernel.shape == (2 * c, classes)
        concat = isc_model.get_layer(f"isc{k}_concat")
        # Features first, then the embedding, as the authors' torch.cat((feat, isc), -1).
        assert [t._keras_history.operation.name for t in concat.input] == [
            f"exit{k}_pool", f"isc{k}_relu"]


def test_stages_and_exit_models_reproduce_the_model(isc_model):
    x = _inputs()
    full = isc_model(x, training=False)
    stages = isc_model.stage_models()
    assert list(stages[0].output) == ["logits", "scale_0", "scale_1", "scale_2",
                                      heads_lib.ISC_LOGITS]
    assert heads_lib.ISC_LOGITS in stages[2].input and list(stages[2].output) == ["logits"]
    staged = run_stages(stages, x)
    for k in range(isc_model.num_exits):
        np.testing.assert_array_equal(np.asarray(staged[f"exit_{k}"]),
                                      np.asarray(full[f"exit_{k}"]))
        np.testing.assert_array_equal(np.asarray(isc_model.exit_model(k)(x)),
                                      np.asarray(full[f"exit_{k}"]))
    # Stage k carries exactly its own logits on.
    out = stages[0](x, training=False)
    np.testing.assert_array_equal(np.asarray(out[heads_lib.ISC_LOGITS]),
                                  np.asarray(out["logits"]))


def test_counts_include_the_isc_ops(isc_model):
    """Linear = weights + biases, BN 0 (its gamma/beta are parameters), ReLU = elements."""
    plain = flops.count(MSDNet(**TINY))
    isc = flops.count(isc_model)
    c, classes = 128, TINY["num_classes"]
    fc = classes * c + c                      # isc{k}_fc
    wider_dense = c * classes                 # exit_k reads 2C instead of C
    assert isc.stage_flops[0] == plain.stage_flops[0]
    assert isc.stage_params[0] == plain.stage_params[0]
    for k in (1, 2):
        assert isc.stage_flops[k] - plain.stage_flops[k] == fc + c + wider_dense
        assert isc.stage_params[k] - plain.stage_params[k] == fc + 2 * c + wider_dense


def test_save_load_and_config(tmp_path, isc_model):
    path = tmp_path / "isc.keras"
    isc_model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.exit_heads == "isc"
    x = _inputs()
    np.testing.assert_array_equal(np.asarray(loaded(x)["exit_2"]),
                                  np.asarray(isc_model(x)["exit_2"]))
    with pytest.raises(ValueError, match="exit_heads must be one of plain, isc"):
        MSDNet(**TINY, exit_heads="boosted")


def test_folded_bn_weights_compute_the_same(isc_model):
    """The QAT rebuild folds isc{k}_bn (inference mode) into isc{k}_fc exactly."""
    rng = np.random.default_rng(1)
    bn = isc_model.get_layer("isc1_bn")
    bn.set_weights([rng.uniform(0.5, 2, w.shape).astype("float32") if i in (0, 3)
                    else rng.normal(size=w.shape).astype("float32")
                    for i, w in enumerate(bn.get_weights())])
    fc = isc_model.get_layer("isc1_fc")
    weights = {f"{layer.name}/{i}": w for layer in (fc, bn)
               for i, w in enumerate(layer.get_weights())}
    folded = heads_lib.fold_isc_bn_weights(weights)
    assert sorted(folded) == ["isc1_fc/0", "isc1_fc/1"]
    logits = rng.normal(size=(4, TINY["num_classes"])).astype("float32")
    expected = np.asarray(bn(fc(logits), training=False))
    got = logits @ folded["isc1_fc/0"] + folded["isc1_fc/1"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert folded["isc1_fc/0"].shape == tuple(fc.kernel.shape)
