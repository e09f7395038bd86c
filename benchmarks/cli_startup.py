"""Start-up time and start-up noise of every command-line entry point.

    python benchmarks/cli_startup.py timing [--reps 3] [--json OUT.json]
    python benchmarks/cli_startup.py noise [--json OUT.json]

`timing`: wall time and CPU time (user + system, of the process and its children) of
`--help` and of an argument error (an unknown flag) per command, the median of --reps runs
in fresh processes, with the number of stderr lines and of
TensorFlow/absl/oneDNN/CUDA start-up lines among them. Wall time wants the machine to
itself; CPU time barely moves when other work shares the machine.

`noise`: real runs on tiny inputs (a 2-step training run on scikit-learn's digits, its
evaluation, float TFLite conversion, the harness and, where present, msdnet_tf.predict),
counting their start-up lines on stderr.

Runs the commands of the checkout it lives in, with the interpreter running it.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = [
    ("msdnet_tf.train", ["-m", "msdnet_tf.train"]),
    ("msdnet_tf.evaluate", ["-m", "msdnet_tf.evaluate"]),
    ("msdnet_tf.summary", ["-m", "msdnet_tf.summary"]),
    ("msdnet_tf.import_torch", ["-m", "msdnet_tf.import_torch"]),
    ("msdnet_tf.demo", ["-m", "msdnet_tf.demo"]),
    ("msdnet_tf.predict", ["-m", "msdnet_tf.predict"]),
    ("msdnet_tf.export.qat", ["-m", "msdnet_tf.export.qat"]),
    ("tflite/convert.py", ["tflite/convert.py"]),
    ("tflite/harness.py", ["tflite/harness.py"]),
    ("tflite/benchmark.py", ["tflite/benchmark.py"]),
    ("tflite/benchmark_parse.py", ["tflite/benchmark_parse.py"]),
]
# What TensorFlow, LiteRT, absl, oneDNN and CUDA print by themselves at start-up.
NOISE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]"  # absl/glog C++ log line
    r"|INFO: Created TensorFlow Lite XNNPACK delegate"
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|To enable the following instructions:"
    r"|.*(?:oneDNN custom operations|cuda drivers|cuInit|TF-TRT|rebuild TensorFlow))")


def cpu_model():
    from msdnet_tf.machine import cpu_model as model

    return model()


def exists(argv):
    if argv[0] == "-m":
        return (REPO / (argv[1].replace(".", "/") + ".py")).is_file()
    return (REPO / argv[0]).is_file()


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv, env=None, cwd=REPO):
    start, cpu_start = time.perf_counter(), _children_cpu()
    proc = subprocess.run([sys.executable] + argv, cwd=cwd, capture_output=True, text=True,
                          env=env)
    seconds = time.perf_counter() - start
    cpu_seconds = _children_cpu() - cpu_start
    lines = proc.stderr.splitlines()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "returncode": proc.returncode,
            "stderr_lines": len(lines),
            "noise_lines": sum(bool(NOISE.match(line)) for line in lines),
            "stdout_bytes": len(proc.stdout), "stderr": proc.stderr,
            "other_stderr": [line for line in lines if not NOISE.match(line)]}


def clean_env():
    """The user's environment without TensorFlow logging settings (as on a fresh shell)."""
    env = dict(os.environ)
    for key in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MAX_VLOG_LEVEL"):
        env.pop(key, None)
    return env


def timing(reps):
    rows = []
    env = clean_env()
    for name, argv in COMMANDS:
        if not exists(argv):
            rows.append({"command": name, "present": False})
            continue
        row = {"command": name, "present": True}
        for case, extra in (("help", ["--help"]), ("argerror", ["--no-such-flag"])):
            runs = [run(argv + extra, env) for _ in range(reps)]
            row[case] = {
                "median_s": statistics.median(r["seconds"] for r in runs),
                "min_s": min(r["seconds"] for r in runs),
                "median_cpu_s": statistics.median(r["cpu_seconds"] for r in runs),
                "returncode": runs[-1]["returncode"],
                "stderr_lines": runs[-1]["stderr_lines"],
                "noise_lines": runs[-1]["noise_lines"],
            }
        rows.append(row)
        print(f"{name:28} help {row['help']['median_s']:6.2f} s "
              f"(CPU {row['help']['median_cpu_s']:.2f} s, {row['help']['noise_lines']} noise "
              f"lines)   argerror {row['argerror']['median_s']:6.2f} s "
              f"(CPU {row['argerror']['median_cpu_s']:.2f} s) rc {row['argerror']['returncode']} "
              f"({row['argerror']['noise_lines']} noise lines)", flush=True)
    return rows


def _tiny_config(folder):
    path = Path(folder, "tiny.yaml")
    path.write_text(
        "model: {num_blocks: 3, step_mode: even, step: 1, base: 2, num_channels: 8,\n"
        "        growth_rate: 4, num_classes: 10, image_size: 32, stem: cifar}\n"
        "data: {dataset: digits, holdout_size: 100, train_limit: 64, test_limit: 64}\n"
        "train: {epochs: 1, batch_size: 16, steps_per_epoch: 2}\n"
        "eval: {batch_size: 64}\n"
        "export: {calibration_images: 8, fidelity_images: 16}\n")
    return path


def noise():
    env = clean_env()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _tiny_config(tmp)
        run_dir, out = Path(tmp, "run"), Path(tmp, "tflite")
        images = Path(tmp, "images")
        images.mkdir()
        cases = [
            ("msdnet_tf.summary", ["-m", "msdnet_tf.summary", "--config", str(cfg)]),
            ("msdnet_tf.train", ["-m", "msdnet_tf.train", "--config", str(cfg),
                                 "--workdir", str(run_dir)]),
            ("msdnet_tf.evaluate", ["-m", "msdnet_tf.evaluate", "--workdir", str(run_dir)]),
            ("tflite/convert.py", ["tflite/convert.py", "--workdir", str(run_dir),
                                   "--output", str(out), "--mode", "float"]),
            ("tflite/harness.py", ["tflite/harness.py", "--models", str(out), "--dataset",
                                   "digits", "--limit", "20"]),
            ("msdnet_tf.predict", ["-m", "msdnet_tf.predict", "--workdir", str(run_dir),
                                   str(images)]),
        ]
        for name, argv in cases:
            if name == "msdnet_tf.predict":
                if not exists(argv):
                    rows.append({"command": name, "present": False})
                    continue
                _write_digit_images(images)
            r = run(argv, env)
            rows.append({"command": " ".join([name] + argv[2 if argv[0] == "-m" else 1:])
                         .replace(tmp, "$TMP"), "present": True,
                         "returncode": r["returncode"], "seconds": r["seconds"],
                         "cpu_seconds": r["cpu_seconds"],
                         "stderr_lines": r["stderr_lines"], "noise_lines": r["noise_lines"],
                         "stdout_bytes": r["stdout_bytes"],
                         "other_stderr": r["other_stderr"][:10]})
            print(f"{name:22} rc {r['returncode']}  {r['seconds']:6.1f} s  stderr "
                  f"{r['stderr_lines']} lines, {r['noise_lines']} start-up noise", flush=True)
            if r["returncode"] != 0:
                print(r["stderr"][-2000:], file=sys.stderr)
    return rows


def _write_digit_images(folder):
    import numpy as np
    from PIL import Image
    from sklearn import datasets

    digits = datasets.load_digits()
    for i in range(3):
        image = np.round(digits.images[i] * (255.0 / 16.0)).astype(np.uint8)
        Image.fromarray(image).save(Path(folder, f"digit_{i}.png"))


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("part", choices=("timing", "noise"))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--json", help="write the results here too")
    args = p.parse_args()
    meta = {"date": datetime.date.today().isoformat(), "cpu": cpu_model(),
            "cores": os.cpu_count(), "python": platform.python_version(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                     capture_output=True, text=True).stdout.strip()}
    print(f"{meta['date']}, {meta['cpu']}, {meta['cores']} cores, commit {meta['commit']}")
    rows = timing(args.reps) if args.part == "timing" else noise()
    if args.json:
        Path(args.json).write_text(json.dumps({**meta, "part": args.part, "rows": rows},
                                              indent=1) + "\n")


if __name__ == "__main__":
    main()
