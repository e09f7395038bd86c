"""The tf.data pipelines of one dataset: `build(...) -> DataBundle`.

Splits: "train" (training split minus the hold-out, then `data.train_limit`;
augmented), "val" (the hold-out), "test" (the official test split, ImageNet's
validation split; then `data.test_limit`) and "train_eval" (the "train" images
with test-time preprocessing). Every split but "train" comes in a fixed order.

In-memory datasets (digits, Fashion-MNIST, CIFAR) are held as uint8 arrays and
preprocessed on the fly; ImageNet, `folder` and `tfds:NAME` stream from files (the last
two: classes, mean and std from the data, see `folder` and `tfds_named`). `data.cache` caches the
encoded ImageNet hold-out of a tfds source in `<workdir>/cache/` (it is spread
over all training shards), so only the first pass over "val" reads the whole
training split.

The training dataset repeats forever (reshuffled every pass): the trainer sets
`steps_per_epoch = ceil(num_train / global_batch_size)` (`DataBundle.steps_per_epoch`).
"""

import copy
import hashlib
import math

import numpy as np
import tensorflow as tf
from absl import logging

from msdnet_tf.data import folder as folder_lib
from msdnet_tf.data import holdout as holdout_lib
from msdnet_tf.data import images as images_lib
from msdnet_tf.data import registry, sources, tfds_named, tfds_sources
from msdnet_tf.data.errors import DataError
from msdnet_tf.data.preprocessing import preprocess

SPLITS = ("train", "val", "test", "train_eval")
# Shuffle buffer (examples) for streamed tfds data, after file shuffling.
STREAM_SHUFFLE_BUFFER = 10_000


def _load_source(cfg_data, workdir=None):
    name = cfg_data.dataset
    registry.check_dataset_name(name)
    if name == registry.FOLDER:
        return folder_lib.load(cfg_data, workdir)
    if registry.is_dynamic(name):
        return tfds_named.load(cfg_data, workdir)
    if name == "digits":
        return sources.load_digits()
    if name == "fashion_mnist":
        folder = sources.fashion_mnist_dir(cfg_data.manual_dir)
        if folder is not None:
            return sources.load_fashion_mnist_idx(folder)
        return tfds_sources.load_arrays(name, cfg_data)
    if name == "imagenet2012":
        if cfg_data.image_folder:
            return sources.load_image_folder(cfg_data.image_folder)
        return tfds_sources.imagenet_stream(cfg_data)
    return tfds_sources.load_arrays(name, cfg_data)


def _decode(encoded):
    return images_lib.decode_tensor(encoded)


class DataBundle:
    """Datasets, counts and raw arrays of one dataset at one input size.

    Attributes: dataset, image_size, info (`DatasetInfo`), num_classes,
    label_names, holdout (indices into the full training split), num_train,
    num_val, num_test, streamed (images are read from files, not held in memory).
    """

    def __init__(self, cfg_data, image_size, source, workdir=None, seed=0):
        self.dataset, self.image_size, self.seed = cfg_data.dataset, image_size, seed
        # The training pass: with `seed`, it fixes the order and augmentation draws of
        # `train_dataset_fn` (the trainer sets it before every epoch).
        self.epoch = 0
        self.info = registry.get_info(self.dataset, getattr(source, "info", None))
        # The one preprocessing rule of this data (test ops, training ops of data.augment).
        self.spec = registry.preprocessing_spec(
            self.dataset, image_size, cfg_data.augment,
            self.info if registry.is_dynamic(self.dataset) else None)
        self._cfg, self._source = cfg_data, source
        self._tfds = isinstance(source, tfds_sources.TfdsStream)
        self.streamed = self._tfds or source.is_files
        self.label_names = tuple(source.label_names)
        self.num_classes = len(self.label_names)
        num_full = source.num_train if self._tfds else len(source.train_y)
        num_test = source.num_test if self._tfds else len(source.test_y)
        size = cfg_data.holdout_size
        if size == -1:
            size = self.info.holdout_default
            if size >= num_full:
                raise DataError(f"the {self.dataset} default hold-out ({size}) needs more than "
                                f"the {num_full} training images found in {source.origin}; "
                                "set data.holdout_size")
        self.holdout = holdout_lib.load_or_create_holdout(workdir, self.dataset, num_full, size,
                                                          cfg_data.holdout_seed)
        train = np.setdiff1d(np.arange(num_full), self.holdout)
        if cfg_data.train_limit:
            train = train[:cfg_data.train_limit]
        test = np.arange(num_test)[:cfg_data.test_limit or None]
        self._index = {"train": train, "val": self.holdout, "test": test, "train_eval": train}
        self.num_train, self.num_val, self.num_test = len(train), len(self.holdout), len(test)
        self._workdir, self._tensors = workdir, {}
        # Resolution-switchable training: batches hold one crop per side (see multiscale).
        self.train_sizes = None
        self._side_specs = {}
        logging.info("%s from %s: %d train, %d val (hold-out), %d test images.", self.dataset,
                     source.origin, self.num_train, self.num_val, self.num_test)

    # ----------------------------------------------------------------- helpers
    def _parallel(self):
        n = self._cfg.num_parallel_calls
        if n == -1:
            return tf.data.AUTOTUNE
        if n < 1:
            raise DataError(f"data.num_parallel_calls must be -1 (AUTOTUNE) or >= 1. "
                            f"Received: data.num_parallel_calls={n}")
        return n

    def _check_split(self, split):
        if split not in SPLITS:
            raise DataError(f"split must be one of {', '.join(SPLITS)}. Received: split={split!r}")
        if split == "val" and self.num_val == 0:
            raise DataError("the validation split is empty: set data.holdout_size > 0 "
                            f"(-1 for the {self.dataset} default of {self.info.holdout_default})")

    def _arrays(self, split):
        side = "test" if split == "test" else "train"
        return getattr(self._source, f"{side}_x"), getattr(self._source, f"{side}_y")

    def _loader(self, split):
        """index -> (uint8 HWC image, int32 label) for array and image-folder sources."""
        side = "test" if split == "test" else "train"
        if side not in self._tensors:
            x, y = self._arrays(split)
            with tf.device("/cpu:0"):  # Input data stay on the host.
                x = tf.constant(list(x) if self._source.is_files else x)
                self._tensors[side] = (x, tf.constant(y, tf.int32))
        x, y = self._tensors[side]
        if self._source.is_files:
            return lambda i: (_decode(tf.io.read_file(tf.gather(x, i))), tf.gather(y, i))
        return lambda i: (tf.gather(x, i), tf.gather(y, i))

    def _stream(self, split, input_context=None, shuffle_seed=None):
        """(encoded image, label) of a tfds-streamed split; fixed order unless shuffled."""
        ds = self._source.read("test" if split == "test" else "train", input_context, shuffle_seed)
        if split == "test":
            ds = ds.take(self.num_test)
        else:
            mask = np.zeros(self._source.num_train, bool)
            mask[self._index[split]] = True
            mask = tf.constant(mask)
            ds = ds.filter(lambda enc, y, i: tf.gather(mask, i))
        ds = ds.map(lambda enc, y, i: (enc, y))
        if split == "val" and self._cfg.cache and self._workdir is not None:
            # The hold-out is spread over every training shard: keep its encoded
            # images after the first full pass instead of re-reading ImageNet.
            # Named after the hold-out, so a new hold-out never reads a stale cache.
            digest = hashlib.sha1(self.holdout.tobytes()).hexdigest()[:12]
            folder = tf.io.gfile.join(str(self._workdir), "cache")
            tf.io.gfile.makedirs(folder)
            ds = ds.cache(tf.io.gfile.join(folder, f"{self.dataset}_val_{digest}"))
        elif split == "val":
            logging.warning("Each pass over the %s hold-out reads the whole training split; "
                            "set data.cache=true and pass a workdir to cache it.", self.dataset)
        return ds

    # ------------------------------------------------------------- public API
    def raw_dataset(self, split):
        """Unbatched (uint8 HWC image, int32 label) of `split`, fixed order, no preprocessing."""
        self._check_split(split)
        if self._tfds:
            return self._stream(split).map(lambda enc, y: (_decode(enc), y),
                                           num_parallel_calls=self._parallel())
        ds = tf.data.Dataset.from_tensor_slices(self._index[split])
        return ds.map(self._loader(split), num_parallel_calls=self._parallel())

    def train_dataset_fn(self, input_context, global_batch_size):
        """Augmented, shuffled, repeat-forever training batches (images, labels).

        With `train_sizes` set, images is a tuple with one batch per side (the
        same crops, `multiscale.preprocess_resolutions`).

        For `strategy.distribute_datasets_from_function(lambda ctx:
        bundle.train_dataset_fn(ctx, B))`; `input_context=None` means one pipeline.
        Each input pipeline reads its own shard and yields per-replica batches of
        `input_context.get_per_replica_batch_size(global_batch_size)`.
        """
        num, pid, batch = 1, 0, global_batch_size
        if input_context is not None:
            num, pid = input_context.num_input_pipelines, input_context.input_pipeline_id
            batch = input_context.get_per_replica_batch_size(global_batch_size)
        # One independent stream per (seed, epoch, pipeline): seed s's epoch e shares no
        # order with seed s + e's epoch 0 (SeedSequence hashes the whole key).
        key = [self.seed, self.epoch, pid]
        shuffle_seed, aug_seed = (int(s) for s in np.random.SeedSequence(key).generate_state(2))
        if self._tfds:  # Shuffle the encoded images: decoded ones are ~5x larger.
            ds = self._stream("train", input_context, shuffle_seed)
            ds = ds.shuffle(STREAM_SHUFFLE_BUFFER, seed=shuffle_seed)
            load = lambda element: (_decode(element[0]), element[1])  # noqa: E731
        else:
            shard = self._index["train"][pid::num]
            if not len(shard):
                raise DataError(f"input pipeline {pid} of {num} has no training images; "
                                "raise data.train_limit (0 = all)")
            ds = tf.data.Dataset.from_tensor_slices(shard).shuffle(len(shard), seed=shuffle_seed)
            load = self._loader("train")
        ds = ds.repeat()
        seeds = tf.data.Dataset.random(seed=aug_seed).batch(2)

        def prepare(element, seed):  # train_ops: the data.augment rule ("none": the test ops)
            image, label = load(element)
            if self.train_sizes:  # one crop per side: the same box and flip at every side
                from msdnet_tf.data.multiscale import preprocess_resolutions

                return preprocess_resolutions([self.spec_at(r) for r in self.train_sizes],
                                              image, seed=seed), label
            return preprocess(self.spec, image, training=True, seed=seed), label

        ds = tf.data.Dataset.zip((ds, seeds)).map(prepare, num_parallel_calls=self._parallel())
        return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def train_dataset(self, global_batch_size):
        """`train_dataset_fn(None, global_batch_size)`: one pipeline, no strategy."""
        return self.train_dataset_fn(None, global_batch_size)

    def eval_dataset(self, split, batch_size, image_size=None):
        """Batches (float32 images, int32 labels) of "val", "test" or "train_eval".

        Test-time preprocessing (at `image_size`, default the bundle's), fixed
        order; the last batch may be smaller.
        """
        spec = self.spec_at(image_size or self.image_size)
        self._check_split(split)
        if split == "train":
            raise DataError('eval_dataset takes "val", "test" or "train_eval"; use '
                            'train_dataset_fn for "train"')
        ds = self.raw_dataset(split).map(
            lambda image, label: (preprocess(spec, image), label),
            num_parallel_calls=self._parallel())
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def images(self, split):
        """uint8 [N, H, W, C] images of `split` (in-memory datasets only), in eval order."""
        self._check_split(split)
        if self.streamed:
            raise DataError(f"{self.dataset} is streamed from files: use "
                            f"raw_dataset({split!r}) or eval_dataset({split!r}, batch_size)")
        return self._arrays(split)[0][self._index[split]]

    def labels(self, split):
        """int32 [N] labels of `split`, in eval order (not for tfds-streamed ImageNet)."""
        self._check_split(split)
        if self._tfds:
            raise DataError(f"{self.dataset} is streamed through tfds: read labels from "
                            f"raw_dataset({split!r})")
        return self._arrays(split)[1][self._index[split]]

    def count(self, split):
        """Number of examples of `split` ("train_eval" = "train")."""
        self._check_split(split)
        return len(self._index[split])

    def steps_per_epoch(self, global_batch_size):
        return math.ceil(self.num_train / global_batch_size)

    def preprocessing_spec(self):
        """The spec `preprocess` runs for this data (a copy): manifest.json carries it."""
        return copy.deepcopy(self.spec)

    def spec_at(self, image_size):
        """This data's rule (same data.augment, same statistics) at another input side, for
        resolution-switchable models; `spec` itself at the bundle's side. Not a copy."""
        if image_size == self.image_size:
            return self.spec
        if image_size not in self._side_specs:
            self._side_specs[image_size] = registry.preprocessing_spec(
                self.dataset, image_size, self._cfg.augment,
                self.info if registry.is_dynamic(self.dataset) else None)
        return self._side_specs[image_size]


def build(cfg_data, image_size, workdir=None, seed=0):
    """The `DataBundle` of `cfg_data.dataset` at `image_size`.

    `workdir` holds holdout.json (and the streamed hold-out cache); `seed`
    (use train.seed) drives shuffling and augmentation.
    """
    registry.check_dataset_name(cfg_data.dataset)
    if not registry.is_dynamic(cfg_data.dataset):
        registry.preprocessing_spec(cfg_data.dataset, image_size, cfg_data.augment)  # Validates.
    return DataBundle(cfg_data, image_size, _load_source(cfg_data, workdir), workdir, seed)


def build_from_config(cfg, workdir=None):
    """`build` for a full `Config`; model.num_classes must fit the data (0: set from it)."""
    bundle = build(cfg.data, cfg.model.image_size, workdir, seed=cfg.train.seed)
    if cfg.model.num_classes == 0:
        cfg.model.num_classes = bundle.num_classes
    if bundle.num_classes != cfg.model.num_classes:
        where = (f" in {cfg.data.image_folder}" if cfg.data.dataset == registry.FOLDER else "")
        raise DataError(f"{cfg.data.dataset}{where} has {bundle.num_classes} classes: set "
                        f"model.num_classes={bundle.num_classes} (or 0: from the data). "
                        f"Received: model.num_classes={cfg.model.num_classes}")
    return bundle
