"""The draft of the next run as the Training form holds it, without Qt: every field as typed, keyed by the core's
name of its option ("batch-size", "data-dir"), and the rules that turn it into a RunConfig (the core's own:
:class:`explorer.config.errors.ConfigError` names the option, the form marks that field).

Each dataset keeps its own data folder: a folder of one's pictures is the image folder's, a CIFAR archive's is
CIFAR's; switching the dataset shows that dataset's folder and never carries one into the other (a CIFAR
download once offered to go into a folder of photographs). The draft survives a restart as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from explorer.config.errors import ConfigError
from explorer.config.model import IMAGENET_WEIGHTS, ModelConfig, comparison_depths, depth_fits, depth_presets
from explorer.config.recipes import RECIPES
from explorer.config.run import DataConfig, RunConfig, TrainConfig, run_name

CUSTOM = "custom"
NUMBERS = {"synthetic-size": int, "iterations": int, "batch-size": int, "lr": float, "seeds": int}
TEXTS = ("dataset", "synthetic-size", "depths", "compare", "recipe", "iterations", "batch-size", "lr", "seeds",
         "device", "precision", "name", "start-from", "weights", "fine-tune")
DEFAULT_RECIPE = "quick"


def parse_number(option: str, text: str, kind: type) -> int | float:
    """The number typed in ``text`` (1,000 and 1e4 are whole numbers too); ConfigError about ``option`` else."""
    text = str(text).strip().replace(",", "").replace("_", "")
    if not text:
        raise ConfigError(option, "is empty; type a number")
    try:
        return kind(text)
    except ValueError:
        pass
    try:
        as_float = float(text)
    except ValueError:
        as_float = None
    if kind is int:
        if as_float is not None and as_float.is_integer():
            return int(as_float)
        raise ConfigError(option, f"{text!r} is not a whole number")
    raise ConfigError(option, f"{text!r} is not a number")


def depth_text(depths) -> str:
    return ", ".join(str(d) for d in depths)


def parse_depths(text: str) -> list[int]:
    """Depths typed as "20, 56" (commas or semicolons); ConfigError about "depths" for anything else."""
    depths = []
    for part in filter(None, (p.strip() for p in str(text).replace(";", ",").split(","))):
        if not part.isdigit():
            raise ConfigError("depths", f"{part!r} is not a whole number; write depths like 20, 56")
        depths.append(int(part))
    return depths


@dataclass
class Draft:
    """``values``: each field's text by option name (``depths`` as "20, 56"); ``folders``: each dataset's own
    data folder ("" for the default cache)."""

    values: dict[str, str] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        recipe = RECIPES[DEFAULT_RECIPE]
        defaults = {"dataset": "synthetic", "synthetic-size": "10,000", "depths": depth_text((20, 56)),
                    "compare": "both", "recipe": recipe.key, "iterations": f"{recipe.iterations:,}",
                    "batch-size": f"{recipe.batch_size:,}", "lr": f"{recipe.lr:g}", "seeds": "1", "device": "",
                    "precision": "auto", "name": "", "start-from": "scratch", "weights": IMAGENET_WEIGHTS,
                    "fine-tune": "all"}
        self.values = {**defaults, **{k: str(v) for k, v in self.values.items() if k in TEXTS}}
        self.folders = {str(k): str(v) for k, v in self.folders.items() if isinstance(v, str)}

    def __getitem__(self, option: str) -> str:
        if option == "data-dir":
            return self.folders.get(self["dataset"], "")
        return self.values[option]

    def __setitem__(self, option: str, text: str) -> None:
        if option == "data-dir":
            self.folders[self["dataset"]] = str(text)
        elif option in TEXTS:
            self.values[option] = str(text)
        else:
            raise KeyError(option)

    # --- JSON (the draft across restarts) -----------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"values": self.values, "folders": self.folders})

    @classmethod
    def from_json(cls, text: str) -> "Draft":
        """The saved draft; the defaults for whatever is missing or unreadable. Drafts saved before the fields
        were keyed by option ("batch_size", one "data_dir" for every dataset) are read too: their folder is kept
        for the dataset it was saved with only."""
        try:
            saved = json.loads(text)
        except (TypeError, ValueError):
            saved = None
        if not isinstance(saved, dict):
            return cls()
        if isinstance(saved.get("values"), dict):
            folders = saved.get("folders")
            return cls(dict(saved["values"]), dict(folders) if isinstance(folders, dict) else {})
        values = {key.replace("_", "-"): value for key, value in saved.items()}
        if isinstance(values.get("depths"), list):
            values["depths"] = ", ".join(filter(None, [*map(str, values["depths"]), str(values.get("other-depths") or "")]))
        draft = cls({k: v for k, v in values.items() if k in TEXTS})
        if values.get("data-dir"):
            draft.folders[draft["dataset"]] = str(values["data-dir"])
        return draft

    @classmethod
    def of_run(cls, config: RunConfig) -> "Draft":
        """A run's own settings, as the form shows them beside its curves."""
        t = config.train
        recipe = next((r.key for r in RECIPES.values() if (r.iterations, r.batch_size, r.lr) ==
                       (t.iterations, t.batch_size, t.lr)), CUSTOM)
        draft = cls({"dataset": config.data.dataset, "synthetic-size": f"{config.data.synthetic_size:,}",
                     "depths": depth_text(config.depths), "compare": t.compare, "recipe": recipe,
                     "iterations": f"{t.iterations:,}", "batch-size": f"{t.batch_size:,}", "lr": f"{t.lr:g}",
                     "seeds": str(t.seeds), "device": t.device, "precision": t.precision, "name": config.name,
                     "start-from": t.start_from, "weights": t.weights, "fine-tune": t.fine_tune})
        draft.folders[config.data.dataset] = config.data.data_dir or ""
        return draft

    # --- reading ------------------------------------------------------------------------------------------
    def number(self, option: str) -> int | float:
        return parse_number(option, self[option], NUMBERS[option])

    def depths(self) -> list[int]:
        depths = sorted(set(parse_depths(self["depths"])))
        if not depths:
            raise ConfigError("depths", "to compare: choose at least one")
        return depths

    def run_config(self, template: ModelConfig, device: str = "auto") -> RunConfig:
        """The RunConfig of the draft, its networks of the ``template``'s kind; ConfigError (the first problem,
        about the option it names) when it is not a valid run."""
        depths = self.depths()
        options = {"compare": self["compare"], "depths": tuple(depths), "device": device,
                   "precision": self["precision"], "iterations": self.number("iterations"),
                   "batch_size": self.number("batch-size"), "lr": self.number("lr"), "seeds": self.number("seeds"),
                   "start_from": self["start-from"], "weights": self["weights"].strip(),
                   "fine_tune": self["fine-tune"]}
        data = DataConfig(dataset=self["dataset"], data_dir=self["data-dir"].strip() or None,
                          synthetic_size=self.number("synthetic-size"))
        return RunConfig(model=template.replace(depth=depths[0], stages=None), data=data,
                         train=TrainConfig(**options), name=self["name"].strip() or None)

    def field_problems(self) -> dict[str, ConfigError]:
        """What is wrong with each number field on its own, by the core's rules (each checked in a config
        otherwise at its defaults), so that every wrong field is marked at once, not only the first one."""
        checks = {"iterations": lambda v: TrainConfig(iterations=v), "batch-size": lambda v: TrainConfig(batch_size=v),
                  "lr": lambda v: TrainConfig(lr=v), "seeds": lambda v: TrainConfig(seeds=v),
                  "synthetic-size": lambda v: DataConfig(dataset="synthetic", synthetic_size=v)}
        found = {}
        for option, check in checks.items():
            try:
                check(self.number(option))
            except ConfigError as exc:
                found[option] = exc
        return found

    def default_name(self, template: ModelConfig) -> str:
        """The name a run of this draft gets when none is typed, as far as the draft says it."""
        try:
            depths = tuple(self.depths())
        except ConfigError:
            depths = ()
        return run_name(self["dataset"], template.preact, self["compare"], depths, self["start-from"])

    def milestones_text(self) -> str:
        try:
            milestones = TrainConfig(iterations=self.number("iterations")).milestones
        except ConfigError:
            return ""
        return ("lr ÷10 after iterations " + ", ".join(f"{m:,}" for m in milestones) if milestones
                else "no lr drop in so short a run")

    # --- changing -----------------------------------------------------------------------------------------
    def apply_recipe(self) -> None:
        """A named recipe fills the iterations, batch size and learning rate (Custom leaves them as typed)."""
        recipe = RECIPES.get(self["recipe"])
        if recipe is not None:
            self.values.update({"iterations": f"{recipe.iterations:,}", "batch-size": f"{recipe.batch_size:,}",
                                "lr": f"{recipe.lr:g}"})

    def choose_start(self, start_from: str) -> str:
        """Where the residual networks start. From weights there is no plain twin to train (it would have none to
        start from), so the comparison becomes the ResNets alone; returns the sentence that says so ("" else)."""
        self["start-from"] = start_from
        if start_from != "scratch" and self["compare"] != "residual":
            self["compare"] = "residual"
            return ("Networks: residual only - a plain twin has no pretrained weights"
                    + ("; each ResNet is trained from scratch and from the weights, on the same batches."
                       if start_from == "both" else "."))
        return ""

    def refit(self, template: ModelConfig) -> str:
        """The Architecture tab changed family or block: depths that do not fit the new networks go, and when
        none is left the family's own comparison is ticked instead. Returns the sentence that says so ("" when
        nothing changed). A typo (not a number) stays, to be said in red."""
        parts = [p.strip() for p in self["depths"].replace(";", ",").split(",") if p.strip()]
        dropped = [p for p in parts if p.isdigit() and not depth_fits(template, int(p))]
        if not dropped:
            return ""
        kept = [p for p in parts if p not in dropped]
        substituted = not kept
        if substituted:
            kept = [str(d) for d in comparison_depths(template.family, template.block)]
        self["depths"] = ", ".join(kept)
        these = f"Depth{'s' if len(dropped) > 1 else ''} {', '.join(dict.fromkeys(dropped))}"
        return (f"{these} {'do' if len(dropped) > 1 else 'does'} not fit these networks"
                + (f"; ticked {', '.join(kept)} instead." if substituted else "; left out."))


def presets_and_typed(template: ModelConfig, text: str) -> tuple[list[int], str]:
    """The depths of ``text`` that are presets of the template's family and block (ticked boxes), and the rest as
    typed (the "other depths" field)."""
    presets = depth_presets(template.family, template.block)
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    ticked = [int(p) for p in parts if p.isdigit() and int(p) in presets]
    return ticked, ", ".join(p for p in parts if not (p.isdigit() and int(p) in presets))
