#!/usr/bin/env python3
"""Writes a PDF of about SIZE bytes: PAGES pages, each one image of random RGB pixels stored
raw (no filter), like an uncompressed scan. Usage: make-pdf.py FILE SIZE PAGES"""
import os, sys

def main():
    path, size, pages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    side = int((size / pages / 3) ** 0.5)
    offsets = {}
    with open(path, "wb") as f:
        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

        def obj(num, body):
            offsets[num] = f.tell()
            f.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")

        kids, num = [], 3
        for _ in range(pages):
            image, content, page = num, num + 1, num + 2
            num += 3
            data = os.urandom(side * side * 3)
            obj(image, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n"
                % (side, side, len(data)) + data + b"\nendstream")
            draw = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
            obj(content, b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream")
            obj(page, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                % (image, content))
            kids.append(page)
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>"
            % (pages, b" ".join(b"%d 0 R" % k for k in kids)))
        xref = f.tell()
        f.write(b"xref\n0 %d\n0000000000 65535 f \n" % num)
        for i in range(1, num):
            f.write(b"%010d 00000 n \n" % offsets[i])
        f.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (num, xref))

main()
