"""The checks of ``pneumo self-test``, each returning :class:`CheckResult`.

- the model card loads and every model file it lists matches its sha256;
- each shipped LiteRT model runs one inference on a shipped sample film, and
  the int8 classifier and the float explainer agree on it;
- a small DICOM film in every supported transfer syntax decodes, through
  whichever pydicom decoder plugins are installed, to the reference pixels;
- the desktop app opens a window on Qt's offscreen platform and draws it
  (in a child process: ``pneumo`` never imports Qt, and a Qt plugin that
  cannot load aborts its process).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumo.errors import PneumoError, one_line
from pneumo.films.formats import IMAGE_EXTENSIONS
from pneumo.model.card import CARD_FILENAME, ModelCard, sha256_file
from pneumo.selftest.films import (
    FILMS,
    Film,
    expected_unit_pixels,
    film_bytes,
    reference_pixels,
)

#: Largest difference between the int8 and float models' probabilities on the
#: sample film (the conversion's parity report saw at most 0.07 on 624 films).
AGREEMENT_LIMIT = 0.1
WINDOW_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class CheckResult:
    """One line of the self-test: what was checked, whether it passed, and why."""

    name: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        """``ok    name: detail`` or ``FAIL  name: detail``."""
        status = "ok  " if self.ok else "FAIL"
        return f"{status}  {self.name}" + (f": {self.detail}" if self.detail else "")


def sample_film(folder: Path) -> Path | None:
    """The film the model checks run on: the first shipped sample (DICOM first)."""
    samples = folder / "samples"
    if not samples.is_dir():
        return None
    films = sorted(p for p in samples.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    dicom = [p for p in films if p.suffix.lower() in (".dcm", ".dicom")]
    return (dicom or films)[0] if films else None


def model_checks(folder: Path) -> list[CheckResult]:
    """The card, each listed file's sha256, one inference per LiteRT model."""
    try:
        card = ModelCard.load(folder / CARD_FILENAME)
    except (PneumoError, OSError, ValueError) as exc:
        return [CheckResult("model card", False, f"{folder / CARD_FILENAME}: {one_line(exc)}")]
    results = [CheckResult("model card", True, f"{folder / CARD_FILENAME} ({card.name})")]
    if not card.files:
        results.append(CheckResult("model files", False, "the card lists no model file"))
    for name, expected in sorted(card.files.items()):
        path = folder / name
        if not path.is_file():
            results.append(CheckResult(f"sha256 {name}", False, f"{path} is missing"))
            continue
        actual = sha256_file(path)
        ok = actual == expected.lower()
        results.append(CheckResult(f"sha256 {name}", ok, "matches the card" if ok else
                                   f"is {actual[:12]}..., the card says {expected[:12]}..."))
    return results + _inference_checks(folder, card)


def _inference_checks(folder: Path, card: ModelCard) -> list[CheckResult]:
    from pneumo.films.imaging import load_image
    from pneumo.model.gradcam import Explainer
    from pneumo.model.runner import ModelRunner

    film = sample_film(folder)
    if film is None:
        return [CheckResult("inference", False, f"no sample film in {folder / 'samples'}")]
    try:
        image = load_image(film)
    except PneumoError as exc:
        return [CheckResult("inference", False, f"cannot read the sample: {one_line(exc)}")]
    results, probabilities = [], []
    for name in sorted(n for n in card.files if n.endswith(".tflite")):
        try:
            if name == card.models.explain:
                explained = Explainer(folder / name, card).explain_image(image)
                p, what = explained.probability, f"explain, heat map {explained.heatmap.shape}"
            else:
                runner = ModelRunner(folder / name, card)
                p, what = runner.classify(image).probability, f"classify, {runner.input_dtype}"
        except (PneumoError, ValueError) as exc:
            results.append(CheckResult(f"inference {name}", False, one_line(exc)))
            continue
        ok = bool(np.isfinite(p)) and 0.0 <= p <= 1.0
        probabilities.append(p)
        results.append(CheckResult(f"inference {name}", ok,
                                   f"probability {p:.3f} on {film.name} ({what})"))
    if len(probabilities) == 2:
        gap = abs(probabilities[0] - probabilities[1])
        results.append(CheckResult("models agree", gap <= AGREEMENT_LIMIT,
                                   f"probabilities differ by {gap:.3f} (limit {AGREEMENT_LIMIT})"))
    return results


def decode_checks(films: Sequence[Film] = FILMS) -> list[CheckResult]:
    """Decode each self-test film and compare it with the reference pixels."""
    return [_decode_check(film) for film in films]


def _decode_check(film: Film) -> CheckResult:
    """The film through the product's decoder (:func:`read_dicom`, whichever
    plugin pydicom picks), then through each installed plugin on its own."""
    import pydicom
    from pydicom.pixels import get_decoder

    from pneumo.films.dicom import read_dicom
    from pneumo.films.imaging import MAX_PIXELS

    name = f"decode {film.name}"
    try:
        data = film_bytes(film)
        meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
        if meta.TransferSyntaxUID != film.transfer_syntax:
            return CheckResult(name, False, f"film is {meta.TransferSyntaxUID}")
        decoded = read_dicom(Path(film.file or film.name), MAX_PIXELS, data=data)
    except BaseException as exc:  # a Rust plugin's panic is a BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return CheckResult(name, False, one_line(exc))
    expected = expected_unit_pixels(film.bits)
    if decoded.pixels.shape != expected.shape:
        return CheckResult(name, False, f"decoded to shape {decoded.pixels.shape}")
    error = float(np.abs(decoded.pixels - expected).max())
    if error > film.tolerance:
        return CheckResult(name, False, f"max error {error:.4f} (limit {film.tolerance:g})")
    plugins = get_decoder(film.transfer_syntax).available_plugins
    broken = [f"{plugin} ({problem})" for plugin in plugins
              if (problem := _plugin_problem(film, data, plugin)) is not None]
    if broken:
        return CheckResult(name, False, f"decoder plugin failed: {'; '.join(broken)}")
    return CheckResult(name, True, f"max error {error:.4f} (limit {film.tolerance:g}); "
                                   f"plugins: {', '.join(plugins) or 'pydicom built-in'}")


def _plugin_problem(film: Film, data: bytes, plugin: str) -> str | None:
    """Why one decoder plugin gets ``film`` wrong, or ``None`` when it is right."""
    import pydicom
    from pydicom.pixels import pixel_array

    reference = reference_pixels(film.bits).astype(np.float64)
    limit = film.tolerance * float(reference.max() - reference.min())
    try:
        raw = pixel_array(pydicom.dcmread(io.BytesIO(data)), decoding_plugin=plugin)
    except BaseException as exc:  # plugins raise many types; Rust ones panic
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return one_line(exc)
    if raw.shape != reference.shape:
        return f"shape {raw.shape}"
    error = float(np.abs(raw.astype(np.float64) - reference).max())
    return None if error <= limit else f"max error {error:g} stored units (limit {limit:g})"


def app_command() -> list[str]:
    """How to start this program again: the bundle's executable, else
    ``python -m pneumo``."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "pneumo"]


def window_check(film: Path | None, timeout: float = WINDOW_TIMEOUT_S) -> CheckResult:
    """Start ``pneumo gui --screenshot`` on Qt's offscreen platform, with
    throw-away settings, and check the PNG it draws."""
    from PIL import Image

    name = "window (Qt offscreen)"
    with tempfile.TemporaryDirectory(prefix="pneumo-selftest-") as tmp:
        out = Path(tmp) / "window.png"
        command = [*app_command(), "gui", "--screenshot", str(out), "--timeout", f"{timeout:g}",
                   "--settings", str(Path(tmp) / "settings.ini")]
        command += [str(film)] if film is not None else []
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=timeout + 30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return CheckResult(name, False, one_line(exc))
        if done.returncode != 0 or not out.is_file():
            tail = " ".join((done.stderr or done.stdout).split()[-40:])
            return CheckResult(name, False, f"exit {done.returncode}: {tail}")
        try:
            with Image.open(out) as png:
                width, height = png.size
        except OSError as exc:
            return CheckResult(name, False, f"screenshot unreadable: {one_line(exc)}")
    return CheckResult(name, width > 0 and height > 0, f"drew a {width} x {height} window")
