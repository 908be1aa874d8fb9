"""The packaging files that need no build: the menu entry, the icon, and the
package data a wheel must carry."""

from __future__ import annotations

import configparser

from PIL import Image

from tests.subproc import REPO_ROOT

PACKAGING = REPO_ROOT / "packaging"
ICON = REPO_ROOT / "desktop" / "icons" / "pneumoscan.png"


def test_desktop_entry_starts_the_app_with_its_icon() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(PACKAGING / "pneumoscan.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "PneumoScan"
    assert entry["Exec"].split()[:2] == ["PneumoScan", "gui"]
    assert entry["Icon"] == ICON.stem
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";") and "MedicalSoftware" in entry["Categories"]
    assert "application/dicom" in entry["MimeType"]


def test_icon_is_a_small_square_png() -> None:
    with Image.open(ICON) as icon:
        assert icon.format == "PNG" and icon.size == (256, 256)
    assert ICON.stat().st_size < 10_000


def test_setup_ships_every_asset_kind() -> None:
    """Each file kind in assets/ is matched by a package-data pattern in setup.py."""
    setup = (REPO_ROOT / "setup.py").read_text()
    kinds = {p.suffix for p in (REPO_ROOT / "assets").iterdir() if p.is_file()} - {".py"}
    assert kinds and all(f'"*{kind}"' in setup for kind in kinds), kinds
    assert '"pneumo_assets": "assets"' in setup.replace("{", "").replace("}", "")
