//! The printable sheet: an A4 PDF page with the QR code of a [`crate::sheet`] code, the dossier
//! reference in large type, the candidate's name, the pieces still expected and instructions in
//! French. A separator sheet (one that names a piece) shows the piece prominently.
//!
//! The QR code is drawn as filled vector rectangles (one per run of dark modules on a row), so
//! it prints sharp at any printer resolution and the file stays a few kilobytes. The same code
//! is written beside it as invisible text, for sheets that reach a batch as PDF pages. Text uses the
//! standard Helvetica fonts with WinAnsiEncoding, which covers French (accents, œ, «, », ’).

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, StringFormat, dictionary};
use qrcode::{EcLevel, QrCode};

/// A4 width in points.
pub const PAGE_WIDTH: f32 = 595.28;
/// A4 height in points.
pub const PAGE_HEIGHT: f32 = 841.89;
/// Side of the QR code on the page, quiet zone excluded, in points (65 mm): large enough to be
/// read at 75 dpi from a skewed or noisy scan.
pub const QR_SIDE: f32 = 184.0;
const MARGIN: f32 = 56.0;

/// Everything printed on a cover or separator sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverSheet {
    /// The campaign's title, as candidates know it.
    pub campaign_title: String,
    /// The dossier's reference, printed in large type.
    pub reference: String,
    /// The candidate's name, when known.
    pub candidate_name: Option<String>,
    /// For a separator sheet, the piece that follows: its code and label.
    pub piece: Option<(String, String)>,
    /// Pieces still expected for the dossier: code and label.
    pub expected: Vec<(String, String)>,
    /// The QR text, from [`crate::sheet::encode`].
    pub code: String,
}

/// Renders `sheet` as a one-page A4 PDF.
pub fn render(sheet: &CoverSheet) -> Vec<u8> {
    let mut ops = Vec::new();
    let top = PAGE_HEIGHT - MARGIN;

    let heading = if sheet.piece.is_some() {
        "Feuille séparatrice de pièce"
    } else {
        "Feuille de couverture du dossier"
    };
    text(&mut ops, Font::Bold, 20.0, MARGIN, top - 20.0, heading);
    let mut y = top - 44.0;
    for line in wrap(&sheet.campaign_title, 13.0, PAGE_WIDTH - 2.0 * MARGIN) {
        text(&mut ops, Font::Regular, 13.0, MARGIN, y, &line);
        y -= 17.0;
    }

    // The QR code sits at the top right, the identity block at its left.
    let qr_top = y - 12.0;
    let qr_x = PAGE_WIDTH - MARGIN - QR_SIDE;
    qr(&mut ops, &sheet.code, qr_x, qr_top - QR_SIDE, QR_SIDE);
    // Below the code's quiet zone, where no reader looks for modules.
    code_as_text(&mut ops, &sheet.code, qr_x, qr_top - QR_SIDE - 30.0);

    let left_width = qr_x - MARGIN - 16.0;
    let mut y = qr_top - 14.0;
    text(&mut ops, Font::Regular, 11.0, MARGIN, y, "Dossier");
    y -= 30.0;
    let ref_size = fit_size(&sheet.reference, Font::Bold, 30.0, left_width);
    text(&mut ops, Font::Bold, ref_size, MARGIN, y, &sheet.reference);
    y -= 28.0;
    if let Some(name) = &sheet.candidate_name {
        text(&mut ops, Font::Regular, 11.0, MARGIN, y, "Candidat");
        y -= 18.0;
        for line in wrap(name, 15.0, left_width).into_iter().take(3) {
            text(&mut ops, Font::Bold, 15.0, MARGIN, y, &line);
            y -= 19.0;
        }
    }
    if let Some((code, label)) = &sheet.piece {
        y -= 6.0;
        text(&mut ops, Font::Regular, 11.0, MARGIN, y, "Pièce");
        y -= 24.0;
        for line in wrap(label, 20.0, left_width).into_iter().take(3) {
            text(&mut ops, Font::Bold, 20.0, MARGIN, y, &line);
            y -= 24.0;
        }
        text(
            &mut ops,
            Font::Regular,
            11.0,
            MARGIN,
            y,
            &format!("code : {code}"),
        );
    }

    let mut y = qr_top - QR_SIDE - 40.0;
    let width = PAGE_WIDTH - 2.0 * MARGIN;
    text(&mut ops, Font::Bold, 13.0, MARGIN, y, "Mode d'emploi");
    y -= 18.0;
    for paragraph in instructions(sheet) {
        for line in wrap(&paragraph, 11.0, width) {
            text(&mut ops, Font::Regular, 11.0, MARGIN, y, &line);
            y -= 14.0;
        }
        y -= 4.0;
    }

    if !sheet.expected.is_empty() && sheet.piece.is_none() {
        y -= 8.0;
        text(
            &mut ops,
            Font::Bold,
            13.0,
            MARGIN,
            y,
            "Pièces encore attendues",
        );
        y -= 18.0;
        for (code, label) in &sheet.expected {
            if y < MARGIN + 14.0 {
                text(&mut ops, Font::Regular, 11.0, MARGIN, y, "…");
                break;
            }
            let item = format!("•  {label} ({code})");
            for line in wrap(&item, 11.0, width).into_iter().take(2) {
                text(&mut ops, Font::Regular, 11.0, MARGIN + 8.0, y, &line);
                y -= 14.0;
            }
        }
    }
    text(
        &mut ops,
        Font::Regular,
        8.0,
        MARGIN,
        MARGIN / 2.0,
        "Ne pas plier ni agrafer sur le code. Document produit par guichet.",
    );

    build_pdf(ops)
}

fn instructions(sheet: &CoverSheet) -> Vec<String> {
    let mut out = vec![
        "Imprimez cette page, placez-la au-dessus des pièces, et envoyez le tout par la poste \
         à l'adresse indiquée par l'organisateur."
            .to_string(),
    ];
    if sheet.piece.is_some() {
        out.push(
            "Placez cette feuille juste avant la pièce nommée ci-dessus : les pages qui la \
             suivent, jusqu'à la feuille suivante, seront classées dans cette pièce."
                .to_string(),
        );
    } else {
        out.push(
            "Les pages qui suivent cette feuille seront rattachées à votre dossier ; pour les \
             classer pièce par pièce, intercalez une feuille séparatrice avant chaque pièce."
                .to_string(),
        );
    }
    out.push(
        "N'envoyez que des copies : les documents ne sont pas retournés. Le code ci-contre est \
         propre à votre dossier ; ne le photocopiez pas pour un autre candidat."
            .to_string(),
    );
    out
}

#[derive(Clone, Copy)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> &'static [u8] {
        match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
        }
    }
    /// Average advance per character in em: only used to wrap and fit lines, where an
    /// estimate on the safe side is enough.
    fn average_width(self) -> f32 {
        match self {
            Font::Regular => 0.54,
            Font::Bold => 0.6,
        }
    }
}

fn text(ops: &mut Vec<Operation>, font: Font, size: f32, x: f32, y: f32, s: &str) {
    ops.push(Operation::new("BT", vec![]));
    ops.push(Operation::new(
        "Tf",
        vec![Object::Name(font.resource().to_vec()), size.into()],
    ));
    ops.push(Operation::new("Td", vec![x.into(), y.into()]));
    ops.push(Operation::new(
        "Tj",
        vec![Object::String(win_ansi(s), StringFormat::Literal)],
    ));
    ops.push(Operation::new("ET", vec![]));
}

/// Writes `code` as invisible text (render mode 3) at (`x`, `y`): a sheet put into a batch as
/// a PDF page, never printed and scanned, has no image to find a QR code in, and is found by
/// this text instead (`crate::batch`). The text carries the same tag as the QR code.
fn code_as_text(ops: &mut Vec<Operation>, code: &str, x: f32, y: f32) {
    ops.push(Operation::new("BT", vec![]));
    ops.push(Operation::new("Tr", vec![3.into()]));
    ops.push(Operation::new(
        "Tf",
        vec![Object::Name(Font::Regular.resource().to_vec()), 2.into()],
    ));
    ops.push(Operation::new("Td", vec![x.into(), y.into()]));
    ops.push(Operation::new(
        "Tj",
        vec![Object::String(
            code.as_bytes().to_vec(),
            StringFormat::Literal,
        )],
    ));
    ops.push(Operation::new("ET", vec![]));
}

/// Draws the QR code of `code` with its lower-left corner at (`x`, `y`), `side` points wide.
fn qr(ops: &mut Vec<Operation>, code: &str, x: f32, y: f32, side: f32) {
    // Medium error correction: the tag already guards against misreads, and fewer modules
    // mean larger ones on the page.
    let qr = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(code.as_bytes(), EcLevel::L))
        .expect("sheet codes are far below a QR code's capacity");
    let n = qr.width();
    let colors = qr.to_colors();
    let module = side / n as f32;
    ops.push(Operation::new("q", vec![]));
    ops.push(Operation::new("g", vec![0.into()]));
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if colors[row * n + col] == qrcode::Color::Dark {
                let start = col;
                while col < n && colors[row * n + col] == qrcode::Color::Dark {
                    col += 1;
                }
                let rx = x + start as f32 * module;
                let ry = y + side - (row + 1) as f32 * module;
                ops.push(Operation::new(
                    "re",
                    vec![
                        rx.into(),
                        ry.into(),
                        ((col - start) as f32 * module).into(),
                        module.into(),
                    ],
                ));
            } else {
                col += 1;
            }
        }
    }
    ops.push(Operation::new("f", vec![]));
    ops.push(Operation::new("Q", vec![]));
}

fn build_pdf(ops: Vec<Operation>) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = |base: &str| {
        dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => base,
            "Encoding" => "WinAnsiEncoding",
        }
    };
    let f1 = doc.add_object(font("Helvetica"));
    let f2 = doc.add_object(font("Helvetica-Bold"));
    let resources = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => f1, "F2" => f2 },
    });
    let content = Content { operations: ops }
        .encode()
        .expect("operations built here encode");
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), PAGE_WIDTH.into(), PAGE_HEIGHT.into()],
        "Contents" => content_id,
        "Resources" => resources,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page_id.into()],
            "Count" => 1,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .expect("writing a PDF to memory cannot fail");
    out
}

/// Encodes `s` in WinAnsiEncoding (Latin-1 plus the typographic characters of 0x80–0x9F);
/// anything else becomes `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            'Œ' => 0x8c,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            'œ' => 0x9c,
            'Ÿ' => 0x9f,
            _ => b'?',
        })
        .collect()
}

fn estimated_width(s: &str, font: Font, size: f32) -> f32 {
    s.chars().count() as f32 * font.average_width() * size
}

/// The largest size not above `max` at which `s` fits in `width` (down to 12 pt).
fn fit_size(s: &str, font: Font, max: f32, width: f32) -> f32 {
    let at_one = estimated_width(s, font, 1.0).max(1.0);
    (width / at_one).clamp(12.0, max)
}

/// Greedy word wrap on the estimated width; words longer than a line are cut.
fn wrap(s: &str, size: f32, width: f32) -> Vec<String> {
    let per_line = ((width / (Font::Regular.average_width() * size)) as usize).max(8);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > per_line {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..per_line).collect());
        }
        let word: String = word.into_iter().collect();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > per_line {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(piece: bool) -> CoverSheet {
        CoverSheet {
            campaign_title: "CAP Cuisine — session 2026, académie de Créteil".into(),
            reference: "CAP26-000042".into(),
            candidate_name: Some("Zoé Lefèvre-Œuvray".into()),
            piece: piece.then(|| ("jdc".into(), "Certificat de participation à la JDC".into())),
            expected: vec![
                (
                    "identite".into(),
                    "Pièce d'identité en cours de validité".into(),
                ),
                ("jdc".into(), "Certificat de participation à la JDC".into()),
            ],
            code: "GCH1:cap-2026:CAP26-000042::AAAAAAAAAAAAAAAA".into(),
        }
    }

    fn page_text(pdf: &[u8]) -> Vec<u8> {
        let doc = Document::load_mem(pdf).expect("render() writes a valid PDF");
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 1);
        let page = pages[&1];
        let content = doc.get_page_content(page);
        let content = Content::decode(&content).expect("content parses");
        let mut out = Vec::new();
        for op in content.operations {
            if op.operator == "Tj"
                && let Some(Object::String(s, _)) = op.operands.first()
            {
                out.extend_from_slice(s);
                out.push(b'\n');
            }
        }
        out
    }

    #[test]
    fn cover_sheet_is_an_a4_pdf_with_french_text() {
        let pdf = render(&sample(false));
        let doc = Document::load_mem(&pdf).expect("valid PDF");
        let page = doc.get_pages()[&1];
        let media = doc
            .get_dictionary(page)
            .and_then(|d| d.get(b"MediaBox"))
            .and_then(|m| m.as_array())
            .expect("MediaBox");
        assert_eq!(media[2].as_float().ok(), Some(PAGE_WIDTH));
        let text = page_text(&pdf);
        let has = |s: &str| {
            text.windows(win_ansi(s).len())
                .any(|w| w == win_ansi(s).as_slice())
        };
        assert!(has("CAP26-000042"));
        assert!(has("Zoé Lefèvre-Œuvray"));
        assert!(has("Imprimez cette page, placez-la au-dessus des pièces,"));
        assert!(has("Pièces encore attendues"));
        assert!(has("Pièce d'identité en cours de validité (identite)"));
        assert!(!text.contains(&b'?'), "every character is encodable");
    }

    #[test]
    fn separator_sheet_shows_its_piece() {
        let text = page_text(&render(&sample(true)));
        let has = |s: &str| {
            text.windows(win_ansi(s).len())
                .any(|w| w == win_ansi(s).as_slice())
        };
        assert!(has("Feuille séparatrice de pièce"));
        assert!(has("code : jdc"));
        assert!(has("Certificat de"));
        assert!(has("participation à la"));
    }

    #[test]
    fn win_ansi_covers_french() {
        assert_eq!(
            win_ansi("éàçœ«»’€"),
            vec![0xe9, 0xe0, 0xe7, 0x9c, 0xab, 0xbb, 0x92, 0x80]
        );
        assert_eq!(win_ansi("ж"), b"?");
    }

    #[test]
    fn long_words_are_wrapped() {
        let lines = wrap(&"x".repeat(200), 11.0, 300.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| l.chars().count() <= 50));
    }
}
