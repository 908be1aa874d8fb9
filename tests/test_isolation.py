"""Decoding in worker processes: a crashing, hanging or runaway decoder costs one file.

The crashes are real: the job (:mod:`tests.decodejobs`) aborts its worker
(``os.abort()``, what C++ ``terminate`` does), reads address 0, allocates
without bound or sleeps, on files whose names carry a marker; every other
file goes through the real decoder. The scan must give each bad file an
error record, classify the good ones, replace the dead workers and keep
this process alive.
"""

from __future__ import annotations

import shutil
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo.model.runner import ModelRunner
from pneumo.scanning.pipeline import scan
from pneumo.scanning.pool import DecoderPool, WorkerCrashed
from pneumo.scanning.worker import WorkerSettings
from tests import crafted, decodejobs
from tests.tinymodel import cached_tiny_tflite, film

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> ModelRunner:
    return ModelRunner(cached_tiny_tflite(tmp_path_factory.getbasetemp()))


def _png(path: Path, seed: int) -> Path:
    Image.fromarray((film(size=160, seed=seed) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture()
def crash_folder(tmp_path: Path) -> Path:
    """Good films with crashing ones between them (same pixels, marked names)."""
    root = tmp_path / "films"
    root.mkdir()
    good = _png(root / "a_good.png", 1)
    for name in (f"b_{decodejobs.ABORT_MARKER}.png", "c_good.png",
                 f"d_{decodejobs.SEGFAULT_MARKER}.png", "e_good.png",
                 f"f_{decodejobs.ABORT_MARKER}_again.png", "g_good.png"):
        shutil.copyfile(good, root / name)
    return root


def test_crashing_decoder_costs_one_file_and_the_scan_goes_on(
    crash_folder: Path, runner: ModelRunner
) -> None:
    with DecoderPool(2) as pool:
        first_pids = set(_pids(pool))
        records = list(scan([crash_folder], runner, pool=pool, job=decodejobs.crashing))
        assert pool.crashes == 3
        assert len(set(_pids(pool))) == 2 and set(_pids(pool)) != first_pids  # replaced
    by_name = {r.path.name: r for r in records}
    assert [r.path.name for r in records] == sorted(p.name for p in crash_folder.iterdir())
    for name, record in by_name.items():
        if "good" in name:
            assert record.ok and record.label in runner.card.labels, record
    assert by_name[f"b_{decodejobs.ABORT_MARKER}.png"].error == "decoder crashed (SIGABRT)"
    assert by_name[f"d_{decodejobs.SEGFAULT_MARKER}.png"].error == "decoder crashed (SIGSEGV)"
    assert by_name[f"f_{decodejobs.ABORT_MARKER}_again.png"].error == "decoder crashed (SIGABRT)"


def test_runaway_allocation_is_stopped_by_the_workers_memory_limit(
    tmp_path: Path, runner: ModelRunner
) -> None:
    good = _png(tmp_path / "a_good.png", 2)
    runaway = shutil.copyfile(good, tmp_path / f"b_{decodejobs.RUNAWAY_MARKER}.png")
    after = shutil.copyfile(good, tmp_path / "c_good.png")
    settings = WorkerSettings(address_space_headroom=256 * 1024 * 1024)
    with DecoderPool(1, settings=settings) as pool:
        records = list(scan([good, runaway, after], runner, pool=pool, job=decodejobs.crashing))
    assert records[0].ok and records[2].ok
    assert "MemoryError" in (records[1].error or ""), records[1]


def test_hung_decoder_is_killed_and_replaced(tmp_path: Path, runner: ModelRunner) -> None:
    good = _png(tmp_path / "a_good.png", 3)
    hung = shutil.copyfile(good, tmp_path / f"b_{decodejobs.HANG_MARKER}.png")
    with DecoderPool(1, task_timeout_s=1.0) as pool:
        records = list(scan([hung, good], runner, pool=pool, job=decodejobs.crashing))
    assert len(records) == 2
    assert records[0].error == "decoder hung (no result after 1 s)"
    assert records[1].ok


def test_jobs_behind_a_crash_are_run_again_elsewhere(tmp_path: Path) -> None:
    """A worker holds two jobs; when the first kills it, the second is not lost."""
    good = _png(tmp_path / "good.png", 4)
    crash = shutil.copyfile(good, tmp_path / f"x_{decodejobs.ABORT_MARKER}.png")
    from pneumo.model.preprocess import Preprocessing

    spec = Preprocessing()
    with DecoderPool(1) as pool:
        futures = [pool.submit(decodejobs.crashing, path, spec) for path in (crash, good, good)]
        with pytest.raises(WorkerCrashed, match="SIGABRT"):
            futures[0].result(timeout=60)
        assert all(f.result(timeout=60).value.error is None for f in futures[1:])


def test_the_pool_outlives_a_scan(tmp_path: Path, runner: ModelRunner) -> None:
    files = [_png(tmp_path / f"f{i}.png", i) for i in range(3)]
    with DecoderPool(2) as pool:
        one = [r.warnings for r in scan(files, runner, pool=pool, job=decodejobs.worker_pid)]
        two = [r.warnings for r in scan(files, runner, pool=pool, job=decodejobs.worker_pid)]
    pids = {w for ws in one + two for w in ws}
    assert 1 <= len(pids) <= 2  # the same two workers served both scans


def test_headers_that_lie_about_their_pixels_are_refused_before_decoding(
    tmp_path: Path, runner: ModelRunner
) -> None:
    """The header edits that made GDCM abort the process (exit 134)."""
    good = _png(tmp_path / "a_good.png", 5)
    jls = crafted.jpeg_ls_smaller_than_header(tmp_path / "b_jls.dcm")
    j2k = crafted.j2k_labelled_rgb(tmp_path / "c_j2k.dcm")
    bits = crafted.jpeg_bits_stored_below_allocated(tmp_path / "d_bits.dcm")
    records = {r.path.name: r for r in scan([good, jls, j2k, bits], runner)}
    assert records["a_good.png"].ok
    assert records["b_jls.dcm"].error == (
        "DICOM header does not match its pixel data: Rows x Columns say 1024 x 1280, "
        "but the JPEG-LS stream holds 256 x 320")
    assert records["c_j2k.dcm"].error == (
        "DICOM header does not match its pixel data: Samples per Pixel says 3, "
        "but the JPEG 2000 stream has 1 component(s)")
    assert records["d_bits.dcm"].error == (
        "DICOM header does not match its pixel data: Bits Stored says 7, "
        "but the JPEG stream has 8-bit samples")


def _pids(pool: DecoderPool) -> list[int]:
    import time

    for _ in range(100):  # workers are started by the pool's own thread
        pids = pool.pids()
        if len(pids) == pool.workers:
            return pids
        time.sleep(0.05)
    return pool.pids()


def test_library_warnings_in_a_worker_are_reported_naming_the_file(
    tmp_path: Path, runner: ModelRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a decoder warns in its worker comes back with the file and is printed once."""
    import io

    path = tmp_path / "exif.jpg"
    buf = io.BytesIO()
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x12\x01\x03\x00"  # IFD cut short
    Image.fromarray((film(size=160, seed=6) * 255).astype(np.uint8)).save(buf, "JPEG", exif=exif)
    path.write_bytes(buf.getvalue())
    (record,) = scan([path], runner)
    assert record.ok
    named = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith("pneumo: warning: ")]
    assert len(named) == 1, named
    assert named[0].startswith(f"pneumo: warning: {path}: UserWarning: Corrupt EXIF data")


def test_recording_warnings_in_a_worker_keeps_pillows_bomb_limit_an_error() -> None:
    """Jobs record every warning, but a decompression-bomb warning must still stop
    the decode rather than become a note beside a result."""
    import warnings

    from PIL import Image

    from pneumo.scanning.worker import run_job

    def bomb() -> int:
        warnings.warn("too many pixels", Image.DecompressionBombWarning)
        return 1

    def noisy() -> int:
        warnings.warn("a library note", UserWarning)
        return 2

    assert run_job(bomb, ()) == (False, ("DecompressionBombWarning", "too many pixels"), ())
    assert run_job(noisy, ()) == (True, 2, ("UserWarning: a library note",))


def test_one_films_jobs_go_first_in_order_and_side_by_side() -> None:
    """The viewer's preview, image and heat map jobs: ahead of a scan's, in the order
    given, and spread over idle workers before any worker takes a second job."""
    job = decodejobs.started_at
    with DecoderPool(2) as pool:
        warm = [pool.submit(job, 0.3) for _ in range(2)]
        assert len({f.result(timeout=60).value[1] for f in warm}) == 2  # both workers up
        preview, image, heat = pool.submit_all_first((job, (0.3,)), (job, (0.3,)), (job, (0.0,)))
        (t_preview, pid_preview), (t_image, pid_image), (t_heat, _pid) = (
            f.result(timeout=60).value for f in (preview, image, heat))
        assert pid_preview != pid_image  # side by side, not one behind the other
        assert abs(t_image - t_preview) < 0.25 and t_heat >= t_preview + 0.25
    with DecoderPool(1) as pool:
        pool.submit(job, 0.0).result(timeout=60)
        queued = [pool.submit(job, 0.2) for _ in range(4)]  # the worker holds one or two
        first, second = pool.submit_all_first((job, (0.0,)), (job, (0.0,)))
        starts = [f.result(timeout=60).value[0] for f in (*queued, first, second)]
        assert starts[4] < starts[5] < starts[2] < starts[3]


def test_a_job_sent_to_a_worker_that_just_crashed_blames_the_crash() -> None:
    """The broker may send a job in the moment between a worker's death and its
    noticing: the pipe breaks, but the crash is what the running job reports."""
    import os
    import signal
    import time

    from pneumo.scanning.pool import _Task

    with DecoderPool(1) as pool:
        running = pool.submit(decodejobs.started_at, 30.0)
        while not pool._workers or not pool._workers[0].tasks \
                or pool._workers[0].tasks[0].started is None:
            time.sleep(0.01)
        with pool._lock:  # the broker is held off while the worker dies
            worker = pool._workers[0]
            os.kill(worker.process.pid, signal.SIGABRT)
            worker.process.join(5.0)
            later = _Task(10_000, decodejobs.started_at, (0.0,), Future())
            pool._queue.append(later)
            pool._dispatch()  # the send finds the pipe broken
            assert worker.killed == "its pipe broke"
        with pytest.raises(WorkerCrashed, match=r"decoder crashed \(SIGABRT\)"):
            running.result(timeout=60)
        assert later.future.result(timeout=60).value[1] != worker.process.pid
