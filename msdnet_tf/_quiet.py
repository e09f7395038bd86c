"""A quiet TensorFlow start-up for the command-line tools.

TensorFlow 2.21 prints 6-9 lines when it is imported (absl's "before InitializeLog"
warning, oneDNN, CUDA stub and CPU-feature notices), twice over, and CUDA's
"failed call to cuInit" when the devices are first listed on a machine without a GPU.
`TF_CPP_MIN_LOG_LEVEL` only reaches the lines printed after absl is initialised, so:

- `configure()` sets the environment before TensorFlow is imported (C++ log level 2:
  errors still show);
- `import_tensorflow()` imports TensorFlow (and lists its devices) with file descriptor 2
  redirected to a temporary file, then writes back every captured line that is not one of
  the known start-up notices. If the import fails, everything captured is written back.
  TensorFlow's Python logger then shows errors only (no deprecation notices).

LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." (no setting
turns it off) when it first applies XNNPACK: the runtime opens interpreters inside
`filtered_stderr()`.

With `verbose=True` nothing is redirected or filtered and TensorFlow logs as it likes;
the CLIs' `--verbose` flag does that (and shows msdnet_tf's own info messages).
"""

import contextlib
import os
import re
import sys
import tempfile

# Lines TensorFlow, absl, oneDNN and CUDA print at start-up on every machine.
NOISE = re.compile(
    r"^(?:WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|[IWEF]\d{4} [\d:.]+\s+\d+ (?:port\.cc|cudart_stub\.cc|cpu_feature_guard\.cc|"
    r"cuda_platform\.cc|cuda_executor\.cc|cuda_diagnostics\.cc|cuda_dnn\.cc|cuda_fft\.cc|"
    r"cuda_blas\.cc|gpu_device\.cc|computation_placer\.cc|tf_trt|trt_convert)[^\]]*\]"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"
    r"|.*(?:TF-TRT Warning|Unable to register cu(?:DNN|FFT|BLAS) factory))")

_verbose = False


def is_verbose():
    return _verbose


def configure(verbose=False):
    """Environment for a quiet (or, with `verbose`, a talkative) TensorFlow.

    Must run before TensorFlow is imported; values the user set are kept.
    """
    global _verbose
    _verbose = bool(verbose)
    if verbose:
        from absl import logging

        logging.set_verbosity(logging.INFO)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


@contextlib.contextmanager
def filtered_stderr(pattern=NOISE):
    """Captures file descriptor 2 (C++ and Python alike); writes back non-matching lines.

    On an exception inside the block every captured line is written back.
    """
    if _verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines()
                    if failed or (line.strip() and not pattern.match(line))]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


def import_tensorflow(verbose=None):
    """Imports TensorFlow quietly (see the module doc) and returns it.

    `verbose=None` keeps what `configure` set; call `configure` first in a CLI.
    """
    if verbose is not None:
        configure(verbose)
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if not _verbose:
        configure(False)
    with filtered_stderr():
        import tensorflow as tf

        # CUDA's cuInit line comes when the devices are first listed; this does not
        # start TensorFlow's runtime, so thread and device settings can still follow.
        tf.config.list_physical_devices()
    if not _verbose:  # deprecation notices of TensorFlow's Python code (e.g. in tfds)
        import logging

        tf.get_logger().setLevel(logging.ERROR)
    return tf
