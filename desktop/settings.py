"""Persistent user preferences of the desktop app, over :class:`QSettings`.

Stored: the last folder opened, the overlay opacity, the window geometry and
state, whether identifying fields are hidden, and an optional decision
threshold override. Pass ``ini_path`` (or set ``$PNEUMO_SETTINGS``) to keep the
settings in a given INI file instead of the user's profile; tests always do.
The user's profile is Qt's native store: ``~/.config/PneumoScan/PneumoScan.conf``
on Linux, the registry (``HKEY_CURRENT_USER\\Software\\PneumoScan\\PneumoScan``) on Windows,
``~/Library/Preferences/com.pneumoscan.PneumoScan.plist`` on macOS.
``scratch=True`` (screenshot and benchmark runs) starts from the defaults in a
temporary file that is deleted at exit: the user's settings are never written.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

SETTINGS_ENV = "PNEUMO_SETTINGS"
ORGANISATION = "PneumoScan"
APPLICATION = "PneumoScan"
DEFAULT_OPACITY = 0.45


class AppSettings:
    """Typed accessors over one :class:`QSettings` store."""

    def __init__(self, ini_path: str | Path | None = None, *, scratch: bool = False) -> None:
        path = ini_path if ini_path is not None else os.environ.get(SETTINGS_ENV)
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if scratch and ini_path is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="pneumoscan-settings-")
            path = str(Path(self._scratch.name) / "settings.ini")
        if path:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self._qs = QSettings(ORGANISATION, APPLICATION)

    @property
    def store(self) -> QSettings:
        """The underlying QSettings (for tests and diagnostics)."""
        return self._qs

    def sync(self) -> None:
        """Write pending changes to disk."""
        self._qs.sync()

    # -- last folder -----------------------------------------------------------
    @property
    def last_folder(self) -> str:
        """Folder the last file dialog opened in ('' when never set)."""
        return str(self._qs.value("paths/last_folder", "", type=str))

    @last_folder.setter
    def last_folder(self, folder: str | Path) -> None:
        self._qs.setValue("paths/last_folder", str(folder))

    # -- overlay ---------------------------------------------------------------
    @property
    def overlay_opacity(self) -> float:
        """Heat-map opacity in [0, 1]."""
        value = self._qs.value("overlay/opacity", DEFAULT_OPACITY, type=float)
        return min(1.0, max(0.0, float(value)))  # type: ignore[arg-type]

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        self._qs.setValue("overlay/opacity", min(1.0, max(0.0, float(value))))

    # -- privacy ---------------------------------------------------------------
    @property
    def hide_identifiers(self) -> bool:
        """Whether patient name and id are masked in the worklist and tags panel."""
        return bool(self._qs.value("privacy/hide_identifiers", False, type=bool))

    @hide_identifiers.setter
    def hide_identifiers(self, value: bool) -> None:
        self._qs.setValue("privacy/hide_identifiers", bool(value))

    # -- threshold override ------------------------------------------------------
    @property
    def threshold_override(self) -> float | None:
        """A user-chosen decision threshold, or None to use the model card's."""
        raw = self._qs.value("model/threshold_override", "", type=str)
        try:
            value = float(str(raw))
        except ValueError:
            return None
        return value if 0.0 < value < 1.0 else None

    @threshold_override.setter
    def threshold_override(self, value: float | None) -> None:
        if value is None:
            self._qs.remove("model/threshold_override")
        else:
            self._qs.setValue("model/threshold_override", f"{float(value):.6g}")

    # -- window ------------------------------------------------------------------
    @property
    def geometry(self) -> QByteArray | None:
        """Saved main-window geometry, or None."""
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._qs.setValue("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        """Saved dock/toolbar state, or None."""
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._qs.setValue("window/state", value)
