"""Data through tensorflow-datasets, checked locally first so that offline runs fail fast.

tfds is imported only here and only when a tfds dataset is requested. We never
let tfds reach for the network unless `data.download` is true: a builder is used
when its prepared data exist in `data.data_dir`, or prepared from the official
archives placed in `data.manual_dir` (tfds verifies their checksums).

CIFAR and Fashion-MNIST are small and loaded into memory (`load_arrays`);
ImageNet is streamed from the prepared TFRecords (`TfdsStream`).
"""

from pathlib import Path

import numpy as np
from absl import logging

from msdnet_tf.data import registry
from msdnet_tf.data.errors import DataError
from msdnet_tf.data.sources import ArraySource

# Files tfds needs in manual_dir to prepare each dataset (URL basenames for CIFAR).
MANUAL_FILES = {
    "cifar10": ("cifar-10-binary.tar.gz",),
    "cifar100": ("cifar-100-binary.tar.gz",),
    "imagenet2012": ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"),
    "fashion_mnist": (),
}
SOURCES = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, 170,052,171 bytes",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz, 168,513,733 bytes",
    "imagenet2012": "https://image-net.org, ILSVRC2012, after registration",
    "fashion_mnist": "the Debian package dataset-fashion-mnist "
                     "(apt-get install dataset-fashion-mnist)",
}


def _tfds():
    try:
        import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise DataError(f"tensorflow-datasets is needed for this dataset ({e}); run "
                        "`pip install tensorflow-datasets importlib_resources`") from None
    return tfds


def _missing_message(name, builder_dir, manual_dir, can_download):
    files = MANUAL_FILES[name]
    options = []
    if files:
        where = manual_dir or "<data.manual_dir, not set>"
        found = f"no prepared tfds data in {builder_dir} and no " + " or ".join(
            str(Path(where, f)) for f in files)
        options.append(f"put {' and '.join(files)} (from {SOURCES[name]}) in a folder and set "
                       "data.manual_dir to that folder")
    else:
        found = f"no prepared tfds data in {builder_dir} and no IDX files"
        options.append(f"install {SOURCES[name]}, or put the four *-ubyte.gz files in a folder "
                       "and set data.manual_dir to it")
    options.append(f"set data.data_dir to a tfds data dir holding prepared {name} (copied "
                   "from a machine with internet)")
    if can_download:
        options.append("set data.download=true on a machine with internet")
    if name == "imagenet2012":
        options.append("set data.image_folder to a folder holding train/<class>/*.JPEG and "
                       "val/<class>/*.JPEG")
    return f"{name} data not found: {found}. Either " + ", or ".join(options) + "."


def prepared_builder(name, cfg_data):
    """A tfds builder of `name` whose data are prepared, preparing offline if possible.

    Raises DataError at once (no network) when nothing local is found and
    `data.download` is false.
    """
    tfds = _tfds()
    builder = tfds.builder(name, data_dir=cfg_data.data_dir or None)
    if builder.is_prepared():
        return builder
    manual = cfg_data.manual_dir
    files = MANUAL_FILES[name]
    have_manual = bool(manual) and bool(files) and all(Path(manual, f).is_file() for f in files)
    can_download = name != "imagenet2012"  # ImageNet needs registration: manual only.
    if not have_manual and not (cfg_data.download and can_download):
        raise DataError(_missing_message(name, builder.data_dir, manual, can_download))
    if name == "imagenet2012":
        logging.warning("Preparing ImageNet from %s into %s: this takes hours.", manual,
                        builder.data_dir)
    config = tfds.download.DownloadConfig(manual_dir=manual or None)
    try:
        builder.download_and_prepare(download_config=config)
    except tfds.core.download.download_manager.NonMatchingChecksumError as e:
        paths = " / ".join(str(Path(manual, f)) for f in files)
        raise DataError(f"{paths} is not the official file (checksum mismatch): download it "
                        f"again from {SOURCES[name]} and replace it. tfds said: "
                        f"{str(e).splitlines()[0]}") from None
    return builder


def load_arrays(name, cfg_data):
    """A small tfds dataset (CIFAR, Fashion-MNIST) as an in-memory `ArraySource`.

    Examples come in tfds's stored order (tfds shuffles them, deterministically,
    when it prepares the data); hold-out indices refer to that order.
    """
    tfds = _tfds()
    builder = prepared_builder(name, cfg_data)
    splits = {}
    for split in ("train", "test"):
        ds = builder.as_dataset(split=split, batch_size=-1, as_supervised=True,
                                shuffle_files=False)
        images, labels = tfds.as_numpy(ds)
        splits[split] = (images.astype(np.uint8), labels.astype(np.int32))
    names = registry.DATASETS[name].label_names
    return ArraySource(*splits["train"], *splits["test"], names, str(builder.data_dir))


class TfdsStream:
    """A prepared tfds image dataset streamed from its files, with a global index.

    The global index of an example is its position in the split's canonical
    order (shard by shard, then within the shard), recovered from the tfds id
    even when the files are shuffled; hold-out and `train_limit` masks use it.
    """

    def __init__(self, builder, train_split="train", test_split="validation", image_key="image",
                 label_key="label"):
        self.builder = builder
        self.train_split, self.test_split = train_split, test_split
        self.image_key, self.label_key = image_key, label_key
        self.num_train = builder.info.splits[train_split].num_examples
        self.num_test = builder.info.splits[test_split].num_examples
        self.label_names = tuple(builder.info.features[label_key].names)
        self.origin = str(builder.data_dir)
        self.info = None  # DatasetInfo of a tfds:NAME dataset (msdnet_tf.data.tfds_named)

    def _offsets(self, split):
        info = self.builder.info.splits[split]
        starts = np.concatenate([[0], np.cumsum(info.shard_lengths)[:-1]]).astype(np.int64)
        return dict(zip(info.filenames, starts.tolist()))

    def read(self, split, input_context=None, shuffle_seed=None):
        """Dataset of (encoded image, int32 label, int64 global index).

        Fixed order when `shuffle_seed` is None; otherwise files are shuffled with
        that seed each pass. With `input_context`, files are sharded per pipeline.
        """
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        tfds = _tfds()
        split_name = self.train_split if split == "train" else self.test_split
        read_config = tfds.ReadConfig(add_tfds_id=True, input_context=input_context,
                                      shuffle_seed=shuffle_seed, try_autocache=False)
        ds = self.builder.as_dataset(split=split_name, shuffle_files=shuffle_seed is not None,
                                     read_config=read_config,
                                     decoders={self.image_key: tfds.decode.SkipDecoding()})
        offsets = self._offsets(split_name)
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(list(offsets), list(offsets.values()),
                                                key_dtype=tf.string, value_dtype=tf.int64), -1)

        def index(example):
            # tfds id: "<shard file basename>__<index in shard>".
            parts = tf.strings.split(example["tfds_id"], "__")
            shard = tf.strings.reduce_join(parts[:-1], separator="__")
            within = tf.strings.to_number(parts[-1], out_type=tf.int64)
            return (example[self.image_key], tf.cast(example[self.label_key], tf.int32),
                    table.lookup(shard) + within)

        return ds.map(index, num_parallel_calls=tf.data.AUTOTUNE)


def imagenet_stream(cfg_data):
    """ImageNet (ILSVRC2012) through tfds: prepared data, or prepared from the manual tars."""
    test_split = registry.get_info("imagenet2012").test_split_name
    return TfdsStream(prepared_builder("imagenet2012", cfg_data), "train", test_split)
