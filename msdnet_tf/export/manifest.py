"""manifest.json: what a runtime needs to run the converted files (docs/deployment-format.md).

Tensor entries are read from the converted files themselves (names, shapes,
dtypes, int8 parameters), so the manifest cannot disagree with them.
`validate_manifest` checks a manifest (and, given its folder, the files).
"""

import json
import re
from pathlib import Path

FORMAT = "msdnet_tf.deployment/1"
TOP_KEYS = ("format", "family", "model", "mode", "int8_io", "num_exits", "num_classes", "labels", "input",
            "preprocessing", "exits", "cascade", "early_exit", "thresholds", "source")
TENSOR_KEYS = ("name", "shape", "dtype", "quantization")
# Only these tensors may be int8 (with int8 I/O); interfaces between stages stay float32.
MAY_BE_INT8 = ("image", "logits")
QUANTIZED_DTYPES = ("int8", "uint8")


class ManifestError(ValueError):
    """A manifest breaks the deployment format; the message says where."""


def _order(name):
    """image / logits first, then the feature maps (named by the model family: scale_0,
    scale_1, ... for MSDNet) in natural order, numbers compared as numbers."""
    if name in MAY_BE_INT8:
        return (0, ())
    parts = re.split(r"(\d+)", name)
    return (1, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts))


def tensor_entries(tensors):
    """Manifest entries of `{name: {"shape", "dtype", "quantization"}}`, in a stable order."""
    return [{"name": name, **tensors[name]} for name in sorted(tensors, key=_order)]


def signature_entry(tflite_model, signature):
    inputs, outputs = tflite_model.tensors(signature)
    return {"signature": signature, "inputs": tensor_entries(inputs),
            "outputs": tensor_entries(outputs)}


def exit_entries(exit_models, counts):
    """One entry per exit: file, signature tensors, cumulative and per-stage cost."""
    out = []
    for k, (name, tflite_model) in enumerate(exit_models):
        out.append({"exit": k, "file": name,
                    "cumulative_flops": int(counts.exit_cumulative_flops[k]),
                    "cumulative_params": int(counts.exit_cumulative_params[k]),
                    "stage_flops": int(counts.stage_flops[k]),
                    "stage_params": int(counts.stage_params[k]),
                    **signature_entry(tflite_model, tflite_model.signature_names[0])})
    return out


def build_manifest(*, family, model_hash, mode, int8_io, labels, preprocessing, counts, exit_models,
                   cascade, early_exit=None, thresholds=None, source=None):
    """The manifest dict.

    family: the model family (`model.family`); exit_models: [(file name,
    TFLiteModel)] in exit order; cascade: (file name,
    TFLiteModel); early_exit: (file name, TFLiteModel) or None; counts:
    `msdnet_tf.flops.Counts`; thresholds: the thresholds.json content or None;
    source: {"workdir": ..., "config": resolved config dict}.
    """
    exits = exit_entries(exit_models, counts)
    cascade_file, cascade_model = cascade
    stages = [signature_entry(cascade_model, f"stage_{k}") for k in range(len(exits))]
    image = dict(exits[0]["inputs"][0])
    manifest = {
        "format": FORMAT, "family": family, "model": model_hash, "mode": mode, "int8_io": bool(int8_io),
        "num_exits": len(exits), "num_classes": len(labels), "labels": list(labels),
        "input": {**image, "layout": "NHWC"}, "preprocessing": preprocessing,
        "exits": exits, "cascade": {"file": cascade_file, "stages": stages},
        "early_exit": None, "thresholds": thresholds, "source": source,
    }
    if early_exit is not None:
        name, model = early_exit
        manifest["early_exit"] = {"file": name, **signature_entry(model, model.signature_names[0])}
    validate_manifest(manifest)
    return manifest


def add_digests(manifest, folder):
    """Records the sha256 and size of every file the manifest describes (in `folder`), so
    that a runtime can refuse files that are not the ones converted with it."""
    import hashlib

    entries = list(manifest["exits"]) + [manifest["cascade"]]
    entries += [manifest["early_exit"]] if manifest["early_exit"] else []
    for entry in entries:
        data = (Path(folder) / entry["file"]).read_bytes()
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["bytes"] = len(data)
    return manifest


def write_manifest(path, manifest):
    from msdnet_tf.workdir import atomic_write_text

    return atomic_write_text(path, json.dumps(manifest, indent=1, allow_nan=False) + "\n")


def _check(cond, where, problem):
    if not cond:
        raise ManifestError(f"manifest {where}: {problem}")


def _check_tensor(entry, where):
    _check(isinstance(entry, dict) and all(k in entry for k in TENSOR_KEYS), where,
           f"a tensor needs {', '.join(TENSOR_KEYS)}. Received: {entry!r}")
    where = f"{where} {entry['name']}"
    _check(len(entry["shape"]) < 2 or entry["shape"][0] == 1, where,
           f"batch must be 1. Received: {entry['shape']}")
    q = entry["quantization"]
    if entry["dtype"] not in QUANTIZED_DTYPES:
        _check(q is None, where, f"a {entry['dtype']} tensor has no quantization")
    else:
        _check(entry["name"] in MAY_BE_INT8, where,
               f"only {', '.join(MAY_BE_INT8)} may be quantised. Received: {entry['dtype']}")
        _check(isinstance(q, dict) and set(q) == {"scale", "zero_point"}, where,
               f"needs quantization {{scale, zero_point}}. Received: {q!r}")


def _check_signature(entry, where):
    for side in ("inputs", "outputs"):
        _check(isinstance(entry.get(side), list) and entry[side], where, f"no {side}")
        for tensor in entry[side]:
            _check_tensor(tensor, f"{where} {side}")


def _check_cascade(manifest):
    stages = manifest["cascade"]["stages"]
    _check(len(stages) == manifest["num_exits"], "cascade", "one stage per exit")
    previous = None
    for k, stage in enumerate(stages):
        where = f"cascade stage_{k}"
        _check(stage["signature"] == f"stage_{k}", where, f"signature {stage['signature']!r}")
        _check_signature(stage, where)
        names = [t["name"] for t in stage["outputs"]]
        _check(names[0] == "logits", where, f"first output must be logits. Received: {names}")
        _check((len(names) == 1) == (k == len(stages) - 1), where,
               "every stage but the last passes feature maps on")
        inputs = {t["name"]: t["shape"] for t in stage["inputs"]}
        if previous is None:
            _check(list(inputs) == ["image"], where, f"stage_0 takes image. Received: {inputs}")
        else:
            _check(inputs == previous, where, f"inputs {inputs} != stage_{k - 1} maps {previous}")
        previous = {t["name"]: t["shape"] for t in stage["outputs"][1:]}


def validate_manifest(manifest, folder=None):
    """Raises ManifestError unless `manifest` follows the format; checks files in `folder`."""
    missing = [k for k in TOP_KEYS if k not in manifest]
    _check(not missing, "top level", f"missing {', '.join(missing)}")
    _check(manifest["format"] == FORMAT, "format", f"expected {FORMAT!r}")
    k_exits = manifest["num_exits"]
    _check(len(manifest["exits"]) == k_exits, "exits", f"expected {k_exits} entries")
    _check(len(manifest["labels"]) == manifest["num_classes"], "labels", "one per class")
    for k, entry in enumerate(manifest["exits"]):
        _check(entry["exit"] == k and re.fullmatch(rf"exit_{k}(_r\d+)?\.tflite", entry["file"]),
               f"exits[{k}]", f"expected exit {k} in exit_{k}.tflite (exit_{k}_r<R>.tflite "
                              "for another resolution)")
        _check_signature(entry, f"exit_{k}")
        _check(k == 0 or entry["cumulative_flops"] > manifest["exits"][k - 1]["cumulative_flops"],
               f"exits[{k}]", "cumulative FLOPs must grow from exit to exit")
    _check_cascade(manifest)
    if manifest["early_exit"] is not None:
        _check_signature(manifest["early_exit"], "early_exit")
    thresholds = manifest["thresholds"]
    _check(thresholds is None or len(thresholds["thresholds"]) == k_exits, "thresholds",
           "one threshold per exit")
    if manifest.get("resolutions") is not None:
        _check_resolutions(manifest, folder)
    if folder is not None:
        files = [e["file"] for e in manifest["exits"]] + [manifest["cascade"]["file"]]
        files += [manifest["early_exit"]["file"]] if manifest["early_exit"] else []
        absent = [f for f in files if not (Path(folder) / f).is_file()]
        _check(not absent, "files", f"missing in {folder}: {', '.join(absent)}")
    return manifest


# ------------------------------------------------------------------ resolutions
# A resolution-switchable model is converted once per input side; manifest.json
# keeps the largest side at its top level (what single-resolution readers run)
# and lists every side under `resolutions`, each entry holding the keys below.
RESOLUTION_KEYS = ("input", "preprocessing", "exits", "cascade", "early_exit", "thresholds")


def resolution_entry(manifest, resolution):
    """The per-resolution part of a single-resolution manifest."""
    return {"resolution": int(resolution), **{k: manifest[k] for k in RESOLUTION_KEYS}}


def with_resolutions(manifests):
    """One manifest for {side: single-resolution manifest}: the largest side at the top,
    every side under `resolutions` (largest first)."""
    sizes = sorted(manifests, reverse=True)
    combined = dict(manifests[sizes[0]])
    combined["resolutions"] = [resolution_entry(manifests[r], r) for r in sizes]
    validate_manifest(combined)
    return combined


def select_resolution(manifest, resolution):
    """The single-resolution manifest of one side (the top level, for older files)."""
    entries = manifest.get("resolutions")
    if not entries:
        side = manifest["input"]["shape"][1]
        if resolution not in (None, side):
            raise ManifestError(f"manifest serves {side}x{side} only. Received: {resolution}")
        return manifest
    sizes = [e["resolution"] for e in entries]
    resolution = sizes[0] if resolution is None else resolution
    if resolution not in sizes:
        raise ManifestError(f"manifest serves {', '.join(map(str, sizes))}. "
                            f"Received: {resolution}")
    entry = entries[sizes.index(resolution)]
    return {**manifest, **{k: entry[k] for k in RESOLUTION_KEYS}, "resolution": resolution}


def _check_resolutions(manifest, folder):
    entries = manifest["resolutions"]
    _check(isinstance(entries, list) and entries, "resolutions", "must be a non-empty list")
    sizes = [e.get("resolution") for e in entries]
    _check(sizes == sorted(set(sizes), reverse=True), "resolutions",
           f"sides must be distinct, largest first. Received: {sizes}")
    _check(sizes[0] == manifest["input"]["shape"][1], "resolutions",
           "the first entry must be the top level's input side")
    for r in sizes:
        one = select_resolution(manifest, r)
        one.pop("resolutions")
        _check(one["input"]["shape"][1] == r, f"resolutions {r}", "input side differs")
        validate_manifest(one, folder)
