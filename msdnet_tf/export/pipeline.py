"""A trained run -> the deployment folder of one quantisation mode.

    cfg, model = load_for_export("runs/quickstart")
    exporter = Exporter("runs/quickstart", cfg, model, progress=print)
    result = exporter.export("int8", "out/int8")

Writes exit_{k}.tflite, cascade.tflite, optionally early_exit.tflite,
manifest.json, fidelity.json and thresholds.json (docs/deployment-format.md).
Every file is run against Keras on real test images and checked for XNNPACK
delegation before the manifest is written.
"""

import json
from pathlib import Path

import numpy as np

from msdnet_tf import config as config_lib
from msdnet_tf.cli import UserError
from msdnet_tf.export import calibration as cal
from msdnet_tf.export import fidelity as fid
from msdnet_tf.export import manifest as manifest_lib
from msdnet_tf.export.convert import MODES, convert
from msdnet_tf.export.delegation import check_xnnpack
from msdnet_tf.export.runner import TFLiteModel, run_cascade_batch, run_exit_file
from msdnet_tf.workdir import atomic_write_bytes, atomic_write_json

CASCADE_FILE, EARLY_EXIT_FILE = "cascade.tflite", "early_exit.tflite"
# Evaluation outputs of the run that runtimes read next to the model files.
COPIED = ("thresholds.json", "budgeted.json")
# Modes without an in-graph early exit, and why.
NO_EARLY_EXIT = {
    "int8": "the TF 2.21 int8 quantizer cannot calibrate IF ops (it crashes); "
            "--mode qat gives an int8 early_exit.tflite",
}


def exit_file(k):
    return f"exit_{k}.tflite"


def load_for_export(workdir, config_path=None, overrides=()):
    """(config, model) of a trained run; a YAML file and overrides may change all but `model`."""
    from msdnet_tf.inference import load_run

    cfg, model = load_run(workdir)
    if config_path:
        config_lib.merge(cfg, config_lib.load_yaml(config_path), source=str(config_path))
    for text in overrides:
        config_lib.merge(cfg, config_lib.parse_override(text), source=f"--override {text}")
    config_lib.validate(cfg)
    if cfg.model.family != model.family or config_lib.model_kwargs(cfg) != model.model_kwargs:
        raise UserError(f"the model section cannot change: the weights in {workdir} were trained "
                        "with the model section of its config.yaml")
    return cfg, model


def run_thresholds(workdir, num_exits, model_hash):
    """The content of DIR/thresholds.json (validated), or None when absent.

    Also refuses a DIR/budgeted.json made for another model (it is copied too).
    """
    from msdnet_tf.evaluation import EvaluationError, load_thresholds
    from msdnet_tf.evaluation.common import read_json

    path, budgeted = Path(workdir) / "thresholds.json", Path(workdir) / "budgeted.json"
    try:
        made_for = read_json(budgeted, "budgeted file").get("model") if budgeted.is_file() \
            else None
        if made_for not in (None, model_hash):
            raise EvaluationError(f"{budgeted} was made for model {made_for!r}, not "
                                  f"{model_hash!r}: evaluate the run again")
        if not path.is_file():
            return None
        load_thresholds(path, num_exits, model_hash)
    except EvaluationError as e:
        raise UserError(str(e)) from None
    return json.loads(path.read_text())


class Exporter:
    """Shared state of one run's conversions: model, data, reference logits."""

    # A resolution-switchable model's other sides write exit_{k}<suffix>.tflite, ... (see
    # export/resolutions.py); their manifest entries are assembled there.
    suffix = ""
    write_manifest = True

    def exit_file(self, k):
        return f"exit_{k}{self.suffix}.tflite"

    @property
    def cascade_file(self):
        return CASCADE_FILE.replace(".tflite", f"{self.suffix}.tflite")

    @property
    def early_exit_file(self):
        return EARLY_EXIT_FILE.replace(".tflite", f"{self.suffix}.tflite")

    def __init__(self, workdir, cfg, model, progress=None):
        from msdnet_tf import data as data_lib
        from msdnet_tf import flops
        from msdnet_tf.inference import model_fingerprint

        self.workdir, self.cfg, self.model = Path(workdir), cfg, model
        self.progress = progress or (lambda message: None)
        self.model_hash = model_fingerprint(self.workdir / "model.keras")
        self.thresholds = run_thresholds(workdir, model.num_exits, self.model_hash)
        self.bundle = data_lib.build_from_config(cfg, self.workdir)
        self.counts = flops.count(model)
        x = cfg.export
        self.progress(f"preprocessing {x.fidelity_images} test and {x.calibration_images} "
                      "calibration images")
        self.images, self.labels = cal.test_images(self.bundle, x.fidelity_images)
        self.reference = fid.keras_logits(model, self.images)
        self._calibration = None

    @property
    def calibration(self):
        if self._calibration is None:
            count = self.cfg.export.calibration_images
            self._calibration = cal.calibration_images(self.bundle, count)
        return self._calibration

    # ------------------------------------------------------------- conversion
    def _convert_in_process(self, mode, out, int8_io, in_graph_exit):
        from msdnet_tf.export import graphs

        model, images = self.model, self.calibration if mode == "int8" else None
        for k in range(model.num_exits):
            self.progress(f"  {mode}: {self.exit_file(k)}")
            samples = cal.exit_samples(images) if images is not None else None
            variables = model.exit_model(k, batch_size=1).variables
            atomic_write_bytes(out / self.exit_file(k),
                               convert([graphs.exit_signature(model, k)], variables, mode,
                                       samples, int8_io))
        self.progress(f"  {mode}: {self.cascade_file} ({model.num_exits} signatures)")
        samples = cal.stage_samples(model, images) if images is not None else None
        atomic_write_bytes(out / self.cascade_file, convert(graphs.stage_signatures(model),
                                                            model.variables, mode, samples))
        if in_graph_exit:  # Never in int8 (NO_EARLY_EXIT): no calibration needed.
            self.progress(f"  {mode}: {self.early_exit_file}")
            stages = model.stage_models(batch_size=1)
            signature = graphs.early_exit_signature(stages, model.image_size)
            atomic_write_bytes(out / self.early_exit_file,
                               convert([signature], model.variables, mode))

    def _convert_qat(self, out, int8_io, in_graph_exit):
        from msdnet_tf.export import qat_runner

        x = self.cfg.export
        self.progress(f"  qat: {x.qat_epochs} epoch(s) of quantisation-aware training "
                      "(tf_keras, own process)")
        qat_runner.run(self.workdir, self.cfg, self.model, out, int8_io=int8_io,
                       in_graph_exit=in_graph_exit, progress=self.progress)

    # ---------------------------------------------------------------- checks
    def _fidelity(self, mode, out, in_graph_exit):
        report = {"mode": mode, "images": int(len(self.images))}
        exits = np.stack([run_exit_file(TFLiteModel(out / self.exit_file(k)), self.images)
                          for k in range(self.model.num_exits)])
        report["exits"] = fid.entries(self.reference, exits, self.labels)
        cascade = run_cascade_batch(TFLiteModel(out / self.cascade_file), self.images)
        report["cascade"] = fid.entries(self.reference, cascade, self.labels)
        report["early_exit"] = self._early_exit_fidelity(out) if in_graph_exit else None
        report["bar"] = fid.check_bar(mode, report)
        return report

    def _early_exit_fidelity(self, out):
        thresholds = (self.thresholds or {}).get("thresholds")
        if thresholds is None:  # Without thresholds.json: leave when 50% sure.
            thresholds = [0.5] * (self.model.num_exits - 1) + ["-inf"]
        values = [float(t) for t in thresholds]  # "-inf" -> -inf
        model = TFLiteModel(out / self.early_exit_file)
        results = [model.run("serving_default", image=x[np.newaxis],
                             thresholds=np.asarray(values, np.float32)) for x in self.images]
        logits = np.concatenate([r["logits"] for r in results])
        taken = np.concatenate([r["exit"] for r in results]).astype(np.int64)
        return fid.early_exit_entry(self.reference, logits, taken, self.labels, values)

    def _files(self, in_graph_exit):
        names = [self.exit_file(k) for k in range(self.model.num_exits)] + [self.cascade_file]
        return names + ([self.early_exit_file] if in_graph_exit else [])

    # ---------------------------------------------------------------- export
    def export(self, mode, out, int8_io=None, in_graph_exit=False):
        """Converts, checks and describes one mode in folder `out`; returns the fidelity report.

        int8_io: int8 `image`/`logits` in the exit files (integer modes; default
        export.int8_io). The report carries `xnnpack` (per file delegation) and
        `bar` (the mode's quality bar, passed or not).
        """
        if mode not in MODES:
            raise UserError(f"mode must be one of {', '.join(MODES)}. Received: {mode!r}")
        int8_io = self.cfg.export.int8_io if int8_io is None else int8_io
        int8_io = bool(int8_io) and mode in ("int8", "qat")
        if in_graph_exit and mode in NO_EARLY_EXIT:
            self.progress(f"  {mode}: no {self.early_exit_file}: {NO_EARLY_EXIT[mode]}")
            in_graph_exit = False
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        # Until the new manifest is written, the folder is not a conversion a runtime would
        # run: files of two conversions are never described as one.
        if (out / "manifest.json").exists():
            (out / "manifest.json").unlink()
        if not in_graph_exit and (out / self.early_exit_file).exists():
            (out / self.early_exit_file).unlink()  # A stale file from an earlier export.
        if mode == "qat":
            self._convert_qat(out, int8_io, in_graph_exit)
        else:
            self._convert_in_process(mode, out, int8_io, in_graph_exit)
        return self.describe(mode, out, int8_io, in_graph_exit)

    def describe(self, mode, out, int8_io, in_graph_exit):
        """Checks converted files in `out` and writes fidelity.json, manifest.json, thresholds."""
        out = Path(out)
        self.progress(f"  {mode}: checking XNNPACK delegation")
        delegation = {name: check_xnnpack(out / name).as_dict()
                      for name in self._files(in_graph_exit)}
        self.progress(f"  {mode}: fidelity on {len(self.images)} test images")
        report = self._fidelity(mode, out, in_graph_exit)
        report["int8_io"] = int8_io
        report["xnnpack"] = delegation
        atomic_write_json(out / f"fidelity{self.suffix}.json", report)
        self.manifest = self._write_manifest(mode, out, int8_io, in_graph_exit)
        return report

    def diagnose_int8(self, out, top=10, num_images=100):
        """Writes int8_layers.json: per exit, the int8 ops with the largest error (diagnose.py)."""
        from msdnet_tf.export.diagnose import int8_layer_errors

        self.progress(f"  int8: per-layer error analysis on {num_images} test images")
        report = {"images": int(min(num_images, len(self.images))), "metric": "rmse / scale",
                  "exits": {f"exit_{k}": int8_layer_errors(self.model, k, self.calibration,
                                                           self.images[:num_images], top)
                            for k in range(self.model.num_exits)}}
        atomic_write_json(Path(out) / "int8_layers.json", report)
        return report

    def _write_manifest(self, mode, out, int8_io, in_graph_exit):
        exits = [(self.exit_file(k), TFLiteModel(out / self.exit_file(k)))
                 for k in range(self.model.num_exits)]
        early = (self.early_exit_file, TFLiteModel(out / self.early_exit_file)) \
            if in_graph_exit else None
        manifest = manifest_lib.build_manifest(
            family=self.model.family, model_hash=self.model_hash, mode=mode, int8_io=int8_io,
            labels=self.bundle.label_names, preprocessing=self.bundle.preprocessing_spec(),
            counts=self.counts, exit_models=exits,
            cascade=(self.cascade_file, TFLiteModel(out / self.cascade_file)), early_exit=early,
            thresholds=self.thresholds,
            source={"workdir": str(self.workdir), "config": config_lib.to_dict(self.cfg)})
        manifest_lib.add_digests(manifest, out)
        if not self.write_manifest:
            return manifest  # Part of a larger manifest (export/resolutions.py).
        for name in COPIED:
            if (self.workdir / name).is_file():
                atomic_write_bytes(out / name, (self.workdir / name).read_bytes())
            elif (out / name).exists():
                (out / name).unlink()  # A stale file from an earlier export.
        manifest_lib.write_manifest(out / "manifest.json", manifest)  # last: the folder is done
        return manifest
