"""Raw data that needs no tfds: scikit-learn digits, Fashion-MNIST IDX files, image folders.

Every loader returns an `ArraySource`: the full training and test splits as
uint8 HWC arrays (or, for image folders, file paths decoded on the fly) with
int32 labels, in a fixed order.
"""

import dataclasses
import gzip
import os
from pathlib import Path

import numpy as np
from absl import logging

from msdnet_tf.data import registry
from msdnet_tf.data.errors import DataError

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz",
}
DIGITS_TEST_SIZE, DIGITS_SPLIT_SEED = 300, 0
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".gif")


@dataclasses.dataclass
class ArraySource:
    """Indexable splits: `*_x` are uint8 [N, H, W, C] images, or file paths if `is_files`."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    label_names: tuple
    origin: str
    is_files: bool = False


def load_digits():
    """scikit-learn's 1,797 8x8 digits, rescaled 0..16 -> 0..255, split 1,497 / 300."""
    from sklearn import datasets  # Imported here: only the digits need scikit-learn.

    bunch = datasets.load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    labels = bunch.target.astype(np.int32)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(images))
    test, train = np.sort(order[:DIGITS_TEST_SIZE]), np.sort(order[DIGITS_TEST_SIZE:])
    return ArraySource(images[train], labels[train], images[test], labels[test],
                       registry.DATASETS["digits"].label_names, "sklearn.datasets.load_digits")


def _read_idx(path, magic, shape_tail):
    """One gzipped IDX file (big-endian header; magic 2049 labels, 2051 images)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = 1 + len(shape_tail)
    header = np.frombuffer(raw[:4 + 4 * ndim], ">u4")
    if header[0] != magic or tuple(header[2:]) != shape_tail:
        raise DataError(f"{path} is not a Fashion-MNIST IDX file (header {header.tolist()}); "
                        "replace it with the original file")
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(header[1]) * int(np.prod(shape_tail)):
        raise DataError(f"{path} is truncated; replace it with the original file")
    return data.reshape((int(header[1]),) + shape_tail)


def fashion_mnist_dir(manual_dir):
    """The first of `manual_dir`, the Debian package folder holding all 4 IDX files."""
    for folder in ([manual_dir] if manual_dir else []) + [DEBIAN_FASHION_MNIST]:
        present = [n for n in FASHION_MNIST_FILES.values() if Path(folder, n).is_file()]
        if len(present) == len(FASHION_MNIST_FILES):
            return Path(folder)
        if present:
            missing = sorted(set(FASHION_MNIST_FILES.values()) - set(present))
            raise DataError(f"{folder} holds only part of Fashion-MNIST: put {', '.join(missing)} "
                            "there too (or remove the partial files)")
    return None


def load_fashion_mnist_idx(folder):
    """Fashion-MNIST from the four official IDX .gz files in `folder`."""
    files = {k: Path(folder, v) for k, v in FASHION_MNIST_FILES.items()}
    train_x = _read_idx(files["train_images"], 2051, (28, 28))[..., np.newaxis]
    train_y = _read_idx(files["train_labels"], 2049, ()).astype(np.int32)
    test_x = _read_idx(files["test_images"], 2051, (28, 28))[..., np.newaxis]
    test_y = _read_idx(files["test_labels"], 2049, ()).astype(np.int32)
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise DataError(f"Fashion-MNIST image and label files in {folder} disagree on the count")
    return ArraySource(train_x, train_y, test_x, test_y,
                       registry.DATASETS["fashion_mnist"].label_names, str(folder))


def _class_dirs(split_dir):
    return sorted(e.name for e in os.scandir(split_dir) if e.is_dir())


def _list_split(split_dir, classes):
    paths, labels = [], []
    for label, name in enumerate(classes):
        folder = Path(split_dir, name)
        files = sorted(e.name for e in os.scandir(folder)
                       if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS))
        paths += [str(folder / f) for f in files]
        labels += [label] * len(files)
    return np.asarray(paths, dtype=object), np.asarray(labels, np.int32)


def load_image_folder(root):
    """`root/train/<class>/*` and `root/val/<class>/*`; labels = sorted class folders."""
    root = Path(root)
    layout = ("put the training images in {root}/train/<class>/*.JPEG and the test "
              "(official validation) images in {root}/val/<class>/*.JPEG, or fix "
              "data.image_folder").format(root=root)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DataError(f"{root / split} does not exist: {layout}")
    classes = _class_dirs(root / "train")
    if not classes:
        raise DataError(f"{root / 'train'} holds no class folders: {layout}")
    unknown = sorted(set(_class_dirs(root / "val")) - set(classes))
    if unknown:
        raise DataError(f"{root / 'val'} has class folders absent from {root / 'train'}: "
                        f"{', '.join(unknown[:5])}; every val class needs a train folder")
    train_x, train_y = _list_split(root / "train", classes)
    test_x, test_y = _list_split(root / "val", classes)
    for split, x in (("train", train_x), ("val", test_x)):
        if not len(x):
            raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {root / split}: "
                            f"{layout}")
    logging.info("Image folder %s: %d classes, %d train and %d val images.", root, len(classes),
                 len(train_x), len(test_x))
    return ArraySource(train_x, train_y, test_x, test_y, tuple(classes), str(root),
                       is_files=True)
