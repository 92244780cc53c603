"""Property-based: every valid config builds, runs and sums up; every invalid one is a ValueError naming its option."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.config.model import ModelConfig
from explorer.models import build_model
from explorer.models.summary import summarize


@st.composite
def valid_configs(draw):
    family = draw(st.sampled_from(["cifar", "imagenet"]))
    block = draw(st.sampled_from(["basic", "bottleneck"]))
    stages = tuple(draw(st.lists(st.integers(1, 2), min_size=3 if family == "cifar" else 4,
                                 max_size=3 if family == "cifar" else 4)))
    use_depth = draw(st.booleans()) and family == "cifar"
    size = draw(st.integers(4, 20)) if family == "cifar" else draw(st.integers(32, 48))
    common = dict(
        family=family, block=block, preact=draw(st.booleans()), plain=draw(st.booleans()),
        shortcut=draw(st.sampled_from("ABC")), stride_on=draw(st.sampled_from(["1x1", "3x3"])),
        num_classes=draw(st.integers(2, 12)), input_size=size, zero_init_residual=draw(st.booleans()),
    )
    if use_depth:  # the 6n+2 / 9n+2 path rather than explicit stages
        per_block = 2 if block == "basic" else 3
        return ModelConfig(depth=3 * per_block * draw(st.integers(1, 2)) + 2, **common)
    return ModelConfig(stages=stages, **common)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_every_valid_config_builds_runs_and_sums(config):
    model = build_model(config).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, config.input_size, config.input_size))
    assert out.shape == (2, config.num_classes)
    assert torch.isfinite(out).all()
    summary = summarize(config)
    leaves = summary.leaves()
    assert summary.total_params == sum(r.params for r in leaves) == sum(p.numel() for p in model.parameters())
    assert summary.total_macs == sum(r.macs for r in leaves)
    assert summary.weighted_depth == config.depth
    assert summary.rows[-1].output_shape == (1, config.num_classes)
    # Every container row is the subtotal of the rows nested under it.
    for index, row in enumerate(summary.rows):
        if row.is_leaf:
            continue
        nested = []
        for later in summary.rows[index + 1:]:
            if later.depth <= row.depth:
                break
            nested.append(later)
        assert row.params == sum(r.params for r in nested if r.is_leaf)
        assert row.macs == sum(r.macs for r in nested if r.is_leaf)
    assert summary.activation_bytes == 4 * sum(math.prod(r.output_shape) for r in leaves)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs(), st.lists(st.integers(1, 5), min_size=4, max_size=4))
def test_the_table_from_a_two_block_prototype_equals_the_whole_network_traced(config, blocks):
    """summarize traces at most two blocks per stage and copies block 1's rows; torchinfo over the whole network
    is the cross-check, row for row (names, shapes, parameters, MACs, subtotals)."""
    stages = tuple(blocks[:len(config.blocks_per_stage())])
    per_block = 2 if config.block == "basic" else 3
    config = config.replace(stages=stages, depth=per_block * sum(stages) + 2)
    assert summarize(config) == summarize(config, repeat_blocks=False)


def test_the_prototype_table_of_the_papers_deepest_nets_is_exact():
    for config in (ModelConfig(depth=1202), ModelConfig(depth=1001, block="bottleneck", preact=True),
                   ModelConfig(family="imagenet", depth=152, stride_on="3x3")):
        assert summarize(config) == summarize(config, repeat_blocks=False)


BAD_VALUES = {
    "family": st.sampled_from(["", "CIFAR", "mnist", None, 3]),
    "depth": st.one_of(st.integers(-5, 19).filter(lambda d: d not in (8, 14)), st.sampled_from([21, 22, 57, 1000]),
                       st.just("20"), st.just(20.0), st.just(True)),
    "block": st.sampled_from(["", "Basic", "wide", 1]),
    "shortcut": st.sampled_from(["", "a", "D", "AB", 0]),
    "stride_on": st.sampled_from(["", "3X3", "2x2", None]),
    "num_classes": st.one_of(st.integers(-3, 1), st.just(2.5), st.just("10")),
    "input_size": st.one_of(st.integers(-3, 3), st.just(32.0), st.just("32")),
    "preact": st.sampled_from(["yes", 1, None]),
    "plain": st.sampled_from(["no", 0]),
    "zero_init_residual": st.sampled_from(["true", 1]),
}
OPTION_NAMES = {"stride_on": "stride-on", "num_classes": "num-classes", "input_size": "input-size",
                "zero_init_residual": "zero-init-residual"}


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(sorted(BAD_VALUES)).flatmap(lambda k: st.tuples(st.just(k), BAD_VALUES[k])))
def test_every_invalid_value_names_its_option(case):
    option, value = case
    with pytest.raises(ValueError) as info:
        ModelConfig(**{option: value})
    assert OPTION_NAMES.get(option, option) in str(info.value)
