"""`python -m msdnet_tf.evaluate` end to end, in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from msdnet_tf.evaluation import load_thresholds, save_logits

from .helpers import logits_arrays

ROOT = Path(__file__).resolve().parents[2]


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "msdnet_tf.evaluate", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=120)


@pytest.fixture(scope="module")
def logits_file(tmp_path_factory):
    arrays = logits_arrays(np.random.default_rng(11), num_exits=4, n_val=400, n_test=300)
    return save_logits(tmp_path_factory.mktemp("run") / "logits.npz", **arrays, model="tiny")


def test_end_to_end_with_flops_budget(tmp_path, logits_file):
    out = tmp_path / "eval"
    r = run("--from-logits", logits_file, "--output", out, "--budget-flops", "5e6",
            "--published", "cifar100", "--override", "eval.num_q=10")
    assert r.returncode == 0, r.stderr
    for name in ("anytime.json", "budgeted.json", "anytime.png", "budgeted.png",
                 "thresholds.json"):
        assert (out / name).is_file(), name
    assert len(json.loads((out / "budgeted.json").read_text())["points"]) == 10
    t = load_thresholds(out / "thresholds.json", num_exits=4, model="tiny")
    assert t.budget["requested"] == 5e6 and t.budget["achieved_val"] <= 5e6
    assert "exit_3" in r.stdout and "Budget: 5.00M FLOPs" in r.stdout


def test_latency_budget_and_default_output_dir(tmp_path, logits_file):
    local = save_logits(tmp_path / "logits.npz", **logits_arrays(np.random.default_rng(12),
                                                                 num_exits=3))
    latency = tmp_path / "latency.json"
    latency.write_text(json.dumps({"device": "cpu", "threads": 2, "mode": "float", "exits": [
        {"exit": k, "stage_ms": 1.0, "path_ms": 1.0 + k, "truncated_ms": 1.0 + k}
        for k in range(3)]}))
    r = run("--from-logits", local, "--budget-ms", "1.8", "--latency", latency)
    assert r.returncode == 0, r.stderr
    t = load_thresholds(tmp_path / "thresholds.json", num_exits=3)
    assert t.budget["metric"] == "latency_ms" and t.budget["achieved_val"] <= 1.8
    assert (tmp_path / "budgeted.png").is_file()


def _one_line_error(r, text):
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    # Our own lines only: TensorFlow prints start-up notes to stderr when it loads.
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("msdnet_tf.")]
    assert len(lines) == 1 and text in lines[0], r.stderr


def test_bad_logits_file(tmp_path):
    arrays = logits_arrays(np.random.default_rng(13))
    arrays["test_labels"][0] = 99
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    r = run("--from-logits", bad, "--output", tmp_path / "out")
    _one_line_error(r, f"logits file {bad}: test_labels holds label 99")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, text", [
    (["--budget-flops", "1e3"], "below the cost of exit_0"),
    (["--budget-ms", "5", "--latency", "missing.json"], "latency file missing.json does not exist"),
    (["--override", "eval.num_q=40"], "eval.num_q must be in [1, 39]"),
])
def test_user_errors(tmp_path, logits_file, args, text):
    _one_line_error(run("--from-logits", logits_file, "--output", tmp_path, *args, cwd=tmp_path),
                    text)


def test_workdir_mode(tmp_path):
    _one_line_error(run("--workdir", tmp_path), f"{tmp_path} is not a training run")
    save_logits(tmp_path / "logits.npz", **logits_arrays(np.random.default_rng(14)))
    r = run("--workdir", tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "anytime.json").is_file() and (tmp_path / "budgeted.png").is_file()


def test_budget_ms_needs_latency(tmp_path, logits_file):
    r = run("--from-logits", logits_file, "--budget-ms", "3")
    assert r.returncode == 2 and "--budget-ms needs --latency" in r.stderr
