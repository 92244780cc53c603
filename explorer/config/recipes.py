"""Named recipes: the iterations, batch size and learning rate a person picks by name, in the GUI (the Recipe
box) and on the command line (``--recipe``). Everything else (milestones at 50% and 75%, the logging,
evaluation and checkpoint cadence) follows from the iterations in :class:`explorer.config.run.TrainConfig`, so a
recipe and a hand-typed ``--iterations`` are treated alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.config.errors import ConfigError
from explorer.config.run import TrainConfig


@dataclass(frozen=True)
class Recipe:
    key: str
    label: str
    iterations: int
    batch_size: int
    lr: float
    tip: str


RECIPES: dict[str, Recipe] = {r.key: r for r in (
    Recipe("paper", "Paper (64k iterations)", 64000, 128, 0.1,
           "He et al. §4.2: batch 128, lr 0.1 divided by 10 at 32k and 48k, 64k iterations (hours on a GPU)"),
    Recipe("quick", "Quick look (300, CPU)", 300, 32, 0.05,
           "300 iterations of 32 images, lr 0.05 (the paper's 0.1 for 128, scaled) dropped at 50% and 75%: a few "
           "minutes on a laptop CPU for plain and residual 20 and 56 on the synthetic set. It shows degradation "
           "(plain-56 near chance, far above plain-20) and its cure (ResNet-56 learning, well below plain-56); a "
           "deeper ResNet beating a shallower one takes the paper's recipe"),
)}


def recipe_train_config(key: str, **options: Any) -> TrainConfig:
    """The TrainConfig of recipe ``key``; ``options`` (compare, depths, device, or an explicit iterations,
    batch_size, lr, milestones …) override it. ValueError names an unknown recipe."""
    if key not in RECIPES:
        raise ConfigError("recipe", f"{key!r} is not known; choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[key]
    base = {"iterations": recipe.iterations, "batch_size": recipe.batch_size, "lr": recipe.lr}
    return TrainConfig(**{**base, **{k: v for k, v in options.items() if v is not None}})
