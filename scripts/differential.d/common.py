"""Shared helpers of scripts/differential's Python steps: running tools, the manifest, and
the synthetic content (photos, text pages, scans) that the producers turn into documents.

Everything is seeded from the recipe's name, so two runs make the same content (the tools'
own timestamps and ids aside)."""

import csv
import hashlib
import random
import subprocess
import textwrap
from pathlib import Path

# Debian's ImageMagick 6. /usr/local/bin/convert may be a stand-in that only converts PNGs.
IM_CONVERT = "/usr/bin/convert"
IM_IDENTIFY = "/usr/bin/identify"

# Columns of $OUT/manifest.tsv: one line a file, valid documents and mutants alike.
MANIFEST_COLUMNS = ["file", "recipe", "producer", "origin"]

WORDS = (
    "attestation dossier candidat session examen inscription pièce justificative identité "
    "nationale certificat diplôme baccalauréat épreuve convocation académie rectorat service "
    "établissement numéro date naissance domicile facture électricité quittance loyer "
    "préfecture mairie commune département région signature cachet original copie conforme "
    "délivré valable jusqu'au présent document atteste que le la les du des et pour avec "
    "dans sur par au aux ce cette est sont été être avoir fait ainsi selon article décret "
    "arrêté ministère éducation supérieur recherche jeunesse défense citoyenneté journée "
    "médical aménagement épreuves temps majoré secrétariat accessibilité handicap "
    "Paris Lyon Marseille Toulouse Nantes Bordeaux Lille Rennes Strasbourg Montpellier"
).split()

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation"]


class ToolError(Exception):
    """A producer's command failed: the recipe is reported as not generated."""


def run(cmd, *, timeout=300, cwd=None, env=None, stdin=None):
    """Runs a command; returns its stdout (bytes). Raises ToolError with stderr's end."""
    try:
        p = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=env, input=stdin, timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"{cmd[0]}: more than {timeout} s") from e
    except FileNotFoundError as e:
        raise ToolError(f"{cmd[0]}: not installed") from e
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ToolError(f"{Path(str(cmd[0])).name} exited {p.returncode}: {' | '.join(err)}")
    return p.stdout


def rng(*key):
    """A random generator seeded from a key (recipe name, index...)."""
    h = hashlib.sha256("/".join(map(str, key)).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def sentence(r, n=None):
    n = n or r.randrange(6, 16)
    words = [r.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def paragraphs(key, count=4, sentences=(3, 7)):
    r = rng("text", key)
    return [" ".join(sentence(r) for _ in range(r.randrange(*sentences))) for _ in range(count)]


def font_path(bold=False, mono=False, serif=False):
    name = "DejaVuSans"
    if serif:
        name = "DejaVuSerif"
    if mono:
        name = "DejaVuSansMono"
    if bold:
        name += "-Bold"
    for d in FONT_DIRS:
        p = Path(d) / f"{name}.ttf"
        if p.exists():
            return p
    return None


def pil_font(size, **kw):
    from PIL import ImageFont

    p = font_path(**kw)
    if p:
        return ImageFont.truetype(str(p), size)
    return ImageFont.load_default(size=size)


def photo(w, h, key):
    """A photo-like RGB image: smooth colour fields, shapes, blur and sensor-like noise."""
    from PIL import Image, ImageDraw, ImageFilter

    r = rng("photo", key, w, h)
    small = Image.new("RGB", (8, 6))
    small.putdata([tuple(r.randrange(256) for _ in range(3)) for _ in range(48)])
    img = small.resize((w, h), Image.BICUBIC)
    d = ImageDraw.Draw(img)
    m = min(w, h)
    for _ in range(14):
        x, y = r.randrange(w), r.randrange(h)
        s = r.randrange(m // 12 + 1, m // 3 + 2)
        col = tuple(r.randrange(256) for _ in range(3))
        box = [x, y, x + s, y + int(s * r.uniform(0.5, 1.5))]
        (d.ellipse if r.random() < 0.5 else d.rectangle)(box, fill=col)
    img = img.filter(ImageFilter.GaussianBlur(max(1, m // 300)))
    noise = Image.effect_noise((w, h), 40).convert("RGB")
    return Image.blend(img, noise, 0.12)


def text_page(w, h, key, title=None, size=None):
    """A white page of text (an administrative letter), RGB."""
    from PIL import Image, ImageDraw

    r = rng("page", key)
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    size = size or max(10, w // 60)
    margin = w // 12
    y = margin
    tf = pil_font(int(size * 1.6), bold=True)
    d.text((margin, y), title or f"ATTESTATION N° {r.randrange(10**5, 10**6)}", fill="black", font=tf)
    y += int(size * 3.5)
    f = pil_font(size, serif=r.random() < 0.5)
    chars = max(20, int((w - 2 * margin) / (size * 0.55)))
    for para in paragraphs(key, count=12):
        for line in textwrap.wrap(para, chars):
            if y > h - margin - size:
                return img
            d.text((margin, y), line, fill=(20, 20, 30), font=f)
            y += int(size * 1.4)
        y += size
    d.rectangle([w - margin - w // 5, h - margin - h // 12, w - margin, h - margin], outline="navy", width=3)
    return img


def scan_page(w, h, key):
    """A text page as a bilevel scanner makes it: slightly rotated, speckled, 1-bit."""
    from PIL import Image

    r = rng("scan", key)
    img = text_page(w, h, key).convert("L")
    img = img.rotate(r.uniform(-1.5, 1.5), resample=Image.BILINEAR, fillcolor=255)
    noise = Image.effect_noise((w, h), 60)
    img = Image.blend(img, noise, 0.18)
    return img.point(lambda v: 255 if v > 150 else 0).convert("1")


def write_manifest(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(MANIFEST_COLUMNS)
        for row in rows:
            w.writerow([row[c] for c in MANIFEST_COLUMNS])


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
