"""What every model family shares: the multi-exit graph contract and the Keras model around it.

A family (one folder under `msdnet_tf/models/`) describes its network as a
*graph*: an object built over a layer factory `make(cls, name, **kwargs)` with

    num_exits                  K
    make                       the layer factory it was built over
    image_input(batch_size)    the image Input
    trunk(k, carried)          the layers between exit k - 1 and exit k:
                               {name: tensor} in (for k = 0: {"image": x}),
                               {name: tensor} out, holding exactly what exit k
                               and every later trunk read
    head_key(k)                the carried tensor classifier k reads
    head(k, x)                 classifier k on that tensor -> logits
    head_features(k, x)        classifier k up to its last Dense: the pooled
                               vector f_k that Dense reads ([N, C_k])
    depth(k)                   dense layers on the way to exit k (for tables)

`MultiExitModel` turns any graph into a functional Keras model with outputs
`exit_0 ... exit_{K-1}`, with the family's own classifiers (exit_heads="plain")
or IMTA's inline subnetwork collaboration heads built on `head_features`
("isc", `msdnet_tf.models.heads`), and gives every downstream tool the same interface:
`exit_model(k)` (image -> logits of exit k alone), `stage_models()` (one model
per exit; stage k maps what stage k - 1 carried, by name, to its logits and
what it carries on), `plan`, `num_exits`, `reference_names()`. Sub-graphs are
built with a factory that fetches the trained layers, so they share weights
with the model instead of copying them.

The keys every family shares (`msdnet_tf.models.options`) are handled here:
`head_pool` travels on the factory (`make.head_pool`, read by the shared
classifier), and a model with `resolutions` also builds the graph at every
other side r over a `resolution.ResolutionFactory` (private BatchNorm layers,
shared everything else): `at_resolution(r)` is that graph, `serving_model(r)`
a plain single-resolution model with r's BatchNorm (and folded kernels).
"""

import keras

from msdnet_tf.models import heads as heads_lib
from msdnet_tf.models.blocks import apply_classifier, apply_classifier_features
from msdnet_tf.models import options as options_lib
from msdnet_tf.models import resolution


class ClassifierHeads:
    """The reference classifier as a graph's exit heads (`head`, and `head_features`, the
    pooled vector before its Dense, which IMTA's ISC heads read). The graph sets `make`,
    `arch` (with `stem`, `num_classes`), `pool_side` and `sync_bn`."""

    def head(self, k, x):
        return apply_classifier(self.make, x, k, self.arch["stem"], self.arch["num_classes"],
                                self.pool_side, self.sync_bn)

    def head_features(self, k, x):
        return apply_classifier_features(self.make, x, k, self.arch["stem"], self.pool_side,
                                         self.sync_bn)


class LayerFactory:
    """`make` for the blocks: creates layers, or fetches them from a built model.

    Layers whose output reaches no exit are dropped by the functional model;
    fetching one gives a throwaway layer, which the sub-graph drops too.
    `head_pool` is the classifiers' pooling; with `conditioned` convolutions
    are created as `resolution.ConditionedConv2D`.
    """

    def __init__(self, model=None, head_pool="fixed", conditioned=False):
        self.model = model
        self.head_pool = model.options["head_pool"] if model is not None else head_pool
        self.conditioned = conditioned
        self.created = []
        self.layers = {}

    def __call__(self, cls, name, **kwargs):
        if self.model is not None and name not in self.model.unreachable_layers:
            return self.model.get_layer(name)
        if self.conditioned:
            cls, kwargs = resolution.conditioned(cls, kwargs, options_lib.ENCODING_AT_R0)
        self.created.append(name)
        self.layers[name] = cls(name=name, **kwargs)
        return self.layers[name]


def apply_graph(graph, image, exit_heads="plain", make=None, num_classes=None, sync_bn=False,
                taps=None):
    """Runs `graph` from `image`: ({"exit_k": logits}, [carried dict after stage k]).

    exit_heads, make, num_classes, sync_bn, taps: see `heads.apply_exit`.
    """
    carried, outputs, boundaries = {"image": image}, {}, []
    for k in range(graph.num_exits):
        outputs[f"exit_{k}"], carried = heads_lib.apply_exit(
            graph, k, carried, exit_heads, make, num_classes, sync_bn, taps)
        boundaries.append(dict(carried))
    return outputs, boundaries


class MultiExitModel(keras.Model):
    """A functional multi-exit classifier built from a family's graph.

    Subclasses set `family` (the config's `model.family`), `graph_class`
    (called as `graph_class(arch, sync_bn, make)`), and pass their validated
    keyword arguments as `arch`. `exit_heads`: "plain" or "isc" (`heads`).

    `init` chooses the initial weights among the family's `inits` (its config
    module's `INITS`; None or "default" is the first, the initial weights of the
    reference code the family reproduces). The layers' own initialisers give the
    weights of the family's first choice unless `_initialise` re-draws them.
    """

    family = None
    graph_class = None
    inits = ("reference",)

    def __init__(self, arch, sync_bn=False, exit_heads="plain", init=None, init_seed=None,
                 **kwargs):
        heads_lib.check_exit_heads(exit_heads)
        init = self.check_init(init)
        self.exit_heads = exit_heads
        _, opts = options_lib.split({k: kwargs.pop(k) for k in options_lib.KEYS if k in kwargs})
        factory = LayerFactory(head_pool=opts["head_pool"],
                               conditioned=opts["resolution_conditioned"])
        graph = self.graph_class(arch, sync_bn, factory)
        image = graph.image_input()
        outputs, _ = apply_graph(graph, image, exit_heads, factory, arch["num_classes"], sync_bn)
        kwargs.setdefault("name", self.family)
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.arch = arch
        self.options = opts
        self.sync_bn = sync_bn
        self.init = init
        self._num_exits = graph.num_exits
        self._depths = tuple(graph.depth(k) for k in range(graph.num_exits))
        # Layers of the plan that feed no exit (the reference may still compute them).
        kept = {layer.name for layer in self.layers}
        # Untracked: built (so their shapes are known) but not part of the model.
        self.__dict__["_unreachable"] = {n: factory.layers[n] for n in factory.created
                                         if n not in kept}
        self.unreachable_layers = tuple(self._unreachable)
        self._initialise(init, init_seed)
        self.__dict__["_views"] = {}  # r -> graph at r; untracked (its layers are ours)
        if opts["resolutions"]:
            shared = {n: layer for n, layer in factory.layers.items() if n in kept}
            self.resolution_layers = self._build_resolutions(shared, sync_bn)

    def _build_resolutions(self, shared, sync_bn):
        """Builds the graph at every other resolution; returns the layers private to them."""
        private = []
        for r in self.resolutions[1:]:
            make = resolution.ResolutionFactory(shared, r, self.image_size,
                                                self.options["head_pool"])
            graph = self.graph_class({**self.arch, "image_size": r}, sync_bn, make)
            image = graph.image_input()
            outputs, _ = apply_graph(graph, image, self.exit_heads, make, self.arch["num_classes"],
                                     sync_bn)
            view = keras.Model(image, outputs, name=f"{self.name}_r{r}")
            self._views[r] = view
            kept = {id(layer) for layer in view.layers}
            private += [layer for layer in make.private.values()
                        if id(layer) in kept and layer.weights]
        return private

    @property
    def num_exits(self):
        return self._num_exits

    @property
    def image_size(self):
        return self.arch["image_size"]

    @property
    def num_classes(self):
        return self.arch["num_classes"]

    def exit_depth(self, k):
        """Dense layers a sample passes on the way to exit k."""
        return self._depths[k]

    @classmethod
    def check_init(cls, init):
        """`init` as one of the family's `inits` (None and "default" mean the first)."""
        if init in (None, "default"):
            return cls.inits[0]
        if init not in cls.inits:
            raise ValueError(f"init must be one of default, {', '.join(cls.inits)} for "
                             f"{cls.family}. Received: init={init!r}")
        return init

    def _initialise(self, init, seed):
        """Re-draws initial weights where `init` differs from the layers' initialisers.

        `seed`: the model's `init_seed` (`train.seed` when built from a config) or None."""

    def plan_layer(self, name):
        """The layer `name` of the plan, also when it feeds no exit (`unreachable_layers`)."""
        return self._unreachable[name] if name in self._unreachable else self.get_layer(name)

    @property
    def resolutions(self):
        """The input sides this model serves, largest first ((image_size,) if not switchable)."""
        return tuple(self.options["resolutions"]) or (self.image_size,)

    @property
    def switchable(self):
        return bool(self.options["resolutions"])

    @property
    def model_kwargs(self):
        """The keyword arguments that rebuild this model: the config's model section."""
        return {**self.arch, **self.options}

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "sync_bn": self.sync_bn,
                "exit_heads": self.exit_heads, "init": self.init, **self.model_kwargs}

    def at_resolution(self, r):
        """The network at input side r (a trained resolution): a functional model sharing
        this model's layers, with r's BatchNorm; outputs exit_0 ... exit_{K-1}."""
        if r == self.image_size:
            return self
        if r not in self._views:
            raise ValueError(f"this model serves {list(self.resolutions)}. Received: r={r!r}")
        return self._views[r]

    def nearest_resolution(self, r):
        """The trained resolution closest to r (the larger one on a tie)."""
        return min(self.resolutions, key=lambda t: (abs(t - r), -t))

    def serving_model(self, r=None, bn_from=None):
        """A plain model of this family at input side r (default: the largest).

        Convolution and Dense weights are this model's (conditioned kernels
        folded to e(r) * A + B); BatchNorm layers are those of resolution
        `bn_from` (default: r if trained, else the nearest trained one). Not
        switchable: every downstream tool (counting, export) takes it as is.
        """
        r = self.image_size if r is None else int(r)
        bn_from = self.nearest_resolution(r) if bn_from is None else bn_from
        view = self.at_resolution(bn_from)
        plain = type(self)(**{**self.arch, "image_size": r}, head_pool=self.options["head_pool"],
                           exit_heads=self.exit_heads, init=self.init)
        e = options_lib.encoding(r, self.image_size)
        for layer in plain.layers:
            if not layer.weights:
                continue
            if resolution.is_batch_norm(layer):
                name = layer.name if view is self else resolution.private_name(layer.name,
                                                                               bn_from)
                layer.set_weights(view.get_layer(name).get_weights())
                continue
            source = self.get_layer(layer.name)
            values = source.get_weights()
            if isinstance(source, resolution.ConditionedConv2D):
                values = [keras.ops.convert_to_numpy(source.kernel_at(e))]
                values += [keras.ops.convert_to_numpy(source.bias)] if source.use_bias else []
            layer.set_weights(values)
        return plain

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def graph(self):
        """The family graph over this model's own layers."""
        return self.graph_class(self.arch, self.sync_bn, LayerFactory(self))

    def apply_exit(self, graph, k, carried, taps=None):
        """Stage k of `graph` (over this model's layers): (logits, carried on); see `heads`."""
        return heads_lib.apply_exit(graph, k, carried, self.exit_heads, graph.make,
                                    self.num_classes, self.sync_bn, taps)

    def _check_exit(self, k):
        if not (isinstance(k, int) and 0 <= k < self.num_exits):
            raise ValueError(f"exit must be an integer in [0, {self.num_exits - 1}]. "
                             f"Received: k={k!r}")

    def exit_model(self, k, batch_size=None):
        """image -> logits of exit k, sharing this model's layers (no weight copies)."""
        self._check_exit(k)
        graph = self.graph()
        image = graph.image_input(batch_size)
        carried = {"image": image}
        for b in range(k + 1):  # ISC heads: exit k reads the logits of exits 0 .. k - 1
            logits, carried = self.apply_exit(graph, b, carried)
        return keras.Model(image, logits, name=f"exit_{k}")

    def stage_models(self, batch_size=None):
        """One model per exit for cascaded early exit, sharing this model's layers.

        Stage 0 maps the image, stage k > 0 the tensors stage k - 1 carried on
        ({name: tensor}), to {"logits": ..., name: tensor, ...}; the last stage
        returns only logits. Running the stages in order reproduces
        `self(image)` exactly, and no layer runs twice.
        """
        graph = self.graph()
        stages, prev = [], None
        for k in range(self.num_exits):
            if prev is None:
                inputs = graph.image_input(batch_size)
                carried = {"image": inputs}
            else:
                inputs = {key: keras.Input(t.shape[1:], batch_size=batch_size, name=key)
                          for key, t in prev.items()}
                carried = dict(inputs)
            logits, carried = self.apply_exit(graph, k, carried)
            outputs = {"logits": logits}
            prev = None
            if k < self.num_exits - 1:
                prev = carried
                outputs.update(carried)
            stages.append(keras.Model(inputs, outputs, name=f"stage_{k}"))
        return stages

    def reference_names(self):
        """[(reference state_dict prefix, Keras layer name, kind)] for every weight-holding
        layer, kind in conv | bn | dense; see `msdnet_tf.weights`."""
        raise NotImplementedError


def run_stages(stages, image):
    """Runs stage models in sequence; returns {"exit_k": logits}. For tests and tools."""
    outputs, feats = {}, image
    for k, stage in enumerate(stages):
        out = stage(feats, training=False)
        outputs[f"exit_{k}"] = out.pop("logits")
        feats = out
    return outputs
