"""Training fidelity: msdnet_tf's trainer and the reference PyTorch port, side by side.

    .venv/bin/python benchmarks/train_fidelity.py --reference ../refs/MSDNet-PyTorch \\
        --arms reference,tf_fixed --seeds 0 1 2 3 --jobs 2
    .venv/bin/python benchmarks/train_fidelity.py --report      # tables from finished runs

Both sides train on the same work: the config's data (default configs/quickstart.yaml:
Fashion-MNIST, the hold-out of `data.holdout_seed` saved as holdout.json, then the
first `data.train_limit` training images), preprocessing and augmentation rule
(`msdnet_tf.data.preprocessing_spec`), recipe (SGD momentum, lr and its step
schedule, coupled weight decay, batch, epochs, sum of exit cross-entropies) and
test split. The TensorFlow side is `msdnet_tf.training.Trainer`, our real trainer
and data pipeline. The PyTorch side is the reference port's own `models/msdnet.py`,
imported from the checkout given by --reference (kalviny/MSDNet-PyTorch; nothing
of it is copied here), trained by a loop with the semantics of its `main.py`:
torch.optim.SGD(lr, momentum, weight_decay), per-exit nn.CrossEntropyLoss (batch
mean) summed over exits, lr set per epoch, the final model tested. Its weights
start from PyTorch's defaults, as in the reference (its initialiser never reaches
a Conv2d or Linear).

Every (arm, seed) is one training run in a process of its own; results are kept in
<workdir>/<arm>/seed<k>/result.json, so runs already done are skipped and seeds can be
added later. Both sides report top-1 of every exit on the test split with the
weights after the last epoch (the reference's main.py tests its final model), and
validation top-1 after every epoch.

Arms (--arms; `--list` prints them):
- reference: the port as its main.py trains it: a SubsetRandomSampler-style order
  (torch.randperm each epoch), the last partial batch kept, crop offsets and flips
  drawn per image from torch's generator.
- reference_our_batches: the port fed with the exact batches our trainer sees for
  the same seed (order, crops, flips, batches of exactly 64).
- tf_*: our trainer with config overrides (see ARMS).
- tf_same_init: our trainer starting from the reference's initial weights of the
  same seed (torch.manual_seed(seed), then the port's constructor, as in
  reference_our_batches): with the same batches, the two runs differ only in the
  frameworks' arithmetic. Since torch_default draws PyTorch's own numbers, tf_fixed
  starts from these same weights without loading them.

Writes benchmarks/results/train_fidelity.{md,json} with --report (unless --no-record).
"""

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_CONFIG = ROOT / "configs" / "quickstart.yaml"

# name -> (side, description, settings). TF settings: "overrides" (config overrides
# on top of --config), "same_init". Torch settings: "data" ("reference" | "ours").
ARMS = {
    "reference": ("torch", "the reference port, trained as its main.py does (own data order, "
                  "last partial batch kept, per-image crops/flips from torch's generator)",
                  {"data": "reference"}),
    "reference_our_batches": ("torch", "the reference port fed our trainer's exact batches "
                              "of the same seed", {"data": "ours"}),
    "tf_before": ("tf", "msdnet_tf before the fix: He-normal fan-out init, Keras momentum",
                  {"overrides": ["train.init=he_normal", "train.momentum_style=keras"]}),
    "tf_init": ("tf", "PyTorch default init, Keras momentum (init ablation)",
                {"overrides": ["train.init=torch_default", "train.momentum_style=keras"]}),
    "tf_momentum": ("tf", "He-normal init, PyTorch momentum (momentum ablation)",
                    {"overrides": ["train.init=he_normal", "train.momentum_style=torch"]}),
    "tf_fixed": ("tf", "the defaults: PyTorch's default init drawn as PyTorch draws it (the "
                 "reference port's initial weights of the same seed, bit for bit) and PyTorch "
                 "momentum",
                 {"overrides": ["train.init=torch_default", "train.momentum_style=torch"]}),
    # Records of tf_fixed before the 1x1 convolutions' MatMul gradients (9463417): the same
    # gradients up to rounding, from TF's Conv2DBackpropInput/Filter ops.
    "tf_fixed_conv_grads": ("tf", "tf_fixed before 9463417: the 1x1 convolutions' gradients "
                            "from TF's convolution ops instead of MatMuls (same gradients up "
                            "to rounding)", {"record_only": True}),
    # Records of msdnet_tf before torch_init (1337bdf), when torch_default drew PyTorch's
    # distributions from Keras's generator: the same distributions, other numbers. The
    # current code cannot re-run them (its torch_default draws PyTorch's numbers).
    "tf_fixed_keras_draws": ("tf", "tf_fixed before 1337bdf: PyTorch's init distributions "
                             "drawn from Keras's generator, PyTorch momentum",
                             {"record_only": True}),
    "tf_init_keras_draws": ("tf", "tf_init before 1337bdf: PyTorch's init distributions drawn "
                            "from Keras's generator, Keras momentum", {"record_only": True}),
    "tf_fixed_keras_bn": ("tf", "tf_fixed with the stock keras.layers.BatchNormalization "
                          "(BN kernel ablation)",
                          {"overrides": ["train.init=torch_default",
                                         "train.momentum_style=torch"], "keras_bn": True}),
    "tf_same_init": ("tf", "tf_fixed starting from the reference's initial weights of the "
                     "same seed (pair with reference_our_batches)",
                     {"overrides": ["train.init=torch_default", "train.momentum_style=torch"],
                      "same_init": True}),
}


def _arm(name):
    side, desc, settings = ARMS[name]
    return side, desc, {"overrides": [], "data": "reference", "same_init": False,
                        "keras_bn": False, "record_only": False, **settings}


def _sha(array):
    import numpy as np

    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def machine():
    from msdnet_tf.machine import describe

    return describe()


# ------------------------------------------------------------------ reference port

def build_reference(reference, model_cfg, seed):
    """torch.manual_seed(seed), then the port's MSDNet for `model_cfg` (its main.py's order)."""
    import dataclasses

    sys.path.insert(0, str(ROOT))
    from benchmarks import reference_port

    return reference_port.build(reference, seed=seed, **dataclasses.asdict(model_cfg))


# ------------------------------------------------------------------ workers

def _config(args, overrides, seed):
    from msdnet_tf import config as config_lib

    return config_lib.load_config(args.config, list(args.override) + list(overrides)
                                  + [f"train.seed={seed}"])


def tf_worker(args, arm, seed, out_dir):
    import keras

    from msdnet_tf.training import steps as steps_lib
    from msdnet_tf.training.trainer import Trainer

    _, _, s = _arm(arm)
    if s["keras_bn"]:
        from msdnet_tf.models import blocks

        blocks.BatchNormalization = keras.layers.BatchNormalization
    cfg = _config(args, s["overrides"], seed)
    start = time.time()
    trainer = Trainer(cfg, out_dir / "run")
    if s["same_init"] and trainer.resumed_epoch == 0:
        import numpy as np

        from msdnet_tf import weights

        net = build_reference(args.reference, cfg.model, seed)
        weights.load_state_dict(trainer.model, {k: v.detach().numpy()
                                                for k, v in net.state_dict().items()})
        np.testing.assert_array_equal(  # the stem conv, as a spot check
            trainer.model.get_layer("stem_s0_conv").kernel.numpy(),
            np.transpose(net.state_dict()["blocks.0.0.layers.0.net.0.weight"].numpy(),
                         (2, 3, 1, 0)))
    history = trainer.fit(verbose=False)
    test = steps_lib.evaluate_top1(trainer.model, trainer.strategy,
                                   trainer.data.eval_dataset("test", 256), trainer.num_exits,
                                   trainer.eval_step)
    return {
        "test_top1": test,
        "val_top1_per_epoch": [r["val_top1"] for r in history],
        "train_loss_per_epoch": [r["loss"] for r in history],
        "lr_per_epoch": [r["lr"] for r in history],
        "train_indices_sha1": _sha(trainer.data._index["train"]),  # noqa: SLF001
        "steps_per_epoch": trainer.steps_per_epoch,
        "images_per_epoch": trainer.steps_per_epoch * cfg.train.batch_size,
        "trainable_params": int(sum(math.prod(v.shape) for v in trainer.model.trainable_weights)),
        "threads": list(trainer.threads),
        "seconds": time.time() - start,
        "config": {"train": vars(cfg.train), "model": vars(cfg.model), "data": vars(cfg.data)},
    }


class _ReferenceLoader:
    """Batches as the reference's DataLoader yields them: a fresh torch.randperm order
    every epoch (SubsetRandomSampler), the last partial batch kept, each image's random
    ops drawn from torch's generator (RandomCrop: offsets uniform over all positions;
    RandomHorizontalFlip: p = 0.5), then x / 255, (x - mean) / std."""

    def __init__(self, images, labels, spec, batch):
        import torch

        ops = spec["train_ops"]
        known = ("gray_to_rgb", "pad", "random_crop", "random_flip_left_right")
        for op in ops:
            if op["op"] not in known:
                raise SystemExit(f"the reference-style loader does not implement {op['op']}")
        x = torch.from_numpy(images).permute(0, 3, 1, 2)  # uint8 NCHW
        self.crop = None
        self.flip = False
        for op in ops:  # deterministic ops once, random ones per batch
            if self.crop is None and op["op"] == "gray_to_rgb" and x.shape[1] == 1:
                x = x.repeat(1, 3, 1, 1)
            elif op["op"] == "pad":
                p = op["pixels"]
                if self.crop is None:
                    x = torch.nn.functional.pad(x, (p, p, p, p), value=op["value"])
                else:
                    raise SystemExit("pad after a random crop is not implemented")
            elif op["op"] == "random_crop":
                self.crop = (op["height"], op["width"])
            elif op["op"] == "random_flip_left_right":
                self.flip = True
        self.x, self.y, self.batch = x, torch.from_numpy(labels).long(), batch
        self.mean = torch.tensor(spec["mean"]).view(1, 3, 1, 1)
        self.std = torch.tensor(spec["std"]).view(1, 3, 1, 1)

    def epoch(self, steps=None):
        import torch

        order = torch.randperm(len(self.y))
        for start in range(0, len(order), self.batch)[:steps]:
            idx = order[start:start + self.batch]
            x = self.x[idx]
            if self.crop:
                h, w = self.crop
                n, _, big_h, big_w = x.shape
                i = torch.randint(0, big_h - h + 1, (n,))
                j = torch.randint(0, big_w - w + 1, (n,))
                rows = (i.view(n, 1) + torch.arange(h)).view(n, 1, h, 1).expand(n, 3, h, big_w)
                x = torch.gather(x, 2, rows)
                cols = (j.view(n, 1) + torch.arange(w)).view(n, 1, 1, w).expand(n, 3, h, w)
                x = torch.gather(x, 3, cols)
            if self.flip:
                flip = torch.rand(len(idx)) < 0.5
                x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
            x = (x.float() / 255.0 - self.mean) / self.std
            yield x, self.y[idx]


def _our_batches(bundle, seed, epoch, steps, batch):
    """Exactly the batches Trainer._train_epoch draws for `seed` and `epoch`."""
    import torch

    bundle.seed, bundle.epoch = seed, epoch
    ds = bundle.train_dataset_fn(None, batch).take(steps)
    for images, labels in ds.as_numpy_iterator():
        yield (torch.from_numpy(images.transpose(0, 3, 1, 2).copy()),
               torch.from_numpy(labels).long())


def torch_worker(args, arm, seed, out_dir):
    import numpy as np
    import tensorflow as tf
    import torch

    from msdnet_tf import data as data_lib
    from msdnet_tf.training.trainer import learning_rate

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    torch.set_num_threads(args.threads)
    _, _, s = _arm(arm)
    cfg = _config(args, [], seed)
    t = cfg.train
    start = time.time()
    net = build_reference(args.reference, cfg.model, seed)  # first: the same init as same_init
    bundle = data_lib.build_from_config(cfg, out_dir / "run")
    prep = lambda split: torch.from_numpy(  # noqa: E731  test-time preprocessing, ours
        data_lib.preprocess_batch(cfg.data.dataset, bundle.images(split),
                                  cfg.model.image_size).transpose(0, 3, 1, 2).copy())
    val_x, val_y = prep("val"), torch.from_numpy(bundle.labels("val")).long()
    test_x, test_y = prep("test"), torch.from_numpy(bundle.labels("test")).long()
    steps = t.steps_per_epoch or bundle.steps_per_epoch(t.batch_size)
    loader = None
    if s["data"] == "reference":
        loader = _ReferenceLoader(bundle.images("train"), bundle.labels("train"),
                                  bundle.preprocessing_spec(), t.batch_size)
    optimizer = torch.optim.SGD(net.parameters(), t.learning_rate, momentum=t.momentum,
                                weight_decay=t.weight_decay, nesterov=t.nesterov)
    criterion = torch.nn.CrossEntropyLoss()

    def evaluate(x, y):
        net.eval()
        correct = np.zeros(cfg.model.num_blocks)
        with torch.no_grad():
            for i in range(0, len(y), 256):
                for k, out in enumerate(net(x[i:i + 256])):
                    correct[k] += (out.argmax(1) == y[i:i + 256]).sum().item()
        return [100.0 * c / len(y) for c in correct]

    val_hist, loss_hist, lr_hist, images_seen = [], [], [], []
    for epoch in range(t.epochs):
        lr = learning_rate(t, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        net.train()
        batches = (loader.epoch(t.steps_per_epoch or None) if loader else
                   _our_batches(bundle, seed, epoch, steps, t.batch_size))
        total, seen = 0.0, 0
        for x, y in batches:
            out = net(x)
            loss = sum(criterion(o, y) for o in out)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
        val_hist.append(evaluate(val_x, val_y))
        loss_hist.append(total / seen)
        lr_hist.append(lr)
        images_seen.append(seen)
        print(f"{arm} seed {seed} epoch {epoch + 1}: val {val_hist[-1]}", file=sys.stderr,
              flush=True)
    return {
        "test_top1": evaluate(test_x, test_y),
        "val_top1_per_epoch": val_hist,
        "train_loss_per_epoch": loss_hist,
        "lr_per_epoch": lr_hist,
        "train_indices_sha1": _sha(bundle._index["train"]),  # noqa: SLF001
        "images_per_epoch": images_seen[0],
        "trainable_params": int(sum(p.numel() for p in net.parameters())),
        "threads": [torch.get_num_threads()],
        "torch": torch.__version__,
        "seconds": time.time() - start,
    }


def worker(args):
    arm, seed = args.worker.split(":")
    seed = int(seed)
    side = _arm(arm)[0]
    out_dir = Path(args.workdir) / arm / f"seed{seed}"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = (tf_worker if side == "tf" else torch_worker)(args, arm, seed, out_dir)
    result.update(arm=arm, seed=seed, side=side, description=_arm(arm)[1],
                  date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                  machine=machine(), config_file=str(args.config),
                  command=os.environ.get("TRAIN_FIDELITY_COMMAND"),
                  reference=str(args.reference) if side == "torch" or _arm(arm)[2]["same_init"]
                  else None)
    tmp = out_dir / ".result.json.tmp"
    tmp.write_text(json.dumps(result, indent=1, default=str))
    tmp.replace(out_dir / "result.json")


# ------------------------------------------------------------------ coordinator

def _without_wrap(argv):
    """argv without --wrap and its value (a launcher does not change the results)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--wrap":
            skip = True
        elif not a.startswith("--wrap="):
            out.append(a)
    return out


def run_all(args, arms, seeds):
    todo = [(a, s) for s in seeds for a in arms
            if not (Path(args.workdir) / a / f"seed{s}" / "result.json").is_file()]
    print(f"{len(todo)} runs to do ({args.jobs} at a time): "
          + ", ".join(f"{a}:{s}" for a, s in todo), flush=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": str(args.threads),
           "TRAIN_FIDELITY_COMMAND": " ".join([".venv/bin/python", "benchmarks/train_fidelity.py"]
                                              + _without_wrap(sys.argv[1:]))}

    def one(item):
        arm, seed = item
        log = Path(args.workdir) / arm / f"seed{seed}" / "log.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = args.wrap.split() + [
               sys.executable, str(Path(__file__).resolve()), "--worker", f"{arm}:{seed}",
               "--config", str(args.config), "--workdir", str(args.workdir),
               "--threads", str(args.threads)]
        for text in args.override:
            cmd += ["--override", text]
        if args.reference:
            cmd += ["--reference", str(args.reference)]
        t = time.time()
        with open(log, "w") as f:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                                cwd=ROOT).returncode
        print(f"  {arm} seed {seed}: {'done' if rc == 0 else f'FAILED (exit {rc}), see {log}'}"
              f" in {time.time() - t:.0f} s", flush=True)
        return rc

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        return max(list(pool.map(one, todo)) or [0])


def load_results(workdir):
    results = {}
    for path in sorted(Path(workdir).glob("*/seed*/result.json")):
        r = json.loads(path.read_text())
        results.setdefault(r["arm"], {})[r["seed"]] = r
    return results


def _stats(values):
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return mean, sd, min(values), max(values)


def summarise(results, baseline="reference"):
    """Per arm: per-seed test top-1, mean, sd, range; difference to `baseline`."""
    summary = {}
    base = results.get(baseline, {})
    for arm, by_seed in results.items():
        seeds = sorted(by_seed)
        table = [by_seed[s]["test_top1"] for s in seeds]
        exits = len(table[0])
        row = {"arm": arm, "side": by_seed[seeds[0]]["side"],
               "description": by_seed[seeds[0]]["description"], "seeds": seeds,
               "test_top1": {str(s): by_seed[s]["test_top1"] for s in seeds},
               "val_top1_epoch1": {str(s): by_seed[s]["val_top1_per_epoch"][0] for s in seeds},
               "train_loss_per_epoch": {str(s): by_seed[s]["train_loss_per_epoch"]
                                        for s in seeds},
               "mean": [], "sd": [], "min": [], "max": [], "epoch1_val_mean": [],
               "train_indices_sha1": sorted({by_seed[s]["train_indices_sha1"] for s in seeds}),
               "images_per_epoch": sorted({by_seed[s]["images_per_epoch"] for s in seeds}),
               "minutes_per_run": statistics.mean(by_seed[s]["seconds"] for s in seeds) / 60}
        for k in range(exits):
            m, sd, lo, hi = _stats([t[k] for t in table])
            row["mean"].append(m)
            row["sd"].append(sd)
            row["min"].append(lo)
            row["max"].append(hi)
            row["epoch1_val_mean"].append(statistics.mean(
                by_seed[s]["val_top1_per_epoch"][0][k] for s in seeds))
        losses = [by_seed[s]["train_loss_per_epoch"] for s in seeds]
        row["train_loss_mean"] = [statistics.mean(l[e] for l in losses)
                                  for e in range(min(len(l) for l in losses))]
        if base and arm != baseline:
            bseeds = sorted(base)
            row["diff_to_reference"] = []
            row["diff_se"] = []
            for k in range(exits):
                a = [t[k] for t in table]
                b = [base[s]["test_top1"][k] for s in bseeds]
                row["diff_to_reference"].append(statistics.mean(a) - statistics.mean(b))
                se = math.sqrt((statistics.variance(a) / len(a) if len(a) > 1 else 0)
                               + (statistics.variance(b) / len(b) if len(b) > 1 else 0))
                row["diff_se"].append(se)
        summary[arm] = row
    return summary


GOAL = 0.3  # points of test top-1, every exit, mean of >= 3 seeds
SHARING = ("the runs shared the machine's cores with other jobs (other trainings and test "
           "suites, load average often far above the core count), so minutes per run are "
           "not comparable between runs; accuracies do not depend on it")


def _fmt(v):
    return f"{v:.2f}"


def markdown(summary, meta, pairs):
    lines = [
        "# Training fidelity: msdnet_tf vs the reference PyTorch port, side by side",
        "",
        "- commands (runs): " + "; ".join(f"`{c}`" for c in meta["commands"]),
        f"- this report: `{meta['report_command']}`",
        f"- dates of the runs: {meta['first_date']} ... {meta['last_date']}",
        f"- machine: {meta['machine']['cpu']}, nproc {meta['machine']['nproc']}; "
        f"{meta['versions']}",
        f"- config: `{meta['config']}`; {meta['work']}",
        "- figures: test top-1 (%) of every exit with the weights after the last epoch; "
        "mean, sample standard deviation (sd) and range over seeds; `diff` = mean minus the "
        "reference's mean, `se` its standard error (sqrt(sd1^2/n1 + sd2^2/n2)); train loss = "
        "mean over the epoch's batches of the summed exit cross-entropies (augmented "
        "training batches, training-mode BN, no weight decay term)",
        f"- goal: every exit within {GOAL} point of the reference on the mean of >= 3 seeds",
        "- " + meta.get("sharing", SHARING),
        "",
    ]
    order = ["reference"] + [a for a in ARMS if a != "reference" and a in summary]
    exits = len(summary[order[0] if order[0] in summary else next(iter(summary))]["mean"])
    lines += ["## Summary", "",
              "| arm | seeds | " + " | ".join(f"exit {k} mean (diff)" for k in range(exits))
              + " | train loss epoch 1 / last | goal met |",
              "|---|---" + "|---" * exits + "|---|---|"]
    for arm in order:
        if arm not in summary:
            continue
        r = summary[arm]
        diffs = r.get("diff_to_reference")
        cells = [_fmt(m) + (f" ({d:+.2f})" if diffs else "")
                 for m, d in zip(r["mean"], diffs or r["mean"])]
        if diffs is None:
            goal = "-"
        elif len(r["seeds"]) < 3 or len(summary.get("reference", {}).get("seeds", [])) < 3:
            goal = "fewer than 3 seeds"
        else:
            goal = "yes" if all(abs(d) <= GOAL for d in diffs) else (
                "no (" + ", ".join(f"exit {k}" for k, d in enumerate(diffs) if abs(d) > GOAL)
                + ")")
        loss = r["train_loss_mean"]
        lines.append(f"| {arm} | {len(r['seeds'])} | " + " | ".join(cells)
                     + f" | {loss[0]:.3f} / {loss[-1]:.3f} | {goal} |")
    lines.append("")
    for arm in order:
        if arm not in summary:
            continue
        r = summary[arm]
        exits = len(r["mean"])
        head = " | ".join(f"exit {k}" for k in range(exits))
        lines += [f"## {arm}", "", r["description"] + f" ({r['side']}; "
                  f"{r['minutes_per_run']:.1f} min per run)", "",
                  f"| seed | {head} | val exit 0 after epoch 1 | train loss per epoch |",
                  "|---" * (exits + 3) + "|"]
        for s in r["seeds"]:
            lines.append(f"| {s} | " + " | ".join(_fmt(v) for v in r["test_top1"][str(s)])
                         + f" | {_fmt(r['val_top1_epoch1'][str(s)][0])} | "
                         + " / ".join(f"{v:.3f}" for v in r["train_loss_per_epoch"][str(s)])
                         + " |")
        lines.append("| mean | " + " | ".join(_fmt(v) for v in r["mean"])
                     + f" | {_fmt(r['epoch1_val_mean'][0])} | "
                     + " / ".join(f"{v:.3f}" for v in r["train_loss_mean"]) + " |")
        lines.append("| sd | " + " | ".join(_fmt(v) for v in r["sd"]) + " | | |")
        lines.append("| range | " + " | ".join(_fmt(hi - lo) for lo, hi in
                                                zip(r["min"], r["max"])) + " | | |")
        if "diff_to_reference" in r:
            lines.append("| diff | " + " | ".join(f"{d:+.2f}" for d in r["diff_to_reference"])
                         + " | | |")
            lines.append("| se | " + " | ".join(_fmt(v) for v in r["diff_se"]) + " | | |")
        lines.append("")
    if pairs:
        lines += ["## Paired differences (same seed on both sides)", "",
                  "| pair | shared per seed | seeds | mean diff per exit | sd of the diff | "
                  "se of the mean |", "|---|---|---|---|---|---|"]
        for p in pairs:
            se = [d / math.sqrt(len(p["seeds"])) for d in p["sd"]]
            lines.append(f"| {p['a']} - {p['b']} | {p['shared']} | "
                         f"{', '.join(map(str, p['seeds']))} | "
                         + " / ".join(f"{d:+.2f}" for d in p["mean"]) + " | "
                         + " / ".join(_fmt(d) for d in p["sd"]) + " | "
                         + " / ".join(_fmt(d) for d in se) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def paired(results, a, b, shared):
    if a not in results or b not in results:
        return None
    seeds = sorted(set(results[a]) & set(results[b]))
    if not seeds:
        return None
    diffs = [[x - y for x, y in zip(results[a][s]["test_top1"], results[b][s]["test_top1"])]
             for s in seeds]
    exits = len(diffs[0])
    return {"a": a, "b": b, "shared": shared, "seeds": seeds,
            "mean": [statistics.mean(d[k] for d in diffs) for k in range(exits)],
            "sd": [statistics.stdev(d[k] for d in diffs) if len(diffs) > 1 else float("nan")
                   for k in range(exits)]}


def report(args):
    results = load_results(args.workdir)
    if not results:
        raise SystemExit(f"no results under {args.workdir}")
    summary = summarise(results)
    pairs = [p for p in (
        paired(results, "tf_fixed", "reference_our_batches", "initial weights and batches"),
        paired(results, "tf_fixed", "reference", "initial weights"),
        paired(results, "tf_fixed_conv_grads", "reference", "initial weights"),
        paired(results, "tf_fixed", "tf_fixed_conv_grads", "initial weights and batches"),
        paired(results, "tf_same_init", "reference_our_batches", "initial weights and batches"),
        paired(results, "tf_same_init", "reference", "initial weights")) if p]
    everything = [r for by_seed in results.values() for r in by_seed.values()]
    dates = sorted(r["date"] for r in everything)
    import keras
    import tensorflow as tf
    torch_versions = sorted({r.get("torch") for r in everything if r.get("torch")})
    commands = sorted({r.get("command") for r in everything if r.get("command")})
    if any(not r.get("command") for r in everything):
        commands.append("(some runs recorded no command)")
    meta = {
        "commands": commands,
        "report_command": ".venv/bin/python benchmarks/train_fidelity.py --report",
        "first_date": dates[0], "last_date": dates[-1],
        "machine": everything[0]["machine"],
        "versions": f"TensorFlow {tf.__version__}, Keras {keras.__version__}, torch "
                    f"{', '.join(torch_versions) or '-'}",
        "config": everything[0]["config_file"].replace(str(ROOT) + "/", ""),
        "work": _work(everything),
    }
    md = _relative(markdown(summary, meta, pairs))
    print(md)
    if not args.no_record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "train_fidelity.md").write_text(md)
        (RESULTS / "train_fidelity.json").write_text(_relative(json.dumps(
            {"meta": meta, "arms": summary, "pairs": pairs,
             "runs": {a: {str(s): r for s, r in by.items()} for a, by in results.items()}},
            indent=1, default=str)) + "\n")
        print(f"wrote {RESULTS / 'train_fidelity.md'} and .json")


def _relative(text):
    """Paths of the checkout a run was started from -> relative to the repository root."""
    import re

    return re.sub(r"/[^\s\"'`;]*?/(configs|runs)/", r"\1/", text)


def _work(runs):
    shas = sorted({r["train_indices_sha1"] for r in runs})
    tf_run = next((r for r in runs if r["side"] == "tf"), None)
    text = (f"training indices sha1 {', '.join(shas)} "
            f"({'identical on every run' if len(shas) == 1 else 'DIFFER between runs'})")
    if tf_run:
        c = tf_run["config"]
        text += (f"; {c['train']['epochs']} epochs, batch {c['train']['batch_size']}, lr "
                 f"{c['train']['learning_rate']} x{c['train']['lr_decay']} at "
                 f"{c['train']['lr_boundaries']} of training, momentum {c['train']['momentum']}, "
                 f"weight decay {c['train']['weight_decay']}, {c['data']['dataset']} "
                 f"(train_limit {c['data']['train_limit']}, hold-out {c['data']['holdout_size']} "
                 f"seed {c['data']['holdout_seed']})")
    return text


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--reference", help="path of a kalviny/MSDNet-PyTorch checkout")
    p.add_argument("--override", action="append", default=[],
                   help="section.key=value on top of --config, for both sides (e.g. quick "
                   "checks with train.steps_per_epoch=20)")
    p.add_argument("--arms", default="reference,tf_before",
                   help="comma list of arms (default: %(default)s); --list shows them")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--jobs", type=int, default=1, help="runs at once")
    p.add_argument("--threads", type=int, default=1, help="PyTorch threads per run")
    p.add_argument("--workdir", default=str(ROOT / "runs" / "train_fidelity"))
    p.add_argument("--wrap", default="", help="command prefix of every run (e.g. a launcher "
                   "that shares the CPU with other jobs)")
    p.add_argument("--report", action="store_true", help="only write the tables")
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--list", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.list:
        for name, (side, desc, _) in ARMS.items():
            print(f"{name:24s} {side:5s} {desc}")
        return 0
    if args.worker:
        return worker(args)
    if args.report:
        return report(args)
    arms = args.arms.split(",")
    for a in arms:
        if a not in ARMS:
            p.error(f"unknown arm {a!r}; --list shows the arms")
        if _arm(a)[2]["record_only"]:
            p.error(f"arm {a!r} is a record of an earlier version of msdnet_tf and cannot be "
                    "re-run; --list shows the arms")
    needs_ref = any(_arm(a)[0] == "torch" or _arm(a)[2]["same_init"] for a in arms)
    if needs_ref and not args.reference:
        p.error("these arms need --reference PATH (a kalviny/MSDNet-PyTorch checkout)")
    if args.reference:
        sys.path.insert(0, str(ROOT))
        from benchmarks import reference_port

        args.reference = str(Path(args.reference).resolve())
        reference_port.load_module(args.reference)
    return run_all(args, arms, args.seeds)


if __name__ == "__main__":
    sys.exit(main())
