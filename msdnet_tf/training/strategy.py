"""tf.distribute strategies by name, and precision settings."""

import json
import os

import tensorflow as tf

from msdnet_tf.cli import UserError


def make_strategy(name):
    """auto | one_device | mirrored | multi_worker | tpu -> a tf.distribute.Strategy."""
    # Listing devices initialises TensorFlow's runtime, after which multi_worker fails
    # ("Collective ops must be configured at program startup"): only where needed.
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("train.strategy=multi_worker needs the TF_CONFIG environment "
                            "variable (cluster spec and this worker's task)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise UserError(f"unknown train.strategy. Received: train.strategy={name!r}")


def is_chief(strategy):
    """True on the worker that writes the run's files (always, outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def task_suffix(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type is None:
        return ""
    return f"{resolver.task_type}_{resolver.task_id}"


def tf_config_summary():
    cfg = os.environ.get("TF_CONFIG")
    return json.loads(cfg) if cfg else None
