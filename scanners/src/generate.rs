//! Synthetic scanned batches: guichet's own cover and separator sheets and document pages,
//! "scanned" at 200 or 300 dpi with skew, rotation, noise and blank duplex backs, encoded as
//! JPEG or CCITT G4 in a PDF or a multi-page TIFF, with a manifest of what the batch holds.
//!
//! Sheets are rasterised from [`crate::cover::render`]'s own PDF (its QR rectangles are
//! painted, its text lines drawn as bars), so a batch exercises the printed sheet, not a
//! separate drawing of the code. Document pages are text-like blocks, optionally with a sample
//! picture pasted in. Everything is deterministic for a given seed.
//!
//! G4 data comes from the `fax` crate's encoder. The `tiff` crate writes pixels but not
//! already-encoded CCITT strips, so TIFF containers are written by a small IFD writer
//! (`tiff_reader::write_strips`), whose output the `tiff` crate reads back in the tests.

use lopdf::content::Content;
use lopdf::{Document, Object, Stream, dictionary};
use serde::Serialize;

use crate::cover::{self, CoverSheet};
use crate::sheet::{self, SheetCode};
use crate::tiff_reader::{StripPage, write_strips};

/// A4 in inches.
const A4: (f32, f32) = (8.27, 11.69);

/// A grayscale page picture (0 black, 255 white).
#[derive(Debug, Clone)]
pub struct Canvas {
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
    /// Pixels, row by row.
    pub px: Vec<u8>,
    /// Resolution in dpi.
    pub dpi: u32,
}

impl Canvas {
    /// A white A4 page at `dpi`, paper slightly off-white as scanners see it.
    pub fn a4(dpi: u32) -> Canvas {
        let w = (A4.0 * dpi as f32).round() as usize;
        let h = (A4.1 * dpi as f32).round() as usize;
        Canvas {
            w,
            h,
            px: vec![246; w * h],
            dpi,
        }
    }

    /// Fills a rectangle (clipped) with `value`.
    pub fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, value: u8) {
        let x0 = x.round().max(0.0) as usize;
        let y0 = y.round().max(0.0) as usize;
        let x1 = ((x + w).round().max(0.0) as usize).min(self.w);
        let y1 = ((y + h).round().max(0.0) as usize).min(self.h);
        for yy in y0..y1.max(y0) {
            self.px[yy * self.w + x0.min(x1)..yy * self.w + x1].fill(value);
        }
    }

    /// The page turned by a multiple of 90° clockwise (a sheet fed sideways or upside down).
    pub fn turned(&self, quarter_turns: u32) -> Canvas {
        let (w, h) = (self.w, self.h);
        match quarter_turns % 4 {
            0 => self.clone(),
            2 => Canvas {
                px: self.px.iter().rev().copied().collect(),
                ..self.clone()
            },
            q => {
                let mut px = vec![0u8; w * h];
                for y in 0..h {
                    for x in 0..w {
                        // Clockwise: (x, y) -> (h-1-y, x); counter-clockwise: (y, w-1-x).
                        let (nx, ny) = if q == 1 {
                            (h - 1 - y, x)
                        } else {
                            (y, w - 1 - x)
                        };
                        px[ny * h + nx] = self.px[y * w + x];
                    }
                }
                Canvas {
                    w: h,
                    h: w,
                    px,
                    dpi: self.dpi,
                }
            }
        }
    }

    /// The page skewed by `degrees` about its centre (bilinear; uncovered corners white).
    pub fn skewed(&self, degrees: f32) -> Canvas {
        let (s, c) = degrees.to_radians().sin_cos();
        let (cx, cy) = (self.w as f32 / 2.0, self.h as f32 / 2.0);
        let mut px = vec![246u8; self.w * self.h];
        for y in 0..self.h {
            let dy = y as f32 - cy;
            for x in 0..self.w {
                let dx = x as f32 - cx;
                let sx = c * dx + s * dy + cx;
                let sy = -s * dx + c * dy + cy;
                if sx < 0.0 || sy < 0.0 || sx >= (self.w - 1) as f32 || sy >= (self.h - 1) as f32 {
                    continue;
                }
                let (ix, iy) = (sx as usize, sy as usize);
                let (fx, fy) = (sx - ix as f32, sy - iy as f32);
                let p = |xx: usize, yy: usize| self.px[yy * self.w + xx] as f32;
                let top = p(ix, iy) * (1.0 - fx) + p(ix + 1, iy) * fx;
                let bottom = p(ix, iy + 1) * (1.0 - fx) + p(ix + 1, iy + 1) * fx;
                px[y * self.w + x] = (top * (1.0 - fy) + bottom * fy) as u8;
            }
        }
        Canvas { px, ..self.clone() }
    }

    /// Sensor noise (±`amplitude`) and dust specks, deterministic for `seed`.
    pub fn noisy(&self, seed: u64, amplitude: u8, specks: usize) -> Canvas {
        let mut rng = Rng(seed | 1);
        let mut out = self.clone();
        let a = amplitude as i32;
        if a > 0 {
            for v in out.px.iter_mut() {
                let n = (rng.next() % (2 * a as u64 + 1)) as i32 - a;
                *v = (*v as i32 + n).clamp(0, 255) as u8;
            }
        }
        for _ in 0..specks {
            let i = (rng.next() % out.px.len() as u64) as usize;
            out.px[i] = 40;
        }
        out
    }

    /// Faint mirrored text from the other side of thin paper, as on a duplex back.
    pub fn show_through(&self, seed: u64) -> Canvas {
        let mut page = text_page(self.dpi, seed, 0);
        for v in page.px.iter_mut() {
            // Ink seen through paper: light gray at most.
            *v = 246 - ((246 - *v as i32) / 12) as u8;
        }
        page
    }

    /// Pastes `img` (gray) at (`x`, `y`) inches, `width` inches wide.
    pub fn paste(&mut self, img: &Canvas, x: f32, y: f32, width: f32) {
        let scale = img.w as f32 / (width * self.dpi as f32);
        let (ox, oy) = (
            (x * self.dpi as f32) as usize,
            (y * self.dpi as f32) as usize,
        );
        let w = (img.w as f32 / scale) as usize;
        let h = (img.h as f32 / scale) as usize;
        for yy in 0..h.min(self.h.saturating_sub(oy)) {
            for xx in 0..w.min(self.w.saturating_sub(ox)) {
                let sx = ((xx as f32 * scale) as usize).min(img.w - 1);
                let sy = ((yy as f32 * scale) as usize).min(img.h - 1);
                self.px[(oy + yy) * self.w + ox + xx] = img.px[sy * img.w + sx];
            }
        }
    }
}

/// A small deterministic generator (xorshift64*): test batches must be reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % (hi - lo + 1) as u64) as u32
    }
}

/// A page of a document: a heading and paragraphs of text-like glyphs. `number` varies the
/// layout (and is printed large as a page number) so that pages differ.
pub fn text_page(dpi: u32, seed: u64, number: u32) -> Canvas {
    let mut page = Canvas::a4(dpi);
    let mut rng = Rng(seed.wrapping_mul(31).wrapping_add(number as u64) | 1);
    let d = dpi as f32;
    let pt = d / 72.0;
    let (left, right) = (0.9 * d, page.w as f32 - 0.9 * d);
    let mut y = 1.0 * d;
    // Heading.
    let mut x = left;
    for _ in 0..rng.range(2, 4) {
        let word = rng.range(4, 9) as f32 * 9.0 * pt;
        page.fill(x, y, word, 12.0 * pt, 30);
        x += word + 8.0 * pt;
    }
    y += 30.0 * pt;
    let bottom = page.h as f32 - 1.2 * d;
    while y < bottom {
        let lines = rng.range(3, 8);
        for line in 0..lines {
            let mut x = left;
            let end = if line + 1 == lines {
                left + (right - left) * rng.range(20, 90) as f32 / 100.0
            } else {
                right
            };
            while x < end {
                let letters = rng.range(2, 9);
                for _ in 0..letters {
                    let tall = rng.range(0, 3) == 0;
                    let (gh, gy) = if tall { (7.5, 0.0) } else { (5.0, 2.5) };
                    page.fill(x, y + gy * pt, 4.0 * pt, gh * pt, 35);
                    x += 5.5 * pt;
                }
                x += 4.0 * pt;
            }
            y += 13.0 * pt;
        }
        y += 10.0 * pt;
    }
    // A page number at the foot.
    page.fill(
        page.w as f32 / 2.0,
        page.h as f32 - 0.8 * d,
        6.0 * pt,
        8.0 * pt,
        30,
    );
    page
}

/// Rasterises one of [`cover::render`]'s PDFs: filled rectangles (the QR code) are painted,
/// text is drawn as bars of its estimated width (invisible text, render mode 3, is not).
pub fn rasterise_sheet(pdf: &[u8], dpi: u32) -> Result<Canvas, String> {
    let doc = Document::load_mem(pdf).map_err(|e| e.to_string())?;
    let page = *doc.get_pages().get(&1).ok_or("no page")?;
    let content = doc.get_page_content(page);
    let content = Content::decode(&content).map_err(|e| e.to_string())?;
    let mut canvas = Canvas::a4(dpi);
    let s = dpi as f32 / 72.0;
    let height_pt = cover::PAGE_HEIGHT;
    let num = |o: &Object| o.as_float().unwrap_or(0.0);
    let mut rects = Vec::new();
    let mut font_size = 12.0;
    let mut at = (0.0, 0.0);
    let mut invisible = false;
    for op in content.operations {
        match op.operator.as_str() {
            "re" if op.operands.len() == 4 => {
                let v: Vec<f32> = op.operands.iter().map(num).collect();
                rects.push((v[0], v[1], v[2], v[3]));
            }
            "f" | "F" | "f*" => {
                for (x, y, w, h) in rects.drain(..) {
                    canvas.fill(x * s, (height_pt - y - h) * s, w * s, h * s, 20);
                }
            }
            "Tf" if op.operands.len() == 2 => font_size = num(&op.operands[1]),
            "Td" if op.operands.len() == 2 => at = (num(&op.operands[0]), num(&op.operands[1])),
            "Tr" if op.operands.len() == 1 => invisible = num(&op.operands[0]) == 3.0,
            "ET" => invisible = false,
            "Tj" if !invisible => {
                if let Some(Object::String(text, _)) = op.operands.first() {
                    let width = text.len() as f32 * font_size * 0.5;
                    canvas.fill(
                        at.0 * s,
                        (height_pt - at.1 - font_size * 0.7) * s,
                        width * s,
                        font_size * 0.7 * s,
                        60,
                    );
                }
            }
            _ => {}
        }
    }
    Ok(canvas)
}

/// Baseline JPEG of a page, grayscale.
pub fn to_jpeg(page: &Canvas, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(
            &page.px,
            page.w as u32,
            page.h as u32,
            image::ExtendedColorType::L8,
        )
        .expect("encoding to memory cannot fail");
    out
}

/// CCITT Group 4 data of a page thresholded at mid-gray (black pixels coded black).
pub fn to_g4(page: &Canvas) -> Vec<u8> {
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::new());
    let width = u16::try_from(page.w).expect("scanned pages are narrower than 65,536 pixels");
    for row in page.px.chunks(page.w) {
        let pels = row.iter().map(|&v| {
            if v < 128 {
                fax::Color::Black
            } else {
                fax::Color::White
            }
        });
        encoder
            .encode_line(pels, width)
            .expect("encoding to memory cannot fail");
    }
    encoder
        .finish()
        .expect("encoding to memory cannot fail")
        .finish()
}

/// How page images are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageCoding {
    /// Grayscale JPEG.
    Jpeg,
    /// Bilevel CCITT Group 4.
    G4,
}

/// The container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    /// PDF, one image per page.
    Pdf,
    /// Multi-page TIFF.
    Tiff,
}

/// An encoded page ready for a container.
#[derive(Debug, Clone)]
pub struct EncodedPage {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Resolution.
    pub dpi: u32,
    /// JPEG or G4.
    pub coding: ImageCoding,
    /// The encoded image.
    pub data: Vec<u8>,
    /// A PDF `/Rotate` for the page (scanner software that rotates for display).
    pub rotate: u16,
}

/// Encodes a page.
pub fn encode_page(page: &Canvas, coding: ImageCoding) -> EncodedPage {
    EncodedPage {
        width: page.w as u32,
        height: page.h as u32,
        dpi: page.dpi,
        coding,
        data: match coding {
            ImageCoding::Jpeg => to_jpeg(page, 80),
            ImageCoding::G4 => to_g4(page),
        },
        rotate: 0,
    }
}

/// A PDF whose pages are the given images, as scanner software writes it.
pub fn pdf_batch(pages: &[EncodedPage]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    for page in pages {
        let mut dict = dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => page.width as i64,
            "Height" => page.height as i64,
            "ColorSpace" => "DeviceGray",
        };
        match page.coding {
            ImageCoding::Jpeg => {
                dict.set("BitsPerComponent", 8);
                dict.set("Filter", "DCTDecode");
            }
            ImageCoding::G4 => {
                dict.set("BitsPerComponent", 1);
                dict.set("Filter", "CCITTFaxDecode");
                dict.set(
                    "DecodeParms",
                    dictionary! {
                        "K" => -1,
                        "Columns" => page.width as i64,
                        "Rows" => page.height as i64,
                    },
                );
            }
        }
        let mut stream = Stream::new(dict, page.data.clone());
        stream.allows_compression = false;
        let image = doc.add_object(stream);
        let w = page.width as f32 * 72.0 / page.dpi as f32;
        let h = page.height as f32 * 72.0 / page.dpi as f32;
        let content = doc.add_object(Stream::new(
            dictionary! {},
            format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q").into_bytes(),
        ));
        let mut page_dict = dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), w.into(), h.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image } },
            "Contents" => content,
        };
        if page.rotate != 0 {
            page_dict.set("Rotate", page.rotate as i64);
        }
        kids.push(Object::Reference(doc.add_object(page_dict)));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Count" => kids.len() as i64,
            "Kids" => kids,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .expect("writing a PDF to memory cannot fail");
    out
}

/// A multi-page TIFF of the given images (G4 pages WhiteIsZero, JPEG pages BlackIsZero).
pub fn tiff_batch(pages: &[EncodedPage]) -> Vec<u8> {
    let strips: Vec<StripPage> = pages
        .iter()
        .map(|p| StripPage {
            width: p.width,
            height: p.height,
            bits: if p.coding == ImageCoding::G4 { 1 } else { 8 },
            samples: 1,
            compression: if p.coding == ImageCoding::G4 { 4 } else { 7 },
            photometric: if p.coding == ImageCoding::G4 { 0 } else { 1 },
            dpi: p.dpi,
            data: p.data.clone(),
        })
        .collect();
    write_strips(&strips)
}

/// How a sheet is fed into the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Placement {
    /// Quarter turns clockwise (0 upright, 1 at 90°, 2 upside down, 3 at 270°).
    pub quarter_turns: u32,
    /// Skew in degrees.
    pub skew: f32,
}

/// What one batch should contain.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSpec {
    /// A file-name-safe name.
    pub name: String,
    /// Scanning resolution.
    pub dpi: u32,
    /// Page encoding.
    pub coding: ImageCoding,
    /// Container.
    pub container: Container,
    /// Pages of a stray document before the first sheet.
    pub stray_pages: u32,
    /// Whether every sheet of paper has a (blank) back scanned too.
    pub duplex: bool,
    /// Noise amplitude (0 for none) and specks per page.
    pub noise: (u8, usize),
    /// The dossiers, in order.
    pub dossiers: Vec<DossierSpec>,
    /// Seed for everything random.
    pub seed: u64,
}

/// One dossier's mail: a cover sheet, pages without a separator, then pieces.
#[derive(Debug, Clone, Serialize)]
pub struct DossierSpec {
    /// The reference.
    pub reference: String,
    /// How the cover sheet is fed.
    pub cover: Placement,
    /// Pages after the cover sheet, before any separator.
    pub loose_pages: u32,
    /// Pieces behind separator sheets: code, pages, placement of the separator.
    pub pieces: Vec<(String, u32, Placement)>,
}

/// What a batch holds, for tests and for people.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// The batch's name.
    pub name: String,
    /// The file name written by the sample generator.
    pub file: String,
    /// The batch's recipe.
    pub spec: BatchSpec,
    /// Pages in the batch.
    pub pages: usize,
    /// Expected segments, in order.
    pub segments: Vec<ExpectedSegment>,
    /// Content pages before the first sheet.
    pub before_first_sheet: Vec<usize>,
    /// Pages that are blank backs.
    pub blank_pages: Vec<usize>,
}

/// An expected segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedSegment {
    /// The code its sheet carries.
    pub campaign: String,
    /// The dossier.
    pub dossier: String,
    /// The piece, on a separator sheet.
    pub piece: Option<String>,
    /// The sheet's page.
    pub sheet_page: usize,
    /// The document's pages.
    pub pages: Vec<usize>,
}

/// The campaign of generated batches.
pub const CAMPAIGN: &str = "demonstration";

/// A cover (or separator) sheet for `reference`, as [`cover::render`] draws it.
pub fn sheet_pdf(reference: &str, piece: Option<&str>, secret: &[u8]) -> Vec<u8> {
    let code = SheetCode {
        campaign: CAMPAIGN.into(),
        dossier: reference.into(),
        piece: piece.map(Into::into),
    };
    cover::render(&CoverSheet {
        campaign_title: "Session de démonstration — pièces justificatives".into(),
        reference: reference.into(),
        candidate_name: Some("Camille Lefèvre".into()),
        piece: piece.map(|p| (p.into(), format!("Pièce « {p} »"))),
        expected: vec![
            ("identite".into(), "Pièce d'identité".into()),
            ("jdc".into(), "Certificat de participation à la JDC".into()),
        ],
        code: sheet::encode(&code, secret),
    })
}

/// Feeds pages through a simulated scanner, keeping track of page numbers.
struct Scanner<'a> {
    spec: &'a BatchSpec,
    pages: Vec<EncodedPage>,
    blank_pages: Vec<usize>,
    scanned: u64,
    document_pages: u32,
}

impl Scanner<'_> {
    /// Scans one sheet of paper (and its blank back on a duplex batch); returns the front's
    /// page index.
    fn scan(&mut self, canvas: Canvas) -> usize {
        let spec = self.spec;
        self.scanned += 1;
        let seed = spec.seed.wrapping_mul(1000).wrapping_add(self.scanned);
        let canvas = canvas.noisy(seed, spec.noise.0, spec.noise.1);
        self.pages.push(encode_page(&canvas, spec.coding));
        let front = self.pages.len() - 1;
        if spec.duplex {
            let back =
                Canvas::a4(spec.dpi)
                    .show_through(seed)
                    .noisy(seed + 7, spec.noise.0, spec.noise.1);
            self.pages.push(encode_page(&back, spec.coding));
            self.blank_pages.push(self.pages.len() - 1);
        }
        front
    }

    /// Scans `n` document pages; returns their indices.
    fn content(&mut self, n: u32) -> Vec<usize> {
        (0..n)
            .map(|_| {
                self.document_pages += 1;
                let page = text_page(self.spec.dpi, self.spec.seed, self.document_pages);
                self.scan(page)
            })
            .collect()
    }
}

/// Builds a batch: its bytes and its manifest.
pub fn build(spec: &BatchSpec, secret: &[u8]) -> (Vec<u8>, Manifest) {
    let mut scanner = Scanner {
        spec,
        pages: Vec::new(),
        blank_pages: Vec::new(),
        scanned: 0,
        document_pages: 0,
    };
    let mut segments = Vec::new();
    let before_first_sheet = scanner.content(spec.stray_pages);
    let sheet = |reference: &str, piece: Option<&str>, placement: &Placement| {
        let page = rasterise_sheet(&sheet_pdf(reference, piece, secret), spec.dpi)
            .expect("cover::render writes PDFs that parse");
        let page = if placement.skew != 0.0 {
            page.skewed(placement.skew)
        } else {
            page
        };
        page.turned(placement.quarter_turns)
    };
    for dossier in &spec.dossiers {
        let sheet_page = scanner.scan(sheet(&dossier.reference, None, &dossier.cover));
        let pages = scanner.content(dossier.loose_pages);
        segments.push(ExpectedSegment {
            campaign: CAMPAIGN.into(),
            dossier: dossier.reference.clone(),
            piece: None,
            sheet_page,
            pages,
        });
        for (piece, n, placement) in &dossier.pieces {
            let sheet_page = scanner.scan(sheet(&dossier.reference, Some(piece), placement));
            let pages = scanner.content(*n);
            segments.push(ExpectedSegment {
                campaign: CAMPAIGN.into(),
                dossier: dossier.reference.clone(),
                piece: Some(piece.clone()),
                sheet_page,
                pages,
            });
        }
    }
    let (bytes, ext) = match spec.container {
        Container::Pdf => (pdf_batch(&scanner.pages), "pdf"),
        Container::Tiff => (tiff_batch(&scanner.pages), "tiff"),
    };
    let manifest = Manifest {
        name: spec.name.clone(),
        file: format!("{}.{ext}", spec.name),
        spec: spec.clone(),
        pages: scanner.pages.len(),
        segments,
        before_first_sheet,
        blank_pages: scanner.blank_pages,
    };
    (bytes, manifest)
}

/// The standard set of batches: JPEG PDFs and G4 TIFFs at 200 and 300 dpi, sheets upright,
/// upside down, at 90° and skewed, with noise, blank backs and a stray first page.
pub fn standard_specs() -> Vec<BatchSpec> {
    let up = Placement {
        quarter_turns: 0,
        skew: 0.0,
    };
    let p = |quarter_turns, skew| Placement {
        quarter_turns,
        skew,
    };
    let dossiers = |prefix: &str| {
        vec![
            DossierSpec {
                reference: format!("{prefix}-0001"),
                cover: p(2, 0.0),
                loose_pages: 1,
                pieces: vec![("identite".into(), 2, p(1, 2.5)), ("jdc".into(), 1, up)],
            },
            DossierSpec {
                reference: format!("{prefix}-0002"),
                cover: p(0, -3.0),
                loose_pages: 3,
                pieces: vec![],
            },
            DossierSpec {
                reference: format!("{prefix}-0003"),
                cover: p(3, 2.0),
                loose_pages: 0,
                pieces: vec![("justificatif_domicile".into(), 2, p(2, -2.0))],
            },
        ]
    };
    let spec = |name: &str, dpi, coding, container, duplex, noise, seed| BatchSpec {
        name: name.into(),
        dpi,
        coding,
        container,
        stray_pages: 1,
        duplex,
        noise,
        dossiers: dossiers(&name.to_uppercase().replace('-', "")[..6]),
        seed,
    };
    vec![
        spec(
            "jpeg-pdf-200",
            200,
            ImageCoding::Jpeg,
            Container::Pdf,
            true,
            (12, 300),
            1,
        ),
        spec(
            "jpeg-pdf-300",
            300,
            ImageCoding::Jpeg,
            Container::Pdf,
            false,
            (8, 600),
            2,
        ),
        spec(
            "g4-tiff-300",
            300,
            ImageCoding::G4,
            Container::Tiff,
            true,
            (30, 400),
            3,
        ),
        spec(
            "g4-tiff-200",
            200,
            ImageCoding::G4,
            Container::Tiff,
            false,
            (30, 200),
            4,
        ),
        spec(
            "g4-pdf-300",
            300,
            ImageCoding::G4,
            Container::Pdf,
            false,
            (20, 300),
            5,
        ),
        spec(
            "jpeg-tiff-200",
            200,
            ImageCoding::Jpeg,
            Container::Tiff,
            false,
            (10, 100),
            6,
        ),
    ]
}
