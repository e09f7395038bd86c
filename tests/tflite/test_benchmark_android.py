"""tflite/benchmark_android.sh end to end, with a fake `adb` that answers like a phone.

The fake prints benchmark_model output quoted in test_benchmark_parse.py (with its
source), so the script's flags, file pushes and the parse into latency.json are checked
without a device.
"""

import json
import os
import stat
import subprocess

import pytest

from tests.conftest import REPO
from tests.tflite.test_benchmark_parse import PHONE_GPU, TI_XNNPACK

FAKE_ADB = r"""#!/usr/bin/env bash
[ "$1" = -s ] && shift 2
echo "$*" >> "$FAKE_LOG"
case "$1" in
  get-state) echo device ;;
  push) [ -f "$2" ] || { echo "no such file $2" >&2; exit 1; } ;;
  shell)
    case "$*" in
      *ro.product.manufacturer*) printf 'Google\r\n' ;;
      *ro.product.model*) printf 'Pixel 7\r\n' ;;
      *ro.soc.model*) printf 'Tensor G2\r\n' ;;
      *signature_to_run_for=stage_*) cat "$FAKE_DIR/stage.txt" ;;
      *benchmark_model*) cat "$FAKE_DIR/exit.txt" ;;
    esac ;;
esac
"""


@pytest.fixture
def phone(tmp_path):
    fake = tmp_path / "bin" / "adb"
    fake.parent.mkdir()
    fake.write_text(FAKE_ADB)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "stage.txt").write_text(TI_XNNPACK)
    (tmp_path / "exit.txt").write_text(PHONE_GPU)
    models = tmp_path / "out"
    models.mkdir()
    manifest = {"num_exits": 2, "mode": "float", "model": "abc",
                "cascade": {"file": "cascade.tflite"},
                "exits": [{"exit": 0, "file": "exit_0.tflite", "cumulative_flops": 1e6},
                          {"exit": 1, "file": "exit_1.tflite", "cumulative_flops": 3e6}]}
    (models / "manifest.json").write_text(json.dumps(manifest))
    (models / "cascade.tflite").write_bytes(b"tflite")
    (models / "exit_0.tflite").write_bytes(b"tflite")  # exit_1.tflite absent: skipped
    (tmp_path / "benchmark_model").write_bytes(b"\x7fELF")
    env = {**os.environ, "ADB": str(fake), "FAKE_DIR": str(tmp_path),
           "FAKE_LOG": str(tmp_path / "adb.log")}
    return tmp_path, models, env


def run_script(env, *args):
    return subprocess.run(["bash", str(REPO / "tflite" / "benchmark_android.sh"), *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_times_every_stage_and_present_exit_files(phone):
    tmp, models, env = phone
    out = tmp / "latency.json"
    r = run_script(env, "--models", str(models), "--benchmark-model", str(tmp / "benchmark_model"),
                   "--threads", "2", "--gpu", "--runs", "30", "--taskset", "f0",
                   "--output", str(out))
    assert r.returncode == 0, r.stderr
    calls = (tmp / "adb.log").read_text().splitlines()
    tool = [c for c in calls if "benchmark_model --graph" in c]
    assert len(tool) == 3  # stage_0, stage_1, exit_0.tflite
    assert "--signature_to_run_for=stage_1" in tool[1]
    assert tool[0].startswith("shell taskset f0 /data/local/tmp/")
    for flag in ("--num_threads=2", "--num_runs=30", "--warmup_runs=5", "--use_gpu=true"):
        assert all(flag in c for c in tool), flag
    assert "exit_0.tflite" in tool[2]
    data = json.loads(out.read_text())
    assert data["device"] == "Google Pixel 7 (Tensor G2)"
    assert data["threads"] == 2 and data["accelerator"] == "gpu"
    assert [e["path_ms"] for e in data["exits"]] == pytest.approx([899.281, 2 * 899.281])
    assert data["exits"][0]["truncated_ms"] == pytest.approx(119.375)
    assert data["exits"][1]["truncated_ms"] is None
    assert (tmp / "latency.json.logs" / "stage_0.log").read_text() == TI_XNNPACK


def test_refuses_without_a_phone_or_the_tool(phone):
    tmp, models, env = phone
    r = run_script(env, "--models", str(models))
    assert r.returncode == 2 and "--benchmark-model PATH is required" in r.stderr
    (tmp / "bin" / "adb").write_text("#!/usr/bin/env bash\necho unauthorized\n")
    r = run_script(env, "--models", str(models), "--benchmark-model", str(tmp / "benchmark_model"))
    assert r.returncode == 2 and "no phone ready over adb (state: unauthorized)" in r.stderr
    r = run_script(env, "--models", str(tmp), "--benchmark-model", str(tmp / "benchmark_model"))
    assert r.returncode == 2 and "manifest.json not found" in r.stderr
