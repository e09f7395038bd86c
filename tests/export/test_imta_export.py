"""An IMTA stage-2 model (ISC heads) through conversion, the cascade and the harness runtime."""

import json

import numpy as np
import pytest

from msdnet_tf.export.runner import TFLiteModel, run_cascade_batch, run_exit_file
from msdnet_tf.models.heads import ISC_LOGITS
from msdnet_tf.runtime.cascade import Cascade


def test_stage2_run_shares_the_holdout_and_counts_isc(imta_run, trained_run):
    assert (imta_run / "holdout.json").read_bytes() == (trained_run / "holdout.json").read_bytes()
    plain = json.loads((trained_run / "results.json").read_text())["exit_cumulative_flops"]
    isc = json.loads((imta_run / "results.json").read_text())["exit_cumulative_flops"]
    assert isc[0] == plain[0] and all(b > a for a, b in zip(plain[1:], isc[1:]))


def test_float_files_match_keras(imta_exports):
    out, report = imta_exports("float")
    for entry in report["exits"] + report["cascade"]:
        assert entry["max_abs_diff"] <= 1e-4 and entry["top1_agreement"] == 100.0, entry
    assert report["early_exit"]["exit_agreement"] >= 99.0
    manifest = json.loads((out / "manifest.json").read_text())
    stages = manifest["cascade"]["stages"]
    # Each stage passes its logits on, by name, to the next stage's ISC head.
    for k, stage in enumerate(stages[:-1]):
        carried = {t["name"]: t["shape"] for t in stage["outputs"]}
        assert carried[ISC_LOGITS] == [1, 10]
        assert {t["name"] for t in stages[k + 1]["inputs"]} == set(carried) - {"logits"}
    assert ISC_LOGITS not in {t["name"] for t in stages[0]["inputs"]}


def test_runtime_cascade_runs_it_unchanged(imta_exports):
    out, _ = imta_exports("float")
    exporter = imta_exports.exporter
    images = exporter.images[:10]
    cascade = Cascade.load(out)
    rows = np.stack([cascade.all_logits(x[np.newaxis]) for x in images], axis=1)
    np.testing.assert_allclose(rows, exporter.reference[:, :10], atol=1e-4)
    staged = run_cascade_batch(TFLiteModel(out / "cascade.tflite"), images)
    for k in range(exporter.model.num_exits):
        alone = run_exit_file(TFLiteModel(out / f"exit_{k}.tflite"), images)
        np.testing.assert_allclose(staged[k], alone, atol=1e-5)
    decision = cascade.classify(images[:1], thresholds=[np.inf, 0.0, -np.inf])
    assert decision.exit == 1


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["int8", "dynamic", "float16"])
def test_quantised_modes(imta_exports, mode):
    _, report = imta_exports(mode)
    for entry in report["exits"] + report["cascade"]:
        assert entry["finite"] and entry["top1_agreement"] >= 90.0, entry
    assert all(check["xnnpack_fully_delegated"] for check in report["xnnpack"].values())


@pytest.mark.slow
def test_qat_converts_and_delegates_fully(imta_exports, tmp_path):
    pytest.importorskip("tensorflow_model_optimization")
    exporter = imta_exports.exporter
    cfg = exporter.cfg.export
    saved = (cfg.qat_epochs, cfg.qat_steps_per_epoch)
    cfg.qat_epochs, cfg.qat_steps_per_epoch = 1, 2
    try:
        report = exporter.export("qat", tmp_path)
    finally:
        cfg.qat_epochs, cfg.qat_steps_per_epoch = saved
    for entry in report["exits"] + report["cascade"]:
        assert entry["finite"] and entry["top1_agreement"] >= 80.0, entry
    # The folded ISC Dense -> ReLU quantises as one op: every file fully delegated.
    assert all(check["xnnpack_fully_delegated"] for check in report["xnnpack"].values())
