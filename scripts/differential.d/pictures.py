"""Compares guichet's page pictures with Poppler's, page by page, for the valid PDFs of a
manifest (the full run of scripts/differential).

    pictures.py MANIFEST OUT.tsv --guichet BIN [--jobs N] [--pages N]

guichet draws each PDF as the server does (its hidden `render-pages` child, whose framed
records are read here: a JSON header line, then the JPEG bytes it announces); Poppler draws it
with `pdftoppm -r 24 -gray -cropbox`. Each of our pages is brought to Poppler's size, both are
averaged over cells of 8 x 8 pixels (a third of an inch), and the page's difference is the
largest difference of a cell's mean grey level (0-255): antialiasing and glyph shapes average
out in a cell; a band, a picture or a paragraph one of them lacks does not. Barcodes and fine
hatching differ by resampling alone (up to about 120 on the corpus's), so the figure ranks
pages for a look, it is not a verdict. Writes OUT.tsv (file, recipe, page, difference), and
prints the pages that differ most.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

from PIL import Image

CELL = 8
SHOWN = 12


def our_pages(guichet, path, pages):
    """The reading picture of each of the first `pages` pages, as PIL images (None: failed)."""
    run = subprocess.run(
        [guichet, "render-pages", "--kind", "pdf", "--max-pages", str(pages),
         "--memory-limit", str(2 << 30), "--parent", str(os.getpid()), str(path)],
        capture_output=True, timeout=300)
    out, at, drawn = run.stdout, 0, {}
    while at < len(out):
        end = out.index(b"\n", at)
        header = json.loads(out[at:end])
        at = end + 1
        if header["record"] != "page":
            continue
        thumbnail, reading = header["thumbnail"]["bytes"], header["reading"]["bytes"]
        start = at + thumbnail
        at = start + reading
        drawn[header["page"]] = (None if header["failure"]
                                 else Image.open(BytesIO(out[start:at])).convert("L"))
    return drawn


def poppler_pages(path, pages):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["pdftoppm", "-r", "24", "-gray", "-cropbox", "-l", str(pages), str(path),
                        f"{d}/page"], capture_output=True, timeout=300)
        files = sorted(Path(d).glob("page-*.pgm"))
        return {n: Image.open(f).convert("L") for n, f in enumerate(files, 1)}


def difference(ours, theirs):
    ours = ours.resize(theirs.size, Image.BILINEAR)
    w, h = theirs.size
    cells = ((w + CELL - 1) // CELL, (h + CELL - 1) // CELL)
    a = ours.resize(cells, Image.BOX).tobytes()
    b = theirs.resize(cells, Image.BOX).tobytes()
    return max(abs(x - y) for x, y in zip(a, b))


def compare(guichet, row, pages):
    path = Path(row["file"])
    try:
        ours, theirs = our_pages(guichet, path, pages), poppler_pages(path, pages)
    except (subprocess.SubprocessError, ValueError, OSError) as e:
        return [(row, 0, f"not compared: {e}")]
    found = []
    for n in sorted(set(ours) | set(theirs)):
        if ours.get(n) is None or n not in theirs:
            found.append((row, n, "drawn by one only"))
        else:
            found.append((row, n, difference(ours[n], theirs[n])))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--guichet", required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pages", type=int, default=3, help="the first pages of each PDF")
    args = ap.parse_args()
    with open(args.manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["file"].endswith(".pdf")]
    with ThreadPoolExecutor(args.jobs) as pool:
        found = [x for xs in pool.map(lambda r: compare(args.guichet, r, args.pages), rows)
                 for x in xs]
    with open(args.out, "w") as f:
        f.write("file\trecipe\tpage\tdifference\n")
        for row, page, diff in found:
            f.write(f"{row['file']}\t{row['recipe']}\t{page}\t{diff}\n")
    measured = sorted((d for d in found if isinstance(d[2], int)), key=lambda d: -d[2])
    others = [d for d in found if not isinstance(d[2], int)]
    print(f"pictures: {len(measured)} pages of {len(rows)} PDFs compared with Poppler's; "
          f"largest cell differences (0-255):", file=sys.stderr)
    for row, page, diff in measured[:SHOWN]:
        print(f"  {diff:3d}  {row['recipe']} page {page}", file=sys.stderr)
    for row, page, why in others:
        print(f"  {row['recipe']} page {page}: {why}", file=sys.stderr)


if __name__ == "__main__":
    main()
