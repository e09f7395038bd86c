"""A corrupt or mismatched run directory is a one-line error."""

import json
import shutil
import subprocess
import sys

import pytest

from msdnet_tf.cli import UserError
from msdnet_tf.export.pipeline import load_for_export, run_thresholds
from tests.conftest import REPO


def _copy(trained_run, tmp_path):
    dest = tmp_path / "run"
    shutil.copytree(trained_run, dest, ignore=shutil.ignore_patterns("tensorboard"))
    return dest


def test_missing_model_is_a_clear_error(trained_run, tmp_path):
    run = _copy(trained_run, tmp_path)
    (run / "model.keras").unlink()
    with pytest.raises(UserError, match="no model.keras"):
        load_for_export(run)


def test_config_not_matching_weights(trained_run, tmp_path):
    run = _copy(trained_run, tmp_path)
    text = (run / "config.yaml").read_text().replace("growth_rate: 4", "growth_rate: 6")
    (run / "config.yaml").write_text(text)
    with pytest.raises(UserError, match="does not match"):
        load_for_export(run)


def test_corrupt_model_file(trained_run, tmp_path):
    run = _copy(trained_run, tmp_path)
    (run / "model.keras").write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="model.keras is not a zip archive"):
        load_for_export(run)


def test_override_may_not_change_the_model(trained_run):
    with pytest.raises(UserError, match="model section"):
        load_for_export(trained_run, overrides=["model.num_channels=16"])


def test_thresholds_of_another_model_are_refused(trained_run, tmp_path):
    run = _copy(trained_run, tmp_path)
    (run / "thresholds.json").write_text(json.dumps(
        {"exits": 3, "thresholds": [0.9, 0.8, "-inf"], "criterion": "max_softmax",
         "model": "0000000000000000"}))
    with pytest.raises(UserError, match="was made for model"):
        run_thresholds(run, 3, "1111111111111111")
    assert run_thresholds(run, 3, "0000000000000000")["thresholds"][2] == "-inf"
    (run / "budgeted.json").write_text(json.dumps({"model": "2222222222222222", "points": []}))
    with pytest.raises(UserError, match="budgeted.json was made for model"):
        run_thresholds(run, 3, "0000000000000000")


def test_cli_prints_one_line_error(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "tflite" / "convert.py"), "--workdir", str(tmp_path),
         "--mode", "float", "--output", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    # TensorFlow's own start-up log may mention "errors"; ours is the one prefixed line.
    lines = [line for line in result.stderr.splitlines()
             if line.startswith("convert.py: error:")]
    assert lines == [f"convert.py: error: {tmp_path} is not a training run: no "
                     f"config.yaml (train first: python -m msdnet_tf.train --config FILE "
                     f"--workdir {tmp_path})"]
    assert "Traceback" not in result.stderr
