"""Load on ``pneumo listen`` over loopback: many senders at once, then checks.

Generates ``--films`` distinct chest-like DICOM films (``--size`` px on the
long side) in a mix of transfer syntaxes (uncompressed, RLE, JPEG-LS and
JPEG 2000 lossless), starts ``pneumo listen`` as its own process with a fresh
result store, and sends the films from ``--senders`` C-STORE associations at
once (threads of this process). It then checks that none was lost (every
C-STORE succeeded and every film has one result), that each was classified
once, and that the store is consistent (integrity check, every row's file on
disk, the audit rows count every object), and prints films/s and the
listener's peak memory (VmHWM) as a Markdown table.

    python bench/bench_listen.py [--films 500] [--senders 20] [--size 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests import synth  # the test suite's DICOM writers
from tests.dicomnet import FILM_WRITERS, send

KINDS = ("explicit", "rle", "jpegls", "jpeg2000")


def make_films(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` distinct films, cycling through :data:`KINDS`."""
    folder.mkdir(parents=True, exist_ok=True)
    shape = (size, round(size * 0.82))
    base = synth.film(shape, seed=0)
    paths = []
    for i in range(n):
        arr = base.copy()
        arr[i % shape[0], :] ^= 1 + i // shape[0]  # a different film each time, cheaply
        kind = KINDS[i % len(KINDS)]
        paths.append(FILM_WRITERS[kind](arr, folder / f"{i:04d}_{kind}.dcm"))
    return paths


def start_listener(work: Path) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PNEUMO_STORE": str(work / "store.sqlite3")}
    proc = subprocess.Popen([sys.executable, "-m", "pneumo", "listen", "--port", "0",
                             "--dir", str(work / "node")], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        match = re.search(r" on 127\.0\.0\.1:(\d+)", line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stderr or ()],
                             daemon=True).start()
            return proc, int(match.group(1))
    raise SystemExit(f"the listener did not start (exit {proc.wait()})")


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def count_results(store: Path) -> int:
    try:
        with sqlite3.connect(store, timeout=10) as db:
            return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=500)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--size", type=int, default=1024, help="long side in pixels")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pneumo-bench-listen-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        films = make_films(work / "films", args.films, args.size)
        megabytes = sum(p.stat().st_size for p in films) / 2**20
        print(f"{len(films)} films ({megabytes:.0f} MiB, {', '.join(KINDS)}) written in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        proc, port = start_listener(work)
        store = work / "store.sqlite3"
        shares = [films[i :: args.senders] for i in range(args.senders)]
        statuses: list[list[int]] = [[] for _ in shares]
        start = time.perf_counter()
        threads = [threading.Thread(target=lambda i=i: statuses[i].extend(
            send(shares[i], port, calling=f"MOD{i:02d}", timeout=600)))
            for i in range(args.senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent_s = time.perf_counter() - start
        while count_results(store) < args.films and time.perf_counter() - start < args.timeout:
            time.sleep(0.2)
        done_s = time.perf_counter() - start
        peak = peak_rss_mib(proc.pid)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=600)
        ok = sum(s == 0 for share in statuses for s in share)
        with sqlite3.connect(store) as db:
            rows = db.execute("SELECT path, sop_instance_uid, error FROM results").fetchall()
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            received = sum(json.loads(d)["objects"] for (d,) in db.execute(
                "SELECT detail FROM events WHERE action = 'receive'"))
        paths = [r[0] for r in rows]
        print(f"\n{args.senders} senders, {args.films} films of {args.size} px over loopback "
              f"(listener exit code {rc})\n")
        print("| check | value |\n|---|---:|")
        print(f"| C-STOREs that succeeded | {ok} of {args.films} |")
        print(f"| results in the store | {len(rows)} |")
        print(f"| distinct films with a result | {len(set(paths))} |")
        print(f"| distinct SOP Instance UIDs | {len({r[1] for r in rows})} |")
        print(f"| errors | {sum(1 for r in rows if r[2])} |")
        print(f"| rows whose file is on disk | {sum(Path(p).is_file() for p in paths)} |")
        print(f"| objects in the audit's receive rows | {received} |")
        print(f"| store integrity check | {integrity} |")
        print(f"| all sent (s) | {sent_s:.1f} |")
        print(f"| all classified (s) | {done_s:.1f} |")
        print(f"| films/s, receive to result | {args.films / done_s:.1f} |")
        print(f"| peak memory of the listener (MiB, VmHWM) | {peak:.0f} |")
        lost = args.films - len(set(paths))
        return 0 if (ok == args.films and lost == 0 and len(rows) == args.films
                     and integrity == "ok" and rc == 0) else 1


if __name__ == "__main__":
    raise SystemExit(main())
