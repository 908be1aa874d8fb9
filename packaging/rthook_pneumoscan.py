"""PyInstaller runtime hook of the PneumoScan bundle, run before the app.

On Windows, extension modules find the DLLs of their own package folder only
through ``os.add_dll_directory`` (Python 3.8+ no longer searches ``PATH``):
add the folders that hold DLLs (LiteRT, GDCM, the JPEG plugins). Linux and
macOS need nothing here: their libraries load through ``$ORIGIN`` /
``@loader_path`` run paths, which the bundle keeps by keeping each package's
folder layout. Written for Windows, not tested there.
"""

import os
import sys

if sys.platform == "win32" and hasattr(os, "add_dll_directory"):
    _root = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
    for _folder in ("", "ai_edge_litert", "_gdcm", "libjpeg", "openjpeg", "rle", "jpeg_ls"):
        _path = os.path.join(_root, _folder)
        if os.path.isdir(_path):
            os.add_dll_directory(_path)
