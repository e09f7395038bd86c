"""The training loop: paper recipe, tf.distribute, resumable, one file top to bottom.

    run = Trainer(cfg, workdir); run.fit(); results = run.finish()

Every epoch: train steps (progress bar), validation top-1 per exit on the
hold-out, TensorBoard scalars, an atomic state file (weights, optimizer,
history), best weights when the last exit improves, and history.jsonl.
Running again on the same workdir resumes after the last finished epoch.
"""

import dataclasses
import math
import os
import time
from pathlib import Path

import keras
import tensorflow as tf
from absl import logging

from msdnet_tf import config as config_lib
from msdnet_tf import data as data_lib
from msdnet_tf import files, flops
from msdnet_tf import workdir as workdir_lib
from msdnet_tf.cli import UserError
from msdnet_tf.progress import Progress
from msdnet_tf.training import imta as imta_lib
from msdnet_tf.training import optimizers
from msdnet_tf.training import state as state_lib
from msdnet_tf.training import steps as steps_lib
from msdnet_tf.training.strategy import apply_threads, is_chief, make_strategy, task_suffix


def learning_rate(train_cfg, epoch):
    """Step schedule: lr * lr_decay ** (boundaries passed) at 0-based `epoch`.

    A boundary b is passed when epoch >= b * epochs, as in the reference (so a
    fractional boundary rounds up); b * epochs is rounded to 6 decimals first,
    so that 0.3333333333 * 90 is 30.
    """
    passed = sum(epoch >= math.ceil(round(b * train_cfg.epochs, 6))
                 for b in train_cfg.lr_boundaries)
    return train_cfg.learning_rate * train_cfg.lr_decay ** passed


def check_resume_config(workdir, cfg):
    """A workdir keeps its model and data; other sections may change on resume.

    Returns the saved config (None for a new workdir)."""
    saved_path = Path(workdir) / "config.yaml"
    if not os.path.lexists(saved_path):
        return None
    saved = config_lib.load_config(saved_path)
    if getattr(cfg.model, "num_classes", None) == 0:  # "from the data": the saved count
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(
            cfg.model, num_classes=saved.model.num_classes))
    for section in ("model", "data"):
        if getattr(saved, section) != getattr(cfg, section):
            raise UserError(f"{workdir} was trained with a different {section} config (see "
                            f"{saved_path}); use a new --workdir or the same config")
    imta_lib.check_resume(saved, cfg, workdir)
    return saved


def _state_mismatch(error, saved, cfg):
    """A checkpoint that does not fit: which setting changed, and what to do."""
    if saved is None:
        why = ("and its config.yaml is missing, so the settings it was trained with are "
               "unknown: run the command that started this workdir, or use a new --workdir")
    else:
        now = dataclasses.asdict(cfg.train)
        changed = [f"train.{k} (saved {v!r}, now {now[k]!r})"
                   for k, v in dataclasses.asdict(saved.train).items() if now[k] != v]
        why = (f"because this command changes {', '.join(changed)}: resume with the saved "
               "values or use a new --workdir" if changed else
               "though the config matches: it was written by another version of this code "
               "or another run; use a new --workdir")
    return UserError(f"cannot resume from {error.path}: it {error.detail}, {why}")


def check_resume_momentum(state, train_cfg):
    """A run resumes with the momentum formulation its saved velocities were made with
    (states written before train.momentum_style existed are Keras-style)."""
    if state is None:
        return
    saved = state["meta"].get("momentum_style", "keras")
    if saved != train_cfg.momentum_style:
        raise UserError(f"{state['path']} was trained with train.momentum_style={saved} (its "
                        f"saved velocities are of that kind): resume with --override "
                        f"train.momentum_style={saved}, or use a new --workdir. Received: "
                        f"train.momentum_style={train_cfg.momentum_style}")


class Trainer:
    def __init__(self, cfg, workdir, strategy=None):
        self.cfg, self.workdir = cfg, Path(workdir)
        # Nothing in the workdir changes until every check below has passed.
        workdir_lib.check_output_dir(self.workdir, "--workdir")
        t = cfg.train
        # Before anything starts TensorFlow's runtime.
        self.threads = apply_threads(t.intra_op_threads, t.inter_op_threads)
        keras.mixed_precision.set_global_policy(t.mixed_precision)
        keras.utils.set_random_seed(t.seed)
        self.strategy = strategy or make_strategy(t.strategy)
        self.chief = is_chief(self.strategy)
        # Non-chief workers keep their own state copy: no shared file system needed.
        suffix = task_suffix(self.strategy)
        self.state_dir = self.workdir if self.chief else self.workdir / f".{suffix}"
        self._lock, created = workdir_lib.prepare_workdir(self.state_dir)
        try:
            self._setup()
        except BaseException:
            self.close()
            workdir_lib.undo_created(created)
            raise

    def _setup(self):
        cfg, t = self.cfg, self.cfg.train
        saved_cfg = check_resume_config(self.workdir, cfg)
        stage1 = None
        if t.imta.from_:
            # IMTA stage 2: the stage-1 run, checked; its hold-out is copied before the data.
            stage1 = imta_lib.load_stage1(cfg, self.workdir)
            keras.utils.set_random_seed(t.seed)  # the new heads' draws as without the load
        state = state_lib.read_state(self.state_dir)
        check_resume_momentum(state, t)
        best = self.state_dir / state_lib.BEST_WEIGHTS
        if os.path.lexists(best):
            files.check_hdf5(best, "best weights", state_lib.DAMAGED_HINT)
        self.data = None
        # model.num_classes 0 ("from the data"): the classes the data has (read from its
        # folder names or metadata, not its images) before the model is built.
        data_lib.resolve_num_classes(cfg)
        self.num_exits = config_lib.num_exits(cfg)
        self.exit_weights = t.exit_weights or [1.0] * self.num_exits
        with self.strategy.scope():
            self.model = config_lib.build_model(cfg, sync_bn=t.sync_batchnorm)
            # Plain, gradient equilibrium or IMTA stage 2 (training/imta.py).
            self.objective = imta_lib.make_objective(cfg, self.model, stage1)
            # Momentum SGD as train.momentum_style says, with PyTorch's coupled weight
            # decay inside its update (one fused op per variable) on the variables the
            # objective trains; the train step gets no decay term in its loss.
            optimizer = optimizers.from_config(t)
            optimizer.build(self.objective.variables)
            self.optimizer = optimizer
        self.meta = {"epoch": 0, "best_val_top1": -1.0, "best_epoch": 0, "history": [],
                     "momentum_style": t.momentum_style}
        if state is not None:
            try:
                self.meta = state_lib.restore(state, self.model, self.optimizer)
            except state_lib.StateMismatch as e:
                raise _state_mismatch(e, saved_cfg, cfg) from None
            logging.info("resuming %s after epoch %d", self.workdir, self.meta["epoch"])
        # The first writes: holdout.json (when new), config.yaml, history.jsonl.
        if self.data is None:
            self.data = data_lib.build_from_config(cfg, self.workdir)
        if self.chief:
            # Atomic: other workers sharing the workdir read it (check_resume_config).
            with workdir_lib.atomic_path(self.workdir / "config.yaml") as tmp:
                config_lib.save_config(cfg, tmp)
        self.steps_per_epoch = t.steps_per_epoch or self.data.steps_per_epoch(t.batch_size)
        self.train_step = steps_lib.make_train_step(
            self.objective.model, self.optimizer, self.strategy, self.exit_weights,
            0.0, t.batch_size, t.jit_compile, self.objective.variables,
            self.objective.exit_losses)
        self.eval_step = steps_lib.make_eval_step(self.model, self.strategy, self.num_exits)
        if self.chief:
            state_lib.write_history(self.workdir / "history.jsonl", self.meta["history"])
        self.writer = tf.summary.create_file_writer(str(self.workdir / "tensorboard")) \
            if self.chief else tf.summary.create_noop_writer()

    def close(self):
        """Releases the workdir (also when the process ends, however it ends)."""
        self._lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def resumed_epoch(self):
        return self.meta["epoch"]

    def _train_epoch(self, epoch, verbose):
        t = self.cfg.train
        self.data.seed, self.data.epoch = t.seed, epoch  # fixed order per epoch, on resume too
        dist = self.strategy.distribute_datasets_from_function(
            lambda ctx: self.data.train_dataset_fn(ctx, t.batch_size))
        iterator = iter(dist)
        bar = Progress(self.steps_per_epoch, f"epoch {epoch + 1}/{t.epochs}", enabled=verbose)
        ce_sum, correct_sum = 0.0, 0.0
        for i in range(self.steps_per_epoch):
            ce, correct = self.train_step(iterator)
            ce_sum, correct_sum = ce_sum + ce.numpy(), correct_sum + correct.numpy()
            seen = (i + 1) * t.batch_size
            bar.update(i + 1, [("loss", float(ce_sum.sum()) / seen),
                               ("top1_last", 100.0 * float(correct_sum[-1]) / seen)])
        seen = self.steps_per_epoch * t.batch_size
        return [float(v) / seen for v in ce_sum], [100.0 * float(v) / seen for v in correct_sum]

    def _record(self, epoch, lr, train_ce, train_top1, val_top1, seconds):
        record = {"epoch": epoch + 1, "time": time.time(), "lr": lr,
                  "loss": sum(w * c for w, c in zip(self.exit_weights, train_ce)),
                  "train_loss": train_ce, "train_top1": train_top1, "val_top1": val_top1,
                  "seconds": seconds}
        with self.writer.as_default(step=epoch + 1):
            tf.summary.scalar("lr", lr)
            tf.summary.scalar("loss", record["loss"])
            for k in range(self.num_exits):
                tf.summary.scalar(f"train_loss/exit_{k}", train_ce[k])
                tf.summary.scalar(f"train_top1/exit_{k}", train_top1[k])
                tf.summary.scalar(f"val_top1/exit_{k}", val_top1[k])
        return record

    def _validate(self, val):
        """Hold-out top-1 per exit."""
        return steps_lib.evaluate_top1(self.model, self.strategy, val, self.num_exits,
                                       self.eval_step)

    def _selection_score(self, val_top1):
        """What the best checkpoint maximises: the last exit's hold-out top-1."""
        return val_top1[-1]

    def _extra_results(self):
        """More entries for results.json (subclasses; runs on every worker, best weights loaded)."""
        return {}

    def fit(self, verbose=True):
        """Trains from the last finished epoch to train.epochs."""
        t = self.cfg.train
        val = self.data.eval_dataset("val", self.cfg.eval.batch_size)
        for epoch in range(self.meta["epoch"], t.epochs):
            start = time.time()
            lr = learning_rate(t, epoch)
            self.optimizer.learning_rate = lr
            if verbose and self.chief:
                print(f"Epoch {epoch + 1}/{t.epochs} (lr {lr:g})", flush=True)
            train_ce, train_top1 = self._train_epoch(epoch, verbose and self.chief)
            val_top1 = self._validate(val)
            record = self._record(epoch, lr, train_ce, train_top1, val_top1, time.time() - start)
            if self._selection_score(val_top1) > self.meta["best_val_top1"]:
                self.meta.update(best_val_top1=self._selection_score(val_top1),
                                 best_epoch=epoch + 1)
                # Every worker keeps its own copy: finish() evaluates the best weights on all.
                state_lib.save_best_weights(self.state_dir, self.model)
            self.meta["epoch"] = epoch + 1
            self.meta["history"].append(record)
            state_lib.save_state(self.state_dir, self.model, self.optimizer, self.meta)
            if self.chief:
                state_lib.write_history(self.workdir / "history.jsonl", self.meta["history"])
                if verbose:
                    print("  val top-1 per exit: " + " ".join(f"{a:.2f}" for a in val_top1),
                          flush=True)
        return self.meta["history"]

    def finish(self):
        """Best weights -> model.keras; per-exit val/test top-1 -> results.json."""
        self.objective.restore()
        best = self.state_dir / state_lib.BEST_WEIGHTS
        if best.is_file():
            files.check_hdf5(best, "best weights", state_lib.DAMAGED_HINT)
            try:
                self.model.load_weights(best)
            except Exception as e:  # noqa: BLE001 - an HDF5 file of another model
                raise files.FileProblem("best weights", best, "does not fit this model "
                                        f"({files.reason(e)})", state_lib.DAMAGED_HINT) from None
        def top1(split):
            return steps_lib.evaluate_top1(
                self.model, self.strategy, self.data.eval_dataset(split, self.cfg.eval.batch_size),
                self.num_exits, self.eval_step)

        results = {
            "val_top1": top1("val"),
            "test_top1": top1("test"),
            "best_epoch": self.meta["best_epoch"],
            "epochs": self.meta["epoch"],
            "num_val": self.data.count("val"),
            "num_test": self.data.count("test"),
            # TensorFlow's op thread pools during training (0 = TF's default).
            "intra_op_threads": self.threads[0],
            "inter_op_threads": self.threads[1],
        }
        results.update(self._extra_results())  # On every worker: it may evaluate.
        if self.chief:
            counts = flops.count(self.model)
            results.update(exit_cumulative_flops=counts.exit_cumulative_flops,
                           exit_cumulative_params=counts.exit_cumulative_params)
            with workdir_lib.atomic_path(self.workdir / "model.keras") as tmp:
                self._float32_copy().save(tmp)
            workdir_lib.atomic_write_json(self.workdir / "results.json", results)
        return results

    def _float32_copy(self):
        """The trained model as a plain float32 model, whatever the training policy."""
        if self.cfg.train.mixed_precision == "float32" and not self.cfg.train.sync_batchnorm:
            return self.model
        policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")
        try:
            copy = config_lib.build_model(self.cfg)
            copy.set_weights(self.model.get_weights())
        finally:
            keras.mixed_precision.set_global_policy(policy)
        return copy
