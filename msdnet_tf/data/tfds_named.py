"""`data.dataset: tfds:NAME`: any tensorflow-datasets image classification dataset,
already prepared in `data.data_dir` (offline; nothing is downloaded unless
`data.download` is true).

NAME is what `tfds.builder` takes (`mnist`, `cats_vs_dogs`, `my_set/config:1.0.0`, or
a dataset prepared elsewhere whose builder code is not installed here). The image and
label features are the dataset's supervised keys, else its first `Image` and first
`ClassLabel` feature; splits are `data.train_split` / `data.test_split` (default
"train" / "test"). Images are streamed from the prepared files (any size; gray and
RGBA become RGB), like ImageNet. The first build reads the training split once for
its per-channel mean and std, saved in the run's `dataset.json` and reused.
"""

from pathlib import Path

from msdnet_tf.data import folder, registry, stats, tfds_sources
from msdnet_tf.data.errors import DataError


def _name(dataset):
    return dataset[len(registry.TFDS_PREFIX):]


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def builder(cfg_data):
    """The prepared tfds builder of `tfds:NAME` (prepared now only with data.download)."""
    tfds = tfds_sources._tfds()  # pylint: disable=protected-access
    name = _name(cfg_data.dataset)
    where = cfg_data.data_dir or "tfds's default data dir (~/tensorflow_datasets)"
    try:
        b = tfds.builder(name, data_dir=cfg_data.data_dir or None)
    except Exception as e:  # noqa: BLE001 - tfds raises several kinds; all mean "not here"
        raise DataError(f"tfds dataset {name!r} not found in {where}: {_first_line(e)} Set "
                        "data.data_dir to the folder holding the prepared dataset") from None
    if b.is_prepared():
        return b
    if not cfg_data.download:
        raise DataError(
            f"tfds dataset {name!r} is not prepared in {b.data_dir}: prepare it on a machine "
            f"with internet (tfds build {name} --data_dir DIR) and copy DIR here as "
            "data.data_dir, or set data.download=true")
    try:
        b.download_and_prepare()
    except Exception as e:  # noqa: BLE001
        raise DataError(f"tfds could not prepare {name!r}: {_first_line(e)}") from None
    return b


def _keys(b, name):
    tfds = tfds_sources._tfds()  # pylint: disable=protected-access
    features = b.info.features
    keys = b.info.supervised_keys
    if isinstance(keys, (tuple, list)) and len(keys) == 2 and all(isinstance(k, str)
                                                                  for k in keys):
        image_key, label_key = keys
    else:
        flat = dict(features.items()) if hasattr(features, "items") else {}
        image_key = next((k for k, f in flat.items() if isinstance(f, tfds.features.Image)),
                         None)
        label_key = next((k for k, f in flat.items()
                          if isinstance(f, tfds.features.ClassLabel)), None)
    if image_key is None or not isinstance(features[image_key], tfds.features.Image):
        raise DataError(f"tfds dataset {name!r} has no image feature (features: "
                        f"{', '.join(features.keys())}); msdnet_tf classifies images")
    if label_key is None or not isinstance(features[label_key], tfds.features.ClassLabel):
        raise DataError(f"tfds dataset {name!r} has no class label feature (features: "
                        f"{', '.join(features.keys())})")
    return image_key, label_key


def _splits(b, cfg_data, name):
    train = cfg_data.train_split or "train"
    test = cfg_data.test_split or "test"
    available = list(b.info.splits.keys())
    for key, split in (("data.train_split", train), ("data.test_split", test)):
        if split not in available:
            raise DataError(f"tfds dataset {name!r} has no split {split!r}: set {key} to one of "
                            f"{', '.join(available)}. Received: {key}={split!r}")
    if train == test:
        raise DataError(f"data.train_split and data.test_split are both {train!r}: the test "
                        "images must not be trained on")
    return train, test


def class_names(cfg_data):
    b = builder(cfg_data)
    _, label_key = _keys(b, _name(cfg_data.dataset))
    return list(b.info.features[label_key].names)


def load(cfg_data, workdir=None):
    """A `TfdsStream` of `tfds:NAME` with its `info` (classes, mean/std from the data)."""
    import tensorflow as tf

    from msdnet_tf.data import images

    name = _name(cfg_data.dataset)
    b = builder(cfg_data)
    image_key, label_key = _keys(b, name)
    train, test = _splits(b, cfg_data, name)
    stream = tfds_sources.TfdsStream(b, train, test, image_key, label_key)
    shape = b.info.features[image_key].shape
    native = list(shape[:2]) if shape and None not in shape[:2] else None
    record = {"dataset": cfg_data.dataset, "builder": f"{b.info.full_name}",
              "train_split": train, "num_train": stream.num_train,
              "classes": list(stream.label_names), "native_size": native}
    saved = stats.read_record(workdir)
    if saved is not None:
        if any(saved.get(k) != v for k, v in record.items()):
            path = Path(workdir) / stats.DATASET_FILE
            raise DataError(f"{path} was made from {saved.get('builder')} split "
                            f"{saved.get('train_split')} ({saved.get('num_train')} images), the "
                            f"config names {record['builder']} split {train} "
                            f"({stream.num_train}): use a new workdir or the same data")
        record = saved
    else:
        ds = stream.read("train").map(lambda enc, y, i: (i, images.decode_tensor(enc)),
                                      num_parallel_calls=tf.data.AUTOTUNE)
        rows, _ = stats.scan(ds, stream.num_train, f"reading {stream.num_train} {name} images")
        record["mean"], record["std"] = stats.mean_std(rows)
        stats.write_record(workdir, record)
    stream.info = stats.info_from_record(record, folder.default_holdout(stream.num_train))
    return stream
