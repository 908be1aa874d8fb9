"""What a library would cost instead of our own small module: import time and install size.

For each hand-written part (Qt generator worker, ROC/AUC; the terminal
progress bar, since replaced by tqdm, was 1.3 ms) and the libraries that could
replace it, prints

* the marginal import time where it would be imported: after what ``pneumo scan``
  already imports (progress bar, metrics) or after what the app already imports
  (Qt worker), read from ``python -X importtime`` (median of ``--repeat`` fresh
  interpreters; a module already loaded costs nothing, so this is the extra);
* the installed size of the library and of the dependencies it would add that
  the core does not already install (from each distribution's file list).

    python bench/bench_dependencies.py [--repeat 5] [--json]

A library that is not installed is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCAN_CONTEXT = ("pneumo.commands.scan", "pneumo.scanning.pipeline", "pneumo.model.runner",
                "pneumo.films.imaging")
APP_CONTEXT = ("PySide6.QtWidgets", "desktop.main_window")


@dataclass(frozen=True)
class Candidate:
    """One way to do a part: a module to import and the distribution it comes in."""

    part: str
    name: str
    module: str
    distribution: str | None  # None: ours, in this repository
    context: tuple[str, ...]


CANDIDATES = (
    Candidate("progress bar", "tqdm", "tqdm", "tqdm", SCAN_CONTEXT),
    Candidate("progress bar", "rich.progress", "rich.progress", "rich", SCAN_CONTEXT),
    Candidate("Qt generator worker", "ours (desktop.workers)", "desktop.workers", None,
              ("PySide6.QtWidgets", "desktop.viewer", *SCAN_CONTEXT)),
    Candidate("Qt generator worker", "superqt thread_worker", "superqt.utils", "superqt",
              APP_CONTEXT),
    Candidate("ROC/AUC", "ours (pneumo.evaluation.metrics)", "pneumo.evaluation.metrics", None,
              SCAN_CONTEXT),
    Candidate("ROC/AUC", "scikit-learn (sklearn.metrics)", "sklearn.metrics", "scikit-learn",
              SCAN_CONTEXT),
)


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def closure(dist: str) -> set[str]:
    """A distribution and everything it requires (extras and markers left out), installed."""
    seen: set[str] = set()
    todo = [dist.lower()]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def installed_bytes(dist: str) -> int:
    """Bytes of the files a distribution installed."""
    files = metadata.distribution(dist).files or []
    total = 0
    for f in files:
        path = Path(str(f.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total


def core_closure() -> set[str]:
    """What ``pip install pneumoscan`` installs (no extras)."""
    out: set[str] = set()
    for r in metadata.distribution("pneumoscan").requires or []:
        if "extra ==" not in r:
            out |= closure(_name(r))
    return out


def import_ms(module: str, context: tuple[str, ...], repeat: int) -> float:
    """Median marginal import time (ms) of ``module`` after ``context`` is imported."""
    code = "".join(f"import {m}\n" for m in (*context, module))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "QT_QPA_PLATFORM": "offscreen"}
    times = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=REPO_ROOT,
                              env=env, capture_output=True, text=True, check=True)
        cumulative = 0
        for line in proc.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == module:
                cumulative = int(parts[1])
        times.append(cumulative / 1000.0)
    return statistics.median(times)


@dataclass(frozen=True)
class Row:
    """One candidate's figures."""

    part: str
    name: str
    import_ms: float | None
    own_mb: float | None
    added_mb: float | None
    added: list[str]


def measure(candidate: Candidate, core: set[str], repeat: int) -> Row:
    """Import time and sizes of one candidate (None when not installed)."""
    if candidate.distribution is not None:
        try:
            metadata.distribution(candidate.distribution)
        except metadata.PackageNotFoundError:
            return Row(candidate.part, candidate.name + " (not installed)", None, None, None, [])
    ms = import_ms(candidate.module, candidate.context, repeat)
    if candidate.distribution is None:
        return Row(candidate.part, candidate.name, ms, None, 0.0, [])
    added = sorted(closure(candidate.distribution) - core)
    own = installed_bytes(candidate.distribution) / 1e6
    extra = sum(installed_bytes(d) for d in added) / 1e6
    return Row(candidate.part, candidate.name, ms, own, extra, added)


def main(argv: list[str] | None = None) -> int:
    """Print the table (or JSON)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", action="store_true", help="figures as JSON (no scale line)")
    args = p.parse_args(argv)
    core = core_closure()
    rows = [measure(c, core, args.repeat) for c in CANDIDATES]
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0

    def fmt(x: float | None, spec: str) -> str:
        return "" if x is None else format(x, spec)

    print("| part | candidate | import ms (marginal) | own MB | MB added to the core install "
          "| distributions added |")
    print("|---|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r.part} | {r.name} | {fmt(r.import_ms, '.1f')} | {fmt(r.own_mb, '.2f')} "
              f"| {fmt(r.added_mb, '.2f')} | {', '.join(r.added) or '-'} |")
    for label, context in (("pneumo scan", SCAN_CONTEXT), ("the app", APP_CONTEXT)):
        total = sum(import_ms(m, context[:i], args.repeat) for i, m in enumerate(context))
        print(f"for scale: importing what {label} imports takes {total:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
