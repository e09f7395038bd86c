"""One configuration schema for every msdnet_tf command.

A configuration is a tree of typed dataclasses (`model`, `data`, `train`,
`eval`, `export`). YAML files are partial overrides of the defaults; a
`--override section.key=value` (value parsed as YAML) is applied on top.
Unknown keys, wrong types and out-of-range values raise `ConfigError`, whose
message names the key and the value received.

The `model` section belongs to a model family: `model.family` (default
msdnet) selects the dataclass of its keys (`msdnet_tf/models/<family>/config.py`),
so a key of another family is an error that says which family it belongs to.
"""

import dataclasses
import keyword
import typing
from pathlib import Path

import yaml

from msdnet_tf.models import family as family_lib


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def _default_model():
    return family_lib.get(family_lib.DEFAULT).config_class()


@dataclasses.dataclass
class DataConfig:
    # cifar10, cifar100, imagenet2012, fashion_mnist, digits, folder (your own images in
    # data.image_folder) or tfds:NAME (a tensorflow-datasets dataset prepared in data_dir).
    dataset: str = "cifar100"
    # tfds data directory (prepared data); empty means tfds's default.
    data_dir: str = ""
    # Where official archives (CIFAR binary tarballs, ImageNet tars) are placed.
    manual_dir: str = ""
    # Root of an image-folder tree: train/<class>/* and test/<class>/* (dataset folder;
    # test/ optional), or train/<class>/*, val/<class>/* (imagenet2012).
    image_folder: str = ""
    # Splits of a tfds:NAME dataset; empty means "train" / "test".
    train_split: str = ""
    test_split: str = ""
    # Test images drawn from the training images when the data have no test split
    # (a folder without test/): -1 means 10% of them; drawn with holdout_seed, saved.
    test_size: int = -1
    # Allow tfds to download when the data is absent (off: fail fast offline).
    download: bool = False
    # Validation hold-out drawn from the training split; -1 means the
    # dataset's paper value (5,000 CIFAR, 50,000 ImageNet).
    holdout_size: int = -1
    holdout_seed: int = 0
    # Training augmentation: default (the dataset's recipe), cifar (pad + random crop +
    # flip), imagenet (random resized crop + flip) or none. Older configs' true/false
    # mean default/none.
    augment: str = "default"
    cache: bool = True
    # Use only the first N training images (0 = all); for quick runs.
    train_limit: int = 0
    test_limit: int = 0
    num_parallel_calls: int = -1


@dataclasses.dataclass
class ImtaConfig:
    """Stage 2 of IMTA (Li et al., ICCV 2019), `train.imta.*`: docs/imta.md.

    With `from` set, training freezes the backbone of that stage-1 run and trains
    inline-subnetwork-collaboration heads with one-for-all distillation.
    """
    # The finished stage-1 run directory; empty = no stage 2. YAML key `from`.
    from_: str = ""
    # Exits 0..K-2: (1 - gamma) * CE + gamma * T^2 * KL(teacher/T || exit/T).
    gamma: float = 0.1
    temperature: float = 1.0
    # code: PyTorch's KLDivLoss 'mean' (per-sample KL / num_classes), as the authors';
    # batchmean: the per-sample KL.
    kd_reduction: str = "code"
    # Stop the gradient of exit k's loss into exit k - 1 (the paper's text; not the code).
    isc_stop_gradient: bool = False
    # Frozen backbone's BatchNorm: train = batch statistics and moving averages updated
    # (the authors' model.train()); frozen = inference mode, nothing in the backbone changes.
    backbone_bn: str = "train"


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 300
    batch_size: int = 64
    learning_rate: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    # Where the lr enters momentum SGD (msdnet_tf/training/optimizers.py). "torch":
    # v = m * v + g, w -= lr * v (torch.optim.SGD, the reference port); "keras":
    # v = m * v - lr * g, w += v (keras.optimizers.SGD). Equal at a constant lr;
    # after an lr decay "keras" keeps moving with the old lr's momentum for a while.
    momentum_style: str = "torch"
    # Initial weights: "default" = those of the reference code the family reproduces;
    # or one of the family's INITS. MSDNet: "torch_default" (its default: PyTorch's
    # defaults, what the reference port trains from, uniform +-1/sqrt(fan_in) kernels
    # and biases, drawn bit for bit as after torch.manual_seed(seed) and the port's
    # constructor) or "he_normal" (the authors' Lua code: He-normal fan-out convs, zero
    # biases). RANet: "reference" (its default).
    init: str = "default"
    weight_decay: float = 1e-4
    # Step schedule: lr *= lr_decay at each boundary (fractions of training).
    lr_boundaries: list[float] = dataclasses.field(default_factory=lambda: [0.5, 0.75])
    lr_decay: float = 0.1
    # Per-exit loss weights; empty means 1 for every exit.
    exit_weights: list[float] = dataclasses.field(default_factory=list)
    strategy: str = "auto"
    sync_batchnorm: bool = False
    mixed_precision: str = "float32"
    jit_compile: bool = False
    # TensorFlow CPU threads: intra = threads one op may use, inter = ops run at once.
    # -1 = auto (1 and the core count when training on a CPU with <= 4 cores, where
    # this small-op graph runs faster as parallel single-threaded ops; TF's own
    # defaults otherwise), 0 = TF's defaults, N = exactly N.
    intra_op_threads: int = -1
    inter_op_threads: int = -1
    # 0 = one pass over the training split per epoch.
    steps_per_epoch: int = 0
    seed: int = 0
    # IMTA gradient equilibrium (stage 1): every later exit's gradient reaches block k of K
    # with weight 1 / (K - k) on the tensor classifier k reads (docs/imta.md).
    gradient_equilibrium: bool = False
    imta: ImtaConfig = dataclasses.field(default_factory=ImtaConfig)
    # Resolution-switchable models (model.resolutions): which larger resolutions teach the
    # exits of each smaller one by distillation (none | largest | dense = every larger one,
    # SAN's top-down), at this temperature, with this weight (msdnet_tf/techniques/resolution.py).
    resolution_kd: str = "dense"
    resolution_kd_temperature: float = 1.0
    resolution_kd_weight: float = 1.0
    # The weight of each side's losses (its cross-entropy and, as a student, its distillation),
    # one per model.resolutions entry, largest first; empty = 1 for every side (SAN sums them).
    resolution_weights: list[float] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class EvalConfig:
    batch_size: int = 256
    # Exit-share family q = 1/20 ... num_q/20 (the paper uses 39 values).
    num_q: int = 39
    top_k: int = 5


@dataclasses.dataclass
class ExportConfig:
    mode: str = "float"
    int8_io: bool = False
    calibration_images: int = 500
    fidelity_images: int = 1000
    qat_epochs: int = 1
    qat_learning_rate: float = 1e-3
    # Steps per QAT epoch; 0 = train.steps_per_epoch, or one pass over the training split.
    qat_steps_per_epoch: int = 0


@dataclasses.dataclass
class Config:
    model: typing.Any = dataclasses.field(default_factory=_default_model)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)


_CHOICES = {
    "data.augment": ("default", "cifar", "imagenet", "none"),
    "train.strategy": ("auto", "one_device", "mirrored", "multi_worker", "tpu"),
    "train.mixed_precision": ("float32", "mixed_float16", "mixed_bfloat16"),
    "train.momentum_style": ("torch", "keras"),
    "export.mode": ("float", "dynamic", "float16", "int8", "qat"),
    "train.imta.kd_reduction": ("code", "batchmean"),
    "train.imta.backbone_bn": ("train", "frozen"),
    "train.resolution_kd": ("none", "largest", "dense"),
}


def _field_name(key):
    """The dataclass field of a config key: a Python keyword gets a trailing `_` (from_)."""
    return f"{key}_" if keyword.iskeyword(key) else key


def _key_name(field_name):
    stripped = field_name[:-1]
    return stripped if field_name.endswith("_") and keyword.iskeyword(stripped) else field_name


def _get(cfg, key):
    """The value at a dotted key, e.g. train.imta.from."""
    value = cfg
    for part in key.split("."):
        value = getattr(value, _field_name(part))
    return value


def _check_type(key, value, hint):
    """Returns `value` coerced to `hint`, or raises ConfigError."""
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list of {item.__name__}. Received: {key}={value!r}")
        return [_check_type(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false. Received: {key}={value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer. Received: {key}={value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number. Received: {key}={value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string. Received: {key}={value!r}")
        return value
    raise TypeError(f"unsupported config type {hint} for {key}")


def _section_types(section):
    """{config key: type} of a section (keys as written in YAML)."""
    return {_key_name(name): hint for name, hint in typing.get_type_hints(type(section)).items()}


def _families_with_key(key):
    return [f.name for f in family_lib.all_families()
            if key in {field.name for field in dataclasses.fields(f.config_class)}]


def _unknown_key(section_name, key, hints, source, cfg):
    full = f"{section_name}.{key}"
    if section_name == "model":
        owners = _families_with_key(key)
        if owners:
            return ConfigError(f"{full} in {source} is a key of model.family "
                               f"{' / '.join(owners)}, not of {cfg.model.family}; set "
                               f"model.family: {owners[0]} or remove it (keys of "
                               f"{cfg.model.family}: {', '.join(hints)})")
        return ConfigError(f"unknown key {full} in {source}; valid keys of model (family "
                           f"{cfg.model.family}): {', '.join(hints)}")
    return ConfigError(f"unknown key {full} in {source}; valid keys of {section_name}: "
                       f"{', '.join(hints)}")


def _switch_family(old, name, source):
    """A `name` model section keeping the keys `old` set away from its defaults."""
    try:
        new = family_lib.get(name).config_class()
    except family_lib.ArchitectureError as e:
        raise ConfigError(f"{e} (in {source})") from None
    defaults, fields = type(old)(), {f.name for f in dataclasses.fields(new)}
    for field in dataclasses.fields(old):
        value = getattr(old, field.name)
        if field.name == "family" or value == getattr(defaults, field.name):
            continue
        if field.name not in fields:
            raise ConfigError(f"model.{field.name}={value!r} was set for model.family "
                              f"{old.family}, but {source} sets model.family {name}, which "
                              f"has no {field.name}; remove model.{field.name}")
        setattr(new, field.name, value)
    return new


def _apply(cfg, section_name, values, source, section=None):
    if not isinstance(values, dict):
        raise ConfigError(f"{section_name} in {source} must be a mapping. Received: {values!r}")
    if section_name == "model" and "family" in values:
        name = _check_type("model.family", values["family"], str)
        if name != cfg.model.family:
            cfg.model = _switch_family(cfg.model, name, source)
        values = {k: v for k, v in values.items() if k != "family"}
    section = section if section is not None else getattr(cfg, section_name)
    hints = _section_types(section)
    for key, value in values.items():
        if key not in hints:
            raise _unknown_key(section_name, key, hints, source, cfg)
        if section_name == "data" and key == "augment" and isinstance(value, bool):
            value = "default" if value else "none"  # What true/false meant before the rules.
        if dataclasses.is_dataclass(hints[key]):  # a nested section, e.g. train.imta
            _apply(cfg, f"{section_name}.{key}", value, source, getattr(section, _field_name(key)))
            continue
        setattr(section, _field_name(key), _check_type(f"{section_name}.{key}", value, hints[key]))


def merge(cfg, overrides, source="overrides"):
    """Applies a nested dict of partial overrides to `cfg` in place."""
    if overrides is None:
        return cfg
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source} must be a mapping of sections. Received: {overrides!r}")
    sections = [f.name for f in dataclasses.fields(cfg)]
    for name, values in overrides.items():
        if name not in sections:
            raise ConfigError(
                f"unknown section {name!r} in {source}; valid sections: {', '.join(sections)}"
            )
        _apply(cfg, name, values, source)
    return cfg


def parse_override(text):
    """Turns 'section.key=value' into {'section': {'key': value}} (or section.sub.key=value)."""
    if "=" not in text:
        raise ConfigError(f"--override must look like section.key=value. Received: {text!r}")
    path, raw = text.split("=", 1)
    parts = path.strip().split(".")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(
            f"--override key must be section.key (e.g. model.num_blocks) or section.sub.key "
            f"(e.g. train.imta.gamma). Received: {path!r}"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--override {path}: value {raw!r} is not valid YAML ({e})") from None
    for part in reversed(parts[1:]):
        value = {part: value}
    return {parts[0]: value}


def load_yaml(path):
    from msdnet_tf import files

    try:
        data = files.read_yaml(path, "config file")
    except files.FileProblem as e:
        raise ConfigError(str(e)) from None
    return data or {}


def _sets_num_classes(tree):
    model = tree.get("model") if isinstance(tree, dict) else None
    return isinstance(model, dict) and "num_classes" in model


def load_config(path=None, overrides=()):
    """Defaults, then the YAML file at `path`, then each override; validated.

    `model.num_classes` follows the data when it is 0 or not set by the file or an
    override: a listed dataset's class count at once, the classes found in the data of
    `folder` / `tfds:NAME` when the data are built (0 until then).
    """
    cfg = Config()
    explicit = False
    if path:
        tree = load_yaml(path)
        explicit = _sets_num_classes(tree)
        merge(cfg, tree, source=str(path))
    for text in overrides:
        tree = parse_override(text)
        explicit = explicit or _sets_num_classes(tree)
        merge(cfg, tree, source=f"--override {text}")
    if not explicit and hasattr(cfg.model, "num_classes"):
        cfg.model.num_classes = 0
    resolve_num_classes(cfg)
    validate(cfg)
    return cfg


def resolve_num_classes(cfg):
    """model.num_classes 0 ("from the data") -> the class count of a listed dataset."""
    from msdnet_tf.data import registry  # pylint: disable=import-outside-toplevel

    if getattr(cfg.model, "num_classes", None) == 0 and cfg.data.dataset in registry.DATASETS:
        cfg.model.num_classes = registry.DATASETS[cfg.data.dataset].num_classes
    return cfg


def to_dict(cfg):
    def keys(value):
        if isinstance(value, dict):
            return {_key_name(k): keys(v) for k, v in value.items()}
        return value

    return keys(dataclasses.asdict(cfg))


def from_dict(data, source="config"):
    cfg = merge(Config(), data, source=source)
    resolve_num_classes(cfg)
    validate(cfg)
    return cfg


def save_config(cfg, path):
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


def _require(cond, key, value, why):
    if not cond:
        raise ConfigError(f"{key} {why}. Received: {key}={value!r}")


def _validate_choices(cfg):
    from msdnet_tf.data import registry  # pylint: disable=import-outside-toplevel

    dataset = cfg.data.dataset
    _require(dataset in registry.DATASETS or registry.is_dynamic(dataset), "data.dataset",
             dataset, f"must be one of {registry.dataset_names_help()}")
    for key, choices in _CHOICES.items():
        value = _get(cfg, key)
        _require(value in choices, key, value, f"must be one of {', '.join(choices)}")
    for name, choices in family_lib.get(cfg.model.family).choices.items():
        value = getattr(cfg.model, name)
        _require(value in choices, f"model.{name}", value, f"must be one of {', '.join(choices)}")


def _validate_train(t):
    for name in ("epochs", "batch_size"):
        _require(getattr(t, name) >= 1, f"train.{name}", getattr(t, name), "must be >= 1")
    _require(t.learning_rate > 0, "train.learning_rate", t.learning_rate, "must be > 0")
    _require(0 <= t.momentum < 1, "train.momentum", t.momentum, "must be in [0, 1)")
    _require(t.weight_decay >= 0, "train.weight_decay", t.weight_decay, "must be >= 0")
    _require(0 < t.lr_decay <= 1, "train.lr_decay", t.lr_decay, "must be in (0, 1]")
    ok = all(0 < b < 1 for b in t.lr_boundaries) and t.lr_boundaries == sorted(t.lr_boundaries)
    _require(ok, "train.lr_boundaries", t.lr_boundaries, "must be increasing fractions in (0, 1)")
    for name in ("intra_op_threads", "inter_op_threads"):
        _require(getattr(t, name) >= -1, f"train.{name}", getattr(t, name),
                 "must be -1 (auto), 0 (TensorFlow's default) or a thread count")
    _require(t.steps_per_epoch >= 0, "train.steps_per_epoch", t.steps_per_epoch, "must be >= 0")
    _require(all(w >= 0 for w in t.exit_weights), "train.exit_weights", t.exit_weights,
             "must be non-negative")
    i = t.imta
    _require(0 <= i.gamma <= 1, "train.imta.gamma", i.gamma, "must be in [0, 1]")
    _require(i.temperature > 0, "train.imta.temperature", i.temperature, "must be > 0")
    _require(t.resolution_kd_temperature > 0, "train.resolution_kd_temperature",
             t.resolution_kd_temperature, "must be > 0")
    _require(t.resolution_kd_weight >= 0, "train.resolution_kd_weight", t.resolution_kd_weight,
             "must be >= 0")
    _require(all(w >= 0 for w in t.resolution_weights), "train.resolution_weights",
             t.resolution_weights, "must be non-negative")
    _require(not t.resolution_weights or any(w > 0 for w in t.resolution_weights),
             "train.resolution_weights", t.resolution_weights, "must have a weight > 0")


def _validate_cross(cfg):
    inits = ("default",) + family_lib.get(cfg.model.family).inits
    _require(cfg.train.init in inits, "train.init", cfg.train.init,
             f"must be one of {', '.join(inits)} for model.family {cfg.model.family}")
    weights = cfg.train.exit_weights
    k = num_exits(cfg)
    _require(not weights or len(weights) == k, "train.exit_weights", weights,
             f"must be empty or have one weight per exit (this model has {k} exits)")
    side_weights = cfg.train.resolution_weights
    sides = list(getattr(cfg.model, "resolutions", None) or [])
    _require(not side_weights or sides, "train.resolution_weights", side_weights,
             "needs model.resolutions (a resolution-switchable model)")
    _require(not side_weights or len(side_weights) == len(sides), "train.resolution_weights",
             side_weights, f"must be empty or have one weight per side of model.resolutions "
                           f"({sides})")
    d = cfg.data
    _require(d.holdout_size >= -1, "data.holdout_size", d.holdout_size, "must be >= 0 (or -1)")
    _require(d.test_size == -1 or d.test_size >= 1, "data.test_size", d.test_size,
             "must be >= 1 (or -1: 10% of the training images)")
    _require(d.dataset != "folder" or d.image_folder, "data.image_folder", d.image_folder,
             "must name the folder holding train/<class>/* when data.dataset is folder")
    _require(getattr(cfg.model, "num_classes", 1) >= 0, "model.num_classes",
             getattr(cfg.model, "num_classes", None), "must be >= 1, or 0 (from the data)")
    _require(d.train_limit >= 0, "data.train_limit", d.train_limit, "must be >= 0")
    _require(d.test_limit >= 0, "data.test_limit", d.test_limit, "must be >= 0")
    e = cfg.eval
    _require(1 <= e.num_q <= 39, "eval.num_q", e.num_q, "must be in [1, 39]")
    _require(e.batch_size >= 1, "eval.batch_size", e.batch_size, "must be >= 1")
    _require(e.top_k >= 1, "eval.top_k", e.top_k, "must be >= 1")
    x = cfg.export
    for name in ("calibration_images", "fidelity_images"):
        _require(getattr(x, name) >= 1, f"export.{name}", getattr(x, name), "must be >= 1")
    _require(x.qat_epochs >= 0, "export.qat_epochs", x.qat_epochs, "must be >= 0")
    _require(x.qat_learning_rate > 0, "export.qat_learning_rate", x.qat_learning_rate,
             "must be > 0")
    _require(x.qat_steps_per_epoch >= 0, "export.qat_steps_per_epoch", x.qat_steps_per_epoch,
             "must be >= 0")


def validate(cfg):
    """Raises ConfigError for the first invalid or inconsistent value."""
    _validate_choices(cfg)
    kwargs = model_kwargs(cfg)
    if kwargs.get("num_classes") == 0:  # From the data: any count is valid until then.
        kwargs["num_classes"] = 1
    try:
        family_lib.get(cfg.model.family).validate(kwargs)
    except family_lib.ArchitectureError as e:
        raise ConfigError(str(e)) from None
    _validate_train(cfg.train)
    _validate_cross(cfg)
    return cfg


def model_kwargs(cfg):
    """The keyword arguments of the model family's Keras class for `cfg`."""
    return {k: v for k, v in dataclasses.asdict(cfg.model).items() if k != "family"}


def num_exits(cfg):
    return family_lib.get(cfg.model.family).num_exits(model_kwargs(cfg))


def exit_heads(cfg):
    """The exits' heads: "isc" for IMTA's stage 2 (train.imta.from set), else "plain"."""
    return "isc" if cfg.train.imta.from_ else "plain"


def build_model(cfg, **extra):
    """The (untrained) Keras model `cfg` describes, with the initial weights of
    `train.init` drawn from `train.seed`; `extra`: e.g. sync_bn=True."""
    extra.setdefault("init", cfg.train.init)
    extra.setdefault("init_seed", cfg.train.seed)
    return family_lib.get(cfg.model.family).build(model_kwargs(cfg), exit_heads=exit_heads(cfg),
                                                  **extra)
