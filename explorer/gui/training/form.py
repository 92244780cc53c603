"""What to train, as a form: the widgets of a :class:`~explorer.gui.training.draft.Draft`. The draft holds the
values and the core holds the rules; the form only shows them, and says next to the field, in the words of its
label, what the core said about it.

Two modes. Editing: the draft of the next run, made from the Architecture tab's network (the template: family,
block, pre-activation, shortcut) and the depths and networks chosen here; it survives a restart. Showing a run:
the fields hold that run's own settings, read-only, so the form never disagrees with the curves beside it.
The Training page talks to the form through its methods only.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget,
)

from explorer.config.errors import ConfigError
from explorer.config.model import ModelConfig, describe
from explorer.config.recipes import RECIPES
from explorer.config.run import DATASET_LABELS, RunConfig
from explorer.gui.training.depth_choice import DepthChoice
from explorer.gui.training.draft import CUSTOM, NUMBERS, Draft
from explorer.gui.training.folder_summary import FolderSummary
from explorer.gui.training.start_choice import StartChoice
from explorer.gui.widgets.number_field import INVALID_STYLE, NumberField
from explorer.gui.widgets.combo import select_data
from explorer.gui.widgets.tips import tip
from explorer.gui.widgets.theme import mark

COMPARES = (("Plain and residual (Figure 6)", "both"), ("Residual only", "residual"), ("Plain only", "plain"))
PRECISIONS = (("Auto (bf16 where fast)", "auto"), ("fp32", "fp32"), ("bf16", "bf16"), ("fp16", "fp16"))
DRAFT_KEY = "training/draft"
FIELD_WORDS = {"iterations": "Iterations", "batch-size": "Batch size", "lr": "Learning rate",
               "synthetic-size": "Synthetic images", "data-dir": "Data folder", "classes": "Classes", "name": "Run name",
               "depths": "Depths to compare", "depth": "Depth", "milestones": "lr drop", "seeds": "Seeds",
               "start-from": "Start from", "weights": "Weights", "fine-tune": "Fine-tune", "compare": "Networks"}
NUMBER_TIPS = {
    "synthetic-size": "Images in the offline synthetic set; a fifth as many more are drawn for testing.",
    "iterations": "Training steps (mini-batches); the paper trains 64,000.",
    "batch-size": "Images per step (the paper: 128).",
    "lr": "The starting learning rate (the paper: 0.1), divided by 10 at 50% and 75% of the iterations.",
    "seeds": "Train every network this many times, from seeds 0, 1, …: each seed its own initialisation and data "
             "order, plain and residual on the same batches within a seed. The curves show the mean ± std.",
}


def in_form_words(exc: ConfigError) -> str:
    """The core names an option as the command line does ("batch-size"); the form by its field's label."""
    return exc.worded(lambda option: FIELD_WORDS.get(option, option))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


class TrainingForm(QWidget):
    """``changed`` fires whenever the draft changes; :meth:`run_config` builds it (ConfigError: what is wrong)."""

    changed = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._template = ModelConfig()
        self._draft = Draft.from_json(str(settings.value(DRAFT_KEY, "")))
        self._editing: Draft | None = None  # the draft, kept while the fields show a run
        self._filling = False
        self._note = ""  # what became of the depths when the template last changed, until the next edit
        self._depths_for: tuple[str, str] | None = None  # the family and block the draft's depths were for
        self._build()
        self._write(self._draft, self._template)

    # --- building -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.dataset = QComboBox(objectName="dataset")
        for key, label in DATASET_LABELS.items():
            self.dataset.addItem(label if key != "synthetic" else "Synthetic (offline, no download)", key)
        self.dataset.setToolTip(tip("CIFAR-10 and CIFAR-100 are downloaded once with their published checksums; "
                                    "an image folder is your own images, one subfolder per class (or train/ and "
                                    "test/ subfolders), resized once to the network's input size; the synthetic "
                                    "set is drawn offline from the seed, for trying things out."))
        self.data_dir = QLineEdit(objectName="data-dir")
        self.data_dir.setToolTip(tip("Each dataset keeps its own folder. CIFAR: where its archive is kept "
                                     "(downloaded there on first use, after asking); empty: the default cache. "
                                     "Image folder: your images."))
        self.browse = QPushButton("Browse…", objectName="browseData")
        self.browse.clicked.connect(self._on_browse)
        self.folder_summary = QLabel(objectName="folderSummary")
        self.folder_summary.setWordWrap(True)
        self.folder_summary.hide()
        self._summary = FolderSummary(self)
        self._summary.computed.connect(self._on_folder_summary)
        self._summary.failed.connect(self._on_folder_summary)
        self.numbers = {option: NumberField(option, tip(NUMBER_TIPS[option])) for option in NUMBERS}
        self.depths = DepthChoice()
        self.compare = QComboBox(objectName="compare")
        for label, value in COMPARES:
            self.compare.addItem(label, value)
        self.compare.setToolTip(tip("Train the plain nets, the ResNets, or both, on identical batches."))
        self.start_choice = StartChoice(self)
        self.start_choice.changed.connect(self._on_start_edited)
        self.recipe = QComboBox(objectName="recipe")
        for recipe in RECIPES.values():
            self.recipe.addItem(recipe.label, recipe.key)
            self.recipe.setItemData(self.recipe.count() - 1, tip(recipe.tip), 3)  # Qt.ToolTipRole
        self.recipe.addItem("Custom", CUSTOM)
        self.recipe.setToolTip(tip("A named recipe fills iterations, batch size and learning rate; the lr drops "
                                   "and the logging follow from the iterations either way."))
        self.milestones = QLabel(objectName="milestones")
        self.device = QComboBox(objectName="device")
        self.device.addItem("Auto (best available)", ("auto", None))
        self.device.setToolTip(tip("Looking for devices… (torch is asked in a separate process)"))
        self.precision = QComboBox(objectName="precision")
        for label, value in PRECISIONS:
            self.precision.addItem(label, value)
        self.precision.setToolTip(tip("bf16 autocast is about 2x faster on CPUs and GPUs that have it, but changes "
                                      "gradients slightly; fp32 is exact."))
        self.run_name = QLineEdit(objectName="name")
        self.run_name.setToolTip(tip("Part of the run's folder name; empty: the dataset, networks and depths."))
        self.problem = QLabel(objectName="formProblem")
        self.estimate = QLabel(objectName="estimateNote")
        self.banner = QLabel(objectName="formBanner")
        for label in (self.problem, self.estimate, self.banner, self.milestones):
            label.setWordWrap(True)
        mark(self.problem, "error")
        mark(self.banner, "note")
        self.problem.hide()
        self.banner.hide()
        self._lay_out()
        for combo in (self.dataset, self.compare, self.recipe, self.device, self.precision):
            combo.currentIndexChanged.connect(self._on_edited)
        for line in (self.data_dir, self.run_name, *self.numbers.values()):
            line.textChanged.connect(self._on_edited)
        self.depths.changed.connect(self._on_edited)

    def _lay_out(self) -> None:
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir, 1)
        data_row.addWidget(self.browse)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        n = self.numbers
        for label, field in (("Dataset:", self.dataset), ("Data folder:", data_row), ("", self.folder_summary),
                             ("Synthetic images:", n["synthetic-size"]), (None, self.depths),
                             ("Networks:", self.compare), ("start", None), ("Recipe:", self.recipe), ("Iterations:", n["iterations"]),
                             ("Batch size:", n["batch-size"]), ("Learning rate:", n["lr"]), ("", self.milestones),
                             ("Seeds:", n["seeds"]), ("Device:", self.device), ("Precision:", self.precision),
                             ("Run name:", self.run_name)):
            if field is None:
                self.start_choice.add_rows(form)
            else:
                form.addRow(field) if label is None else form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        # Beside Start, in view at any height: what Start will cost, or what keeps it from starting (at the foot
        # of the form it was scrolled out of view, and the fields jumped as the estimate came and went).
        layout.addWidget(self.estimate)
        layout.addWidget(self.problem)
        layout.addLayout(form)
        self._fields = (self.dataset, self.data_dir, self.browse, self.depths, self.compare, self.recipe,
                        self.device, self.precision, self.run_name, *self.numbers.values())

    # --- the template and the two modes -------------------------------------------------------------------
    def set_template(self, model: ModelConfig) -> None:
        """The Architecture tab's network; a run that is shown keeps its own until the draft is back."""
        self._template = model
        if self._editing is None:
            self._write(self._draft, model)

    def show_run(self, config: RunConfig | None, name: str = "") -> None:
        """Fill the fields with a run's settings, read-only; None: back to editing the draft."""
        if config is None:
            if self._editing is not None:
                self._draft, self._editing = self._editing, None
            self._write(self._draft, self._template)
        else:
            if self._editing is None:
                self._editing = self._draft
            self._draft = Draft.of_run(config)
            self._write(self._draft, config.model, shown=f"{name or config.name}")
        for widget in self._fields:
            widget.setEnabled(config is None)
        self.start_choice.set_editable(config is None)
        self._update_enabled()

    def showing_run(self) -> bool:
        return self._editing is not None

    # --- what the page asks -----------------------------------------------------------------------------------
    def run_config(self) -> RunConfig:
        """The RunConfig of the draft; ConfigError (about the option it names) when it is not a valid run."""
        return self._draft.run_config(self._template, self.device_choice()[0])

    def device_choice(self) -> tuple[str, int | None]:
        """The device chosen: its kind ("auto", "cpu", "cuda", "mps") and, for one of several GPUs, its index."""
        return self.device.currentData()

    def device_environment(self) -> dict[str, str] | None:
        device, index = self.device_choice()
        return {"CUDA_VISIBLE_DEVICES": str(index)} if device == "cuda" and index is not None else None

    def set_devices(self, devices: list[dict]) -> None:
        wanted = (self._editing or self._draft)["device"]
        for device in devices:
            self.device.addItem(device["label"], (device["device"], device.get("index")))
        self.device.setToolTip(tip("Where the networks train.") if devices else
                               tip("torch could not list the devices; Auto picks CUDA, then MPS, then the CPU."))
        if self._editing is None:
            self.device.setCurrentIndex(self._device_index(wanted))

    def set_problem(self, problem: ConfigError | str | None) -> None:
        """What keeps the draft from being a run (a ConfigError, or the refusal of Start in a sentence), and
        below it every other wrong field's own; each field a problem is about is outlined."""
        problems = self._draft.field_problems() if problem else {}
        first = in_form_words(problem) if isinstance(problem, ConfigError) else str(problem or "")
        lines = [first, *(text for text in map(in_form_words, problems.values()) if text.lower() != first.lower())]
        self.problem.setText("\n".join(_capital(line) for line in lines if line))
        self.problem.setVisible(bool(first))
        about = set(problems) | set(problem.options if isinstance(problem, ConfigError) else ())
        for option, field in self.numbers.items():
            field.mark(option in about)
        self.depths.mark(bool(about & {"depths", "depth"}))
        self.data_dir.setStyleSheet(INVALID_STYLE if "data-dir" in about else "")
        self.start_choice.mark(about)

    def set_estimate(self, text: str, fits: bool = True) -> None:
        """What the draft will cost before Start: time and memory on the device chosen."""
        self.estimate.setText(text)
        mark(self.estimate, None if fits else "error")

    def save(self) -> None:
        self._settings.setValue(DRAFT_KEY, (self._editing or self._draft).to_json())

    def shutdown(self) -> None:
        self.save()
        self._summary.shutdown()

    # --- widgets <-> draft ------------------------------------------------------------------------------------
    def _write(self, draft: Draft, template: ModelConfig, shown: str = "") -> None:
        """Fill the fields from ``draft``. In the draft (not a run shown), depths of another family or block
        than the one they were chosen for (the Architecture tab changed, maybe while a run was shown) go, and
        the banner says so until the next edit."""
        if not shown:
            family = (template.family, template.block)
            if self._depths_for not in (None, family):
                self._note = draft.refit(template)
            self._depths_for = family
        self._filling = True
        try:
            select_data(self.dataset, draft["dataset"])
            self.data_dir.setText(draft["data-dir"])
            for option, field in self.numbers.items():
                field.set_number(draft[option])
            self.depths.set_depths(template, draft["depths"])
            select_data(self.compare, draft["compare"])
            select_data(self.recipe, draft["recipe"])
            self.device.setCurrentIndex(self._device_index(draft["device"]))
            select_data(self.precision, draft["precision"])
            self.run_name.setText(draft["name"])
            self.start_choice.set_values(draft["start-from"], draft["weights"], draft["fine-tune"])
        finally:
            self._filling = False
        if shown:
            self.banner.setText(f"Showing the settings of {shown}. New run (Ctrl+N) sets up another.")
        else:
            self._say_template(template)
        self.banner.show()
        self._after_edit()

    def _read(self) -> None:
        draft = self._draft
        draft["dataset"] = self.dataset.currentData()
        draft["data-dir"] = self.data_dir.text()
        for option, field in self.numbers.items():
            draft[option] = field.text()
        draft["depths"] = self.depths.text()
        draft["compare"], draft["recipe"] = self.compare.currentData(), self.recipe.currentData()
        draft["device"], draft["precision"] = self.device.currentText(), self.precision.currentData()
        draft["name"] = self.run_name.text()
        for option, text in self.start_choice.values().items():
            draft[option] = text

    def _on_edited(self) -> None:
        if self._filling or self._editing is not None:
            return
        if self.sender() is self.dataset:  # each dataset its own folder: never carried from one to another
            self._draft["dataset"] = self.dataset.currentData()
            self._filling = True
            self.data_dir.setText(self._draft["data-dir"])
            self._filling = False
        elif self.sender() is self.recipe:
            self._draft["recipe"] = self.recipe.currentData()
            self._draft.apply_recipe()
            self._filling = True
            for option in ("iterations", "batch-size", "lr"):
                self.numbers[option].set_number(self._draft[option])
            self._filling = False
        self._read()
        if self._note:
            self._note = ""  # the note said what the last template change did; this edit is the person's
            self._say_template(self._template)
        self._after_edit()

    def _on_start_edited(self) -> None:
        """Starting from weights leaves the plain twins nothing to start from: the comparison follows, and the
        banner says so until the next edit."""
        if self._filling or self._editing is not None:
            return
        start = self.start_choice.values()["start-from"]
        if start != self._draft["start-from"]:
            self._note = self._draft.choose_start(start)
            self._filling = True
            select_data(self.compare, self._draft["compare"])
            self._filling = False
        self._read()
        self._say_template(self._template)
        self._after_edit()

    def _say_template(self, template: ModelConfig) -> None:
        """The banner while editing: the Architecture tab's networks, and the note of the last change made for
        the person (depths refitted, the comparison switched), until their next edit."""
        words = f"Networks from the Architecture tab: {describe(template)}."
        self.banner.setText(f"{words} {self._note}" if self._note else words)

    def _after_edit(self) -> None:
        self._update_enabled()
        self.milestones.setText(self._draft.milestones_text())
        self.run_name.setPlaceholderText(f"automatic: {self._draft.default_name(self._template)}")
        if self._editing is None:
            self._summarise_folder()
        self.changed.emit()

    def _update_enabled(self) -> None:
        editing = self._editing is None
        dataset = self.dataset.currentData()
        for option in ("iterations", "batch-size", "lr"):
            self.numbers[option].setEnabled(editing and self.recipe.currentData() == CUSTOM)
        self.numbers["synthetic-size"].setEnabled(editing and dataset == "synthetic")
        for widget in (self.data_dir, self.browse):
            widget.setEnabled(editing and dataset != "synthetic")
        self.data_dir.setPlaceholderText({"folder": "a folder with one subfolder of images per class",
                                          "synthetic": "not needed: drawn offline"}.get(dataset, "default cache "
                                                                                          "folder"))

    def _summarise_folder(self) -> None:
        folder = self._draft["data-dir"].strip()
        wanted = self._draft["dataset"] == "folder" and bool(folder)
        self.folder_summary.setVisible(wanted)
        if wanted:
            self.folder_summary.setText("Counting the images…")
            self._summary.request(folder)

    def _on_folder_summary(self, text: str) -> None:
        if self._draft["dataset"] == "folder" and self._editing is None:
            self.folder_summary.setText(_capital(text))

    def _device_index(self, wanted: str) -> int:
        """The device the draft names: by its label (one of several GPUs), else the first of its kind (a run's
        settings say "cpu"), else Auto."""
        index = self.device.findText(wanted)
        if index >= 0:
            return index
        for i in range(self.device.count()):
            if self.device.itemData(i)[0] == wanted:
                return i
        return 0

    def _on_browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.data_dir.text())
        if folder:
            self.data_dir.setText(folder)

