"""The analysis views' axes: every number they draw is in view (side-by-side panels share one range without a
y link that let the last auto-range win), indices are whole numbers, and log axes carry no SI prefix."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QWidget

from explorer.gui.analysis.views import GradientView, LesionView, ResponsesView
from explorer.config.model import ModelConfig

PLAIN, RESNET = ModelConfig(depth=8, plain=True), ModelConfig(depth=8)
MODELS = {"plain-8": (PLAIN, None), "resnet-8": (RESNET, None)}


@pytest.fixture
def shown(qtbot):
    views = []

    def make(kind):
        view = kind()
        qtbot.addWidget(view)
        view.resize(1000, 400)
        QWidget.show(view)  # the views' own show() takes the numbers to draw
        views.append(view)
        return view

    return make


def _y(plot):
    return plot.getViewBox().viewRange()[1]


def test_responses_of_both_panels_are_all_in_view(shown):
    view = shown(ResponsesView)
    layers = [f"l{i}" for i in range(7)]
    view.show({"plain-8": {"std": [0.2, 0.3, 0.25, 0.2, 0.3, 0.2, 0.1], "layers": layers},
               "resnet-8": {"std": [0.9, 1.2, 1.4, 1.5, 1.6, 1.55, 1.3], "layers": layers}}, MODELS)
    plain, residual = view.layout_widget.getItem(0, 0), view.layout_widget.getItem(0, 1)
    for plot in (plain, residual):
        low, high = _y(plot)
        assert low <= 0.1 and high >= 1.6, (low, high)
    assert _y(plain) == _y(residual)


def test_lesions_show_the_intact_network_and_chance_with_whole_block_numbers(shown):
    view = shown(LesionView)
    result = {"single_errors": [0.7, 0.8, 0.9], "blocks": ["layer1.0", "layer2.0", "layer3.0"],
              "by_count": [{"removed": 1, "mean": 0.8}, {"removed": 2, "mean": 0.88}, {"removed": 3, "mean": 0.9}],
              "baseline_error": 0.03, "chance": 0.9}
    view.show({"plain-8": result, "resnet-8": {**result, "single_errors": [0.05, 0.06, 0.1]}}, MODELS)
    for col in (0, 1):
        plot = view.layout_widget.getItem(0, col)
        low, high = _y(plot)
        assert low <= 3 and high >= 90, (col, low, high)
        ticks = plot.getAxis("bottom")._tickLevels[0]
        assert all(float(value).is_integer() for value, _ in ticks)


def test_the_gradient_axis_is_in_powers_of_ten_without_an_si_prefix(shown):
    """Norms of about 1e-3 on a log axis: the ticks say 10^-3; a "(x0.001)" beside them scaled them twice."""
    from explorer.analysis.gradients import GradientFlow

    view = shown(GradientView)
    flows = {key: GradientFlow(layers=["conv1", "fc"], iterations=[10, 20, 30],
                               norms=[[2e-3, 1e-3], [9e-4, 1e-3], [8e-4, 1e-3]]) for key in MODELS}
    view.show(flows, MODELS)
    first = view.layout_widget.getItem(0, 1)
    axis = first.getAxis("left")
    assert axis.autoSIPrefix is False and "x0.001" not in axis.labelString() and first.ctrl.logYCheck.isChecked()
