"""Training throughput (images/s) of the CIFAR-100 anytime MSDNet on this machine.

    .venv/bin/python benchmarks/train_throughput.py                    # default set, ~7 min
    .venv/bin/python benchmarks/train_throughput.py --variants all     # needs ~35 GB of memory
    .venv/bin/python benchmarks/train_throughput.py --variants inter1,inter4,onednn_off
    .venv/bin/python benchmarks/train_throughput.py --variants bf16,inter1 --rounds 8

Every variant runs the real `msdnet_tf.training.steps.make_train_step` (momentum
SGD, coupled weight decay 1e-4, the loss of all 10 exits) on MSDNet() defaults,
batch 64, random images, in its own long-lived worker process (thread and
oneDNN settings are fixed when TensorFlow starts). Once all are built, runs of
--steps steps are timed in rounds of baseline, v1, baseline, v2, ..., baseline:
a variant's ratio is to the mean of the two baseline runs beside it in time.
The `pytorch` variant trains the same network in PyTorch
(benchmarks/torch_msdnet.py; needs the torch extra), so that the comparison
with PyTorch is made side by side on the same machine in the same run.

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
import platform
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
# default), env (extra environment), framework (tf | torch).
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
    "pytorch": ("the same network in PyTorch (benchmarks/torch_msdnet.py, NCHW, float32): "
                "SGD momentum 0.9, weight decay 1e-4, summed exit losses, "
                "torch.set_num_threads(--threads)", {"framework": "torch"}),
}
DEFAULT_VARIANTS = "baseline,pytorch,tf_threads,fused_bn,tf_threads_fused_bn,bf16"


def _settings(name):
    s = {"framework": "tf", "bn": "repo", "policy": "float32", "jit": False, "steps_per_call": 1, "input": "data",
         "intra": None, "inter": None, "env": {}}
    s.update(VARIANTS[name][1])
    return s


# ---------------------------------------------------------------- workers

def _reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(call, calls, images_per_call):
    """[images/s, CPU seconds per image] of `calls` calls of `call`."""
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


def torch_worker(threads, batch):
    import torch

    sys.path.insert(0, str(ROOT))
    from benchmarks.torch_msdnet import TorchMSDNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = TorchMSDNet().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    images = torch.randn(batch, 3, 32, 32)
    labels = torch.randint(0, 100, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model(images)
        losses = [loss_fn(out, labels) for out in logits]
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

    _reply({"macs": None, "first_call_s": first, "torch": torch.__version__})
    _serve(run)


def train_worker(name, threads, batch):
    s = _settings(name)
    if s["framework"] == "torch":
        return torch_worker(threads, batch)
    import keras
    import tensorflow as tf

    sys.path.insert(0, str(ROOT))
    from msdnet_tf import flops
    from msdnet_tf.models import MSDNet, blocks
    from msdnet_tf.training import steps

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
    model = MSDNet()
    macs = flops.count(model).exit_cumulative_flops[-1]
    strategy = tf.distribute.get_strategy()
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    num_exits = model.num_exits
    step = steps.make_train_step(model, optimizer, strategy, [1.0] * num_exits, 1e-4, batch,
                                 jit_compile=s["jit"])
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
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split()
        isa = [f for f in ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    except (OSError, StopIteration):
        isa = []
    return {"cpu": model, "nproc": os.cpu_count(), "isa": isa, "python": platform.python_version()}


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
                "vs_pytorch_48": ips / 48.0,
            })
        # Side by side: both ratios are to the baseline runs next to them in time.
        torch_row = next((r for r in rows if r["variant"] == "pytorch"), None)
        for r in rows:
            r["vs_pytorch_side_by_side"] = (
                r["ratio_to_baseline"] / torch_row["ratio_to_baseline"]
                if torch_row and torch_row["ratio_to_baseline"] and r["ratio_to_baseline"]
                else None)
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
    p.add_argument("--no-record", action="store_true", help="do not write benchmarks/results/")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        kind, _, name = args.worker.partition(":")
        if kind == "numpy_peak":
            return numpy_peak_worker(args.gemm)
        if kind == "tf_peak":
            return tf_peak_worker(args.gemm, args.threads)
        return train_worker(name, args.threads, args.batch)

    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    for n in names:
        if n not in VARIANTS:
            p.error(f"unknown variant {n!r}; known: {', '.join(VARIANTS)}")
    names = ["baseline"] + [n for n in names if n != "baseline"]
    need = 2.2 * len(names) + 1.5  # GB: a worker holds about 2 GB once built
    available = _mem_available_gb()
    if available and need > available:
        p.error(f"{len(names)} variants need about {need:.0f} GB of memory, {available:.0f} GB "
                "are available: time fewer at once (--variants a,b,c)")
    started = time.time()
    load_start = list(os.getloadavg())
    base = [sys.executable, str(Path(__file__).resolve()), "--threads", str(args.threads),
            "--batch", str(args.batch), "--gemm", str(args.gemm), "--worker"]
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
        "forward_macs_per_image": macs, "train_flop_per_image": train_flop,
        "gemm_size": args.gemm, "state_threshold_gflops": threshold,
        "numpy_gemm_gflops": numpy_peaks, "runs_dropped_speed_changed": dropped,
        "failed_variants": failed,
        "pytorch_reference_images_per_s": 48.0,
        "states": summary, "runs": runs, "seconds": time.time() - started,
        "load_average_at_start_and_end": [load_start, list(os.getloadavg())],
    }
    md = markdown(record)
    print()
    print(md)
    if not args.no_record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "train_throughput.json").write_text(json.dumps(record, indent=1) + "\n")
        (RESULTS / "train_throughput.md").write_text(md)
        print(f"wrote {RESULTS / 'train_throughput.md'} and .json")


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
        f"data, `make_train_step` (momentum SGD, coupled weight decay, all exit losses), "
        f"--threads {rec['threads']} (TF op threads per variant, see `what`; GEMM and PyTorch "
        f"threads); {rec['rounds']} rounds of runs of "
        f"{rec['steps_per_run']} steps, each variant between two baseline runs",
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
        "- target: >= 1.5 x PyTorch on this machine. `x PyTorch` is measured side by side "
        "(variant / baseline over pytorch / baseline, each against the baseline runs next to "
        "it in time); `x 48` is against the deployment notes' figure for the PyTorch port "
        "(48 images/s, so 72 images/s)",
        "",
    ]
    for n, err in rec["failed_variants"].items():
        lines.insert(-1, f"- {n}: failed to build/run, left out: `{err}`")
    for st, rows in rec["states"].items():
        if st != "all":
            lines.append(f"## {st} state")
            lines.append("")
        lines += [
            "| variant | runs | images/s | x baseline | GFLOP/s | peak GFLOP/s | % of peak "
            "| x PyTorch | x 48 img/s | what |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in rows:
            ratio = "-" if r["ratio_to_baseline"] is None else f"{r['ratio_to_baseline']:.2f}"
            vs_torch = ("-" if r.get("vs_pytorch_side_by_side") is None
                        else f"{r['vs_pytorch_side_by_side']:.2f}")
            lines.append(
                f"| {r['variant']} | {r['runs']} | {r['images_per_s']:.1f} | {ratio} "
                f"| {r['gflops']:.1f} | {r['peak_gflops']:.0f} "
                f"| {100 * r['peak_fraction']:.0f}% | {vs_torch} | {r['vs_pytorch_48']:.2f} "
                f"| {r['description']} |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
