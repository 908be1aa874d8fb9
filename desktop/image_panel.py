"""The centre of the window: result banner, image viewer and overlay controls.

The banner states the result (the card's label or an error) and the
probability against the decision threshold, in the result's colour. What it
says and whether the heat map is drawn are decided in the core
(:mod:`pneumo.results.display`); this panel only draws a
:class:`~pneumo.results.display.ResultView`. A held-back heat map (negative
results) is drawn when "Show the heat map anyway" is ticked.
"""

from __future__ import annotations

from html import escape

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.viewer import ImageViewer
from desktop.windowing import PRESETS
from pneumo.results.display import (
    NEUTRAL_COLOURS,
    NO_SELECTION,
    HeatmapPolicy,
    ResultView,
    colours_for,
)
from pneumo.util.text import display_path


class ImagePanel(QWidget):
    """Banner + :class:`ImageViewer` + overlay and window/level controls."""

    opacity_changed = Signal(float)
    """The user moved the opacity slider (value in [0, 1])."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = ImageViewer(self)
        self.banner = QLabel("Drop chest X-ray files or folders here, or use File > Open.")
        self.banner.setObjectName("resultBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.notes = QLabel("")
        self.notes.setObjectName("imageNotes")
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.overlay_toggle = QCheckBox("Heat map")
        self.overlay_toggle.setChecked(True)
        self.overlay_toggle.setToolTip("Grad-CAM: where the model looked (H)")
        self.show_anyway = QCheckBox("Show the heat map anyway")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setFixedWidth(120)
        self.opacity.setToolTip("Heat-map opacity")
        self.overlay_note = QLabel("")
        self.overlay_note.setObjectName("overlayNote")
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setToolTip("Window/level preset (left-drag on the image to adjust)")
        self.wl_label = QLabel("")
        self._view = NO_SELECTION
        self._overlay_problem: str | None = None
        self._build()
        self.overlay_toggle.toggled.connect(self._update_overlay)
        self.show_anyway.toggled.connect(self._update_overlay)
        self.opacity.valueChanged.connect(self._opacity_moved)
        self.preset.activated.connect(lambda i: self.viewer.apply_preset(self.preset.itemText(i)))
        self.viewer.window_changed.connect(self._window_moved)
        self._set_banner_style(NEUTRAL_COLOURS)

    def _build(self) -> None:
        tools = QHBoxLayout()
        for text, tip, slot in (
            ("Fit", "Fit to window (=)", self.viewer.fit),
            ("1:1", "Actual size", self.viewer.actual_size),
            ("Invert", "Invert grey levels (I)", self.viewer.toggle_invert),
            ("Reset", "Reset window, zoom and inversion (Space)", self.viewer.reset),
        ):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            tools.addWidget(button)
        tools.addWidget(self.preset)
        tools.addWidget(self.wl_label)
        tools.addStretch(1)
        tools.addWidget(self.overlay_toggle)
        tools.addWidget(QLabel("Opacity"))
        tools.addWidget(self.opacity)
        note_row = QHBoxLayout()
        note_row.addWidget(self.overlay_note)
        note_row.addWidget(self.show_anyway)
        note_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addLayout(tools)
        layout.addLayout(note_row)
        layout.addWidget(self.viewer, 1)
        layout.addWidget(self.notes)

    # -- what to show ----------------------------------------------------------------
    def show_result(self, view: ResultView, keep_image: bool = False) -> None:
        """Show what the core says about the selected file; the image follows separately.

        ``keep_image`` updates the banner only (the row's result just arrived).
        """
        if not keep_image:
            self.viewer.clear()
            self._overlay_problem = None
            self.show_anyway.setChecked(False)
        self._view = view
        headline, detail = escape(view.headline), escape(view.detail)
        if view.state is None:
            text = detail
        elif view.state.has_result:
            text = f"<span style='font-size:16pt'><b>{headline}</b></span> &nbsp; {detail}"
        else:
            text = f"<b>{headline}</b> &mdash; {detail}"
        if view.unreliable:
            why = "; ".join(view.reasons) or "see the warnings below"
            text = f"⚠ {text}<br><b>Do not rely on this result:</b> {escape(why)}"
        self.banner.setText(text)
        self.banner.setToolTip(str(view.path) if view.path is not None else "")
        self._set_banner_style(colours_for(view.state, view.unreliable))
        lines = ([f"<span style='color:#555'>{escape(display_path(view.path))}</span>"]
                 if view.path else [])
        lines += [f"<span style='color:#8a5a00'>⚠ {escape(w)}</span>" for w in view.warnings]
        self.notes.setText("<br>".join(lines))
        self._update_overlay()

    def show_image(self, levels: np.ndarray, auto_window: tuple[float, float],
                   pyramid: tuple[np.ndarray, ...] = (),
                   preview_of: tuple[int, int] | None = None) -> None:
        """Display a loaded film (``pyramid``: halved copies of ``levels``), or a
        reduced preview of a film of ``preview_of`` (rows, columns) until
        :meth:`sharpen_image` brings the film itself."""
        self.viewer.set_image(levels, auto_window, pyramid, preview_of)
        self.preset.setCurrentIndex(0)
        self._update_overlay()

    def sharpen_image(self, levels: np.ndarray, auto_window: tuple[float, float],
                      pyramid: tuple[np.ndarray, ...] = ()) -> None:
        """Replace the preview by the film, keeping what the user set meanwhile."""
        self.viewer.sharpen(levels, auto_window, pyramid)
        self._update_overlay()

    def show_overlay(self, rgba: np.ndarray | None, note: str | None = None) -> None:
        """Attach the heat map; ``note`` says why it is missing or empty."""
        self.viewer.set_overlay(rgba)
        self._overlay_problem = note
        self._update_overlay()

    def show_image_problem(self, message: str) -> None:
        """The file could not be displayed."""
        self.viewer.clear()
        self.notes.setText(f"<span style='color:#b3261e'>Cannot display: {escape(message)}</span>")

    def set_opacity(self, opacity: float) -> None:
        """Set the slider and the overlay opacity."""
        self.opacity.setValue(round(opacity * 100))
        self.viewer.set_overlay_opacity(opacity)

    def overlay_shown(self) -> bool:
        """True when the heat map is currently drawn."""
        return self.viewer.overlay_visible()

    # -- internals -------------------------------------------------------------------
    def _update_overlay(self) -> None:
        policy = self._view.heatmap
        held_back = policy is HeatmapPolicy.ON_REQUEST
        allowed = policy is HeatmapPolicy.SHOW or (held_back and self.show_anyway.isChecked())
        self.viewer.set_overlay_visible(self.overlay_toggle.isChecked() and allowed)
        self.show_anyway.setVisible(held_back)
        if self._overlay_problem and self.viewer.has_image():
            note = self._overlay_problem
        elif held_back and not self.show_anyway.isChecked():
            note = self._view.held_back_note
        else:
            note = ""
        self.overlay_note.setText(note)
        self.overlay_note.setVisible(bool(note))
        self.overlay_note.setStyleSheet("color:#5c4400;" if held_back else "color:#444;")

    def _opacity_moved(self, value: int) -> None:
        self.viewer.set_overlay_opacity(value / 100.0)
        self.opacity_changed.emit(value / 100.0)

    def _window_moved(self, width: float, centre: float) -> None:
        self.wl_label.setText(f"W {width:.2f}  L {centre:.2f}")

    def _set_banner_style(self, colours: tuple[str, str]) -> None:
        fg, bg = colours
        self.banner.setStyleSheet(
            f"QLabel#resultBanner {{ color: {fg}; background: {bg}; padding: 8px;"
            " border-radius: 4px; font-size: 11pt; }"
        )
