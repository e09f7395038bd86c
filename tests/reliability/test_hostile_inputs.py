"""Every file and flag a user can get wrong, against the real CLIs: one line, exit code 2.

A table of cases, one per (kind of input, way to break it): truncated, random bytes, empty,
a directory, another file of the same kind, wrong encoding, wrong shapes, hostile content
(pickles, YAML tags, deep JSON nesting, decompression bombs), and out-of-range flags.
Each case gets its own copy of real files (a trained, evaluated and converted run), is run
through tests/reliability/driver.py (every case as `python -m ...` / `python FILE` would
run it, in one process), and must end with exit code 2 and exactly one line on stderr,
which names the file or flag, without a traceback, leaving its directory byte for byte as
it was.

Read-only locations are cases of their own: their driver runs without the capabilities that
let root write anywhere, so that file permissions apply to it. Two train commands on one
workdir run as two real processes.
"""

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CLI_ENV, REPO, TINY_DIGITS
from tests.reliability.driver import tree_digest

OVERRIDES = [a for o in TINY_DIGITS for a in ("--override", o)]
TRAIN = ["-m", "msdnet_tf.train", "--workdir", "{run}", "--quiet", *OVERRIDES]
EVALUATE = ["-m", "msdnet_tf.evaluate", "--workdir", "{run}"]
FROM_LOGITS = ["-m", "msdnet_tf.evaluate", "--from-logits", "{run}/logits.npz",
               "--output", "{dir}/eval"]
CONVERT = ["tflite/convert.py", "--workdir", "{run}", "--mode", "float",
           "--output", "{dir}/out"]
HARNESS = ["tflite/harness.py", "--models", "{conv}", "--dataset", "digits", "--limit", "20"]
BENCHMARK = ["tflite/benchmark.py", "--models", "{conv}", "--reps", "2", "--warmup", "0"]
IMPORT = ["-m", "msdnet_tf.import_torch", "--config", "{run}/config.yaml",
          "--output", "{dir}/imported.keras"]
SUMMARY = ["-m", "msdnet_tf.summary"]

# Files each command reads from the run (the rest is not copied).
RUN_FILES = {
    "train": ("config.yaml", "holdout.json", "latest.npz", "best.weights.h5", "history.jsonl"),
    "eval": ("config.yaml", "holdout.json", "model.keras", "logits.npz"),
    "convert": ("config.yaml", "holdout.json", "model.keras", "thresholds.json",
                "budgeted.json"),
    "config": ("config.yaml",),
}


# ------------------------------------------------------------------ ways to break a file
def truncate(p, real):
    data = p.read_bytes()
    p.write_bytes(data[:len(data) // 2])


def garbage(p, real):
    size = max(p.stat().st_size if p.exists() else 0, 4096)
    p.write_bytes(np.random.default_rng(13).bytes(size))


def empty(p, real):
    p.write_bytes(b"")


def directory(p, real):
    if p.exists():
        p.unlink()
    p.mkdir()
    (p / "inside").write_text("x")


def missing(p, real):
    p.unlink()


def utf16(p, real):
    p.write_bytes(p.read_text().encode("utf-16"))


def zeroed_middle(p, real):
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4096] = bytes(min(4096, len(data) - mid))
    p.write_bytes(bytes(data))


def pickled_npz(p, real):
    np.savez(p.with_suffix(".tmp.npz"), x=np.array([{"os": "system"}], dtype=object))
    p.with_suffix(".tmp.npz").replace(p)


def npy_instead(p, real):
    with open(p, "wb") as f:
        np.save(f, np.zeros(3))


def deep_json(p, real):
    p.write_text("[" * 200000 + "]" * 200000)


def json_nan(key_path):
    def edit(data):
        node = data
        for k in key_path[:-1]:
            node = node[k]
        node[key_path[-1]] = float("nan")
    return json_edit(edit)


def json_edit(fn):
    def apply(p, real):
        data = json.loads(p.read_text())
        fn(data)
        p.write_text(json.dumps(data))
    return apply


def copy_of(pick):
    def apply(p, real):
        shutil.copyfile(pick(real, p), p)
    return apply


def npz_edit(fn):
    def apply(p, real):
        with np.load(p) as data:
            arrays = {k: data[k] for k in data.files}
        fn(arrays)
        with open(p, "wb") as f:
            np.savez(f, **arrays)
    return apply


def yaml_text(text):
    def apply(p, real):
        p.write_text(text)
    return apply


def torch_object(p, real):
    import torch

    torch.save({"model": torch.nn.Linear(2, 2), "state_dict": None}, p)


def torch_list(p, real):
    import torch

    torch.save([torch.zeros(2)], p)


def torch_non_tensor(p, real):
    import torch

    torch.save({"a.weight": torch.zeros(2), "a.note": "hello"}, p)


def png_bomb(p, real):
    from PIL import Image

    p.mkdir()
    Image.new("1", (16000, 16000)).save(p / "bomb.png")


def bad_images(p, real):
    from PIL import Image

    p.mkdir()
    (p / "a.png").write_bytes(b"not an image")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(p / "b.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(p / "c.png")


def foreign_keras_zip(p, real):
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "Lambda", "config": {}}))
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))


def file_in_place(p, real):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("a file where a directory belongs")


def drop(*keys):
    def edit(data):
        node = data
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]
    return json_edit(edit)


def setitem(keys, value):
    def edit(data):
        node = data
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return json_edit(edit)


def reshaped_model_var(arrays):
    arrays["model/0"] = np.zeros((1, 1, 3, 5), np.float32)


def labels_2d(arrays):
    arrays["val_labels"] = arrays["val_labels"].reshape(-1, 1)


def wrong_weight_shape(arrays):
    key = next(k for k in sorted(arrays) if k.endswith(".weight"))
    arrays[key] = np.zeros((2, 2), np.float32)


def stale_lock(p, real):
    """A process that held the workdir's lock (flock + .lock naming it) and was killed."""
    code = ("import fcntl, json, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "open(os.path.join(sys.argv[1], '.lock'), 'w').write(json.dumps({'pid': os.getpid()}))\n"
            "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(p)])
    deadline = time.monotonic() + 60
    while not (p / ".lock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (p / ".lock").exists()


def damaged_run_logits(case_dir, real):
    """The conversion names the case's run, whose logits.npz is truncated."""
    setitem(["source", "workdir"], str(case_dir / "run"))(case_dir / "conv" / "manifest.json",
                                                          real)
    truncate(case_dir / "run" / "logits.npz", real)


def read_only(p, real):
    """`p` and everything in it made read-only (a+w removed), as on a read-only share."""
    if not p.exists():
        p.mkdir(parents=True)
    for q in [p, *p.rglob("*")]:
        q.chmod(q.stat().st_mode & ~0o222)


def swap_exit_files(p, real):
    shutil.copyfile(p.parent / "exit_2.tflite", p)


# --------------------------------------------------------------------------- the table
@dataclasses.dataclass
class Case:
    id: str
    argv: list
    target: str = ""      # the file to break, relative to the case directory
    breaks: object = None
    names: str = ""       # what the error line must name (default: the target's file name)
    uses: str = "train"   # which run files to copy (RUN_FILES), or "conv" for the conversion
    code: int = 2
    unchanged: bool = True
    after: object = None  # (argv, expected code): run next on the same directory
    locked: str = ""      # a directory this test process holds locked while the case runs

    def needs_conversion(self):
        return "{conv}" in " ".join(self.argv) or self.uses == "conv"


def _cases():
    c = []

    def add(*args, **kwargs):
        c.append(Case(*args, **kwargs))

    # Training state and run files (train --workdir on a finished copy).
    for how in (truncate, garbage, empty, directory, pickled_npz, npy_instead):
        add(f"train/latest.npz/{how.__name__}", TRAIN, "run/latest.npz", how)
    add("train/latest.npz/foreign", TRAIN, "run/latest.npz",
        copy_of(lambda real, p: real.run / "logits.npz"))
    add("train/latest.npz/shapes", TRAIN, "run/latest.npz", npz_edit(reshaped_model_var))
    for how in (truncate, garbage, empty, directory):
        add(f"train/best.weights.h5/{how.__name__}", TRAIN, "run/best.weights.h5", how)
    for how in (garbage, utf16, directory):
        add(f"train/config.yaml/{how.__name__}", TRAIN, "run/config.yaml", how)
    add("train/config.yaml/foreign", TRAIN, "run/config.yaml",
        copy_of(lambda real, p: real.other_config), names="config")
    for how in (garbage, truncate, directory):
        add(f"train/holdout.json/{how.__name__}", TRAIN, "run/holdout.json", how)
    add("train/poisoning", [*TRAIN, "--override", "model.growth_rate=6"], "run/config.yaml",
        missing, names="latest.npz",
        after=([*TRAIN], 0))
    add("train/mixed_precision_changed", [*TRAIN, "--override", "train.mixed_precision="
                                          "mixed_float16"], names="train.mixed_precision")
    add("train/workdir_in_use", TRAIN, locked="run", names=f"process {os.getpid()}")
    add("evaluate/workdir_in_use", EVALUATE, locked="run", uses="eval",
        names=f"process {os.getpid()}")
    add("train/stale_lock_of_a_killed_process", TRAIN, "run", stale_lock, code=0,
        unchanged=False)
    add("train/workdir_is_a_file", ["-m", "msdnet_tf.train", "--workdir", "{dir}/w",
                                    "--quiet", *OVERRIDES], "w", file_in_place, names="w",
        uses="none")
    add("train/workdir_under_a_file", ["-m", "msdnet_tf.train", "--workdir", "{dir}/f/w",
                                       "--quiet", *OVERRIDES], "f", file_in_place, names="f",
        uses="none")
    for how in (garbage, directory, missing):
        add(f"train/--config/{how.__name__}", [*TRAIN, "--config", "{dir}/c.yaml"], "c.yaml",
            how if how is not missing else (lambda p, real: None))
    add("train/--config/python_tag", [*TRAIN, "--config", "{dir}/c.yaml"], "c.yaml",
        yaml_text("train: !!python/object/apply:os.system ['echo pwned']\n"))

    # Evaluation: logits, model, latency, outputs, flags.
    for how in (truncate, garbage, empty, directory, pickled_npz, npy_instead, missing):
        add(f"evaluate/logits.npz/{how.__name__}", FROM_LOGITS, "run/logits.npz", how,
            uses="eval")
    add("evaluate/logits.npz/foreign", FROM_LOGITS, "run/logits.npz",
        copy_of(lambda real, p: real.run / "latest.npz"), uses="eval")
    add("evaluate/logits.npz/shapes", FROM_LOGITS, "run/logits.npz", npz_edit(labels_2d),
        uses="eval")
    # A damaged logits file next to its model is computed again (what --workdir promises).
    add("evaluate/workdir_logits_recomputed", EVALUATE, "run/logits.npz", truncate, uses="eval",
        code=0, unchanged=False)
    add("evaluate/workdir_logits_is_a_directory", EVALUATE, "run/logits.npz", directory,
        uses="eval")
    for how in (truncate, garbage, empty, directory):
        add(f"evaluate/model.keras/{how.__name__}", EVALUATE, "run/model.keras", how,
            uses="eval")
    add("evaluate/model.keras/foreign", EVALUATE, "run/model.keras",
        copy_of(lambda real, p: real.other_keras), uses="eval")
    add("evaluate/model.keras/lambda", EVALUATE, "run/model.keras", foreign_keras_zip,
        uses="eval")
    add("evaluate/config.yaml/garbage", EVALUATE, "run/config.yaml", garbage, uses="eval")
    latency = [*FROM_LOGITS, "--budget-ms", "5", "--latency", "{dir}/latency.json"]

    def real_latency(real, p):
        return real.conversion / "latency_1t.json"

    for how in (truncate, garbage, directory, deep_json, missing):
        add(f"evaluate/latency.json/{how.__name__}", latency, "latency.json",
            lambda p, real, how=how: (copy_of(real_latency)(p, real), how(p, real)),
            uses="eval")
    add("evaluate/latency.json/nan", latency, "latency.json",
        lambda p, real: (copy_of(real_latency)(p, real),
                         json_nan(["exits", 0, "path_ms"])(p, real)), uses="eval")
    add("evaluate/--output_is_a_file", [*FROM_LOGITS[:-1], "{dir}/eval"], "eval",
        file_in_place, uses="eval", names="eval")
    add("evaluate/--output_under_a_file", [*FROM_LOGITS[:-1], "{dir}/f/eval"], "f",
        file_in_place, uses="eval", names="f")
    for value in ("nan", "-1", "0", "inf"):
        add(f"evaluate/--budget-flops={value}", [*FROM_LOGITS, f"--budget-flops={value}"],
            names="--budget-flops", uses="eval")
    add("evaluate/--budget-ms=-1", [*latency[:-4], "--budget-ms=-1", "--latency", "x.json"],
        names="--budget-ms", uses="eval")

    # Conversion.
    for how in (truncate, garbage):
        add(f"convert/model.keras/{how.__name__}", CONVERT, "run/model.keras", how,
            uses="convert")
    add("convert/model.keras/foreign", CONVERT, "run/model.keras",
        copy_of(lambda real, p: real.other_keras), uses="convert", names="model.keras")
    for name in ("thresholds.json", "budgeted.json"):
        for how in (garbage, truncate):
            add(f"convert/{name}/{how.__name__}", CONVERT, f"run/{name}", how, uses="convert")
    add("convert/--output_is_a_file", CONVERT, "out", file_in_place, uses="convert",
        names="out")

    # Runtime: manifest, model files, thresholds, latency, images, reports, flags.
    for how in (truncate, garbage, empty, utf16, directory, deep_json, missing):
        add(f"harness/manifest.json/{how.__name__}", HARNESS, "conv/manifest.json", how,
            uses="conv")
    edits = {
        "no_exits": drop("exits"),
        "no_cascade_stages": drop("cascade", "stages"),
        "num_exits_string": setitem(["num_exits"], "3"),
        "exits_not_a_list": setitem(["exits"], {"0": 1}),
        "input_shape": setitem(["input", "shape"], [1, 16, 16, 3]),
        "stage0_input_shape": setitem(["cascade", "stages", 0, "inputs", 0, "shape"],
                                      [1, 16, 16, 3]),
        "num_classes": json_edit(lambda d: (d.__setitem__("num_classes", 11),
                                            d["labels"].append("eleven"))),
        "logits_dtype": setitem(["cascade", "stages", 0, "outputs", 0, "dtype"], "int8"),
        "flops_not_cumulative": setitem(["exits", 1, "cumulative_flops"], 1),
        "flops_nan": json_nan(["exits", 0, "cumulative_flops"]),
        "preprocessing_dataset": setitem(["preprocessing", "dataset"], 7),
        "thresholds_wrong": setitem(["thresholds", "thresholds"], ["x", "y", "-inf"]),
    }
    for name, how in edits.items():
        add(f"harness/manifest.json/{name}", HARNESS, "conv/manifest.json", how, uses="conv",
            names="manifest.json")
    # The manifest of another conversion of the same run (dynamic range) next to the float
    # files: same names and keys, other files.
    add("harness/manifest.json/from_another_conversion", HARNESS, "conv/manifest.json",
        copy_of(lambda real, p: real.other_conversion / "manifest.json"), uses="conv")
    for how in (truncate, garbage, empty, directory, zeroed_middle, missing):
        add(f"harness/cascade.tflite/{how.__name__}", HARNESS, "conv/cascade.tflite", how,
            uses="conv")
    add("harness/cascade.tflite/foreign", HARNESS, "conv/cascade.tflite", swap_exit_files,
        uses="conv")
    thresholds = [*HARNESS, "--thresholds", "{conv}/thresholds.json"]
    for how in (truncate, garbage, directory, deep_json):
        add(f"harness/thresholds.json/{how.__name__}", thresholds, "conv/thresholds.json", how,
            uses="conv")
    add("harness/thresholds.json/foreign", thresholds, "conv/thresholds.json",
        copy_of(lambda real, p: real.conversion / "latency_1t.json"), uses="conv")
    deadline = [*HARNESS, "--deadline-ms", "1", "--latency", "{conv}/latency_1t.json"]
    for how in (truncate, garbage, directory, missing):
        add(f"harness/latency.json/{how.__name__}", deadline, "conv/latency_1t.json", how,
            uses="conv")
    add("harness/latency.json/stage_ms_nan", deadline, "conv/latency_1t.json",
        json_nan(["exits", 1, "stage_ms"]), uses="conv")
    add("harness/latency.json/stage_ms_missing", deadline, "conv/latency_1t.json",
        drop("exits", 1, "stage_ms"), uses="conv")
    add("harness/--deadline-ms_without_--latency", [*HARNESS, "--deadline-ms", "1"],
        names="--deadline-ms", uses="conv")
    # With --report: a run with nothing to measure writes no report (so no "mean NaN").
    images = [*HARNESS[:3], "--images", "{dir}/imgs", "--report", "{dir}/r.json"]
    add("harness/images/all_bad", images, "imgs", bad_images, uses="conv", names="imgs")
    add("harness/images/bomb", images, "imgs", png_bomb, uses="conv", names="imgs")
    add("harness/images/none", images, "imgs", lambda p, real: p.mkdir(), uses="conv",
        names="imgs")
    for flag, value in (("--limit", "-5"), ("--threads", "0"), ("--q", "0"), ("--q", "nan"),
                        ("--q", "-1"), ("--budget-flops", "-1"), ("--budget-flops", "inf"),
                        ("--deadline-ms", "0"), ("--deadline-ms", "nan"), ("--limit", "x")):
        add(f"harness/{flag}={value}", [*HARNESS, f"{flag}={value}"], names=flag, uses="conv")
    add("harness/--report_is_a_directory", [*HARNESS, "--report", "{dir}/r"], "r", directory,
        uses="conv", names="r")
    add("harness/--report_under_a_file", [*HARNESS, "--report", "{dir}/f/r.json"], "f",
        file_in_place, uses="conv", names="f")
    add("harness/--report_into_a_missing_directory",
        [*HARNESS, "--report", "{dir}/new/dir/r.json"], uses="conv", code=0, unchanged=False)

    for flag, value in (("--reps", "0"), ("--threads", "0"), ("--warmup", "-1"),
                        ("--harness-images", "-1"), ("--reps", "1.5")):
        add(f"benchmark/{flag}={value}", [*BENCHMARK, f"{flag}={value}"], names=flag,
            uses="conv")
    for how in (garbage, truncate):
        add(f"benchmark/manifest.json/{how.__name__}", BENCHMARK, "conv/manifest.json", how,
            uses="conv")
    for how in (garbage, truncate, zeroed_middle):
        add(f"benchmark/exit_1.tflite/{how.__name__}", BENCHMARK, "conv/exit_1.tflite", how,
            uses="conv")
    add("benchmark/run_logits_damaged", [*BENCHMARK, "--summary", "{dir}/s.json"], "",
        damaged_run_logits, uses="eval", code=0, unchanged=False)
    add("benchmark/--summary_is_a_directory", [*BENCHMARK, "--summary", "{dir}/s"], "s",
        directory, uses="conv", names="s")

    # Weights import.
    npz = [*IMPORT, "--weights", "{dir}/w.npz"]
    pth = [*IMPORT, "--weights", "{dir}/w.pth"]
    for how in (truncate, garbage, empty, directory, pickled_npz, missing):
        add(f"import_torch/npz/{how.__name__}", npz, "w.npz", how, uses="config")
    add("import_torch/npz/foreign", npz, "w.npz",
        copy_of(lambda real, p: real.run / "logits.npz"), uses="config")
    add("import_torch/npz/shapes", npz, "w.npz", npz_edit(wrong_weight_shape), uses="config",
        names="weight")
    for how in (truncate, garbage, empty, torch_object, torch_list, torch_non_tensor):
        add(f"import_torch/pth/{how.__name__}", pth, "w.pth", how, uses="config")
    add("import_torch/--output_is_a_directory",
        [*IMPORT[:-2], "--output", "{dir}/o.keras", "--weights", "{dir}/w.npz"], "o.keras",
        directory, uses="config", names="o.keras")

    # Config files of any command.
    for how in (garbage, utf16, directory):
        add(f"summary/--config/{how.__name__}", [*SUMMARY, "--config", "{dir}/c.yaml"],
            "c.yaml", lambda p, real, how=how: (p.write_text("model: {}\n"), how(p, real)),
            uses="none")
    return c


CASES = _cases()


def _read_only_cases():
    """Read-only locations: run by a process that permissions apply to (see _no_overrides)."""
    ro = dict(breaks=read_only, names="cannot write in")
    return [
        Case("train/read_only_workdir", TRAIN, "run", **ro),
        Case("train/read_only_fresh_workdir", [*TRAIN[:3], "{dir}/ro/w", *TRAIN[4:]], "ro",
             uses="none", **ro),
        Case("evaluate/read_only_workdir", EVALUATE, "run", uses="eval", **ro),
        Case("evaluate/--output_in_a_read_only_directory",
             [*FROM_LOGITS[:-1], "{dir}/ro/eval"], "ro", uses="eval", **ro),
        Case("convert/--output_in_a_read_only_directory", [*CONVERT[:-1], "{dir}/ro/out"],
             "ro", uses="convert", **ro),
        Case("harness/--report_in_a_read_only_directory",
             [*HARNESS, "--report", "{dir}/ro/r.json"], "ro", uses="conv", **ro),
        # Running a conversion needs no write access to it.
        Case("harness/read_only_models_folder", [*HARNESS, "--report", "{dir}/r.json"], "conv",
             uses="conv", code=0, unchanged=False, breaks=read_only),
        # The benchmark writes its latency files into the models folder.
        Case("benchmark/read_only_models_folder", BENCHMARK, "conv", uses="conv",
             breaks=read_only, names="each model folder: copy the folder to a writable"),
        Case("import_torch/--output_in_a_read_only_directory",
             [*IMPORT[:-2], "--output", "{dir}/ro/o.keras", "--weights", "{dir}/w.npz"], "ro",
             uses="config", **ro),
    ]


READ_ONLY_CASES = _read_only_cases()


def _prepare(case, real, root):
    """The case's directory: copies of the files it uses, broken as the case says."""
    case_dir = root / case.id.replace("/", "__")
    case_dir.mkdir(parents=True)
    if case.uses in RUN_FILES:
        (case_dir / "run").mkdir()
        for name in RUN_FILES[case.uses]:
            if (real.run / name).exists():
                shutil.copy2(real.run / name, case_dir / "run" / name)
    if case.needs_conversion():
        shutil.copytree(real.conversion, case_dir / "conv")
    if "{dir}/w.npz" in case.argv:
        shutil.copyfile(real.weights_npz, case_dir / "w.npz")
    if "{dir}/w.pth" in case.argv:
        shutil.copyfile(real.weights_pth, case_dir / "w.pth")
    if case.breaks is not None:
        case.breaks(case_dir / case.target, real)
    return case_dir


def _argv(argv, case_dir):
    subst = {"{run}": str(case_dir / "run"), "{conv}": str(case_dir / "conv"),
             "{dir}": str(case_dir)}
    out = []
    for a in argv:
        for k, v in subst.items():
            a = a.replace(k, v)
        out.append(a)
    return out


def _no_overrides():
    """For a driver run as root: drops the capabilities that let root write anywhere
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from the bounding set before exec, so that file
    permissions apply to it as to any user. Runs in the child, between fork and exec."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # linux/capability.h
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_cases(cases, real, root, preexec_fn=None):
    """Runs `cases` in one driver process; {case id: result, with digests before/after}."""
    from msdnet_tf.workdir import DirectoryLock

    jobs, before, dirs = [], {}, {}
    with contextlib.ExitStack() as held:
        for case in cases:
            case_dir = _prepare(case, real, root)
            before[case.id], dirs[case.id] = tree_digest(case_dir), case_dir
            if case.locked:
                held.enter_context(DirectoryLock(case_dir / case.locked))
                before[case.id] = tree_digest(case_dir)
            jobs.append({"id": case.id, "argv": _argv(case.argv, case_dir),
                         "digest": str(case_dir)})
            if case.after:
                jobs.append({"id": case.id + "/after", "argv": _argv(case.after[0], case_dir)})
        cases_file, results_file = root / "cases.json", root / "results.json"
        cases_file.write_text(json.dumps(jobs))
        proc = subprocess.run([sys.executable, str(REPO / "tests" / "reliability" / "driver.py"),
                               str(cases_file), str(results_file)], cwd=REPO, env=CLI_ENV,
                              capture_output=True, text=True, timeout=1800,
                              preexec_fn=preexec_fn)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(results_file.read_text())
    for case in cases:
        results[case.id]["digest_before"] = before[case.id]
        results[case.id]["dir"] = str(dirs[case.id])
    return results


@pytest.fixture(scope="module")
def outcomes(real_files, tmp_path_factory):
    return run_cases(CASES, real_files, tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def read_only_outcomes(real_files, tmp_path_factory):
    preexec_fn = None
    if os.geteuid() == 0:
        try:
            subprocess.run([sys.executable, "-c", ""], check=True, preexec_fn=_no_overrides)
        except (OSError, subprocess.SubprocessError) as e:
            pytest.skip(f"root cannot give up CAP_DAC_OVERRIDE here ({e}), so nothing is "
                        "read-only to it")
        preexec_fn = _no_overrides
    return run_cases(READ_ONLY_CASES, real_files, tmp_path_factory.mktemp("read_only"),
                     preexec_fn)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def problems(case, r, after=None):
    """What is wrong with the outcome `r` of `case` (empty when it behaved)."""
    out = []
    if "Traceback" in r["stderr"]:
        out.append("traceback")
    if r["code"] != case.code:
        out.append(f"exit code {r['code']}, expected {case.code}")
    if case.code == 2:
        lines = error_lines(r["stderr"])
        if len(lines) != 1:
            out.append(f"{len(lines)} lines on stderr")
        name = case.names or Path(case.target).name
        if not any(name in line for line in lines[:1]):
            out.append(f"{name!r} not named")
        if lines and ": error: " not in lines[0]:
            out.append("not an error line")
        if any(u in r["stderr"] for u in ("allow_pickle", "weights_only", "safe_mode")):
            out.append("suggests unsafe loading")
    if case.unchanged and r.get("digest_after") != r["digest_before"]:
        out.append("files changed")
    if case.after and after is not None and after["code"] != case.after[1]:
        out.append(f"follow-up command: exit code {after['code']}, expected {case.after[1]}")
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, outcomes):
    r = outcomes[case.id]
    found = problems(case, r, outcomes.get(case.id + "/after"))
    assert not found, (f"{case.id}: {'; '.join(found)}\nstdout:\n{r['stdout'][-1500:]}"
                       f"\nstderr:\n{r['stderr'][-3000:]}")


@pytest.mark.parametrize("case", READ_ONLY_CASES, ids=[c.id for c in READ_ONLY_CASES])
def test_read_only_case(case, read_only_outcomes):
    r = read_only_outcomes[case.id]
    found = problems(case, r)
    assert not found, (f"{case.id}: {'; '.join(found)}\nstdout:\n{r['stdout'][-1500:]}"
                       f"\nstderr:\n{r['stderr'][-3000:]}")


def test_two_trains_on_one_workdir(tmp_path):
    """The same train command started twice: the second is refused with the first's pid
    while the first goes on, holding its lock."""
    workdir = tmp_path / "w"
    argv = [sys.executable, "-m", "msdnet_tf.train", "--workdir", str(workdir), "--quiet",
            *OVERRIDES, "--override", "train.steps_per_epoch=100000"]
    log = tmp_path / "first.log"
    with open(log, "w") as f:
        first = subprocess.Popen(argv, cwd=REPO, env=CLI_ENV, stdout=f, stderr=f)
    try:
        deadline = time.monotonic() + 300
        while not (workdir / ".lock").exists():
            assert first.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the first train never locked its workdir"
            time.sleep(0.2)
        second = subprocess.run(argv, cwd=REPO, env=CLI_ENV, capture_output=True, text=True,
                                timeout=600)
        assert first.poll() is None, "the first train stopped while the second ran"
        # A fresh interpreter: TensorFlow's C++ runtime prints its start-up lines (absl
        # log format) whatever TF_CPP_MIN_LOG_LEVEL says; the driver's cases share one start.
        lines = [line for line in error_lines(second.stderr)
                 if not re.match(r"(WARNING: All log messages before absl|[IWE]\d{4} )", line)]
        assert second.returncode == 2 and len(lines) == 1, second.stderr[-3000:]
        assert f"is in use by process {first.pid} (" in lines[0] and str(workdir) in lines[0]
        assert "Traceback" not in second.stderr
        assert json.loads((workdir / ".lock").read_text())["pid"] == first.pid
    finally:
        first.kill()
        first.wait()


def _strict_json(path):
    def refuse(name):
        raise ValueError(f"{name} in {path}")
    return json.loads(Path(path).read_text(), parse_constant=refuse)


def test_reports_are_strict_json_and_runs_release_their_workdir(outcomes):
    """The report written into a new directory parses without NaN/Infinity; the stale lock
    was taken over and released (no .lock left behind); a refused run left no .lock."""
    r = outcomes["harness/--report_into_a_missing_directory"]
    report = _strict_json(Path(r["dir"]) / "new" / "dir" / "r.json")
    assert sum(report["exit_counts"]) == 20 and report["mean_latency_ms"] > 0
    stale = Path(outcomes["train/stale_lock_of_a_killed_process"]["dir"]) / "run"
    assert (stale / "model.keras").is_file() and not (stale / ".lock").exists()
    for case_id in ("train/poisoning", "train/latest.npz/truncate"):
        assert not (Path(outcomes[case_id]["dir"]) / "run" / ".lock").exists()


def test_a_damaged_optional_input_is_one_warning_line(outcomes):
    """benchmark plots the source run's accuracy curve when its logits are usable; a damaged
    logits file is one warning line, and the benchmark itself goes on."""
    r = outcomes["benchmark/run_logits_damaged"]
    lines = error_lines(r["stderr"])
    assert len(lines) == 1 and lines[0].startswith("warning: logits file "), r["stderr"]
    assert "leave out the accuracy curve" in lines[0]
    summary = _strict_json(Path(r["dir"]) / "s.json")
    assert summary[0]["latency"]["reps"] == 2
