"""What to train, as a form: widgets <-> RunConfig. The core validates (one owner of every rule); the form only
says, next to the field, what the core said, in the words of the field's label.

Two modes. Editing: the draft of the next run, made from the Architecture tab's network (the template: family,
block, pre-activation, shortcut) and the depths and networks chosen here; it survives a restart. Showing a run:
the fields hold that run's own settings, read-only, so the form never disagrees with the curves beside it.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QVBoxLayout, QWidget,
)

from explorer.config.errors import ConfigError
from explorer.config.run import DATASET_LABELS, DataConfig, RunConfig, TrainConfig
from explorer.config.model import ModelConfig, depth_fits, depth_presets, describe
from explorer.gui.widgets.number_field import NumberField
from explorer.gui.widgets.tips import tip
from explorer.gui.widgets.theme import mark
from explorer.config.recipes import RECIPES

COMPARES = (("Plain and residual (Figure 6)", "both"), ("Residual only", "residual"), ("Plain only", "plain"))
PRECISIONS = (("Auto (bf16 where fast)", "auto"), ("fp32", "fp32"), ("bf16", "bf16"), ("fp16", "fp16"))
CUSTOM = "custom"
DRAFT_KEY = "training/draft"
DEFAULT_DEPTHS = (20, 56)


class TrainingForm(QWidget):
    """``changed`` fires whenever the draft changes; :meth:`run_config` builds it (ValueError: one sentence)."""

    changed = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._template = ModelConfig()
        self._draft: dict | None = None  # the draft while a run is shown
        self._filling = False
        self.template_note = ""  # what became of depths that do not fit the template, when it changed
        self._depths_for: tuple[str, str] | None = None  # the family and block the draft's depths were for
        self._build()
        self._write(self._saved_draft())
        self._show_template()

    # --- building -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.dataset = QComboBox(objectName="dataset")
        for key, label in DATASET_LABELS.items():
            self.dataset.addItem(label if key != "synthetic" else "Synthetic (offline, no download)", key)
        self.dataset.setToolTip(tip("CIFAR-10 and CIFAR-100 are downloaded once with their published checksums; "
                                    "an image folder is your own images, one subfolder per class (or train/ and "
                                    "test/ subfolders), resized once to the network's input size; the synthetic "
                                    "set is drawn offline from the seed, for trying things out."))
        self.data_dir = QLineEdit(objectName="dataFolder")
        self.data_dir.setPlaceholderText("default cache folder")
        self.data_dir.setToolTip(tip("Where the dataset is kept (downloaded there on first use, after asking)."))
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._on_browse)
        self.synthetic_size = NumberField("synthetic-size", int, tip("Images in the offline synthetic set; a "
                                          "fifth as many more are drawn for testing."))
        self.depth_box = QGroupBox("Depths to compare", objectName="depths")
        self.depth_grid = QGridLayout(self.depth_box)
        self.depth_checks: dict[int, QCheckBox] = {}
        self.other_depths = QLineEdit(objectName="otherDepths")
        self.other_depths.setPlaceholderText("other depths, e.g. 8, 14")
        self.other_depths.setToolTip(tip("More depths, comma-separated; each must fit the Architecture tab's "
                                         "family and block (6n+2 for CIFAR basic blocks, 9n+2 for bottlenecks)."))
        self.compare = QComboBox(objectName="compare")
        for label, value in COMPARES:
            self.compare.addItem(label, value)
        self.compare.setToolTip(tip("Train the plain nets, the ResNets, or both, on identical batches."))
        self.recipe = QComboBox(objectName="recipe")
        for recipe in RECIPES.values():
            self.recipe.addItem(recipe.label, recipe.key)
            self.recipe.setItemData(self.recipe.count() - 1, tip(recipe.tip), 3)  # Qt.ToolTipRole
        self.recipe.addItem("Custom", CUSTOM)
        self.recipe.setToolTip(tip("A named recipe fills iterations, batch size and learning rate; the lr drops "
                                   "and the logging follow from the iterations either way."))
        self.iterations = NumberField("iterations", int, tip("Training steps (mini-batches); the paper trains 64,000."))
        self.batch_size = NumberField("batch-size", int, tip("Images per step (the paper: 128)."))
        self.lr = NumberField("lr", float, tip("The starting learning rate (the paper: 0.1), divided by "
                                                          "10 at 50% and 75% of the iterations."))
        self.seeds = NumberField("seeds", int, tip("Train every network this many times, from seeds 0, 1, …: each seed "
                                                   "its own initialisation and data order, plain and residual on the "
                                                   "same batches within a seed. The curves show the mean ± std."))
        self.milestones_label = QLabel(objectName="milestones")
        self.device = QComboBox(objectName="device")
        self.device.addItem("Auto (best available)", ("auto", None))
        self.device.setToolTip(tip("Looking for devices… (torch is asked in a separate process)"))
        self.precision = QComboBox(objectName="precision")
        for label, value in PRECISIONS:
            self.precision.addItem(label, value)
        self.precision.setToolTip(tip("bf16 autocast is about 2x faster on CPUs and GPUs that have it, but changes "
                                      "gradients slightly; fp32 is exact."))
        self.run_name = QLineEdit(objectName="runName")
        self.run_name.setToolTip(tip("Part of the run's folder name; empty: the dataset, networks and depths."))
        self.problem = QLabel(objectName="formProblem")
        self.memory = QLabel(objectName="memoryNote")
        self.banner = QLabel(objectName="formBanner")
        for label in (self.problem, self.memory, self.banner, self.milestones_label):
            label.setWordWrap(True)
        mark(self.problem, "error")
        mark(self.banner, "note")
        self.problem.hide()
        self.banner.hide()

        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir, 1)
        data_row.addWidget(self.browse)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, field in (("Dataset:", self.dataset), ("Data folder:", data_row),
                             ("Synthetic images:", self.synthetic_size), (None, self.depth_box),
                             ("Networks:", self.compare), ("Recipe:", self.recipe), ("Iterations:", self.iterations),
                             ("Batch size:", self.batch_size), ("Learning rate:", self.lr),
                             ("", self.milestones_label), ("Seeds:", self.seeds), ("Device:", self.device),
                             ("Precision:", self.precision),
                             ("Run name:", self.run_name)):
            form.addRow(field) if label is None else form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.memory)
        self._fields = (self.dataset, self.data_dir, self.browse, self.synthetic_size, self.depth_box, self.compare,
                        self.recipe, self.iterations, self.batch_size, self.lr, self.seeds, self.device,
                        self.precision, self.run_name)
        for combo in (self.dataset, self.compare, self.recipe, self.device, self.precision):
            combo.currentIndexChanged.connect(self._on_edited)
        for line in (self.data_dir, self.synthetic_size, self.other_depths, self.iterations, self.batch_size,
                     self.lr, self.seeds, self.run_name):
            line.textChanged.connect(self._on_edited)

    # --- the template and the two modes -------------------------------------------------------------------
    def set_template(self, model: ModelConfig) -> None:
        """The Architecture tab's network; a run that is shown keeps its own until the draft is back."""
        self._template = model
        if self._draft is None:
            self._write(self._read())
            self._show_template()

    def show_run(self, config: RunConfig | None, name: str = "") -> None:
        """Fill the fields with a run's settings, read-only; None: back to editing the draft."""
        if config is None:
            if self._draft is not None:
                draft, self._draft = self._draft, None
                self._write(draft)
            self._show_template()
        else:
            if self._draft is None:
                self._draft = self._read()
            self._write(state_of(config), template=config.model)
            self.banner.setText(f"Showing the settings of {name or config.name}. New run (Ctrl+N) sets up another.")
            self.banner.show()
        for widget in self._fields:
            widget.setEnabled(config is None)
        self._update_recipe_fields()

    def showing_run(self) -> bool:
        return self._draft is not None

    # --- reading ------------------------------------------------------------------------------------------
    def run_config(self) -> RunConfig:
        """The RunConfig of the draft; ValueError with the first problem, in the words of the form's labels."""
        try:
            depths = sorted({d for d, box in self.depth_checks.items() if box.isChecked()} | self._other_depths())
            if not depths:
                raise ConfigError("depths", "to compare: choose at least one")
            device, _index = self.device.currentData()
            options = {"compare": self.compare.currentData(), "depths": tuple(depths), "device": device,
                       "precision": self.precision.currentData(), "iterations": self.iterations.value(),
                       "batch_size": self.batch_size.value(), "lr": self.lr.value(), "seeds": self.seeds.value()}
            data = DataConfig(dataset=self.dataset.currentData(), data_dir=self.data_dir.text().strip() or None,
                              synthetic_size=self.synthetic_size.value())
            return RunConfig(model=self._template.replace(depth=depths[0], stages=None), data=data,
                             train=TrainConfig(**options), name=self.run_name.text().strip() or None)
        except ConfigError as exc:
            raise FormProblem(in_form_words(exc), exc.options) from None

    def device_environment(self) -> dict[str, str] | None:
        device, index = self.device.currentData()
        return {"CUDA_VISIBLE_DEVICES": str(index)} if device == "cuda" and index is not None else None

    def set_devices(self, devices: list[dict]) -> None:
        current = self._saved_draft().get("device", "")
        for device in devices:
            self.device.addItem(device["label"], (device["device"], device.get("index")))
        self.device.setToolTip(tip("Where the networks train.") if devices else
                               tip("torch could not list the devices; Auto picks CUDA, then MPS, then the CPU."))
        index = self.device.findText(current)
        if index >= 0 and self._draft is None:
            self.device.setCurrentIndex(index)

    def field_problems(self) -> dict[NumberField, str]:
        """What is wrong with each number field on its own, by the core's rules (each field checked in a config
        otherwise at its defaults), so that every wrong field is marked at once, not only the first one."""
        found = {}
        for field, make in ((self.iterations, lambda v: TrainConfig(iterations=v)),
                            (self.batch_size, lambda v: TrainConfig(batch_size=v)),
                            (self.lr, lambda v: TrainConfig(lr=v)), (self.seeds, lambda v: TrainConfig(seeds=v)),
                            (self.synthetic_size, lambda v: DataConfig(dataset="synthetic", synthetic_size=v))):
            try:
                make(field.value())
            except ConfigError as exc:
                found[field] = in_form_words(exc)
        return found

    def set_problem(self, message: str, options: tuple[str, ...] = ()) -> None:
        """``message`` (the first problem, or the refusal of Start; about ``options``) and below it every other
        wrong field's own."""
        problems = self.field_problems() if message else {}
        lines = [message, *(p for p in problems.values() if p.lower() != message.lower())]
        self.problem.setText("\n".join(line[:1].upper() + line[1:] for line in lines if line))
        self.problem.setVisible(bool(message))
        for field in (self.synthetic_size, self.iterations, self.batch_size, self.lr, self.seeds):
            field.mark(field in problems or field.option in options)

    # --- persistence --------------------------------------------------------------------------------------
    def save(self) -> None:
        self._settings.setValue(DRAFT_KEY, json.dumps(self._draft or self._read()))

    def _saved_draft(self) -> dict:
        try:
            saved = json.loads(str(self._settings.value(DRAFT_KEY, "{}")))
        except ValueError:
            saved = {}
        default = state_of(RunConfig(data=DataConfig(dataset="cifar10"), train=TrainConfig(depths=DEFAULT_DEPTHS)))
        return {**default, "name": "", **(saved if isinstance(saved, dict) else {})}

    # --- widgets <-> state ----------------------------------------------------------------------------------
    def _read(self) -> dict:
        return {"dataset": self.dataset.currentData(), "data_dir": self.data_dir.text(),
                "synthetic_size": self.synthetic_size.text(), "other_depths": self.other_depths.text(),
                "depths": [d for d, b in self.depth_checks.items() if b.isChecked()],
                "compare": self.compare.currentData(), "recipe": self.recipe.currentData(),
                "iterations": self.iterations.text(), "batch_size": self.batch_size.text(), "lr": self.lr.text(),
                "seeds": self.seeds.text(), "device": self.device.currentText(),
                "precision": self.precision.currentData(),
                "name": self.run_name.text()}

    def _write(self, state: dict, template: ModelConfig | None = None) -> None:
        """Fill the fields from ``state``: a run's (with its own ``template``) or the draft's. The draft's depths
        of another family or block than the one they were chosen for (the Architecture tab changed, maybe while
        a run was shown) are dropped, with a note."""
        drop_unfit = False
        if template is None:
            family = (self._template.family, self._template.block)
            drop_unfit, self._depths_for = self._depths_for not in (None, family), family
        self._filling = True
        try:
            _pick(self.dataset, state.get("dataset"))
            self.data_dir.setText(str(state.get("data_dir") or ""))
            self.synthetic_size.setText(str(state.get("synthetic_size", "10,000")))
            self._set_depths(template or self._template, [int(d) for d in state.get("depths", [])
                                                           if str(d).isdigit()], str(state.get("other_depths", "")),
                             drop_unfit)
            _pick(self.compare, state.get("compare"))
            _pick(self.recipe, state.get("recipe"))
            for field in (self.iterations, self.batch_size, self.lr):
                field.setText(str(state.get(field.option.replace("-", "_"), "")))
            self.seeds.setText(str(state.get("seeds", "1")))
            self.device.setCurrentIndex(_device_index(self.device, state))
            _pick(self.precision, state.get("precision"))
            self.run_name.setText(str(state.get("name") or ""))
        finally:
            self._filling = False
        self._on_edited()

    def _set_depths(self, template: ModelConfig, checked: list[int], other: str, drop_unfit: bool = False) -> None:
        """The presets of the template's family and block as check boxes; typed depths that are not presets
        stay typed - a wrong one stays to be said in red - except, when the template has just changed family or
        block (``drop_unfit``), the depths of the old one."""
        for box in self.depth_checks.values():
            self.depth_grid.removeWidget(box)
            box.deleteLater()
        self.depth_checks = {}
        presets = depth_presets(template.family, template.block)
        typed = [p.strip() for p in other.replace(";", ",").split(",") if p.strip()]
        dropped: list[str] = []
        if drop_unfit:
            # Depths of another family (the Architecture tab moved from CIFAR to ImageNet, say) go, and say so;
            # when none is left, the family's first two presets are ticked in their place.
            fits = lambda depth: depth_fits(template, depth)  # noqa: E731
            dropped = [str(d) for d in checked if not fits(d)] + [t for t in typed if t.isdigit() and not fits(int(t))]
            checked = [d for d in checked if fits(d)]
            typed = [t for t in typed if not t.isdigit() or fits(int(t))]
        substituted = bool(dropped) and not checked and not typed
        if substituted:
            checked = list(presets[:2])
        these = f"Depth{'s' if len(dropped) > 1 else ''} {', '.join(dict.fromkeys(dropped))}"
        self.template_note = "" if not dropped else (
            f"{these} {'do' if len(dropped) > 1 else 'does'} not fit these networks"
            + (f"; ticked {', '.join(map(str, checked))} instead." if substituted else "; left out."))
        extra = [d for d in checked if d not in presets]
        for i, depth in enumerate(presets):
            box = QCheckBox(str(depth))
            box.setChecked(depth in checked)
            box.setToolTip(f"Train the {depth}-layer networks")
            box.toggled.connect(self._on_edited)
            self.depth_grid.addWidget(box, i // 4, i % 4)
            self.depth_checks[depth] = box
        self.other_depths.setText(", ".join(dict.fromkeys([*typed, *map(str, extra)])))
        self.depth_grid.addWidget(self.other_depths, (len(presets) + 3) // 4, 0, 1, 4)

    def _show_template(self) -> None:
        """Which networks a draft trains, said on the form itself (not only in the status bar)."""
        if self._draft is not None:
            return
        words = f"Networks from the Architecture tab: {describe(self._template)}."
        self.banner.setText(f"{words} {self.template_note}" if self.template_note else words)
        self.banner.show()

    def _other_depths(self) -> set[int]:
        depths = set()
        for part in filter(None, (p.strip() for p in self.other_depths.text().replace(";", ",").split(","))):
            if not part.isdigit():
                raise ValueError(f"depth {part!r} is not a whole number; write depths like 8, 14")
            depths.add(int(part))
        return depths

    def _update_recipe_fields(self) -> None:
        key = self.recipe.currentData()
        custom = key == CUSTOM
        for field in (self.iterations, self.batch_size, self.lr):
            field.setEnabled(custom and self._draft is None)
        if not custom and key in RECIPES and not self._filling:
            recipe = RECIPES[key]
            self._filling = True
            self.iterations.set_value(recipe.iterations)
            self.batch_size.set_value(recipe.batch_size)
            self.lr.set_value(recipe.lr)
            self._filling = False
        self.synthetic_size.setEnabled(self.dataset.currentData() == "synthetic" and self._draft is None)
        for widget in (self.data_dir, self.browse):
            widget.setEnabled(self.dataset.currentData() != "synthetic" and self._draft is None)
        own = self.dataset.currentData() == "folder"
        self.data_dir.setPlaceholderText("a folder with one subfolder of images per class" if own
                                         else "default cache folder")

    def _on_edited(self) -> None:
        if self._filling:
            return
        self._update_recipe_fields()
        try:
            milestones = TrainConfig(iterations=self.iterations.value()).milestones
            self.milestones_label.setText("lr ÷10 after iterations " + ", ".join(f"{m:,}" for m in milestones)
                                          if milestones else "no lr drop in so short a run")
        except ValueError:
            self.milestones_label.setText("")
        try:
            self.run_name.setPlaceholderText(f"automatic: {self.run_config().default_name()}")
        except ValueError:
            pass
        self.changed.emit()

    def _on_browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.data_dir.text())
        if folder:
            self.data_dir.setText(folder)


def state_of(config: RunConfig) -> dict:
    """The form's fields for ``config`` (what a shown run's settings look like in the form)."""
    t = config.train
    recipe = next((r.key for r in RECIPES.values() if (r.iterations, r.batch_size, r.lr) ==
                   (t.iterations, t.batch_size, t.lr)), CUSTOM)
    presets = depth_presets(config.model.family, config.model.block)
    return {"dataset": config.data.dataset, "data_dir": config.data.data_dir or "",
            "synthetic_size": f"{config.data.synthetic_size:,}", "depths": list(config.depths),
            "other_depths": ", ".join(str(d) for d in config.depths if d not in presets), "compare": t.compare,
            "recipe": recipe, "iterations": f"{t.iterations:,}", "batch_size": f"{t.batch_size:,}",
            "lr": f"{t.lr:g}", "seeds": str(t.seeds), "device": "", "device_kind": t.device, "precision": t.precision,
            "name": config.name}


FIELD_WORDS = {"iterations": "Iterations", "batch-size": "Batch size", "lr": "Learning rate",
               "synthetic-size": "Synthetic images", "data-dir": "Data folder", "classes": "Classes", "name": "Run name",
               "depths": "Depths to compare", "depth": "Depth", "milestones": "lr drop", "seeds": "Seeds"}


def in_form_words(exc: ConfigError) -> str:
    """The core names an option as the command line does ("batch-size"); the form by its field's label."""
    return exc.worded(lambda option: FIELD_WORDS.get(option, option))


class FormProblem(ValueError):
    """What keeps the form from making a run: the sentence in the form's words, and the options it is about."""

    def __init__(self, sentence: str, options: tuple[str, ...] = ()) -> None:
        super().__init__(sentence)
        self.options = options


def _device_index(combo: QComboBox, state: dict) -> int:
    """The device the state names: by its label (one of several GPUs), else the first of its kind, else Auto."""
    index = combo.findText(str(state.get("device", "")))
    if index >= 0:
        return index
    for i in range(combo.count()):
        if combo.itemData(i)[0] == state.get("device_kind"):
            return i
    return 0


def _pick(combo: QComboBox, value) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)
