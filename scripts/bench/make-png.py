#!/usr/bin/env python3
"""Writes COUNT distinct PNG files of about SIZE bytes each (random RGB pixels, which do not
compress, so the file is about the size of its pixels), the image data in IDAT chunks of
8 KiB as libpng writes it. Usage: make-png.py DIR SIZE COUNT"""
import os, struct, sys, zlib

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

def png(side):
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + os.urandom(side * 3) for _ in range(side))
    data = zlib.compress(raw, 1)
    idat = b"".join(chunk(b"IDAT", data[at:at + 8192]) for at in range(0, len(data), 8192))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b""))

def main():
    directory, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    side = int((size / 3) ** 0.5)
    os.makedirs(directory, exist_ok=True)
    for i in range(count):
        with open(os.path.join(directory, f"doc-{i:04}.png"), "wb") as out:
            out.write(png(side))

main()
