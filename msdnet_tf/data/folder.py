"""`data.dataset: folder`: your own images, one sub-folder per class.

    ROOT/train/<class>/*   training images (the hold-out is drawn from them)
    ROOT/test/<class>/*    test images (optional: else a seeded, saved share of train/)

Classes are the sub-folders of train/, in sorted order (label k = k-th name); any
number of them. Files are taken by their name ending (`images.IMAGE_EXTENSIONS`;
other files and hidden ones are ignored); any size, format and mode that TensorFlow
or Pillow decode (see `images`). The first build reads every image once: files
that do not decode are listed once and left out, and the per-channel mean and std
of the training images are computed. With a run directory all of it is saved in
`dataset.json` (classes, skipped files, the drawn test split, mean/std) and reused:
a folder that changed since is an error, not a silent re-split.
"""

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np

from msdnet_tf.data import images, registry, stats
from msdnet_tf.data.errors import DataError
from msdnet_tf.data.sources import ArraySource

DEFAULT_FRACTION = 0.1
MAX_DEFAULT_HOLDOUT = 10_000


@dataclasses.dataclass
class FolderSource(ArraySource):
    """An `ArraySource` of file paths, with the `DatasetInfo` made from the data."""

    info: registry.DatasetInfo | None = None
    skipped: tuple = ()


def _layout(root):
    return (f"put the training images in {root}/train/<class>/<image files> (one sub-folder per "
            f"class) and, if you have them, test images in {root}/test/<class>/..., or fix "
            "data.image_folder")


def _class_dirs(split_dir):
    return sorted(e.name for e in os.scandir(split_dir) if e.is_dir() and
                  not e.name.startswith("."))


def class_names(root):
    """The class names of ROOT (sorted sub-folders of ROOT/train); DataError if none."""
    root = Path(root)
    if not (root / "train").is_dir():
        raise DataError(f"{root / 'train'} does not exist: {_layout(root)}")
    classes = _class_dirs(root / "train")
    if not classes:
        raise DataError(f"{root / 'train'} holds no class folders: {_layout(root)}")
    return classes


def _list(root, split, classes):
    """Relative paths and labels of the image files of ROOT/split, class by class, sorted."""
    files, labels = [], []
    for label, name in enumerate(classes):
        folder = root / split / name
        if not folder.is_dir():
            continue
        names = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = Path(dirpath).relative_to(root)
            names += [str(rel / f) for f in filenames if images.is_image_name(f)]
        names.sort()
        files += names
        labels += [label] * len(names)
    return files, labels


def _digest(classes, train, test):
    h = hashlib.sha256()
    for part in (classes, train, test or []):
        h.update(("\n".join(part) + "\n\x00").encode())
    return h.hexdigest()[:20]


def _fraction(n, what):
    size = max(1, int(round(DEFAULT_FRACTION * n)))
    if size >= n:
        raise DataError(f"{n} readable training image(s) are too few to set aside {what}: "
                        "add images (a few per class at least)")
    return size


def default_holdout(num_train):
    """The default hold-out of a dataset described by its data: 10%, 1 to 10,000 images."""
    return min(max(1, int(round(DEFAULT_FRACTION * num_train))), MAX_DEFAULT_HOLDOUT)


def _draw(n, size, seed):
    if not 1 <= size < n:
        raise DataError(f"data.test_size must be in [1, {n}) for {n} readable training images "
                        f"(ROOT has no test/ folder). Received: data.test_size={size}")
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def _check_saved(saved, record, root, path):
    if saved.get("dataset") != "folder" or saved.get("listing") != record["listing"]:
        raise DataError(
            f"{root} is not the folder {path} was made from (now {record['num_files']} image "
            f"files in {len(record['classes'])} classes, then {saved.get('num_files')} in "
            f"{len(saved.get('classes') or [])}): use a new workdir, or restore the folder")
    want, have = record["test"], saved.get("test") or {}
    if want.get("from") == "train" and (have.get("seed"), have.get("requested")) != \
            (want["seed"], want["requested"]):
        raise DataError(f"{path} drew its test images with data.holdout_seed="
                        f"{have.get('seed')} and data.test_size={have.get('requested')}: set "
                        "them back, or use a new workdir")


def load(cfg_data, workdir=None):
    """The `FolderSource` of `data.image_folder` (see the module doc)."""
    root = Path(cfg_data.image_folder).expanduser()
    if not root.is_dir():
        raise DataError(f"data.image_folder {root} is not a folder: {_layout(root)}")
    root = root.resolve()
    classes = class_names(root)
    unknown = sorted(set(_class_dirs(root / "test")) - set(classes)) \
        if (root / "test").is_dir() else []
    if unknown:
        raise DataError(f"{root / 'test'} has class folders absent from {root / 'train'}: "
                        f"{', '.join(unknown[:5])}; every test class needs a train folder")
    train, train_y = _list(root, "train", classes)
    has_test = (root / "test").is_dir()
    test, test_y = _list(root, "test", classes) if has_test else ([], [])
    if not train:
        raise DataError(f"no image files ({', '.join(images.IMAGE_EXTENSIONS)}) under "
                        f"{root / 'train'}: {_layout(root)}")
    if has_test and not test:
        raise DataError(f"{root / 'test'} holds no image files: add test images or remove "
                        "the empty test/ folder (then test images are drawn from train/)")
    record = {"dataset": "folder", "root": str(root),
              "listing": _digest(classes, train, test if has_test else None),
              "num_files": len(train) + len(test), "classes": classes,
              "test": ({"from": "test folder"} if has_test else
                       {"from": "train", "seed": cfg_data.holdout_seed,
                        "requested": cfg_data.test_size})}
    path = Path(workdir) / stats.DATASET_FILE if workdir is not None else None
    saved = stats.read_record(workdir)
    if saved is not None:
        _check_saved(saved, record, root, path)
        record = saved
    else:
        record = _read_images(root, record, train, test, train_y, test_y, has_test, cfg_data)
        stats.write_record(workdir, record)
        stats.report_skipped(record["skipped"], path or "this run only: no workdir")
    return _source(root, record, train, train_y, test, test_y, has_test)


def _read_images(root, record, train, test, train_y, test_y, has_test, cfg_data):
    """The statistics pass: skipped files, the test split if drawn, mean and std."""
    files = train + test
    rows, sizes, bad = stats.scan_files([str(root / f) for f in files],
                                        f"reading {len(files)} images in {root}")
    skipped = [{"file": files[i], "error": reason} for i, reason in sorted(bad.items())]
    good_train = [i for i in range(len(train)) if i not in bad]
    if not good_train:
        raise DataError(f"none of the {len(train)} files under {root / 'train'} is a readable "
                        "image")
    if has_test:
        if len(test) and all(len(train) + j in bad for j in range(len(test))):
            raise DataError(f"none of the files under {root / 'test'} is a readable image")
        test_files = None
        stats_rows = rows[good_train]
    else:
        size = cfg_data.test_size if cfg_data.test_size != -1 else \
            _fraction(len(good_train), "test images")
        drawn = _draw(len(good_train), size, cfg_data.holdout_seed)
        test_files = [train[good_train[i]] for i in drawn]
        keep = np.setdiff1d(np.arange(len(good_train)), drawn)
        stats_rows = rows[[good_train[i] for i in keep]]
    mean, std = stats.mean_std(stats_rows)
    good_sizes = sizes[~np.isnan(rows[:, 0])]
    record = dict(record)
    record["test"] = {**record["test"], "size": len(test_files)} if test_files is not None \
        else record["test"]
    if test_files is not None:
        record["test"]["files"] = test_files
    record.update(skipped=skipped, mean=mean, std=std, stats_images=int(len(stats_rows)),
                  min_size=[int(v) for v in good_sizes.min(axis=0)],
                  max_size=[int(v) for v in good_sizes.max(axis=0)])
    return record


def _source(root, record, train, train_y, test, test_y, has_test):
    skipped = {item["file"] for item in record.get("skipped", [])}
    classes = tuple(record["classes"])
    keep = [(f, y) for f, y in zip(train, train_y) if f not in skipped]
    if has_test:
        test_pairs = [(f, y) for f, y in zip(test, test_y) if f not in skipped]
    else:
        drawn = set(record["test"]["files"])
        test_pairs = [(f, y) for f, y in keep if f in drawn]
        keep = [(f, y) for f, y in keep if f not in drawn]

    def arrays(pairs):
        paths = np.asarray([str(root / f) for f, _ in pairs], dtype=object)
        return paths, np.asarray([y for _, y in pairs], np.int32)

    train_x, train_y = arrays(keep)
    test_x, test_y = arrays(test_pairs)
    info = stats.info_from_record(record, default_holdout(len(train_x)))
    return FolderSource(train_x, train_y, test_x, test_y, classes, str(root), is_files=True,
                        info=info, skipped=tuple(sorted(skipped)))
