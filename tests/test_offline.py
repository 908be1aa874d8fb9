"""No network: neither a scan nor the desktop app opens a network socket.

Each check runs the real entry point (``pneumo.cli.main`` or
``desktop.app.main``) in a fresh interpreter that, before importing anything
of ours, installs :func:`sys.addaudithook` recording every ``socket.*`` event
(``socket.__new__``, ``connect``, ``bind``, ``getaddrinfo``, ``gethostbyname``,
``sendto`` ...) plus ``urllib``/``http.client`` ones. One thing is tolerated
and recorded apart: when ``requests`` is installed, ``pydicom.pixels`` imports
it (through ``pydicom.data.download``) and urllib3 then binds a throw-away
AF_INET6 socket to ``("::1", 0)`` at import time to learn whether IPv6 works
(loopback, port 0, never connected). AF_UNIX sockets (which Qt
may use locally, and which multiprocessing's forkserver uses to start the
decoding workers and hand them their pipes) are allowed, recorded apart. Audit hooks only see Python-level
calls, so a thread also samples ``/proc/self/fd`` every 20 ms and looks every new
socket inode up in ``/proc/self/net/{tcp,tcp6,udp,udp6,raw,raw6}``: an internet
socket opened from C++ (Qt) would show there.

The same sessions (module-level cache, run once per pytest session) are used by
``tests/test_privacy.py`` and ``tests/test_integrity.py``: HOME, XDG folders,
TMPDIR and the working directory are all temporary folders, so those tests can
check what the run wrote and that the source files are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "MRN-98765"
SHIPPED_MODEL = REPO_ROOT / "assets" / "model.tflite"

# Runs first in the child: the audit hook and the /proc sampler. Results are
# written as JSON to $PNEUMO_AUDIT_OUT at exit.
AUDIT_PRELUDE = r"""
import atexit, json, os, socket as _socket, sys, threading, time
_AF_UNIX = int(_socket.AF_UNIX)
_events, _unix, _inet, _probes = [], [], [], []
_WATCH = ("socket.", "urllib.", "http.client.", "ftplib.", "smtplib.", "poplib.",
          "imaplib.", "nntplib.", "telnetlib.", "webbrowser.")
_HARMLESS = {"socket.gethostname", "socket.sethostname"}

def _is_unix(event, args):
    if event == "socket.__new__":
        return len(args) > 1 and int(args[1]) == _AF_UNIX
    if event in ("socket.connect", "socket.bind"):
        sock, addr = args[0], args[1]
        fam = getattr(sock, "family", None)
        return (fam is not None and int(fam) == _AF_UNIX) or isinstance(addr, (str, bytes))
    fam = getattr(args[0], "family", None) if args else None  # sendmsg, recvmsg, ...
    return fam is not None and int(fam) == _AF_UNIX

def _is_ipv6_probe(event, args):
    # urllib3 (imported by pydicom.data.download when requests is installed) binds
    # a throw-away AF_INET6 socket to ("::1", 0) at import time to learn whether
    # IPv6 works. Loopback, no port, never connected: recorded apart.
    if event == "socket.bind" and tuple(args[1])[:2] != ("::1", 0):
        return False
    frame = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name == "_has_ipv6" and code.co_filename.replace("\\", "/").endswith(
                "urllib3/util/connection.py"):
            return True
        frame = frame.f_back
    return False

def _hook(event, args):
    if not event.startswith(_WATCH) or event in _HARMLESS:
        return
    entry = [event, repr(args)[:200]]
    if _is_unix(event, args):
        _unix.append(entry)
    elif event in ("socket.__new__", "socket.bind") and _is_ipv6_probe(event, args):
        _probes.append(entry)
    else:
        _events.append(entry)

sys.addaudithook(_hook)

def _net_inodes():
    found = {}
    for name in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        try:
            with open("/proc/self/net/" + name) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 9:
                        found[parts[9]] = name + " " + parts[1] + " -> " + parts[2]
        except OSError:
            pass
    return found

_seen = set()
def _sample():
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return
    new = set()
    for fd in fds:
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inode = target[8:-1]
            if inode not in _seen:
                new.add(inode)
    if new:
        _seen.update(new)
        table = _net_inodes()
        for inode in new:
            if inode in table:
                _inet.append(table[inode])

_stop = threading.Event()
def _sampler():
    while not _stop.wait(0.02):
        _sample()
threading.Thread(target=_sampler, name="audit-sampler", daemon=True).start()

def _dump():
    _stop.set()
    _sample()
    heavy = sorted(m for m in sys.modules if m.startswith(("PySide6.QtNetwork", "httpx",
                                                               "aiohttp")))
    with open(os.environ["PNEUMO_AUDIT_OUT"], "w") as fh:
        json.dump({"events": _events, "unix": _unix, "inet_sockets": _inet, "probes": _probes,
                   "socket_inodes": len(_seen), "network_modules": heavy}, fh)
atexit.register(_dump)
"""

CLI_MAIN = """
from pneumo.cli import main
sys.exit(main(sys.argv[1:]))
"""

# Also prints the app's model banner, so the tamper test can read the message.
GUI_MAIN = """
import desktop.main_window as _mw
_orig = _mw.MainWindow._model_loaded
def _model_loaded(self):
    _orig(self)
    text = self.model_bar.text() if self.model_bar.isVisibleTo(self) else ""
    print("MODEL_BAR " + " ".join(text.split()), flush=True)
_mw.MainWindow._model_loaded = _model_loaded
from desktop.app import main
sys.exit(main(sys.argv[1:]))
"""


# -- sources --------------------------------------------------------------------
def make_sources(folder: Path) -> dict[str, Path]:
    """A PNG, a JPEG and a DICOM (PatientName Doe^Jane) that pass the input gate."""
    from PIL import Image

    from tests.test_desktop_support import film, write_dicom, write_png

    folder.mkdir(parents=True, exist_ok=True)
    png = write_png(folder / "film_a.png", film(21, True))
    jpeg = folder / "film_b.jpg"
    Image.fromarray((film(22, False) * 255).astype(np.uint8)).save(jpeg, quality=92)
    dicom = write_dicom(folder / "film_c.dcm", film(23, True), PatientName=PATIENT_NAME,
                        PatientID=PATIENT_ID)
    return {"png": png, "jpeg": jpeg, "dicom": dicom}


def fingerprint(paths: list[Path]) -> dict[str, tuple[str, int, int]]:
    """path -> (sha256, size, mtime_ns)."""
    out = {}
    for p in paths:
        st = p.stat()
        out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


def tree(root: Path) -> dict[str, int]:
    """Every file and folder under ``root`` (relative path -> size, -1 for folders)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = -1
        for name in filenames:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = os.path.getsize(full)
    return out


@dataclass
class Session:
    """One audited run of the CLI or the app in an isolated environment."""

    root: Path
    sources: dict[str, Path]
    outputs: list[Path]
    before: dict[str, tuple[str, int, int]]
    after: dict[str, tuple[str, int, int]]
    root_before: dict[str, int]
    root_after: dict[str, int]
    returncode: int
    stdout: str
    stderr: str
    audit: dict[str, Any]

    def new_entries(self) -> list[str]:
        return sorted(set(self.root_after) - set(self.root_before))


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """HOME, XDG folders and TMPDIR under ``root``; offscreen Qt; no bytecode writes."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PNEUMO_", "XDG_")) and k not in ("HOME", "TMPDIR")}
    dirs = {"HOME": "home", "XDG_CONFIG_HOME": "home/.config", "XDG_CACHE_HOME": "home/.cache",
            "XDG_DATA_HOME": "home/.local/share", "XDG_STATE_HOME": "home/.local/state",
            "XDG_RUNTIME_DIR": "runtime", "TMPDIR": "tmp"}
    for key, rel in dirs.items():
        (root / rel).mkdir(parents=True, exist_ok=True)
        env[key] = str(root / rel)
    os.chmod(root / "runtime", 0o700)
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OPENBLAS_NUM_THREADS="1")
    env.update(extra)
    return env


def run_audited(root: Path, main_code: str, args: list[str], outputs: list[Path],
                extra_env: dict[str, str] | None = None, timeout: float = 240) -> Session:
    """Run ``main_code`` under the audit prelude with cwd ``root/cwd``."""
    sources = make_sources(root / "sources")
    cwd = root / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    audit_out = root / "audit.json"
    env = isolated_env(root, PNEUMO_AUDIT_OUT=str(audit_out), **(extra_env or {}))
    src_list = sorted(sources.values())
    before, root_before = fingerprint(src_list), tree(root)
    argv = [a.format(**{k: str(v) for k, v in sources.items()}) for a in args]
    proc = subprocess.run([sys.executable, "-c", AUDIT_PRELUDE + main_code, *argv], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    audit = json.loads(audit_out.read_text()) if audit_out.is_file() else {"missing": True}
    audit_out.unlink(missing_ok=True)
    return Session(root, sources, outputs, before, fingerprint(src_list), root_before,
                   tree(root), proc.returncode, proc.stdout, proc.stderr, audit)


_CACHE: dict[tuple[str, str], Session] = {}


def _cached(base: Path, name: str, make: Any) -> Session:
    key = (str(base), name)
    if key not in _CACHE:
        _CACHE[key] = make(base / f"audited-{name}")
    return _CACHE[key]


def cli_session(base: Path) -> Session:
    """``pneumo scan`` of PNG, JPEG and DICOM with CSV and JSON export (shipped model)."""

    def make(root: Path) -> Session:
        out = root / "out"
        outputs = [out / "results.csv", out / "results.json"]
        return run_audited(root, CLI_MAIN, ["scan", "{png}", "{jpeg}", "{dicom}", "--csv",
                                            str(outputs[0]), "--json", str(outputs[1])], outputs)

    return _cached(base, "cli", make)


def gui_session(base: Path) -> Session:
    """``pneumo gui --screenshot`` of the same files (shipped model, ``--settings``:
    a screenshot run writes settings only to a file named on its command line)."""

    def make(root: Path) -> Session:
        shot = root / "out" / "window.png"
        settings = root / "config" / "pneumo.ini"
        return run_audited(root, GUI_MAIN, ["--timeout", "150", "--settings", str(settings),
                                            "--screenshot", str(shot),
                                            "{png}", "{jpeg}", "{dicom}"], [shot, settings])

    return _cached(base, "gui", make)


def _shipped() -> None:
    if not SHIPPED_MODEL.is_file():
        pytest.skip("no shipped model in assets/")


def _assert_offline(s: Session) -> None:
    assert "missing" not in s.audit, f"audit results not written (rc {s.returncode}):\n" \
        f"{s.stderr[-3000:]}"
    assert s.audit["events"] == [], s.audit["events"][:20]
    assert s.audit["inet_sockets"] == [], s.audit["inet_sockets"]
    assert s.audit["network_modules"] == []
    # The only tolerated socket: urllib3's import-time IPv6 probe (see AUDIT_PRELUDE).
    assert all(e[0] in ("socket.__new__", "socket.bind") for e in s.audit["probes"])
    assert len(s.audit["probes"]) <= 2


# -- tests ----------------------------------------------------------------------
def test_audit_hook_sees_a_connect(tmp_path: Path) -> None:
    """The prelude really records connections, getaddrinfo and inet sockets."""
    code = """
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(("localhost", srv.getsockname()[1]))
import time; time.sleep(0.1)
u = socket.socket(socket.AF_UNIX); u.close()
"""
    s = run_audited(tmp_path, code, [], [])
    names = {e[0] for e in s.audit["events"]}
    assert {"socket.__new__", "socket.bind", "socket.connect", "socket.getaddrinfo"} <= names
    assert s.audit["inet_sockets"], s.audit
    assert [e[0] for e in s.audit["unix"]] == ["socket.__new__"]


def test_cli_scan_opens_no_socket(tmp_path_factory: pytest.TempPathFactory) -> None:
    _shipped()
    s = cli_session(tmp_path_factory.getbasetemp())
    assert s.returncode == 0, s.stderr[-3000:]
    assert "3 files" in s.stdout
    _assert_offline(s)


def test_gui_session_opens_no_network_socket(tmp_path_factory: pytest.TempPathFactory) -> None:
    pytest.importorskip("PySide6")
    _shipped()
    s = gui_session(tmp_path_factory.getbasetemp())
    assert s.returncode == 0, s.stderr[-3000:]
    assert "screenshot saved" in s.stdout
    _assert_offline(s)
    # Local sockets only: Qt's, and the forkserver's (which passes the decoding
    # workers their pipes with sendmsg/recvmsg).
    assert all(e[0] in ("socket.__new__", "socket.connect", "socket.bind", "socket.sendmsg",
                        "socket.recvmsg") for e in s.audit["unix"])


def test_sources_helper_is_gated_in(tmp_path: Path) -> None:
    """The three sources pass the loader and the input gate (so they are classified)."""
    from pneumo.checks.gate import check_input
    from pneumo.films.imaging import load_image

    for path in make_sources(tmp_path).values():
        image = load_image(path)
        assert check_input(image)[1] is None, path
