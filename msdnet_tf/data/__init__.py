"""Datasets, preprocessing and tf.data pipelines of msdnet_tf.

    bundle = msdnet_tf.data.build(cfg.data, cfg.model.image_size, workdir, seed=cfg.train.seed)
    train = strategy.distribute_datasets_from_function(
        lambda ctx: bundle.train_dataset_fn(ctx, global_batch_size))
    steps_per_epoch = bundle.steps_per_epoch(global_batch_size)
    val = bundle.eval_dataset("val", 256)

Datasets: cifar10, cifar100, imagenet2012, fashion_mnist, digits. Attributes are
imported lazily: `registry` (`preprocessing_spec`, `get_info`) and `holdout`
load without TensorFlow, and tensorflow_datasets is imported only when a tfds
dataset is built.
"""

import importlib

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
    "DataBundle": "pipeline",
    "build": "pipeline",
    "build_from_config": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
