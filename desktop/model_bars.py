"""The bars above the worklist: no model loaded, explain model unavailable,
threshold override in use.

Plus the status-bar label naming the model and the threshold in use. The
window tells them what is loaded; they only word it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

_WARN_STYLE = "background:#fff3cd; color:#5c4400; padding:6px; border:1px solid #e0b000;"
_ERROR_STYLE = "background:#fdecea; color:#611a15; padding:6px; border:1px solid #b3261e;"


class ModelBars(QWidget):
    """A "no model" bar and a "threshold override" bar; hidden while all is well."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_bar = QLabel("Loading model…")
        self.model_bar.setWordWrap(True)
        self.model_bar.setStyleSheet(_WARN_STYLE)
        self.threshold_bar = QLabel("")
        self.threshold_bar.setWordWrap(True)
        self.threshold_bar.setStyleSheet(_WARN_STYLE)
        self.threshold_bar.setVisible(False)
        self.explain_bar = QLabel("")
        self.explain_bar.setWordWrap(True)
        self.explain_bar.setStyleSheet(_ERROR_STYLE)
        self.explain_bar.setVisible(False)
        self.model_label = QLabel("")
        """For the status bar: the model's name, kind and threshold."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.model_bar)
        layout.addWidget(self.explain_bar)
        layout.addWidget(self.threshold_bar)

    def show_no_model(self, reason: str) -> None:
        """The model could not be loaded: say why, images can still be viewed."""
        self.model_bar.setText(
            f"<b>No model loaded</b> — {reason}. Images can be viewed but not classified.")
        self.model_bar.setStyleSheet(_ERROR_STYLE)
        self.model_bar.setVisible(True)
        self.threshold_bar.setVisible(False)

    def show_explain_problem(self, text: str | None) -> None:
        """Heat maps (and the OOD check) unavailable: ``text`` says so; None hides it."""
        self.explain_bar.setText(f"<b>⚠ {_html(text)}</b>" if text else "")
        self.explain_bar.setVisible(bool(text))

    def show_model(self, name: str, quantised: bool, card_threshold: float, threshold: float,
                   override: bool) -> None:
        """A model is loaded; warn when ``override`` (a threshold not the card's) is on."""
        self.model_bar.setVisible(False)
        kind = "int8" if quantised else "float"
        self.model_label.setText(f"Model {name} ({kind}) · threshold {threshold:.3f}"
                                 + (" (override)" if override else ""))
        if override:
            self.threshold_bar.setText(
                f"⚠ <b>Threshold override in use: {threshold:.3f}</b> (model card: "
                f"{card_threshold:.3f}). Results differ from the validated operating point.")
        self.threshold_bar.setVisible(override)


def _html(text: str | None) -> str:
    from html import escape

    return escape(text or "")
