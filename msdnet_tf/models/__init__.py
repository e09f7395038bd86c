"""Keras models of msdnet_tf: one folder per family behind `base.MultiExitModel`.

Attributes are imported on first use, so that `msdnet_tf.models.family` and
the families' pure-Python plans and configs can be read without Keras.
"""

import importlib

_LAZY = {
    "MSDNet": "msdnet_tf.models.msdnet.model",
    "MultiExitModel": "msdnet_tf.models.base",
    "RANet": "msdnet_tf.models.ranet.model",
    "run_stages": "msdnet_tf.models.base",
}

__all__ = list(_LAZY) + ["register_all"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'msdnet_tf.models' has no attribute {name!r}")


def register_all():
    """Imports every family's Keras class, registering it for `keras.models.load_model`."""
    from msdnet_tf.models import family

    return [f.model_class for f in family.all_families()]
