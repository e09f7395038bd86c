"""Fixtures of the data tests: tiny CIFAR archives, image folders and tfds datasets."""

import io
import os
import tarfile

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cifar10_records(num, seed):
    """`num` random CIFAR-10 records: labels [num], HWC images [num, 32, 32, 3], raw bytes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, num).astype(np.uint8)
    images = rng.integers(0, 256, (num, 32, 32, 3)).astype(np.uint8)
    planar = images.transpose(0, 3, 1, 2).reshape(num, 3072)  # The archive stores CHW.
    raw = np.concatenate([labels[:, None], planar], axis=1).tobytes()
    return labels, images, raw


def write_fake_cifar10_archive(path, per_batch=4, num_test=6):
    """A cifar-10-binary.tar.gz in the official layout, with few random images."""
    train_labels, train_images = [], []
    members = {}
    for b in range(5):
        labels, images, raw = cifar10_records(per_batch, seed=b)
        members[f"data_batch_{b + 1}.bin"] = raw
        train_labels.append(labels)
        train_images.append(images)
    test_labels, test_images, members["test_batch.bin"] = cifar10_records(num_test, seed=99)
    members["batches.meta.txt"] = "\n".join(
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
         "truck"]).encode() + b"\n"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return ((np.concatenate(train_images), np.concatenate(train_labels)),
            (test_images, test_labels))


def write_image_folder(root, per_class_train=(5, 4, 3), per_class_val=(2, 2, 1)):
    """root/{train,val}/<class>/*.png of random-size RGB images; returns class names."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    classes = ["n001", "n002", "n003"]
    for split, counts in (("train", per_class_train), ("val", per_class_val)):
        for name, count in zip(classes, counts):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                shape = (int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3)
                image = rng.integers(0, 256, shape).astype(np.uint8)
                (folder / f"img_{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    (root / "train" / "n001" / "notes.txt").write_text("not an image")
    return classes


@pytest.fixture
def fake_cifar10_archive():
    """`write(path) -> ((train_images, train_labels), (test_images, test_labels))`."""
    return write_fake_cifar10_archive


@pytest.fixture
def image_folder():
    """`write(root) -> class names` of a tiny train/val image-folder tree."""
    return write_image_folder


@pytest.fixture
def data_cfg():
    """A DataConfig factory with fast defaults."""
    from msdnet_tf.config import DataConfig

    def make(**kwargs):
        return DataConfig(**kwargs)

    return make
