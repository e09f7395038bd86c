"""A resolution-switchable run -> one cascade per input side and one manifest listing them.

Each side r is exported from `model.serving_model(r)`: a plain model whose
BatchNorm is r's (folded into the convolutions by the converter, as for any
model) and whose conditioned kernels are generated for r. The largest side
writes the usual files (exit_{k}.tflite, cascade.tflite, fidelity.json); every
other side r writes exit_{k}_r<r>.tflite, cascade_r<r>.tflite and
fidelity_r<r>.json. manifest.json describes the largest side at its top level,
so single-resolution readers run it unchanged, and every side under
`resolutions` (docs/deployment-format.md). thresholds.json and the manifest's
`thresholds` belong to the side the file names (`resolution`).
"""

import copy
from pathlib import Path

from msdnet_tf.cli import UserError
from msdnet_tf.export import manifest as manifest_lib
from msdnet_tf.export.pipeline import COPIED, Exporter
from msdnet_tf.workdir import atomic_write_bytes


def serving_config(cfg, r):
    """The config of the plain model that serves side r."""
    out = copy.deepcopy(cfg)
    out.model.image_size, out.model.resolutions = r, []
    out.model.resolution_conditioned = False
    return out


class ResolutionExporter:
    """`Exporter` with the same `export` for every side of a switchable model."""

    def __init__(self, workdir, cfg, model, progress=None):
        self.workdir, self.model = Path(workdir), model
        self.progress = progress or (lambda message: None)
        self.sizes = tuple(model.resolutions)
        self.exporters = {}
        for r in self.sizes:
            self.progress(f"{r}x{r}: preparing the model that serves it")
            exporter = Exporter(workdir, serving_config(cfg, r), model.serving_model(r),
                                self.progress)
            exporter.suffix = "" if r == self.sizes[0] else f"_r{r}"
            exporter.write_manifest = False
            exporter.thresholds = self._thresholds_for(exporter.thresholds, r)
            self.exporters[r] = exporter

    def _thresholds_for(self, thresholds, r):
        """The run's thresholds.json content if it belongs to side r, else None."""
        if thresholds is None:
            return None
        return thresholds if thresholds.get("resolution", self.sizes[0]) == r else None

    def export(self, mode, out, int8_io=None, in_graph_exit=False):
        """Converts and checks every side into `out`; the largest side's fidelity report with
        `resolutions`: {side: report} of every side."""
        if mode == "qat":
            raise UserError("mode qat is not available for resolution-switchable models "
                            "(use int8: post-training quantisation per resolution)")
        reports = {}
        for r, exporter in self.exporters.items():
            self.progress(f"[{mode}] {r}x{r}")
            reports[r] = exporter.export(mode, out, int8_io, in_graph_exit)
        manifest = manifest_lib.with_resolutions(
            {r: e.manifest for r, e in self.exporters.items()})
        manifest_lib.validate_manifest(manifest, out)
        for name in COPIED:
            if (self.workdir / name).is_file():
                atomic_write_bytes(Path(out) / name, (self.workdir / name).read_bytes())
            elif (Path(out) / name).exists():
                (Path(out) / name).unlink()
        # Last: until it is written the folder is not a conversion a runtime would run. Every
        # side's entry records the sha256 and size of its files (added by its Exporter).
        manifest_lib.write_manifest(Path(out) / "manifest.json", manifest)
        report = dict(reports[self.sizes[0]])
        report["resolutions"] = {str(r): reports[r] for r in self.sizes}
        return report

    def diagnose_int8(self, out, top=10, num_images=100):
        return self.exporters[self.sizes[0]].diagnose_int8(out, top, num_images)


def make_exporter(workdir, cfg, model, progress=None):
    """The exporter of a run: per resolution for a switchable model."""
    if getattr(model, "switchable", False):
        return ResolutionExporter(workdir, cfg, model, progress)
    return Exporter(workdir, cfg, model, progress)


def summary_rows(report):
    """[(side, report)] of an export report, one row for a single-resolution model."""
    if "resolutions" not in report:
        return [(None, report)]
    return [(int(r), rep) for r, rep in report["resolutions"].items()]
