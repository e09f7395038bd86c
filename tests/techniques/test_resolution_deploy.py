"""A switchable run through evaluation, conversion (one cascade per side), benchmark, harness."""

import json

import numpy as np
import pytest

from tests.techniques.conftest import make_run

# Evaluation at two sides, 8 TFLite conversions and a benchmark: a few minutes on 2 cores.
pytestmark = pytest.mark.slow

SIZES = [16, 12]
MODEL = dict(growth_factors=[1, 2], bottleneck_factors=[1, 2], image_size=16)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """An untrained two-scale switchable run, evaluated with a FLOPs budget, converted (float)."""
    from msdnet_tf import config as config_lib
    from msdnet_tf import evaluate
    from msdnet_tf.export.pipeline import load_for_export
    from msdnet_tf.export.resolutions import make_exporter

    root = tmp_path_factory.mktemp("deploy")
    workdir = make_run(root / "run", SIZES, **MODEL)
    cfg = config_lib.load_config(workdir / "config.yaml")
    cfg.export.fidelity_images = 40
    config_lib.save_config(cfg, workdir / "config.yaml")
    assert evaluate.main(["--workdir", str(workdir), "--budget-flops", "1.2e6",
                          "--override", "eval.num_q=5"]) == 0
    cfg, model = load_for_export(workdir)
    out = root / "float"
    report = make_exporter(workdir, cfg, model).export("float", out)
    return workdir, out, report, model


def test_evaluate_writes_every_side(deployed):
    workdir = deployed[0]
    for name in ("logits.npz", "logits_r12.npz", "resolutions.json", "resolutions.png"):
        assert (workdir / name).is_file(), name
    report = json.loads((workdir / "resolutions.json").read_text())
    assert report["resolutions"] == SIZES
    assert {(a["resolution"], a["exit"]) for a in report["anytime"]} == {
        (r, k) for r in SIZES for k in range(3)}
    budgeted = json.loads((workdir / "budgeted.json").read_text())
    assert [c["resolution"] for c in budgeted["resolutions"]] == SIZES
    thresholds = json.loads((workdir / "thresholds.json").read_text())
    assert thresholds["resolution"] in SIZES and thresholds["budget"]["achieved_val"] <= 1.2e6


def test_one_cascade_per_side_equals_keras(deployed):
    from msdnet_tf.export import manifest as manifest_lib
    from msdnet_tf.runtime.cascade import Cascade

    _, out, report, model = deployed
    manifest = json.loads((out / "manifest.json").read_text())
    manifest_lib.validate_manifest(manifest, out)
    assert [e["resolution"] for e in manifest["resolutions"]] == SIZES
    assert manifest["input"]["shape"][1] == 16 and manifest["cascade"]["file"] == "cascade.tflite"
    small = manifest["resolutions"][1]
    assert small["cascade"]["file"] == "cascade_r12.tflite"
    assert small["input"]["shape"] == [1, 12, 12, 3]
    assert small["exits"][-1]["cumulative_flops"] < manifest["exits"][-1]["cumulative_flops"]
    for side in ("16", "12"):
        rep = report["resolutions"][side]
        assert rep["bar"]["passed"], rep["bar"]
        assert max(e["max_abs_diff"] for e in rep["exits"] + rep["cascade"]) <= 1e-4
    image = np.random.default_rng(0).normal(size=(1, 12, 12, 3)).astype("float32")
    cascade = Cascade.load(out, resolution=12)
    keras_logits = model.at_resolution(12)(image, training=False)
    tflite_logits = cascade.all_logits(image)
    for k in range(3):
        np.testing.assert_allclose(tflite_logits[k], np.asarray(keras_logits[f"exit_{k}"])[0],
                                   atol=1e-4)


def test_benchmark_and_harness_pick_the_side_for_a_budget(deployed):
    from msdnet_tf.cli import UserError
    from msdnet_tf.runtime import policy
    from msdnet_tf.runtime.benchmark import benchmark_resolutions
    from msdnet_tf.runtime.manifest import load_manifest

    workdir, out = deployed[0], deployed[1]
    latency = benchmark_resolutions(out, threads=1, reps=3, warmup=1)
    assert [e["resolution"] for e in latency["resolutions"]] == SIZES
    assert latency["exits"] == latency["resolutions"][0]["exits"]
    path = out / "latency_1t.json"
    path.write_text(json.dumps(latency))
    manifest = load_manifest(out)
    cheapest = latency["resolutions"][1]["exits"][0]["path_ms"]
    side, thresholds, how = policy.choose(manifest, budget_ms=1.001 * cheapest, latency=path,
                                          workdir=workdir)
    assert side in SIZES and len(thresholds) == 3 and "hold-out thresholds" in how
    side, _, _ = policy.choose(manifest, resolution=12)
    assert side == 12
    side, thresholds, _ = policy.choose(manifest, thresholds=workdir / "thresholds.json")
    assert side == json.loads((workdir / "thresholds.json").read_text())["resolution"]
    with pytest.raises(UserError, match="serves 16x16, 12x12"):
        policy.choose(manifest, resolution=20)


def test_every_side_records_and_checks_its_file_digests(deployed, tmp_path):
    import hashlib
    import shutil

    from msdnet_tf.runtime.cascade import Cascade
    from msdnet_tf.runtime.manifest import ManifestError, load_manifest

    out = deployed[1]
    manifest = json.loads((out / "manifest.json").read_text())
    for side in manifest["resolutions"]:
        entries = side["exits"] + [side["cascade"]]
        for e in entries:
            data = (out / e["file"]).read_bytes()
            assert e["sha256"] == hashlib.sha256(data).hexdigest() and e["bytes"] == len(data)
    assert manifest["cascade"] == manifest["resolutions"][0]["cascade"]
    # The 12x12 cascade of another conversion (here: the 16x16 one) is refused by name.
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shutil.copyfile(copy / "cascade.tflite", copy / "cascade_r12.tflite")
    with pytest.raises(ManifestError, match="cascade_r12.tflite is not the file"):
        load_manifest(copy)
    with pytest.raises(ManifestError, match="cascade_r12.tflite is not the file"):
        Cascade.load(copy, resolution=12)
    # A side entry edited by hand (no digests on one side) is refused as a whole.
    edited = json.loads((out / "manifest.json").read_text())
    for e in edited["resolutions"][1]["exits"] + [edited["resolutions"][1]["cascade"]]:
        del e["sha256"], e["bytes"]
    (copy / "manifest.json").write_text(json.dumps(edited))
    shutil.copyfile(out / "cascade_r12.tflite", copy / "cascade_r12.tflite")
    with pytest.raises(ManifestError, match="must all record sha256 or none"):
        load_manifest(copy)
