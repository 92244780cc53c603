"""ModelConfig/RunConfig validation messages a person reads, and the JSON round trip."""

from __future__ import annotations

import pytest

from explorer.config.errors import ConfigError

from explorer.config.run import DataConfig, RunConfig, TrainConfig
from explorer.config.model import ModelConfig


def test_family_defaults():
    cifar, imagenet = ModelConfig(), ModelConfig(family="imagenet")
    assert (cifar.depth, cifar.block, cifar.shortcut, cifar.num_classes, cifar.input_size) == (20, "basic", "A", 10, 32)
    assert (imagenet.depth, imagenet.shortcut, imagenet.num_classes, imagenet.input_size) == (18, "B", 1000, 224)
    assert ModelConfig(family="imagenet", depth=50).block == "bottleneck"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"depth": 21}, ["depth 21", "6n+2", "20, 32, 44, 56, 110"]),
        ({"depth": 165, "block": "bottleneck"}, ["depth 165", "9n+2", "164, 1001"]),
        ({"family": "imagenet", "depth": 20}, ["depth 20", "18, 34, 50, 101, 152"]),
        ({"family": "imagenet", "depth": 50, "block": "basic"}, ["block", "bottleneck"]),
        ({"depth": 2}, ["depth 2"]),
        ({"family": "vgg"}, ["family", "vgg", "cifar, imagenet"]),
        ({"shortcut": "D"}, ["shortcut", "'D'", "A, B, C"]),
        ({"stride_on": "2x2"}, ["stride-on", "1x1, 3x3"]),
        ({"num_classes": 1}, ["num-classes 1", "at least 2"]),
        ({"input_size": 3}, ["input-size 3", "at least 4"]),
        ({"family": "imagenet", "input_size": 16}, ["input-size 16", "at least 32"]),
        ({"block": "wide"}, ["block", "basic, bottleneck"]),
        ({"stages": (2, 0, 2)}, ["stages"]),
        ({"stages": (2, 2)}, ["stages", "3 block counts"]),
        ({"depth": 20, "stages": (1, 1, 1)}, ["depth 20", "stages"]),
        ({"plain": "yes"}, ["plain"]),
    ],
)
def test_invalid_configs_name_the_option(kwargs, words):
    with pytest.raises(ValueError) as info:
        ModelConfig(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_explicit_stages_give_the_depth():
    config = ModelConfig(family="imagenet", block="bottleneck", stages=(1, 1, 1, 1))
    assert config.depth == 14 and config.blocks_per_stage() == (1, 1, 1, 1)


def test_json_round_trip():
    run = RunConfig(
        model=ModelConfig(family="cifar", depth=110, preact=True, shortcut="B"),
        data=DataConfig(dataset="synthetic", train_subset=500),
        train=TrainConfig(depths=(20, 56), iterations=100, milestones=(50, 75), precision="fp32"),
        name="x",
    )
    assert RunConfig.from_json(run.to_json()) == run


def test_unknown_keys_and_bad_json_are_value_errors():
    with pytest.raises(ValueError, match="unknown option 'colour'"):
        ModelConfig.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match="not valid JSON"):
        RunConfig.from_json("{")


def test_model_configs_for_a_comparison():
    run = RunConfig(train=TrainConfig(depths=(56, 20)))
    assert [m.name for m in run.model_configs()] == ["plain-20", "plain-56", "resnet-20", "resnet-56"]
    only = RunConfig(train=TrainConfig(compare="residual"))
    assert [m.name for m in only.model_configs()] == ["resnet-20"]
    with pytest.raises(ConfigError, match="depths 21 is not 6n") as refused:
        RunConfig(train=TrainConfig(depths=(21,))).model_configs()
    assert refused.value.option == "depths"  # the list the person typed, not the template's depth
    with pytest.raises(ConfigError, match="depth 21 is not 6n") as refused:
        RunConfig(model=ModelConfig(depth=21))
    assert refused.value.option == "depth"


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [({"lr": 0}, "lr"), ({"lr": float("nan")}, "lr"), ({"momentum": 1.0}, "momentum"), ({"batch_size": 0}, "batch-size"),
     ({"milestones": (5, 3)}, "milestones"), ({"device": "tpu"}, "device"), ({"precision": "int8"}, "precision"),
     ({"iterations": -1}, "iterations"), ({"compare": "neither"}, "compare")],
)
def test_invalid_training_options(kwargs, option):
    with pytest.raises(ConfigError, match=option) as refused:
        TrainConfig(**kwargs)
    assert refused.value.option == option  # carried apart from the words: nobody parses the sentence


def test_without_milestones_the_lr_drops_at_half_and_three_quarters_of_any_run():
    assert TrainConfig(iterations=500).milestones == (250, 375)
    assert TrainConfig().milestones == (32000, 48000)  # the paper's 64k recipe
    assert TrainConfig(iterations=3).milestones == (1, 2)
    assert TrainConfig(iterations=1).milestones == ()
    assert TrainConfig(iterations=500).kept_iterations == (0, 250, 375, 500)


def test_recipes_are_named_once_and_options_override_them():
    from explorer.config.recipes import RECIPES, recipe_train_config

    quick = recipe_train_config("quick", depths=(8,))
    assert (quick.iterations, quick.batch_size, quick.lr, quick.milestones) == (300, 32, 0.05, (150, 225))
    assert recipe_train_config("quick", iterations=1000).milestones == (500, 750)
    assert recipe_train_config("paper").iterations == RECIPES["paper"].iterations == 64000
    with pytest.raises(ValueError, match="recipe 'fast' is not known"):
        recipe_train_config("fast")


def test_default_run_names_say_the_dataset_and_the_networks():
    synthetic = RunConfig(data=DataConfig(dataset="synthetic"), train=TrainConfig(depths=(56, 20)))
    assert synthetic.name == "synthetic-plain-vs-resnet-20-56"
    assert RunConfig(train=TrainConfig(compare="residual")).name == "cifar10-resnet-20"
    assert RunConfig(model=ModelConfig(preact=True), train=TrainConfig(compare="plain")).name == "cifar10-plain-20"
