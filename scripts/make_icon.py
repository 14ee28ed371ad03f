"""Draws the app icon (ibtrader/gui/resources/icons/ibtrader.png) with Pillow.

Run it again after changing the drawing: `python scripts/make_icon.py`. The PNG is
committed; the build derives the Windows .ico and the macOS .icns from it.
The motif: three candlesticks rising over a dark rounded tile, in the dark theme's colours.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024  # the largest size .icns wants; smaller ones are resampled from it
BACKGROUND = (30, 34, 42, 255)
UP = (38, 166, 154, 255)
DOWN = (239, 83, 80, 255)
GRID = (60, 66, 78, 255)
OUT = Path(__file__).resolve().parent.parent / "ibtrader/gui/resources/icons/ibtrader.png"


def draw(size: int = SIZE) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    u = size / 16  # a grid of 16 x 16 units keeps the proportions at any size
    pen.rounded_rectangle((0.5 * u, 0.5 * u, 15.5 * u, 15.5 * u), radius=3 * u, fill=BACKGROUND)
    for y in (5, 8, 11):
        pen.line((2 * u, y * u, 14 * u, y * u), fill=GRID, width=max(1, round(0.15 * u)))
    # (centre x, wick top, body top, body bottom, wick bottom, colour)
    candles = ((4.0, 8.0, 9.0, 12.0, 13.0, DOWN),
               (8.0, 5.0, 6.5, 10.0, 11.5, UP),
               (12.0, 2.5, 3.5, 7.5, 9.0, UP))
    for x, top, body_top, body_bottom, bottom, colour in candles:
        pen.line((x * u, top * u, x * u, bottom * u), fill=colour, width=round(0.5 * u))
        pen.rounded_rectangle(((x - 1.2) * u, body_top * u, (x + 1.2) * u, body_bottom * u),
                              radius=0.3 * u, fill=colour)
    return image


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    draw().save(OUT, optimize=True)
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
