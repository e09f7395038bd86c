"""Reading and checking manifest.json (docs/deployment-format.md)."""

import json
from pathlib import Path

from msdnet_tf.cli import UserError

FORMAT = "msdnet_tf.deployment/1"
_REQUIRED = ("format", "model", "mode", "num_exits", "num_classes", "input", "preprocessing",
             "exits", "cascade")


class ManifestError(UserError):
    """manifest.json is missing, malformed, or does not describe its files."""


def load_manifest(models_dir, resolution=None):
    """The validated manifest of a converted model directory.

    resolution: for a resolution-switchable model, the input side whose files
    the returned manifest describes (default: the top level, the largest);
    the result then also carries `resolution`.
    """
    manifest = _load(models_dir)
    if resolution is None and not manifest.get("resolutions"):
        return manifest
    return select(manifest, resolution, Path(models_dir) / "manifest.json")


def resolutions(manifest):
    """The input sides a manifest serves, largest first."""
    entries = manifest.get("resolutions")
    return [e["resolution"] for e in entries] if entries else [input_side(manifest)]


def select(manifest, resolution, path="manifest.json"):
    """The manifest of one input side (see export.manifest.select_resolution)."""
    entries = manifest.get("resolutions") or []
    sizes = resolutions(manifest)
    resolution = sizes[0] if resolution is None else resolution
    if resolution not in sizes:
        raise ManifestError(f"{path} serves {', '.join(f'{r}x{r}' for r in sizes)}. "
                            f"Received: resolution {resolution}")
    if not entries:
        return manifest
    entry = next(e for e in entries if e["resolution"] == resolution)
    missing = [k for k in ("input", "preprocessing", "exits", "cascade") if k not in entry]
    if missing:
        raise ManifestError(f"{path}: resolutions entry {resolution} lacks {', '.join(missing)}")
    return {**manifest, **entry, "resolution": resolution}


def _load(models_dir):
    path = Path(models_dir) / "manifest.json"
    if not path.is_file():
        raise ManifestError(f"no manifest.json in {models_dir}: is it the --output of "
                            "tflite/convert.py?")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from None
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        raise ManifestError(f"{path} lacks {', '.join(missing)}")
    manifest.setdefault("family", "msdnet")  # Written before the key existed.
    if manifest["format"] != FORMAT:
        raise ManifestError(f"{path} has format {manifest['format']!r}; this version reads "
                            f"{FORMAT!r}")
    k = manifest["num_exits"]
    stages = manifest["cascade"].get("stages", [])
    if len(manifest["exits"]) != k or len(stages) != k:
        raise ManifestError(f"{path}: num_exits is {k} but it lists {len(manifest['exits'])} "
                            f"exits and {len(stages)} cascade stages")
    for i, stage in enumerate(stages):
        if stage.get("signature") != f"stage_{i}":
            raise ManifestError(f"{path}: cascade stage {i} is named {stage.get('signature')!r}, "
                                f"expected 'stage_{i}'")
    return manifest


def input_side(manifest):
    return manifest["input"]["shape"][1]
