"""Dataset facts and the preprocessing rule as data."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from msdnet_tf import cli
from msdnet_tf.data import registry
from msdnet_tf.data.errors import DataError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name,classes,holdout", [
    ("cifar10", 10, 5000), ("cifar100", 100, 5000), ("imagenet2012", 1000, 50000),
    ("fashion_mnist", 10, 5000), ("digits", 10, 300)])
def test_info(name, classes, holdout):
    info = registry.get_info(name)
    assert (info.num_classes, info.holdout_default) == (classes, holdout)
    assert len(info.mean) == len(info.std) == 3
    names = registry.label_names(name)
    assert names is None or len(names) == classes


def test_spec_values():
    assert registry.get_info("cifar100").mean == (0.5071, 0.4867, 0.4408)
    assert registry.get_info("cifar10").std == (0.2471, 0.2435, 0.2616)
    assert registry.get_info("imagenet2012").std == (0.229, 0.224, 0.225)
    assert registry.get_info("fashion_mnist").mean == (0.2860,) * 3
    assert registry.CIFAR100_LABELS[:3] == ("apple", "aquarium_fish", "baby")
    assert len(set(registry.CIFAR100_LABELS)) == 100


def test_imagenet_synsets_from_tfds_file():
    synsets = registry.imagenet_synsets()
    if synsets is None:
        pytest.skip("tensorflow-datasets is not installed")
    assert len(synsets) == 1000 and synsets[0] == "n01440764"


@pytest.mark.parametrize("name,size,ops", [
    ("cifar10", 32, []),
    ("cifar10", 64, ["resize"]),
    ("fashion_mnist", 32, ["gray_to_rgb", "pad"]),
    ("digits", 32, ["gray_to_rgb", "resize"]),
    ("imagenet2012", 224, ["resize_shorter_side", "center_crop"]),
])
def test_spec_ops(name, size, ops):
    spec = registry.preprocessing_spec(name, size)
    assert [op["op"] for op in spec["ops"]] == ops
    assert spec["output"] == {"dtype": "float32", "layout": "NHWC", "height": size,
                              "width": size, "channels": 3}
    assert spec["pixel_scale"] == pytest.approx(1 / 255)
    assert spec["channels_out"] == 3
    json.dumps(spec)  # The TFLite manifest stores it as JSON.


def test_spec_details():
    fashion = registry.preprocessing_spec("fashion_mnist", 32)
    assert fashion["channels_in"] == 1 and fashion["ops"][1] == {"op": "pad", "pixels": 2,
                                                                 "value": 0}
    assert [op["op"] for op in fashion["train_ops"]] == [
        "gray_to_rgb", "pad", "pad", "random_crop", "random_flip_left_right"]
    digits = registry.preprocessing_spec("digits", 32)
    assert digits["ops"][1]["method"] == "nearest" and digits["train_ops"] == digits["ops"]
    imagenet = registry.preprocessing_spec("imagenet2012", 112)
    assert imagenet["ops"][0]["size"] == 128 and imagenet["ops"][1]["height"] == 112
    assert imagenet["input"]["height"] is None
    cifar = registry.preprocessing_spec("cifar100", 32)
    assert [op["op"] for op in cifar["train_ops"]] == ["pad", "random_crop",
                                                       "random_flip_left_right"]
    assert cifar["train_ops"][0]["pixels"] == 4


def test_spec_is_a_copy():
    registry.preprocessing_spec("cifar10", 32)["mean"][0] = 99.0
    assert registry.preprocessing_spec("cifar10", 32)["mean"][0] == 0.4914


def test_errors():
    with pytest.raises(DataError, match="data.dataset"):
        registry.get_info("mnist")
    with pytest.raises(DataError, match="model.image_size"):
        registry.preprocessing_spec("cifar10", 0)
    assert issubclass(DataError, cli.UserError)


def test_import_does_not_load_tfds():
    # `import msdnet_tf` loads TensorFlow (it registers MSDNet with Keras), but
    # tensorflow_datasets is imported only when a tfds dataset is built.
    code = ("import sys, msdnet_tf.data as d; d.preprocessing_spec('cifar10', 32); "
            "d.holdout_indices(10, 2, 0); print('tensorflow_datasets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["False"]
