"""Reading the files users hand to the tools: one reader per kind, one line per failure.

Every reader here turns any failure (missing, a directory, unreadable, truncated, random
bytes, wrong encoding, a file of another kind, hostile content) into a `FileProblem`: a
`UserError`, so the CLIs print it as one line and exit with code 2. The message names the
file, says what is wrong with it and what to do.

Nothing is ever unpickled: .npz files are read with `allow_pickle=False`, PyTorch files with
`weights_only=True`, Keras files in Keras' safe mode, YAML with `safe_load`; a file that
would need more is refused, and the message never suggests loading it unsafely (the
libraries' own texts do, so they are replaced, not quoted).
"""

import hashlib
import json
import re
import stat
import warnings
import zipfile
from pathlib import Path

from msdnet_tf.cli import UserError

# Library messages that mention these suggest unsafe loading; they are never shown.
_UNSAFE = re.compile(r"pickle|weights_only|safe_mode|unsafe|trust|arbitrary code", re.I)
NPZ_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip
NPY_MAGIC = b"\x93NUMPY"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class FileProblem(UserError):
    """A file the tools read is missing, damaged or of the wrong kind (one line)."""

    def __init__(self, what, path, problem, hint=""):
        self.path = Path(path)
        super().__init__(f"{what} {path} {problem}" + (f"; {hint}" if hint else ""))


def reason(error, limit=160):
    """A library exception as a short one-line reason, or its type name when the library's
    text is long-winded or would suggest unsafe loading."""
    text = " ".join(str(error).split())
    if not text or _UNSAFE.search(text):
        return type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def regular_file(path, what, hint=""):
    """`path` as a Path, if it is an existing regular file (not a directory, socket, ...)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileProblem(what, path, "does not exist", hint) from None
    except NotADirectoryError:
        raise FileProblem(what, path, "does not exist (a parent of it is a file)", hint) \
            from None
    except OSError as e:
        raise FileProblem(what, path, f"cannot be read ({e.strerror or reason(e)})", hint) \
            from None
    if stat.S_ISDIR(mode):
        raise FileProblem(what, path, "is a directory, not a file", hint)
    if not stat.S_ISREG(mode):
        raise FileProblem(what, path, "is not a regular file", hint)
    return path


def _open_error(what, path, e, hint):
    return FileProblem(what, path, f"cannot be read ({e.strerror or reason(e)})", hint)


def head(path, n, what, hint=""):
    """The first `n` bytes of a regular file."""
    path = regular_file(path, what, hint)
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise _open_error(what, path, e, hint) from None


def read_bytes(path, what, hint=""):
    path = regular_file(path, what, hint)
    try:
        return path.read_bytes()
    except OSError as e:
        raise _open_error(what, path, e, hint) from None


def read_text(path, what, hint=""):
    """A UTF-8 text file (a UTF-8 byte-order mark is allowed)."""
    data = read_bytes(path, what, hint)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileProblem(what, path, f"is not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
                                      f"{e.start})", hint) from None


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def parse_json(text, what, path, hint=""):
    """Strict JSON (no NaN/Infinity literals) of a file's text."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise FileProblem(what, path, f"is not valid JSON ({e.msg}: line {e.lineno}, column "
                                      f"{e.colno})", hint) from None
    except ValueError as e:
        raise FileProblem(what, path, f"is not valid JSON ({e}; infinities are written as the "
                                      "strings \"inf\" / \"-inf\")", hint) from None
    except RecursionError:
        raise FileProblem(what, path, "is not a file this project writes (JSON nested too "
                                      "deeply)", hint) from None


def read_json(path, what, hint="", kind=dict):
    """A JSON file holding one value of type `kind` (an object by default)."""
    path = Path(path)
    data = parse_json(read_text(path, what, hint), what, path, hint)
    if kind is not None and not isinstance(data, kind):
        raise FileProblem(what, path, f"must hold a JSON {'object' if kind is dict else 'list'}"
                                      f". Received: {type(data).__name__}", hint)
    return data


def read_yaml(path, what, hint=""):
    """A YAML file through yaml.safe_load (no Python tags); None when empty."""
    import yaml

    path = Path(path)
    text = read_text(path, what, hint)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or reason(e)
        raise FileProblem(what, path, f"is not valid YAML ({problem}{where})", hint) from None
    except RecursionError:
        raise FileProblem(what, path, "is not valid YAML (nested too deeply)", hint) from None


def sha256(path):
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------- .npz
def load_npz(path, what, hint="", keys=None):
    """{name: array} of an .npz archive, every array read (so damage shows here, not later).

    keys: read only these names (when present). Never unpickles: an archive holding Python
    objects is refused.
    """
    import numpy as np

    path = Path(path)
    magic = head(path, 8, what, hint)
    if magic.startswith(NPY_MAGIC):
        raise FileProblem(what, path, "is a single .npy array, not an .npz archive", hint)
    if not magic:
        raise FileProblem(what, path, "is empty", hint)
    if not magic.startswith(NPZ_MAGIC):
        raise FileProblem(what, path, "is not an .npz archive (it does not start like one)",
                          hint)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise _open_error(what, path, e, hint) from None
    with f:
        try:
            archive = np.load(f, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - whatever numpy or zipfile raise: damaged
            raise FileProblem(what, path, f"is truncated or damaged ({reason(e)})", hint) \
                from None
        return _read_members(archive, path, what, hint, keys)


def _read_members(archive, path, what, hint, keys):
    arrays = {}
    with archive:
        for name in archive.files:
            if keys is not None and name not in keys:
                continue
            try:
                arrays[name] = archive[name]
            except ValueError as e:
                if "pickle" in str(e).lower() or "object arrays" in str(e).lower():
                    raise FileProblem(what, path, f"holds Python objects (array {name!r}), "
                                                  "which are never loaded", hint) from None
                raise FileProblem(what, path, f"is truncated or damaged (array {name!r}: "
                                              f"{reason(e)})", hint) from None
            except Exception as e:  # noqa: BLE001 - CRC, zlib, EOF, ...: damaged
                raise FileProblem(what, path, f"is truncated or damaged (array {name!r}: "
                                              f"{reason(e)})", hint) from None
    return arrays


# ------------------------------------------------------------------------------ PyTorch
def load_torch_state(path, hint=""):
    """A PyTorch checkpoint's tensors as {name: np.ndarray}, read with weights_only=True.

    Accepts a plain state_dict or a dict with a `state_dict` entry; `module.` prefixes
    (DataParallel) are stripped.
    """
    what = "PyTorch checkpoint"
    path = regular_file(path, what, hint)
    try:
        import torch
    except ImportError:
        raise FileProblem(what, path, "needs PyTorch to be read",
                          "pip install -e '.[torch]', or convert it to .npz") from None
    if not head(path, 1, what, hint):
        raise FileProblem(what, path, "is empty", hint)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - our own text, never PyTorch's advice
        text = str(e)
        if "Unsupported global" in text or "Unsupported operand" in text \
                or "GLOBAL" in text:
            raise FileProblem(what, path, "holds Python objects other than tensors (a pickled "
                                          "model or optimizer?), which are never loaded",
                              hint or "save model.state_dict() instead") from None
        raise FileProblem(what, path, "is truncated, damaged or not a PyTorch checkpoint",
                          hint) from None
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        ckpt = ckpt["state_dict"]
    if not isinstance(ckpt, dict) or not ckpt:
        raise FileProblem(what, path, "holds no state_dict (a mapping of names to tensors). "
                                      f"Received: {type(ckpt).__name__}", hint)
    state = {}
    for key, value in ckpt.items():
        if not isinstance(value, torch.Tensor):
            raise FileProblem(what, path, f"entry {key!r} is not a tensor. Received: "
                                          f"{type(value).__name__}", hint)
        key = str(key)
        state[key[len("module."):] if key.startswith("module.") else key] = \
            value.detach().cpu().numpy()
    return state


# -------------------------------------------------------------------------- Keras, HDF5
def check_zip(path, what, hint=""):
    """A complete zip archive (every member's CRC checked)."""
    magic = head(path, 4, what, hint)
    if not magic:
        raise FileProblem(what, path, "is empty", hint)
    if not magic.startswith(NPZ_MAGIC):
        raise FileProblem(what, path, "is not a zip archive (it does not start like one)", hint)
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except Exception as e:  # noqa: BLE001 - BadZipFile, EOF, ...: damaged
        raise FileProblem(what, path, f"is truncated or damaged ({reason(e)})", hint) from None
    if bad is not None:
        raise FileProblem(what, path, f"is damaged (member {bad} fails its checksum)", hint)


def load_keras_model(path, hint=""):
    """A .keras model, loaded in Keras' safe mode (no Python code from the file)."""
    import keras

    import msdnet_tf  # noqa: F401  registers the model classes with Keras

    what = "Keras model"
    path = regular_file(path, what, hint)
    check_zip(path, what, hint)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return keras.models.load_model(path, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - any failure is a file we cannot use
        raise FileProblem(what, path, f"cannot be loaded ({reason(e)})", hint) from None


def check_hdf5(path, what, hint=""):
    """An HDF5 file (e.g. Keras .weights.h5) that opens and whose objects can be listed."""
    import h5py

    magic = head(path, 8, what, hint)
    if not magic.startswith(HDF5_MAGIC):
        raise FileProblem(what, path, "is not an HDF5 file (it does not start like one)", hint)
    try:
        with h5py.File(path, "r") as f:
            f.visit(lambda name: None)
    except Exception as e:  # noqa: BLE001 - truncated or damaged
        raise FileProblem(what, path, f"is truncated or damaged ({reason(e)})", hint) from None
