"""Starting from trained weights: files in torchvision's exact format (random values) in torch's hub cache, under
the names torchvision gives them, loaded into our networks - never a mock of the loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from explorer.config.errors import ConfigError
from explorer.config.model import ModelConfig
from explorer.config.run import IMAGENET_MEAN, IMAGENET_STD, DataConfig, RunConfig, TrainConfig
from explorer.models import build_model
from explorer.models.pretrained import WeightsError, hub_file, start_from_weights


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def _torchvision_file(depth: int, hub: Path) -> tuple[torch.nn.Module, Path]:
    """torchvision's ResNet-``depth`` with random weights and BN statistics, saved as torchvision saves them."""
    torch.manual_seed(depth)
    theirs = getattr(torchvision.models, f"resnet{depth}")()
    for module in theirs.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    path = hub_file(ModelConfig(family="imagenet", depth=depth, stride_on="3x3", weights="imagenet"))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(theirs.state_dict(), path)
    return theirs.eval(), path


@pytest.mark.parametrize("depth", [18, 50])
def test_torchvisions_weights_from_the_hub_cache_give_torchvisions_outputs(hub, depth):
    theirs, path = _torchvision_file(depth, hub)
    assert path.parent == hub and path.name.startswith(f"resnet{depth}-")  # torchvision's own file name
    config = ModelConfig(family="imagenet", depth=depth, stride_on="3x3", weights="imagenet", input_size=64)
    ours = build_model(config)
    start_from_weights(ours, config)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), theirs(x), atol=1e-5)


def test_the_classifier_is_the_datasets_own_and_the_body_is_the_weights(hub):
    theirs, _ = _torchvision_file(18, hub)
    config = ModelConfig(family="imagenet", depth=18, weights="imagenet", num_classes=5, input_size=64)
    ours = build_model(config)
    before = ours.fc.weight.clone()
    start_from_weights(ours, config)
    assert ours.fc.weight.shape == (5, 512) and torch.equal(ours.fc.weight, before)  # left as initialised
    assert torch.equal(ours.layer3[1].conv2.weight, theirs.layer3[1].conv2.weight)
    assert torch.equal(ours.bn1.running_mean, theirs.bn1.running_mean)


def test_missing_weights_say_where_to_put_them(hub):
    config = ModelConfig(family="imagenet", depth=34, weights="imagenet")
    with pytest.raises(WeightsError, match=r"ImageNet weights of ResNet-34 \(pretrained\) are not on this computer; "
                       r"put resnet34-b627a593.pth from https://download.pytorch.org/models/resnet34-b627a593.pth "
                       f"into {hub}"):
        start_from_weights(build_model(config), config)


def test_weights_of_another_network_name_the_first_key_that_does_not_fit(hub, tmp_path):
    _torchvision_file(34, hub)
    wrong = tmp_path / "resnet34.pth"
    hub_file(ModelConfig(family="imagenet", depth=34, weights="imagenet")).rename(wrong)
    config = ModelConfig(family="imagenet", depth=18, weights=str(wrong))
    with pytest.raises(WeightsError, match=r"do not fit ResNet-18 \(pretrained\): it has no 'layer1.2.conv1.weight'"):
        start_from_weights(build_model(config), config)
    cifar = ModelConfig(depth=20, weights=str(wrong))
    with pytest.raises(WeightsError, match=r"'conv1.weight' is \(64, 3, 7, 7\) there and \(16, 3, 3, 3\) here"):
        start_from_weights(build_model(cifar), cifar)


def test_a_file_that_is_no_state_dict_is_one_sentence(tmp_path):
    garbage = tmp_path / "weights.pth"
    garbage.write_bytes(b"not a pickle" * 10)
    config = ModelConfig(weights=str(garbage))
    with pytest.raises(WeightsError, match="cannot be read as PyTorch weights"):
        start_from_weights(build_model(config), config)
    with pytest.raises(WeightsError, match="does not exist"):
        start_from_weights(build_model(config), ModelConfig(weights=str(tmp_path / "nowhere.pth")))


def test_which_networks_have_imagenet_weights_is_said_once_by_the_config():
    for bad, words in (({"family": "cifar", "depth": 20}, "are for ImageNet ResNet-18/34/50/101/152"),
                       ({"family": "imagenet", "depth": 50}, "stride-on 3x3"),
                       ({"family": "imagenet", "depth": 18, "shortcut": "C"}, "shortcut B"),
                       ({"family": "imagenet", "depth": 18, "preact": True}, "without pre-activation")):
        with pytest.raises(ConfigError, match=words) as refused:
            ModelConfig(weights="imagenet", **bad)
        assert refused.value.option == "weights"
    with pytest.raises(ConfigError, match="choose compare residual") as refused:
        RunConfig(model=ModelConfig(family="imagenet", depth=18), train=TrainConfig(start_from="pretrained"))
    assert refused.value.options == ("start-from", "compare")


def test_a_fine_tuning_run_records_the_weights_preprocessing_and_trains_both_starts():
    config = RunConfig(model=ModelConfig(family="imagenet", depth=18, input_size=64),
                       data=DataConfig(dataset="cifar10"),
                       train=TrainConfig(compare="residual", start_from="both", depths=(18,)))
    assert [m.name for m in config.model_configs()] == ["resnet-18", "resnet-18-pretrained"]
    assert (config.data.mean, config.data.std, config.data.resize) == (IMAGENET_MEAN, IMAGENET_STD, 64)
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
    assert (tuple(weights.mean), tuple(weights.std)) == (IMAGENET_MEAN, IMAGENET_STD)  # torchvision's own
    assert RunConfig.from_json(config.to_json()) == config
    assert config.name == "cifar10-scratch-vs-pretrained-resnet-18"


def test_imagenet_weights_are_downloaded_checked_and_kept_in_the_hub_cache(hub, tmp_path, monkeypatch):
    """A local server stands in for download.pytorch.org: the file arrives whole and checked, or not at all."""
    import hashlib
    import http.server
    import threading

    from explorer.models import pretrained

    theirs, path = _torchvision_file(18, hub)
    body = path.read_bytes()
    path.unlink()
    served = tmp_path / "served"
    served.mkdir()
    good = served / f"resnet18-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    good.write_bytes(body)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = ModelConfig(family="imagenet", depth=18, weights="imagenet", input_size=64)
        monkeypatch.setattr(pretrained, "imagenet_url",
                            lambda c: f"http://127.0.0.1:{server.server_port}/{good.name}")
        seen = []
        got = pretrained.download(config, lambda done, total: seen.append((done, total)))
        assert got == hub / good.name and got.read_bytes() == body and seen[-1] == (len(body), len(body))
        ours = build_model(config)
        start_from_weights(ours, config)
        assert torch.equal(ours.conv1.weight, theirs.conv1.weight)
        got.unlink()
        (served / "resnet18-00000000.pth").write_bytes(body)  # a name whose hash the body does not have
        monkeypatch.setattr(pretrained, "imagenet_url",
                            lambda c: f"http://127.0.0.1:{server.server_port}/resnet18-00000000.pth")
        with pytest.raises(WeightsError, match=r"the download is corrupt .*; put resnet18-00000000.pth from"):
            pretrained.download(config)
        assert not list(hub.iterdir())  # nothing half-written or unchecked was kept
    finally:
        server.shutdown()
        server.server_close()


def test_from_scratch_and_pretrained_train_side_by_side_from_the_command_line(hub, tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    from explorer.runs.folder import RunDir
    from explorer.training.checkpoint import load_model_state

    theirs, _ = _torchvision_file(18, hub)
    args = ["--family", "imagenet", "--depths", "18", "--compare", "residual", "--start-from", "both",
            "--input-size", "32", "--dataset", "synthetic", "--synthetic-size", "200", "--iterations", "3",
            "--batch-size", "8", "--device", "cpu", "--runs-dir", str(tmp_path / "runs")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "explorer", "train", *args], env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    (path,) = (tmp_path / "runs").iterdir()
    run = RunDir(path)
    config = run.config()
    assert [key for key, _, _ in config.networks()] == ["resnet-18", "resnet-18-pretrained"]
    assert config.data.mean is not None and config.data.resize == 32  # the weights' preprocessing, recorded
    start = {key: load_model_state(run.checkpoint_dir, key, 0)["model"] for key in ("resnet-18", "resnet-18-pretrained")}
    assert torch.equal(start["resnet-18-pretrained"]["layer2.0.conv1.weight"], theirs.layer2[0].conv1.weight)
    assert not torch.equal(start["resnet-18"]["layer2.0.conv1.weight"], theirs.layer2[0].conv1.weight)
    missing = subprocess.run([sys.executable, "-m", "explorer", "train", *args[:-2], "--weights",
                              str(tmp_path / "nowhere.pth"), "--runs-dir", str(tmp_path / "other")],
                             env=env, capture_output=True, text=True, timeout=240)
    assert missing.returncode == 2 and "the weights file" in missing.stderr and "does not exist" in missing.stderr
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").iterdir())


@pytest.mark.parametrize("fine_tune, body_moves", [("head", False), ("lower-body", True), ("all", True)])
def test_fine_tuning_trains_what_it_says(hub, fine_tune, body_moves):
    """The classifier always learns at the run's lr; the body not at all (head), ten times more slowly
    (lower-body) or alike (all) - measured on the weights after a few real steps of the trainer."""
    import io

    from explorer.data.loading import load_dataset
    from explorer.runs.folder import RunDir
    from explorer.training.device import resolve_precision
    from explorer.training.events import Reporter
    from explorer.training.trainer import Trainer

    _torchvision_file(18, hub)
    config = RunConfig(model=ModelConfig(family="imagenet", depth=18, input_size=32),
                       data=DataConfig(dataset="synthetic", synthetic_size=100),
                       train=TrainConfig(compare="residual", start_from="both", fine_tune=fine_tune, iterations=3,
                                         batch_size=8, lr=0.05, milestones=(), precision="fp32", channels_last=False))
    run = RunDir.create(hub.parent / "runs", config)
    trainer = Trainer(config, load_dataset(config.data), device=torch.device("cpu"),
                      precision=resolve_precision("fp32", torch.device("cpu")), reporter=Reporter(run, 3, io.StringIO()))
    before = {m.key: {k: v.clone() for k, v in m.model.state_dict().items()} for m in trainer.members}
    assert trainer.train(run) == ("finished", "")
    moved = {m.key: {k: float((v - before[m.key][k]).abs().max()) for k, v in m.model.state_dict().items()
                     if v.is_floating_point()} for m in trainer.members}
    pretrained, scratch = moved["resnet-18-pretrained"], moved["resnet-18"]
    assert pretrained["fc.weight"] > 0 and scratch["layer2.0.conv1.weight"] > 0
    assert (pretrained["layer2.0.conv1.weight"] > 0) == body_moves
    if fine_tune == "lower-body":  # the same data and a tenth of the step: far less movement than from scratch
        assert pretrained["layer2.0.conv1.weight"] < scratch["layer2.0.conv1.weight"]
