"""`python -m msdnet_tf.train` end to end on digits with a tiny model, in subprocesses.

Outputs of a finished run, kill-and-resume of a real process (same end state as
an uninterrupted run), fail-fast errors, mixed precision.
"""

import json
import math
import re
import sys
import time

import numpy as np
import pytest

from msdnet_tf import config as config_lib
from tests.conftest import TINY

from .helpers import (DIGITS, TIMEOUT, kill, read_history, run, start, train, train_command,
                      wait_for)

EPOCHS, STEPS = 3, 8
RUN = [f"train.epochs={EPOCHS}", f"train.steps_per_epoch={STEPS}"]
NUM_EXITS = TINY["num_blocks"]
OUTPUTS = ("config.yaml", "holdout.json", "history.jsonl", "latest.npz", "best.weights.h5",
           "results.json", "model.keras", "tensorboard")


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """A workdir trained for EPOCHS epochs in one go."""
    workdir = tmp_path_factory.mktemp("straight")
    train(workdir, *RUN)
    return workdir


def load_arrays(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files if k != "meta"}


def file_stamps(workdir):
    return {p.relative_to(workdir): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in workdir.rglob("*")}


# ---------------------------------------------------------------------------- outputs
def test_writes_every_output(straight):
    for name in OUTPUTS:
        assert (straight / name).exists(), name
    assert list((straight / "tensorboard").glob("events.out.tfevents.*"))


def test_history_lines(straight):
    history = read_history(straight)
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    times = [r["time"] for r in history]
    assert times == sorted(times) and abs(times[-1] - time.time()) < 3600
    for r in history:
        assert {"epoch", "time", "lr", "loss", "val_top1"} <= set(r)
        assert math.isfinite(r["loss"]) and r["loss"] > 0
        # Exit weights are all 1: the loss is the sum of the exits' cross-entropies.
        assert r["loss"] == pytest.approx(sum(r["train_loss"]))
        assert len(r["val_top1"]) == NUM_EXITS
        for v in r["val_top1"]:
            # Percent of the 300 hold-out images.
            assert 0 <= v <= 100 and v * 3 == pytest.approx(round(v * 3))
    # 3 epochs, boundaries 0.5 and 0.75: decay once epoch >= 1.5 and >= 2.25 (0-based), as
    # in the reference, so epochs 1, 2, 3 run at 0.1, 0.1, 0.01.
    assert [r["lr"] for r in history] == pytest.approx([0.1, 0.1, 0.01])


def test_config_yaml_is_the_run_config(straight):
    saved = config_lib.load_config(straight / "config.yaml")
    assert saved == config_lib.load_config(overrides=[*DIGITS, *RUN])
    assert saved.data.dataset == "digits" and saved.train.epochs == EPOCHS


def test_results_json(straight):
    results = json.loads((straight / "results.json").read_text())
    history = read_history(straight)
    for key in ("val_top1", "test_top1"):
        assert len(results[key]) == NUM_EXITS
        assert all(0 <= v <= 100 for v in results[key])
    assert results["epochs"] == EPOCHS
    assert results["num_val"] == 300 and results["num_test"] == 300
    last_exit = [r["val_top1"][-1] for r in history]
    assert results["best_epoch"] == 1 + int(np.argmax(last_exit))
    # model.keras / results.json come from the best epoch's weights.
    assert results["val_top1"] == pytest.approx(history[results["best_epoch"] - 1]["val_top1"])
    assert len(results["exit_cumulative_flops"]) == NUM_EXITS
    # train.*_op_threads=-1 (auto) in a fresh process: one thread per op, as many ops at
    # once as cores, on a CPU-only machine with <= 4 cores; TF's defaults (0) elsewhere.
    import os

    import tensorflow as tf

    cores = os.cpu_count()
    small_cpu = cores <= 4 and not tf.config.list_physical_devices("GPU")
    expected = [1, cores] if small_cpu else [0, 0]
    assert [results["intra_op_threads"], results["inter_op_threads"]] == expected


def load_saved_model(workdir):
    import keras

    import msdnet_tf

    model = keras.models.load_model(workdir / "model.keras")
    assert isinstance(model, msdnet_tf.MSDNet)
    return model


def check_float32_model(model):
    import keras

    assert all(w.dtype == "float32" for w in model.weights)
    policies = {layer.dtype_policy.name for layer in model._flatten_layers()
                if isinstance(layer.dtype_policy, keras.DTypePolicy)}
    assert policies == {"float32"}
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    outputs = model(images, training=False)
    assert sorted(outputs) == [f"exit_{k}" for k in range(NUM_EXITS)]
    for logits in outputs.values():
        assert tuple(logits.shape) == (2, 10) and logits.dtype == "float32"
        assert np.all(np.isfinite(np.asarray(logits)))


def test_model_keras_loads(straight):
    model = load_saved_model(straight)
    check_float32_model(model)
    assert model.get_config()["growth_rate"] == TINY["growth_rate"]


# ------------------------------------------------------------------ kill and resume
def test_kill_and_resume_matches_uninterrupted_run(tmp_path, straight):
    workdir = tmp_path / "run"
    cmd = train_command(workdir, *RUN)
    first = start(cmd, log=tmp_path / "first.log")
    try:
        finished = wait_for(lambda: len(read_history(workdir)) >= 1, TIMEOUT, [first])
        assert finished and first.poll() is None, (tmp_path / "first.log").read_text()
    finally:
        kill(first)  # SIGKILL: no handler, no clean-up, during epoch 2.
    assert first.returncode == -9
    done = len(read_history(workdir))
    assert 1 <= done < EPOCHS, "the run finished before it could be killed"
    assert not (workdir / "results.json").exists()
    holdout = (workdir / "holdout.json").read_bytes()

    second = train(workdir, *RUN)
    assert re.search(rf"^Resuming {re.escape(str(workdir))} after epoch {done}/{EPOCHS}$",
                     second.stdout, re.M), second.stdout
    history = read_history(workdir)
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    assert (workdir / "holdout.json").read_bytes() == holdout
    assert json.loads((workdir / "results.json").read_text())["epochs"] == EPOCHS
    assert (workdir / "model.keras").is_file()

    # Same weights, BN statistics and optimizer state (iterations, momentum) as the
    # uninterrupted run: the state restored everything and the data order per epoch
    # depends on the epoch only.
    resumed, uninterrupted = load_arrays(workdir / "latest.npz"), load_arrays(
        straight / "latest.npz")
    assert sorted(resumed) == sorted(uninterrupted)
    for key in uninterrupted:
        np.testing.assert_allclose(resumed[key], uninterrupted[key], rtol=1e-4, atol=1e-5,
                                   err_msg=key)
    reference = read_history(straight)
    for a, b in zip(history, reference):
        assert a["lr"] == b["lr"]
        assert a["val_top1"] == pytest.approx(b["val_top1"], abs=0.34)  # one image of 300
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)


def test_finished_run_resumes_without_training(straight):
    """Running again after the last epoch trains nothing and rewrites no epoch."""
    before = read_history(straight)
    proc = train(straight, *RUN)
    assert f"after epoch {EPOCHS}/{EPOCHS}" in proc.stdout
    assert read_history(straight) == before


# ----------------------------------------------------------------------- fail fast
def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("msdnet_tf.train: error:")]


def test_missing_cifar_fails_fast(tmp_path):
    manual, data_dir, workdir = tmp_path / "manual", tmp_path / "tfds", tmp_path / "run"
    manual.mkdir()
    data_dir.mkdir()
    cmd = [sys.executable, "-m", "msdnet_tf.train", "--workdir", str(workdir),
           "--override", "data.dataset=cifar10", "--override", f"data.manual_dir={manual}",
           "--override", f"data.data_dir={data_dir}", "--override", "model.num_classes=10"]
    start_time = time.monotonic()
    proc = run(cmd, timeout=120)
    elapsed = time.monotonic() - start_time
    assert proc.returncode == 2, proc.stderr
    # Starting the CLI (Python, TensorFlow) alone takes 5-20 s on 2 busy cores; a download
    # attempt with its retries would take minutes or hit the timeout.
    assert elapsed < 45, f"took {elapsed:.1f} s"
    assert "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "cifar-10-binary.tar.gz" in line and "data.manual_dir" in line and str(manual) in line
    assert proc.stdout == ""
    # Nothing downloaded, nothing trained, and the workdir stays free for another config.
    assert list(manual.iterdir()) == []
    assert not (workdir / "config.yaml").exists()
    assert not (workdir / "latest.npz").exists()


def test_resume_with_another_momentum_style_is_an_error(straight):
    """The saved velocities are sums of gradients (torch style) or lr-scaled steps (keras
    style): resuming under the other formulation would misread them."""
    before = file_stamps(straight)
    proc = run(train_command(straight, *RUN, "train.momentum_style=keras"), timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "--override train.momentum_style=torch" in line, line
    assert file_stamps(straight) == before


def test_resume_with_another_model_is_an_error(straight):
    before = file_stamps(straight)
    proc = run(train_command(straight, *RUN, "model.growth_rate=6"), timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "different model config" in line and str(straight) in line
    assert file_stamps(straight) == before


# ------------------------------------------------------------------ mixed precision
@pytest.mark.parametrize("policy", [
    "mixed_bfloat16",
    # Works on CPU, but its loss-scaling graph makes it the slowest run here (pytest -m slow).
    pytest.param("mixed_float16", marks=pytest.mark.slow)])
def test_mixed_precision_saves_a_float32_model(tmp_path, policy):
    """A couple of steps train; model.keras is a plain float32 MSDNet (_float32_copy)."""
    train(tmp_path, f"train.mixed_precision={policy}", "train.epochs=1",
          "train.steps_per_epoch=2")
    (record,) = read_history(tmp_path)
    assert math.isfinite(record["loss"])
    assert len(json.loads((tmp_path / "results.json").read_text())["test_top1"]) == NUM_EXITS
    check_float32_model(load_saved_model(tmp_path))
