"""A small PNG reader for checking screenshots (8-bit RGB or RGBA, not interlaced — what Chromium
writes): pixels as (r, g, b) tuples. Only the standard library; no imaging package needed."""

from __future__ import annotations

import struct
import zlib
from collections import Counter

_CHANNELS = {2: 3, 6: 4}


def pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", 0
    height = depth = colour = interlace = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    n = _CHANNELS[colour]
    raw, stride = zlib.decompress(idat), width * n
    out: list[tuple[int, int, int]] = []
    previous = bytearray(stride)
    k = 0
    for _ in range(height):
        kind, line = raw[k], bytearray(raw[k + 1 : k + 1 + stride])
        k += 1 + stride
        for i in range(stride):
            a = line[i - n] if i >= n else 0
            b = previous[i]
            c = previous[i - n] if i >= n else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += [(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, n)]
        previous = line
    return width, height, out


def colours(png: bytes) -> Counter[tuple[int, int, int]]:
    return Counter(pixels(png)[2])
