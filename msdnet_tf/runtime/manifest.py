"""Reading and checking manifest.json (docs/deployment-format.md).

A converted directory is self-consistent or refused: `load_manifest` reads the file
through `msdnet_tf.files` (any damage is one line), checks every key the runtimes use
(types, ranges, the exits, the cascade stages and the maps they pass on, the FLOPs,
the class count, the thresholds), and checks each file the manifest describes against
the sha256 and size it records, so that files of different conversions are never run
together. The tensors themselves are checked against the model files when they are
opened (`msdnet_tf.runtime.cascade.check_signature`).

Manifests written before digests existed (no `sha256` in their file entries) still load,
with one warning line on stderr: their files are checked against the tensors they
declare, but cannot be told apart from another conversion's; converting again adds the
digests.
"""

import math
import os
import re
import sys
from pathlib import Path

from msdnet_tf import files
from msdnet_tf.cli import UserError

FORMAT = "msdnet_tf.deployment/1"
MODES = ("float", "dynamic", "float16", "int8", "qat")
DTYPES = ("float32", "int8", "uint8", "int32")
_REQUIRED = ("format", "model", "mode", "num_exits", "num_classes", "input", "preprocessing",
             "exits", "cascade")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_warned = set()


class ManifestError(UserError):
    """manifest.json is missing, malformed, or does not describe its files."""


def _reconvert(manifest, models_dir):
    workdir = ((manifest or {}).get("source") or {}).get("workdir") \
        if isinstance((manifest or {}).get("source"), dict) else None
    workdir = workdir if isinstance(workdir, str) else "RUN_DIR"
    return (f"convert again: python tflite/convert.py --workdir {workdir} --output {models_dir}, "
            "or copy the whole converted directory")


class _Checker:
    def __init__(self, path, manifest, models_dir):
        self.path, self.manifest, self.models_dir = path, manifest, models_dir

    def fail(self, where, problem):
        raise ManifestError(f"{self.path}: {where} {problem}; "
                            f"{_reconvert(self.manifest, self.models_dir)}")

    def obj(self, value, where, keys=()):
        if not isinstance(value, dict):
            self.fail(where, f"must be an object. Received: {_short(value)}")
        missing = [k for k in keys if k not in value]
        if missing:
            self.fail(where, f"lacks {', '.join(missing)}")
        return value

    def lst(self, value, where, length=None):
        if not isinstance(value, list):
            self.fail(where, f"must be a list. Received: {_short(value)}")
        if length is not None and len(value) != length:
            self.fail(where, f"must list {length} entries. Received: {len(value)}")
        return value

    def integer(self, value, where, low=None):
        if isinstance(value, bool) or not isinstance(value, int) or (
                low is not None and value < low):
            self.fail(where, f"must be an integer{f' >= {low}' if low is not None else ''}. "
                             f"Received: {_short(value)}")
        return value

    def number(self, value, where, low=0.0, open_low=False):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or value < low or (open_low and value == low):
            self.fail(where, f"must be a finite number {'>' if open_low else '>='} {low:g}. "
                             f"Received: {_short(value)}")
        return value

    def string(self, value, where, choices=None):
        if not isinstance(value, str) or not value or (choices and value not in choices):
            allowed = f" (one of {', '.join(choices)})" if choices else ""
            self.fail(where, f"must be a string{allowed}. Received: {_short(value)}")
        return value

    def file_name(self, value, where):
        self.string(value, where)
        if Path(value).name != value or value in (".", ".."):
            self.fail(where, f"must name a file in the same directory. Received: {value!r}")
        return value

    def tensor(self, t, where, unbatched=()):
        self.obj(t, where, ("name", "shape", "dtype"))
        name = self.string(t["name"], f"{where} name")
        where = f"{where} {name}"
        shape = self.lst(t["shape"], f"{where} shape")
        for d in shape:
            self.integer(d, f"{where} shape", low=1)
        if shape and shape[0] != 1 and name not in unbatched:
            self.fail(f"{where} shape", f"must have batch 1. Received: {shape}")
        dtype = self.string(t["dtype"], f"{where} dtype", DTYPES)
        q = t.get("quantization")
        if dtype in ("int8", "uint8"):
            if not isinstance(q, dict):
                self.fail(where, f"is {dtype} but has no quantization {{scale, zero_point}}")
            self.obj(q, f"{where} quantization", ("scale", "zero_point"))
            self.number(q["scale"], f"{where} quantization scale", open_low=True)
            self.integer(q["zero_point"], f"{where} quantization zero_point")
        elif q is not None:
            self.fail(f"{where} quantization", f"must be null for {dtype}. Received: {_short(q)}")
        return {"shape": shape, "dtype": dtype, "quantization": q}

    def signature(self, entry, where, unbatched=()):
        """{"inputs"|"outputs": {name: spec}}; tensors named in `unbatched` (early_exit's
        `thresholds`, one per exit) have no batch dimension."""
        specs = {}
        for side in ("inputs", "outputs"):
            tensors = self.lst(entry.get(side), f"{where} {side}")
            if not tensors:
                self.fail(f"{where} {side}", "must not be empty")
            specs[side] = {}
            for t in tensors:
                spec = self.tensor(t, f"{where} {side}", unbatched)
                if t["name"] in specs[side]:
                    self.fail(f"{where} {side}", f"name {t['name']!r} twice")
                specs[side][t["name"]] = spec
        return specs


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate(manifest, path, models_dir=None):
    """Checks a manifest's content; returns it (with `family` filled in for old files)."""
    c = _Checker(path, manifest, models_dir or Path(path).parent)
    c.obj(manifest, "the file")
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        c.fail("the file", f"lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise ManifestError(f"{path} has format {_short(manifest['format'])}; this version reads "
                            f"{FORMAT!r}: {_reconvert(manifest, c.models_dir)}")
    manifest.setdefault("family", "msdnet")  # Written before the key existed.
    c.string(manifest["family"], "family")
    if manifest["model"] is not None:
        c.string(manifest["model"], "model")
    c.string(manifest["mode"], "mode", MODES)
    if not isinstance(manifest.get("int8_io", False), bool):
        c.fail("int8_io", f"must be true or false. Received: {_short(manifest['int8_io'])}")
    k = c.integer(manifest["num_exits"], "num_exits", low=1)
    classes = c.integer(manifest["num_classes"], "num_classes", low=1)
    labels = manifest.get("labels")
    if labels is not None:
        c.lst(labels, "labels", classes)
        for label in labels:
            c.string(label, "labels")
    image = c.tensor(manifest["input"], "input")
    if manifest["input"]["name"] != "image" or len(image["shape"]) != 4 or \
            image["shape"][1] != image["shape"][2] or image["shape"][3] != 3:
        c.fail("input", f"must be image [1, S, S, 3] (NHWC). Received: "
                        f"{manifest['input']['name']} {image['shape']}")
    if manifest["input"].get("layout", "NHWC") != "NHWC":
        c.fail("input layout", f"must be NHWC. Received: {_short(manifest['input']['layout'])}")
    _check_preprocessing(c, manifest["preprocessing"], image["shape"][1])
    _check_exits(c, manifest, k, classes, image)
    _check_cascade(c, manifest, k, classes, image)
    early = manifest.get("early_exit")
    if early is not None:
        c.obj(early, "early_exit", ("file", "signature", "inputs", "outputs"))
        c.file_name(early["file"], "early_exit file")
        c.string(early["signature"], "early_exit signature")
        specs = c.signature(early, "early_exit", unbatched=("thresholds",))
        thresholds = specs["inputs"].get("thresholds")
        if thresholds is not None and thresholds["shape"] != [k]:
            c.fail("early_exit inputs thresholds shape", f"must be [{k}] (one per exit). "
                   f"Received: {thresholds['shape']}")
    if manifest.get("thresholds") is not None:
        _check_thresholds(c, manifest, path, k)
    source = manifest.get("source")
    if source is not None:
        c.obj(source, "source")
        if source.get("workdir") is not None:
            c.string(source["workdir"], "source workdir")
        if source.get("config") is not None:
            c.obj(source["config"], "source config")
    _check_digest_keys(c, manifest)
    return manifest


def _check_preprocessing(c, spec, size):
    c.obj(spec, "preprocessing", ("dataset", "input"))
    c.string(spec["dataset"], "preprocessing dataset")
    inp = c.obj(spec["input"], "preprocessing input", ("channels", "height", "width"))
    if inp["channels"] not in (1, 3) or isinstance(inp["channels"], bool):
        c.fail("preprocessing input channels", f"must be 1 or 3. Received: "
                                               f"{_short(inp['channels'])}")
    for key in ("height", "width"):
        if inp[key] is not None:
            c.integer(inp[key], f"preprocessing input {key}", low=1)
    out = spec.get("output")
    if isinstance(out, dict) and (out.get("height"), out.get("width")) != (size, size):
        c.fail("preprocessing output", f"makes {out.get('height')}x{out.get('width')} images "
                                       f"but the model input is {size}x{size}")


def _logits_ok(c, specs, where, classes):
    logits = specs["outputs"].get("logits")
    if logits is None or logits["shape"] != [1, classes]:
        c.fail(where, f"must return logits [1, {classes}] (num_classes). Received: "
                      f"{None if logits is None else logits['shape']}")


def _check_exits(c, manifest, k, classes, image):
    exits = c.lst(manifest["exits"], "exits", k)
    previous = 0
    for i, entry in enumerate(exits):
        where = f"exits[{i}]"
        c.obj(entry, where, ("exit", "file", "cumulative_flops", "inputs", "outputs"))
        if entry["exit"] != i or isinstance(entry["exit"], bool):
            c.fail(f"{where} exit", f"must be {i} (exits in order). Received: "
                                    f"{_short(entry['exit'])}")
        c.file_name(entry["file"], f"{where} file")
        flops = c.number(entry["cumulative_flops"], f"{where} cumulative_flops", open_low=True)
        if flops <= previous:
            c.fail(f"{where} cumulative_flops", f"must grow from exit to exit (exit_{i - 1}: "
                                                f"{previous:g}). Received: {flops:g}")
        if "stage_flops" in entry:
            stage = c.number(entry["stage_flops"], f"{where} stage_flops")
            if not math.isclose(previous + stage, flops, rel_tol=1e-9):
                c.fail(f"{where} stage_flops", f"({stage:g}) plus exit_{i - 1}'s cumulative_flops "
                                               f"({previous:g}) must equal its cumulative_flops "
                                               f"({flops:g})")
        previous = flops
        specs = c.signature(entry, where)
        image_in = specs["inputs"].get("image")
        if image_in is None or image_in["shape"] != image["shape"]:
            c.fail(f"{where} inputs", f"must take image {image['shape']} like the manifest's "
                                      "input")
        _logits_ok(c, specs, where, classes)


def _check_cascade(c, manifest, k, classes, image):
    cascade = c.obj(manifest["cascade"], "cascade", ("file", "stages"))
    c.file_name(cascade["file"], "cascade file")
    stages = c.lst(cascade["stages"], "cascade stages", k)
    carried = None
    for i, stage in enumerate(stages):
        where = f"cascade stage_{i}"
        c.obj(stage, where, ("signature", "inputs", "outputs"))
        if stage["signature"] != f"stage_{i}":
            c.fail(f"{where} signature", f"must be 'stage_{i}'. Received: "
                                         f"{_short(stage['signature'])}")
        specs = c.signature(stage, where)
        _logits_ok(c, specs, where, classes)
        if i == 0:
            img = specs["inputs"].get("image")
            if list(specs["inputs"]) != ["image"] or img["shape"] != image["shape"]:
                c.fail(f"{where} inputs", f"must be the single input image {image['shape']}. "
                                          f"Received: {list(specs['inputs'])}")
        elif specs["inputs"] != carried:
            c.fail(f"{where} inputs", f"must be the feature maps stage_{i - 1} returns (same "
                                      "names, shapes and dtypes)")
        carried = {n: s for n, s in specs["outputs"].items() if n != "logits"}
        if (i == k - 1) != (not carried):
            c.fail(f"{where} outputs", "must carry feature maps on at every stage but the last")


def _check_thresholds(c, manifest, path, k):
    from msdnet_tf.evaluation.common import EvaluationError
    from msdnet_tf.evaluation.thresholds_io import _validate

    try:
        t = _validate(manifest["thresholds"], f"{path} (its thresholds)")
    except EvaluationError as e:
        raise ManifestError(f"{e}; {_reconvert(manifest, c.models_dir)}") from None
    if t.num_exits != k:
        c.fail("thresholds", f"hold {t.num_exits} values for a model with {k} exits")
    if t.model is not None and manifest["model"] is not None and t.model != manifest["model"]:
        c.fail("thresholds", f"were made for model {t.model!r}, not {manifest['model']!r}")



def described_files(manifest):
    """[(where, entry)] of every file entry the manifest describes."""
    out = [(f"exits[{i}]", e) for i, e in enumerate(manifest["exits"])]
    out.append(("cascade", manifest["cascade"]))
    if manifest.get("early_exit"):
        out.append(("early_exit", manifest["early_exit"]))
    return out


def _check_digest_keys(c, manifest):
    entries = described_files(manifest)
    with_digest = [w for w, e in entries if "sha256" in e]
    if with_digest and len(with_digest) != len(entries):
        c.fail("files", "must all record sha256 or none (a manifest edited by hand?)")
    for where, e in entries:
        if "sha256" in e:
            if not isinstance(e["sha256"], str) or not _SHA256.match(e["sha256"]):
                c.fail(f"{where} sha256", f"must be 64 lowercase hex digits. Received: "
                                          f"{_short(e['sha256'])}")
            c.integer(e.get("bytes"), f"{where} bytes", low=1)


def check_files(manifest, models_dir, path):
    """Each described file exists and matches its recorded size and sha256."""
    models_dir = Path(models_dir)
    entries = described_files(manifest)
    legacy = not any("sha256" in e for _, e in entries)
    for where, e in entries:
        target = models_dir / e["file"]
        files.regular_file(target, "model file", _reconvert(manifest, models_dir))
        if legacy:
            continue
        size = target.stat().st_size
        if size != e["bytes"] or files.sha256(target) != e["sha256"]:
            raise ManifestError(
                f"{target} is not the file {path} describes ({where}: sha256 "
                f"{e['sha256'][:12]}..., {e['bytes']} bytes; the file has {size} bytes"
                f"{'' if size != e['bytes'] else ' and another sha256'}): the files come from "
                f"different conversions or were changed; {_reconvert(manifest, models_dir)}")
    if legacy and str(path) not in _warned:
        _warned.add(str(path))
        print(f"warning: {path} records no file digests (written before they existed), so "
              "its .tflite files cannot be matched to it; they are checked against the tensors "
              f"it declares only. To add them, {_reconvert(manifest, models_dir)}",
              file=sys.stderr)


def load_manifest(models_dir, check=True, resolution=None):
    """The validated manifest of a converted model directory.

    check: also check the files it describes (existence, size, sha256), those of every
    side of a resolution-switchable model.
    resolution: for a resolution-switchable model, the input side whose files the returned
    manifest describes (default: the top level, the largest); the result then also carries
    `resolution`.
    """
    manifest = _load(models_dir, check)
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


def _check_resolutions(c, manifest, path, models_dir):
    """Each side of a switchable model's manifest is a valid manifest of its own."""
    entries = c.lst(manifest["resolutions"], "resolutions")
    if not entries:
        c.fail("resolutions", "must not be empty (or null for a single-resolution model)")
    sizes = []
    for e in entries:
        c.obj(e, "resolutions entry", ("resolution", "input", "preprocessing", "exits",
                                       "cascade"))
        r = c.integer(e["resolution"], "resolutions entry resolution", low=1)
        if sizes and r >= sizes[-1]:
            c.fail("resolutions", f"sides must be distinct, largest first. Received {r} after "
                                  f"{sizes}")
        sizes.append(r)
    if sizes[0] != input_side(manifest):
        c.fail("resolutions", f"must start with the top level's side {input_side(manifest)}. "
                              f"Received: {sizes}")
    sides = []
    for e in entries:
        side = {k: v for k, v in select(manifest, e["resolution"], path).items()
                if k not in ("resolutions", "resolution")}
        validate(side, path, models_dir)
        if input_side(side) != e["resolution"]:
            c.fail(f"resolutions entry {e['resolution']} input",
                   f"takes {input_side(side)}x{input_side(side)} images")
        sides.append(side)
    def files_of(m):
        return [(e["file"], e.get("sha256")) for _, e in described_files(m)]

    if files_of(manifest) != files_of(sides[0]):
        c.fail("resolutions", f"entry {sizes[0]} must describe the files of the top level "
                              "(the largest side)")
    recorded = {input_side(side): any("sha256" in e for _, e in described_files(side))
                for side in sides}
    if len(set(recorded.values())) > 1:
        c.fail("resolutions", "must all record sha256 or none (sides with digests: "
                              f"{[r for r, d in recorded.items() if d]}; a manifest edited by "
                              "hand?)")
    names = [entry["file"] for side in sides for _, entry in described_files(side)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        c.fail("resolutions", f"name the same file for two sides: {', '.join(twice)}")
    return sides


def _load(models_dir, check):
    models_dir = Path(models_dir)
    path = models_dir / "manifest.json"
    if not os.path.lexists(path):
        raise ManifestError(f"no manifest.json in {models_dir}: is it the --output of "
                            "tflite/convert.py?")
    try:
        manifest = files.read_json(path, "manifest", _reconvert(None, models_dir))
    except files.FileProblem as e:
        raise ManifestError(str(e)) from None
    validate(manifest, path, models_dir)
    sides = [manifest]
    if manifest.get("resolutions") is not None:
        sides = _check_resolutions(_Checker(path, manifest, models_dir), manifest, path,
                                   models_dir)
    if check:
        for side in sides:
            check_files(side, models_dir, path)
    return manifest


def input_side(manifest):
    return manifest["input"]["shape"][1]
