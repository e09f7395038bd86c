"""A tiny RANet through IMTA (gradient equilibrium, then ISC heads with distillation),
converted to TFLite and run by the cascade runtime."""

import json

import numpy as np
import pytest

from msdnet_tf.models.heads import ISC_LOGITS
from msdnet_tf.runtime.cascade import Cascade
from tests.export.test_ranet_pipeline import TINY_RANET_RUN

STAGE1 = TINY_RANET_RUN + ["train.gradient_equilibrium=true", "train.epochs=1"]
# Training, evaluation and conversion take minutes.
pytestmark = pytest.mark.slow


def _train(overrides, workdir):
    from msdnet_tf import config as config_lib
    from msdnet_tf.training.trainer import Trainer

    trainer = Trainer(config_lib.load_config(None, overrides), workdir)
    trainer.fit(verbose=False)
    trainer.finish()
    return workdir


@pytest.fixture(scope="module")
def ranet_imta(tmp_path_factory):
    from msdnet_tf.export.pipeline import Exporter, load_for_export

    root = tmp_path_factory.mktemp("ranet_imta")
    stage1 = _train(STAGE1, root / "stage1")
    stage2 = _train(TINY_RANET_RUN + [f"train.imta.from={stage1}", "train.epochs=1",
                                     "train.steps_per_epoch=10"],
                    root / "stage2")
    cfg, model = load_for_export(stage2)
    exporter = Exporter(stage2, cfg, model)
    report = exporter.export("float", root / "float", in_graph_exit=True)
    return stage1, stage2, exporter, root / "float", report


def test_stage2_counts_the_isc_heads(ranet_imta):
    stage1, stage2, exporter, _, _ = ranet_imta
    assert exporter.model.exit_heads == "isc" and exporter.model.family == "ranet"
    assert (stage2 / "holdout.json").read_bytes() == (stage1 / "holdout.json").read_bytes()
    plain = json.loads((stage1 / "results.json").read_text())["exit_cumulative_flops"]
    isc = json.loads((stage2 / "results.json").read_text())["exit_cumulative_flops"]
    # Exit k >= 1 adds (10*128 + 128) + 128 + 128*10 FLOPs per exit on the way (cumulative).
    extra = 10 * 128 + 128 + 128 + 128 * 10
    assert isc == [plain[0]] + [p + k * extra for k, p in enumerate(plain[1:], 1)]


def test_float_files_match_keras(ranet_imta):
    _, _, exporter, out, report = ranet_imta
    for entry in report["exits"] + report["cascade"]:
        assert entry["max_abs_diff"] <= 1e-4 and entry["top1_agreement"] == 100.0, entry
    assert report["early_exit"]["exit_agreement"] >= 99.0
    for name, check in report["xnnpack"].items():  # early_exit.tflite's IF ops stay on the CPU
        assert check["xnnpack_fully_delegated"] or name == "early_exit.tflite", name
    stages = json.loads((out / "manifest.json").read_text())["cascade"]["stages"]
    for k, stage in enumerate(stages[:-1]):
        carried = {t["name"]: t["shape"] for t in stage["outputs"]}
        assert carried[ISC_LOGITS] == [1, 10]  # next to RANet's maps, by name
        assert {t["name"] for t in stages[k + 1]["inputs"]} == set(carried) - {"logits"}
    # The runtime's cascade passes isc_logits on unchanged.
    images = exporter.images[:10]
    cascade = Cascade.load(out)
    rows = np.stack([cascade.all_logits(x[np.newaxis]) for x in images], axis=1)
    np.testing.assert_allclose(rows, exporter.reference[:, :10], atol=1e-4)


@pytest.mark.slow
def test_int8_converts_and_delegates_fully(ranet_imta, tmp_path):
    _, _, exporter, _, _ = ranet_imta
    report = exporter.export("int8", tmp_path)
    for entry in report["exits"] + report["cascade"]:
        assert entry["finite"] and entry["top1_agreement"] >= 90.0, entry
    assert all(check["xnnpack_fully_delegated"] for check in report["xnnpack"].values())
