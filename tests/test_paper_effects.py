"""The paper's finding and the analyses that explain it, in miniature, on one run trained once for the module.

Plain-20, plain-56 and ResNet-56 (the same net plus identity shortcuts) are trained side by side on identical
batches of the synthetic set (:mod:`tests.paper_run`): 200 steps of 32 images, what fits a test on a 2-core CPU.
The layer responses (Figure 7) need longer: tests/test_paper_responses.py.

Measured on seeds 0 / 1 / 2 (the margins below are well inside every seed's):
- training error over the last 20% of the steps: plain-20 0.31 / 0.34 / 0.39, plain-56 0.76 / 0.83 / 0.78,
  ResNet-56 0.06 / 0.08 / 0.14 - degradation, and shortcuts removing it (Figure 6);
- test error with one block removed, mean over the blocks, against none removed: plain-20 0.20 → 0.83 /
  0.41 → 0.90 / 0.35 → 0.87; ResNet-56 0.20 → 0.26 / 0.09 → 0.14 / 0.19 → 0.25 (Veit et al. 2016). Plain-56
  is at chance already (it has not learned in this budget: 0.79 / 0.83 / 0.84), so the collapse is shown on
  plain-20, which has;
- the highest training loss along a filter-normalised direction, α ∈ [-1, 1]: plain-56 4.6e3 / 3.9e6 /
  7.3e4, ResNet-56 96 / 135 / 326 (Li et al. 2018);
- the first layer's gradient norm over the last layer's, in the first three logging intervals: plain-56
  121, 0.021, 0.012 / 156, 0.025, 0.009 / 31, 0.093, 0.047 - swings of three to four orders of magnitude;
  ResNet-56 0.29, 0.15, 0.13 / 0.25, 0.17, 0.16 / 0.30, 0.11, 0.14 - steady; the median over the later
  intervals: plain-56 0.013 / 0.020 / 0.08, ResNet-56 0.24 / 0.28 / 0.24 (the paper: BN keeps the plain nets'
  gradients from vanishing; they do not vanish here, they lurch, then reach the first layer 3-18 times weaker).

Without shortcuts ResNet-56 *is* plain-56 (each net starts from the run's seed alone, so the two would have the
same weights and see the same batches) and every comparison of the two below fails.
"""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from explorer.analysis.gradients import run_gradient_flow
from explorer.analysis.inputs import images, networks
from explorer.analysis.landscape import landscape
from explorer.analysis.lesion import lesion_study
from explorer.runs import RunDir
from tests.paper_run import CPU, train_paper_run

ITERATIONS = 200


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_paper_run(tmp_path_factory.mktemp("paper"), ("plain-20", "plain-56", "resnet-56"), ITERATIONS)


@pytest.fixture(scope="module")
def nets(run):
    return {network.key: network for network in networks(run, ITERATIONS, CPU)}


def mean_training_error(run: RunDir, model: str, after: int) -> float:
    events, _ = run.read_events()
    errors = [e["error"] for e in events if e["type"] == "train" and e["model"] == model and e["iteration"] > after]
    return sum(errors) / len(errors)


def test_a_deeper_plain_net_trains_worse_and_shortcuts_fix_it(run):
    tail = int(0.8 * ITERATIONS)  # the last 20% of the steps: 4 intervals, 1280 predictions each
    error = {name: mean_training_error(run, name, tail) for name in ("plain-20", "plain-56", "resnet-56")}
    assert error["plain-56"] > error["plain-20"] + 0.2, error
    assert error["resnet-56"] < error["plain-56"] - 0.2, error


def test_removing_one_block_breaks_a_plain_net_but_barely_moves_a_resnet(run, nets):
    x, y = images(run, "test", 200, CPU)
    found = {k: lesion_study(nets[k], x, y, draws=1, counts=[2, 8]) for k in ("plain-20", "resnet-56")}
    rise = {k: sum(r["single_errors"]) / len(r["single_errors"]) - r["baseline_error"] for k, r in found.items()}
    assert found["plain-20"]["baseline_error"] < 0.6  # it learned something there was to lose
    assert rise["plain-20"] > 0.3 and rise["resnet-56"] < 0.15, (rise, found)
    assert len(found["resnet-56"]["single_errors"]) == 27 and found["resnet-56"]["chance"] == 0.9
    more = [c["mean"] for c in found["resnet-56"]["by_count"]]  # and more removed, more lost
    assert more[0] <= more[1] + 0.05, found["resnet-56"]["by_count"]


def test_a_plain_nets_loss_surface_is_far_sharper_than_its_resnet_twins(run, nets):
    x, y = images(run, "train", 250, CPU)
    highest = {k: max(landscape(nets[k], x, y, points=7, seed=0)["losses"]) for k in ("plain-56", "resnet-56")}
    assert highest["plain-56"] > 10 * highest["resnet-56"], highest
    before = [p.clone() for p in nets["resnet-56"].model.parameters()]
    landscape(nets["resnet-56"], x, y, points=3)
    assert all(torch.equal(a, b) for a, b in zip(before, nets["resnet-56"].model.parameters()))  # put back


def test_a_plain_nets_gradients_lurch_across_depth_where_a_resnets_stay_steady(run):
    flows = run_gradient_flow(run)
    assert len(flows["resnet-56"].layers) == 56 and len(flows["plain-20"].layers) == 20  # 3×3 convs + the fc
    assert flows["resnet-56"].iterations[:3] == [10, 20, 30]

    def swing(name: str) -> float:  # decades between the highest and lowest first/last ratio, 3 intervals
        ratios = [flows[name].first_to_last(row) for row in range(3)]
        return math.log10(max(ratios) / min(ratios))

    def settled(name: str) -> float:  # the median first/last ratio after the first interval
        return statistics.median(flows[name].first_to_last(row) for row in range(1, len(flows[name].norms)))

    assert swing("plain-56") > 2 and swing("resnet-56") < 1, (swing("plain-56"), swing("resnet-56"))
    assert settled("plain-56") < settled("resnet-56") / 2, (settled("plain-56"), settled("resnet-56"))
    assert all(flows["resnet-56"].first_to_last(row) > 0.05 for row in range(len(flows["resnet-56"].norms)))
