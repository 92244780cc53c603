"""The architecture panel: the options of one network, pointed and clicked, validated as they are typed.

It owns the widgets for the ModelConfig fields and nothing else. Validation is ``ModelConfig``'s own (one config
source): a bad value is shown with the reason the core gives, and ``config_changed`` is emitted only for a valid
config, so whatever listens never sees an invalid network.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.widgets.tips import tip as tip_text
from explorer.gui.widgets.theme import ERROR_LINE, mark
from explorer.config.layers import kind_words, table1
from explorer.config.model import (
    BLOCKS, FAMILIES, FAMILY_DEFAULT_SHORTCUT, SHORTCUTS, STRIDE_ON, ModelConfig, default_block, depth_presets,
    depth_rule,
)

FAMILY_LABELS = {"cifar": "CIFAR-10 (32 × 32)", "imagenet": "ImageNet (224 × 224)"}
BLOCK_LABELS = {"basic": "Basic (3×3, 3×3)", "bottleneck": "Bottleneck (1×1, 3×3, 1×1)"}
SHORTCUT_LABELS = {
    "A": "A: identity, zero-padded channels",
    "B": "B: projection where the shape changes",
    "C": "C: projection on every shortcut",
}
STRIDE_LABELS = {"1x1": "First 1×1 conv (paper, v1)", "3x3": "The 3×3 conv (torchvision, v1.5)"}

TIPS = {
    "family": "CIFAR-10 nets (§4.2) start with one 3×3 conv and have three stages of 16/32/64 filters on "
    "32×32 images; ImageNet nets (Table 1) start with a 7×7/2 conv and max-pool and have four stages of "
    "64 to 512 filters on 224×224 images.",
    "network": "A residual network adds each block's input to its output through a shortcut; the plain "
    "network is the same stack without shortcuts, whose training error grows with depth (Figures 1 and 6).",
    "depth": "The number of weighted layers: 6n+2 for CIFAR basic blocks (20, 32, 44, 56, 110, 1202 in "
    "Table 6), 9n+2 for CIFAR bottlenecks (164, 1001), or 18/34/50/101/152 for ImageNet (Table 1).",
    "block": "A basic block stacks two 3×3 convs; a bottleneck block (Figure 5) stacks 1×1, 3×3 and 1×1 "
    "convs so that much deeper nets cost about as much.",
    "preact": "Pre-activation units (BN → ReLU → conv) put BN and ReLU before each conv (He et al. 2016, \"Identity Mappings\"), "
    "which keeps the shortcut a pure identity and lets 1001-layer nets train well.",
    "shortcut": "How a shortcut crosses a change of shape (Table 3): A pads new channels with zeros and adds "
    "no parameters (CIFAR), B projects with a 1×1 conv only there (ImageNet), C projects on every shortcut.",
    "stride_on": "Where a bottleneck block downsamples: on its first 1×1 conv as in the paper, or on the 3×3 "
    "conv as torchvision's ResNet v1.5 does (more MACs, slightly better accuracy).",
}

DEPTH_PAUSE_MS = 900  # a typed depth is applied when the typing pauses this long
INVALID_STYLE = f"QComboBox {{ border: 2px solid {ERROR_LINE}; border-radius: 3px; padding: 1px 4px; }}"


class ArchitecturePanel(QWidget):
    """The options of one network; emits ``config_changed`` with every new valid ModelConfig."""

    config_changed = Signal(object)  # ModelConfig

    def __init__(self, config: ModelConfig | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config = config or ModelConfig()
        self._updating = False  # set while the widgets are filled from a config, so they do not echo back
        self._keep_note = False

        self._family = QComboBox()
        for family in FAMILIES:
            self._family.addItem(FAMILY_LABELS[family], family)
        self._residual = QRadioButton("Residual")
        self._plain = QRadioButton("Plain")
        self._network = QButtonGroup(self)
        self._network.addButton(self._residual)
        self._network.addButton(self._plain)
        self._depth = QComboBox()
        self._depth.setEditable(True)
        self._depth.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        # A depth typed is applied on Enter, on leaving the field or after a pause, never at every keystroke, and
        # never completed inline: typing "1" showed ResNet-110, "21" ResNet-20, networks nobody picked.
        self._depth.setCompleter(None)
        self._depth_pause = QTimer(self)
        self._depth_pause.setSingleShot(True)
        self._depth_pause.setInterval(DEPTH_PAUSE_MS)
        self._depth_pause.timeout.connect(self._on_option_changed)
        self._block = QComboBox()
        for block in BLOCKS:
            self._block.addItem(BLOCK_LABELS[block], block)
        self._preact = QCheckBox("Pre-activation")
        self._shortcut = QComboBox()
        for shortcut in SHORTCUTS:
            self._shortcut.addItem(SHORTCUT_LABELS[shortcut], shortcut)
        self._stride_on = QComboBox()
        for place in STRIDE_ON:
            self._stride_on.addItem(STRIDE_LABELS[place], place)
        self._problem = QLabel()
        self._problem.setObjectName("configProblem")
        self._problem.setWordWrap(True)
        mark(self._problem, "error")
        self._problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._shape = QLabel()
        self._shape.setObjectName("configShape")
        self._shape.setWordWrap(True)
        self._shape.setMinimumWidth(150)  # its table may be cut in a narrow pane, never widen the window
        self._note = QLabel(objectName="configNote")
        self._note.setWordWrap(True)
        mark(self._note, "note")
        self._note.hide()

        network_row = QHBoxLayout()
        network_row.addWidget(self._residual)
        network_row.addWidget(self._plain)
        network_row.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a narrow window: the field under its label
        for combo in (self._family, self._block, self._shortcut, self._stride_on):
            # as narrow as a window of 1024 px needs; the list that opens shows each choice whole
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
        rows = (
            ("Dataset family", self._family, "family"),
            ("Network", network_row, "network"),
            ("Depth", self._depth, "depth"),
            ("Block", self._block, "block"),
            ("Units", self._preact, "preact"),
            ("Shortcut", self._shortcut, "shortcut"),
            ("Downsample on", self._stride_on, "stride_on"),
        )
        for text, field, tip in rows:
            label = QLabel(text)
            label.setToolTip(tip_text(TIPS[tip]))
            form.addRow(label, field)
        for widget, name, tip in (
            (self._family, "family", "family"), (self._residual, "residual", "network"),
            (self._plain, "plain", "network"), (self._depth, "depth", "depth"), (self._block, "block", "block"),
            (self._preact, "preact", "preact"), (self._shortcut, "shortcut", "shortcut"),
            (self._stride_on, "stride_on", "stride_on"),
        ):
            widget.setObjectName(name)  # how tests find them
            widget.setToolTip(tip_text(TIPS[tip]))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self._note)
        layout.addWidget(self._problem)
        layout.addWidget(self._shape)
        layout.addStretch(1)

        self._show_config(self._config)
        self._mark_problem("")
        self._describe(self._config)
        self._family.currentIndexChanged.connect(self._on_family_changed)
        self._block.currentIndexChanged.connect(self._on_block_changed)
        self._depth.lineEdit().textEdited.connect(lambda _text: self._depth_pause.start())
        self._depth.lineEdit().editingFinished.connect(self._on_depth_done)  # Enter, or leaving the field
        self._depth.activated.connect(self._on_depth_done)  # picked from the list
        self._network.buttonToggled.connect(self._on_network_toggled)
        for combo in (self._shortcut, self._stride_on):
            combo.currentIndexChanged.connect(self._on_option_changed)
        self._preact.toggled.connect(self._on_option_changed)

    @property
    def config(self) -> ModelConfig:
        """The last valid config (what ``config_changed`` last carried)."""
        return self._config

    def set_config(self, config: ModelConfig) -> None:
        """Show ``config`` and announce it."""
        self._show_config(config)
        self._apply()

    def _show_config(self, config: ModelConfig) -> None:
        self._updating = True
        try:
            self._family.setCurrentIndex(self._family.findData(config.family))
            self._block.setCurrentIndex(self._block.findData(config.block))
            self._fill_depths(config.family, config.block)
            self._depth.setCurrentText(str(config.depth))
            self._plain.setChecked(config.plain)
            self._residual.setChecked(not config.plain)
            self._preact.setChecked(config.preact)
            self._shortcut.setCurrentIndex(self._shortcut.findData(config.shortcut))
            self._stride_on.setCurrentIndex(self._stride_on.findData(config.stride_on))
        finally:
            self._updating = False
        self._update_enabled()

    def _fill_depths(self, family: str, block: str) -> None:
        self._depth.clear()
        for depth in depth_presets(family, block):
            self._depth.addItem(str(depth))

    def _on_family_changed(self) -> None:
        if self._updating:
            return
        family = self._family.currentData()
        self._updating = True
        try:
            # Each family keeps the shortcut option the paper used for it, and its own first preset depth.
            self._shortcut.setCurrentIndex(self._shortcut.findData(FAMILY_DEFAULT_SHORTCUT[family]))
            depth = depth_presets(family, "basic")[0]
            self._block.setCurrentIndex(self._block.findData(default_block(family, depth)))
            self._reset_depth(say=False)  # a new family starts at its own first depth
        finally:
            self._updating = False
        self._apply()

    def _on_block_changed(self) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            self._reset_depth()
        finally:
            self._updating = False
        self._apply()

    def _reset_depth(self, say: bool = True) -> None:
        """Offer the presets of the family and block, keeping the depth typed if it still fits; when it does not,
        say which depth takes its place (never a silent 56 -> 164)."""
        family, block = self._family.currentData(), self._block.currentData()
        text = self._depth.currentText().strip()
        self._fill_depths(family, block)
        presets = depth_presets(family, block)
        try:
            fits = bool(text) and ModelConfig(family=family, block=block, depth=int(text)) is not None
        except ValueError:
            fits = False
        self._depth.setCurrentText(text if fits else str(presets[0]))
        if text and not fits and say:
            # The depths this very block allows: ImageNet's 18 and 34 are basic, 50, 101 and 152 bottleneck.
            self._say(f"Depth {text} does not fit {family} {block} blocks ({depth_rule(family, block)}); showing depth "
                      f"{presets[0]} instead.")
            self._keep_note = True

    def _say(self, note: str) -> None:
        self._note.setText(note)
        self._note.setVisible(bool(note))

    def _on_depth_done(self, *_) -> None:
        self._depth_pause.stop()
        self._on_option_changed()

    def _on_network_toggled(self, _button: QRadioButton, checked: bool) -> None:
        if checked:
            self._on_option_changed()

    def _on_option_changed(self) -> None:
        if not self._updating:
            self._apply()

    def _update_enabled(self) -> None:
        self._stride_on.setEnabled(self._block.currentData() == "bottleneck")
        self._shortcut.setEnabled(not self._plain.isChecked())

    def _apply(self) -> None:
        self._update_enabled()
        if self._keep_note:
            self._keep_note = False  # said by the change that led here
        else:
            self._say("")
        try:
            config = self._read_config()
        except ValueError as exc:
            reason = str(exc).rstrip(".")
            self._mark_problem(f"{reason}. The table still shows {self._config.name}, the last valid network.")
            return
        self._mark_problem("")
        self._describe(config)
        if config != self._config:
            self._config = config
            self.config_changed.emit(config)

    def _read_config(self) -> ModelConfig:
        text = self._depth.currentText().strip()
        if not text:
            raise ValueError("depth is empty; type the number of weighted layers, e.g. 20")
        if not text.isdigit():
            raise ValueError(f"depth {text!r} must be a whole number of layers, e.g. 20")
        family = self._family.currentData()
        return ModelConfig(
            family=family,
            depth=int(text),
            block=self._block.currentData(),
            preact=self._preact.isChecked(),
            plain=self._plain.isChecked(),
            shortcut=self._shortcut.currentData(),
            stride_on=self._stride_on.currentData(),
            num_classes=self._config.num_classes if self._config.family == family else None,
            input_size=self._config.input_size if self._config.family == family else None,
        )

    def _mark_problem(self, reason: str) -> None:
        self._problem.setText(reason)
        self._problem.setVisible(bool(reason))
        self._shape.setVisible(not reason)
        self._depth.setStyleSheet(INVALID_STYLE if reason else "")
        self._depth.setToolTip(tip_text(reason or TIPS["depth"]))

    def _describe(self, config: ModelConfig) -> None:
        """The network as the paper's Table 1 draws it (:func:`explorer.config.model.table1`)."""
        cells = "".join(
            f"<tr><td>{row.stage}</td><td align='right'>{row.size}×{row.size}</td><td>"
            + (f"[{'<br>'.join(row.layers)}] × {row.blocks}" if row.stage.startswith("layer") else row.layers[0])
            + "</td></tr>" for row in table1(config)
        )
        self._shape.setText(
            f"<p><b>{config.name}</b>: {config.depth} weighted layers, {kind_words(config)}, {config.block} blocks.</p>"
            f"<table cellspacing='0' cellpadding='3'><tr><th align='left'>stage</th><th>output</th>"
            f"<th align='left'>layers</th></tr>{cells}</table>"
        )
