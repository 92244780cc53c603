"""A network as ONNX: the file passes onnx.checker, its nodes bear the layer table's names, and onnxruntime gives
torch's output on the same input, for a fresh network and for a trained one restored from a run's checkpoint."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx", reason="the onnx extra: pip install 'resnet-explorer[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra: pip install 'resnet-explorer[onnx]'")

from explorer.analysis.inputs import networks  # noqa: E402
from explorer.cli.main import main  # noqa: E402
from explorer.config.model import ModelConfig  # noqa: E402
from explorer.models import build_model  # noqa: E402
from explorer.models.onnx_export import ExportError, export_onnx  # noqa: E402
from explorer.runs.folder import RunDir  # noqa: E402
from explorer.models.summary import summarize  # noqa: E402
from tests.test_cli_train import SMALL, only_run, train  # noqa: E402


def run_both(path: Path, model: torch.nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {"images": x.numpy()})
    with torch.no_grad():
        return ours, model(x).numpy()


@pytest.mark.parametrize("config", [
    ModelConfig(depth=20), ModelConfig(depth=14, preact=True, shortcut="C"), ModelConfig(depth=8, plain=True),
    ModelConfig(family="imagenet", depth=50, input_size=64),
], ids=lambda c: f"{c.name}-{c.shortcut}")
def test_the_file_checks_bears_the_tables_names_and_computes_what_torch_does(tmp_path: Path, config) -> None:
    torch.manual_seed(0)
    model = build_model(config).eval()
    for module in model.modules():  # BN with statistics of its own, so that folding or dropping it would show
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    path = export_onnx(model, config.input_size, tmp_path / "net.onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    names = [node.name for node in proto.graph.node]
    assert len(names) == len(set(names))
    table = [row.name for row in summarize(config).rows if row.is_leaf and row.params]
    assert table and [n for n in table if n not in names] == []  # every weighted layer, by the table's name
    by_name = {node.name: node.op_type for node in proto.graph.node}
    assert by_name["conv1"] == "Conv" and by_name["fc"] == "Gemm"
    assert sum(op == "BatchNormalization" for op in by_name.values()) == sum(
        isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # BN kept, not folded away
    weights = {init.name for init in proto.graph.initializer}
    assert {n for n, _ in model.named_parameters()} <= weights
    x = torch.randn(3, 3, config.input_size, config.input_size)  # a batch of 3: the batch is dynamic
    ours, theirs = run_both(path, model, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert not list(tmp_path.glob(".*partial"))


def test_a_trained_network_is_exported_from_its_run(tmp_path: Path, capsys) -> None:
    done = train(tmp_path, *SMALL, "--iterations", "6", "--compare", "both")
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path)
    cli = ["export-model", "--run", str(run.path)]  # the command in this process: the GUI test runs it as a child
    assert main([*cli, "-o", str(tmp_path / "x.onnx")]) == 2
    assert "--network is needed" in capsys.readouterr().err  # the run has plain-8 and resnet-8
    assert main([*cli, "--network", "resnet-8", "-o", str(tmp_path / "r8.onnx"), "--progress", "json"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["type"] == "done" and "resnet-8 at iteration 6" in line["network"]
    trained = {n.key: n for n in networks(RunDir.open(run.path), 6, torch.device("cpu"))}["resnet-8"].model
    fresh = build_model(ModelConfig(depth=8)).eval()
    x = torch.randn(2, 3, 32, 32)
    ours, theirs = run_both(tmp_path / "r8.onnx", trained, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert not np.allclose(ours, fresh(x).detach().numpy(), atol=1e-3)  # the trained weights, not fresh ones
    # what it answers and expects travels with it: class names in output order, the input's normalisation
    from explorer.data.batches import pixel_stats
    from explorer.data.loading import load_dataset
    from explorer.data.synthetic import CLASSES

    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "r8.onnx")).metadata_props}
    assert json.loads(meta["class_names"]) == list(CLASSES) and meta["dataset"] == "synthetic"
    config = RunDir.open(run.path).config()
    mean, std = pixel_stats(load_dataset(config.data, seed=config.train.seed).train_images)
    assert np.allclose(json.loads(meta["input_mean"]), mean.numpy(), atol=1e-3)
    assert np.allclose(json.loads(meta["input_std"]), std.numpy(), atol=1e-3)
    assert "(RGB pixels 0-255 - input_mean) / input_std" in meta["input"]


def test_without_the_packages_a_sentence_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a))
    with pytest.raises(ExportError, match=r"needs onnxscript, which is not installed; install them with pip "
                                          r"install 'resnet-explorer\[onnx\]'"):
        export_onnx(build_model(ModelConfig(depth=8)), 32, tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())
