"""Keras -> TFLite -> LiteRT round trips per mode on a tiny trained model."""

import numpy as np
import pytest

from msdnet_tf.export import convert as convert_lib
from msdnet_tf.export import fidelity as fid
from msdnet_tf.export import graphs
from msdnet_tf.export.runner import TFLiteModel, run_cascade_batch, run_exit_file

# Looser than the quickstart bars: a model trained for 40 steps has low-margin predictions.
MIN_AGREEMENT = {"dynamic": 95.0, "float16": 99.0, "int8": 90.0}


def _all_entries(report):
    return report["exits"] + report["cascade"]


def test_float_files_match_keras(exports):
    out, report = exports("float")
    assert report["images"] == 120
    for entry in _all_entries(report):
        assert entry["finite"]
        assert entry["max_abs_diff"] <= 1e-4, entry
        assert entry["top1_agreement"] == 100.0
    assert report["bar"]["passed"], report["bar"]["failures"]
    assert sorted(p.name for p in out.glob("*.tflite")) == [
        "cascade.tflite", "early_exit.tflite", "exit_0.tflite", "exit_1.tflite", "exit_2.tflite"]


@pytest.mark.parametrize("mode", [pytest.param("dynamic", marks=pytest.mark.slow), "float16",
                                  "int8"])
def test_quantised_modes_round_trip(exports, mode):
    out, report = exports(mode)
    for entry in _all_entries(report):
        assert entry["finite"], entry
        assert entry["top1_agreement"] >= MIN_AGREEMENT[mode], entry
    assert (out / "manifest.json").is_file() and (out / "fidelity.json").is_file()


@pytest.mark.parametrize("mode", ["float", "float16", "int8"])
def test_files_fully_delegated_to_xnnpack(exports, mode):
    _, report = exports(mode)
    for name, check in report["xnnpack"].items():
        if name == "early_exit.tflite":  # IF ops stay on the CPU kernels by design.
            assert "IF" in check["not_delegated"]
            continue
        assert check["xnnpack_fully_delegated"], (name, check["not_delegated"])


def test_int8_files_hold_integer_kernels(exports):
    out, _ = exports("int8")
    sizes = {mode: (exports(mode)[0] / "exit_2.tflite").stat().st_size
             for mode in ("float", "int8")}
    assert sizes["int8"] < 0.5 * sizes["float"]
    ops = exports("int8")[1]["xnnpack"]["cascade.tflite"]["signatures"]["stage_0"]["ops"]
    assert "QUANTIZE" in ops and "CONV_2D" in ops


def test_cascade_stages_compose_to_the_exit_files(exports, exporter):
    out, _ = exports("float")
    images = exporter.images[:20]
    cascade = run_cascade_batch(TFLiteModel(out / "cascade.tflite"), images)
    for k in range(exporter.model.num_exits):
        alone = run_exit_file(TFLiteModel(out / f"exit_{k}.tflite"), images)
        np.testing.assert_allclose(cascade[k], alone, atol=1e-5)


def test_in_graph_early_exit_follows_thresholds(exports, exporter):
    out, report = exports("float")
    model = TFLiteModel(out / "early_exit.tflite")
    image = exporter.images[:1]
    k_last = exporter.model.num_exits - 1
    for leave_at in range(exporter.model.num_exits):
        thresholds = np.full(exporter.model.num_exits, np.inf, np.float32)
        thresholds[leave_at], thresholds[-1] = 0.0, -np.inf
        result = model.run("serving_default", image=image, thresholds=thresholds)
        assert int(result["exit"][0]) == leave_at
        np.testing.assert_allclose(result["logits"], exporter.reference[leave_at, :1], atol=1e-4)
    assert leave_at == k_last
    assert report["early_exit"]["exit_agreement"] >= 99.0


def test_nan_trap_is_caught(exporter, monkeypatch):
    """Holding the Keras variables themselves (not their tf.Variables) gives NaN files."""
    monkeypatch.setattr(convert_lib, "plain_variables", list)
    model = exporter.model
    data = convert_lib.convert([graphs.exit_signature(model, 0)],
                               model.exit_model(0, batch_size=1).variables, "float")
    logits = run_exit_file(TFLiteModel(data), exporter.images[:8])
    entry = fid.exit_entry(0, exporter.reference[0, :8], logits, exporter.labels[:8])
    report = {"exits": [entry], "cascade": []}
    assert not entry["finite"]
    assert not fid.check_bar("float", report)["passed"]
    assert not fid.check_bar("int8", report)["passed"]


def test_int8_io_exit_file(exporter):
    from msdnet_tf.export import calibration as cal

    model = exporter.model
    samples = cal.exit_samples(exporter.calibration)
    data = convert_lib.convert([graphs.exit_signature(model, 1)],
                               model.exit_model(1, batch_size=1).variables, "int8", samples,
                               int8_io=True)
    tflite = TFLiteModel(data)
    inputs, outputs = tflite.tensors("serving_default")
    assert inputs["image"]["dtype"] == "int8" and outputs["logits"]["dtype"] == "int8"
    assert inputs["image"]["quantization"]["scale"] > 0
    logits = run_exit_file(tflite, exporter.images)  # Quantised and dequantised by the runner.
    agreement = np.mean(logits.argmax(1) == exporter.reference[1].argmax(1))
    assert agreement >= 0.9


def test_int8_layer_diagnosis_names_model_layers(exporter):
    from msdnet_tf.export.diagnose import int8_layer_errors

    worst = int8_layer_errors(exporter.model, 0, exporter.calibration[:16],
                              exporter.images[:8], top=5)
    assert len(worst) == 5
    errors = [e["rmse_over_scale"] for e in worst]
    assert errors == sorted(errors, reverse=True) and all(np.isfinite(errors))
    names = {layer.name for layer in exporter.model.layers} | {"logits"}
    assert all(e["layer"] in names for e in worst), [e["layer"] for e in worst]
