"""Post-hoc BatchNorm calibration: a model that serves input side R, with exact BN statistics.

    python -m msdnet_tf.calibrate_bn --workdir runs/qs_switch --resolution 20
    python -m msdnet_tf.calibrate_bn --workdir runs/qs_switch --resolution 24 --images 10000

Builds the plain model that serves R from the run's model (`serving_model`:
convolutions shared, a conditioned kernel generated for R, gamma and beta of
the BatchNorm of the nearest trained resolution or of --bn-from), then
recomputes every BatchNorm's moving statistics from N training images of the
run's hold-out-free training split at R (test-time preprocessing, in order):
the network runs in training mode batch by batch (each BN normalises by its
batch), and each BN's moving mean and variance become the average of its
per-batch means and (biased) variances weighted by batch size: the exact
cumulative average, which PyTorch computes with momentum=None and SAN's
`bn_update` with momentum b / (n + b), instead of the exponential average of
training. Writes a run directory (default RUN/calibrated_r<R>) that
`msdnet_tf.evaluate` and `tflite/convert.py` take as they are: config.yaml,
holdout.json, model.keras, calibration.json.
"""

import os
from pathlib import Path

import numpy as np

from msdnet_tf import cli


def batch_norm_layers(model):
    from msdnet_tf.models.resolution import is_batch_norm

    return [layer for layer in model.layers if is_batch_norm(layer)]


def calibrate(model, batches):
    """Sets every BN's moving statistics of `model` to the cumulative average over `batches`.

    model: a plain (single-resolution) multi-exit model; batches: an iterable of
    float32 image batches. Returns the number of images used.
    """
    import tensorflow as tf

    bns = batch_norm_layers(model)
    momenta = [bn.momentum for bn in bns]
    sums = [[np.zeros(bn.moving_mean.shape, np.float64) for _ in range(2)] for bn in bns]
    seen = 0
    try:
        for bn in bns:  # moving statistics := this batch's statistics
            bn.momentum = 0.0
        forward = tf.function(lambda x: model(x, training=True))
        for images in batches:
            n = int(images.shape[0])
            forward(images)
            for (mean_sum, var_sum), bn in zip(sums, bns):
                mean_sum += n * np.asarray(bn.moving_mean, np.float64)
                var_sum += n * np.asarray(bn.moving_variance, np.float64)
            seen += n
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
    if not seen:
        raise ValueError("no images to calibrate on")
    for (mean_sum, var_sum), bn in zip(sums, bns):
        bn.moving_mean.assign((mean_sum / seen).astype(np.float32))
        bn.moving_variance.assign((var_sum / seen).astype(np.float32))
    return seen


def _parser():
    p = cli.parser("msdnet_tf.calibrate_bn", __doc__.strip().splitlines()[0])
    p.add_argument("--workdir", required=True, help="a finished training run")
    p.add_argument("--resolution", type=cli.count(1), required=True, metavar="R",
                   help="the input side to serve")
    p.add_argument("--bn-from", type=cli.count(1), metavar="R0",
                   help="the trained resolution whose gamma and beta to start from (default: "
                        "the nearest)")
    p.add_argument("--images", type=cli.count(1), default=5000, metavar="N",
                   help="training images to average over (default 5000; all if fewer)")
    p.add_argument("--batch-size", type=cli.count(0, "0 = train.batch_size of the run"),
                   default=0, help="images per batch (default: train.batch_size of the run)")
    p.add_argument("--output", metavar="DIR", help="default: WORKDIR/calibrated_r<R>")
    return p


def _check_args(args, cfg):
    """Checks the arguments against the run's config (before the model is loaded)."""
    from msdnet_tf import config as config_lib
    from msdnet_tf.models import family as family_lib

    try:
        family_lib.get(cfg.model.family).check_size(config_lib.model_kwargs(cfg),
                                                    args.resolution, "--resolution")
    except family_lib.ArchitectureError as e:
        raise cli.UserError(str(e)) from None
    trained = cfg.model.resolutions or [cfg.model.image_size]
    if args.bn_from is not None and args.bn_from not in trained:
        raise cli.UserError(f"--bn-from must be a resolution the model was trained at "
                            f"({', '.join(map(str, trained))}). "
                            f"Received: --bn-from={args.bn_from}")


def _serving_config(cfg, r):
    import copy

    out = copy.deepcopy(cfg)
    out.model.image_size, out.model.resolutions = r, []
    out.model.resolution_conditioned = False
    return out


def _output(args, workdir):
    """The output run directory, checked before any work (never the source run itself)."""
    from msdnet_tf import workdir as workdir_lib

    out = Path(args.output) if args.output else workdir / f"calibrated_r{args.resolution}"
    if out.resolve() == workdir.resolve():
        raise cli.UserError(f"--output {out} is the run being calibrated; choose another "
                            "directory (default: WORKDIR/calibrated_r<R>)")
    workdir_lib.check_output_dir(out, "--output")
    return out


@cli.main_wrapper
def main(argv=None):
    args = _parser().parse_args(argv)
    # Everything that can be checked without TensorFlow is checked first.
    from msdnet_tf import config as config_lib
    from msdnet_tf import files
    from msdnet_tf import workdir as workdir_lib

    workdir = Path(args.workdir)
    if not workdir.is_dir():
        raise cli.UserError(f"--workdir {workdir} is not a training run directory")
    out = _output(args, workdir)
    if os.path.lexists(workdir / "config.yaml"):
        _check_args(args, config_lib.load_config(workdir / "config.yaml"))
    holdout = files.read_bytes(workdir / "holdout.json", "hold-out file",
                               "it is written by training; train the run again")
    cli.quiet_tensorflow()
    from msdnet_tf import data as data_lib
    from msdnet_tf.export.calibration import calibration_indices
    from msdnet_tf.inference import load_run, model_fingerprint

    cfg, model = load_run(workdir)
    _check_args(args, cfg)
    r = args.resolution
    bn_from = args.bn_from or model.nearest_resolution(r)
    served = model.serving_model(r, bn_from=bn_from)
    bundle = data_lib.build(cfg.data, r, workdir, seed=cfg.train.seed)
    if bundle.streamed:
        raise cli.UserError(f"{cfg.data.dataset} is streamed from files: calibration reads "
                            "in-memory datasets only")
    indices = calibration_indices(bundle, args.images)
    batch = args.batch_size or cfg.train.batch_size
    print(f"calibrating {len(batch_norm_layers(served))} BatchNorm layers at {r}x{r} "
          f"(gamma, beta from {bn_from}x{bn_from}) on {len(indices)} training images, "
          f"batches of {batch}", flush=True)
    images = data_lib.preprocess_batch(bundle.spec_at(r), bundle.images("train_eval")[indices])
    seen = calibrate(served, (images[i:i + batch] for i in range(0, len(images), batch)))
    record = {"resolution": r, "bn_from": bn_from, "images": seen, "batch_size": batch,
              "rule": "cumulative average of per-batch BN statistics (training-mode forward)",
              "source": {"workdir": str(workdir),
                         "model": model_fingerprint(workdir / "model.keras")}}
    lock, created = workdir_lib.prepare_workdir(out, "--output", "output run directory")
    try:
        with workdir_lib.atomic_path(out / "config.yaml") as tmp:
            config_lib.save_config(_serving_config(cfg, r), tmp)
        workdir_lib.atomic_write_bytes(out / "holdout.json", holdout)
        workdir_lib.atomic_write_json(out / "calibration.json", record)
        for stale in ("logits.npz",):  # computed from an earlier calibration's weights
            if os.path.lexists(out / stale):
                (out / stale).unlink()
        with workdir_lib.atomic_path(out / "model.keras") as tmp:  # last: the run is complete
            served.save(tmp)
    except BaseException:
        workdir_lib.undo_created(created)
        raise
    finally:
        lock.release()
    print(f"wrote {out}/model.keras (serves {r}x{r}); evaluate it with: python -m "
          f"msdnet_tf.evaluate --workdir {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
