#!/usr/bin/env python3
"""Regenerate the tiny media files the provider cases upload (stdlib only).

    python3 tests/providers/media/generate.py

cat.png: a 4x4 RGB PNG (zlib-compressed scanlines).
dog.jpg: an 8x8 greyscale baseline JPEG with one DC-only block.
clip.mp4: an MP4 container (ftyp isom, mdat, moov with mvhd and one track's
  tkhd: 640x360, 5.25 s), the boxes herald's sniffers and mp4 probe read;
  the mdat holds filler, not real H.264 (no encoder is needed to build it).
movie: the same bytes under a name without an extension (a video told
  only by its bytes).
"""

import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def png(w=4, h=4):
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 60, y * 60, 200)) for x in range(w)) for y in range(h)
    )
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def jpeg():
    def seg(marker, payload):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload

    app0 = seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dqt = seg(0xDB, b"\x00" + bytes([1] * 64))
    sof = seg(0xC0, b"\x08" + struct.pack(">HH", 8, 8) + b"\x01" + b"\x01\x11\x00")
    # one 1-bit code each: DC category 0, AC end-of-block
    dht_dc = seg(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
    dht_ac = seg(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    sos = seg(0xDA, b"\x01" + b"\x01\x00" + b"\x00\x3f\x00")
    scan = bytes([0b00111111])  # DC '0', EOB '0', padded with ones
    return b"\xff\xd8" + app0 + dqt + sof + dht_dc + dht_ac + sos + scan + b"\xff\xd9"


def mp4(duration_ms=5250, w=640, h=360):
    def box(t, p):
        return struct.pack(">I", 8 + len(p)) + t + p

    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mvhd = box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000, duration_ms)
               + struct.pack(">IH", 0x10000, 0x100) + b"\0" * 70 + struct.pack(">I", 2))
    tkhd = box(b"tkhd", b"\0\0\0\x03" + struct.pack(">IIIII", 0, 0, 1, 0, duration_ms)
               + b"\0" * 52 + struct.pack(">II", w << 16, h << 16))
    moov = box(b"moov", mvhd + box(b"trak", tkhd))
    return ftyp + box(b"mdat", bytes((i * 31 + 7) % 251 for i in range(2000))) + moov


if __name__ == "__main__":
    for name, data in (("cat.png", png()), ("dog.jpg", jpeg()), ("clip.mp4", mp4()), ("movie", mp4())):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print(name, len(data))
