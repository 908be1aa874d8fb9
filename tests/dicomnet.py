"""Test helpers for the DICOM listener: chest films in several transfer
syntaxes, a C-STORE sender, a small "PACS" that keeps what it receives, and
waiting with a deadline (loopback only; every wait has a timeout)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

from tests import synth

#: Syntax name -> writer of a chest film in that syntax.
FILM_WRITERS: dict[str, Callable[[np.ndarray, Path], Path]] = {
    "explicit": synth.write_dicom_windowed,
    "rle": synth.write_dicom_rle,
    "jpeg2000": lambda a, p: synth.write_dicom_gdcm(a, p, JPEG2000Lossless),
    "jpegls": lambda a, p: synth.write_dicom_gdcm(a, p, JPEGLSLossless),
}


def chest_films(folder: Path, kinds: list[str], seed: int = 0,
                shape: tuple[int, int] = (320, 256)) -> list[Path]:
    """One film per entry of ``kinds`` (keys of :data:`FILM_WRITERS`), each its
    own study and instance."""
    folder.mkdir(parents=True, exist_ok=True)
    return [FILM_WRITERS[kind](synth.film(shape, seed=seed + i), folder / f"{i:04d}_{kind}.dcm")
            for i, kind in enumerate(kinds)]


def ct_slice(folder: Path) -> Path:
    """pydicom's bundled CT slice, copied."""
    from pydicom.data import get_testdata_file

    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(str(get_testdata_file("CT_small.dcm")), folder / "ct.dcm"))


def send(files: list[Path], port: int, *, calling: str = "MODALITY", called: str = "PNEUMOSCAN",
         host: str = "127.0.0.1", timeout: float = 30) -> list[int]:
    """C-STORE ``files`` in one association; the status of each (-1: not sent).

    Returns ``[]`` when the association was not established.
    """
    import pydicom
    from pynetdicom import AE

    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    seen = set()
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        key = (str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
        if key not in seen:
            seen.add(key)
            ae.add_requested_context(key[0], [key[1]])
    assoc = ae.associate(host, port, ae_title=called)
    if not assoc.is_established:
        return []
    statuses: list[int] = []
    try:
        for path in files:
            if not assoc.is_established:
                statuses.append(-1)
                continue
            status = assoc.send_c_store(path)
            statuses.append(int(status.Status) if status and "Status" in status else -1)
    finally:
        if assoc.is_established:
            assoc.release()
    return statuses


def echo(port: int, calling: str = "MODALITY", host: str = "127.0.0.1") -> bool:
    """C-ECHO; True when it succeeded."""
    from pynetdicom import AE

    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate(host, port, ae_title="PNEUMOSCAN")
    if not assoc.is_established:
        return False
    try:
        status = assoc.send_c_echo()
        return bool(status) and int(status.Status) == 0
    finally:
        assoc.release()


@dataclass
class Pacs:
    """A Storage SCP on a free loopback port that keeps every dataset it gets."""

    ae_title: str = "PACS"
    received: list[Any] = field(default_factory=list)
    port: int = 0
    _server: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Pacs:
        from pynetdicom import AE, AllStoragePresentationContexts, evt

        ae = AE(ae_title=self.ae_title)
        ae.supported_contexts = AllStoragePresentationContexts

        def on_store(event: Any) -> int:
            ds = event.dataset
            ds.file_meta = event.file_meta
            with self._lock:
                self.received.append(ds)
            return 0x0000

        self._server = ae.start_server(("127.0.0.1", self.port), block=False,
                                       evt_handlers=[(evt.EVT_C_STORE, on_store)])
        self.port = int(self._server.server_address[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None


def wait_until(condition: Callable[[], bool], timeout: float = 120.0, what: str = "") -> None:
    """Poll ``condition`` until it holds; fail (AssertionError) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
