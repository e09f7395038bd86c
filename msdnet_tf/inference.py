"""Running a trained run directory: load its model and data, collect per-exit logits."""

import hashlib
from pathlib import Path

import numpy as np

from msdnet_tf import config as config_lib
from msdnet_tf.cli import UserError


def model_fingerprint(path):
    """sha256 (first 16 hex digits) of a model file: ties thresholds/manifests to weights."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def load_run(workdir):
    """(resolved config, trained model) of a training run directory."""
    import os

    from msdnet_tf import files

    workdir = Path(workdir)
    cfg_path, model_path = workdir / "config.yaml", workdir / "model.keras"
    if not os.path.lexists(cfg_path):
        raise UserError(f"{workdir} is not a training run: no config.yaml (train first: "
                        f"python -m msdnet_tf.train --config FILE --workdir {workdir})")
    if not os.path.lexists(model_path):
        raise UserError(f"{workdir} has no model.keras: training has not finished (run the "
                        "same train command again to resume it)")
    cfg = config_lib.load_config(cfg_path)
    model = files.load_keras_model(
        model_path, hint=f"write it again from the run's checkpoint: python -m msdnet_tf.train "
                         f"--config {cfg_path} --workdir {workdir}")
    if (getattr(model, "family", None) != cfg.model.family
            or getattr(model, "model_kwargs", None) != config_lib.model_kwargs(cfg)
            or getattr(model, "exit_heads", None) != config_lib.exit_heads(cfg)):
        raise UserError(f"{model_path} does not match the model section of {cfg_path}")
    return cfg, model


def collect_logits(model, dataset):
    """([K, N, C] float32 logits, [N] labels) over a dataset of (images, labels) batches."""
    import tensorflow as tf

    predict = tf.function(lambda x: model(x, training=False))
    per_exit, labels = [[] for _ in range(model.num_exits)], []
    for images, y in dataset:
        outputs = predict(images)
        for k in range(model.num_exits):
            per_exit[k].append(outputs[f"exit_{k}"].numpy())
        labels.append(y.numpy())
    return (np.stack([np.concatenate(chunks) for chunks in per_exit]).astype(np.float32),
            np.concatenate(labels).astype(np.int64))


def logits_file(workdir, cfg, resolution=None):
    """DIR/logits.npz, or DIR/logits_r<R>.npz for a switchable run's other resolutions."""
    if resolution is None or resolution == cfg.model.image_size:
        return Path(workdir) / "logits.npz"
    return Path(workdir) / f"logits_r{resolution}.npz"


def write_workdir_logits(workdir, batch_size=None, resolution=None):
    """Computes hold-out and test logits of a run and writes DIR/logits.npz.

    resolution: for a resolution-switchable run, the input side (default the
    largest); its logits go to `logits_file(workdir, cfg, resolution)`.
    """
    from msdnet_tf import data as data_lib
    from msdnet_tf import evaluation as ev
    from msdnet_tf import flops

    workdir = Path(workdir)
    cfg, model = load_run(workdir)
    r = resolution or model.image_size
    if r not in model.resolutions:
        raise UserError(f"{workdir} serves {list(model.resolutions)}. Received: resolution={r}")
    if model.switchable:
        model = model.serving_model(r)
    bundle = data_lib.build_from_config(cfg, workdir)
    batch_size = batch_size or cfg.eval.batch_size
    val_logits, val_labels = collect_logits(model, bundle.eval_dataset("val", batch_size, r))
    test_logits, test_labels = collect_logits(model, bundle.eval_dataset("test", batch_size, r))
    counts = flops.count(model)
    return ev.save_logits(
        logits_file(workdir, cfg, r), val_logits=val_logits, val_labels=val_labels,
        test_logits=test_logits, test_labels=test_labels,
        exit_flops=np.asarray(counts.exit_cumulative_flops, np.float64),
        exit_params=np.asarray(counts.exit_cumulative_params, np.int64),
        model=model_fingerprint(workdir / "model.keras"))
