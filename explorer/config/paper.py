"""The paper's own figures (explorer/resources/paper.json), looked up for a config so the app can show them beside ours."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from explorer.config.model import ModelConfig

PAPER_DATASET = "cifar10"  # Table 6's test errors are CIFAR-10's: shown beside runs on that dataset only


@lru_cache(maxsize=1)
def paper() -> dict[str, Any]:
    return json.loads(resources.files("explorer.resources").joinpath("paper.json").read_text(encoding="utf-8"))


def paper_figure3_gmacs(name: str) -> float | None:
    """Figure 3's multiply-adds (billions) of "vgg-19", "plain-34" or "resnet-34" at 224×224; None for others."""
    return paper()["imagenet_figure3"]["gmacs"].get(name)


def _is_paper_cifar(config: ModelConfig) -> bool:
    return (config.family == "cifar" and config.block == "basic" and not config.preact and config.shortcut == "A"
            and config.input_size == 32 and config.num_classes == 10 and config.stages is None)


def paper_test_errors() -> dict[int, float]:
    """Table 6: CIFAR-10 test error (%) of the ResNets by depth."""
    return {int(d): row["test_error"] for d, row in paper()["cifar10_table6"]["resnet"].items()}


def paper_seed_spread(depth: int) -> tuple[float, float, int] | None:
    """(mean, std, runs) where Table 6 gives the spread of several runs beside the best (ResNet-110: 6.43,
    "best of 5 runs, mean 6.61 +- 0.16"), read from the table's note; None for the depths it does not."""
    note = paper()["cifar10_table6"].get("_note", "")
    found = re.search(r"ResNet-(\d+): best of (\d+) runs, mean ([\d.]+) \+- ([\d.]+)", note)
    if found is None or int(found.group(1)) != depth:
        return None
    return float(found.group(3)), float(found.group(4)), int(found.group(2))


def paper_test_error(config: ModelConfig) -> float | None:
    """Table 6's CIFAR-10 test error (%) of this network, when it is one of the ResNets the paper trained."""
    if config.plain or not _is_paper_cifar(config):
        return None
    return paper_test_errors().get(config.depth)


def paper_note(config: ModelConfig) -> str | None:
    """What the paper printed for this network, labelled with its source; None if it is not one of the paper's."""
    if _is_paper_cifar(config):
        row = paper()["cifar10_table6"]["resnet"].get(str(config.depth))
        if row is None:
            return None
        if config.plain:
            return f"paper: plain-{config.depth} has the parameters of ResNet-{config.depth} ({row['params_paper']}); Figure 6"
        return f"paper: {row['params_paper']} params, {row['test_error']}% test error (Table 6)"
    table1 = paper()["imagenet_table1"]
    if (config.family == "imagenet" and not config.preact and config.input_size == 224
            and config.num_classes == 1000 and config.stages is None and str(config.depth) in table1["paper_gmacs"]):
        gflops = table1["paper_gmacs"][str(config.depth)]
        if config.plain:
            top1 = paper()["imagenet_top1_error_10crop_table2"].get(f"plain-{config.depth}")
        else:  # Table 3 separates ResNet-34's shortcut options; Table 2's ResNet-34 is option A
            key = f"resnet-{config.depth}" + (f" {config.shortcut}" if config.depth == 34 else "")
            top1 = paper()["imagenet_table3_10crop"].get(key, {}).get("top1")
            if top1 is None:
                top1 = paper()["imagenet_top1_error_10crop_table2"].get(f"resnet-{config.depth}")
        extra = f", {top1}% top-1 error (10-crop)" if top1 is not None else ""
        return f"paper: {gflops} GFLOPs (multiply-adds, Table 1){extra}"
    if config.family == "cifar" and config.preact and config.block == "bottleneck" and config.shortcut == "A":
        for key, row in paper()["preact_cifar10_identity_mappings"].items():
            if key.startswith(f"resnet-{config.depth} ") and not config.plain:
                return f"paper: {row['params_paper']} params, {row['preact_error']}% test error (Identity Mappings)"
    return None
