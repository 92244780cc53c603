"""torch.compile over a run's networks: every network compiled in training and in evaluation, none left eager by
Dynamo's limit on the versions of one code object (its default 8 against Figure 6's 18)."""

from __future__ import annotations

import io

import pytest
import torch

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.data.synthetic import make_synthetic
from explorer.config.model import ModelConfig
from explorer.models import build_model
from explorer.runs.folder import RunDir
from explorer.training.compiling import allow_versions, compiled, versions_needed
from explorer.training.device import resolve_precision
from explorer.training.events import Reporter
from explorer.training.trainer import Trainer

CPU = torch.device("cpu")
# Five structures as small as they come: plain and residual, post- and pre-activation, basic and bottleneck,
# each a version of the same forward code for Dynamo - ten with evaluation, past its default limit of 8 (Figure 6's
# nine networks need 18).
FIVE = [ModelConfig(depth=8, input_size=8, plain=p, preact=a) for p in (False, True) for a in (False, True)] + \
       [ModelConfig(depth=11, block="bottleneck", input_size=8)]


@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    config = torch._dynamo.config
    saved = {name: getattr(config, name) for name in ("recompile_limit", "accumulated_recompile_limit")
             if hasattr(config, name)}
    yield
    for name, value in saved.items():
        setattr(config, name, value)
    torch._dynamo.reset()


def test_every_network_of_a_run_is_compiled_for_training_and_for_evaluation(fresh_dynamo):
    graphs = []

    def counting(gm, example_inputs):  # a Dynamo backend: one call per graph compiled, run as traced
        graphs.append(gm)
        return gm.forward

    allow_versions(versions_needed(len(FIVE)))
    x = torch.randn(2, 3, 8, 8)
    for config in FIVE:
        torch.manual_seed(0)
        model = build_model(config)
        forward = compiled(model, backend=counting)
        forward(x).sum().backward()
        model.eval()
        with torch.no_grad():
            forward(x)
    assert len(graphs) == 2 * len(FIVE)  # at Dynamo's default limit: 8, the other two run eager


def test_a_compiling_trainer_allows_the_versions_of_all_its_networks(fresh_dynamo, tmp_path):
    config = RunConfig(model=ModelConfig(depth=8), data=DataConfig(dataset="synthetic"), train=TrainConfig(
        compare="both", depths=(8, 14, 20), seeds=2, iterations=4, batch_size=8, compile=True, precision="fp32"))
    Trainer(config, make_synthetic(40, 10, 0), device=CPU, precision=resolve_precision("fp32", CPU),
            reporter=Reporter(RunDir.create(tmp_path, config), 4, io.StringIO()))
    config_limit = getattr(torch._dynamo.config, "recompile_limit", None) or torch._dynamo.config.cache_size_limit
    assert config_limit >= 2 * 12  # 12 networks, each trained and evaluated
