"""manifest.json and fidelity.json follow docs/deployment-format.md."""

import copy
import json
import math
import shutil

import pytest

from msdnet_tf import flops
from msdnet_tf.data import preprocessing_spec
from msdnet_tf.export.manifest import FORMAT, ManifestError, validate_manifest
from msdnet_tf.inference import model_fingerprint


@pytest.fixture(scope="module")
def manifests(exports):
    return {mode: json.loads((exports(mode)[0] / "manifest.json").read_text())
            for mode in ("float", "int8")}


def test_manifest_describes_the_run(manifests, exporter, trained_run):
    m = manifests["float"]
    assert m["format"] == FORMAT and m["mode"] == "float" and m["int8_io"] is False
    assert m["model"] == model_fingerprint(trained_run / "model.keras")
    assert m["num_exits"] == 3 and m["num_classes"] == 10 and m["labels"][3] == "3"
    assert m["input"] == {"name": "image", "shape": [1, 16, 16, 3], "dtype": "float32",
                          "quantization": None, "layout": "NHWC"}
    assert m["preprocessing"] == preprocessing_spec("digits", 16)
    counts = flops.count(exporter.model)
    assert [e["cumulative_flops"] for e in m["exits"]] == counts.exit_cumulative_flops
    assert [e["cumulative_params"] for e in m["exits"]] == counts.exit_cumulative_params
    assert [e["stage_flops"] for e in m["exits"]] == counts.stage_flops
    assert m["source"]["config"]["data"]["dataset"] == "digits"
    assert m["thresholds"] is None


def test_cascade_signatures_chain_by_name(manifests, exports):
    for mode, m in manifests.items():
        validate_manifest(m, folder=exports(mode)[0])
        stages = m["cascade"]["stages"]
        assert [s["signature"] for s in stages] == ["stage_0", "stage_1", "stage_2"]
        assert [t["name"] for t in stages[0]["outputs"]] == ["logits", "scale_0", "scale_1"]
        assert [t["name"] for t in stages[-1]["outputs"]] == ["logits"]
        for stage in stages:  # Float interfaces between stages in every mode.
            assert all(t["dtype"] == "float32" and t["quantization"] is None
                       for t in stage["inputs"] + stage["outputs"])


def test_early_exit_entry(manifests):
    early = manifests["float"]["early_exit"]
    assert early["file"] == "early_exit.tflite"
    assert {t["name"] for t in early["inputs"]} == {"image", "thresholds"}
    assert {t["name"]: t["dtype"] for t in early["outputs"]} == {"logits": "float32",
                                                                 "exit": "int32"}
    assert manifests["int8"]["early_exit"] is None


@pytest.mark.parametrize("breakage", [
    lambda m: m.pop("labels"),
    lambda m: m["cascade"]["stages"][1]["inputs"][0].update(name="scale_7"),
    lambda m: m["cascade"]["stages"][0]["outputs"][1].update(
        dtype="int8", quantization={"scale": 0.1, "zero_point": 0}),
    lambda m: m["exits"][1].update(cumulative_flops=0),
    lambda m: m["input"].update(shape=[2, 16, 16, 3]) or m["exits"][0]["inputs"][0].update(
        shape=[2, 16, 16, 3]),
    lambda m: m.update(format="something/2"),
])
def test_validator_rejects_broken_manifests(manifests, breakage):
    broken = copy.deepcopy(manifests["float"])
    breakage(broken)
    with pytest.raises(ManifestError):
        validate_manifest(broken)


def test_validator_checks_files(manifests, tmp_path):
    with pytest.raises(ManifestError, match="missing"):
        validate_manifest(manifests["float"], folder=tmp_path)


def test_fidelity_json_schema(exports):
    for mode in ("float", "int8"):
        report = json.loads((exports(mode)[0] / "fidelity.json").read_text())
        assert report["mode"] == mode and report["images"] == 120
        for key in ("exits", "cascade"):
            assert [e["exit"] for e in report[key]] == [0, 1, 2]
            for entry in report[key]:
                assert set(entry) >= {"max_abs_diff", "top1_agreement", "keras_top1",
                                      "tflite_top1", "top1_drop"}
        assert set(report["xnnpack"]) == {"exit_0.tflite", "exit_1.tflite", "exit_2.tflite",
                                          "cascade.tflite"} | (
            {"early_exit.tflite"} if mode == "float" else set())
        assert "passed" in report["bar"]


def test_thresholds_and_budgeted_travel_with_the_files(trained_run, exports, tmp_path):
    from msdnet_tf.evaluation import save_thresholds
    from msdnet_tf.export.pipeline import Exporter, load_for_export

    run, out = tmp_path / "run", tmp_path / "out"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("tensorboard"))
    shutil.copytree(exports("float")[0], out)
    fingerprint = model_fingerprint(run / "model.keras")
    save_thresholds(run / "thresholds.json", [0.9, 0.5, -math.inf], model=fingerprint)
    (run / "budgeted.json").write_text(json.dumps({"model": fingerprint, "points": []}))
    cfg, model = load_for_export(run)
    Exporter(run, cfg, model).describe("float", out, int8_io=False, in_graph_exit=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["thresholds"]["thresholds"] == [0.9, 0.5, "-inf"]
    assert manifest["thresholds"]["model"] == manifest["model"] == fingerprint
    assert (out / "thresholds.json").read_text() == (run / "thresholds.json").read_text()
    assert (out / "budgeted.json").is_file()
    fidelity = json.loads((out / "fidelity.json").read_text())
    assert fidelity["early_exit"]["thresholds"] == [0.9, 0.5, "-inf"]
