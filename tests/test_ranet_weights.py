"""RANet weights: the official state_dict in (golden logits), a self-made round trip, the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

import keras

from msdnet_tf import weights
from msdnet_tf.models import RANet
from tests.conftest import RANET_TINY, REPO, reference_file, reference_json
from tests.test_weights import _randomised

GOLDEN = ["cifar_tiny_1233", "imagenet_tiny_1234"]


def _golden(name):
    entry = reference_json("ranet/golden/golden.json")[name]
    return entry, reference_file("ranet/" + entry["file"])


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_logits_match_the_reference(name):
    entry, path = _golden(name)
    model = RANet(**entry["model"])
    state = weights.read_weights(path)
    weights.load_state_dict(model, state)  # every tensor used exactly once, or an error
    data = np.load(path)
    outputs = model(np.transpose(data["input_nchw"], (0, 2, 3, 1)), training=False)
    assert len(outputs) == entry["num_exits"]
    for k in range(entry["num_exits"]):
        np.testing.assert_allclose(np.asarray(outputs[f"exit_{k}"]), data[f"logits_exit{k}"],
                                   atol=1e-4, rtol=0)


def test_import_cli_on_the_official_state_dict(tmp_path):
    entry, path = _golden("cifar_tiny_1233")
    cfg = tmp_path / "golden.yaml"
    cfg.write_text(json.dumps({"model": {"family": "ranet", **entry["model"]}}))
    out = tmp_path / "golden.keras"
    result = subprocess.run(
        [sys.executable, "-m", "msdnet_tf.import_torch", "--config", str(cfg), "--weights",
         str(path), "--output", str(out)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    diffs = [float(part.split()[1]) for part in
             result.stdout.strip().splitlines()[-1].split(": ", 1)[1].split(", ")]
    assert len(diffs) == entry["num_exits"] and max(diffs) < 1e-4
    assert isinstance(keras.models.load_model(out), RANet)


def test_export_then_import_round_trip_without_shared_files():
    for arch in (RANET_TINY, {**RANET_TINY, "stem": "imagenet", "image_size": 112}):
        source = _randomised(RANet(**arch))
        state = weights.export_state_dict(source)
        assert all(k.startswith(("FirstLayer.", "scale_flows.", "classifier.")) for k in state)
        target = weights.load_state_dict(RANet(**arch), state)
        size = arch["image_size"]
        x = np.random.default_rng(1).normal(size=(2, size, size, 3)).astype("float32")
        expected, got = source(x, training=False), target(x, training=False)
        for key in expected:
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))


def test_reference_layout_and_names():
    state = weights.export_state_dict(RANet(**RANET_TINY))
    # Stem units in chain order from the finest: unit 0 makes sub-network 2's 32x32 map.
    assert state["FirstLayer.layers.0.net.0.weight"].shape == (4, 3, 3, 3)
    assert state["FirstLayer.layers.2.net.0.weight"].shape == (8, 4, 3, 3)
    # Fusion layer: conv_up reads sub-network 0 (bottleneck factor 2), conv_normal its own.
    assert state["scale_flows.1.0.layers.0.conv_up.net.0.weight"].shape == (2, 8, 1, 1)
    assert state["scale_flows.1.0.layers.0.conv_normal.net.3.weight"].shape == (3, 3, 3, 3)
    assert state["scale_flows.1.0.conv_last.net.0.weight"].shape == (3, 24, 1, 1)
    assert state["classifier.3.linear.weight"].shape == (10, 128)
    imagenet = weights.export_state_dict(RANet(**{**RANET_TINY, "stem": "imagenet",
                                                  "image_size": 112}))
    assert imagenet["FirstLayer.layers.0.0.weight"].shape == (4, 3, 7, 7)
    assert imagenet["FirstLayer.layers.0.0.bias"].shape == (4,)
    assert "FirstLayer.layers.0.1.running_var" in imagenet


def test_pth_checkpoints_are_read(tmp_path):
    torch = pytest.importorskip("torch")
    source = _randomised(RANet(**RANET_TINY), seed=2)
    state = weights.export_state_dict(source)
    path = tmp_path / "ranet.pth"
    torch.save({"state_dict": {f"module.{k}": torch.from_numpy(np.array(v))
                               for k, v in state.items()}}, path)
    target = weights.load_state_dict(RANet(**RANET_TINY), weights.read_weights(path))
    x = np.ones((1, 32, 32, 3), "float32")
    np.testing.assert_array_equal(np.asarray(target(x)["exit_3"]),
                                  np.asarray(source(x, training=False)["exit_3"]))


def test_errors_name_the_tensor():
    state = weights.export_state_dict(RANet(**RANET_TINY))
    missing = dict(state)
    del missing["scale_flows.2.0.layers.1.conv_up.net.4.running_var"]
    with pytest.raises(weights.WeightImportError,
                       match=r"scale_flows\.2\.0\.layers\.1\.conv_up\.net\.4\.running_var"):
        weights.load_state_dict(RANet(**RANET_TINY), missing)
    extra = {**state, "scale_flows.2.9.trans.net.0.weight": np.zeros(3, "float32")}
    with pytest.raises(weights.WeightImportError, match=r"scale_flows\.2\.9\.trans"):
        weights.load_state_dict(RANet(**RANET_TINY), extra)
