import json
import shutil

import numpy as np
import pytest

from msdnet_tf import evaluation as ev
from msdnet_tf.cli import UserError
from msdnet_tf.runtime import harness, inputs, policy
from msdnet_tf.runtime.cascade import Cascade
from msdnet_tf.runtime.manifest import load_manifest
from tests.runtime.conftest import run


@pytest.fixture(scope="module")
def cascade(trained_run):
    return Cascade.load(trained_run[1], threads=1)


def test_float_decisions_equal_the_offline_simulation(trained_run, cascade):
    """Harness exits and predictions == simulation from the Keras model's logits."""
    import keras

    import msdnet_tf  # noqa: F401

    workdir, _ = trained_run
    manifest = cascade.manifest
    thresholds, _ = policy.resolve(manifest, thresholds=workdir / "thresholds.json")
    items = inputs.from_dataset(manifest, "digits", "test")
    report = harness.run(cascade, items, thresholds)
    model = keras.models.load_model(workdir / "model.keras")
    x = inputs.preprocess(manifest, items)
    outputs = model(x, training=False)
    logits = np.stack([np.asarray(outputs[f"exit_{k}"]) for k in range(cascade.num_exits)])
    max_prob = np.stack([ev.max_softmax(l) for l in logits])
    exits = ev.assign_exits(max_prob, thresholds)
    preds = logits.argmax(-1)[exits, np.arange(len(exits))]
    assert [s["exit"] for s in report["samples"]] == exits.tolist()
    assert [s["pred"] for s in report["samples"]] == preds.tolist()
    # Several exits are really used, and early exits are cheaper on average.
    assert sum(c > 0 for c in report["exit_counts"]) >= 2
    assert report["expected_flops"] < report["last_exit_flops"]


def test_cli_report_schema(trained_run, tmp_path):
    workdir, out = trained_run
    report_path = tmp_path / "r.json"
    result = run("tflite/harness.py", "--models", out, "--dataset", "digits", "--limit", "40",
                 "--q", "1.0", "--workdir", workdir, "--report", report_path)
    assert "histogram" in result.stdout
    report = json.loads(report_path.read_text())
    for key in ("thresholds", "accuracy", "expected_flops", "mean_latency_ms", "p50_latency_ms",
                "p95_latency_ms", "exit_counts", "samples"):
        assert key in report
    assert len(report["samples"]) == 40 == sum(report["exit_counts"])
    assert set(report["samples"][0]) >= {"index", "exit", "pred", "label", "confidence",
                                         "latency_ms"}
    assert report["thresholds"][-1] == "-inf"


def test_deadline_mode(cascade):
    items = inputs.from_dataset(cascade.manifest, "digits", "test", limit=10)
    costs = [1e6] * cascade.num_exits  # nothing after stage 0 fits
    report = harness.run(cascade, items, None, deadline_ms=1.0, stage_costs_ms=costs)
    assert report["exit_counts"][0] == 10
    report = harness.run(cascade, items, None, deadline_ms=1e9, stage_costs_ms=[0.0] * 3)
    assert report["exit_counts"][-1] == 10


def test_bad_images_are_skipped_and_reported(cascade, tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "a_good.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(folder / "b_wrong_size.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "c_rgb.png")
    (folder / "d_broken.png").write_bytes(b"not an image")
    items = inputs.from_files(cascade.manifest, folder)
    report = harness.run(cascade, items, None)
    assert len(report["samples"]) == 1
    assert len(report["skipped"]) == 3
    assert any("b_wrong_size.png: is 8x9" in s for s in report["skipped"])
    assert any("c_rgb.png: has mode RGB" in s for s in report["skipped"])
    assert any("d_broken.png: unreadable image" in s for s in report["skipped"])


def test_corrupt_and_mismatched_models_are_clear_errors(trained_run, tmp_path):
    _, out = trained_run
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "cascade.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match="cascade.tflite is not the file .*manifest.json "
                                        "describes"):
        Cascade.load(broken)
    renamed = tmp_path / "renamed"
    shutil.copytree(out, renamed)
    manifest = json.loads((renamed / "manifest.json").read_text())
    manifest["cascade"]["stages"][1]["outputs"][0]["name"] = "features"
    (renamed / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="manifest.json: cascade stage_1 must return logits"):
        Cascade.load(renamed)
    manifest["num_exits"] = 5
    (renamed / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="exits must list 5 entries"):
        load_manifest(renamed)
    (renamed / "manifest.json").write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        load_manifest(renamed)


def test_thresholds_for_another_model_are_refused(trained_run, cascade, tmp_path):
    workdir, _ = trained_run
    data = json.loads((workdir / "thresholds.json").read_text())
    data["model"] = "0123456789abcdef"
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="0123456789abcdef"):
        policy.resolve(cascade.manifest, thresholds=tmp_path / "t.json")
    data["model"], data["num_exits"] = cascade.manifest["model"], 2
    data["thresholds"] = [data["thresholds"][0], "-inf"]
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="exits"):
        policy.resolve(cascade.manifest, thresholds=tmp_path / "t.json")


def test_cli_missing_models_dir(tmp_path):
    result = run("tflite/harness.py", "--models", tmp_path, "--dataset", "digits", check=False)
    assert result.returncode == 2
    assert "no manifest.json in" in result.stderr and "Traceback" not in result.stderr
