"""What a clinician waits for after dropping one clinical-size film on the app.

Writes a 3,000 px 12-bit DICOM from a real test film (with 6 levels of
detector-like noise), uncompressed and as classic JPEG 2000, then, for each
run, opens a fresh main window (offscreen Qt, the shipped models, a result
store in a temporary folder, the decoder pool warm) and drops the film on it:
the times from the drop to the first paint of the film, to the film itself
(after a preview), to the label and probability (the scan's record), and to
the heat map. A new film is written for every run, so the store never answers
from its cache.

    python bench/bench_open.py [--data ../shared/data/chest_xray] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "bench"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_decoders import clinical_film, twelve_bit

STEPS = ("first paint", "the film itself", "label and probability", "heat map")


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared/data/chest_xray")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    import synth
    from pydicom import uid
    from PySide6.QtWidgets import QApplication

    from pneumo.scanning.display import load_for_display
    from pneumo.scanning.pool import shared_pool

    app = QApplication.instance() or QApplication([])
    film8 = clinical_film(args.data, 3000, index=1)
    times: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm = synth.save(synth.dicom_dataset(twelve_bit(film8, 0.0), 12), folder / "warm.dcm")
        pool = shared_pool(2)
        for future in [pool.submit(load_for_display, warm) for _ in range(4)]:
            future.result()
        for name, syntax in (("uncompressed", None), ("JPEG 2000", uid.JPEG2000Lossless)):
            runs: dict[str, list[float]] = {step: [] for step in STEPS}
            for run in range(args.runs):
                ds = synth.dicom_dataset(twelve_bit(film8, 6.0, seed=run), 12,
                                         WindowCenter=2048.0, WindowWidth=4096.0)
                path = synth.save(ds if syntax is None else synth.encode_dataset(ds, syntax),
                                  folder / f"{name}_{run}.dcm")
                for step, ms in open_once(app, path, folder / f"run_{name}_{run}").items():
                    runs[step].append(ms)
            times[name] = runs
    print(f"3,000 x 2,127 12-bit DICOM dropped on the window, median of {args.runs} runs "
          f"(CPU load {os.getloadavg()[0]:.1f})\n")
    print("| drop -> (median ms) | " + " | ".join(times) + " |")
    print("|---|" + "---:|" * len(times))
    for step in STEPS:
        cells = [f"{statistics.median(t[step]):.0f}" if t[step] else "-" for t in times.values()]
        print(f"| {step} | " + " | ".join(cells) + " |")
    return 0


def open_once(app: Any, path: Path, folder: Path) -> dict[str, float]:
    """Drop ``path`` on a fresh window; milliseconds from the drop to each step."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from desktop.main_window import MainWindow
    from desktop.session import Session
    from desktop.settings import AppSettings
    from pneumo.model.locate import default_model_path
    from pneumo.results.store import ResultStore

    folder.mkdir()
    session = Session(default_model_path(), store=ResultStore(folder / "results.sqlite3"))
    window = MainWindow(session, AppSettings(folder / "settings.ini"))
    window.resize(1400, 900)
    window.show()
    loaded = [False]
    session.model_loaded.connect(lambda: loaded.__setitem__(0, True))
    _wait(app, lambda: loaded[0] or session.runner is not None)
    seen: dict[str, float] = {}
    panel = window.image_panel
    show, sharpen = panel.show_image, getattr(panel, "sharpen_image", None)

    def shown(*given: Any) -> None:
        seen.setdefault("first paint", time.perf_counter())
        if len(given) < 4 or given[3] is None:
            seen.setdefault("the film itself", time.perf_counter())
        show(*given)

    def sharpened(*given: Any) -> None:
        seen.setdefault("the film itself", time.perf_counter())
        if sharpen is not None:
            sharpen(*given)

    setattr(panel, "show_image", shown)  # noqa: B010 - timed in place of the method
    if sharpen is not None:  # (versions before the preview had none)
        setattr(panel, "sharpen_image", sharpened)  # noqa: B010
    session.record_arrived.connect(
        lambda _r: seen.setdefault("label and probability", time.perf_counter()))
    window.overlay_shown.connect(lambda _p: seen.setdefault("heat map", time.perf_counter()))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    start = time.perf_counter()
    window.dropEvent(drop)
    _wait(app, lambda: all(step in seen for step in STEPS))
    window.shutdown(10000)
    window.close()
    return {step: (seen[step] - start) * 1000 for step in STEPS}


def _wait(app: Any, done: Any, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for the app")
        app.processEvents()
        time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main())
