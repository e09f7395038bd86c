"""Datasets, preprocessing and tf.data pipelines of msdnet_tf.

    bundle = msdnet_tf.data.build(cfg.data, cfg.model.image_size, workdir, seed=cfg.train.seed)
    train = strategy.distribute_datasets_from_function(
        lambda ctx: bundle.train_dataset_fn(ctx, global_batch_size))
    steps_per_epoch = bundle.steps_per_epoch(global_batch_size)
    val = bundle.eval_dataset("val", 256)

Datasets: cifar10, cifar100, imagenet2012, fashion_mnist, digits, and the ones described
by their data: folder (your own images, `data.image_folder`) and tfds:NAME (any prepared
tensorflow-datasets dataset). Attributes are imported lazily: `registry`
(`preprocessing_spec`, `get_info`), `holdout` and `class_names` load without
TensorFlow, and tensorflow_datasets is imported only when a tfds dataset is built.
"""

import importlib

from msdnet_tf.data.errors import DataError

_EXPORTS = {
    "DataError": "errors",
    "DatasetInfo": "registry",
    "DATASETS": "registry",
    "get_info": "registry",
    "label_names": "registry",
    "preprocessing_spec": "registry",
    "holdout_indices": "holdout",
    "load_or_create_holdout": "holdout",
    "preprocess": "preprocessing",
    "preprocess_batch": "preprocessing",
    "decode_file": "images",
    "IMAGE_EXTENSIONS": "images",
    "DataBundle": "pipeline",
    "build": "pipeline",
    "build_from_config": "pipeline",
}

__all__ = sorted(_EXPORTS) + ["class_names", "resolve_num_classes"]


def resolve_num_classes(cfg):
    """Sets model.num_classes 0 ("from the data") to the data's class count; returns cfg."""
    if getattr(cfg.model, "num_classes", None) == 0:
        names = class_names(cfg.data)
        if names is None:
            raise DataError(f"cannot tell how many classes {cfg.data.dataset} has here: set "
                            "model.num_classes")
        cfg.model.num_classes = len(names)
    return cfg


def class_names(cfg_data):
    """Class names of the data `cfg_data` names, in label order, without reading images.

    A listed dataset's names (None for ImageNet without tfds), the sub-folders of a
    `folder`'s train/, the label feature of a prepared `tfds:NAME`.
    """
    from msdnet_tf.data import registry

    registry.check_dataset_name(cfg_data.dataset)
    if cfg_data.dataset == registry.FOLDER:
        from msdnet_tf.data import folder

        return folder.class_names(cfg_data.image_folder)
    if registry.is_dynamic(cfg_data.dataset):
        from msdnet_tf.data import tfds_named

        return tfds_named.class_names(cfg_data)
    names = registry.label_names(cfg_data.dataset)
    return list(names) if names is not None else None


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
