"""A tiny RANet through the whole pipeline with the same commands as MSDNet:
train -> evaluate -> tflite/convert.py (float, int8, qat) -> harness -> benchmark."""

import json

import numpy as np
import pytest

from msdnet_tf import evaluation as ev
from msdnet_tf.runtime import harness, inputs, policy
from msdnet_tf.runtime.cascade import Cascade
from tests.runtime.conftest import run

# Two sub-networks on 8x8 and 16x16 digits: fusion blocks with bilinear up-sampling
# (conv_up, conv_last) and a 2:1 bilinear down-sampling, 3 exits.
TINY_RANET_RUN = [
    "model.family=ranet", "model.num_classes=10", "model.image_size=16", "model.num_blocks=2",
    "model.block_step=1", "model.step=2", "model.num_channels=4", "model.growth_rate=4",
    "model.growth_factors=[2,1]", "model.bottleneck_factors=[2,1]", "model.scale_list=[1,2]",
    "data.dataset=digits", "data.holdout_size=100", "train.epochs=2",
    "train.steps_per_epoch=25", "train.batch_size=32", "train.lr_boundaries=[0.5]",
    "export.calibration_images=64", "export.fidelity_images=120",
    "export.qat_steps_per_epoch=2",
]
MODES = ("float", "int8", "qat")
# About 2 minutes alone (training, three conversions, harness, benchmark): pytest -m slow.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ranet_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ranet")
    workdir, out = root / "run", root / "tflite"
    overrides = [a for o in TINY_RANET_RUN for a in ("--override", o)]
    run("-m", "msdnet_tf.train", "--workdir", workdir, "--quiet", *overrides)
    counts = json.loads((workdir / "results.json").read_text())
    budget = 0.5 * (counts["exit_cumulative_flops"][0] + counts["exit_cumulative_flops"][-1])
    run("-m", "msdnet_tf.evaluate", "--workdir", workdir, "--budget-flops", budget)
    run("tflite/convert.py", "--workdir", workdir, "--output", out,
        *[a for m in MODES for a in ("--mode", m)])
    return workdir, out


def _fidelity(out, mode):
    return json.loads((out / mode / "fidelity.json").read_text())


def test_training_and_evaluation_outputs(ranet_run):
    workdir, _ = ranet_run
    results = json.loads((workdir / "results.json").read_text())
    assert len(results["test_top1"]) == 3
    assert max(results["test_top1"]) > 50.0  # 50 steps on digits: well above chance
    for name in ("anytime.json", "budgeted.json", "thresholds.json", "budgeted.png"):
        assert (workdir / name).is_file()


def test_converted_files_agree_with_keras_and_run_on_xnnpack(ranet_run):
    _, out = ranet_run
    floats = _fidelity(out, "float")
    for entry in floats["exits"] + floats["cascade"]:
        assert entry["max_abs_diff"] <= 1e-4 and entry["top1_agreement"] == 100.0, entry
    for mode, bar in (("int8", 90.0), ("qat", 80.0)):
        for entry in _fidelity(out, mode)["exits"] + _fidelity(out, mode)["cascade"]:
            assert entry["finite"] and entry["top1_agreement"] >= bar, (mode, entry)
    for mode in MODES:
        for name, check in _fidelity(out, mode)["xnnpack"].items():
            assert check["xnnpack_fully_delegated"], (mode, name, check["not_delegated"])
        stage = _fidelity(out, mode)["xnnpack"]["cascade.tflite"]["signatures"]["stage_2"]
        assert stage["ops"].get("RESIZE_BILINEAR", 0) >= 2, (mode, stage["ops"])


def test_manifest_names_the_maps_each_stage_hands_on(ranet_run):
    _, out = ranet_run
    manifest = json.loads((out / "int8" / "manifest.json").read_text())
    stages = manifest["cascade"]["stages"]
    names = [[t["name"] for t in s["outputs"][1:]] for s in stages]
    # Stage 1 ends sub-network 0: it hands on sub-network 1's stem map and both feats lists.
    assert names[1] == ["s0_b0_l1", "s0_b0_l2", "s0_b1_l1", "s0_b1_l2", "s0_stem", "s1_stem"]
    for k in range(1, len(stages)):
        assert [t["name"] for t in stages[k]["inputs"]] == names[k - 1]
        assert all(t["dtype"] == "float32" for t in stages[k]["inputs"])


def test_harness_decisions_equal_the_offline_simulation(ranet_run):
    import keras

    import msdnet_tf  # noqa: F401

    workdir, out = ranet_run
    cascade = Cascade.load(out / "float", threads=1)
    manifest = cascade.manifest
    thresholds, _ = policy.resolve(manifest, thresholds=workdir / "thresholds.json")
    items = inputs.from_dataset(manifest, "digits", "test", limit=120)
    report = harness.run(cascade, items, thresholds)
    model = keras.models.load_model(workdir / "model.keras")
    outputs = model(inputs.preprocess(manifest, items), training=False)
    logits = np.stack([np.asarray(outputs[f"exit_{k}"]) for k in range(cascade.num_exits)])
    exits = ev.assign_exits(np.stack([ev.max_softmax(l) for l in logits]), thresholds)
    assert [s["exit"] for s in report["samples"]] == exits.tolist()
    assert [s["pred"] for s in report["samples"]] == \
        logits.argmax(-1)[exits, np.arange(len(exits))].tolist()


def test_benchmark_cli_times_every_exit(ranet_run):
    _, out = ranet_run
    run("tflite/benchmark.py", "--models", out / "int8", "--threads", "1", "--reps", "3",
        "--warmup", "1")
    latency = json.loads((out / "int8" / "latency_1t.json").read_text())
    assert [e["exit"] for e in latency["exits"]] == [0, 1, 2]
    assert all(e["path_ms"] > 0 and e["truncated_ms"] > 0 for e in latency["exits"])
