"""Generates the valid documents of scripts/differential, each from a real producer.

    generate.py OUT [--sample N] [--full]

Writes OUT/files/PRODUCER/NAME.EXT and OUT/generated.tsv (file, recipe, producer, origin), and
OUT/generation-failures.tsv (recipe, error) for recipes whose tool failed. Intermediate
content (photos, PostScript programs, source PDFs of the transformations) goes to OUT/work/.

A recipe is one file: a producer (the tool that wrote the file) and a variant. Recipes marked
`full` (LibreOffice, tesseract, cairo, WeasyPrint, Chromium, Typst: heavy or slow to install)
run only with --full.
--sample N takes about N recipes among the others, round-robin over producers.
"""

import argparse
import os
import shutil
import sys
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    IM_CONVERT, ToolError, font_path, paragraphs, photo, rng, run, scan_page, sentence,
    text_page, write_manifest,
)

A4_PT = (595.28, 841.89)
A4_150 = (1240, 1754)
A4_200 = (1654, 2339)
A4_300 = (2480, 3508)


class Recipe:
    def __init__(self, producer, name, ext, fn, full=False, needs=()):
        self.producer, self.name, self.ext, self.fn, self.full = producer, name, ext, fn, full
        self.needs = needs  # commands or Python modules (as "py:module")

    @property
    def id(self):
        return f"{self.producer}/{self.name}"


RECIPES = []


def add(producer, name, ext, fn, full=False, needs=()):
    RECIPES.append(Recipe(producer, name, ext, fn, full, needs))


class Ctx:
    """Where files go, and the memoised intermediate sources."""

    def __init__(self, out):
        self.out = out
        self.work = out / "work"
        self.src_dir = self.work / "src"
        self.src_dir.mkdir(parents=True, exist_ok=True)
        self._src = {}

    def tmp(self, name):
        p = self.work / "tmp" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def src(self, name, build):
        """A source file built once by build(path) and reused by every recipe."""
        if name not in self._src:
            p = self.src_dir / name
            if not p.exists():
                tmp = p.with_name(p.name + ".part" + p.suffix)
                build(tmp)
                tmp.rename(p)
            self._src[name] = p
        return self._src[name]


# ---------------------------------------------------------------------------------------------
# Sources: raw pictures and PDFs that several recipes transform.


def save_pil(img, fmt, **kw):
    def build(p):
        img().save(p, fmt, **kw)

    return build


def src_photo(ctx, w=1024, h=768, key="a", fmt="ppm"):
    fmts = {"ppm": "PPM", "png": "PNG", "jpg": "JPEG", "tif": "TIFF"}
    kw = {"quality": 92} if fmt == "jpg" else {}
    return ctx.src(f"photo-{key}-{w}x{h}.{fmt}", save_pil(lambda: photo(w, h, key), fmts[fmt], **kw))


def src_page(ctx, w, h, key="p", fmt="png", mode="RGB"):
    fmts = {"ppm": "PPM", "pgm": "PPM", "png": "PNG", "jpg": "JPEG", "tif": "TIFF"}
    return ctx.src(
        f"page-{key}-{w}x{h}-{mode}.{fmt}",
        save_pil(lambda: text_page(w, h, key).convert(mode), fmts[fmt]),
    )


def src_scan(ctx, w, h, key="s", fmt="png"):
    fmts = {"png": "PNG", "tif": "TIFF", "pbm": "PPM"}
    return ctx.src(f"scan-{key}-{w}x{h}.{fmt}", save_pil(lambda: scan_page(w, h, key), fmts[fmt]))


def src_pdf(ctx, which):
    """A few source PDFs from fast producers, for the transformations (qpdf, mutool...)."""
    builders = {
        "reportlab-mixed": lambda p: rl_doc(ctx, p, "src-mixed", pages=3, content=("text", "vector", "photo")),
        "reportlab-text": lambda p: rl_doc(ctx, p, "src-text", pages=2, content=("text",)),
        "fpdf2-photo": lambda p: fpdf_doc(ctx, p, "src-fpdf", pages=2, photo=True),
        "img2pdf-scan": lambda p: run(["img2pdf", "--pagesize", "A4", "-o", p, src_scan(ctx, *A4_150, key="src", fmt="tif")]),
        "gs-ps": lambda p: gs(ctx, p, ps_source(ctx, "mixed"), "1.4"),
        "mutool-create": lambda p: mutool_create(ctx, p, "src", pages=2, image=True),
    }
    return ctx.src(f"{which}.pdf", builders[which])


# ---------------------------------------------------------------------------------------------
# reportlab (PyPI)


def rl_doc(ctx, dest, key, pagesize=A4_PT, pages=1, content=("text",), compress=1,
           ttf=False, encrypt=None, forms=False, outline=False, png=False, version=None):
    from reportlab.lib.colors import Color
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    r = rng("reportlab", key)
    font = "Helvetica"
    if ttf and font_path():
        pdfmetrics.registerFont(TTFont("DejaVu", str(font_path())))
        font = "DejaVu"
    kw = {"encrypt": encrypt} if encrypt else {}
    if version:
        kw["pdfVersion"] = version
    c = canvas.Canvas(str(dest), pagesize=pagesize, pageCompression=compress, **kw)
    w, h = pagesize
    for page in range(pages):
        y = h - 60
        if outline:
            c.bookmarkPage(f"p{page}")
            c.addOutlineEntry(f"Page {page + 1}", f"p{page}", level=0)
        c.setFont(font, 16)
        c.drawString(50, y, f"Dossier {r.randrange(10**6)} — page {page + 1}")
        y -= 30
        if "text" in content:
            t = c.beginText(50, y)
            t.setFont(font, 10)
            for para in paragraphs(f"{key}-{page}", count=6):
                import textwrap

                for line in textwrap.wrap(para, int((w - 100) / 5.2)):
                    t.textLine(line)
                t.textLine("")
            c.drawText(t)
            y = t.getY() - 10
        if "vector" in content:
            c.setLineWidth(1.5)
            for i in range(8):
                c.setStrokeColorRGB(r.random(), r.random(), r.random())
                c.setFillColor(Color(r.random(), r.random(), r.random(), alpha=0.6))
                x0, y0 = r.uniform(40, w - 140), r.uniform(60, max(80, y - 100))
                shape = i % 4
                if shape == 0:
                    c.rect(x0, y0, r.uniform(20, 100), r.uniform(20, 100), fill=1)
                elif shape == 1:
                    c.circle(x0 + 40, y0 + 40, r.uniform(10, 40), fill=1)
                elif shape == 2:
                    c.setDash(4, 2)
                    c.bezier(x0, y0, x0 + 30, y0 + 90, x0 + 60, y0 - 40, x0 + 100, y0 + 20)
                    c.setDash()
                else:
                    p = c.beginPath()
                    p.moveTo(x0, y0)
                    for _ in range(5):
                        p.lineTo(x0 + r.uniform(0, 100), y0 + r.uniform(0, 100))
                    p.close()
                    c.drawPath(p, fill=1)
            c.linearGradient(50, 40, w - 50, 40, (Color(0.9, 0.2, 0.2), Color(0.2, 0.2, 0.9)), extend=False)
        if "photo" in content:
            c.drawImage(str(src_photo(ctx, 800, 600, key="rl", fmt="jpg")), w - 260, 60, 200, 150)
        if png:
            c.drawImage(str(src_png_alpha(ctx)), 60, 60, 160, 120, mask="auto")
        if forms:
            form = c.acroForm
            c.drawString(50, 140, "Nom :")
            form.textfield(name=f"nom{page}", x=100, y=130, width=200, height=20, value="Dupont")
            form.checkbox(name=f"ok{page}", x=320, y=130, size=16, checked=True)
        c.showPage()
    c.save()


def src_png_alpha(ctx):
    def build(p):
        from PIL import Image, ImageDraw

        img = photo(400, 300, "alpha").convert("RGBA")
        mask = Image.new("L", img.size, 0)
        ImageDraw.Draw(mask).ellipse([20, 20, 380, 280], fill=255)
        img.putalpha(mask)
        img.save(p, "PNG")

    return ctx.src("photo-alpha.png", build)


def rl_platypus(ctx, dest, key, pages=4, table=True, image=True):
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Image as RLImage
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    r = rng("platypus", key)
    story = [Paragraph("Relevé de notes", styles["Title"])]
    for i in range(pages * 4):
        story.append(Paragraph(" ".join(paragraphs(f"{key}{i}", 1)), styles["BodyText"]))
        story.append(Spacer(1, 8))
        if table and i % 4 == 1:
            data = [["Épreuve", "Coefficient", "Note"]] + [
                [sentence(r, 3)[:30], str(r.randrange(1, 6)), f"{r.uniform(0, 20):.2f}"] for _ in range(8)
            ]
            t = Table(data)
            t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.lightblue)]))
            story.append(t)
        if image and i % 4 == 2:
            story.append(RLImage(str(src_photo(ctx, 640, 480, key="plat", fmt="png")), 240, 180))
    SimpleDocTemplate(str(dest), pagesize=A4).build(story)


def reportlab_recipes():
    from_rl = dict(needs=("py:reportlab",))
    P = "reportlab"
    try:
        from reportlab.lib.pagesizes import A5, letter, landscape
        sizes = {"a4": A4_PT, "letter": letter, "a5": A5, "a4-landscape": landscape(A4_PT)}
    except ImportError:
        sizes = {"a4": A4_PT}
    for sz, dims in sizes.items():
        add(P, f"text-{sz}", "pdf", lambda c, d, dims=dims, sz=sz: rl_doc(c, d, sz, pagesize=dims), **from_rl)
    add(P, "text-uncompressed", "pdf", lambda c, d: rl_doc(c, d, "unc", compress=0), **from_rl)
    add(P, "text-10-pages", "pdf", lambda c, d: rl_doc(c, d, "ten", pages=10), **from_rl)
    add(P, "vector", "pdf", lambda c, d: rl_doc(c, d, "vec", content=("vector",)), **from_rl)
    add(P, "vector-uncompressed", "pdf", lambda c, d: rl_doc(c, d, "vecu", content=("vector",), compress=0), **from_rl)
    add(P, "photo", "pdf", lambda c, d: rl_doc(c, d, "ph", content=("photo",)), **from_rl)
    add(P, "mixed-3-pages", "pdf", lambda c, d: rl_doc(c, d, "mix", pages=3, content=("text", "vector", "photo")), **from_rl)
    add(P, "png-alpha", "pdf", lambda c, d: rl_doc(c, d, "pnga", png=True), **from_rl)
    add(P, "ttf-embedded", "pdf", lambda c, d: rl_doc(c, d, "ttf", ttf=True), **from_rl)
    add(P, "ttf-uncompressed", "pdf", lambda c, d: rl_doc(c, d, "ttfu", ttf=True, compress=0), **from_rl)
    add(P, "acroform", "pdf", lambda c, d: rl_doc(c, d, "form", forms=True), **from_rl)
    add(P, "outline", "pdf", lambda c, d: rl_doc(c, d, "outl", pages=4, outline=True), **from_rl)
    add(P, "platypus-report", "pdf", lambda c, d: rl_platypus(c, d, "rep"), **from_rl)
    add(P, "platypus-long", "pdf", lambda c, d: rl_platypus(c, d, "long", pages=25, image=False), **from_rl)
    add(P, "platypus-images", "pdf", lambda c, d: rl_platypus(c, d, "img", pages=3, table=False), **from_rl)
    add(P, "pdf-1.3", "pdf", lambda c, d: rl_doc(c, d, "v13", version=(1, 3), content=("text", "vector")), **from_rl)
    add(P, "pdf-1.7", "pdf", lambda c, d: rl_doc(c, d, "v17", version=(1, 7), content=("text", "photo")), **from_rl)

    def extras(c, d, what):
        from reportlab.pdfgen import canvas

        cv = canvas.Canvas(str(d), pagesize=A4_PT)
        w, h = A4_PT
        if what == "photo-grid":
            for i in range(6):
                cv.drawImage(str(src_photo(c, 640, 480, key=f"grid{i}", fmt="jpg")), 40 + (i % 2) * 270,
                             60 + (i // 2) * 250, 250, 188)
        elif what == "scan-image":
            cv.drawImage(str(src_scan(c, *A4_150, key="rlscan")), 0, 0, w, h)
        elif what == "rotated-page":
            cv.setPageRotation(90)
            cv.drawString(50, 800, "Page tournée de 90 degrés")
        elif what == "cmyk-transparency":
            for i in range(10):
                cv.setFillColorCMYK(i / 10, 0.3, 1 - i / 10, 0.1, alpha=0.5)
                cv.rect(50 + i * 40, 300, 120, 200, fill=1, stroke=0)
            cv.setFont("Times-Italic", 30)
            cv.drawCentredString(w / 2, 700, "Couleurs CMJN et transparence")
        cv.showPage()
        cv.save()

    for what in ("photo-grid", "scan-image", "rotated-page", "cmyk-transparency"):
        add(P, what, "pdf", lambda c, d, what=what: extras(c, d, what), **from_rl)
    add(P, "long-60-pages", "pdf", lambda c, d: rl_doc(c, d, "sixty", pages=60, content=("text", "vector")), **from_rl)

    def enc(user, owner, strength=128, print_ok=1):
        from reportlab.lib import pdfencrypt

        return pdfencrypt.StandardEncryption(user, owner, canPrint=print_ok, strength=strength)

    add(P, "encrypted-user-password", "pdf", lambda c, d: rl_doc(c, d, "encu", encrypt=enc("secret", "owner")), **from_rl)
    add(P, "encrypted-owner-only", "pdf", lambda c, d: rl_doc(c, d, "enco", encrypt=enc("", "owner", print_ok=0)), **from_rl)
    add(P, "encrypted-40bit", "pdf", lambda c, d: rl_doc(c, d, "enc40", encrypt=enc("", "owner", strength=40)), **from_rl)


# ---------------------------------------------------------------------------------------------
# fpdf2 (PyPI)


def fpdf_doc(ctx, dest, key, pages=1, photo=False, png=False, ttf=False, compress=True,
             fmt="A4", orientation="P", links=False, table=False, attach=False, encrypt=None):
    from fpdf import FPDF

    pdf = FPDF(orientation=orientation, format=fmt)
    pdf.set_compression(compress)
    font = "helvetica"
    if ttf and font_path():
        pdf.add_font("DejaVu", fname=str(font_path()))
        font = "DejaVu"
    for page in range(pages):
        pdf.add_page()
        pdf.set_font(font, size=16)
        pdf.cell(0, 10, f"Convocation - page {page + 1}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(font, size=10)
        for para in paragraphs(f"fpdf-{key}-{page}", count=4):
            text = para if ttf else para.encode("latin-1", "replace").decode("latin-1")
            pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        if photo:
            pdf.image(str(src_photo(ctx, 800, 600, key="fpdf", fmt="jpg")), x=110, y=200, w=80)
        if png:
            pdf.image(str(src_png_alpha(ctx)), x=20, y=200, w=70)
        if links:
            pdf.set_text_color(0, 0, 255)
            pdf.cell(0, 8, "Lien vers la page 1", link=pdf.add_link(page=1), new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
        if table:
            r = rng("fpdf-table", key, page)
            with pdf.table() as t:
                for row in [["Pièce", "État"]] + [[sentence(r, 2)[:20], "reçue"] for _ in range(5)]:
                    rr = t.row()
                    for cell in row:
                        rr.cell(cell.encode("latin-1", "replace").decode("latin-1"))
        pdf.set_draw_color(200, 30, 30)
        pdf.set_line_width(0.8)
        pdf.ellipse(150, 260, 40, 20)
        pdf.line(20, 280, 190, 282)
    if attach:
        pdf.embed_file(bytes=b"piece jointe\n", basename="annexe.txt", desc="annexe")
    if encrypt:
        from fpdf.enums import EncryptionMethod

        pdf.set_encryption(owner_password="owner", user_password=encrypt.get("user"),
                           encryption_method=getattr(EncryptionMethod, encrypt["method"]))
    pdf.output(str(dest))


def fpdf2_recipes():
    P, kw = "fpdf2", dict(needs=("py:fpdf",))
    add(P, "text", "pdf", lambda c, d: fpdf_doc(c, d, "t"), **kw)
    add(P, "text-letter-landscape", "pdf", lambda c, d: fpdf_doc(c, d, "tl", fmt="Letter", orientation="L"), **kw)
    add(P, "text-a5", "pdf", lambda c, d: fpdf_doc(c, d, "a5", fmt="A5"), **kw)
    add(P, "uncompressed", "pdf", lambda c, d: fpdf_doc(c, d, "u", compress=False, photo=True), **kw)
    add(P, "photo", "pdf", lambda c, d: fpdf_doc(c, d, "p", photo=True), **kw)
    add(P, "png-alpha", "pdf", lambda c, d: fpdf_doc(c, d, "pa", png=True), **kw)
    add(P, "ttf-unicode", "pdf", lambda c, d: fpdf_doc(c, d, "ttf", ttf=True), **kw)
    add(P, "multi-page-links", "pdf", lambda c, d: fpdf_doc(c, d, "ml", pages=5, links=True), **kw)
    add(P, "table", "pdf", lambda c, d: fpdf_doc(c, d, "tab", pages=2, table=True), **kw)
    add(P, "embedded-file", "pdf", lambda c, d: fpdf_doc(c, d, "att", attach=True), **kw)
    add(P, "a3", "pdf", lambda c, d: fpdf_doc(c, d, "a3", fmt="A3", photo=True), **kw)

    def images(c, d, which):
        from fpdf import FPDF

        pdf = FPDF()
        pdf.add_page()
        if which == "scan":
            pdf.image(str(src_scan(c, *A4_150, key="fpscan")), x=0, y=0, w=210, h=297)
        elif which == "gray-jpeg":
            pdf.image(str(src_page(c, *A4_150, key="fpg", fmt="jpg", mode="L")), x=10, y=10, w=190)
        else:
            for i in range(4):
                pdf.image(str(src_photo(c, 800, 600, key=f"fpm{i}", fmt="jpg" if i % 2 else "png")),
                          x=10 + (i % 2) * 100, y=20 + (i // 2) * 80, w=90)
        pdf.output(str(d))

    for which in ("scan", "gray-jpeg", "multi-photo"):
        add(P, f"image-{which}", "pdf", lambda c, d, which=which: images(c, d, which), **kw)
    add(P, "encrypted-aes256-owner-only", "pdf",
        lambda c, d: fpdf_doc(c, d, "enc", encrypt={"method": "AES_256"}), **kw)
    add(P, "encrypted-aes128-user", "pdf",
        lambda c, d: fpdf_doc(c, d, "encu", encrypt={"method": "AES_128", "user": "secret"}), **kw)


# ---------------------------------------------------------------------------------------------
# cairo (pycairo, built from PyPI's source: full run only)


def cairo_doc(ctx, dest, key, pages=1, version=None, image=False, size=A4_PT):
    import cairo

    r = rng("cairo", key)
    s = cairo.PDFSurface(str(dest), *size)
    if version:
        s.restrict_to_version(getattr(cairo, f"PDF_VERSION_{version}"))
    cr = cairo.Context(s)
    w, h = size
    for page in range(pages):
        cr.select_font_face("DejaVu Sans", cairo.FONT_SLANT_NORMAL, cairo.FONT_WEIGHT_BOLD)
        cr.set_font_size(18)
        cr.move_to(50, 60)
        cr.show_text(f"Récépissé de dépôt {page + 1}")
        cr.select_font_face("DejaVu Serif")
        cr.set_font_size(10)
        y = 90
        import textwrap

        for para in paragraphs(f"cairo-{key}-{page}", count=5):
            for line in textwrap.wrap(para, 90):
                cr.move_to(50, y)
                cr.show_text(line)
                y += 13
            y += 8
        for _ in range(6):
            g = cairo.LinearGradient(0, 0, w, h)
            g.add_color_stop_rgba(0, r.random(), r.random(), r.random(), 0.8)
            g.add_color_stop_rgba(1, r.random(), r.random(), r.random(), 0.4)
            cr.set_source(g)
            cr.arc(r.uniform(80, w - 80), r.uniform(h / 2, h - 80), r.uniform(10, 60), 0, 6.283)
            cr.fill()
        cr.set_source_rgb(0.1, 0.1, 0.4)
        cr.set_line_width(2)
        cr.set_dash([6, 3])
        cr.move_to(40, h - 40)
        cr.curve_to(200, h - 200, 400, h, w - 40, h - 60)
        cr.stroke()
        cr.set_dash([])
        if image:
            img = cairo.ImageSurface.create_from_png(str(src_photo(ctx, 640, 480, key="cairo", fmt="png")))
            cr.save()
            cr.translate(w - 280, h / 2 - 120)
            cr.scale(0.35, 0.35)
            cr.set_source_surface(img, 0, 0)
            cr.paint()
            cr.restore()
        cr.show_page()
    s.finish()


def cairo_recipes():
    P, kw = "cairo", dict(full=True, needs=("py:cairo",))
    add(P, "text-vector", "pdf", lambda c, d: cairo_doc(c, d, "tv"), **kw)
    add(P, "image", "pdf", lambda c, d: cairo_doc(c, d, "img", image=True), **kw)
    add(P, "multi-page", "pdf", lambda c, d: cairo_doc(c, d, "mp", pages=6, image=True), **kw)
    for v in ("1_4", "1_5"):  # what Debian 12's cairo writes
        add(P, f"pdf-{v.replace('_', '.')}", "pdf", lambda c, d, v=v: cairo_doc(c, d, f"v{v}", version=v, image=True), **kw)
    add(P, "letter", "pdf", lambda c, d: cairo_doc(c, d, "let", size=(612, 792)), **kw)
    add(P, "small-card", "pdf", lambda c, d: cairo_doc(c, d, "card", size=(243, 153)), **kw)


# ---------------------------------------------------------------------------------------------
# Ghostscript (pdfwrite)

PS_PROGRAMS = {
    "text": """%!PS
/Times-Roman findfont 12 scalefont setfont
/y 760 def
LINES { 60 y moveto show /y y 16 sub def } forall
/Helvetica-Bold findfont 18 scalefont setfont 60 800 moveto (AVIS DE SITUATION) show
showpage
""",
    "mixed": """%!PS
/Helvetica findfont 11 scalefont setfont
/y 780 def
LINES { 50 y moveto show /y y 14 sub def } forall
0.2 0.3 0.8 setrgbcolor 2 setlinewidth
newpath 300 200 120 0 360 arc stroke
1 0.5 0 setrgbcolor newpath 60 60 moveto 200 300 lineto 400 80 lineto closepath fill
0 setgray [6 3] 0 setdash newpath 50 400 moveto 150 500 350 300 545 420 curveto stroke [] 0 setdash
<< /ShadingType 2 /ColorSpace /DeviceRGB /Coords [50 0 545 0]
   /Function << /FunctionType 2 /Domain [0 1] /C0 [1 0 0] /C1 [0 0 1] /N 1 >> >>
gsave newpath 50 20 moveto 545 20 lineto 545 45 lineto 50 45 lineto closepath clip shfill grestore
showpage
/Courier findfont 10 scalefont setfont
0 setgray 50 780 moveto (Page 2: annexe) show
0 1 20 { /i exch def newpath 50 i 30 mul add 100 moveto 0 500 rlineto i 20 div setgray stroke } for
showpage
""",
    "image": """%!PS
/Helvetica findfont 14 scalefont setfont 50 800 moveto (Image en niveaux de gris) show
gsave 100 300 translate 400 400 scale
64 64 8 [64 0 0 -64 0 64] {<PIXELS>} image grestore
gsave 100 100 translate 300 150 scale
32 16 8 [32 0 0 -16 0 16] {<PIXELS3>} false 3 colorimage grestore
showpage
""",
}


def ps_source(ctx, which):
    def build(p):
        lines = " ".join(f"({sentence(rng('ps', which, i))[:90]})" for i in range(40))
        grey = bytes(((x + y) * 2) & 255 for y in range(64) for x in range(64)).hex()
        rgb = bytes((x * 8 + c * 40 + y * 5) & 255 for y in range(16) for x in range(32) for c in range(3)).hex()
        prog = PS_PROGRAMS[which].replace("LINES", f"[{lines}]")
        prog = prog.replace("PIXELS3", rgb).replace("PIXELS", grey)
        p.write_text(prog, encoding="latin-1", errors="replace")

    return ctx.src(f"{which}.ps", build)


def gs(ctx, dest, src, level=None, extra=()):
    cmd = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite"]
    if level:
        cmd.append(f"-dCompatibilityLevel={level}")
    run(cmd + list(extra) + [f"-sOutputFile={dest}", src])


def gs_recipes():
    P, kw = "ghostscript", dict(needs=("gs",))
    sources = {
        "ps-text": lambda c: ps_source(c, "text"),
        "ps-mixed": lambda c: ps_source(c, "mixed"),
        "ps-image": lambda c: ps_source(c, "image"),
        "reportlab": lambda c: src_pdf(c, "reportlab-mixed"),
        "img2pdf-scan": lambda c: src_pdf(c, "img2pdf-scan"),
        "fpdf2": lambda c: src_pdf(c, "fpdf2-photo"),
    }
    for sname, s in sources.items():
        for level in ("1.3", "1.4", "1.5", "1.7"):
            add(P, f"{sname}-{level}", "pdf", lambda c, d, s=s, level=level: gs(c, d, s(c), level), **kw)
    for n in (1, 2, 3):
        add(P, f"pdfa-{n}b-ps-mixed", "pdf",
            lambda c, d, n=n: gs(c, d, ps_source(c, "mixed"), None,
                                 [f"-dPDFA={n}", "-dPDFACompatibilityPolicy=1",
                                  "-sColorConversionStrategy=RGB"]), **kw)
        add(P, f"pdfa-{n}b-reportlab", "pdf",
            lambda c, d, n=n: gs(c, d, src_pdf(c, "reportlab-mixed"), None,
                                 [f"-dPDFA={n}", "-dPDFACompatibilityPolicy=1",
                                  "-sColorConversionStrategy=RGB"]), **kw)
    for setting in ("screen", "ebook", "printer", "prepress"):
        add(P, f"settings-{setting}", "pdf",
            lambda c, d, st=setting: gs(c, d, src_pdf(c, "fpdf2-photo"), "1.5", [f"-dPDFSETTINGS=/{st}"]), **kw)
    add(P, "fast-web-view", "pdf",
        lambda c, d: gs(c, d, src_pdf(c, "reportlab-mixed"), "1.4", ["-dFastWebView=true"]), **kw)
    for dev in ("pdfimage8", "pdfimage24"):
        add(P, f"device-{dev}", "pdf",
            lambda c, d, dev=dev: run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", f"-sDEVICE={dev}",
                                       "-r100", f"-sOutputFile={d}", src_pdf(c, "reportlab-text")]), **kw)


# ---------------------------------------------------------------------------------------------
# img2pdf


def img2pdf_recipes():
    P, kw = "img2pdf", dict(needs=("img2pdf",))

    def i2p(srcs, *opts):
        return lambda c, d: run(["img2pdf", *opts, "-o", d, *[s(c) for s in srcs]])

    photo_jpg = lambda c: src_photo(c, 1600, 1200, key="i2p", fmt="jpg")  # noqa: E731
    photo_png = lambda c: src_photo(c, 800, 600, key="i2p", fmt="png")  # noqa: E731
    page_jpg = lambda c: src_page(c, *A4_150, key="i2p", fmt="jpg")  # noqa: E731
    gray_png = lambda c: src_page(c, *A4_150, key="i2pg", fmt="png", mode="L")  # noqa: E731
    scan_tif = lambda c: src_scan(c, *A4_200, key="i2p", fmt="tif")  # noqa: E731

    def g4(c):
        return c.src("scan-g4.tif", lambda p: run(["tiffcp", "-c", "g4", src_scan(c, *A4_200, key="i2pg4", fmt="tif"), p]))

    def palette(c):
        return c.src("palette.png", lambda p: __import__("PIL.Image").Image.open(photo_png(c)).convert("P", palette=1).save(p))

    def cmyk(c):
        return c.src("cmyk.jpg", lambda p: run([IM_CONVERT, photo_png(c), "-colorspace", "CMYK", "-quality", "85", p]))

    def png16(c):
        return c.src("photo16.png", lambda p: run([IM_CONVERT, photo_png(c), "-depth", "16", p]))

    def multi_g4(c):
        return c.src("multi-g4.tif", lambda p: run(
            ["tiffcp", "-c", "g4"] + [src_scan(c, *A4_150, key=f"mp{i}", fmt="tif") for i in range(3)] + [p]))

    add(P, "jpeg-photo", "pdf", i2p([photo_jpg]), **kw)
    add(P, "jpeg-photo-a4-fit", "pdf", i2p([photo_jpg], "--pagesize", "A4", "--fit", "into"), **kw)
    add(P, "jpeg-page", "pdf", i2p([page_jpg], "--pagesize", "A4"), **kw)
    add(P, "png-photo", "pdf", i2p([photo_png]), **kw)
    add(P, "png-gray-page", "pdf", i2p([gray_png], "--pagesize", "A4"), **kw)
    add(P, "png-palette", "pdf", i2p([palette]), **kw)
    add(P, "png-16bit", "pdf", i2p([png16]), **kw)
    add(P, "jpeg-cmyk", "pdf", i2p([cmyk]), **kw)
    add(P, "tiff-bilevel", "pdf", i2p([scan_tif], "--pagesize", "A4"), **kw)
    add(P, "tiff-g4", "pdf", i2p([g4], "--pagesize", "A4"), **kw)
    add(P, "tiff-g4-multipage", "pdf", i2p([multi_g4]), **kw)
    add(P, "mixed-3-images", "pdf", i2p([photo_jpg, gray_png, g4], "--pagesize", "A4"), **kw)
    add(P, "landscape-letter", "pdf", i2p([photo_jpg], "--pagesize", "Letter^T", "--fit", "shrink"), **kw)
    add(P, "rotated-90", "pdf", i2p([page_jpg], "--rotation", "90"), **kw)
    add(P, "dpi-300", "pdf", i2p([photo_png], "--imgsize", "300dpi"), **kw)
    add(P, "border", "pdf", i2p([photo_jpg], "--pagesize", "A4", "--border", "2cm:3cm"), **kw)
    add(P, "png-bilevel", "pdf", i2p([lambda c: src_scan(c, *A4_150, key="i2pb")], "--pagesize", "A4"), **kw)
    add(P, "jpeg-progressive", "pdf", i2p([lambda c: c.src("prog.jpg", lambda p: run(
        ["cjpeg", "-progressive", "-outfile", p, src_photo(c, 1024, 768, key="cj", fmt="ppm")]))]), **kw)
    add(P, "jpeg-exif-rotated", "pdf", i2p([lambda c: exif_jpeg(c, "i2p", ["-Orientation=6", "-n"])]),
        needs=("img2pdf", "exiftool"))
    add(P, "tiff-lzw-rgb", "pdf", i2p([lambda c: c.src("rgb-lzw.tif", lambda p: run(
        ["tiffcp", "-c", "lzw", tiff_sources(c, "rgb"), p]))]), needs=("img2pdf", "tiffcp"))
    add(P, "large-photo", "pdf", lambda c, d: run(["img2pdf", "-o", d, src_photo(c, 4000, 3000, key="big", fmt="jpg")]),
        full=True, needs=("img2pdf",))


# ---------------------------------------------------------------------------------------------
# qpdf transformations, encryption and attachments

QPDF_SOURCES = ("reportlab-mixed", "gs-ps", "fpdf2-photo", "img2pdf-scan", "mutool-create")
QPDF_TRANSFORMS = {
    "objstm-generate": ["--object-streams=generate"],
    "objstm-disable": ["--object-streams=disable"],
    "linearize": ["--linearize"],
    "qdf": ["--qdf"],
    "uncompress": ["--stream-data=uncompress"],
    "recompress": ["--recompress-flate", "--compression-level=9"],
    "normalize-content": ["--normalize-content=y"],
    "coalesce": ["--coalesce-contents"],
    "force-version-1.4": ["--force-version=1.4"],
    "newline-before-endstream": ["--newline-before-endstream"],
    "remove-unreferenced": ["--remove-unreferenced-resources=yes", "--object-streams=generate"],
    "compress-none": ["--compress-streams=n", "--decode-level=generalized"],
}


def qpdf_recipes():
    P, kw = "qpdf", dict(needs=("qpdf",))
    for s in QPDF_SOURCES:
        for t, opts in QPDF_TRANSFORMS.items():
            add(P, f"{t}-{s}", "pdf", lambda c, d, s=s, opts=opts: run(["qpdf", *opts, src_pdf(c, s), d]), **kw)
    encs = {
        "rc4-40-user": ["--encrypt", "user", "owner", "40", "--"],
        "rc4-128-owner-only": ["--encrypt", "", "owner", "128", "--use-aes=n", "--print=none", "--"],
        "aes-128-user": ["--encrypt", "user", "owner", "128", "--use-aes=y", "--"],
        "aes-256-owner-only": ["--encrypt", "", "owner", "256", "--modify=none", "--"],
        "aes-256-user": ["--encrypt", "secret", "owner", "256", "--"],
    }
    for e, opts in encs.items():
        # --allow-weak-crypto: RC4 is what old producers write; qpdf 11 asks to be told.
        add(P, f"encrypt-{e}", "pdf",
            lambda c, d, opts=opts: run(["qpdf", "--allow-weak-crypto", src_pdf(c, "reportlab-text"), *opts, d]), **kw)

    def attach(c, d, src="reportlab-text"):
        f = c.tmp("annexe.txt")
        f.write_text("pièce jointe\n")
        run(["qpdf", src_pdf(c, src), "--add-attachment", f, "--", d])

    add(P, "add-attachment", "pdf", attach, **kw)
    add(P, "add-attachment-scan", "pdf", lambda c, d: attach(c, d, "img2pdf-scan"), **kw)
    add(P, "merge-pages", "pdf", lambda c, d: run(
        ["qpdf", "--empty", "--pages", src_pdf(c, "reportlab-mixed"), src_pdf(c, "img2pdf-scan"),
         src_pdf(c, "gs-ps"), "--", d]), **kw)
    add(P, "select-pages", "pdf", lambda c, d: run(
        ["qpdf", src_pdf(c, "reportlab-mixed"), "--pages", ".", "3,1", "--", d]), **kw)
    add(P, "rotate", "pdf", lambda c, d: run(["qpdf", "--rotate=+90:1", src_pdf(c, "fpdf2-photo"), d]), **kw)
    add(P, "collate", "pdf", lambda c, d: run(
        ["qpdf", "--empty", "--collate", "--pages", src_pdf(c, "reportlab-mixed"), src_pdf(c, "fpdf2-photo"), "--", d]), **kw)


# ---------------------------------------------------------------------------------------------
# MuPDF: mutool create, clean, convert, merge


def mutool_create(ctx, dest, key, pages=1, image=False):
    r = rng("mutool", key)
    files = []
    for page in range(pages):
        lines = ["%%MediaBox 0 0 595 842", "%%Font Helv Helvetica", "%%Font TiRo Times-Roman"]
        if image:
            lines.append(f"%%Image Im0 {src_photo(ctx, 640, 480, key='mutool', fmt='jpg')}")
        lines += ["BT /Helv 18 Tf 50 790 Td (Accuse de reception) Tj ET", "BT /TiRo 11 Tf 50 760 Td 14 TL"]
        for para in paragraphs(f"mut-{key}-{page}", count=3):
            import textwrap

            for line in textwrap.wrap(para.encode("ascii", "replace").decode(), 90):
                lines.append(f"({line}) '")
        lines.append("ET")
        for _ in range(6):
            lines.append(f"{r.random():.2f} {r.random():.2f} {r.random():.2f} rg "
                         f"{r.uniform(50, 450):.1f} {r.uniform(50, 300):.1f} {r.uniform(20, 120):.1f} "
                         f"{r.uniform(20, 120):.1f} re f")
        lines.append("0 0 1 RG 3 w 50 400 m 200 500 350 300 545 420 c S")
        if image:
            lines.append("q 240 0 0 180 300 450 cm /Im0 Do Q")
        f = ctx.tmp(f"mutool-{key}-{page}.txt")
        f.write_text("\n".join(lines) + "\n")
        files.append(f)
    run(["mutool", "create", "-o", dest, *files])


def mutool_recipes():
    P, kw = "mutool", dict(needs=("mutool",))
    add(P, "create-text-vector", "pdf", lambda c, d: mutool_create(c, d, "tv"), **kw)
    add(P, "create-image", "pdf", lambda c, d: mutool_create(c, d, "img", image=True), **kw)
    add(P, "create-4-pages", "pdf", lambda c, d: mutool_create(c, d, "mp", pages=4, image=True), **kw)
    cleans = {"g": ["-g"], "gg": ["-gg"], "gggg": ["-gggg"], "decompress": ["-d"], "deflate": ["-z"],
              "ascii": ["-a"], "linearize": ["-l", "-gg"], "sanitize": ["-s"], "clean-content": ["-c"],
              "fonts-images": ["-f", "-i", "-gggg"]}
    for s in ("reportlab-mixed", "gs-ps", "img2pdf-scan"):
        for name, opts in cleans.items():
            add(P, f"clean-{name}-{s}", "pdf", lambda c, d, s=s, opts=opts: run(["mutool", "clean", *opts, src_pdf(c, s), d]), **kw)
    add(P, "clean-encrypt-aes256", "pdf", lambda c, d: run(
        ["mutool", "clean", "-E", "aes-256", "-U", "user", "-O", "owner", src_pdf(c, "reportlab-text"), d]), **kw)
    add(P, "convert-png", "pdf", lambda c, d: run(
        ["mutool", "convert", "-F", "pdf", "-o", d, src_photo(c, 800, 600, key="mc", fmt="png")]), **kw)
    add(P, "convert-pdf", "pdf", lambda c, d: run(["mutool", "convert", "-F", "pdf", "-o", d, src_pdf(c, "reportlab-mixed")]), **kw)
    add(P, "merge", "pdf", lambda c, d: run(["mutool", "merge", "-o", d, src_pdf(c, "reportlab-text"), src_pdf(c, "img2pdf-scan")]), **kw)


# ---------------------------------------------------------------------------------------------
# Poppler: pdftocairo -pdf


def pdftocairo_recipes():
    P, kw = "pdftocairo", dict(needs=("pdftocairo",))
    for s in ("reportlab-mixed", "gs-ps", "fpdf2-photo", "img2pdf-scan", "mutool-create", "reportlab-text"):
        add(P, f"pdf-{s}", "pdf", lambda c, d, s=s: run(["pdftocairo", "-pdf", src_pdf(c, s), d]), **kw)
    add(P, "paper-a4-expand", "pdf", lambda c, d: run(["pdftocairo", "-pdf", "-paper", "A4", "-expand", src_pdf(c, "fpdf2-photo"), d]), **kw)
    add(P, "paper-letter", "pdf", lambda c, d: run(["pdftocairo", "-pdf", "-paper", "letter", src_pdf(c, "gs-ps"), d]), **kw)
    add(P, "first-page", "pdf", lambda c, d: run(["pdftocairo", "-pdf", "-f", "1", "-l", "1", src_pdf(c, "reportlab-mixed"), d]), **kw)


# ---------------------------------------------------------------------------------------------
# tesseract (full run): OCR PDFs of scanned-looking pages


def tesseract_recipes():
    P, kw = "tesseract", dict(full=True, needs=("tesseract",))

    def ocr(src, *opts):
        def fn(c, d):
            base = d.with_suffix("")
            run(["tesseract", src(c), base, "-l", "eng", *opts, "pdf"], timeout=600)

        return fn

    page = lambda c: src_page(c, 1240, 1754, key="ocr", fmt="png", mode="L")  # noqa: E731
    add(P, "png-gray", "pdf", ocr(page), **kw)
    add(P, "scan-tiff", "pdf", ocr(lambda c: src_scan(c, 1240, 1754, key="ocr", fmt="tif")), **kw)
    add(P, "jpeg-page", "pdf", ocr(lambda c: src_page(c, 1240, 1754, key="ocrj", fmt="jpg")), **kw)
    add(P, "psm-6", "pdf", ocr(page, "--psm", "6"), **kw)
    add(P, "text-only", "pdf", ocr(page, "-c", "textonly_pdf=1"), **kw)
    add(P, "multipage-tiff", "pdf", ocr(lambda c: c.src("ocr-multi.tif", lambda p: run(
        ["tiffcp", "-c", "lzw", src_scan(c, 1240, 1754, key="o1", fmt="tif"), src_scan(c, 1240, 1754, key="o2", fmt="tif"), p]))), **kw)


# ---------------------------------------------------------------------------------------------
# LibreOffice (full run): texts, HTML-made .odt/.docx, CSV-made .xlsx/.ods, then PDF


def soffice(ctx, to, src, outdir, infilter=None):
    profile = ctx.work / "lo-profile"
    cmd = ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore"]
    if infilter:
        cmd.append(f"--infilter={infilter}")
    run(cmd + ["--convert-to", to, "--outdir", outdir, src], timeout=300)
    out = Path(outdir) / (Path(src).stem + "." + to.split(":")[0])
    if not out.exists():
        raise ToolError(f"soffice wrote no {out.name}")
    return out


def lo_sources(ctx, kind):
    def txt(p):
        p.write_text("\n\n".join(paragraphs("lo-txt", count=30)), encoding="utf-8")

    def html(p):
        img = src_photo(ctx, 640, 480, key="lo", fmt="png")
        r = rng("lo-html")
        rows = "".join(f"<tr><td>{sentence(r, 3)}</td><td>{r.randrange(100)}</td></tr>" for _ in range(10))
        body = "".join(f"<p>{t}</p>" for t in paragraphs("lo-html", count=12))
        p.write_text(f"<html><head><meta charset='utf-8'><title>Dossier</title></head><body>"
                     f"<h1>Dossier d'inscription</h1>{body[:2000]}<img src='{img}' width='320'>"
                     f"<h2>Pièces</h2><ul><li>Identité</li><li>JDC</li></ul>"
                     f"<table border='1'>{rows}</table>{body[2000:]}</body></html>", encoding="utf-8")

    def csv(p):
        r = rng("lo-csv")
        lines = ["Numéro;Nom;Session;Note;Date"] + [
            f"{i};{r.choice(['Martin', 'Bernard', 'Durand', 'Lefèvre'])};CAP {2020 + i % 5};"
            f"{r.uniform(0, 20):.2f};2024-0{1 + i % 9}-1{i % 10}" for i in range(200)]
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")

    if kind == "txt":
        return ctx.src("lo-letter.txt", txt)
    if kind == "html":
        return ctx.src("lo-dossier.html", html)
    if kind == "csv":
        return ctx.src("lo-notes.csv", csv)
    # Documents made by LibreOffice itself from the sources above.
    src, to, infilter = {
        "odt": ("html", "odt:writer8", "HTML (StarWriter)"),
        "docx": ("html", "docx:MS Word 2007 XML", "HTML (StarWriter)"),
        "doc": ("html", "doc:MS Word 97", "HTML (StarWriter)"),
        "xlsx": ("csv", "xlsx:Calc MS Excel 2007 XML", "CSV:59,34,76,1"),
        "ods": ("csv", "ods", "CSV:59,34,76,1"),
        "txt-odt": ("txt", "odt", None),
    }[kind]

    def build(p):
        d = ctx.work / "lo" / kind
        d.mkdir(parents=True, exist_ok=True)
        made = soffice(ctx, to, lo_sources(ctx, src), d, infilter)
        shutil.move(made, p)

    return ctx.src(f"lo-{kind}.{to.split(':')[0]}", build)


def libreoffice_recipes():
    P, kw = "libreoffice", dict(full=True, needs=("soffice",))

    def to_pdf(kind, filt=None, opts=None, infilter=None):
        def fn(c, d):
            src = lo_sources(c, kind)
            tmpd = c.work / "lo" / "out" / d.stem
            tmpd.mkdir(parents=True, exist_ok=True)
            to = "pdf"
            if filt:
                import json

                to = f"pdf:{filt}:" + json.dumps({k: {"type": t, "value": v} for k, (t, v) in (opts or {}).items()})
            made = soffice(c, to, src, tmpd, infilter)
            shutil.move(made, d)

        return fn

    add(P, "txt", "pdf", to_pdf("txt", infilter="Text (encoded):UTF8,LF,,,"), **kw)
    for k in ("odt", "docx", "doc", "txt-odt"):
        add(P, f"{k}", "pdf", to_pdf(k), **kw)
    for k in ("xlsx", "ods"):
        add(P, f"{k}", "pdf", to_pdf(k), **kw)
    w = "writer_pdf_Export"
    add(P, "odt-pdfa-1", "pdf", to_pdf("odt", w, {"SelectPdfVersion": ("long", "1")}), **kw)
    add(P, "odt-pdfa-2", "pdf", to_pdf("odt", w, {"SelectPdfVersion": ("long", "2")}), **kw)
    add(P, "docx-pdfa-3", "pdf", to_pdf("docx", w, {"SelectPdfVersion": ("long", "3")}), **kw)
    add(P, "odt-pdf-1.5", "pdf", to_pdf("odt", w, {"SelectPdfVersion": ("long", "15")}), **kw)
    add(P, "odt-pdf-1.6", "pdf", to_pdf("odt", w, {"SelectPdfVersion": ("long", "16")}), **kw)
    add(P, "docx-tagged", "pdf", to_pdf("docx", w, {"UseTaggedPDF": ("boolean", "true")}), **kw)
    add(P, "docx-jpeg-quality-20", "pdf",
        to_pdf("docx", w, {"Quality": ("long", "20"), "ReduceImageResolution": ("boolean", "true"),
                           "MaxImageResolution": ("long", "75")}), **kw)
    add(P, "odt-lossless-images", "pdf", to_pdf("odt", w, {"UseLosslessCompression": ("boolean", "true")}), **kw)
    add(P, "odt-form-fields", "pdf", to_pdf("odt", w, {"ExportFormFields": ("boolean", "true"),
                                                        "ExportBookmarks": ("boolean", "true")}), **kw)
    add(P, "xlsx-pdfa-2", "pdf", to_pdf("xlsx", "calc_pdf_Export", {"SelectPdfVersion": ("long", "2")}), **kw)
    add(P, "odt-encrypted", "pdf", to_pdf("odt", w, {"EncryptFile": ("boolean", "true"),
                                                      "DocumentOpenPassword": ("string", "secret")}), **kw)
    add(P, "odt-restricted", "pdf", to_pdf("odt", w, {"RestrictPermissions": ("boolean", "true"),
                                                       "PermissionPassword": ("string", "owner"),
                                                       "Printing": ("long", "0")}), **kw)


# ---------------------------------------------------------------------------------------------
# Web documents: HTML and CSS printed by WeasyPrint and by Chromium ("Print to PDF"), as
# services generate attestations and candidates save web pages; and Typst.


def web_source(ctx, which):
    """An attestation as a web page: text, a table, an inline SVG, photos, a CSS gradient
    band with white text on it, a background image, a second page; `form` adds form fields."""
    photo_jpg = src_photo(ctx, 640, 480, key="web", fmt="jpg")
    alpha = src_png_alpha(ctx)

    def build(p):
        r = rng("web-" + which)
        rows = "".join(f"<tr><td>{sentence(r, 3)}</td><td>{r.randrange(1000)},00 €</td></tr>"
                       for _ in range(8))
        body = "".join(f"<p>{t}</p>" for t in paragraphs("web-" + which, count=8))
        form = ("<form><p>Nom : <input type='text' name='nom' value='Lefèvre'></p>"
                "<p><input type='checkbox' name='majeur' checked> majeur</p>"
                "<p><select name='session'><option>CAP 2026</option></select></p></form>"
                if which == "form" else "")
        p.write_text(f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Attestation</title><style>
@page {{ size: A4; margin: 1.5cm }}
body {{ font-family: 'DejaVu Serif', serif }}
.band {{ background: linear-gradient(90deg, #1d3557, #457b9d); color: white; padding: 12px }}
.round {{ background: radial-gradient(circle, #e63946, #f1faee); height: 60px }}
.logo {{ background: url('{alpha}') no-repeat; background-size: contain; height: 80px }}
table {{ border-collapse: collapse }} td {{ border: 1px solid #888; padding: 3px }}
</style></head><body>
<div class="band"><h1>Attestation d'hébergement — n° 12345</h1></div>
<div class="logo"></div>{body[:1500]}
<svg width="220" height="60"><path d="M10 50 C 40 0, 70 0, 100 50 S 160 100, 210 40"
 stroke="navy" fill="none" stroke-width="3"/></svg>
<table>{rows}</table><img src="{photo_jpg}" style="width: 8cm"><div class="round"></div>{form}
<p style="page-break-before: always">{body[1500:]}</p></body></html>""", encoding="utf-8")

    return ctx.src(f"web-{which}.html", build)


def weasyprint_recipes():
    P, kw = "weasyprint", dict(full=True, needs=("py:weasyprint",))

    def make(which, variant=None, forms=False):
        def fn(c, d):
            import weasyprint

            weasyprint.HTML(filename=str(web_source(c, which))).write_pdf(
                d, pdf_variant=variant, pdf_forms=forms)

        return fn

    add(P, "attestation", "pdf", make("letter"), **kw)
    add(P, "attestation-pdfa-3b", "pdf", make("letter", "pdf/a-3b"), **kw)
    add(P, "attestation-pdfua-1", "pdf", make("letter", "pdf/ua-1"), **kw)
    add(P, "form-fields", "pdf", make("form", forms=True), **kw)


def chromium_recipes():
    P, kw = "chromium", dict(full=True, needs=("chromium",))

    def make(which, *flags):
        def fn(c, d):
            profile = c.work / "chromium-profile"
            run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", *flags, f"--print-to-pdf={d}",
                 web_source(c, which).as_uri()], timeout=120)

        return fn

    add(P, "print-with-header-footer", "pdf", make("letter"), **kw)
    add(P, "print", "pdf", make("letter", "--no-pdf-header-footer"), **kw)
    add(P, "print-outline", "pdf", make("letter", "--no-pdf-header-footer",
                                        "--generate-pdf-document-outline"), **kw)
    add(P, "print-form", "pdf", make("form", "--no-pdf-header-footer"), **kw)


def typst_recipes():
    P, kw = "typst", dict(full=True, needs=("py:typst",))

    def make(standard=None):
        def fn(c, d):
            import typst

            photo_jpg = src_photo(c, 640, 480, key="web", fmt="jpg")
            src = c.tmp(f"typst-{d.stem}/doc.typ")
            shutil.copy(photo_jpg, src.with_name("photo.jpg"))
            text = " ".join(paragraphs("typst", count=4))
            src.write_text(f"""#set page(paper: "a4")
#set text(lang: "fr")
= Attestation de réussite
{text}
#image("photo.jpg", width: 50%)
#table(columns: 2, [Épreuve], [Note], [Français], [14,5], [Mathématiques], [12])
$ sum_(i=1)^n i = (n(n+1))/2 $
#pagebreak()
Fait à Paris, le 3 décembre 2026.
""", encoding="utf-8")
            extra = {"pdf_standards": standard} if standard else {}
            typst.compile(str(src), output=str(d), **extra)

        return fn

    add(P, "attestation", "pdf", make(), **kw)
    add(P, "attestation-pdfa-2b", "pdf", make("a-2b"), **kw)


# ---------------------------------------------------------------------------------------------
# Hand-written PDFs: active content (JavaScript, Launch, page actions) and the classic small
# defects every viewer repairs (offsets, lengths, missing cross-reference table).


def pdf_bytes(extra_catalog=b"", extra_objs=(), page_extra=b"", eol=b"\n", version=b"1.4"):
    """A one-page PDF: returns (bytes, offsets of objects, offset of xref)."""
    content = b"BT /F1 24 Tf 72 720 Td (Document fait main) Tj ET\n0 0 1 RG 4 w 72 700 m 500 700 l S"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> " + page_extra + b">>",
        b"<< /Length %d >>" % len(content) + eol + b"stream" + eol + content + eol + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ] + list(extra_objs)
    out = bytearray(b"%PDF-" + version + eol + b"%\xe2\xe3\xcf\xd3" + eol)
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj" % i + eol + body + eol + b"endobj" + eol
    xref = len(out)
    out += b"xref" + eol + b"0 %d" % (len(objs) + 1) + eol + b"0000000000 65535 f\r\n"
    out += b"".join(b"%010d 00000 n\r\n" % o for o in offsets)
    out += b"trailer" + eol + b"<< /Size %d /Root 1 0 R >>" % (len(objs) + 1) + eol
    out += b"startxref" + eol + b"%d" % xref + eol + b"%%EOF" + eol
    return bytes(out), offsets, xref


def handmade_recipes():
    P = "handmade"

    def write(data_fn):
        def fn(c, d):
            d.write_bytes(data_fn())

        return fn

    def simple(**kw):
        return write(lambda: pdf_bytes(**kw)[0])

    add(P, "plain", "pdf", simple())
    add(P, "crlf", "pdf", simple(eol=b"\r\n"))
    # CR alone ends every line, after `stream` too, where the specification wants CRLF or LF.
    add(P, "defect-cr-line-ends", "pdf", simple(eol=b"\r"), full=True)
    add(P, "pdf-1.0-header", "pdf", simple(version=b"1.0"))

    def incremental():
        data, _, xref = pdf_bytes()
        content = b"BT /F1 30 Tf 72 500 Td (Mise a jour) Tj ET"
        upd = bytearray(data)
        o4 = len(upd)
        upd += b"4 0 obj\n<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream\nendobj\n"
        x2 = len(upd)
        upd += b"xref\n0 1\n0000000000 65535 f\r\n4 1\n%010d 00000 n\r\n" % o4
        upd += b"trailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (xref, x2)
        return bytes(upd)

    add(P, "incremental-update", "pdf", write(incremental))
    js = b"<< /S /JavaScript /JS (app.alert\\('bonjour'\\);) >>"
    add(P, "active-openaction-js", "pdf", simple(extra_catalog=b"/OpenAction 6 0 R ", extra_objs=[js]))
    add(P, "active-names-js", "pdf", simple(
        extra_catalog=b"/Names << /JavaScript << /Names [(init) 6 0 R] >> >> ", extra_objs=[js]))
    add(P, "active-launch", "pdf", simple(
        extra_catalog=b"/OpenAction << /S /Launch /F (calc.exe) >> "))
    add(P, "active-page-aa-js", "pdf", simple(page_extra=b"/AA << /O 6 0 R >> ", extra_objs=[js]))
    add(P, "active-link-js", "pdf", simple(
        page_extra=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [72 690 500 740] /A 6 0 R >>] ",
        extra_objs=[js]))
    add(P, "openaction-goto-page", "pdf", simple(extra_catalog=b"/OpenAction [3 0 R /Fit] "))
    add(P, "link-uri", "pdf", simple(
        page_extra=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [72 690 500 740] "
                   b"/A << /S /URI /URI (https://example.org/) >> >>] "))

    # The small defects: each is what a real writer gets wrong now and then.
    def shifted_offsets(delta):
        def f():
            data, offsets, xref = pdf_bytes()
            head, tail = data[:xref], data[xref:]
            for o in offsets:
                tail = tail.replace(b"%010d 00000 n" % o, b"%010d 00000 n" % (o + delta), 1)
            return head + tail

        return f

    add(P, "defect-xref-offsets-plus-2", "pdf", write(shifted_offsets(2)), full=True)
    add(P, "defect-xref-offsets-minus-1", "pdf", write(shifted_offsets(-1)), full=True)

    def startxref_wrong():
        data, _, xref = pdf_bytes()
        return data.replace(b"startxref\n%d" % xref, b"startxref\n%d" % (xref - 10))

    add(P, "defect-startxref-off", "pdf", write(startxref_wrong), full=True)

    def no_xref():
        data, _, xref = pdf_bytes()
        trailer = data.index(b"trailer")
        return data[:xref] + data[trailer:]

    add(P, "defect-no-xref-table", "pdf", write(no_xref), full=True)

    def length_wrong(delta):
        def f():
            data, _, _ = pdf_bytes()
            n = int(data.split(b"/Length ")[1].split(b" ")[0])
            # Same digit count keeps the offsets right: only the stream's length lies.
            fixed = data.replace(b"/Length %d" % n, b"/Length %d" % (n + delta), 1)
            return fixed

        return f

    add(P, "defect-length-too-long", "pdf", write(length_wrong(5)), full=True)
    add(P, "defect-length-too-short", "pdf", write(length_wrong(-5)), full=True)
    add(P, "defect-no-eof-marker", "pdf", write(lambda: pdf_bytes()[0].rstrip(b"\n")[:-5]), full=True)
    add(P, "defect-size-too-small", "pdf", write(lambda: pdf_bytes()[0].replace(b"/Size 6", b"/Size 3")), full=True)
    add(P, "trailing-blank-lines", "pdf", write(lambda: pdf_bytes()[0] + b"\n\r\n  \n"))
    add(P, "trailing-garbage", "pdf", write(lambda: pdf_bytes()[0] + b"<html>not part of the pdf</html>\n"), full=True)
    add(P, "junk-before-header", "pdf", write(lambda: b"X" * 200 + b"\n" + pdf_bytes()[0]), full=True)


# ---------------------------------------------------------------------------------------------
# JPEG: libjpeg-turbo's cjpeg and jpegtran, ImageMagick's CMYK


def jpeg_recipes():
    P, kw = "cjpeg", dict(needs=("cjpeg",))

    def cj(src, *opts):
        return lambda c, d: run(["cjpeg", *opts, "-outfile", d, src(c)])

    ppm = lambda c: src_photo(c, 1024, 768, key="cj", fmt="ppm")  # noqa: E731
    ppm_small = lambda c: src_photo(c, 480, 640, key="cjs", fmt="ppm")  # noqa: E731
    pgm = lambda c: src_page(c, *A4_150, key="cj", fmt="pgm", mode="L")  # noqa: E731
    page = lambda c: src_page(c, *A4_150, key="cjp", fmt="ppm", mode="RGB")  # noqa: E731
    for q in (40, 75, 95, 100):
        add(P, f"quality-{q}", "jpg", cj(ppm, "-quality", str(q)), **kw)
    variants = {
        "progressive": ["-progressive"],
        "progressive-optimize": ["-progressive", "-optimize"],
        "optimize": ["-optimize"],
        "restart-1-row": ["-restart", "1"],
        "restart-16-rows": ["-restart", "16"],
        "restart-3-blocks": ["-restart", "3B"],
        "sample-444": ["-sample", "1x1"],
        "sample-422": ["-sample", "2x1"],
        "sample-420": ["-sample", "2x2"],
        "sample-440": ["-sample", "1x2"],
        "sample-411": ["-sample", "4x1"],
        "progressive-444": ["-progressive", "-sample", "1x1"],
        "grayscale": ["-grayscale"],
        "arithmetic": ["-arithmetic"],
        "arithmetic-progressive": ["-arithmetic", "-progressive"],
        "dct-float": ["-dct", "float"],
        "dct-fast": ["-dct", "fast"],
        "smooth-50": ["-smooth", "50"],
        "rgb-no-ycc": ["-rgb"],
        "baseline-q5": ["-baseline", "-quality", "5"],
        "quality-90-60": ["-quality", "90,60"],
        "restart-progressive": ["-restart", "2", "-progressive"],
    }
    for name, opts in variants.items():
        add(P, name, "jpg", cj(ppm, *opts), **kw)
    add(P, "small-portrait", "jpg", cj(ppm_small, "-quality", "85"), **kw)
    add(P, "gray-page", "jpg", cj(pgm, "-quality", "80"), **kw)
    add(P, "page-progressive", "jpg", cj(page, "-quality", "70", "-progressive"), **kw)
    add(P, "large-photo", "jpg", cj(lambda c: src_photo(c, 4000, 3000, key="big", fmt="ppm"), "-quality", "88"),
        full=True, needs=("cjpeg",))
    add(P, "a4-300dpi-page", "jpg", cj(lambda c: src_page(c, *A4_300, key="cj300", fmt="ppm"), "-quality", "75"),
        full=True, needs=("cjpeg",))

    P, kw = "jpegtran", dict(needs=("jpegtran",))
    base = lambda c: c.src("jt-base.jpg", lambda p: run(["cjpeg", "-quality", "85", "-outfile", p, ppm(c)]))  # noqa: E731
    tran = {
        "progressive": ["-progressive"],
        "optimize": ["-optimize"],
        "restart-4": ["-restart", "4"],
        "rotate-90": ["-rotate", "90"],
        "rotate-180-trim": ["-rotate", "180", "-trim"],
        "transpose": ["-transpose"],
        "flip-horizontal": ["-flip", "horizontal"],
        "grayscale": ["-grayscale"],
        "copy-none": ["-copy", "none"],
        "arithmetic": ["-arithmetic"],
        "crop": ["-crop", "600x400+16+16"],
    }
    for name, opts in tran.items():
        add(P, name, "jpg", lambda c, d, opts=opts: run(["jpegtran", *opts, "-outfile", d, base(c)]), **kw)

    P, kw = "imagemagick", dict(needs=(IM_CONVERT,))
    add(P, "jpeg-cmyk", "jpg", lambda c, d: run([IM_CONVERT, ppm(c), "-colorspace", "CMYK", "-quality", "85", d]), **kw)
    add(P, "jpeg-cmyk-progressive", "jpg", lambda c, d: run(
        [IM_CONVERT, ppm(c), "-colorspace", "CMYK", "-interlace", "Plane", d]), **kw)
    add(P, "jpeg-sampling-422-plane", "jpg", lambda c, d: run(
        [IM_CONVERT, ppm(c), "-sampling-factor", "2x1", "-interlace", "Plane", "-quality", "80", d]), **kw)
    add(P, "jpeg-gray-scan", "jpg", lambda c, d: run(
        [IM_CONVERT, src_scan(c, *A4_150, key="imj"), "-colorspace", "Gray", "-quality", "60", d]), **kw)
    add(P, "jpeg-cmyk-jpegtran-progressive", "jpg", lambda c, d: run(
        ["jpegtran", "-progressive", "-outfile", d,
         c.src("cmyk-base.jpg", lambda p: run([IM_CONVERT, ppm(c), "-colorspace", "CMYK", p]))]),
        needs=(IM_CONVERT, "jpegtran"))


# ---------------------------------------------------------------------------------------------
# TIFF: libtiff's tiffcp in every compression, ImageMagick's TIFFs


def tiff_sources(ctx, which):
    def pil(img_fn):
        return lambda p: img_fn().save(p, "TIFF")

    table = {
        "rgb": lambda: photo(1024, 768, "tif"),
        "gray": lambda: text_page(*A4_150, "tifg").convert("L"),
        "bilevel": lambda: scan_page(*A4_200, "tifb"),
        "bilevel2": lambda: scan_page(*A4_200, "tifb2"),
        "palette": lambda: photo(800, 600, "tifp").convert("P", palette=1, colors=64),
        "rgba": lambda: photo(600, 600, "tifa").convert("RGBA"),
    }
    return ctx.src(f"tiff-{which}.tif", pil(table[which]))


def tiff_recipes():
    P, kw = "tiffcp", dict(needs=("tiffcp",))

    def tc(srcs, *opts):
        return lambda c, d: run(["tiffcp", *opts, *[tiff_sources(c, s) for s in srcs], d])

    # JPEG strips must be a multiple of 8 or 16 rows high: -r 16.
    for comp in ("none", "lzw", "lzw:2", "zip", "zip:2", "packbits", "jpeg", "jpeg:50"):
        strips = ["-r", "16"] if comp.startswith("jpeg") else []
        add(P, f"rgb-{comp.replace(':', '-p')}", "tif", tc(["rgb"], "-c", comp, *strips), **kw)
    for comp in ("lzw", "zip", "jpeg", "packbits"):
        strips = ["-r", "16"] if comp.startswith("jpeg") else []
        add(P, f"gray-{comp}", "tif", tc(["gray"], "-c", comp, *strips), **kw)
    for comp in ("none", "g3", "g3:2d", "g3:fill", "g3:2d:fill", "g4", "lzw", "zip", "packbits"):
        add(P, f"bilevel-{comp.replace(':', '-')}", "tif", tc(["bilevel"], "-c", comp), **kw)
    add(P, "palette-lzw", "tif", tc(["palette"], "-c", "lzw"), **kw)
    add(P, "rgba-zip", "tif", tc(["rgba"], "-c", "zip"), **kw)
    add(P, "multipage-g4", "tif", tc(["bilevel", "bilevel2", "bilevel"], "-c", "g4"), **kw)
    add(P, "multipage-mixed-lzw", "tif", tc(["rgb", "gray", "bilevel"], "-c", "lzw"), **kw)
    add(P, "rows-per-strip-1", "tif", tc(["gray"], "-c", "lzw", "-r", "1"), **kw)
    add(P, "tiled-128", "tif", tc(["rgb"], "-c", "zip", "-t", "-w", "128", "-l", "128"), **kw)
    add(P, "tiled-jpeg", "tif", tc(["rgb"], "-c", "jpeg", "-t", "-w", "256", "-l", "256"), **kw)
    add(P, "planar-separate", "tif", tc(["rgb"], "-c", "lzw", "-p", "separate"), **kw)
    add(P, "big-endian", "tif", tc(["rgb"], "-c", "lzw", "-B"), **kw)
    add(P, "big-endian-g4", "tif", tc(["bilevel"], "-c", "g4", "-B"), **kw)
    add(P, "large-a4-300dpi-g4", "tif", lambda c, d: run(
        ["tiffcp", "-c", "g4", c.src("scan-300.tif", lambda p: scan_page(*A4_300, "t300").save(p, "TIFF")), d]),
        full=True, needs=("tiffcp",))
    add(P, "large-photo-jpeg", "tif", lambda c, d: run(
        ["tiffcp", "-c", "jpeg", "-r", "16", c.src("big.tif", lambda p: photo(4000, 3000, "big").save(p, "TIFF")), d]),
        full=True, needs=("tiffcp",))

    P, kw = "imagemagick", dict(needs=(IM_CONVERT,))
    rgb = lambda c: src_photo(c, 1024, 768, key="imt", fmt="png")  # noqa: E731
    scan = lambda c: src_scan(c, *A4_200, key="imt")  # noqa: E731
    for comp in ("None", "LZW", "Zip", "JPEG", "RLE"):
        add(P, f"tiff-{comp.lower()}", "tif", lambda c, d, comp=comp: run([IM_CONVERT, rgb(c), "-compress", comp, d]), **kw)
    for comp in ("Group4", "Fax"):
        add(P, f"tiff-{comp.lower()}", "tif", lambda c, d, comp=comp: run(
            [IM_CONVERT, scan(c), "-monochrome", "-compress", comp, d]), **kw)
    add(P, "tiff-cmyk", "tif", lambda c, d: run([IM_CONVERT, rgb(c), "-colorspace", "CMYK", "-compress", "LZW", d]), **kw)
    add(P, "tiff-16bit", "tif", lambda c, d: run([IM_CONVERT, rgb(c), "-depth", "16", "-compress", "Zip", d]), **kw)
    add(P, "tiff-alpha", "tif", lambda c, d: run([IM_CONVERT, src_png_alpha(c), "-compress", "LZW", d]), **kw)
    add(P, "tiff-multipage", "tif", lambda c, d: run(
        [IM_CONVERT, rgb(c), scan(c), src_page(c, *A4_150, key="imt"), "-compress", "LZW", d]), **kw)
    add(P, "tiff-tiled", "tif", lambda c, d: run(
        [IM_CONVERT, rgb(c), "-define", "tiff:tile-geometry=256x256", "-compress", "Zip", d]), **kw)


# ---------------------------------------------------------------------------------------------
# PNG, WebP, GIF


def png_recipes():
    P, kw = "pillow", dict(needs=("py:PIL",))

    def pil(img_fn, fmt, **opts):
        return lambda c, d: img_fn(c).save(d, fmt, **opts)

    ph = lambda c: photo(800, 600, "png")  # noqa: E731
    add(P, "png-rgb", "png", pil(ph, "PNG"), **kw)
    add(P, "png-rgba", "png", lambda c, d: shutil.copy(src_png_alpha(c), d), **kw)
    add(P, "png-gray", "png", pil(lambda c: text_page(*A4_150, "pngg").convert("L"), "PNG"), **kw)
    add(P, "png-gray-alpha", "png", pil(lambda c: photo(500, 500, "la").convert("LA"), "PNG"), **kw)
    add(P, "png-palette", "png", pil(lambda c: ph(c).convert("P", palette=1, colors=200), "PNG"), **kw)

    def pal_trans(c):
        img = photo(640, 480, "pt").convert("P", palette=1, colors=16)
        img.info["transparency"] = 0
        return img

    add(P, "png-palette-transparency", "png", lambda c, d: pal_trans(c).save(d, "PNG", transparency=0), **kw)
    add(P, "png-bilevel", "png", pil(lambda c: scan_page(*A4_150, "pngb"), "PNG"), **kw)
    add(P, "png-gray-16bit", "png", pil(lambda c: photo(600, 400, "g16").convert("L").convert("I;16"), "PNG"), **kw)
    add(P, "png-optimize", "png", pil(ph, "PNG", optimize=True), **kw)
    add(P, "png-level-0", "png", pil(ph, "PNG", compress_level=0), **kw)

    def with_icc(c, d):
        from PIL import ImageCms

        prof = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        ph(c).save(d, "PNG", icc_profile=prof)

    add(P, "png-icc-profile", "png", with_icc, **kw)

    def with_text(c, d):
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Title", "Attestation")
        info.add_itxt("Description", "Pièce justificative", zip=True)
        info.add_text("Comment", "x" * 2000, zip=True)
        ph(c).save(d, "PNG", pnginfo=info)

    add(P, "png-text-chunks", "png", with_text, **kw)

    def with_exif(c, d):
        img = ph(c)
        exif = img.getexif()
        exif[0x0112] = 6
        exif[0x010F] = "Google"
        img.save(d, "PNG", exif=exif)

    add(P, "png-exif-chunk", "png", with_exif, **kw)
    add(P, "webp-lossy", "webp", pil(ph, "WEBP", quality=80), **kw)
    add(P, "webp-lossless", "webp", pil(ph, "WEBP", lossless=True), **kw)
    add(P, "gif-photo", "gif", pil(ph, "GIF"), **kw)
    add(P, "gif-page-gray", "gif", pil(lambda c: text_page(*A4_150, "gifg").convert("L"), "GIF"), **kw)

    def anim(c, d):
        frames = [photo(480, 480, f"anim{i}").convert("P", palette=1) for i in range(4)]
        frames[0].save(d, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)

    add(P, "gif-animated", "gif", anim, **kw)
    add(P, "bmp", "bmp", pil(ph, "BMP"), **kw)
    add(P, "png-large-photo", "png", pil(lambda c: photo(4000, 3000, "big"), "PNG"), full=True, needs=("py:PIL",))
    add(P, "png-large-scan", "png", pil(lambda c: scan_page(*A4_300, "pngl"), "PNG"), full=True, needs=("py:PIL",))

    P, kw = "imagemagick", dict(needs=(IM_CONVERT,))
    rgb = lambda c: src_photo(c, 800, 600, key="imp", fmt="png")  # noqa: E731
    add(P, "png-interlaced", "png", lambda c, d: run([IM_CONVERT, rgb(c), "-interlace", "PNG", d]), **kw)
    add(P, "png-16bit-rgb", "png", lambda c, d: run([IM_CONVERT, rgb(c), "-depth", "16", d]), **kw)
    add(P, "png8-palette", "png", lambda c, d: run([IM_CONVERT, rgb(c), f"PNG8:{d}"]), **kw)
    add(P, "png-gray-interlaced", "png", lambda c, d: run(
        [IM_CONVERT, src_page(c, *A4_150, key="impg"), "-colorspace", "Gray", "-interlace", "PNG", d]), **kw)
    add(P, "gif-animated", "gif", lambda c, d: run(
        [IM_CONVERT, "-delay", "50", "-loop", "0"] + [src_photo(c, 500, 400, key=f"ga{i}", fmt="png") for i in range(3)]
        + ["-layers", "Optimize", d]), **kw)
    add(P, "gif-dithered", "gif", lambda c, d: run([IM_CONVERT, rgb(c), "-dither", "FloydSteinberg", "-colors", "64", d]), **kw)
    add(P, "webp", "webp", lambda c, d: run([IM_CONVERT, rgb(c), "-quality", "70", d]), **kw)
    add(P, "bmp3", "bmp", lambda c, d: run([IM_CONVERT, rgb(c), f"BMP3:{d}"]), **kw)

    P, kw = "cwebp", dict(needs=("cwebp",))
    for name, opts in {"q50": ["-q", "50"], "q95-m6": ["-q", "95", "-m", "6"], "lossless": ["-lossless"],
                       "near-lossless-60": ["-near_lossless", "60"], "sharp-yuv": ["-sharp_yuv"],
                       "small": ["-resize", "400", "0"]}.items():
        add(P, name, "webp", lambda c, d, opts=opts: run(["cwebp", "-quiet", *opts, rgb(c), "-o", d]), **kw)
    # -z 9 takes about 20 s.
    add(P, "lossless-z9", "webp", lambda c, d: run(["cwebp", "-quiet", "-z", "9", rgb(c), "-o", d]), full=True, needs=("cwebp",))
    add(P, "alpha", "webp", lambda c, d: run(["cwebp", "-quiet", "-alpha_q", "50", src_png_alpha(c), "-o", d]), **kw)
    add(P, "exif-metadata", "webp", lambda c, d: run(
        ["cwebp", "-quiet", "-metadata", "exif", exif_jpeg(c, "webp", ["-Orientation=6", "-n"]), "-o", d]),
        needs=("cwebp", "exiftool"))
    add(P, "gif2webp-animated", "webp", lambda c, d: run(
        ["gif2webp", "-quiet", c.src("anim.gif", lambda p: run(
            [IM_CONVERT, "-delay", "40"] + [src_photo(c, 400, 400, key=f"w{i}", fmt="png") for i in range(3)] + [p])), "-o", d]),
        needs=("gif2webp",))

    P, kw = "gifsicle", dict(needs=("gifsicle",))
    anim_gif = lambda c: c.src("anim-pil.gif", lambda p: anim(c, p))  # noqa: E731
    add(P, "optimize-O3", "gif", lambda c, d: run(["gifsicle", "-O3", anim_gif(c), "-o", d]), **kw)
    add(P, "interlace", "gif", lambda c, d: run(["gifsicle", "--interlace", anim_gif(c), "-o", d]), **kw)
    add(P, "colors-16", "gif", lambda c, d: run(["gifsicle", "--colors", "16", anim_gif(c), "-o", d]), **kw)


# ---------------------------------------------------------------------------------------------
# Phone-style EXIF: exiftool and piexif


def exif_jpeg(ctx, key, tags):
    """A 4:3 phone photo with the given exiftool tag assignments."""
    def build(p):
        base = src_photo(ctx, 1600, 1200, key="phone", fmt="jpg")
        shutil.copy(base, p)
        run(["exiftool", "-q", "-overwrite_original", "-Make=Apple", "-Model=iPhone 13",
             "-DateTimeOriginal=2024:05:14 10:22:31", *tags, p])

    return ctx.src(f"exif-{key}.jpg", build)


def exif_recipes():
    P, kw = "exiftool", dict(needs=("exiftool",))

    def et(*tags):
        def fn(c, d):
            shutil.copy(src_photo(c, 1600, 1200, key="phone", fmt="jpg"), d)
            run(["exiftool", "-q", "-overwrite_original", "-Make=samsung", "-Model=SM-G991B",
                 "-DateTimeOriginal=2024:03:02 08:15:00", "-Software=G991BXXU5CVLL", *tags, d])

        return fn

    for o in range(1, 9):
        add(P, f"orientation-{o}", "jpg", et(f"-Orientation={o}", "-n"), **kw)
    gps = ["-GPSLatitude=48.8566", "-GPSLatitudeRef=N", "-GPSLongitude=2.3522", "-GPSLongitudeRef=E",
           "-GPSAltitude=35", "-GPSDateStamp=2024:03:02", "-GPSTimeStamp=08:15:00"]
    add(P, "gps", "jpg", et(*gps), **kw)
    add(P, "gps-orientation-6", "jpg", et(*gps, "-Orientation=6", "-n"), **kw)

    def thumb(c, d):
        t = c.src("thumb.jpg", lambda p: photo(160, 120, "phone").save(p, "JPEG", quality=70))
        et("-Orientation=1", "-n")(c, d)
        run(["exiftool", "-q", "-overwrite_original", f"-ThumbnailImage<={t}", d])

    add(P, "thumbnail", "jpg", thumb, **kw)
    add(P, "xmp-iptc", "jpg", et("-XMP-dc:Title=Carte", "-IPTC:Caption-Abstract=recto", "-XMP-dc:Creator=moi"), **kw)
    add(P, "icc-profile-comment", "jpg", et("-Comment=scanned by phone", "-UserComment=ok"), **kw)
    add(P, "exif-on-png", "png", lambda c, d: (shutil.copy(src_photo(c, 800, 600, key="expng", fmt="png"), d),
                                              run(["exiftool", "-q", "-overwrite_original", "-Orientation=3", "-n",
                                                   "-Make=Apple", d])), **kw)
    add(P, "exif-on-tiff", "tif", lambda c, d: (shutil.copy(tiff_sources(c, "rgb"), d),
                                                run(["exiftool", "-q", "-overwrite_original", "-Orientation=8", "-n",
                                                     "-Artist=scanner", d])), needs=("exiftool",))

    P, kw = "piexif", dict(needs=("py:piexif",))

    def px(orientation, gps=False, thumbnail=False):
        def fn(c, d):
            import piexif

            zeroth = {piexif.ImageIFD.Make: b"Google", piexif.ImageIFD.Model: b"Pixel 7",
                      piexif.ImageIFD.Orientation: orientation}
            exif = {"0th": zeroth, "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:01:05 12:00:00"}}
            if gps:
                exif["GPS"] = {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((45, 1), (45, 1), (1234, 100)),
                               piexif.GPSIFD.GPSLongitudeRef: b"E", piexif.GPSIFD.GPSLongitude: ((4, 1), (50, 1), (0, 1))}
            if thumbnail:
                import io

                buf = io.BytesIO()
                photo(160, 120, "px").save(buf, "JPEG", quality=60)
                exif["1st"] = {piexif.ImageIFD.JPEGInterchangeFormat: 0, piexif.ImageIFD.JPEGInterchangeFormatLength: 0}
                exif["thumbnail"] = buf.getvalue()
            photo(1200, 1600, f"px{orientation}").save(d, "JPEG", quality=88, exif=piexif.dump(exif))

        return fn

    add(P, "orientation-6-portrait", "jpg", px(6), **kw)
    add(P, "orientation-3-gps", "jpg", px(3, gps=True), **kw)
    add(P, "orientation-8-thumbnail", "jpg", px(8, thumbnail=True), **kw)
    add(P, "orientation-1-gps-thumbnail", "jpg", px(1, gps=True, thumbnail=True), **kw)


# ---------------------------------------------------------------------------------------------


def available(need):
    if need.startswith("py:"):
        try:
            __import__(need[3:])
            return True
        except ImportError:
            return False
    return shutil.which(need) is not None or os.access(need, os.X_OK)


def register_all():
    for f in (reportlab_recipes, fpdf2_recipes, cairo_recipes, gs_recipes, img2pdf_recipes, qpdf_recipes,
              mutool_recipes, pdftocairo_recipes, tesseract_recipes, libreoffice_recipes,
              weasyprint_recipes, chromium_recipes, typst_recipes, handmade_recipes,
              jpeg_recipes, tiff_recipes, png_recipes, exif_recipes):
        f()


def choose(recipes, sample):
    """About `sample` recipes spread over producers (round-robin, each producer's recipes in a
    fixed shuffled order), or all."""
    if not sample:
        return recipes
    by_producer = {}
    for rcp in recipes:
        by_producer.setdefault(rcp.producer, []).append(rcp)
    for p, lst in by_producer.items():
        rng("sample-order", p).shuffle(lst)
    chosen = []
    while len(chosen) < sample and any(by_producer.values()):
        for p in sorted(by_producer):
            if by_producer[p] and len(chosen) < sample:
                chosen.append(by_producer[p].pop(0))
    return chosen


def main():
    warnings.filterwarnings("ignore", message="Dimensions for page format")  # fpdf2's A5 notice
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated glob of recipe ids (debugging)")
    args = ap.parse_args()
    register_all()
    ctx = Ctx(args.out)
    recipes = [r for r in RECIPES if args.full or not r.full]
    if args.only:
        import fnmatch

        recipes = [r for r in recipes if any(fnmatch.fnmatch(r.id, g) for g in args.only.split(","))]
    missing = sorted({n for r in recipes for n in r.needs if not available(n)})
    if missing:
        print(f"generate: missing {', '.join(missing)}; their recipes are skipped", file=sys.stderr)
    recipes = [r for r in recipes if all(available(n) for n in r.needs)]
    recipes = choose(recipes, args.sample)
    rows, failures = [], []
    started = time.monotonic()
    for i, rcp in enumerate(recipes, 1):
        dest = args.out / "files" / rcp.producer / f"{rcp.name}.{rcp.ext}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        try:
            rcp.fn(ctx, dest)
            if not dest.exists() or dest.stat().st_size == 0:
                raise ToolError("no output")
            rows.append({"file": str(dest), "recipe": rcp.id, "producer": rcp.producer, "origin": ""})
        except Exception as e:  # noqa: BLE001 - a failed producer is reported, not fatal
            msg = str(e) if isinstance(e, ToolError) else f"{type(e).__name__}: {e}"
            failures.append((rcp.id, msg.replace("\t", " ").replace("\n", " ")[:300]))
            if not isinstance(e, ToolError) and os.environ.get("DIFFERENTIAL_DEBUG"):
                traceback.print_exc()
            dest.unlink(missing_ok=True)
        dt = time.monotonic() - t0
        if dt > 20:
            print(f"generate: {rcp.id} took {dt:.0f} s", file=sys.stderr)
        if i % 50 == 0:
            print(f"generate: {i}/{len(recipes)} recipes, {time.monotonic() - started:.0f} s", file=sys.stderr)
    write_manifest(args.out / "generated.tsv", rows)
    with open(args.out / "generation-failures.tsv", "w") as f:
        f.write("recipe\terror\n")
        for rid, msg in failures:
            f.write(f"{rid}\t{msg}\n")
    print(f"generate: {len(rows)} files from {len({r['producer'] for r in rows})} producers, "
          f"{len(failures)} recipes failed, {time.monotonic() - started:.0f} s", file=sys.stderr)
    for rid, msg in failures:
        print(f"generate: FAILED {rid}: {msg}", file=sys.stderr)


if __name__ == "__main__":
    main()
