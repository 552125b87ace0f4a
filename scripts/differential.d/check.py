"""Runs the reference tools and guichet on every file of a manifest; one JSON line a file.

    check.py MANIFEST OUT.jsonl --guichet BIN [--jobs N]
    check.py --pillow FILE          (internal: the Pillow check of one image, in its own process)

Reference label of a file (what the reference tools say):
- PDF (a `%PDF-` header within its first 1024 bytes):
  `encrypted`  qpdf --requires-password says it needs one (exit 0) or is encrypted for an
               owner only (exit 3);
  `active`     qpdf --json finds JavaScript (/JS, /S /JavaScript, a /JavaScript name tree),
               a /Launch action, page or document /AA actions, or embedded files
               (/EmbeddedFiles, /Type /EmbeddedFile);
  `clean`      qpdf --check exits 0 without a WARNING, and pdftoppm -r 20 draws every page
               (as many as qpdf --show-npages counts) with nothing on stderr;
  `repaired`   qpdf --check warns (exit 3, or WARNING lines), or pdftoppm prints a message,
               but pdftoppm draws every page (exit 0): one of them had to repair the file;
  `damaged`    anything else (qpdf --check exit 2, pdftoppm failing or missing pages).
  Warnings about a linearized file's hint tables (qpdf's linearization check, Poppler's
  "hints table" messages) are not counted: they describe only the fast-web-view hints,
  which every viewer ignores when they are wrong (Ghostscript's -dFastWebView and mutool
  clean -l write inexact ones); they stay in the detail.
- Image: `clean` when Pillow verifies then decodes every frame (Image.verify(), then a
  reopen and .load() of each frame) and ImageMagick's identify reads it with exit 0 and
  nothing on stderr (`identify -verbose`, which decodes every frame, where plain identify
  reads only the headers); `damaged` otherwise (both opinions are kept in the detail).

guichet runs once a file, as `/usr/bin/time -f '%e %M' timeout 20 guichet validate --json
FILE`: its JSON line, exit status, stderr, seconds and peak RSS are recorded.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import IM_IDENTIFY, read_tsv  # noqa: E402

TOOL_TIMEOUT = 60
GUICHET_TIMEOUT = 20  # the failure threshold (10 s) is applied by report.py


def sh(cmd, timeout=TOOL_TIMEOUT):
    """(exit status, stdout, stderr) as text; 124 on timeout."""
    try:
        p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return 124, "", f"timeout after {timeout} s"


def first_line(text, n=140):
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:n]
    return ""


def active_content(objects):
    """Names of the active content found in qpdf --json's objects."""
    found = set()

    def walk(v):
        if isinstance(v, dict):
            if "/JS" in v or v.get("/S") == "/JavaScript" or "/JavaScript" in v:
                found.add("javascript")
            if v.get("/S") == "/Launch":
                found.add("launch")
            if "/AA" in v:
                found.add("aa")
            if "/EmbeddedFiles" in v or v.get("/Type") == "/EmbeddedFile":
                found.add("embedded_file")
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(objects)
    return sorted(found)


# qpdf's linearization check (QPDF_linearization.cc) and Poppler's hint-table messages.
HINT_WARNING = re.compile(
    r"hint table|hints table|\(/[OTEHN]\) mismatch|nshared_|shared identifier|linearization data|"
    r"page length mismatch for page|object count mismatch for page|in computed list but not")


def reference_pdf(path):
    rc, out, err = sh(["qpdf", "--requires-password", path])
    if rc in (0, 3):
        _, enc, _ = sh(["qpdf", "--show-encryption", path]) if rc == 3 else (0, "", "")
        what = "user password" if rc == 0 else "owner password only"
        detail = " ".join(first_line(enc, 40).split()) if enc else ""
        return "encrypted", f"qpdf --requires-password={rc} ({what}) {detail}".strip()
    details = []
    rc_json, out_json, _ = sh(["qpdf", "--json=2", "--json-key=qpdf", path])
    active = []
    if rc_json in (0, 3):
        try:
            active = active_content(json.loads(out_json).get("qpdf", []))
        except ValueError:
            pass
    if active:
        return "active", "qpdf --json: " + ",".join(active)
    rc, out, err = sh(["qpdf", "--check", path])
    all_warnings = [line for line in (out + err).splitlines() if "WARNING" in line]
    warnings = [line for line in all_warnings if not HINT_WARNING.search(line)]
    hints = len(all_warnings) - len(warnings)
    if rc == 3 and not warnings:
        rc = 0  # only hint-table warnings
    details.append(f"qpdf --check={rc}" + (f" ({len(warnings)} warnings: "
                                          f"{first_line(warnings[0].replace(path + ':', ''), 110)})"
                                          if warnings else "")
                   + (f" ({hints} linearization hint warnings ignored)" if hints else ""))
    if rc not in (0, 3):
        details.append(first_line(err or out))
    _, npages, _ = sh(["qpdf", "--show-npages", path])
    try:
        npages = int(npages.strip())
    except ValueError:
        npages = None
    with tempfile.TemporaryDirectory(prefix="diff-ppm-") as d:
        prc, _, perr = sh(["pdftoppm", "-r", "20", path, f"{d}/p"])
        drawn = len(os.listdir(d))
    messages = [line for line in perr.splitlines() if line.strip() and not HINT_WARNING.search(line)]
    all_drawn = prc == 0 and (npages is None or drawn == npages) and drawn > 0
    details.append(f"pdftoppm={prc} drew {drawn}/{npages} pages"
                   + (f": {first_line(messages[0], 110)}" if messages else ""))
    if rc == 0 and not warnings and all_drawn and not messages:
        return "clean", "; ".join(details)
    if rc in (0, 3) and all_drawn:
        return "repaired", "; ".join(details)
    return "damaged", "; ".join(details)


def reference_image(path):
    rc, out, err = sh([sys.executable, __file__, "--pillow", path])
    try:
        pil = json.loads(out)
    except ValueError:
        pil = {"ok": False, "error": f"pillow check exited {rc}: {first_line(err)}"}
    # -verbose decodes every frame (to print statistics); plain identify reads headers only.
    irc, iout, ierr = sh([IM_IDENTIFY, "-verbose", path])
    ident_ok = irc == 0 and not ierr.strip()
    pil_txt = (f"Pillow ok ({pil.get('format')} {pil.get('mode')} {pil.get('size')}, {pil.get('frames')} frames)"
               if pil["ok"] else f"Pillow: {pil['error'][:120]}")
    id_txt = "identify ok" if ident_ok else f"identify={irc}: {first_line((ierr or iout).replace(path, 'FILE'), 120)}"
    label = "clean" if pil["ok"] and ident_ok else "damaged"
    return label, f"{pil_txt}; {id_txt}"


def pillow_check(path):
    """verify(), then reopen and load every frame. Prints one JSON object."""
    import warnings

    from PIL import Image, ImageFile

    warnings.simplefilter("error", Image.DecompressionBombWarning)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    res = {"ok": False}
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            res.update(format=im.format, mode=im.mode, size=list(im.size))
            frames = getattr(im, "n_frames", 1)
            for i in range(frames):
                im.seek(i)
                im.load()
            res["frames"] = frames
        res["ok"] = True
    except Exception as e:  # noqa: BLE001 - every failure is the answer
        res["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(res))


def is_pdf(path):
    with open(path, "rb") as f:
        return b"%PDF-" in f.read(1024)


def run_guichet(guichet, path):
    with tempfile.NamedTemporaryFile(prefix="diff-time-", mode="r") as t:
        cmd = ["/usr/bin/time", "-f", "%e %M", "-o", t.name, "timeout", "-k", "2", str(GUICHET_TIMEOUT),
               guichet, "validate", "--json", path]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        times = t.read().split()
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    res = {"rc": p.returncode, "stderr": err[-400:], "seconds": None, "rss_kib": None, "answer": None}
    # /usr/bin/time writes "Command exited with non-zero status N" before the figures.
    nums = [x for x in times if x.replace(".", "", 1).isdigit()]
    if len(nums) >= 2:
        res["seconds"], res["rss_kib"] = float(nums[-2]), int(nums[-1])
    lines = [line for line in out.splitlines() if line.strip()]
    if len(lines) == 1:
        try:
            ans = json.loads(lines[0])
            if isinstance(ans, dict) and ans.get("verdict") in ("accepted", "rejected"):
                res["answer"] = ans
        except ValueError:
            pass
    if res["answer"] is None:
        res["stdout"] = out[:400]
    return res


def check_one(row, guichet):
    path = row["file"]
    kind = "pdf" if is_pdf(path) else "image"
    try:
        label, detail = (reference_pdf if kind == "pdf" else reference_image)(path)
    except Exception as e:  # noqa: BLE001 - a reference that fails is recorded, not fatal
        label, detail = "damaged", f"reference check failed: {type(e).__name__}: {e}"
    g = run_guichet(guichet, path)
    return {**row, "ref_kind": kind, "label": label, "ref_detail": detail.replace("\t", " "), "guichet": g}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--pillow":
        pillow_check(sys.argv[2])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--guichet", required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    rows = read_tsv(args.manifest)
    assert shutil.which("qpdf") and shutil.which("pdftoppm"), "qpdf and pdftoppm are needed"
    done = 0
    with open(args.out, "w") as out, ThreadPoolExecutor(args.jobs) as pool:
        for res in pool.map(lambda r: check_one(r, args.guichet), rows):
            out.write(json.dumps(res, ensure_ascii=False) + "\n")
            done += 1
            if done % 100 == 0:
                print(f"check: {done}/{len(rows)}", file=sys.stderr)


if __name__ == "__main__":
    main()
