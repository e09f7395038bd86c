"""tf.distribute on CPU, in subprocesses: MirroredStrategy over two logical CPUs
equals one device; a two-worker MultiWorkerMirroredStrategy run on localhost."""

import json
import sys

import numpy as np
import pytest

from tests.conftest import TINY

from .helpers import ENV, TIMEOUT, free_ports, kill, read_history, run, start, train_command

# Fewer layers than TINY (2 blocks of 1 layer, still 3 scales): tracing the
# mirrored step is the slow part.
SMALL = dict(TINY, num_blocks=2, base=1)


# ----------------------------------------------------------- MirroredStrategy
@pytest.fixture(scope="module")
def one_step(tmp_path_factory):
    """The arrays saved by mirrored_one_step.py (one_device / mirrored)."""
    out = tmp_path_factory.mktemp("mirrored") / "steps.npz"
    script = __file__.replace("test_distributed.py", "mirrored_one_step.py")
    proc = run([sys.executable, script, json.dumps(SMALL), str(out)], timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-5000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def weights(saved, name, step):
    return [saved[f"{name}/{step}/weights/{i}"] for i in range(int(saved[f"{name}/num_weights"]))]


def test_two_replicas(one_step):
    assert int(one_step["one_device/replicas"]) == 1
    assert int(one_step["mirrored/replicas"]) == 2


@pytest.mark.parametrize("step", [0, 1])
def test_mirrored_loss_equals_one_device(one_step, step):
    """Per-exit CE sums over the global batch, and correct counts."""
    np.testing.assert_allclose(one_step[f"mirrored/{step}/ce"], one_step[f"one_device/{step}/ce"],
                               rtol=1e-5)
    np.testing.assert_array_equal(one_step[f"mirrored/{step}/correct"],
                                  one_step[f"one_device/{step}/correct"])


@pytest.mark.parametrize("step", [0, 1])
def test_mirrored_weights_equal_one_device(one_step, step):
    """Loss averaged over the global batch, gradients summed over replicas, weight
    decay applied once (not once per replica), same momentum; BN statistics too."""
    trainable = one_step["one_device/trainable"]
    for i, (a, b) in enumerate(zip(weights(one_step, "mirrored", step),
                                   weights(one_step, "one_device", step))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5,
                                   err_msg=f"weight {i} (trainable={trainable[i]})")


def test_steps_are_large_enough_to_tell(one_step):
    """The weight decay alone moves weights by lr * wd * |w| = 5e-3 |w|: far above the
    tolerance, so a decay applied twice (or a loss off by a factor 2) would fail."""
    initial = [one_step[f"initial/{i}"] for i in range(int(one_step["one_device/num_weights"]))]
    trainable = one_step["one_device/trainable"]
    moved = [np.abs(a - w).max() for a, w, t in
             zip(weights(one_step, "one_device", 0), initial, trainable) if t]
    assert min(moved) > 1e-4
    assert one_step["one_device/0/ce"].min() > 1.0


# -------------------------------------------------- MultiWorkerMirroredStrategy
CHIEF_ONLY = ("config.yaml", "history.jsonl", "results.json", "model.keras", "tensorboard")


# About 21 s: two worker processes on localhost (MultiWorkerMirroredStrategy).
@pytest.mark.slow
def test_two_workers_on_localhost(tmp_path):
    """Worker 0 is the chief. Each worker gets its own workdir (no shared file
    system): the chief's holds every output, the other's only its hold-out copy
    and its private state in .worker_1/, so it cannot write over the chief's files."""
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    workdirs = [tmp_path / "chief", tmp_path / "worker1"]
    procs = []
    try:
        for index, workdir in enumerate(workdirs):
            env = {**ENV, "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}})}
            cmd = train_command(workdir, "train.strategy=multi_worker", "train.epochs=1",
                                "train.steps_per_epoch=2")
            procs.append(start(cmd, env=env, log=tmp_path / f"worker{index}.log"))
        for proc in procs:
            proc.wait(timeout=TIMEOUT)
    finally:
        for proc in procs:
            kill(proc)
    logs = [(tmp_path / f"worker{i}.log").read_text()[-3000:] for i in range(2)]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(logs)

    chief, worker = workdirs
    for name in CHIEF_ONLY + ("holdout.json", "latest.npz", "best.weights.h5"):
        assert (chief / name).exists(), name
    (record,) = read_history(chief)
    assert record["epoch"] == 1 and len(record["val_top1"]) == TINY["num_blocks"]
    results = json.loads((chief / "results.json").read_text())
    assert results["epochs"] == 1 and "exit_cumulative_flops" in results

    for name in CHIEF_ONLY + ("latest.npz", "best.weights.h5"):
        assert not (worker / name).exists(), name
    assert (worker / "holdout.json").read_bytes() == (chief / "holdout.json").read_bytes()
    assert (worker / ".worker_1" / "latest.npz").is_file()
    assert (worker / ".worker_1" / "best.weights.h5").is_file()
    assert not (chief / ".worker_1").exists()

    # Synchronous training: both workers hold the same trainable weights and optimizer
    # state. BN moving statistics are each worker's own (train.sync_batchnorm is off).
    from msdnet_tf.models import MSDNet

    model = MSDNet(**TINY)
    trainable = {id(v) for v in model.trainable_weights}
    with np.load(chief / "latest.npz") as a, np.load(worker / ".worker_1" / "latest.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for i, v in enumerate(model.weights):
            key = f"model/{i}"
            if id(v) in trainable:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7, err_msg=v.path)
            else:
                assert np.all(np.isfinite(a[key])) and np.all(np.isfinite(b[key]))
        optimizer = [k for k in a.files if k.startswith("optimizer/")]
        assert optimizer
        for key in optimizer:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7, err_msg=key)
        meta_a, meta_b = (json.loads(bytes(m["meta"]).decode()) for m in (a, b))
    assert meta_a["epoch"] == meta_b["epoch"] == 1
    # Validation accuracy is reduced over both workers: the same on both.
    assert meta_a["history"][0]["val_top1"] == meta_b["history"][0]["val_top1"]
