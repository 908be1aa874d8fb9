"""What a user of the scan would have seen on a labelled folder: the checks' side.

From the scan's own records (:func:`pneumo.scanning.pipeline.scan`, so every
check a scan runs is counted, and none is re-implemented):

- *flagged*: refused by the input gate, or classified with a warning;
- *silent error*: classified, no warning, wrong label, counted over **all**
  films: the share of films on which a clinician would get a confident
  wrong answer;
- metrics on the unflagged films only: what the answers that come without a
  warning are worth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pneumo.evaluation.metrics import BinaryMetrics, compute_metrics
from pneumo.results.records import ScanRecord


@dataclass(frozen=True)
class Reliability:
    """Counts over one labelled folder (see the module docstring)."""

    films: int
    refused: int
    warned: int
    silent_errors: int
    rules: Mapping[str, int] = field(default_factory=dict)
    unflagged: BinaryMetrics | None = None

    @property
    def answered(self) -> int:
        """Films classified with no warning."""
        return self.films - self.refused - self.warned

    @property
    def flagged_share(self) -> float:
        """Share of films refused or warned about."""
        return _share(self.refused + self.warned, self.films)

    @property
    def answered_share(self) -> float:
        """Share of films answered with no warning."""
        return _share(self.answered, self.films)

    @property
    def silent_error_rate(self) -> float:
        """Wrong answers with no warning, over all films."""
        return _share(self.silent_errors, self.films)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, shares included."""
        return {
            "films": self.films, "refused": self.refused, "warned": self.warned,
            "answered_without_warning": self.answered,
            "answered_share": self.answered_share, "flagged_share": self.flagged_share,
            "silent_errors": self.silent_errors, "silent_error_rate": self.silent_error_rate,
            "rules_fired": dict(self.rules),
            "unflagged_metrics": None if self.unflagged is None else self.unflagged.to_dict(),
        }


def reliability_of(records: Sequence[ScanRecord], labels: Mapping[Path, int],
                   names: Sequence[str], threshold: float) -> Reliability:
    """The :class:`Reliability` of scan ``records`` whose true label (index into
    ``names``) is ``labels[record.path]``."""
    refused = sum(1 for r in records if not r.ok)
    warned = sum(1 for r in records if r.unreliable)
    quiet = [r for r in records if r.ok and not r.unreliable]
    silent = sum(1 for r in quiet if r.label != names[labels[r.path]])
    rules = Counter(str(rule) for r in records for rule in r.checks.rules)
    unflagged = None
    if quiet:
        y = np.array([labels[r.path] for r in quiet])
        p = np.array([float(r.probability or 0.0) for r in quiet])
        unflagged = compute_metrics(y, p, threshold)
    return Reliability(len(records), refused, warned, silent, dict(sorted(rules.items())),
                       unflagged)


def domain_table(columns: Sequence[tuple[str, BinaryMetrics, Reliability]]) -> str:
    """A Markdown table, one column per data set (name, metrics on all classified
    films, reliability), as in the README."""
    head = "| shipped model, with its checks | " + " | ".join(
        f"{name} ({rel.films})" for name, _, rel in columns) + " |"
    rows = [head, "|---|" + "---|" * len(columns)]

    def row(title: str, cells: Sequence[str]) -> None:
        rows.append(f"| {title} | " + " | ".join(cells) + " |")

    row("AUC (all classified films)", [f"{m.auc:.3f}" for _, m, _ in columns])
    row("accuracy at the threshold (all classified films)",
        [f"{m.accuracy:.3f}" for _, m, _ in columns])
    row("films answered with no warning",
        [f"{100 * r.answered_share:.1f} % ({r.answered})" for _, _, r in columns])
    row("of those, wrong at the threshold", [_wrong(r) for _, _, r in columns])
    row("silent-error rate (wrong with no warning, of all films)",
        [f"{100 * r.silent_error_rate:.1f} %" for _, _, r in columns])
    row("flagged (refused or warned)",
        [f"{100 * r.flagged_share:.1f} % ({r.refused + r.warned})" for _, _, r in columns])
    row("rules fired (films)", [", ".join(f"{k} {v}" for k, v in r.rules.items()) or "none"
                                for _, _, r in columns])
    row("AUC / accuracy on unflagged films", [
        "n/a" if r.unflagged is None else f"{_fmt(r.unflagged.auc)} / {r.unflagged.accuracy:.3f}"
        for _, _, r in columns])
    return "\n".join(rows)


def _wrong(r: Reliability) -> str:
    return f"{r.silent_errors} of {r.answered}" + (
        f" ({100 * r.silent_errors / r.answered:.1f} %)" if r.answered >= 20 else "")


def _fmt(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f}"


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
