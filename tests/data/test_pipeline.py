"""`build`: digits end to end, Fashion-MNIST from the Debian files, image folders."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf import config as config_lib
from msdnet_tf.data import pipeline, sources
from msdnet_tf.data.errors import DataError
from msdnet_tf.data.preprocessing import preprocess_batch


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("digits_run")
    cfg = config_lib.DataConfig(dataset="digits")
    return pipeline.build(cfg, 16, workdir, seed=0), workdir


def _stack(ds):
    images, labels = zip(*ds.as_numpy_iterator())
    return np.concatenate(images), np.concatenate(labels)


def test_digits_counts_and_holdout(digits):
    bundle, workdir = digits
    assert (bundle.num_train, bundle.num_val, bundle.num_test) == (1197, 300, 300)
    assert bundle.num_classes == 10 and bundle.label_names[3] == "3"
    saved = json.loads((workdir / "holdout.json").read_text())
    assert saved["indices"] == bundle.holdout.tolist() and saved["num_train"] == 1497
    # Disjoint from training; together they are the whole training split.
    train = bundle._index["train"]  # pylint: disable=protected-access
    assert not set(train) & set(bundle.holdout)
    assert len(train) + len(bundle.holdout) == 1497


def test_digits_rebuild_reuses_holdout(digits, data_cfg):
    bundle, workdir = digits
    again = pipeline.build(data_cfg(dataset="digits"), 16, workdir)
    np.testing.assert_array_equal(again.holdout, bundle.holdout)
    np.testing.assert_array_equal(again.images("val"), bundle.images("val"))
    fresh = pipeline.build(data_cfg(dataset="digits"), 16, None)  # Same seed, no workdir.
    np.testing.assert_array_equal(fresh.holdout, bundle.holdout)
    with pytest.raises(DataError, match="data.holdout_seed=0"):
        pipeline.build(data_cfg(dataset="digits", holdout_seed=1), 16, workdir)


def test_digits_raw_arrays(digits):
    bundle, _ = digits
    for split, n in (("val", 300), ("test", 300), ("train_eval", 1197)):
        images, labels = bundle.images(split), bundle.labels(split)
        assert images.shape == (n, 8, 8, 1) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.int32
        assert images.max() == 255 and set(np.unique(labels)) == set(range(10))
    full = sources.load_digits().train_x
    np.testing.assert_array_equal(bundle.images("val"), full[bundle.holdout])
    rest = np.setdiff1d(np.arange(len(full)), bundle.holdout)
    np.testing.assert_array_equal(bundle.images("train_eval"), full[rest])


@pytest.mark.parametrize("split", ["val", "test", "train_eval"])
def test_digits_eval_dataset_fixed_order(digits, split):
    bundle, _ = digits
    images, labels = _stack(bundle.eval_dataset(split, 128))
    assert images.shape == (bundle.count(split), 16, 16, 3) and images.dtype == np.float32
    np.testing.assert_array_equal(labels, bundle.labels(split))
    np.testing.assert_allclose(images, preprocess_batch("digits", bundle.images(split), 16),
                               atol=1e-6)
    np.testing.assert_array_equal(_stack(bundle.eval_dataset(split, 128))[1], labels)


def test_digits_train_dataset(digits):
    bundle, _ = digits
    ds = bundle.train_dataset(64)
    steps = bundle.steps_per_epoch(64)
    assert steps == 19
    batches = list(ds.take(steps + 2).as_numpy_iterator())  # Repeats past one epoch.
    assert all(x.shape == (64, 16, 16, 3) and y.shape == (64,) for x, y in batches)
    assert batches[0][1].dtype == np.int32
    labels = np.concatenate([y for _, y in batches[:18]])
    assert len(np.unique(labels)) == 10
    # Seeded: the same bundle seed gives the same batches.
    again = next(iter(bundle.train_dataset(64))).__getitem__(1).numpy()
    np.testing.assert_array_equal(again, batches[0][1])


def test_train_dataset_fn_shards_per_input_pipeline(digits, data_cfg):
    bundle = pipeline.build(data_cfg(dataset="digits", train_limit=100), 16)
    labels = bundle.labels("train_eval")
    for pid in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pid,
                                         num_replicas_in_sync=2)
        ds = bundle.train_dataset_fn(ctx, global_batch_size=10)
        batches = list(ds.take(10).as_numpy_iterator())  # One pass over a 50-image shard.
        assert all(x.shape == (5, 16, 16, 3) for x, _ in batches)  # Per-replica batch.
        seen = np.sort(np.concatenate([y for _, y in batches]))
        np.testing.assert_array_equal(seen, np.sort(labels[pid::2]))
    with pytest.raises(ValueError):
        bundle.train_dataset_fn(tf.distribute.InputContext(1, 0, 3), global_batch_size=10)


def test_every_seed_and_epoch_draws_its_own_order(data_cfg):
    """The order of one training pass depends on (seed, epoch) as a whole: seed 0's second
    epoch is not seed 1's first (neighbouring seeds share no passes), and a pass is
    reproducible (resume)."""
    bundle = pipeline.build(data_cfg(dataset="digits", train_limit=200), 16)

    def labels(seed, epoch):
        bundle.seed, bundle.epoch = seed, epoch
        return np.concatenate([y for _, y in bundle.train_dataset_fn(None, 50).take(4)
                               .as_numpy_iterator()])

    first = labels(0, 1)
    np.testing.assert_array_equal(first, labels(0, 1))
    others = [labels(1, 0), labels(0, 0), labels(2, 1), labels(1, 2)]
    assert all(not np.array_equal(first, other) for other in others)


def test_distribute_datasets_from_function(digits):
    bundle, _ = digits
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: bundle.train_dataset_fn(ctx, 32))
    x, y = next(iter(dist))
    assert x.shape == (32, 16, 16, 3) and y.dtype == tf.int32


def test_limits_and_no_augment(data_cfg):
    bundle = pipeline.build(data_cfg(dataset="digits", train_limit=50, test_limit=20,
                                     augment=False, num_parallel_calls=2), 8)
    assert (bundle.num_train, bundle.num_val, bundle.num_test) == (50, 300, 20)
    assert bundle.count("train_eval") == 50 and len(bundle.images("test")) == 20


def test_build_errors(data_cfg):
    with pytest.raises(DataError, match="validation split is empty"):
        pipeline.build(data_cfg(dataset="digits", holdout_size=0), 8).eval_dataset("val", 8)
    with pytest.raises(DataError, match="data.holdout_size"):
        pipeline.build(data_cfg(dataset="digits", holdout_size=1497), 8)
    with pytest.raises(DataError, match="data.num_parallel_calls"):
        pipeline.build(data_cfg(dataset="digits", num_parallel_calls=0), 8).train_dataset(8)
    bundle = pipeline.build(data_cfg(dataset="digits"), 8)
    with pytest.raises(DataError, match="split must be one of"):
        bundle.eval_dataset("validation", 8)
    with pytest.raises(DataError, match="train_dataset_fn"):
        bundle.eval_dataset("train", 8)


def test_build_from_config_checks_num_classes():
    cfg = config_lib.load_config(None, ["data.dataset=digits", "model.num_classes=100"])
    with pytest.raises(DataError, match="model.num_classes=10"):
        pipeline.build_from_config(cfg)
    cfg.model.num_classes = 10
    assert pipeline.build_from_config(cfg).num_classes == 10


@pytest.mark.skipif(not Path(sources.DEBIAN_FASHION_MNIST).is_dir(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_files(tmp_path, data_cfg):
    bundle = pipeline.build(data_cfg(dataset="fashion_mnist"), 32, tmp_path)
    assert (bundle.num_train, bundle.num_val, bundle.num_test) == (55000, 5000, 10000)
    test = bundle.images("test")
    assert test.shape == (10000, 28, 28, 1) and test.dtype == np.uint8
    assert np.bincount(bundle.labels("test")).tolist() == [1000] * 10
    assert bundle.label_names[9] == "Ankle boot"
    x, y = next(iter(bundle.eval_dataset("test", 16)))
    assert x.shape == (16, 32, 32, 3)
    np.testing.assert_allclose(x.numpy(), preprocess_batch("fashion_mnist", test[:16], 32),
                               atol=1e-6)
    x, y = next(iter(bundle.train_dataset(16)))
    assert x.shape == (16, 32, 32, 3) and y.shape == (16,)


def test_fashion_mnist_partial_manual_dir(tmp_path, data_cfg):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        pipeline.build(data_cfg(dataset="fashion_mnist", manual_dir=str(tmp_path)), 32)


def test_imagenet_image_folder(tmp_path, data_cfg, image_folder):
    classes = image_folder(tmp_path / "imnet")
    cfg = data_cfg(dataset="imagenet2012", image_folder=str(tmp_path / "imnet"))
    with pytest.raises(DataError, match="set data.holdout_size"):
        pipeline.build(cfg, 32)
    cfg.holdout_size = 3
    bundle = pipeline.build(cfg, 32, tmp_path / "run")
    assert bundle.streamed and bundle.label_names == tuple(classes)
    assert (bundle.num_train, bundle.num_val, bundle.num_test) == (9, 3, 5)
    np.testing.assert_array_equal(bundle.labels("test"), [0, 0, 1, 1, 2])
    raw = list(bundle.raw_dataset("test").as_numpy_iterator())
    assert [im.shape[-1] for im, _ in raw] == [3] * 5
    images, labels = _stack(bundle.eval_dataset("test", 2))
    assert images.shape == (5, 32, 32, 3)
    np.testing.assert_allclose(images, preprocess_batch("imagenet2012", [im for im, _ in raw],
                                                        32), atol=1e-6)
    x, y = next(iter(bundle.train_dataset(4)))
    assert x.shape == (4, 32, 32, 3)
    with pytest.raises(DataError, match="raw_dataset"):
        bundle.images("val")


def test_image_folder_errors(tmp_path, data_cfg):
    cfg = data_cfg(dataset="imagenet2012", image_folder=str(tmp_path), holdout_size=1)
    with pytest.raises(DataError, match=r"train/<class>/\*.JPEG"):
        pipeline.build(cfg, 32)
    (tmp_path / "train" / "a").mkdir(parents=True)
    (tmp_path / "val" / "b").mkdir(parents=True)
    with pytest.raises(DataError, match="absent from"):
        pipeline.build(cfg, 32)
