"""Starting and stopping the DICOM listener from the app.

:class:`ListenerControl` runs a core :class:`~pneumo.network.listener.Listener`
with its own model runner (the listener classifies on its own thread) and the
session's result store; each record it makes is re-emitted as
:attr:`ListenerControl.arrived`, queued to the GUI thread, so arrivals join the
worklist as they are classified. Stopping waits for the films in flight, so it
runs on a plain thread and reports through :attr:`ListenerControl.stopped`.
:class:`ListenerDialog` asks for the port, AE titles and forwarding.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from pneumo.errors import PneumoError

if TYPE_CHECKING:
    from pneumo.network.listener import Listener, ListenerConfig
    from pneumo.results.store import ResultStore

LOOPBACK, ALL_INTERFACES = "127.0.0.1", "0.0.0.0"


class ListenerControl(QObject):
    """One listener at a time; see the module docstring."""

    arrived = Signal(object)
    """A :class:`~pneumo.results.records.ScanRecord` for a received film."""
    stopped = Signal(object)
    """The listener stopped; carries its :class:`ListenerStats`."""
    message = Signal(str)
    """A line for the status bar (a rejected association, a send retry)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._listener: Listener | None = None

    @property
    def running(self) -> bool:
        """True while a listener is started (until :meth:`stop` returns)."""
        return self._listener is not None

    def start(self, config: ListenerConfig, model_path: Path, store: ResultStore | None) -> str:
        """Start listening; returns the address line, or raises :class:`PneumoError`."""
        from pneumo.model.runner import ModelRunner
        from pneumo.network.listener import Listener

        if self._listener is not None:
            raise PneumoError("the listener is already running")
        runner = ModelRunner(model_path)
        listener = Listener(config, runner, store, on_record=self.arrived.emit,
                            log=self.message.emit)
        listener.start()
        self._listener = listener
        host, port = listener.address
        return f"AE title {config.ae_title} on {host}:{port}"

    def stop(self, wait: bool = False) -> None:
        """Stop accepting, finish the films in flight, then emit :attr:`stopped`."""
        listener, self._listener = self._listener, None
        if listener is None:
            return

        def run() -> None:
            self.stopped.emit(listener.stop(grace_s=10))

        thread = threading.Thread(target=run, name="pneumo-listener-stop", daemon=True)
        thread.start()
        if wait:
            thread.join(30)


class ListenerDialog(QDialog):
    """Asks where to listen, whom to accept and where to send results."""

    def __init__(self, default_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Listen for DICOM films")
        self.host = QComboBox()
        self.host.addItem("This computer only (127.0.0.1)", LOOPBACK)
        self.host.addItem("The network (every interface)", ALL_INTERFACES)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(11112)
        self.ae_title = QLineEdit("PNEUMOSCAN")
        self.allowed = QLineEdit()
        self.allowed.setPlaceholderText("any (or AE titles separated by spaces)")
        self.forward = QLineEdit()
        self.forward.setPlaceholderText("none (or HOST:PORT:AET of a PACS)")
        self.folder = QLineEdit(str(default_dir))
        form = QFormLayout(self)
        form.addRow("Accept from", self.host)
        form.addRow("Port", self.port)
        form.addRow("Our AE title", self.ae_title)
        form.addRow("Allowed calling AE titles", self.allowed)
        form.addRow("Send results to", self.forward)
        form.addRow("Keep films in", self.folder)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def config(self, threshold: float | None) -> ListenerConfig:
        """The listener configuration typed in; :class:`PneumoError` if invalid."""
        from pneumo.network.forward import Destination, check_ae_title
        from pneumo.network.listener import ListenerConfig

        forward = self.forward.text().strip()
        return ListenerConfig(
            directory=Path(self.folder.text().strip()),
            host=str(self.host.currentData()), port=self.port.value(),
            ae_title=check_ae_title(self.ae_title.text()),
            allowed_aes=tuple(check_ae_title(a)
                              for a in self.allowed.text().replace(",", " ").split()),
            forward=Destination.parse(forward) if forward else None,
            threshold=threshold,
        )
