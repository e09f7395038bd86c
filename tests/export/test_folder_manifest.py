"""A run trained on an image folder exports its class names and its data's preprocessing."""

import json

import pytest

from msdnet_tf.export.manifest import validate_manifest
from tests.data.folders import CLASSES, write_folder
from tests.test_predict import TINY_FOLDER_RUN


@pytest.fixture(scope="module")
def folder_export(tmp_path_factory):
    from msdnet_tf import config as config_lib
    from msdnet_tf.export.pipeline import Exporter, load_for_export
    from msdnet_tf.training.trainer import Trainer

    root = tmp_path_factory.mktemp("images")
    write_folder(root, train_per_class=4, test_per_class=2)
    workdir = tmp_path_factory.mktemp("run")
    cfg = config_lib.load_config(None, ["data.dataset=folder", f"data.image_folder={root}",
                                        "export.fidelity_images=6", *TINY_FOLDER_RUN])
    trainer = Trainer(cfg, workdir)
    trainer.fit(verbose=False)
    trainer.finish()
    cfg, model = load_for_export(workdir)
    out = tmp_path_factory.mktemp("export") / "float"
    Exporter(workdir, cfg, model).export("float", out)
    return workdir, out


def test_manifest_carries_the_folder_classes_and_statistics(folder_export):
    workdir, out = folder_export
    manifest = json.loads((out / "manifest.json").read_text())
    validate_manifest(manifest, folder=out)
    assert manifest["labels"] == list(CLASSES) and manifest["num_classes"] == len(CLASSES)
    record = json.loads((workdir / "dataset.json").read_text())
    spec = manifest["preprocessing"]
    assert spec["dataset"] == "folder" and spec["channels_in"] == 3
    assert spec["mean"] == record["mean"] and spec["std"] == record["std"]
    assert [op["op"] for op in spec["ops"]] == ["resize"]
