"""Training throughput (images/s) of the CIFAR-100 anytime MSDNet on this machine.

    .venv/bin/python benchmarks/train_throughput.py --reference PATH   # default set, ~8 min
    .venv/bin/python benchmarks/train_throughput.py --variants all     # needs ~35 GB of memory
    .venv/bin/python benchmarks/train_throughput.py --variants inter1,inter4,onednn_off
    .venv/bin/python benchmarks/train_throughput.py --variants bf16,inter1 --rounds 8

Every variant runs the real `msdnet_tf.training.steps.make_train_step` (momentum
SGD, coupled weight decay 1e-4, the loss of all 10 exits) on MSDNet() defaults,
batch 64, random images, in its own long-lived worker process (thread and
oneDNN settings are fixed when TensorFlow starts). Once all are built, runs of
--steps steps are timed in rounds of baseline, v1, baseline, v2, ..., baseline:
a variant's ratio is to the mean of the two baseline runs beside it in time.
The yardstick is the reference port itself: the `reference` variant imports
models/msdnet.py from the kalviny/MSDNet-PyTorch checkout given by --reference
and trains it with the loop of its main.py (torch.optim.SGD momentum 0.9, weight
decay 1e-4, per-exit cross-entropy summed, the per-exit losses and top-1 counts
read back every step), in a process without TensorFlow. `pytorch` trains the
same network built by benchmarks/torch_msdnet.py with the same loop (for machines
without a checkout), `pytorch_tf_loaded` the same with TensorFlow imported into
its process, as this benchmark's yardstick was before (needs the torch extra).
Every ratio to PyTorch is measured side by side on the same machine in the same run.

The 2 vCPUs of this VM switch, every few tens of seconds, between full speed
(float32 GEMM about 300 GFLOP/s on 2 threads) and a contended speed (about
120-190), so every run sits between two TF float32 GEMMs (--gemm^3, --threads
threads): runs whose GEMMs disagree by more than 25% are dropped, the others
are reported per state (fast: GEMM within 25% of the run's best; slow: the
rest), and the fraction of peak is the run's training FLOP/s over the faster
of its two GEMMs. Training FLOP per image = 3 x 2 x the forward
multiply-adds (msdnet_tf.flops.count(model).exit_cumulative_flops[-1]).

Writes benchmarks/results/train_throughput.{json,md} unless --no-record.
"""

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# name -> (description, settings). Settings: bn (repo: msdnet_tf.models.blocks's,
# fused: its fused-kernel path only, keras: keras.layers.BatchNormalization),
# policy, jit, steps_per_call, input (data | const), intra / inter (op threads:
# None = the trainer's train.*_op_threads=-1 rule, "threads" = --threads, 0 = TF's
# default), env (extra environment), optimizer (trainer: optimizers.from_config of the
# default TrainConfig, as the trainer builds it | keras_sgd | keras_momentum |
# wd_in_loss), framework (tf | torch | reference), tf_loaded (torch: import TF first),
# pointwise (blocks.Conv2D.pointwise_matmul: the 1x1 gradients as MatMuls).
VARIANTS = {
    "baseline": ("what `python -m msdnet_tf.train` runs: graph-mode step, tf.data iterator, "
                 "float32, packed-row BN, auto threads (here intra-op 1, inter-op = cores)", {}),
    "tf_threads": ("TensorFlow's default threads (intra-op = --threads, inter-op default)",
                   {"intra": "threads", "inter": 0}),
    "fused_bn": ("TF's fused BN kernel for every channel count (no packed rows)",
                 {"bn": "fused"}),
    "tf_threads_fused_bn": ("TF's default threads and the fused BN kernel only (the trainer "
                            "before packed-row BN and auto threads)",
                            {"intra": "threads", "inter": 0, "bn": "fused"}),
    "keras_bn": ("stock keras.layers.BatchNormalization", {"bn": "keras"}),
    "conv_grad_ops": ("the 1x1 convolutions' gradients as TF's Conv2DBackpropInput/Filter "
                      "ops (Keras's own gradient; the trainer's are MatMuls over pixel rows)",
                      {"pointwise": False}),
    "bf16": ("mixed_bfloat16 policy (train.mixed_precision=mixed_bfloat16)",
             {"policy": "mixed_bfloat16"}),
    "bf16_keras_bn": ("mixed_bfloat16 with the stock Keras BatchNormalization",
                      {"policy": "mixed_bfloat16", "bn": "keras"}),
    "inter1": ("intra-op threads = --threads, inter-op threads = 1",
               {"intra": "threads", "inter": 1}),
    "inter4": ("intra-op threads = 1, inter-op threads = 4", {"intra": 1, "inter": 4}),
    "onednn_off": ("TF_ENABLE_ONEDNN_OPTS=0 (Eigen kernels)",
                   {"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}}),
    "fpmath_bf16": ("float32 model, oneDNN allowed to compute in bf16 (AMX): "
                    "ONEDNN_DEFAULT_FPMATH_MODE=BF16 (not float32-exact)",
                    {"env": {"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"}}),
    "dnnl_cache4096": ("ONEDNN_PRIMITIVE_CACHE_CAPACITY=4096 (default 1024)",
                       {"env": {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "4096"}}),
    "tf_mkl_memuse_off": ("TF_MKL_OPTIMIZE_PRIMITIVE_MEMUSE=0 (cache every oneDNN primitive)",
                          {"env": {"TF_MKL_OPTIMIZE_PRIMITIVE_MEMUSE": "0"}}),
    "caller_thread": ("TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD=1",
                      {"env": {"TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD": "1"}}),
    "xla": ("make_train_step(jit_compile=True), constant input (XLA cannot compile the "
            "iterator's next())", {"jit": True, "input": "const"}),
    "steps4": ("4 steps per tf.function call (tf.range loop)", {"steps_per_call": 4}),
    "const": ("constant input tensors instead of a tf.data iterator", {"input": "const"}),
    "reference": ("the reference port itself (models/msdnet.py of the --reference checkout, "
                  "NCHW, float32): torch.optim.SGD momentum 0.9, weight decay 1e-4, summed "
                  "exit losses, torch.set_num_threads(--threads), no TensorFlow in its "
                  "process", {"framework": "reference"}),
    "pytorch": ("the same network built by benchmarks/torch_msdnet.py, same loop as "
                "`reference`, no TensorFlow in its process", {"framework": "torch"}),
    "pytorch_tf_loaded": ("`pytorch` with TensorFlow imported into its process (the "
                          "yardstick of this benchmark's records before 2026-12-01)",
                          {"framework": "torch", "tf_loaded": True}),
    "keras_sgd": ("the trainer's update before 2026-12-01: keras.optimizers.SGD (a handful of "
                  "elementwise ops per variable), weight decay as an L2 term of the loss",
                  {"optimizer": "keras_sgd"}),
    "keras_momentum": ("train.momentum_style=keras (fused ResourceApplyKerasMomentum)",
                       {"optimizer": "keras_momentum"}),
    "wd_in_loss": ("fused torch-style update, weight decay as an L2 term of the loss instead "
                   "of inside the update", {"optimizer": "wd_in_loss"}),
}
DEFAULT_VARIANTS = ("baseline,reference,pytorch,pytorch_tf_loaded,keras_sgd,"
                    "fused_bn,bf16")


def _settings(name):
    s = {"framework": "tf", "bn": "repo", "policy": "float32", "jit": False, "steps_per_call": 1,
         "input": "data", "intra": None, "inter": None, "env": {}, "optimizer": "trainer",
         "tf_loaded": False, "pointwise": True}
    s.update(VARIANTS[name][1])
    return s


# ---------------------------------------------------------------- workers

def _reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Untimed steps before every timed run. A worker idles while the others run; its first
# step after that is slower (cold caches, sleeping threads), and more so for PyTorch
# than for TensorFlow: with 4-step runs and no warm-up the reference port measured
# 0.66x the baseline, with 12-step runs 0.70x (2026-12-01, AMD EPYC).
WARMUP_STEPS = 1


def _timed(call, calls, images_per_call):
    """[images/s, CPU seconds per image] of `calls` calls of `call`, after WARMUP_STEPS."""
    for _ in range(WARMUP_STEPS):
        call()
    cpu = _cpu_seconds()
    t = time.perf_counter()
    for _ in range(calls):
        call()
    images = calls * images_per_call
    return [images / (time.perf_counter() - t), (_cpu_seconds() - cpu) / images]


def _serve(run):
    """Answers `run N` lines on stdin with {"value": run(N)} until EOF."""
    _reply({"ready": True})
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "run":
            _reply({"value": run(int(arg))})
        elif cmd == "quit":
            break


def numpy_peak_worker(size):
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b

    def run(reps):
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t)
        return 2.0 * size ** 3 / best / 1e9

    _serve(run)


def tf_peak_worker(size, threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    matmul = tf.function(tf.matmul)
    matmul(a, b).numpy()

    def run(reps):
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            matmul(a, b).numpy()
            best = min(best, time.perf_counter() - t)
        return 2.0 * size ** 3 / best / 1e9

    _serve(run)


def torch_worker(threads, batch, module="standin", reference=None, tf_loaded=False):
    """PyTorch training steps of the CIFAR-100 anytime network: the reference port's own
    module (module="reference", from the checkout at `reference`) or the stand-in
    (benchmarks/torch_msdnet.py). The loop is its main.py's: SGD(lr 0.1, momentum 0.9,
    weight decay 1e-4), per-exit CrossEntropyLoss summed, backward, step, and the
    per-exit losses and top-1 counts read back."""
    if tf_loaded:
        import tensorflow  # noqa: F401  the old yardstick's process had TF loaded
    import torch

    sys.path.insert(0, str(ROOT))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if module == "reference":
        from benchmarks import reference_port

        model = reference_port.build(reference)  # MSDNet() defaults: CIFAR-100 anytime
    else:
        from benchmarks.torch_msdnet import TorchMSDNet

        model = TorchMSDNet()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    images = torch.randn(batch, 3, 32, 32)
    labels = torch.randint(0, 100, (batch,))

    def step():
        logits = model(images)
        losses = [loss_fn(out, labels) for out in logits]
        optimizer.zero_grad()
        sum(losses).backward()
        optimizer.step()
        # what a training loop reads back every step: per-exit loss and correct count
        ce = torch.stack([l.detach() for l in losses]).numpy()
        correct = torch.stack([(out.argmax(1) == labels).sum() for out in logits]).numpy()
        return ce, correct

    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    for _ in range(3):
        step()

    def run(n):
        return _timed(step, n, batch)

    _reply({"macs": None, "first_call_s": first, "torch": torch.__version__,
            "tensorflow_loaded": "tensorflow" in sys.modules,
            "parameters": sum(p.numel() for p in model.parameters())})
    _serve(run)


def train_worker(name, threads, batch, reference=None):
    s = _settings(name)
    if s["framework"] in ("torch", "reference"):
        return torch_worker(threads, batch, "reference" if s["framework"] == "reference"
                            else "standin", reference, s["tf_loaded"])
    import keras
    import tensorflow as tf

    sys.path.insert(0, str(ROOT))
    from msdnet_tf import config as config_lib
    from msdnet_tf import flops
    from msdnet_tf.models import MSDNet, blocks
    from msdnet_tf.training import optimizers, steps

    from msdnet_tf.training.strategy import thread_settings

    intra, inter = (threads if v == "threads" else -1 if v is None else v
                    for v in (s["intra"], s["inter"]))
    intra, inter = thread_settings(intra, inter, cores=threads)
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    keras.mixed_precision.set_global_policy(s["policy"])
    keras.utils.set_random_seed(0)
    if s["bn"] == "keras":
        blocks.BatchNormalization = keras.layers.BatchNormalization
    elif s["bn"] == "fused":
        blocks.BatchNormalization.packed = False
    blocks.Conv2D.pointwise_matmul = s["pointwise"]
    model = MSDNet()
    macs = flops.count(model).exit_cumulative_flops[-1]
    strategy = tf.distribute.get_strategy()
    train_cfg = config_lib.load_config().train  # the defaults: SGD 0.1, momentum 0.9, wd 1e-4
    loss_decay = 0.0
    if s["optimizer"] == "trainer":  # as msdnet_tf.training.Trainer builds it
        optimizer = optimizers.from_config(train_cfg)
    elif s["optimizer"] == "keras_momentum":
        train_cfg.momentum_style = "keras"
        optimizer = optimizers.from_config(train_cfg)
    elif s["optimizer"] == "wd_in_loss":
        optimizer, loss_decay = optimizers.make_sgd(0.1, 0.9, style="torch"), 1e-4
    else:
        optimizer, loss_decay = keras.optimizers.SGD(0.1, momentum=0.9), 1e-4
    optimizer.build(model.trainable_variables)
    num_exits = model.num_exits
    step = steps.make_train_step(model, optimizer, strategy, [1.0] * num_exits, loss_decay,
                                 batch, jit_compile=s["jit"])
    images = tf.random.normal((batch, 32, 32, 3))
    labels = tf.random.uniform((batch,), 0, 100, tf.int32)
    if s["input"] == "const":
        class _Const:  # an "iterator" whose next() is the same batch, as a graph constant
            def __next__(self):
                return tf.constant(images), tf.constant(labels)
        iterator = _Const()
    else:
        iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    k = s["steps_per_call"]
    if k > 1:
        @tf.function
        def multi(iterator):
            ce, correct = tf.zeros([num_exits]), tf.zeros([num_exits])
            for _ in tf.range(k):
                c, r = step(iterator)
                ce, correct = ce + c, correct + r
            return ce, correct
        call = multi
    else:
        call = step
    t = time.perf_counter()
    call(iterator)[0].numpy()
    first = time.perf_counter() - t
    for _ in range(max(1, 3 // k)):
        call(iterator)[0].numpy()

    def fetch():
        ce, correct = call(iterator)
        ce.numpy(), correct.numpy()  # the trainer fetches both every step

    def run(n):
        return _timed(fetch, max(1, round(n / k)), k * batch)

    sys.stderr.write(f"{name}: first call {first:.1f} s\n")
    _reply({"macs": macs, "first_call_s": first})
    _serve(run)


# ---------------------------------------------------------------- coordinator

class Worker:
    def __init__(self, label, argv, env):
        self.label = label
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"tt_{label}_", suffix=".log")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, env=env, text=True, cwd=ROOT)
        self.info = {}

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = self.log.read()[-3000:]
            raise RuntimeError(f"worker {self.label} died:\n{tail}")
        return json.loads(line)

    def wait_ready(self):
        while True:
            msg = self.read()
            if msg.get("ready"):
                return
            self.info.update(msg)

    def run(self, n):
        self.proc.stdin.write(f"run {n}\n")
        self.proc.stdin.flush()
        return self.read()["value"]

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(30)
        except Exception:  # noqa: BLE001
            self.proc.kill()
        self.log.close()


def _env(threads, extra):
    env = dict(os.environ)
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "OPENBLAS_NUM_THREADS": str(threads),
                "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    env.update(extra)
    return env


def _mem_available_gb():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return None


def machine():
    from msdnet_tf.machine import describe

    return describe()


def versions():
    out = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf, keras, numpy; "
         "print(tf.__version__, keras.__version__, numpy.__version__)"],
        capture_output=True, text=True, env=_env(1, {}), check=True).stdout.split()
    return dict(zip(("tensorflow", "keras", "numpy"), out))


def _state_threshold(probes):
    """GEMM rate splitting the machine's fast state from the rest, or None if it kept one.

    The 2 vCPUs of this VM run at about 300 GFLOP/s (float32 GEMM, 2 threads) when the
    host leaves them alone and at about 120-190 otherwise, switching every few tens of
    seconds. "fast" = within 25% of the fastest GEMM of the run.
    """
    best = max(probes)
    return 0.75 * best if best > 1.5 * min(probes) else None


def _summarise(names, runs, threshold, train_flop):
    """Per state, per variant: median img/s, ratio to the adjacent baseline runs, % of peak."""
    def state(peak):
        return "all" if threshold is None else ("fast" if peak > threshold else "slow")

    clean = [r for r in runs if r["probe_after"] <= 1.25 * r["probe_before"]
             and r["probe_before"] <= 1.25 * r["probe_after"]]
    for r in clean:
        r["peak"] = max(r["probe_before"], r["probe_after"])
        r["state"] = state(r["peak"])
    summary = {}
    for st in sorted({r["state"] for r in clean}):
        rows = []
        for n in names:
            mine = [r for r in clean if r["state"] == st and r["variant"] == n]
            if not mine:
                continue
            ratios = []
            for r in mine:
                near = [b["ips"] for b in clean if b["variant"] == "baseline"
                        and b["state"] == st and abs(b["index"] - r["index"]) == 1]
                if n == "baseline":
                    ratios.append(1.0)
                elif near:
                    ratios.append(r["ips"] / statistics.mean(near))
            ips = statistics.median(r["ips"] for r in mine)
            rows.append({
                "variant": n, "description": VARIANTS[n][0], "runs": len(mine),
                "images_per_s": ips,
                "ratio_to_baseline": statistics.median(ratios) if ratios else None,
                "gflops": ips * train_flop / 1e9,
                "peak_gflops": statistics.median(r["peak"] for r in mine),
                "peak_fraction": statistics.median(r["ips"] * train_flop / 1e9 / r["peak"]
                                                   for r in mine),
                "cpu_ms_per_image": 1e3 * statistics.median(r["cpu_per_image"] for r in mine),
                # per round: this variant's ratio to the baseline runs beside it
                "ratios_to_baseline": ratios,
            })
        # Side by side: both ratios are to the baseline runs next to them in time.
        for yardstick in ("reference", "pytorch"):
            y = next((r for r in rows if r["variant"] == yardstick), None)
            for r in rows:
                r[f"vs_{yardstick}_side_by_side"] = (
                    r["ratio_to_baseline"] / y["ratio_to_baseline"]
                    if y and y["ratio_to_baseline"] and r["ratio_to_baseline"] else None)
        summary[st] = rows
    return summary, len(runs) - len(clean)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default=DEFAULT_VARIANTS,
                   help=f"comma list of {', '.join(VARIANTS)} or 'all' (default: %(default)s)")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="intra-op threads of TF and BLAS threads of the GEMM (default: nproc)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=4, help="steps per timed run")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--gemm", type=int, default=2048, help="side of the peak GEMM")
    p.add_argument("--reference", help="path of a kalviny/MSDNet-PyTorch checkout, timed as "
                   "the `reference` variant (the yardstick)")
    p.add_argument("--no-record", action="store_true", help="do not write benchmarks/results/")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        kind, _, name = args.worker.partition(":")
        if kind == "numpy_peak":
            return numpy_peak_worker(args.gemm)
        if kind == "tf_peak":
            return tf_peak_worker(args.gemm, args.threads)
        return train_worker(name, args.threads, args.batch, args.reference)

    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    for n in names:
        if n not in VARIANTS:
            p.error(f"unknown variant {n!r}; known: {', '.join(VARIANTS)}")
    if args.reference:
        sys.path.insert(0, str(ROOT))
        from benchmarks import reference_port

        args.reference = str(Path(args.reference).resolve())
        reference_port.load_module(args.reference)  # fails at once on a wrong path
    elif "reference" in names:
        names.remove("reference")
        print("no --reference checkout given: the yardstick is `pytorch` (the stand-in)",
              flush=True)
    names = ["baseline"] + [n for n in names if n != "baseline"]
    need = 2.2 * len(names) + 1.5  # GB: a worker holds about 2 GB once built
    available = _mem_available_gb()
    if available and need > available:
        p.error(f"{len(names)} variants need about {need:.0f} GB of memory, {available:.0f} GB "
                "are available: time fewer at once (--variants a,b,c)")
    started = time.time()
    load_start = list(os.getloadavg())
    base = [sys.executable, str(Path(__file__).resolve()), "--threads", str(args.threads),
            "--batch", str(args.batch), "--gemm", str(args.gemm)]
    if args.reference:
        base += ["--reference", args.reference]
    base += ["--worker"]
    print(f"building {len(names)} variants + 2 GEMM workers ({args.threads} threads)...",
          flush=True)
    workers = {"peak_numpy": Worker("peak_numpy", base + ["numpy_peak:"], _env(args.threads, {})),
               "peak_tf": Worker("peak_tf", base + ["tf_peak:"], _env(args.threads, {}))}
    pending = list(names)
    runs, numpy_peaks, failed = [], [], {}
    try:
        while pending:  # two at a time: tracing is mostly single-threaded
            batch, pending = pending[:2], pending[2:]
            for n in batch:
                workers[n] = Worker(n, base + [f"train:{n}"],
                                    _env(args.threads, _settings(n)["env"]))
            for n in batch:
                try:
                    workers[n].wait_ready()
                except RuntimeError as e:
                    if n == "baseline":
                        raise
                    failed[n] = str(e).strip().splitlines()[-1][:300]
                    print(f"  {n}: FAILED, left out: {failed[n]}", flush=True)
                    workers.pop(n).close()
                    continue
                print(f"  {n}: ready (first call {workers[n].info['first_call_s']:.1f} s)",
                      flush=True)
        names = [n for n in names if n not in failed]
        workers["peak_numpy"].wait_ready()
        workers["peak_tf"].wait_ready()
        print(f"setup {time.time() - started:.0f} s; {args.rounds} rounds of "
              f"baseline, v1, baseline, v2, ..., baseline ({args.steps} steps each), every "
              f"run between two TF GEMMs", flush=True)
        # Every variant sits between two baseline runs, every run between two GEMM probes:
        # ratios come from neighbours in time, and runs in which the machine changed speed
        # (the probes disagree) are left out.
        probe = workers["peak_tf"].run(2)
        for r in range(args.rounds):
            numpy_peaks.append(workers["peak_numpy"].run(2))
            others = names[1:]
            others = others[r % len(others):] + others[:r % len(others)] if others else []
            order = ["baseline"]
            for n in others:
                order += [n, "baseline"]
            line = []
            for n in order:
                ips, cpu = workers[n].run(args.steps)
                after = workers["peak_tf"].run(2)
                runs.append({"variant": n, "round": r, "index": len(runs), "ips": ips,
                             "cpu_per_image": cpu, "probe_before": probe, "probe_after": after})
                line.append(f"{n} {ips:.1f}")
                probe = after
            print(f"  round {r + 1}: " + ", ".join(line) + f" img/s; numpy GEMM "
                  f"{numpy_peaks[-1]:.0f} GFLOP/s", flush=True)
    finally:
        for w in workers.values():
            w.close()

    macs = workers["baseline"].info["macs"]
    train_flop = 6.0 * macs  # 3 x forward x 2 FLOP per multiply-add, per image
    probes = [r["probe_before"] for r in runs] + [runs[-1]["probe_after"]]
    threshold = _state_threshold(probes + numpy_peaks)
    summary, dropped = _summarise(names, runs, threshold, train_flop)
    record = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "benchmarks/train_throughput.py"]
                            + sys.argv[1:]),
        "machine": machine(), "versions": versions(), "threads": args.threads,
        "batch": args.batch, "steps_per_run": args.steps, "rounds": args.rounds,
        "warmup_steps_per_run": WARMUP_STEPS,
        "forward_macs_per_image": macs, "train_flop_per_image": train_flop,
        "gemm_size": args.gemm, "state_threshold_gflops": threshold,
        "numpy_gemm_gflops": numpy_peaks, "runs_dropped_speed_changed": dropped,
        "failed_variants": failed,
        "reference_checkout": args.reference and _git_head(args.reference),
        "worker_info": {n: {k: v for k, v in w.info.items() if k != "macs"}
                        for n, w in workers.items() if n in names},
        "states": summary, "runs": runs, "seconds": time.time() - started,
        "load_average_at_start_and_end": [load_start, list(os.getloadavg())],
    }
    md = markdown(record)
    print()
    print(md)
    if not args.no_record:
        write_record(record, md)
        print(f"wrote {RESULTS / 'train_throughput.md'} and .json")


EARLIER = "# Earlier records"


def write_record(record, md):
    """The new record on top; earlier records kept below it (md) / under "earlier" (json)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS / "train_throughput.json", RESULTS / "train_throughput.md"
    earlier, earlier_md = [], ""
    if json_path.is_file():
        old = json.loads(json_path.read_text())
        earlier = [{k: v for k, v in old.items() if k != "earlier"}] + old.get("earlier", [])
    if md_path.is_file():
        text = md_path.read_text()
        head, _, rest = text.partition(EARLIER)
        # Demote the previous latest record's headings under "Earlier records".
        previous = "\n".join("#" + line if line.startswith("#") else line
                             for line in head.strip().splitlines())
        earlier_md = previous + ("\n\n" + rest.strip() if rest.strip() else "")
    record = {**record, "earlier": earlier}
    json_path.write_text(json.dumps(record, indent=1) + "\n")
    md_path.write_text(md + (f"\n{EARLIER}\n\n{earlier_md}\n" if earlier_md else ""))


def _git_head(path):
    try:
        return {"path": str(path), "commit": subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
            check=True).stdout.strip()}
    except (OSError, subprocess.CalledProcessError):
        return {"path": str(path), "commit": None}


def markdown(rec):
    m, v = rec["machine"], rec["versions"]
    th = rec["state_threshold_gflops"]
    lines = [
        "# Training throughput: CIFAR-100 anytime MSDNet",
        "",
        f"- command: `{rec['command']}`",
        f"- date: {rec['date']}; took {rec['seconds']:.0f} s",
        f"- machine: {m['cpu']}, nproc {m['nproc']} ({', '.join(m['isa'])}); "
        f"TensorFlow {v.get('tensorflow')}, Keras {v.get('keras')}, numpy {v.get('numpy')}, "
        f"Python {m['python']}; load average at start {rec['load_average_at_start_and_end'][0]}",
        f"- setup: MSDNet() defaults (10 exits, 100 classes), batch {rec['batch']}, random "
        f"data, `make_train_step` with the trainer's optimizer (torch-style momentum SGD with "
        f"coupled weight decay, fused per variable; see `what`), all exit losses, "
        f"--threads {rec['threads']} (TF op threads per variant, see `what`; GEMM and PyTorch "
        f"threads); {rec['rounds']} rounds of runs of "
        f"{rec['steps_per_run']} timed steps (after {rec.get('warmup_steps_per_run', 0)} "
        "untimed), each variant between two baseline runs",
        f"- work: {rec['forward_macs_per_image'] / 1e6:.1f} M forward multiply-adds per image "
        f"-> {rec['train_flop_per_image'] / 1e9:.3f} GFLOP per trained image (3 x 2 x MACs)",
        f"- peak: TF float32 GEMM {rec['gemm_size']}^3 on {rec['threads']} threads, measured "
        f"before and after every run (numpy's, once a round: "
        f"{min(rec['numpy_gemm_gflops']):.0f}-{max(rec['numpy_gemm_gflops']):.0f} GFLOP/s); "
        f"% of peak = achieved / the larger of the two GEMMs around the run",
        f"- machine speed: " + (
            f"two states this run (GEMM below / above {th:.0f} GFLOP/s = slow / fast, "
            "fast = within 25% of the best GEMM); "
            "figures per state" if th else "one state this run") +
        f"; {rec['runs_dropped_speed_changed']} runs dropped because the speed changed "
        "during them",
        "- target: >= 1.5 x the reference port on this machine, float32. `x reference` and "
        "`x pytorch` are measured side by side (variant / baseline over reference / baseline, "
        "each ratio against the baseline runs next to it in time; median over rounds), "
        "`rounds` lists the per-round ratios to the baseline",
        f"- yardstick: " + (f"the reference checkout at {rec['reference_checkout']['path']} "
                            f"(commit {rec['reference_checkout']['commit']})"
                            if rec.get("reference_checkout") else
                            "no reference checkout given; `pytorch` (the stand-in)"),
        "",
    ]
    for n, err in rec["failed_variants"].items():
        lines.insert(-1, f"- {n}: failed to build/run, left out: `{err}`")
    for st, rows in rec["states"].items():
        if st != "all":
            lines.append(f"## {st} state")
            lines.append("")
        lines += [
            "| variant | runs | images/s | x baseline | rounds | GFLOP/s | peak GFLOP/s "
            "| % of peak | x reference | x pytorch | what |",
            "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]

        def fmt(v):
            return "-" if v is None else f"{v:.2f}"

        for r in rows:
            per_round = " ".join(f"{x:.2f}" for x in r.get("ratios_to_baseline", []))
            lines.append(
                f"| {r['variant']} | {r['runs']} | {r['images_per_s']:.1f} "
                f"| {fmt(r['ratio_to_baseline'])} | {per_round if r['variant'] != 'baseline' else ''} "
                f"| {r['gflops']:.1f} | {r['peak_gflops']:.0f} "
                f"| {100 * r['peak_fraction']:.0f}% | {fmt(r.get('vs_reference_side_by_side'))} "
                f"| {fmt(r.get('vs_pytorch_side_by_side'))} | {r['description']} |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
