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
"""

import keras

from msdnet_tf.models import heads as heads_lib


class LayerFactory:
    """`make` for the blocks: creates layers, or fetches them from a built model.

    Layers whose output reaches no exit are dropped by the functional model;
    fetching one gives a throwaway layer, which the sub-graph drops too.
    """

    def __init__(self, model=None):
        self.model = model
        self.created = []

    def __call__(self, cls, name, **kwargs):
        if self.model is not None and name not in self.model.unreachable_layers:
            return self.model.get_layer(name)
        self.created.append(name)
        return cls(name=name, **kwargs)


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
    """

    family = None
    graph_class = None

    def __init__(self, arch, sync_bn=False, exit_heads="plain", **kwargs):
        heads_lib.check_exit_heads(exit_heads)
        self.exit_heads = exit_heads
        factory = LayerFactory()
        graph = self.graph_class(arch, sync_bn, factory)
        image = graph.image_input()
        outputs, _ = apply_graph(graph, image, exit_heads, factory, arch["num_classes"], sync_bn)
        kwargs.setdefault("name", self.family)
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.arch = arch
        self.sync_bn = sync_bn
        self._num_exits = graph.num_exits
        self._depths = tuple(graph.depth(k) for k in range(graph.num_exits))
        # Layers of the plan that feed no exit (the reference may still compute them).
        kept = {layer.name for layer in self.layers}
        self.unreachable_layers = tuple(n for n in factory.created if n not in kept)

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

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "sync_bn": self.sync_bn,
                "exit_heads": self.exit_heads, **self.arch}

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
