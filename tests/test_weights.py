import json
import subprocess
import sys

import numpy as np
import pytest

import keras

import msdnet_tf  # noqa: F401  registers MSDNet for load_model
from msdnet_tf import weights
from msdnet_tf.models import MSDNet
from tests.conftest import REPO, TINY, reference_file, reference_json


@pytest.mark.parametrize("name", ["cifar_tiny_even", "imagenet_tiny_even"])
def test_golden_logits_match_the_reference(name):
    entry = reference_json("golden/golden.json")[name]
    path = reference_file(entry["file"])
    model = MSDNet(**entry["model"])
    weights.load_state_dict(model, weights.read_weights(path))
    data = np.load(path)
    outputs = model(np.transpose(data["input_nchw"], (0, 2, 3, 1)), training=False)
    for k in range(entry["num_exits"]):
        np.testing.assert_allclose(np.asarray(outputs[f"exit_{k}"]), data[f"logits_exit{k}"],
                                   atol=1e-4, rtol=0)


def _randomised(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            # Positive variances; everything else random so a wrong mapping shows.
            layer.set_weights([np.abs(rng.normal(size=w.shape)).astype("float32") + 0.5
                               if "variance" in v.path else
                               rng.normal(scale=0.3, size=w.shape).astype("float32")
                               for w, v in zip(ws, layer.weights)])
    return model


def test_export_then_import_round_trip_without_shared_files(tiny_model):
    source = _randomised(MSDNet(**TINY))
    state = weights.export_state_dict(source)
    assert all(k.startswith(("blocks.", "classifier.")) for k in state)
    target = weights.load_state_dict(MSDNet(**TINY), state)
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    expected, got = source(x, training=False), target(x, training=False)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))


def test_reference_layout_and_names(tiny_model):
    state = weights.export_state_dict(tiny_model)
    # PyTorch layouts: conv [out, in, kh, kw], linear [out, in].
    assert state["blocks.0.0.layers.0.net.0.weight"].shape == (8, 3, 3, 3)
    assert state["classifier.2.linear.weight"].shape == (10, 128)
    # Block 1 holds layer 3 (module 0) and the transition after it (module 1).
    assert state["blocks.1.1.m.0.net.0.weight"].shape[2:] == (1, 1)


def test_unreachable_layers_are_accepted_but_unused(tiny_model):
    state = weights.export_state_dict(tiny_model)
    state["blocks.2.0.layers.0.conv_normal.net.0.weight"] = np.zeros((4, 4, 1, 1), "float32")
    weights.load_state_dict(MSDNet(**TINY), state)


def test_errors_name_the_tensor(tiny_model):
    state = weights.export_state_dict(tiny_model)
    missing = dict(state)
    del missing["classifier.1.linear.bias"]
    with pytest.raises(weights.WeightImportError, match="classifier.1.linear.bias"):
        weights.load_state_dict(MSDNet(**TINY), missing)
    extra = {**state, "blocks.9.0.weight": np.zeros(3, "float32")}
    with pytest.raises(weights.WeightImportError, match="blocks.9.0.weight"):
        weights.load_state_dict(MSDNet(**TINY), extra)
    shaped = {**state, "classifier.0.linear.weight": np.zeros((11, 128), "float32")}
    with pytest.raises(weights.WeightImportError, match="classifier.0.linear"):
        weights.load_state_dict(MSDNet(**TINY), shaped)
    counters = {**state, "blocks.0.0.layers.0.net.1.num_batches_tracked": np.array(5)}
    weights.load_state_dict(MSDNet(**TINY), counters)


def test_import_cli_writes_a_loadable_model(tmp_path, tiny_model):
    source = _randomised(MSDNet(**TINY), seed=3)
    npz = tmp_path / "w.npz"
    np.savez(npz, **{f"state/{k}": v for k, v in weights.export_state_dict(source).items()})
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(json.dumps({"model": TINY}))
    out = tmp_path / "m.keras"
    result = subprocess.run(
        [sys.executable, "-m", "msdnet_tf.import_torch", "--config", str(cfg), "--weights",
         str(npz), "--output", str(out)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    loaded = keras.models.load_model(out)
    x = np.ones((1, 32, 32, 3), "float32")
    np.testing.assert_allclose(np.asarray(loaded(x)["exit_2"]),
                               np.asarray(source(x, training=False)["exit_2"]), atol=1e-5)
    bad = subprocess.run(
        [sys.executable, "-m", "msdnet_tf.import_torch", "--config", str(cfg), "--override",
         "model.num_channels=12", "--weights", str(npz), "--output", str(out)],
        capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "do not fit" in bad.stderr.strip().splitlines()[-1]
