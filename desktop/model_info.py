"""Model information and About: HTML built from the model card, shown in dialogs."""

from __future__ import annotations

import html
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

import pneumo
from pneumo.checks.summary import check_summaries
from pneumo.model.card import ModelCard

NOT_FOR_DIAGNOSIS = (
    "Not for diagnostic use. PneumoScan is a research and screening aid, not a medical "
    "device: every result must be reviewed by a qualified clinician."
)
DATASET_CITATION = (
    "Kermany DS, Goldbaum M, Cai W, et al. Identifying Medical Diagnoses and Treatable "
    "Diseases by Image-Based Deep Learning. Cell 2018;172(5):1122-1131. "
    "doi:10.1016/j.cell.2018.02.010. Data: Kermany D, Zhang K, Goldbaum M. Labeled Optical "
    "Coherence Tomography (OCT) and Chest X-Ray Images for Classification, Mendeley Data v2, "
    "doi:10.17632/rscbjbr9sj.2; licence CC BY 4.0."
)
_METRIC_KEYS = (
    ("n", "images"),
    ("auc", "AUC"),
    ("accuracy", "accuracy"),
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
    ("precision", "precision"),
    ("f1", "F1"),
    ("threshold", "at threshold"),
)
_TRAINING_KEYS = (
    "train_images",
    "validation_images",
    "test_images",
    "epochs_run",
    "date",
    "machine",
)
_PACKAGES = ("PySide6-Essentials", "ai-edge-litert", "numpy", "opencv-python-headless",
             "pydicom", "pillow")


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else _esc(value)


def model_info_html(
    card: ModelCard | None, model_path: Path | None, threshold: float | None = None
) -> str:
    """An HTML page describing the model: architecture, data, metrics, files."""
    if card is None:
        return f"<h3>No model loaded</h3><p>{_esc(model_path or '')}</p>"
    parts = [f"<h3>{_esc(card.name)}</h3>", "<table cellspacing='4'>"]
    spec = card.preprocessing
    shape = f"{card.input_size} x {card.input_size} grey, {spec.interpolation} resize"
    rows = [
        ("Architecture", card.architecture),
        ("Input", f"{shape}, x * {spec.scale:g} + {spec.offset:g}"),
        ("Labels", " / ".join(card.labels)),
    ]
    card_t = card.threshold_for(model_path) if model_path is not None else card.threshold
    rows.append(("Decision threshold", f"{card_t:.4f} (model card, for this model file)"))
    if card.threshold_rule:
        rows.append(("Threshold rule", card.threshold_rule))
    if threshold is not None and abs(threshold - card_t) > 1e-9:
        override = f"<b style='color:#b3261e'>{threshold:.4f} (user override)</b>"
        rows.append(("Threshold in use", override))
    if model_path is not None:
        rows.append(("Model file", str(model_path)))
    for key, value in rows:
        shown = value if key == "Threshold in use" else _esc(value)
        parts.append(f"<tr><td><b>{_esc(key)}</b></td><td>{shown}</td></tr>")
    parts.append("</table>")
    parts.append("<h4>Training data</h4>")
    parts.append(f"<p>{_esc(card.extra.get('citation', DATASET_CITATION))}</p>")
    training = card.training.to_dict()
    facts = [(k, training[k]) for k in _TRAINING_KEYS if training.get(k) is not None]
    if facts:
        parts.append("<table cellspacing='4'>")
        parts += [f"<tr><td>{_esc(k.replace('_', ' '))}</td><td>{_fmt(v)}</td></tr>"
                  for k, v in facts]
        parts.append("</table>")
    table = _metric_rows(card)
    if table:
        parts.append("<h4>Metrics</h4><p>As recorded in the model card, each at the threshold "
                     "shown.</p><table border='1' cellspacing='0' cellpadding='3'><tr>"
                     "<th>split</th>" + "".join(f"<th>{h}</th>" for _, h in _METRIC_KEYS)
                     + "</tr>")
        for name, values in table:
            parts.append(f"<tr><td>{_esc(name)}</td>"
                         + "".join(f"<td>{_fmt(values.get(k))}</td>" for k, _ in _METRIC_KEYS)
                         + "</tr>")
        parts.append("</table>")
    parts += _checks_html(card)
    if card.files:
        parts.append("<h4>Files (sha256)</h4><table cellspacing='4'>")
        parts += [f"<tr><td>{_esc(f)}</td><td><tt>{_esc(h)}</tt></td></tr>"
                  for f, h in sorted(card.files.items())]
        parts.append("</table>")
    parts.append(f"<p><b>{_esc(NOT_FOR_DIAGNOSIS)}</b></p>")
    return "".join(parts)


def _checks_html(card: ModelCard) -> list[str]:
    """The card's reliability checks and calibration: threshold, fitting, validation."""
    checks = check_summaries(card)
    if not checks:
        return []
    head = ("<h4>Reliability checks</h4><p>A film is flagged \"unreliable\" when a check "
            "fires; as recorded in the model card.</p><table border='1' cellspacing='0' "
            "cellpadding='3'><tr><th>check</th><th>threshold</th><th>fitted on</th>"
            "<th>validation</th></tr>")
    parts = [head]
    for c in checks:
        threshold = "none (changes no result)" if c.threshold is None else f"{c.threshold:.3g}"
        parts.append(f"<tr><td>{_esc(c.name)}</td><td>{_esc(threshold)}</td>"
                     f"<td>{_esc(c.fitted)}</td><td>{_esc(c.validation)}</td></tr>")
    parts.append("</table>")
    return parts


def _metric_rows(card: ModelCard) -> list[tuple[str, dict[str, Any]]]:
    """(name, metric values) of the card's metrics, plus the int8 re-derivation's."""
    rows = [(name, m.to_dict()) for name, m in card.metrics.items()]
    int8 = card.int8_threshold
    if int8 is not None and int8.validation is not None:
        rows.append(("validation (int8 model)", int8.validation.to_dict()))
    return rows


def versions() -> dict[str, str]:
    """Version strings of PneumoScan, Python, Qt and the runtime libraries."""
    from PySide6 import QtCore

    out = {"PneumoScan": pneumo.__version__, "Python": platform.python_version(),
           "Qt": QtCore.qVersion()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["Platform"] = platform.platform(terse=True)
    return out


def about_html() -> str:
    """The About page."""
    rows = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in versions().items())
    return (
        "<h3>PneumoScan</h3><p>Offline pneumonia screening of chest X-rays, on the LiteRT "
        "runtime. No data leaves this computer.</p>"
        f"<p><b>{_esc(NOT_FOR_DIAGNOSIS)}</b></p><table cellspacing='4'>{rows}</table>"
        f"<p>Training data: {_esc(DATASET_CITATION)}</p>"
    )


class HtmlDialog(QDialog):
    """A resizable, non-modal dialog showing an HTML page."""

    def __init__(self, title: str, page: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(640, 560)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(page)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
