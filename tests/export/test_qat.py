"""Quantisation-aware training (tf_keras, own process) on the tiny model."""

import json

import pytest

pytest.importorskip("tensorflow_model_optimization")


def _qat(exporter, out, epochs, steps):
    cfg = exporter.cfg.export
    saved = (cfg.qat_epochs, cfg.qat_steps_per_epoch)
    cfg.qat_epochs, cfg.qat_steps_per_epoch = epochs, steps
    try:
        return exporter.export("qat", out)
    finally:
        cfg.qat_epochs, cfg.qat_steps_per_epoch = saved


@pytest.mark.slow  # about 40 s alone; QAT conversion also runs in test_imta_export
def test_qat_smoke(exporter, tmp_path):
    """Two fine-tuning steps, then int8 files that run, agree with Keras and delegate fully."""
    report = _qat(exporter, tmp_path, epochs=1, steps=2)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["mode"] == "qat"
    for entry in report["exits"] + report["cascade"]:
        assert entry["finite"] and entry["top1_agreement"] >= 80.0, entry
    assert all(check["xnnpack_fully_delegated"] for check in report["xnnpack"].values())
    stage_ops = report["xnnpack"]["cascade.tflite"]["signatures"]["stage_1"]["ops"]
    assert "QUANTIZE" in stage_ops  # Integer kernels behind float interfaces.


@pytest.mark.slow
def test_qat_one_epoch_keeps_accuracy(exporter, tmp_path):
    report = _qat(exporter, tmp_path, epochs=1, steps=0)
    for entry in report["exits"]:
        assert entry["top1_drop"] <= 3.0, entry  # Tiny model, 120 images: a loose bound.
