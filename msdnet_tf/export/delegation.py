"""Is a .tflite file fully delegated to XNNPACK on CPU, and if not, which ops stay out?

Two checks, both at run time with the LiteRT runtime that executes the file:

1. Verdict (whole file, every signature): LiteRT's `CompiledModel` with the CPU
   accelerator (XNNPACK), `is_fully_accelerated()`. This is the runtime the
   Android app uses; it inspects every subgraph, not only the first.
2. Which ops: for each signature, the `ai_edge_litert` Interpreter (whose
   default delegate is XNNPACK) with delegate node fusion disabled, so every op
   XNNPACK takes becomes its own DELEGATE node with the op's own outputs. An op
   none of whose outputs a DELEGATE node produces stays on the builtin kernels.
   The interpreter lists the nodes of its first subgraph only, so a signature
   held in another subgraph is moved to the front of a copy of the flatbuffer.

Files with control flow (the IF ops of early_exit.tflite) are never fully
delegated: XNNPACK does not take IF; its branches are delegated on their own.
"""

import contextlib
import dataclasses
import gc
import os
import tempfile
from collections import Counter

DELEGATE_OP = "DELEGATE"


@dataclasses.dataclass
class DelegationReport:
    """`fully_delegated`: the runtime verdict; `signatures`: per signature, op counts
    ({"CONV_2D": 12, ...}) and the ops XNNPACK did not take ({"IF": 1})."""

    fully_delegated: bool
    signatures: dict

    @property
    def not_delegated(self):
        total = Counter()
        for info in self.signatures.values():
            total.update(info["not_delegated"])
        return dict(total)

    def as_dict(self):
        return {"xnnpack_fully_delegated": self.fully_delegated,
                "not_delegated": self.not_delegated, "signatures": self.signatures}


@contextlib.contextmanager
def _captured_native_stderr():
    """Collects what native code writes to fd 2 (LiteRT logs every accelerator it loads)."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        log = []
        try:
            yield log
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            log.append(sink.read().decode(errors="replace"))


def fully_accelerated(content):
    """LiteRT CompiledModel verdict on CPU (XNNPACK) for every subgraph of the file."""
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    with _captured_native_stderr() as log:
        try:
            model = CompiledModel.from_buffer(bytes(content), HardwareAccelerator.CPU)
            verdict = bool(model.is_fully_accelerated())
            del model  # Its environment logs on destruction too.
            gc.collect()
        except Exception as e:  # noqa: BLE001 - surface the runtime's own log
            error = e
        else:
            error = None
    if error is not None:
        raise RuntimeError(f"LiteRT could not compile the model: {error}\n{log[0][-2000:]}")
    return verdict


def _remap_subgraphs(model, order):
    """Reorders model.subgraphs to `order` (new -> old) and fixes every index into them."""
    from ai_edge_litert import schema_py_generated as fb

    new_index = {old: new for new, old in enumerate(order)}
    model.subgraphs = [model.subgraphs[old] for old in order]
    for sig in model.signatureDefs or []:
        sig.subgraphIndex = new_index[sig.subgraphIndex]
    fields = {fb.IfOptionsT: ("thenSubgraphIndex", "elseSubgraphIndex"),
              fb.WhileOptionsT: ("condSubgraphIndex", "bodySubgraphIndex"),
              fb.CallOnceOptionsT: ("initSubgraphIndex",)}
    for subgraph in model.subgraphs:
        for op in subgraph.operators or []:
            for name in fields.get(type(op.builtinOptions), ()):
                setattr(op.builtinOptions, name, new_index[getattr(op.builtinOptions, name)])


def _with_subgraph_first(content, index):
    """A copy of the flatbuffer whose subgraph `index` comes first."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    if index == 0:
        return bytes(content)
    model = fb.ModelT.InitFromPackedBuf(bytearray(content), 0)
    order = [index] + [i for i in range(len(model.subgraphs)) if i != index]
    _remap_subgraphs(model, order)
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _first_subgraph_ops(content):
    """(op counts, ops XNNPACK left) of the first subgraph, nodes fused one by one."""
    from ai_edge_litert.interpreter import Interpreter

    with _captured_native_stderr():
        interpreter = Interpreter(model_content=content,
                                  experimental_disable_delegate_node_fusion=True)
        interpreter.allocate_tensors()
        nodes = interpreter._get_ops_details()  # pylint: disable=protected-access
    delegated_outputs = set()
    for node in nodes:
        if node["op_name"] == DELEGATE_OP:
            delegated_outputs.update(int(t) for t in node["outputs"])
    ops, left = Counter(), Counter()
    for node in nodes:
        if node["op_name"] == DELEGATE_OP:
            continue
        ops[node["op_name"]] += 1
        if not any(int(t) in delegated_outputs for t in node["outputs"]):
            left[node["op_name"]] += 1
    return dict(ops), dict(left)


def _signature_subgraphs(content):
    """{signature key: subgraph index}, read from the flatbuffer."""
    from ai_edge_litert import schema_py_generated as fb

    model = fb.Model.GetRootAs(bytearray(content), 0)
    out = {}
    for i in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(i)
        out[sig.SignatureKey().decode()] = int(sig.SubgraphIndex())
    return out or {"serving_default": 0}


def check_xnnpack(source):
    """`DelegationReport` of a .tflite file (path or bytes)."""
    content = source if isinstance(source, (bytes, bytearray)) else open(source, "rb").read()
    signatures = {}
    for name, index in sorted(_signature_subgraphs(content).items()):
        ops, left = _first_subgraph_ops(_with_subgraph_first(content, index))
        signatures[name] = {"ops": ops, "not_delegated": left}
    return DelegationReport(fully_accelerated(content), signatures)
