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


AUTO_MAX_CORES = 4


def thread_settings(intra, inter, cores=None, accelerators=None):
    """(intra_op, inter_op) to apply, 0 meaning TensorFlow's default, from config values.

    -1 is auto: on a CPU-only machine with at most AUTO_MAX_CORES cores, one thread
    per op and as many ops at once as cores (MSDNet's training graph has many small
    independent convolutions and BN ops; 1.15-1.2x on 2 cores,
    benchmarks/results/train_throughput.md); TensorFlow's defaults elsewhere.
    """
    cores = cores or os.cpu_count() or 1
    if accelerators is None:
        accelerators = bool(tf.config.list_physical_devices("GPU")
                            or tf.config.list_physical_devices("TPU"))
    small_cpu = not accelerators and cores <= AUTO_MAX_CORES
    if intra == -1:
        intra = 1 if small_cpu else 0
    if inter == -1:
        inter = cores if small_cpu else 0
    return intra, inter


def apply_threads(intra, inter):
    """Sets TF's op thread pools (config values, -1 = auto); returns what was applied.

    Only possible before TensorFlow's runtime starts: when it has started with other
    values (a Trainer built after other TF work in the same process), logs a warning
    and keeps the running values.
    """
    from absl import logging

    intra, inter = thread_settings(intra, inter)
    threading = tf.config.threading
    for value, get, set_, name in (
            (intra, threading.get_intra_op_parallelism_threads,
             threading.set_intra_op_parallelism_threads, "intra_op_threads"),
            (inter, threading.get_inter_op_parallelism_threads,
             threading.set_inter_op_parallelism_threads, "inter_op_threads")):
        if get() == value:
            continue
        try:
            set_(value)
        except RuntimeError:
            logging.warning("train.%s=%d not applied: TensorFlow was already running in this "
                            "process (it applies when training starts from "
                            "python -m msdnet_tf.train)", name, value)
    return threading.get_intra_op_parallelism_threads(), \
        threading.get_inter_op_parallelism_threads()


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
