"""``pneumo bind [FOLDER]``: bind a model folder's card to its model files."""

from __future__ import annotations

import argparse
from pathlib import Path


def bind_command(args: argparse.Namespace) -> int:
    """``pneumo bind``: write the card's decision fields into each listed model file."""
    from pneumo.model.bind import bind_folder
    from pneumo.model.locate import assets_dir

    folder = Path(args.folder) if args.folder else assets_dir()
    for line in bind_folder(folder, force=args.force):
        print(f"{folder}: {line}")
    return 0
