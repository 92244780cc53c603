"""torch.compile for the networks of a run, within Dynamo's limits.

Dynamo keeps its compiled versions per code object, and every network of a run runs the same code (the module's
``__call__`` and ``ResNet.forward``): one version per structure (plain-20, ResNet-56 …, a group) and per mode
(training, evaluation). At Dynamo's default limit of 8 versions, Figure 6's 9 networks need 18 and every one past
the 8th quietly runs eager, the deepest and slowest among them. The limit is raised to what a run can need.
"""

from __future__ import annotations

import torch


def versions_needed(networks: int) -> int:
    """Versions a run of ``networks`` can compile: each network alone and in a group, training and evaluating."""
    return 4 * networks


def allow_versions(count: int) -> None:
    """Let Dynamo keep ``count`` versions of one code object (and as many in all), never lowering its limits."""
    config = torch._dynamo.config
    per_code = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    in_all = "accumulated_recompile_limit" if hasattr(config, "accumulated_recompile_limit") \
        else "accumulated_cache_size_limit"
    setattr(config, per_code, max(getattr(config, per_code), count))
    if hasattr(config, in_all):
        setattr(config, in_all, max(getattr(config, in_all), count))


def compiled(module: torch.nn.Module, backend="inductor") -> torch.nn.Module:
    """``module`` compiled (lazily: the first call compiles); it shares the module's parameters."""
    return torch.compile(module, backend=backend)
