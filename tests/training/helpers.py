"""Running `python -m msdnet_tf.train` on digits with a tiny model, in subprocesses."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from tests.conftest import REPO, TINY

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
TIMEOUT = 240  # seconds for one training process; the CPU may be shared

# The TINY network of tests/conftest.py on sklearn's 8x8 digits (1,197 train, 300
# hold-out, 300 test images), upsampled to 32x32.
DIGITS = [f"model.{k}={json.dumps(v)}" for k, v in TINY.items()] + [
    "data.dataset=digits", "train.batch_size=32", "eval.batch_size=300"]


def train_command(workdir, *overrides, quiet=True):
    cmd = [sys.executable, "-m", "msdnet_tf.train", "--workdir", str(workdir)]
    for text in [*DIGITS, *overrides]:
        cmd += ["--override", text]
    return cmd + (["--quiet"] if quiet else [])


def run(cmd, timeout=TIMEOUT, env=None):
    """Runs `cmd` to completion (killed after `timeout` s); a CompletedProcess."""
    return subprocess.run(cmd, cwd=REPO, env=env or ENV, capture_output=True, text=True,
                          timeout=timeout)


def train(workdir, *overrides, timeout=TIMEOUT):
    """Trains to completion; asserts exit 0 and returns the CompletedProcess."""
    proc = run(train_command(workdir, *overrides), timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def start(cmd, env=None, log=None):
    """Popen of `cmd` in its own process group, stdout+stderr to the file `log`."""
    out = open(log, "w") if log else subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=REPO, env=env or ENV, stdout=out, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def kill(proc):
    """SIGKILLs `proc` (started by `start`) and its process group, if still running."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def wait_for(predicate, timeout, procs=(), interval=0.05):
    """Polls `predicate` until true; False on timeout or when one of `procs` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if any(p.poll() is not None for p in procs):
            return predicate()
        time.sleep(interval)
    return False


def free_ports(n):
    """`n` distinct TCP ports free on localhost right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("localhost", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def read_history(workdir):
    path = workdir / "history.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
