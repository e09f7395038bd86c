"""Where the tools write: locations checked before any work, one run per workdir, atomic files.

- `check_output_dir` / `check_output_file`: an output location is refused up front (one
  line, exit code 2) when it cannot be written (a file in the way, a read-only or otherwise
  unwritable directory), so that no run loses its results at the end.
- `lock(directory)`: an exclusive lock (flock on the directory itself, released by the
  kernel when the holder exits, however it exits). A second run on a locked directory is
  refused with the holder's pid and command; a lock left by a killed process is simply
  taken over. While held, `.lock` in the directory names the holder; it is removed on
  release.
- `atomic_write_*` / `atomic_path`: every file is written under a temporary name in its
  directory and renamed over the target, so a reader (or a run killed at any instant) sees
  the old file or the new one, never half of one.
- `json_safe`: reports never contain NaN or infinities (JSON has neither): infinities become
  the strings "inf" / "-inf" (the deployment format's convention), NaN becomes null.
"""

import contextlib
import errno
import fcntl
import json
import math
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from msdnet_tf.cli import UserError

LOCK_INFO = ".lock"


class LocationError(UserError):
    """An output location cannot be used (one line, exit code 2)."""


# ---------------------------------------------------------------- output locations
def _nearest_existing(path):
    """(the deepest existing ancestor of `path` or itself, the parts below it)."""
    path = Path(os.path.abspath(path))
    missing = []
    while not os.path.lexists(path):
        missing.append(path.name)
        path = path.parent
    return path, missing[::-1]


WRITABLE = "choose a location this user can write to"


def _probe(directory, subject, fix=WRITABLE):
    """Creates and removes a temporary file in `directory` (permissions, read-only mounts)."""
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".write-check-")
    except OSError as e:
        reason = "a read-only file system" if e.errno == errno.EROFS else f"{e.strerror or e}"
        raise LocationError(f"{subject}: cannot write in {directory} ({reason}); {fix}") \
            from None
    os.close(fd)
    os.unlink(name)


def _check_dir(path, subject, fix=WRITABLE):
    """`subject` says what is refused (e.g. "--output out"); returns the Path."""
    path = Path(path)
    existing, missing = _nearest_existing(path)
    if not existing.is_dir():
        what = "a file" if existing.is_file() else "not a directory"
        where = f"{existing} is {what}" if missing else f"it is {what}"
        raise LocationError(f"{subject}: {where}, so it cannot be a directory; choose another "
                            "path")
    _probe(existing, subject, fix)
    return path


def check_output_dir(path, flag="--output", fix=WRITABLE):
    """Refuses a directory the command could not create or write into; returns a Path.

    Nothing is created: a missing directory (and its missing parents) is made later, when
    results are written (`ensure_dir`).
    """
    return _check_dir(path, f"{flag} {path}", fix)


def check_output_file(path, flag="--output"):
    """Refuses a file path the command could not write at the end; returns a Path."""
    path = Path(path)
    subject = f"{flag} {path}"
    if path.is_dir():
        raise LocationError(f"{subject} is a directory; give the path of a file")
    if os.path.lexists(path) and not path.is_file():
        raise LocationError(f"{subject} exists and is not a regular file")
    existing, missing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise LocationError(f"{subject}: {existing} is a file, so it cannot hold "
                            f"{path.name}; choose another path")
    _probe(existing, subject)
    return path


def ensure_dir(path):
    """mkdir -p; returns the Path."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------- atomic files
def _temporary(path):
    path = Path(path)
    # Keep the whole name at the end: writers choose the format from it (Keras wants
    # .keras / .weights.h5, matplotlib .png).
    return path.with_name(f".tmp.{os.getpid()}.{path.name}")


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path next to `path`; renamed over `path` if the block succeeds."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path, data):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def atomic_write_text(path, text):
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(value):
    """`value` with NaN -> None and +-inf -> "inf"/"-inf", numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def atomic_write_json(path, data, indent=1):
    """Strict JSON (no NaN/Infinity), written atomically; returns the Path."""
    text = json.dumps(json_safe(data), indent=indent, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


# ---------------------------------------------------------------------------- locking
def _holder(directory):
    try:
        info = json.loads((Path(directory) / LOCK_INFO).read_text())
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


class DirectoryLock:
    """An exclusive flock on a directory; see the module docstring."""

    def __init__(self, directory, what="workdir"):
        self.directory, self.what = Path(directory), what
        self.fd = None

    def acquire(self):
        try:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise LocationError(f"{self.what} {self.directory} cannot be opened "
                                f"({e.strerror or e})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LocationError(f"{self.what} {self.directory} cannot be locked "
                                    f"({e.strerror or e})") from None
            info = _holder(self.directory)
            who = f"process {info['pid']}" if "pid" in info else "another process"
            if info.get("host") and info.get("host") != socket.gethostname():
                who += f" on {info['host']}"
            cmd = f" ({info['command']})" if info.get("command") else ""
            raise LocationError(f"{self.what} {self.directory} is in use by {who}{cmd}: wait "
                                "for it to finish or stop it; two runs on one "
                                f"{self.what} would overwrite each other's files") from None
        self.fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300],
                "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
        try:
            atomic_write_text(self.directory / LOCK_INFO, json.dumps(info) + "\n")
        except OSError:
            pass  # The lock holds without it; only the refusal message is less precise.
        return self

    def release(self):
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            (self.directory / LOCK_INFO).unlink()
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self.acquire() if self.fd is None else self

    def __exit__(self, *exc):
        self.release()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.release()


def prepare_workdir(path, flag="--workdir", what="workdir"):
    """Checks a run directory can be used, creates it if missing and locks it.

    Returns (lock, created): `created` lists the directories made here, so that a run
    refused by a later check can remove them again (`undo_created`).
    """
    path = Path(path)
    check_output_dir(path, flag=flag)
    existing, missing = _nearest_existing(path)
    path.mkdir(parents=True, exist_ok=True)
    created = [existing.joinpath(*missing[:i + 1]) for i in range(len(missing))]
    lock = DirectoryLock(path, what)
    try:
        lock.acquire()
    except BaseException:
        undo_created(created)
        raise
    return lock, created


def undo_created(created):
    """Removes the directories `prepare_workdir` made, deepest first, if still empty."""
    for d in reversed(created):
        with contextlib.suppress(OSError):
            d.rmdir()
