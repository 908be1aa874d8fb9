"""Who made a result, when, and with which model: facts shared by the result
store, the audit trail and the DICOM outputs."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pneumo import __version__

if TYPE_CHECKING:
    from pneumo.model.runner import ModelRunner

# The audit trail's actions (the ``action`` of its rows): a scan starts, a
# model differs from the last one the store saw, a threshold other than the
# card's is used, an export is written (CSV, JSON, each DICOM object), and the
# listener starts, stops, receives a film, rejects an association, sends a result.
SCAN, MODEL_CHANGE, THRESHOLD_OVERRIDE, EXPORT = (
    "scan", "model change", "threshold override", "export")
LISTEN_START, LISTEN_STOP, RECEIVE, REJECT, SEND = (
    "listen start", "listen stop", "receive", "association rejected", "send")
PRODUCT = "PneumoScan"
MANUFACTURER = "PneumoScan project (research software)"


@dataclass(frozen=True)
class ModelIdentity:
    """The model behind a result, as results and audit rows name it.

    ``analysis_key`` changes whenever anything that can change a result
    changes: the model file, its card (thresholds, preprocessing, the
    out-of-distribution model), whether the explain model is present (the OOD
    warning needs it) or this software's version. Two scans with the same key
    give the same answer for the same file contents.
    """

    name: str
    architecture: str
    file_name: str
    sha256: str
    threshold: float
    labels: tuple[str, str]
    analysis_key: str
    software_version: str = __version__

    @classmethod
    def of(cls, runner: ModelRunner) -> ModelIdentity:
        """The identity of ``runner``'s loaded model file and card."""
        from pneumo.model.locate import explainer_path

        card = runner.card
        explain = explainer_path(runner.model_path, card)
        facts = {
            "software": __version__,
            "model_sha256": runner.sha256,
            "model_file": runner.model_path.name,
            "card": card.to_dict(),
            "explain_present": bool(explain is not None and explain.is_file()),
        }
        blob = json.dumps(facts, sort_keys=True, default=str).encode("utf-8")
        return cls(
            name=card.name,
            architecture=card.architecture,
            file_name=runner.model_path.name,
            sha256=runner.sha256,
            threshold=float(runner.threshold),
            labels=card.labels,
            analysis_key=hashlib.sha256(blob).hexdigest(),
        )

    def label_for(self, probability: float, threshold: float | None = None) -> str:
        """The label at ``threshold`` (default the card's), as the card decides."""
        cutoff = self.threshold if threshold is None else threshold
        return self.labels[1] if probability >= cutoff else self.labels[0]


def os_user() -> str:
    """The operating-system user running this process."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def host_name() -> str:
    """This machine's name."""
    try:
        return socket.gethostname()
    except OSError:
        return "unknown"


def utc_now() -> str:
    """Now, UTC, ISO 8601 with milliseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
