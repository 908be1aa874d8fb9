"""PNG plots of training and evaluation: learning curves, ROC, confusion matrix.

Needs matplotlib (in the ``train`` extra); imported only when plots are asked for.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from pneumo.evaluation.metrics import BinaryMetrics, roc_curve


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curves(history_csv: Path, out: Path) -> Path:
    """Loss and validation AUC per epoch, from a Keras CSVLogger file."""
    plt = _pyplot()
    with open(history_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("loss", "train loss"), ("val_loss", "validation loss")):
        if rows and key in rows[0]:
            ax1.plot(epochs, [float(r[key]) for r in rows], label=label)
    for key, label in (("auc", "train AUC"), ("val_auc", "validation AUC")):
        if rows and key in rows[0]:
            ax2.plot(epochs, [float(r[key]) for r in rows], label=label)
    ax1.set_xlabel("epoch")
    ax2.set_xlabel("epoch")
    ax1.legend()
    ax2.legend()
    ax1.set_title("Loss")
    ax2.set_title("AUC")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_roc(y_true: np.ndarray, probs: np.ndarray, metrics: BinaryMetrics, out: Path) -> Path:
    """ROC curve with the operating point marked."""
    plt = _pyplot()
    fpr, tpr, _ = roc_curve(y_true, probs)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {metrics.auc:.4f}")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.scatter(
        [1 - metrics.specificity], [metrics.sensitivity], color="red",
        label=f"threshold {metrics.threshold:.3f}",
    )
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.legend(loc="lower right")
    ax.set_title("ROC")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_confusion(metrics: BinaryMetrics, out: Path) -> Path:
    """2x2 confusion matrix (rows true, columns predicted)."""
    plt = _pyplot()
    matrix = np.array([[metrics.tn, metrics.fp], [metrics.fn, metrics.tp]])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(matrix, cmap="Blues")
    names = ["NORMAL", "PNEUMONIA"]
    ax.set_xticks([0, 1], names)
    ax.set_yticks([0, 1], names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center",
                color="white" if v > matrix.max() / 2 else "black")
    ax.set_title(f"threshold {metrics.threshold:.3f}")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
