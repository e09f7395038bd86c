"""A quiet, fast command line: --help and argument errors never import TensorFlow,
`import msdnet_tf` does not either (yet saved models load), real commands print no
TensorFlow start-up lines, and progress is a bar on a terminal, a few lines in a log."""

import io
import json
import os
import subprocess
import sys
import textwrap

import pytest

from msdnet_tf import _quiet
from msdnet_tf.progress import Progress
from tests.conftest import RANET_TINY, REPO, TINY

COMMANDS = [("module", "msdnet_tf.train"), ("module", "msdnet_tf.evaluate"),
            ("module", "msdnet_tf.summary"), ("module", "msdnet_tf.import_torch"),
            ("module", "msdnet_tf.demo"), ("module", "msdnet_tf.predict"),
            ("module", "msdnet_tf.export.qat"), ("module", "msdnet_tf.calibrate_bn"),
            ("script", "tflite/convert.py"), ("script", "tflite/harness.py"),
            ("script", "tflite/benchmark.py"), ("script", "tflite/benchmark_parse.py")]

# Runs one command in this process and reports which heavy modules it imported.
_PROBE = textwrap.dedent("""
    import json, runpy, sys
    kind, target, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.argv = [target] + argv
    code = 0
    try:
        if kind == "module":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, ".")
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    mods = sorted(m for m in ("tensorflow", "keras", "tensorflow_datasets", "ai_edge_litert",
                              "matplotlib.pyplot") if m in sys.modules)
    print("PROBE" + json.dumps({"code": code, "modules": mods}), file=sys.stderr)
""")


def clean_env(**extra):
    """The environment of a fresh shell: no TensorFlow log or Keras settings inherited from
    pytest (importing msdnet_tf.export.qat in-process sets TF_USE_LEGACY_KERAS=1)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_LITE_LOG_SEVERITY", "GRPC_VERBOSITY",
                        "TF_USE_LEGACY_KERAS")}
    env.update(extra)
    return env


def probe(kind, target, *argv):
    proc = subprocess.run([sys.executable, "-c", _PROBE, kind, target, *argv], cwd=REPO,
                          capture_output=True, text=True, env=clean_env(), timeout=120)
    lines = proc.stderr.splitlines()
    report = json.loads(lines[-1][len("PROBE"):])
    return report, proc.stdout, lines[:-1]


@pytest.mark.parametrize("kind, target", COMMANDS, ids=[c[1] for c in COMMANDS])
def test_help_and_argument_errors_do_not_import_tensorflow(kind, target):
    report, out, err = probe(kind, target, "--help")
    assert report == {"code": 0, "modules": []}, err
    assert "usage:" in out and not err
    report, out, err = probe(kind, target, "--no-such-flag")
    assert report == {"code": 2, "modules": []}
    assert err[-1].endswith("error: unrecognized arguments: --no-such-flag") or \
        "error:" in err[-1], err


def test_calibrate_bn_refuses_bad_values_and_locations_before_tensorflow(tmp_path):
    report, _, err = probe("module", "msdnet_tf.calibrate_bn", "--workdir", str(tmp_path),
                           "--resolution", "0")
    assert report == {"code": 2, "modules": []} and "--resolution" in err[-1], err
    report, _, err = probe("module", "msdnet_tf.calibrate_bn", "--workdir",
                           str(tmp_path / "absent"), "--resolution", "16")
    assert report == {"code": 2, "modules": []} and "not a training run" in err[-1], err
    report, _, err = probe("module", "msdnet_tf.calibrate_bn", "--workdir", str(tmp_path),
                           "--resolution", "16", "--output", str(tmp_path))
    assert report == {"code": 2, "modules": []} and "the run being calibrated" in err[-1], err


@pytest.mark.parametrize("family", ["MSDNet", pytest.param("RANet", marks=pytest.mark.slow)])
def test_import_msdnet_tf_is_light_and_saved_models_still_load(tmp_path, tiny_model, family):
    path = tmp_path / "tiny.keras"
    if family == "RANet":
        from msdnet_tf.models import RANet

        RANet(**RANET_TINY).save(path)
    else:
        tiny_model.save(path)
    orders = {  # Keras imported after msdnet_tf (registered by the import hook), and before.
        "msdnet_tf first": "import msdnet_tf\nassert 'tensorflow' not in sys.modules\n"
                           "assert 'keras' not in sys.modules\nimport keras",
        "tensorflow first, tf.keras": "import tensorflow as tf\nimport msdnet_tf\nkeras = tf.keras",
    }
    for name, prelude in orders.items():
        code = f"import sys\n{prelude}\nm = keras.models.load_model({str(path)!r})\n" \
               "print(type(m).__name__, m.num_exits)"
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                              text=True, env=clean_env(TF_CPP_MIN_LOG_LEVEL="3"), timeout=180)
        assert proc.returncode == 0, (name, proc.stderr[-2000:])
        assert proc.stdout.split()[0] == family and int(proc.stdout.split()[1]) >= 2, name


def test_msdnet_attribute_is_still_there():
    import msdnet_tf
    from msdnet_tf.models import MSDNet, RANet

    assert msdnet_tf.MSDNet is MSDNet and msdnet_tf.RANet is RANet


def test_a_real_command_prints_no_tensorflow_start_up_lines(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(json.dumps({"model": TINY, "data": {"dataset": "digits"}}))
    cmd = [sys.executable, "-m", "msdnet_tf.summary", "--config", str(cfg)]
    quiet = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=clean_env(),
                           timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert "trainable parameters" in quiet.stdout
    # --verbose shows what the quiet start hides (so the check above can see it).
    loud = subprocess.run(cmd + ["--verbose"], cwd=REPO, capture_output=True, text=True,
                          env=clean_env(), timeout=300)
    assert loud.returncode == 0
    assert any(_quiet.NOISE.match(line) for line in loud.stderr.splitlines()), loud.stderr


def test_captured_stderr_keeps_real_lines_and_everything_on_failure(capfd):
    def emit(text):
        os.write(2, text.encode())

    _quiet.configure(False)
    with _quiet.filtered_stderr():
        emit("WARNING: All log messages before absl::InitializeLog() is called are written "
             "to STDERR\nI0000 00:00:1796106799.938277   21396 port.cc:153] oneDNN custom "
             "operations are on.\nsomething real went wrong\n")
    assert capfd.readouterr().err == "something real went wrong\n"
    with pytest.raises(ImportError):
        with _quiet.filtered_stderr():
            emit("I0000 00:00:1796106799.938605   21396 cudart_stub.cc:31] Could not find\n")
            raise ImportError("broken install")
    assert "cudart_stub.cc" in capfd.readouterr().err


def test_progress_is_a_few_lines_in_a_log():
    out = io.StringIO()
    bar = Progress(1000, "epoch 1/2", stream=out, tty=False, min_seconds=0.0)
    for step in range(1, 1001):
        bar.update(step, [("loss", 1.0 / step)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 10  # every 10%, the last one at 100%
    assert lines[-1].startswith("epoch 1/2: 1000/1000 (100%,") and "loss 0.001" in lines[-1]
    out = io.StringIO()
    bar = Progress(1000, "epoch 1/2", stream=out, tty=False)  # short epoch: the last line only
    for step in range(1, 1001):
        bar.update(step, [("loss", 0.5)])
    assert len(out.getvalue().splitlines()) == 1
