"""Registers msdnet_tf's Keras classes as soon as Keras is imported, without importing it.

`keras.models.load_model` finds a custom class only in Keras's global registry, which
`@keras.saving.register_keras_serializable` fills when the class's module is imported.
Importing those modules from `import msdnet_tf` would import TensorFlow (seconds, and
its start-up lines) even for `--help`. Instead `install()`:

- registers at once when Keras is already fully imported;
- otherwise puts a finder on `sys.meta_path` that watches the imports of the `keras` and
  `tensorflow` packages (each imports the other) and of msdnet_tf's own modules, and
  registers when Keras is loaded and the outermost of these imports has finished
  executing (so never from inside a half-imported module), then takes itself off
  `sys.meta_path`.

Registration errors do not break the user's `import keras`: they become a warning (and
`load_model` then says which class it could not find).
"""

import importlib.abc
import sys
import threading
import warnings

WATCHED = ("keras", "tensorflow")
OWN = "msdnet_tf."

_lock = threading.RLock()
_state = {"depth": 0, "registered": False}


def _initializing(name):
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and bool(getattr(spec, "_initializing", False))


def registered():
    return _state["registered"]


def _register():
    with _lock:
        if _state["registered"]:
            return
        _state["registered"] = True
        _uninstall()
    try:
        from msdnet_tf.models import register_all

        register_all()
    except Exception as e:  # noqa: BLE001 - never break the user's `import keras`
        _state["registered"] = False
        warnings.warn(f"msdnet_tf could not register its Keras model classes ({e!r}); "
                      "call msdnet_tf.models.register_all() to see the error", stacklevel=2)


class _Loader(importlib.abc.Loader):
    """Runs the real loader, then registers once the outermost watched import is done."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _lock:
            _state["depth"] += 1
        try:
            self._loader.exec_module(module)
        finally:
            with _lock:
                _state["depth"] -= 1
            # Give the module its real loader back (importlib.resources, inspect, ...).
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self._loader
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = self._loader
        # The outermost watched import has run (importlib marks it initialised only after
        # this returns, but its code is complete): Keras, TensorFlow and every msdnet_tf
        # module imported so far are complete.
        if _state["depth"] == 0 and "keras" in sys.modules:
            _register()

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in WATCHED and not fullname.startswith(OWN):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


_finder = _Finder()


def _uninstall():
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)


def install():
    """Registers now if Keras is loaded, or as soon as it is (see the module doc)."""
    with _lock:
        if _state["registered"]:
            return
        busy = [n for n in sys.modules if n in WATCHED or n.startswith(OWN)]
        if "keras" in sys.modules and not any(_initializing(n) for n in busy):
            ready = True
        else:
            ready = False
            if _finder not in sys.meta_path:
                sys.meta_path.insert(0, _finder)
    if ready:
        _register()
