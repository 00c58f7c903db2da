#!/usr/bin/env python3
"""Draws the app icon (a white shield on a blue rounded square) as a 1024 px PNG with the
standard library only; `npx tauri icon` turns it into the bundle's icon set."""
import struct
import sys
import zlib

N = 1024


def inside_shield(x: float, y: float) -> bool:
    # x, y in [-1, 1]; a shield: straight top, sides curving to a point at the bottom.
    if y < -0.62 or y > 0.78:
        return False
    if y <= 0.05:
        return abs(x) <= 0.55
    half = 0.55 * (1 - ((y - 0.05) / 0.73) ** 1.6)
    return abs(x) <= half


def pixel(px: int, py: int) -> bytes:
    x = (px + 0.5) / N * 2 - 1
    y = (py + 0.5) / N * 2 - 1
    r = 0.22  # corner radius of the square, in the same units
    qx, qy = max(abs(x) - (1 - r), 0), max(abs(y) - (1 - r), 0)
    if (qx * qx + qy * qy) ** 0.5 > r:
        return b"\x00\x00\x00\x00"
    if inside_shield(x, y):
        inner = inside_shield(x * 1.25, (y - 0.05) * 1.25)
        return b"\x24\x57\xc5\xff" if inner and abs(x) < 0.05 else b"\xff\xff\xff\xff"
    return b"\x24\x57\xc5\xff"


def main(out: str) -> None:
    raw = b"".join(b"\x00" + b"".join(pixel(px, py) for px in range(N)) for py in range(N))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(out, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main(sys.argv[1])
