"""A network as an ONNX file that opens in Netron (or any ONNX runtime) with our layer table's names.

torch's own exporter (``torch.onnx.export(dynamo=True)``, which needs ``onnx`` and ``onnxscript``) writes the
graph; BN is kept as its own node (no folding into the convolutions: the table has BN rows) and the batch is a
dynamic dimension. Each node is then named for the module it came from, as the table names it: the first node of
``layer1.0.conv1`` is ``layer1.0.conv1``, further nodes of one module get ``:2``, ``:3`` (the ReLU a block uses
twice, the option-A shortcut's slice and pad). Weights keep their state-dict names (``layer1.0.conv1.weight``).
The file is written through the project's one atomic writer (a fresh temporary of an unpredictable name beside
the destination, created with ``O_EXCL | O_NOFOLLOW``, then renamed into place), so a failed export leaves
nothing half-made and a link planted beside the destination is never written through.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import warnings
from pathlib import Path

import torch

from explorer.system.files import atomic_write

SCOPES = "pkg.torch.onnx.name_scopes"
INSTALL = "pip install 'resnet-explorer[onnx]' (onnx, onnxscript; onnxruntime to run the file)"


class ExportError(Exception):
    """An export that cannot be done: ``str()`` is one sentence saying why and what to do."""


def missing_packages() -> list[str]:
    """The packages ONNX export needs that are not installed (empty when it can run)."""
    import importlib.util

    return [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]


def _module_of(node) -> str:
    """The module path a node of the exported graph came from ('' for the network itself)."""
    try:
        scopes = ast.literal_eval(node.metadata_props.get(SCOPES, "[]"))
    except (ValueError, SyntaxError):
        return ""
    # the last scope is the operator itself; torch's own hooks ("_empty_nn_module_stack…") are no module
    modules = [s for s in scopes[:-1] if isinstance(s, str) and s and not s.startswith("_")]
    return modules[-1] if modules else ""


def simplify(model) -> None:
    """Fold what is constant (the zero biases the exporter builds for bias-free convolutions, shapes) and drop
    what nothing uses; unlike the exporter's own optimizer, BN is not folded into the convolutions."""
    import onnx_ir.passes.common as passes
    import onnxscript.optimizer

    onnxscript.optimizer.fold_constants(model)
    for step in (passes.RemoveUnusedNodesPass(), passes.LiftConstantsToInitializersPass(lift_all_constants=True,
                                                                                        size_limit=0),
                 passes.RemoveUnusedOpsetsPass()):  # no deduplication: equal weights keep their own names
        step(model)


def name_nodes(graph) -> None:
    """Name each node of an onnx_ir graph for its module, as the layer table does; names stay unique."""
    seen: dict[str, int] = {}
    for node in graph:
        module = _module_of(node) or "network"
        count = seen[module] = seen.get(module, 0) + 1
        node.name = module if count == 1 else f"{module}:{count}"


def export_onnx(model: torch.nn.Module, input_size: int, destination: str | os.PathLike,
                metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` (fp32, eval mode, on the CPU) to ``destination`` as ONNX, with ``metadata`` (the class
    names and input normalisation of a trained network) as the model's metadata properties; returns the path.
    Raises ExportError (packages missing, the folder not writable, the exporter failing) with one sentence."""
    missing = missing_packages()
    if missing:
        raise ExportError(f"ONNX export needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                          f"not installed; install them with {INSTALL}")
    destination = Path(destination)
    if destination.is_dir():
        raise ExportError(f"{destination} is a folder; give a file name ending in .onnx")
    model = model.to("cpu", torch.float32).eval()
    example = torch.zeros(1, 3, input_size, input_size)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model, (example,), dynamo=True, optimize=False, input_names=["images"], output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1 << 16)},), verbose=False)
    except Exception as exc:  # the exporter's errors are many and long: the first line says what it was
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ExportError(f"torch could not export the network to ONNX ({first})") from None
    simplify(program.model)
    name_nodes(program.model.graph)
    program.model.metadata_props.update(metadata or {})
    try:
        atomic_write(destination, program.model_proto.SerializeToString())
    except (OSError, RuntimeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ExportError(f"could not write {destination} ({reason}); choose another folder or free some space") \
            from None
    return destination
