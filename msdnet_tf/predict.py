"""Classify image files with a trained run: the label, where the image exits, what it cost.

    python -m msdnet_tf.predict --workdir runs/quickstart photo.png more_photos/
    python -m msdnet_tf.predict --workdir RUN --q 0.5 --all-exits images/
    python -m msdnet_tf.predict --workdir RUN --budget-flops 8e6 --json images/ > out.json

Runs RUN/model.keras (every exit) on each image read through the run's own
preprocessing, then applies early exit the way the cascade and the evaluation do: the
image leaves at the first exit whose largest softmax probability reaches that exit's
threshold. Thresholds come from --thresholds FILE, from --q / --budget-flops /
--budget-ms (found on the run's hold-out logits, RUN/logits.npz, written by
`msdnet_tf.evaluate --workdir RUN`), else from RUN/thresholds.json when it belongs to
this model, else every image runs to the last exit.

Per image: the label and its probability (confidence), the exit taken, the cumulative
FLOPs of the network up to that exit, and the top-5 of that exit; --all-exits adds
every exit's answer; --json prints one JSON object instead. Folders are searched
recursively for image files (any format TensorFlow or Pillow reads); files that cannot
be read are listed on stderr and skipped. Datasets stored at one fixed size (Fashion-
MNIST, digits) take any photo: it is centre-cropped to that aspect ratio, box-filtered
to that size (and made gray) first, as the Android app does; the output says so.
"""

import argparse
import json
import sys
from pathlib import Path

from msdnet_tf import cli

TOP_K = 5


def build_parser():
    p = cli.parser("msdnet_tf.predict", __doc__.strip().splitlines()[0])
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "examples:\n" + "\n".join(
        line for line in __doc__.splitlines() if line.startswith("    python"))
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR",
                   help="image files, or folders searched recursively for image files")
    p.add_argument("--workdir", required=True, metavar="RUN",
                   help="a finished training run (config.yaml + model.keras)")
    policy = p.add_mutually_exclusive_group()
    policy.add_argument("--thresholds", metavar="FILE",
                        help="a thresholds.json of this model (msdnet_tf.evaluate --budget-*)")
    policy.add_argument("--q", type=float, help="the paper's exit-share parameter q (> 0)")
    policy.add_argument("--budget-flops", type=float, metavar="F",
                        help="thresholds for an average of F FLOPs per image on the hold-out")
    policy.add_argument("--budget-ms", type=float, metavar="T",
                        help="thresholds for an average of T ms per image (needs --latency)")
    p.add_argument("--latency", metavar="LATENCY.json",
                   help="measured per-exit latencies, for --budget-ms")
    p.add_argument("--all-exits", action="store_true", help="also show every exit's answer")
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    return p


def image_files(paths):
    """(files to read, in order) of the arguments; UserError for a path that does not exist."""
    from msdnet_tf.data import images

    files = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and images.is_image_name(p.name)
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise cli.UserError(f"no image files ({', '.join(images.IMAGE_EXTENSIONS)}) "
                                    f"in {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise cli.UserError(f"{arg} does not exist")
    return files


def run_data(workdir, cfg):
    """(preprocessing spec, class names) of a run, from its config and dataset.json.

    Needs no training data: a listed dataset's rule is fixed, a folder's or a
    tfds:NAME's (classes, mean, std) is saved in RUN/dataset.json.
    """
    from msdnet_tf.data import registry, stats

    data = cfg.data
    if registry.is_dynamic(data.dataset):
        record = stats.read_record(workdir)
        if record is None or record.get("dataset") != data.dataset:
            raise cli.UserError(f"{workdir} has no dataset.json for {data.dataset} (train "
                                "with this version of msdnet_tf to write it)")
        info = stats.info_from_record(record)
        spec = registry.preprocessing_spec(data.dataset, cfg.model.image_size, data.augment,
                                           info)
        return spec, list(info.label_names)
    spec = registry.preprocessing_spec(data.dataset, cfg.model.image_size, data.augment)
    names = registry.label_names(data.dataset)
    if names is None or len(names) != cfg.model.num_classes:
        names = [f"class_{k}" for k in range(cfg.model.num_classes)]
    return spec, list(names)


def fit_to_dataset(image, spec):
    """(uint8 HWC image the spec takes, note or None): photos become dataset-like images.

    Fixed-size datasets: centre crop to the stored aspect ratio and box filter to the
    stored size; gray datasets: luma (ITU-R 601). Other images pass unchanged.
    """
    import numpy as np
    from PIL import Image

    height, width = spec["input"]["height"], spec["input"]["width"]
    gray = spec["channels_in"] == 1
    notes = []
    if height is not None and image.shape[:2] != (height, width):
        h, w = image.shape[:2]
        crop_h, crop_w = h, w
        if h * width > w * height:
            crop_h = max(1, w * height // width)
        elif w * height > h * width:
            crop_w = max(1, h * width // height)
        top, left = (h - crop_h) // 2, (w - crop_w) // 2
        picture = Image.fromarray(image[top:top + crop_h, left:left + crop_w])
        image = np.asarray(picture.resize((width, height), Image.BOX))
        notes.append(f"fitted from {w}x{h} to the stored {width}x{height}")
    if gray:
        if not (np.array_equal(image[..., 0], image[..., 1])
                and np.array_equal(image[..., 0], image[..., 2])):
            notes.append("made gray")
        image = np.asarray(Image.fromarray(image).convert("L"))[..., np.newaxis]
    return image, ("; ".join(notes) or None)


def read_images(files, spec):
    """(good [(file, uint8 image, note)], skipped [{"file", "error"}]) through `images`."""
    from msdnet_tf import _quiet
    from msdnet_tf.data import images, stats

    good, skipped = [], []
    with _quiet.filtered_stderr(stats.LIBJPEG_NOISE):  # the reason goes with the file name
        for path in files:
            try:
                image, note = fit_to_dataset(images.decode_file(path), spec)
                good.append((str(path), image, note))
            except ValueError as e:
                skipped.append({"file": str(path), "error": str(e)})
    return good, skipped


def exit_logits(model, inputs, batch_size):
    """float32 [K, N, C] logits of every exit for preprocessed inputs [N, S, S, 3]."""
    import numpy as np
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False))
    chunks = [fn(tf.constant(inputs[i:i + batch_size]))
              for i in range(0, len(inputs), batch_size)]
    return np.stack([np.concatenate([np.asarray(c[f"exit_{k}"]) for c in chunks])
                     for k in range(model.num_exits)]).astype(np.float32)


def _softmax(z):
    import numpy as np

    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def decide(logits, thresholds):
    """Exit taken per image (the first k with max softmax >= thresholds[k]); None: last."""
    import numpy as np

    from msdnet_tf import evaluation as ev

    k = logits.shape[0]
    if thresholds is None:
        return np.full(logits.shape[1], k - 1, np.int64)
    max_prob = np.stack([ev.max_softmax(logits[j]) for j in range(k)])
    return ev.assign_exits(max_prob, thresholds)


def _answer(probs, labels, top_k=1):
    import numpy as np

    order = np.argsort(-probs, kind="stable")[:top_k]
    return [{"label": labels[c], "class": int(c), "probability": float(probs[c])}
            for c in order]


def results(files, logits, exits, labels, exit_flops, all_exits=False):
    """One JSON-ready record per image (see the module doc)."""
    out = []
    for n, (name, note) in enumerate(files):
        k = int(exits[n])
        probs = _softmax(logits[k, n])
        top = _answer(probs, labels, TOP_K)
        record = {"file": name, "label": top[0]["label"], "class": top[0]["class"],
                  "confidence": top[0]["probability"], "exit": k,
                  "cumulative_flops": exit_flops[k], "top5": top}
        if note:
            record["note"] = note
        if all_exits:
            record["exits"] = []
            for j in range(logits.shape[0]):
                best = _answer(_softmax(logits[j, n]), labels)[0]
                record["exits"].append({"exit": j, "label": best["label"],
                                        "class": best["class"],
                                        "confidence": best["probability"],
                                        "cumulative_flops": exit_flops[j], "taken": j == k})
        out.append(record)
    return out


def exit_flops_of(workdir, model):
    """Cumulative FLOPs per exit: results.json of the run, else counted from the model."""
    path = Path(workdir) / "results.json"
    try:
        flops = json.loads(path.read_text()).get("exit_cumulative_flops")
        if isinstance(flops, list) and len(flops) == model.num_exits:
            return [int(f) for f in flops]
    except (OSError, ValueError):
        pass
    from msdnet_tf import flops as flops_lib

    return [int(f) for f in flops_lib.count(model).exit_cumulative_flops]


def resolve_policy(args, workdir, num_exits, fingerprint):
    """(thresholds or None, description), through msdnet_tf.runtime.policy."""
    from msdnet_tf import evaluation as ev
    from msdnet_tf.runtime import policy

    manifest = {"num_exits": num_exits, "model": fingerprint, "thresholds": None,
                "source": {"workdir": str(workdir)}}
    explicit = (args.thresholds, args.q, args.budget_flops, args.budget_ms)
    if all(v is None for v in explicit):
        saved = Path(workdir) / "thresholds.json"
        if saved.is_file():
            try:
                t = ev.load_thresholds(saved, num_exits=num_exits, model=fingerprint)
                return list(t.thresholds), f"thresholds from {saved}"
            except ev.EvaluationError:
                return None, (f"{saved} belongs to another model: every image runs to the "
                              "last exit")
    return policy.resolve(manifest, args.thresholds, args.q, args.budget_flops,
                          args.budget_ms, args.latency, workdir)


def _mflops(f):
    return f"{f / 1e6:.2f}M FLOPs"


def format_text(records, labels_width=None):
    width = labels_width or max([len(r["label"]) for r in records] + [5])
    name_width = min(max(len(r["file"]) for r in records), 48)
    lines = []
    for r in records:
        top = ", ".join(f"{t['label']} {100 * t['probability']:.1f}%" for t in r["top5"])
        lines.append(f"{r['file']:<{name_width}}  {r['label']:<{width}}  "
                     f"{100 * r['confidence']:5.1f}%  exit {r['exit']}  "
                     f"{_mflops(r['cumulative_flops']):>14}  top-5: {top}")
        if r.get("note"):
            lines.append(f"    ({r['note']})")
        for e in r.get("exits", []):
            mark = "  <- taken" if e["taken"] else ""
            lines.append(f"    exit {e['exit']}: {e['label']:<{width}} "
                         f"{100 * e['confidence']:5.1f}%  {_mflops(e['cumulative_flops'])}{mark}")
    return "\n".join(lines)


@cli.main_wrapper
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.budget_ms is not None and not args.latency:
        parser.error("--budget-ms needs --latency LATENCY.json (the per-exit costs)")
    if args.latency and args.budget_ms is None:
        parser.error("--latency is only used with --budget-ms")
    if args.q is not None and not args.q > 0:
        parser.error(f"--q must be > 0. Received: --q={args.q}")
    for name in ("budget_flops", "budget_ms"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0. Received: {value}")
    files = image_files(args.images)
    workdir = Path(args.workdir)
    cli.quiet_tensorflow()
    import numpy as np

    from msdnet_tf import data as data_lib
    from msdnet_tf.inference import load_run, model_fingerprint

    cfg, model = load_run(workdir)
    spec, labels = run_data(workdir, cfg)
    thresholds, how = resolve_policy(args, workdir, model.num_exits,
                                     model_fingerprint(workdir / "model.keras"))
    good, skipped = read_images(files, spec)
    for item in skipped:
        print(f"msdnet_tf.predict: skipped {item['file']}: {item['error']}", file=sys.stderr)
    if not good:
        raise cli.UserError(f"none of the {len(files)} file(s) is a readable image")
    inputs = data_lib.preprocess_batch(spec, [image for _, image, _ in good])
    logits = exit_logits(model, inputs, cfg.eval.batch_size)
    exits = decide(logits, thresholds)
    flops = exit_flops_of(workdir, model)
    records = results([(name, note) for name, _, note in good], logits, exits, labels, flops,
                      args.all_exits)
    if args.json:
        from msdnet_tf.runtime.policy import encode

        print(json.dumps({"workdir": str(workdir), "model": model_fingerprint(
            workdir / "model.keras"), "num_exits": model.num_exits, "policy": how,
            "thresholds": None if thresholds is None else encode(thresholds),
            "exit_cumulative_flops": flops, "images": records, "skipped": skipped}, indent=1))
        return 0
    print(f"{workdir}/model.keras: {model.num_exits} exits, {len(labels)} classes; {how}")
    print(format_text(records))
    counts = np.bincount(exits, minlength=model.num_exits)
    mean = float(np.mean([flops[int(k)] for k in exits]))
    print(f"{len(records)} image(s): exits {counts.tolist()}, mean {_mflops(mean)} "
          f"(last exit {_mflops(flops[-1])})"
          + (f"; skipped {len(skipped)} unreadable file(s)" if skipped else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
