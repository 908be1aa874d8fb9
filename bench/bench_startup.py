"""Desktop startup time: from launching the process to the window shown, model loaded.

Runs ``desktop.app.main(["--exit-when-ready", ...])`` in fresh interpreters
(Qt offscreen unless ``QT_QPA_PLATFORM`` is set, throw-away settings) and times,
from just before the subprocess starts, until it prints its ready line, which
it does once the window is shown and the model load has finished. Target: 1 s.

    python bench/bench_startup.py [--model assets/model.tflite] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0
READY_MARKER = "PNEUMOSCAN_READY"  # desktop.app.READY_MARKER (not imported: no Qt here)
_CODE = "import sys; from desktop.app import main; sys.exit(main(sys.argv[1:]))"


def launch_once(model: Path | None, settings: Path, timeout: float = 60.0) -> tuple[float, str]:
    """Seconds from launch to the ready line, and the app's model state."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    args = [sys.executable, "-c", _CODE, "--exit-when-ready", "--settings", str(settings)]
    if model is not None:
        args += ["--model", str(model)]
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith(READY_MARKER):
                elapsed = time.perf_counter() - started
                state = line.split()[-1]
                proc.wait(timeout=timeout)
                return elapsed, state
        raise RuntimeError(f"the app exited ({proc.wait()}) without becoming ready")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    """Measure and print the startup time; exit 1 with --strict when over target."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None,
                   help="model .tflite (default: the app's default model)")
    p.add_argument("--repeat", type=int, default=5, help="launches to time (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--strict", action="store_true", help="exit 1 when the median misses 1 s")
    args = p.parse_args(argv)
    times: list[float] = []
    states: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="pneumo-bench-") as tmp:
        launch_once(args.model, Path(tmp) / "warmup.ini")  # fill the OS file cache once
        for i in range(max(1, args.repeat)):
            seconds, state = launch_once(args.model, Path(tmp) / f"settings{i}.ini")
            times.append(seconds)
            states.add(state)
    median = statistics.median(times)
    result = {
        "median_s": round(median, 3),
        "best_s": round(min(times), 3),
        "worst_s": round(max(times), 3),
        "runs": len(times),
        "model_loaded": states == {"model"},
        "target_s": TARGET_S,
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        loaded = "model loaded" if result["model_loaded"] else "NO MODEL (pass --model)"
        verdict = "meets" if median <= TARGET_S else "misses"
        print(f"desktop startup, launch -> window shown with {loaded}: median {median:.3f} s "
              f"(best {min(times):.3f}, worst {max(times):.3f}, {len(times)} runs); "
              f"{verdict} the {TARGET_S:g} s target")
    return 1 if args.strict and median > TARGET_S else 0


if __name__ == "__main__":
    sys.exit(main())
