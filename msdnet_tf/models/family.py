"""Model families behind one interface: the registry.

A family is a package `msdnet_tf/models/<name>/` holding
    config.py     `ModelConfig`, the dataclass of its `model` config keys
                  (`family` first), `CHOICES` of its string keys,
                  `INITS`, its choices of initial weights (default first),
                  `validate(**kwargs)` raising
                  ArchitectureError, `num_exits(**kwargs)`; pure Python
    plan.py       its layer plan, in pure Python
    model.py      `MODEL`, its Keras class (a `base.MultiExitModel`)
    weights.py    its map onto the authors' state_dict names
    published.py  `PUBLISHED`: the paper's curves, {dataset: {kind: curve}}
Everything downstream (config, counting, training, evaluation, export, QAT,
runtime) goes through `get(name)` and the model interface, never through a
family's name.

Every family's `model` section also holds the keys of `options` (head_pool,
resolutions, resolution_conditioned), checked once for all families; the
family's `validate` receives its own keys plus `head_pool`.
"""

import dataclasses
import functools
import importlib

FAMILIES = ("msdnet", "ranet")
DEFAULT = "msdnet"


class ArchitectureError(ValueError):
    """The model hyperparameters do not describe a buildable network."""


@dataclasses.dataclass(frozen=True)
class Family:
    name: str

    def _module(self, name):
        return importlib.import_module(f"msdnet_tf.models.{self.name}.{name}")

    @property
    def config_class(self):
        """The family's `ModelConfig` followed by the keys every family shares."""
        return _with_shared_keys(self._module("config").ModelConfig)

    @property
    def inits(self):
        """The choices of `train.init` besides "default", the first the family's default."""
        return tuple(self._module("config").INITS)

    @property
    def choices(self):
        """{key: allowed values} of the model section's string keys."""
        from msdnet_tf.models import options

        return {**self._module("config").CHOICES, **options.CHOICES}

    def validate(self, kwargs):
        """Raises ArchitectureError naming the first invalid model key."""
        from msdnet_tf.models import options

        options.validate(self._module("config").validate, kwargs)

    def check_size(self, kwargs, size, key):
        """Raises ArchitectureError unless the model of `kwargs` takes size x size inputs."""
        from msdnet_tf.models import options

        own, shared = options.split(kwargs)
        options.check_size(self._module("config").validate, own, key, size, shared["head_pool"])

    def num_exits(self, kwargs):
        from msdnet_tf.models import options

        return self._module("config").num_exits(**options.split(kwargs)[0])

    @property
    def model_class(self):
        return self._module("model").MODEL

    def build(self, kwargs, **extra):
        """The Keras model for validated `kwargs` (plus e.g. sync_bn)."""
        return self.model_class(**kwargs, **extra)

    @property
    def published(self):
        return self._module("published").PUBLISHED


@functools.lru_cache(maxsize=None)
def _with_shared_keys(config_class):
    from msdnet_tf.models import options

    own = [(f.name, f.type, f) for f in dataclasses.fields(config_class)]
    shared = [(f.name, f.type, f) for f in dataclasses.fields(options.ResolutionKeys)]
    return dataclasses.make_dataclass(config_class.__name__, own + shared,
                                      namespace={"__module__": config_class.__module__})


def get(name):
    if name not in FAMILIES:
        raise ArchitectureError(f"model.family must be one of {', '.join(FAMILIES)}. "
                                f"Received: model.family={name!r}")
    return Family(name)


def all_families():
    return [Family(name) for name in FAMILIES]
