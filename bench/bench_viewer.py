"""How fast the app shows a clinical-size DICOM, and how fast window/level redraws it.

Writes a 3,000 px 12-bit DICOM from a real test film, then, with the decoder
pool warm (as in the app after its first film): the time from asking for the
film (``desktop.workers.view_events``: decoding in a worker process, display
levels and pyramid) to its first paint in the viewer (offscreen Qt), and the
time of one window/level change at fit-to-window zoom and at 1:1. A classic
JPEG 2000 film is first painted from a reduced decode (a preview): the first
paint is the preview's, and the next line is the film's own.

    python bench/bench_viewer.py [--data ../shared/data/chest_xray] [--runs 9]
        [--syntax uncompressed|jpeg2000|jpeg-ls|htj2k] [--noise 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "bench"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_decoders import clinical_film, twelve_bit
from pydicom import uid

SYNTAXES = {"uncompressed": None, "jpeg2000": uid.JPEG2000Lossless,
            "jpeg-ls": uid.JPEGLSLossless, "htj2k": uid.HTJ2KLossless}


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared/data/chest_xray")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--syntax", choices=list(SYNTAXES), default="uncompressed")
    parser.add_argument("--noise", type=float, default=0.0, help="noise, 12-bit levels")
    args = parser.parse_args(argv)
    import synth
    from PySide6.QtWidgets import QApplication

    from desktop.viewer import ImageViewer
    from desktop.workers import DisplayImage, ExplainerHolder, view_events
    from pneumo.model.card import ModelCard
    from pneumo.model.locate import default_model_path
    from pneumo.scanning.pool import shared_pool

    app = QApplication.instance() or QApplication([])
    card = ModelCard.load(default_model_path().parent / "model_card.json")
    viewer = ImageViewer()
    viewer.resize(1000, 800)
    shared_pool(2)
    with tempfile.TemporaryDirectory() as tmp:
        film8 = clinical_film(args.data, 3000)
        ds = synth.dicom_dataset(twelve_bit(film8, args.noise), 12, WindowCenter=2048.0,
                                 WindowWidth=4096.0)
        syntax = SYNTAXES[args.syntax]
        path = synth.save(ds if syntax is None else synth.encode_dataset(ds, syntax),
                          Path(tmp) / "film.dcm")
        paint, sharp, heat, wl_fit, wl_full = [], [], [], [], []
        for run in range(args.runs + 1):
            t0 = time.perf_counter()
            events = view_events(path, card, ExplainerHolder(None), cancel=threading.Event())
            shown = next(e for e in events if isinstance(e, DisplayImage))
            viewer.set_image(shown.levels, shown.auto_window, shown.pyramid, shown.full_size)
            app.processEvents()
            first = (time.perf_counter() - t0) * 1000
            if shown.full_size is not None:  # a preview: the film follows
                shown = next(e for e in events if isinstance(e, DisplayImage))
                viewer.sharpen(shown.levels, shown.auto_window, shown.pyramid)
                app.processEvents()
            full = (time.perf_counter() - t0) * 1000
            for _event in events:  # no explain model here: the heat map's input, then a note
                pass
            if run:  # the first run starts the workers
                paint.append(first)
                sharp.append(full)
                heat.append((time.perf_counter() - t0) * 1000)
            viewer.fit()
            t1 = time.perf_counter()
            viewer.set_window(0.4 + 0.01 * run, 0.5)
            wl_fit.append((time.perf_counter() - t1) * 1000)
            viewer.actual_size()
            t2 = time.perf_counter()
            viewer.set_window(0.5 + 0.01 * run, 0.5)
            wl_full.append((time.perf_counter() - t2) * 1000)
    h, w = shown.levels.shape
    print(f"{w} x {h} 12-bit DICOM ({args.syntax}, noise {args.noise:g}), viewer 1000 x 800, "
          f"median of {args.runs} runs (CPU load {os.getloadavg()[0]:.1f})\n")
    print("| step | median ms |\n|---|---:|")
    print(f"| ask for the film -> first paint (decode in a worker, levels, pyramid) | "
          f"{statistics.median(paint):.0f} |")
    print(f"| ask for the film -> the film itself painted (after a preview, if any) | "
          f"{statistics.median(sharp):.0f} |")
    print(f"| ask for the film -> the heat map's input ready (decoded again, preprocessed) | "
          f"{statistics.median(heat):.0f} |")
    print(f"| window/level change at fit zoom (copy {viewer_copy(shown)}) | "
          f"{statistics.median(wl_fit):.1f} |")
    print(f"| window/level change at 1:1 (full size) | {statistics.median(wl_full):.1f} |")
    return 0


def viewer_copy(shown: Any) -> str:
    """The sizes of the halved copies the viewer draws from."""
    return " / ".join(f"{p.shape[1]} x {p.shape[0]}" for p in shown.pyramid) or "full size"


if __name__ == "__main__":
    sys.exit(main())
