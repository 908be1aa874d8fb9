"""Python warnings that decoding libraries raise, named after the file being decoded.

pydicom and Pillow report oddities of a file ("Expected explicit VR, but found
implicit VR", "Corrupt EXIF data") as Python warnings, which Python prints to
standard error once per source line and without the file's name: useless in a
scan of thousands of files. While a thread decodes a file inside
:func:`decoding`, such a warning is printed as one line naming the file,
``pneumo: warning: FILE: Category: message``, every time. Outside it,
warnings behave as usual.

Pillow's decompression-bomb warning (an image between one and two times
``Image.MAX_IMAGE_PIXELS``) is made an error for the whole process, so that a
limit is a limit (and no thread-unsafe ``catch_warnings`` is needed per file).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from pneumo.util.text import warning_line

_LIBRARIES = r"(PIL|pydicom)(\.|$)"
_state = threading.local()
_install_lock = threading.Lock()
_original_show: Any = None


@contextlib.contextmanager
def decoding(path: Path) -> Iterator[None]:
    """Name ``path`` in the library warnings this thread raises meanwhile."""
    install()
    previous = getattr(_state, "path", None)
    _state.path = path
    try:
        yield
    finally:
        _state.path = previous


def install() -> None:
    """Install the warning hook and filters where they are missing.

    Cheap when they are in place; re-installs after a ``catch_warnings``
    block (a test framework's, say) restored the previous state.
    """
    global _original_show
    if warnings.showwarning is _show and _filters_present():
        return
    from PIL import Image

    with _install_lock:
        if warnings.showwarning is not _show:
            _original_show = warnings.showwarning
            warnings.showwarning = _show
        if not _filters_present():
            warnings.filterwarnings("always", module=_LIBRARIES)
            warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _filters_present() -> bool:
    from PIL import Image

    bomb = always = False
    for action, _message, category, module, _line in warnings.filters:
        if action == "error" and category is Image.DecompressionBombWarning:
            bomb = True
        elif action == "always" and module is not None and module.pattern == _LIBRARIES:
            always = True
    return bomb and always


def _show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
          file: TextIO | None = None, line: str | None = None) -> None:
    path = getattr(_state, "path", None)
    if path is None:
        _original_show(message, category, filename, lineno, file, line)
    else:
        _print_named(path, category, message)


def _print_named(path: Path, category: type[Warning], message: Any) -> None:
    try:
        print(warning_line(f"{category.__name__}: {message}", path), file=sys.stderr, flush=True)
    except (OSError, ValueError):  # no usable stderr (a windowed app): nothing to say it on
        pass
