"""Draw the app icon, ``desktop/icons/pneumoscan.png`` (256 px, committed).

Run by a developer when the icon changes: ``python packaging/make_icon.py``.
Two lungs over a rib cage on a rounded dark-blue square, with a scan line.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parents[1] / "desktop" / "icons" / "pneumoscan.png"
SIZE, SCALE = 256, 4  # drawn 4x larger, then downsampled for smooth edges


def draw() -> Image.Image:
    s = SIZE * SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((8 * SCALE, 8 * SCALE, s - 8 * SCALE, s - 8 * SCALE),
                        radius=48 * SCALE, fill=(20, 48, 86, 255))
    lung = (226, 236, 246, 255)
    d.ellipse((58 * SCALE, 60 * SCALE, 124 * SCALE, 206 * SCALE), fill=lung)
    d.ellipse((132 * SCALE, 60 * SCALE, 198 * SCALE, 206 * SCALE), fill=lung)
    d.rectangle((121 * SCALE, 40 * SCALE, 135 * SCALE, 120 * SCALE), fill=lung)  # trachea
    for i, y in enumerate(range(92, 196, 22)):  # ribs: darker bands across both lungs
        width = (7 - i // 2) * SCALE
        d.arc((40 * SCALE, (y - 40) * SCALE, 216 * SCALE, (y + 40) * SCALE), 200, 340,
              fill=(120, 150, 185, 255), width=width)
    d.rectangle((28 * SCALE, 150 * SCALE, 228 * SCALE, 158 * SCALE),
                fill=(255, 176, 32, 255))  # the scan line
    img = img.filter(ImageFilter.SMOOTH)
    return img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # a 64-colour palette keeps the file at a few kB
    draw().quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(OUT, optimize=True)
    print(f"{OUT}: {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
