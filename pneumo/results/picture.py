"""Pictures of a result: the film, its Grad-CAM overlay and a caption burnt in.

Used by ``pneumo explain``: one PNG (the film with its heat map and the
result) or an animated GIF (one frame per convolution layer). The caption is a
band above the film in the result's colour (:func:`~pneumo.results.display.colours_for`)
with the banner of :func:`~pneumo.results.display.describe`, then smaller
lines: warnings, notes and the not-for-diagnosis notice. Pillow only, no Qt.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pneumo.model.gradcam import overlay_rgba
from pneumo.results.display import ResultView, colours_for
from pneumo.util.atomic import write_bytes_atomic

NOTICE = "PneumoScan: not for diagnostic use"
GIF_MAX_SIDE = 512
"""Frames of the per-layer animation are at most this many pixels on a side."""
_FONT_FILE = "DejaVuSans.ttf"
_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Caption:
    """What is burnt above the film: the banner (emphasised) and further lines."""

    view: ResultView
    lines: tuple[str, ...] = ()

    @property
    def banner(self) -> str:
        """The result line: headline and detail."""
        return f"{self.view.headline}  {self.view.detail}".strip()


def _font(size: int) -> tuple[_Font, bool]:
    """A font of about ``size`` px and whether it has non-ASCII glyphs (≥, ⚠)."""
    try:
        return ImageFont.truetype(_FONT_FILE, size), True
    except OSError:
        return ImageFont.load_default(size), False


def _wrap(text: str, font: _Font, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to ``width`` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and font.getlength(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines


def _plain(text: str, unicode: bool) -> str:
    return text if unicode else text.replace("≥", ">=").replace("⚠", "!")


def render(gray: np.ndarray, heatmap: np.ndarray | None, caption: Caption,
           opacity: float = 0.4) -> Image.Image:
    """The film (``gray`` in [0, 1]) with ``heatmap`` blended in and ``caption`` above.

    ``heatmap`` is in [0, 1] at any size (stretched over the film); None draws
    the film alone.
    """
    gray = np.asarray(gray, dtype=np.float32)
    if heatmap is None:
        levels = (np.clip(gray, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        film = Image.fromarray(levels).convert("RGB")
    else:
        film = Image.fromarray(overlay_rgba(gray, heatmap, opacity)).convert("RGB")
    width = film.width
    base = max(11, round(width / 48))
    big, unicode = _font(round(base * 1.4))
    small, _ = _font(base)
    pad = max(4, base // 2)
    banner = _wrap(_plain(caption.banner, unicode), big, width - 2 * pad)
    rest = [w for line in (*caption.lines, NOTICE)
            for w in _wrap(_plain(line, unicode), small, width - 2 * pad)]
    big_h, small_h = round(base * 1.4 * 1.25), round(base * 1.25)
    band_h = pad + big_h * len(banner) + pad
    notes_h = pad + small_h * len(rest) + pad
    out = Image.new("RGB", (width, band_h + notes_h + film.height), "white")
    draw = ImageDraw.Draw(out)
    state = caption.view.state
    fg, bg = colours_for(state, caption.view.unreliable)
    draw.rectangle((0, 0, width, band_h), fill=bg)
    y = pad
    for line in banner:
        draw.text((pad, y), line, fill=fg, font=big)
        y += big_h
    draw.rectangle((0, band_h, width, band_h + notes_h), fill="#f4f4f4")
    y = band_h + pad
    for line in rest:
        draw.text((pad, y), line, fill="#202020", font=small)
        y += small_h
    out.paste(film, (0, band_h + notes_h))
    return out


def shrink(gray: np.ndarray, max_side: int = GIF_MAX_SIDE) -> np.ndarray:
    """``gray`` scaled down (area averaging) so that no side exceeds ``max_side``."""
    h, w = gray.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return np.asarray(gray, dtype=np.float32)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    levels = Image.fromarray(np.asarray(gray, dtype=np.float32))
    return np.asarray(levels.resize(size, Image.Resampling.BOX), dtype=np.float32)


def save_png(image: Image.Image, path: Path) -> Path:
    """Write ``image`` as PNG, atomically."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes_atomic(path, buffer.getvalue())
    return path


def save_gif(frames: Sequence[Image.Image], path: Path, frame_ms: int = 900) -> Path:
    """Write ``frames`` as a looping animated GIF, atomically."""
    if not frames:
        raise ValueError("an animation needs at least one frame")
    width = max(f.width for f in frames)
    height = max(f.height for f in frames)
    padded = []
    for frame in frames:  # the caption may wrap to more lines on one frame than another
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(frame, (0, 0))
        padded.append(canvas.quantize(256))
    buffer = io.BytesIO()
    padded[0].save(buffer, format="GIF", save_all=True, append_images=padded[1:],
                   duration=frame_ms, loop=0, disposal=1)
    write_bytes_atomic(path, buffer.getvalue())
    return path
