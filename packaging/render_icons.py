"""Render the application icon's SVG source into the raster files desktops and bundles need.

    python packaging/render_icons.py

Writes next to resources/icons/app/hindsight.svg: hindsight-N.png for the hicolor sizes
(Linux menus and the window icon), hindsight.ico (Windows .exe) and hindsight.icns (macOS
.app). ICO and ICNS hold PNG images, which every supported Windows and macOS version reads,
so Qt's renderer is all that is needed; the outputs are committed and only change with the SVG.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons" / "app"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 256)
# ICNS element types holding PNG data, by pixel size (ic10 is the 512 pt @2x image).
ICNS_TYPES = ((b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
              (b"ic09", 512), (b"ic10", 1024))  # fmt: skip


def render_png(renderer: QSvgRenderer, size: int) -> bytes:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def ico(images: dict[int, bytes]) -> bytes:
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, payload = b"", b""
    for size, png in images.items():
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        offset += len(png)
        payload += png
    return header + entries + payload


def icns(images: dict[int, bytes]) -> bytes:
    body = b"".join(
        kind + struct.pack(">I", 8 + len(images[size])) + images[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    QGuiApplication(sys.argv)
    renderer = QSvgRenderer(str(ICON_DIR / "hindsight.svg"))
    if not renderer.isValid():
        print("hindsight.svg is not a valid SVG", file=sys.stderr)
        return 1
    sizes = sorted({*PNG_SIZES, *ICO_SIZES, *(size for _, size in ICNS_TYPES)})
    pngs = {size: render_png(renderer, size) for size in sizes}
    for size in PNG_SIZES:
        (ICON_DIR / f"hindsight-{size}.png").write_bytes(pngs[size])
    (ICON_DIR / "hindsight.ico").write_bytes(ico({size: pngs[size] for size in ICO_SIZES}))
    (ICON_DIR / "hindsight.icns").write_bytes(icns(pngs))
    print(f"wrote {len(PNG_SIZES)} PNGs, hindsight.ico and hindsight.icns to {ICON_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
