"""`data.dataset: tfds:NAME`: a tensorflow-datasets dataset prepared in data.data_dir, offline."""

import json
import time

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from msdnet_tf import config as config_lib  # noqa: E402
from msdnet_tf import data as data_lib  # noqa: E402
from msdnet_tf.data.errors import DataError  # noqa: E402

NAMES = ("circle", "square")


class MsdnetTinyGray(tfds.core.GeneratorBasedBuilder):
    """Gray 10x12 images whose pixels all equal 10 * index: a known mean and std."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        features = tfds.features.FeaturesDict({
            "picture": tfds.features.Image(shape=(10, 12, 1), encoding_format="png"),
            "kind": tfds.features.ClassLabel(names=NAMES),
            "note": tfds.features.Text()})
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self, dl_manager):
        del dl_manager
        return {"train": self._generate_examples(20), "eval": self._generate_examples(6),
                "extra": self._generate_examples(4)}

    def _generate_examples(self, num):
        for i in range(num):
            yield i, {"picture": np.full((10, 12, 1), 10 * i, np.uint8),
                      "kind": i % 2, "note": f"example {i}"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tfds")
    MsdnetTinyGray(data_dir=str(folder)).download_and_prepare()
    return folder


def cfg_for(data_dir, *overrides):
    return config_lib.load_config(None, ["data.dataset=tfds:msdnet_tiny_gray",
                                         f"data.data_dir={data_dir}", "data.test_split=eval",
                                         *overrides])


def test_any_prepared_tfds_dataset(data_dir, tmp_path):
    cfg = cfg_for(data_dir)
    bundle = data_lib.build_from_config(cfg, tmp_path)
    assert cfg.model.num_classes == 2 and bundle.label_names == NAMES
    assert (bundle.num_train + bundle.num_val, bundle.num_test) == (20, 6)
    values = 10.0 * np.arange(20)  # every pixel of image i
    mean, std = values.mean() / 255, values.std() / 255
    np.testing.assert_allclose(bundle.info.mean, [mean] * 3, atol=1e-6)
    np.testing.assert_allclose(bundle.info.std, [std] * 3, atol=1e-6)
    spec = bundle.preprocessing_spec()
    assert spec["input"]["height"] == 10 and spec["channels_in"] == 3  # gray becomes RGB
    x, y = next(iter(bundle.eval_dataset("test", 6)))
    pixel = np.round((x.numpy()[:, 0, 0, 0] * std + mean) * 255).astype(int)
    assert x.shape == (6, 32, 32, 3) and sorted(pixel.tolist()) == [0, 10, 20, 30, 40, 50]
    assert y.numpy().tolist() == ((pixel // 10) % 2).tolist()  # the labels stay with images
    np.testing.assert_allclose(x.numpy()[0], x.numpy()[0, 0, 0, 0], atol=1e-5)
    record = json.loads((tmp_path / "dataset.json").read_text())
    assert record["classes"] == list(NAMES) and record["train_split"] == "train"
    x, _ = next(iter(bundle.train_dataset(4)))
    assert x.shape == (4, 32, 32, 3)


def test_splits_are_configurable_and_checked(data_dir, tmp_path):
    bundle = data_lib.build_from_config(cfg_for(data_dir, "data.test_split=extra"), tmp_path)
    assert bundle.num_test == 4
    with pytest.raises(DataError, match="has no split 'test': set data.test_split to one of"):
        data_lib.build_from_config(cfg_for(data_dir, "data.test_split="), tmp_path / "b")
    with pytest.raises(DataError, match="both 'train'"):
        data_lib.build_from_config(cfg_for(data_dir, "data.test_split=train"), tmp_path / "c")


def test_missing_or_unprepared_data_fail_at_once(tmp_path):
    start = time.monotonic()
    with pytest.raises(DataError, match="not found in .*Set data.data_dir") as info:
        data_lib.build_from_config(cfg_for(tmp_path, "data.dataset=tfds:no_such_dataset_xyz"))
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="is not prepared in .*tfds build msdnet_tiny_gray"):
        data_lib.build_from_config(cfg_for(tmp_path / "empty"))
    assert time.monotonic() - start < 30  # no network retries
