"""The mechanisms behind the one-line errors, in process: readers, locations, locks, atomic
writes, ranged flags, and the converted-directory checks (digests, tensors, older manifests)."""

import argparse
import errno
import json
import os
import re
import shutil
import tempfile

import numpy as np
import pytest

from msdnet_tf import cli, files, workdir


# ----------------------------------------------------------------------------- flags
@pytest.mark.parametrize("kind,kwargs,text,message", [
    (int, dict(low=0, note="0 = all"), "-5", "must be an integer >= 0 (0 = all). Received: -5"),
    (int, dict(low=1), "1.5", "must be an integer >= 1. Received: '1.5'"),
    (float, dict(low=0, low_open=True), "nan", "must be a number > 0. Received: nan"),
    (float, dict(low=0, low_open=True), "inf", "must be a number > 0. Received: inf"),
    (float, dict(low=0, high=1), "1.5", "must be a number in [0, 1]. Received: 1.5"),
])
def test_ranged_flags_state_their_range(kind, kwargs, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        cli.ranged(kind, **kwargs)(text)
    assert cli.ranged(kind, **kwargs)("1") == 1


def test_a_wrong_flag_is_one_line(capsys):
    p = cli.parser("tflite/x.py", "x")
    p.add_argument("--reps", type=cli.count(1))
    with pytest.raises(SystemExit) as e:
        p.parse_args(["--reps", "0"])
    assert e.value.code == 2
    assert capsys.readouterr().err == ("x.py: error: argument --reps: must be an integer >= 1. "
                                       "Received: 0 (see --help)\n")


def test_a_refused_file_operation_is_one_line(capsys):
    @cli.main_wrapper
    def main(argv=None):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/out/r.json")

    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 1
    assert capsys.readouterr().err.endswith(": error: /data/out/r.json: No space left on "
                                            "device\n")


# ---------------------------------------------------------------------------- readers
def test_json_reader_refuses_what_python_would_accept_or_crash_on(tmp_path):
    p = tmp_path / "f.json"
    p.write_text('{"a": NaN}')
    with pytest.raises(files.FileProblem, match="NaN is not JSON"):
        files.read_json(p, "report")
    p.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(files.FileProblem, match="nested too deeply"):
        files.read_json(p, "report")
    p.write_text("[1, 2]")
    with pytest.raises(files.FileProblem, match="must hold a JSON object. Received: list"):
        files.read_json(p, "report")
    p.write_bytes("{}".encode("utf-16"))
    with pytest.raises(files.FileProblem, match="is not UTF-8 text"):
        files.read_json(p, "report")
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}')  # a UTF-8 byte-order mark is fine
    assert files.read_json(p, "report") == {"a": 1}


def test_npz_reader_never_unpickles(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, ok=np.zeros(2), bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(files.FileProblem, match="holds Python objects .*never loaded") as e:
        files.load_npz(p, "weights file")
    assert "allow_pickle" not in str(e.value)
    assert files.load_npz(p, "weights file", keys=("ok",))["ok"].shape == (2,)


def test_library_reasons_never_suggest_unsafe_loading():
    assert files.reason(ValueError("use allow_pickle=True if you trust it")) == "ValueError"
    assert files.reason(RuntimeError("set weights_only=False")) == "RuntimeError"
    assert files.reason(OSError("a\nb  c")) == "a b c"


def test_torch_reader_replaces_pytorchs_advice(tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 2), p)  # a pickled module, not a state_dict
    with pytest.raises(files.FileProblem) as e:
        files.load_torch_state(p)
    assert "never loaded" in str(e.value) and "weights_only" not in str(e.value)
    torch.save({"module.a.weight": torch.ones(2)}, p)
    assert list(files.load_torch_state(p)) == ["a.weight"]


# -------------------------------------------------------------------------- locations
def test_output_locations_are_refused_up_front(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(workdir.LocationError, match="it is a file, so it cannot be a directory"):
        workdir.check_output_dir(tmp_path / "file")
    with pytest.raises(workdir.LocationError, match="file is a file, so it cannot be a dir"):
        workdir.check_output_dir(tmp_path / "file" / "sub" / "dir")
    with pytest.raises(workdir.LocationError, match="is a directory; give the path of a file"):
        workdir.check_output_file(tmp_path, "--report")
    with pytest.raises(workdir.LocationError, match="cannot hold r.json"):
        workdir.check_output_file(tmp_path / "file" / "r.json", "--report")
    # Missing directories are fine (made when results are written) and nothing is created.
    assert workdir.check_output_dir(tmp_path / "new" / "dir") == tmp_path / "new" / "dir"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_read_only_location_is_refused(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        with pytest.raises(workdir.LocationError, match="cannot write in"):
            workdir.check_output_dir(ro / "out")
        ro.chmod(0o755)

    def read_only(*args, **kwargs):  # what a read-only mount answers (root included)
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(workdir.LocationError, match=r"cannot write in .* \(a read-only file "
                                                    r"system\)"):
        workdir.check_output_dir(tmp_path / "out", "--workdir")


def test_atomic_writes_leave_the_old_file_or_the_new_one(tmp_path):
    target = tmp_path / "r.json"
    workdir.atomic_write_json(target, {"a": float("nan"), "b": [float("inf"), -float("inf")],
                                       "c": np.float32(1.5)})
    assert json.loads(target.read_text()) == {"a": None, "b": ["inf", "-inf"], "c": 1.5}
    with pytest.raises(RuntimeError):
        with workdir.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed while writing")
    assert json.loads(target.read_text())["c"] == 1.5
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_locked_directory_names_its_holder(tmp_path):
    lock = workdir.DirectoryLock(tmp_path).acquire()
    info = json.loads((tmp_path / workdir.LOCK_INFO).read_text())
    assert info["pid"] == os.getpid()
    with pytest.raises(workdir.LocationError, match=f"in use by process {os.getpid()}"):
        workdir.DirectoryLock(tmp_path).acquire()  # flock: refused within a process too
    lock.release()
    assert not (tmp_path / workdir.LOCK_INFO).exists()
    with workdir.DirectoryLock(tmp_path):
        pass


def test_prepare_workdir_undoes_the_directories_it_made(tmp_path):
    lock, created = workdir.prepare_workdir(tmp_path / "a" / "b")
    assert created == [tmp_path / "a", tmp_path / "a" / "b"]
    lock.release()
    workdir.undo_created(created)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------- converted directories
@pytest.fixture
def conversion(real_files, tmp_path):
    out = tmp_path / "conv"
    shutil.copytree(real_files.conversion, out)
    return out


def _edit(folder, fn):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    fn(manifest)
    path.write_text(json.dumps(manifest))


def _strip_digests(m):
    for entry in m["exits"] + [m["cascade"]]:
        entry.pop("sha256")
        entry.pop("bytes")


def test_an_older_manifest_loads_with_one_warning(conversion, capsys):
    from msdnet_tf.runtime import manifest as manifest_lib
    from msdnet_tf.runtime.cascade import Cascade

    _edit(conversion, _strip_digests)
    Cascade.load(conversion)
    Cascade.load(conversion)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "no file digests" in err[0]
    assert "python tflite/convert.py --workdir" in err[0]
    assert manifest_lib.load_manifest(conversion)["cascade"]["file"] == "cascade.tflite"


def test_tensors_are_checked_against_the_model_itself(conversion):
    """A manifest consistent in itself whose shapes are not the model's: refused when the
    model is opened (LiteRT would resize the input silently)."""
    from msdnet_tf.runtime.cascade import Cascade, RuntimeModelError

    def smaller_maps(m):
        _strip_digests(m)
        out = m["cascade"]["stages"][0]["outputs"][1]
        out["shape"] = [1, out["shape"][1] // 2, out["shape"][2] // 2, out["shape"][3]]
        nxt = next(t for t in m["cascade"]["stages"][1]["inputs"] if t["name"] == out["name"])
        nxt["shape"] = list(out["shape"])

    _edit(conversion, smaller_maps)
    with pytest.raises(RuntimeModelError, match="stage_0 output scale_0 is float32 .*; the "
                                                "manifest says float32 .*manifest and model "
                                                "differ"):
        Cascade.load(conversion)


def test_inputs_of_another_size_are_refused_not_resized(conversion):
    from msdnet_tf.runtime.cascade import Cascade, RuntimeModelError

    cascade = Cascade.load(conversion)
    s = cascade.manifest["input"]["shape"][1]
    with pytest.raises(RuntimeModelError, match=f"stage_0 takes image \\[1, {s}, {s}, 3\\]"):
        cascade.classify(np.zeros((1, s + 8, s + 8, 3), np.float32))
