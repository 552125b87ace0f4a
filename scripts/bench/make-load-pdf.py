#!/usr/bin/env python3
"""Writes a one-page PDF of about SIZE bytes (a raw image of random pixels) with a comment
line `%GUICHETBENCH0000000000` (20 digits) that scripts/bench/load.lua overwrites per request.
Usage: make-load-pdf.py FILE SIZE"""
import os, sys

path, size = sys.argv[1], int(sys.argv[2])
side = int((size / 3) ** 0.5)
offsets = {}
with open(path, "wb") as f:
    f.write(b"%PDF-1.7\n%GUICHETBENCH0000000000\n")
    def obj(num, body):
        offsets[num] = f.tell()
        f.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")
    data = os.urandom(side * side * 3)
    obj(3, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (side, side, len(data)) + data + b"\nendstream")
    draw = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
    obj(4, b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream")
    obj(5, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /XObject << /Im0 3 0 R >> >> /Contents 4 0 R >>")
    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(2, b"<< /Type /Pages /Count 1 /Kids [5 0 R] >>")
    xref = f.tell()
    f.write(b"xref\n0 6\n0000000000 65535 f \n")
    for i in range(1, 6):
        f.write(b"%010d 00000 n \n" % offsets[i])
    f.write(b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)
