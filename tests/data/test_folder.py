"""`data.dataset: folder`: your own images, of any format, mode and size."""

import json

import numpy as np
import pytest
from PIL import Image

from msdnet_tf import config as config_lib
from msdnet_tf import data as data_lib
from msdnet_tf.config import ConfigError
from msdnet_tf.data import folder, images, pipeline, registry, stats
from msdnet_tf.data.errors import DataError
from tests.data.folders import CLASSES, KINDS, write_folder, write_image


def folder_cfg(root, *overrides):
    return config_lib.load_config(None, ["data.dataset=folder", f"data.image_folder={root}",
                                         "model.image_size=32", *overrides])


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    return root, write_folder(root)


def test_every_format_and_mode_becomes_rgb8(tmp_path):
    rng = np.random.default_rng(1)
    for k, kind in enumerate(KINDS):
        path = write_image(tmp_path / f"a{k}", rng, kind, (13, 7))
        array = images.decode_file(path)
        assert array.dtype == np.uint8 and array.shape == (7, 13, 3), kind
        with Image.open(path) as img:
            if kind[1] in ("PNG", "BMP", "TIFF") and img.mode in ("RGB", "L", "RGBA", "P"):
                np.testing.assert_array_equal(array, np.asarray(img.convert("RGB")), str(kind))
            if img.mode == "I;16":  # 16-bit: the high byte, as TensorFlow scales it
                expected = (np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8)
                np.testing.assert_array_equal(array[..., 0], expected)
        # In a tf.data graph (TIFF through Pillow) the pixels are the same.
        import tensorflow as tf

        in_graph = images.decode_tensor(tf.constant(path.read_bytes())).numpy()
        np.testing.assert_array_equal(in_graph, array, str(kind))


def test_unreadable_files_say_why(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_bytes(b"not a jpeg at all")
    for name, reason in (("empty.png", "is empty"), ("text.jpg", "not in an image format"),
                         ("missing.png", "cannot be read")):
        with pytest.raises(ValueError, match=reason):
            images.decode_file(tmp_path / name)


def test_folder_end_to_end(mixed, tmp_path, capfd):
    root, made = mixed
    cfg = folder_cfg(root)
    assert cfg.model.num_classes == 0  # not set: from the data
    bundle = data_lib.build_from_config(cfg, tmp_path)
    err = capfd.readouterr().err
    assert all(name in err for name in made["corrupt"]) and "skipped 2 file(s)" in err
    assert "Improper call" not in err and "notes.txt" not in err
    assert cfg.model.num_classes == 3 and bundle.label_names == CLASSES
    assert bundle.num_train + bundle.num_val == made["train"] and bundle.num_test == made["test"]
    record = json.loads((tmp_path / "dataset.json").read_text())
    assert [s["file"] for s in record["skipped"]] == made["corrupt"]
    assert record["classes"] == list(CLASSES) and record["test"] == {"from": "test folder"}
    spec = bundle.preprocessing_spec()
    assert spec["dataset"] == "folder" and spec["input"]["height"] is None
    assert spec["mean"] == record["mean"] and spec["std"] == record["std"]
    assert [op["op"] for op in spec["ops"]] == ["resize"]
    assert [op["op"] for op in spec["train_ops"]] == ["resize", "pad", "random_crop",
                                                      "random_flip_left_right"]
    batches = list(bundle.eval_dataset("test", 4))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 32, 32, 3), (2, 32, 32, 3)]
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    x, y = next(iter(bundle.train_dataset(8)))
    assert x.shape == (8, 32, 32, 3) and np.isfinite(x.numpy()).all()
    # A second build reuses dataset.json: no second pass, nothing listed again.
    again = data_lib.build_from_config(folder_cfg(root), tmp_path)
    assert again.preprocessing_spec() == spec and capfd.readouterr().err == ""


def test_mean_and_std_weigh_every_training_image_equally(mixed, tmp_path):
    root, _ = mixed
    bundle = data_lib.build_from_config(folder_cfg(root), tmp_path)
    means, squares = [], []
    for path in bundle._source.train_x:  # every readable train/ image (hold-out included)
        x = images.decode_file(path).astype(np.float64)
        means.append(x.mean(axis=(0, 1)))
        squares.append((x ** 2).mean(axis=(0, 1)))
    mean = np.mean(means, axis=0)
    std = np.sqrt(np.mean(squares, axis=0) - mean ** 2)
    np.testing.assert_allclose(bundle.info.mean, mean / 255, atol=2e-6)
    np.testing.assert_allclose(bundle.info.std, std / 255, atol=2e-6)


def test_without_test_folder_a_seeded_test_split_is_saved(tmp_path):
    root = tmp_path / "data"
    made = write_folder(root, train_per_class=7, with_test=False, corrupt=False)
    one = data_lib.build_from_config(folder_cfg(root), tmp_path / "a")
    record = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert record["test"]["from"] == "train" and record["test"]["size"] == 2  # 10% of 21
    assert one.num_test == 2 and one.num_train + one.num_val == made["train"] - 2
    test_files = set(one._source.test_x)
    assert not test_files & set(one._source.train_x)
    same = data_lib.build_from_config(folder_cfg(root), tmp_path / "b")
    assert set(same._source.test_x) == test_files  # the same seed draws the same images
    other = data_lib.build_from_config(folder_cfg(root, "data.holdout_seed=5",
                                                  "data.test_size=5"), tmp_path / "c")
    assert other.num_test == 5
    with pytest.raises(DataError, match="data.holdout_seed=0 and data.test_size=-1"):
        data_lib.build_from_config(folder_cfg(root, "data.holdout_seed=5"), tmp_path / "a")


def test_a_changed_folder_is_an_error_not_a_silent_re_split(tmp_path):
    root = tmp_path / "data"
    write_folder(root, train_per_class=3, corrupt=False)
    data_lib.build_from_config(folder_cfg(root), tmp_path / "run")
    write_image(root / "train" / "cat" / "new", np.random.default_rng(0), KINDS[0], (10, 10))
    with pytest.raises(DataError, match="is not the folder .* was made from"):
        data_lib.build_from_config(folder_cfg(root), tmp_path / "run")


def test_num_classes_follows_the_data_or_must_agree(mixed, tmp_path):
    root, _ = mixed
    assert folder_cfg(root, "model.num_classes=0").model.num_classes == 0
    cfg = folder_cfg(root, "model.num_classes=10")
    with pytest.raises(DataError, match=r"has 3 classes: set model.num_classes=3 \(or 0"):
        data_lib.build_from_config(cfg, tmp_path)
    assert data_lib.class_names(cfg.data) == list(CLASSES)
    data_lib.resolve_num_classes(cfg := folder_cfg(root))
    assert cfg.model.num_classes == 3
    # A listed dataset: a missing num_classes is its class count at once.
    assert config_lib.load_config(None, ["data.dataset=cifar10"]).model.num_classes == 10


@pytest.mark.parametrize("layout, message", [
    ("nothing", "is not a folder"),
    ("no_train", "train does not exist"),
    ("no_classes", "holds no class folders"),
    ("no_images", "no image files"),
    ("extra_test_class", "has class folders absent from"),
])
def test_layout_errors_are_one_clear_line(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout != "nothing":
        root.mkdir()
    if layout in ("no_classes", "no_images", "extra_test_class"):
        (root / "train").mkdir()
    if layout in ("no_images", "extra_test_class"):
        (root / "train" / "cat").mkdir()
        (root / "train" / "cat" / "notes.txt").write_text("x")
    if layout == "extra_test_class":
        write_image(root / "train" / "cat" / "a", np.random.default_rng(0), KINDS[0], (9, 9))
        (root / "test" / "bird").mkdir(parents=True)
    with pytest.raises(DataError, match=message) as info:
        data_lib.build_from_config(folder_cfg(root), tmp_path / "run")
    assert "\n" not in str(info.value)


def test_folder_needs_image_folder_and_datasets_are_named():
    with pytest.raises(ConfigError, match="data.image_folder must name the folder"):
        config_lib.load_config(None, ["data.dataset=folder"])
    with pytest.raises(ConfigError, match="folder .with data.image_folder. or tfds:NAME"):
        config_lib.load_config(None, ["data.dataset=imagenet"])
    assert config_lib.load_config(None, ["data.dataset=tfds:mnist"]).model.num_classes == 0


@pytest.mark.parametrize("value, rule", [(True, "default"), (False, "none"), ("cifar", "cifar"),
                                         ("imagenet", "imagenet"), ("none", "none")])
def test_augment_rules_and_older_true_false(tmp_path, value, rule):
    path = tmp_path / "c.yaml"
    path.write_text(f"data:\n  dataset: cifar10\n  augment: {json.dumps(value)}\n")
    assert config_lib.load_config(path).data.augment == rule


def test_augment_rule_shapes_the_training_ops():
    def train_ops(dataset, size, augment, info=None):
        spec = registry.preprocessing_spec(dataset, size, augment, info)
        return [op["op"] for op in spec["train_ops"]]

    # The listed datasets keep their published recipe by default.
    assert train_ops("cifar10", 32, "default") == ["pad", "random_crop", "random_flip_left_right"]
    assert train_ops("cifar10", 32, "none") == []
    assert train_ops("cifar10", 32, "imagenet") == ["random_resized_crop",
                                                    "random_flip_left_right"]
    assert train_ops("digits", 32, "default") == ["gray_to_rgb", "resize"]
    assert train_ops("imagenet2012", 224, "default") == ["random_resized_crop",
                                                         "random_flip_left_right"]
    info = registry.DatasetInfo("folder", 2, 3, None, (0.5,) * 3, (0.25,) * 3, 1, ("a", "b"))
    assert train_ops("folder", 128, "default", info) == ["random_resized_crop",
                                                         "random_flip_left_right"]
    spec = registry.preprocessing_spec("folder", 128, "default", info)
    assert [op["op"] for op in spec["ops"]] == ["resize_shorter_side", "center_crop"]
    assert train_ops("folder", 64, "none", info) == ["resize"]
    with pytest.raises(DataError, match="come from the data"):
        registry.preprocessing_spec("folder", 32)


def test_scan_drops_what_does_not_decode(tmp_path):
    good = write_image(tmp_path / "g", np.random.default_rng(0), KINDS[0], (5, 4))
    bad = tmp_path / "b.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    rows, sizes, reasons = stats.scan_files([str(good), str(bad)])
    assert np.isfinite(rows[0]).all() and np.isnan(rows[1]).all()
    assert sizes[0].tolist() == [4, 5] and list(reasons) == [1]
    assert folder.default_holdout(5) == 1 and folder.default_holdout(10**6) == 10_000
    assert pipeline.build  # the module imports with the folder loader


def test_android_vectors_of_your_own_data_are_current():
    """The vectors cascade-core's Java test replays are what Python computes today."""
    import base64

    from tests.conftest import REPO

    path = REPO / "android_demo/cascade-core/src/test/resources/vectors/preprocessing_data.json"
    cases = json.loads(path.read_text())["cases"]
    assert {c["dataset"] for c in cases} >= {"folder"} and any(
        c["dataset"].startswith("tfds:") for c in cases)
    for case in cases:
        for im in case["images"]:
            image = np.frombuffer(base64.b64decode(im["image_u8"]), np.uint8).reshape(
                im["height"], im["width"], im["channels"])
            expected = np.frombuffer(base64.b64decode(im["expected_f32"]), "<f4")
            actual = data_lib.preprocess_batch(case["spec"], [image]).reshape(-1)
            np.testing.assert_array_equal(actual, expected, case["what"])
