"""Runs many CLI invocations in one process, each exactly as `python -m X` / `python FILE` would.

    python tests/reliability/driver.py CASES.json RESULTS.json

CASES.json: [{"id": ..., "argv": ["-m", "msdnet_tf.evaluate", ...] or ["tflite/harness.py", ...],
"digest": a directory to fingerprint right after the case, or null}].
Each case runs through runpy (run_name "__main__", sys.argv set), with Python's stdout and
stderr captured; an exception escaping the CLI is printed the way the interpreter prints
it ("Traceback ...") and gives exit code 1. TensorFlow and the other heavy modules are
imported once, so a case costs what the CLI itself does. Starting a fresh interpreter per
case would cost about 5 s of CPU each; the exit codes and messages are the same.
"""

import contextlib
import hashlib
import io
import json
import os
import runpy
import sys
import time
import traceback
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tree_digest(root):
    """sha256 over every path and file content under `root` (what "unchanged" means)."""
    digest = hashlib.sha256()
    root = Path(root)
    if not root.exists():
        return None
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _reset():
    """Process-wide settings a CLI may change (the Keras dtype policy)."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.mixed_precision.set_global_policy("float32")


def run_case(argv):
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    start = time.perf_counter()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        # The interpreter's default filters; entering catch_warnings also resets the
        # "already shown" records, so every case shows its warnings as a fresh process would.
        try:
            if argv[0] == "-m":
                sys.argv = [argv[1], *argv[2:]]
                runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
            else:
                sys.argv = [str(REPO / argv[0]), *argv[1:]]
                runpy.run_path(str(REPO / argv[0]), run_name="__main__")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if e.code is not None and not isinstance(e.code, int):
                print(e.code, file=sys.stderr)
        except BaseException:  # noqa: BLE001 - what the interpreter would print
            traceback.print_exc()
            code = 1
        finally:
            sys.argv, sys.path[:] = saved_argv, saved_path
            _reset()
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
            "seconds": time.perf_counter() - start}


def main():
    cases = json.loads(Path(sys.argv[1]).read_text())
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))  # as `python -m` from the repository root
    import msdnet_tf  # noqa: F401  the heavy imports, once
    from msdnet_tf.training.strategy import apply_threads

    # What the train CLI applies at start (train.*_op_threads=-1), before TensorFlow's
    # runtime starts, so that later cases do not warn that it cannot be changed any more.
    apply_threads(-1, -1)
    results = {}
    for case in cases:
        results[case["id"]] = run_case(case["argv"])
        if case.get("digest"):
            results[case["id"]]["digest_after"] = tree_digest(case["digest"])
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
