"""``pneumo listen`` over loopback: receive, classify, record, forward; allow-list,
size limit, full disk, kill and restart. Shipped model (no TensorFlow); every
wait has a deadline and ports are picked by the system (port 0)."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from pneumo.model.locate import assets_dir
from pneumo.model.runner import ModelRunner
from pneumo.network.forward import Destination
from pneumo.network.listener import Listener, ListenerConfig
from pneumo.results.records import ScanRecord
from pneumo.results.store import ResultStore
from tests import synth
from tests.dicomnet import Pacs, chest_films, ct_slice, echo, send, wait_until
from tests.subproc import REPO_ROOT

pytest.importorskip("pynetdicom")
MODEL = assets_dir() / "model.tflite"
if not MODEL.is_file():
    pytest.skip(f"shipped model not found at {MODEL}", allow_module_level=True)
SR_CLASS, SC_CLASS = "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture(scope="module")
def runner() -> ModelRunner:
    return ModelRunner(MODEL)


class Running:
    """A listener started in this process, with the records it reported."""

    def __init__(self, tmp: Path, runner: ModelRunner, **config: Any) -> None:
        self.store = ResultStore(tmp / "store.sqlite3")
        self.records: list[ScanRecord] = []
        self.log: list[str] = []
        self.listener = Listener(ListenerConfig(directory=tmp / "node", port=0, **config),
                                 runner, self.store, on_record=self.records.append,
                                 log=self.log.append)
        self.listener.start()
        self.port = self.listener.address[1]

    def results(self) -> list[Any]:
        return self.store.query("SELECT * FROM results WHERE origin = 'listen' ORDER BY id")

    def stop(self) -> None:
        self.listener.stop(grace_s=10)
        self.store.close()


@pytest.fixture()
def node(tmp_path: Path, runner: ModelRunner) -> Any:
    started: list[Running] = []

    def start(**config: Any) -> Running:
        running = Running(tmp_path, runner, **config)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def test_receives_three_syntaxes_and_a_ct_and_forwards_results(
    tmp_path: Path, node: Any
) -> None:
    pacs = Pacs().start()
    try:
        n = node(forward=Destination("127.0.0.1", pacs.port, pacs.ae_title))
        films = chest_films(tmp_path / "films", ["explicit", "rle", "jpeg2000"])
        ct = ct_slice(tmp_path / "films")
        assert send([*films, ct], n.port) == [0, 0, 0, 0]
        wait_until(lambda: len(n.results()) == 4, what="4 results in the store")
        rows = n.results()
        classified = [r for r in rows if r["error"] is None]
        refused = [r for r in rows if r["error"] is not None]
        assert len(classified) == 3 and len(refused) == 1
        assert "modality CT" in refused[0]["error"]
        sent = {str(pydicom.dcmread(f).SOPInstanceUID) for f in films}
        assert {r["sop_instance_uid"] for r in classified} == sent
        wait_until(lambda: len(pacs.received) == 6, what="6 results at the PACS")
        classes = sorted(str(ds.SOPClassUID) for ds in pacs.received)
        assert classes == sorted([SR_CLASS] * 3 + [SC_CLASS] * 3)
        studies = {str(pydicom.dcmread(f).StudyInstanceUID) for f in films}
        assert {str(ds.StudyInstanceUID) for ds in pacs.received} == studies
        for ds in pacs.received:
            if str(ds.SOPClassUID) == SR_CLASS:
                row = next(r for r in classified if r["sop_instance_uid"] ==
                           ds.CurrentRequestedProcedureEvidenceSequence[0]
                           .ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
                           .ReferencedSOPInstanceUID)
                assert row["probability"] in _numbers(ds)
        wait_until(lambda: len(_events(n, "send")) == 6, what="6 send rows")
        assert all(json.loads(e["detail"])["ok"] for e in _events(n, "send"))
        assert len(n.records) == 4
    finally:
        pacs.stop()


def _numbers(ds: Any) -> list[float]:
    out: list[float] = []
    for item in ds.get("ContentSequence") or ():
        for value in item.get("MeasuredValueSequence") or ():
            out.append(float(value.FloatingPointValue))
        out += _numbers(item)
    return out


def _events(n: Running, action: str) -> list[Any]:
    return n.store.query("SELECT * FROM events WHERE action = ? ORDER BY id", (action,))


def test_forwarding_retries_until_the_pacs_answers(tmp_path: Path, node: Any) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    n = node(forward=Destination("127.0.0.1", port, "PACS"))
    n.listener.forwarder._first_backoff = 0.2  # type: ignore[union-attr]
    assert send(chest_films(tmp_path / "films", ["explicit"]), n.port) == [0]
    wait_until(lambda: any(not json.loads(e["detail"])["ok"] for e in _events(n, "send")),
               what="a failed send attempt")
    pacs = Pacs(port=port).start()
    try:
        wait_until(lambda: len(pacs.received) == 2, what="the results after the PACS came up")
        details = [json.loads(e["detail"]) for e in _events(n, "send")]
        assert details[0]["ok"] is False and details[-1]["ok"] is True
    finally:
        pacs.stop()


def test_a_calling_ae_not_allowed_is_rejected_and_others_are_served(
    tmp_path: Path, node: Any
) -> None:
    n = node(allowed_aes=("GOODMOD",))
    films = chest_films(tmp_path / "films", ["explicit", "rle"])
    assert send(films[:1], n.port, calling="INTRUDER") == []
    assert send(films[1:], n.port, calling="GOODMOD") == [0]
    wait_until(lambda: len(n.results()) == 1, what="the allowed film's result")
    assert n.listener.stats().rejected_associations == 1
    (row,) = _events(n, "association rejected")
    assert json.loads(row["detail"])["calling_ae"] == "INTRUDER"
    assert len(list(n.listener.inbox.files())) == 1


def test_an_association_over_the_size_limit_is_aborted(tmp_path: Path, node: Any) -> None:
    films = chest_films(tmp_path / "films", ["explicit", "explicit"])
    n = node(max_association_bytes=os.path.getsize(films[0]) + 10)
    statuses = send(films, n.port)
    assert statuses[0] == 0 and statuses[1] != 0
    assert len(list(n.listener.inbox.files())) == 1
    assert echo(n.port)  # still serving


def test_a_full_disk_aborts_cleanly_with_nothing_half_written(
    tmp_path: Path, node: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pneumo.util import atomic

    n = node()
    films = chest_films(tmp_path / "films", ["explicit", "rle"])

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)  # the disk fills while writing
    statuses = send(films, n.port)
    assert statuses and statuses[0] != 0
    assert _all_files(n.listener.inbox.root) == []
    monkeypatch.undo()
    n.listener.inbox.reserve_bytes = 1 << 62  # and by the free-space check
    assert send(films[:1], n.port)[0] != 0
    assert _all_files(n.listener.inbox.root) == []
    n.listener.inbox.reserve_bytes = 0
    assert send(films, n.port) == [0, 0]
    wait_until(lambda: len(n.results()) == 2, what="results once there is space")
    assert any("disk full" in line for line in n.log)


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_stop_saves_and_classifies_what_was_received(tmp_path: Path, runner: ModelRunner) -> None:
    n = Running(tmp_path, runner)
    films = chest_films(tmp_path / "films", ["explicit", "rle", "jpegls"])
    assert send(films, n.port) == [0, 0, 0]
    stats = n.listener.stop(grace_s=10)
    assert stats.received == 3 and stats.classified == 3 and len(n.results()) == 3
    n.store.close()


def _start_cli(tmp_path: Path, store: Path
               ) -> tuple[subprocess.Popen[str], int, list[str], threading.Thread]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PNEUMO_STORE": str(store)}
    proc = subprocess.Popen([sys.executable, "-m", "pneumo", "listen", "--port", "0",
                             "--dir", str(tmp_path / "node")], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines: list[str] = []
    found: list[int] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            match = re.search(r" on 127\.0\.0\.1:(\d+)", line)
            if match and not found:
                found.append(int(match.group(1)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_until(lambda: bool(found) or proc.poll() is not None, timeout=120,
               what="the listener to start")
    assert found, "".join(lines)
    return proc, found[0], lines, reader


def test_killed_mid_transfer_leaves_no_partial_file_and_restarts(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    small = chest_films(tmp_path / "films", ["explicit"])
    big = synth.save(synth.dicom_dataset(np.full((4000, 4000), 1000, np.uint16), 12),
                     tmp_path / "films" / "big.dcm")  # 32 MB: still in transfer at the kill
    proc, port, _, _ = _start_cli(tmp_path, store)
    received = tmp_path / "node" / "received"
    statuses: list[int] = []
    sender = threading.Thread(target=lambda: statuses.extend(send([*small, big], port,
                                                                   timeout=5)))
    try:
        sender.start()
        wait_until(lambda: any(received.rglob("*.dcm")), what="the first film on disk")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        sender.join(timeout=60)
    print(f"sender statuses at the kill: {statuses}")
    kept = list(received.rglob("*.dcm"))
    for path in kept:  # whole files only
        ds = pydicom.dcmread(path)
        assert len(ds.PixelData) == ds.Rows * ds.Columns * 2
    with ResultStore(store) as s:
        assert s.notice is None  # the store survived the kill
        assert all(Path(r["path"]).is_file() for r in s.query("SELECT path FROM results"))
    proc, port, lines, reader = _start_cli(tmp_path, store)  # restart: serves, catches up
    try:
        assert not [p for p in received.rglob("*") if p.name.startswith(".")]
        assert echo(port)
        assert send(chest_films(tmp_path / "more", ["rle"], seed=5), port) == [0]
        expected = len(kept) + 1
        with ResultStore(store) as s:
            wait_until(lambda: len(s.query("SELECT id FROM results")) >= expected,
                       what="every kept film classified")
            rows = s.query("SELECT path FROM results")
        assert len({r["path"] for r in rows}) == len(rows) == expected
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        reader.join(timeout=30)
    assert proc.returncode == 0, "".join(lines)
    assert "stopped" in "".join(lines)
