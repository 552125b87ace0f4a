//! Why a document is refused, or what was noticed about it.
//!
//! Every code is stable: the portal, the staff interface and webhooks key on it, so a code is
//! never renamed or reused for another meaning. The French message is shown to candidates (it
//! says what to do); the English text and the staff advice feed `docs/reasons.md` (see
//! [`ReasonCode::ALL`] and [`reasons_table_markdown`]).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, blocking: $blocking:literal,
        fr: $fr:literal, en: $en:literal, staff: $staff:literal; )*) => {
        /// A stable, documented reason code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ReasonCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ReasonCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant,)*];

            /// The stable snake_case code.
            pub fn as_str(self) -> &'static str {
                match self { $(ReasonCode::$variant => $code,)* }
            }

            /// The message shown to candidates: what is wrong and what to do.
            pub fn message_fr(self) -> &'static str {
                match self { $(ReasonCode::$variant => $fr,)* }
            }

            /// What the code means, in English, for logs and documentation.
            pub fn message_en(self) -> &'static str {
                match self { $(ReasonCode::$variant => $en,)* }
            }

            /// What staff should do when they meet this code.
            pub fn staff_advice(self) -> &'static str {
                match self { $(ReasonCode::$variant => $staff,)* }
            }

            /// Whether the code refuses the document (`true`) or is only an observation
            /// recorded in [`crate::Verdict::notes`] (`false`).
            pub fn is_blocking(self) -> bool {
                match self { $(ReasonCode::$variant => $blocking,)* }
            }
        }
    };
}

reason_codes! {
    // ---- whole file -------------------------------------------------------------------------
    /// The file has no content at all.
    Empty = "empty", blocking: true,
        fr: "Le fichier est vide. Vérifiez le document puis déposez-le à nouveau.",
        en: "The file is empty (0 bytes).",
        staff: "Ask the candidate to send the document again; the upload or the scan produced nothing.";
    /// Larger than the piece's `max_bytes`.
    TooLarge = "too_large", blocking: true,
        fr: "Le fichier est trop volumineux. Réduisez sa taille (par exemple en le numérisant en 200 ou 300 dpi) puis déposez-le à nouveau.",
        en: "The file is larger than the piece allows.",
        staff: "Ask for a lighter file (lower scan resolution, compression); the limit is set per piece in the campaign.";
    /// More pages than the piece's `max_pages` (PDF, multi-page TIFF).
    TooManyPages = "too_many_pages", blocking: true,
        fr: "Le document comporte trop de pages pour cette pièce. Ne déposez que les pages demandées.",
        en: "The document has more pages than the piece allows.",
        staff: "Check that the candidate did not merge several pieces in one file; the limit is set per piece.";
    /// The content is not a kind guichet recognises.
    KindUnknown = "kind_unknown", blocking: true,
        fr: "Le type du fichier n'a pas été reconnu. Déposez un document PDF ou une image (JPEG, PNG).",
        en: "The content matches no known file type.",
        staff: "The content is not a document or image guichet knows; ask for a PDF or a photo/scan.";
    /// The content is of a known type that guichet does not take or cannot verify
    /// (office documents, archives, HTML/SVG, JPEG 2000, HEIF codings no decoder here reads,
    /// 12-bit or arithmetic JPEG, old-style JPEG TIFF, raw fax data, dynamic XFA PDF forms,
    /// PDF forms driven by JavaScript...). The detail names the type found, and for a PDF form
    /// what it carries.
    KindNotSupported = "kind_not_supported", blocking: true,
        fr: "Ce type de fichier n'est pas pris en charge. Enregistrez ou exportez le document au format PDF, JPEG ou PNG puis déposez-le à nouveau.",
        en: "The content is of a type guichet does not accept or cannot verify.",
        staff: "The detail names the type found; the file may be genuine, ask for a PDF/JPEG/PNG copy (a dynamic XFA form or a form driven by JavaScript: \"print to PDF\" from Adobe Reader; never open it with scripts enabled) or review it by other means.";
    /// A kind guichet handles, but not one this piece accepts. The detail names the kind.
    KindNotAccepted = "kind_not_accepted", blocking: true,
        fr: "Ce type de fichier n'est pas accepté pour cette pièce. Consultez les formats acceptés puis déposez le document dans l'un d'eux.",
        en: "The detected kind is not among the kinds accepted for this piece.",
        staff: "The detail names the kind found and the accepted kinds; widen `accept` in the campaign if the kind should be taken.";
    /// The declared file name extension or Content-Type names another type than the content.
    KindMismatch = "kind_mismatch", blocking: true,
        fr: "Le nom ou le type du fichier ne correspond pas à son contenu. Enregistrez le document avec la bonne extension (par exemple .pdf ou .jpg) puis déposez-le à nouveau.",
        en: "The declared file name or Content-Type disagrees with the content.",
        staff: "The file was renamed or mislabelled (e.g. a .heic photo named .jpg, a program named .jpg); treat with care.";
    /// A program (ELF, PE/Windows, Mach-O, script with shebang).
    Executable = "executable", blocking: true,
        fr: "Le fichier est un programme et non un document. Déposez le document lui-même, au format PDF, JPEG ou PNG.",
        en: "The content is an executable program.",
        staff: "Never open it. Report it if it looks deliberate.";
    /// Server or browser code (PHP, <script>) hidden in a document or image.
    EmbeddedScript = "embedded_script", blocking: true,
        fr: "Le fichier contient du code informatique. Numérisez ou photographiez à nouveau le document puis déposez-le.",
        en: "The content carries script code (PHP, HTML script) inside an image or document.",
        staff: "Typical of a web-shell upload attempt; never serve the file to a browser. Report it if it looks deliberate.";
    /// ClamAV (clamd) found a virus or malware signature; the detail names the signature.
    /// Set by the pipeline's scan step, not by [`crate::validate`].
    Infected = "infected", blocking: true,
        fr: "Le fichier contient un virus ou un logiciel malveillant : il a été refusé et mis en quarantaine. Analysez votre ordinateur avec un antivirus, puis numérisez ou enregistrez à nouveau le document et déposez-le.",
        en: "The antivirus (ClamAV) found a virus or malware signature in the content; the detail names the signature. The content is quarantined and never served.",
        staff: "Never try to obtain or open the file by other means; it cannot be downloaded or accepted. Ask the candidate for a clean copy, and report it if it looks deliberate.";
    /// Bytes precede the format's signature (a file glued after other data).
    DataBeforeHeader = "data_before_header", blocking: true,
        fr: "Le fichier est mal formé (données parasites au début). Enregistrez à nouveau le document depuis le logiciel d'origine puis déposez-le.",
        en: "Unexpected data precedes the format signature (possible polyglot file).",
        staff: "The file may be two files in one (polyglot); ask for a fresh export.";
    /// Non-blank bytes follow the format's end marker (a file with something appended).
    DataAfterEnd = "data_after_end", blocking: true,
        fr: "Le fichier est mal formé (données parasites à la fin). Enregistrez à nouveau le document depuis le logiciel d'origine puis déposez-le.",
        en: "Unexpected data follows the end of the document (possible polyglot or appended payload).",
        staff: "The file may carry an appended payload; ask for a fresh export.";

    /// Another format's reader opens the same bytes: a ZIP archive (JAR, Office document)
    /// appended to an image, a PDF header hidden at the start of an image, another format's
    /// stream (MP3 frames, a program, a PDF, HTML or script) where readers never look: in a
    /// JPEG's segments or after its end, after a PNG's or a PDF's end.
    Polyglot = "polyglot", blocking: true,
        fr: "Le fichier contient un autre fichier caché (archive ou document). Enregistrez à nouveau le document depuis le logiciel d'origine, ou numérisez-le, puis déposez-le.",
        en: "The content is two files in one: another format's reader (ZIP, PDF, MP3, a program, a browser) opens the same bytes.",
        staff: "Never open it with another program; ask for a fresh export. Report it if it looks deliberate.";

    // ---- PDF --------------------------------------------------------------------------------
    /// Encrypted and needs a password to open.
    PdfEncrypted = "pdf_encrypted", blocking: true,
        fr: "Le fichier est protégé par un mot de passe. Enregistrez-le sans mot de passe puis déposez-le à nouveau.",
        en: "The PDF is encrypted and needs a password to open.",
        staff: "Ask for an unprotected copy; staff cannot open it.";
    /// Encrypted with an empty user password: it opens, but carries permission restrictions
    /// (printing, copying) and encrypted content. Refused: staff must be able to print and
    /// archive the piece, and the encryption hides the content from verification tools.
    PdfRestricted = "pdf_restricted", blocking: true,
        fr: "Le fichier comporte des restrictions (protection contre l'impression ou la copie). Enregistrez-le sans protection (par exemple « Imprimer en PDF ») puis déposez-le à nouveau.",
        en: "The PDF is encrypted with an owner password only (opens without a password, but restricts use).",
        staff: "Ask for an unprotected copy (\"print to PDF\" removes the restrictions). Signed documents from e-signature services are often protected this way.";
    /// JavaScript anywhere in the document.
    PdfJavascript = "pdf_javascript", blocking: true,
        fr: "Le fichier contient du code (JavaScript), ce qui n'est pas autorisé. Enregistrez-le avec « Imprimer en PDF » puis déposez-le à nouveau.",
        en: "The PDF contains JavaScript.",
        staff: "Active content; never open it in a viewer with JavaScript enabled.";
    /// An action run when the document opens (other than showing a page).
    PdfOpenAction = "pdf_open_action", blocking: true,
        fr: "Le fichier déclenche une action à l'ouverture, ce qui n'est pas autorisé. Enregistrez-le avec « Imprimer en PDF » puis déposez-le à nouveau.",
        en: "The PDF runs an action when opened (OpenAction other than going to a page).",
        staff: "Active content (auto-print, link, script on open).";
    /// Additional actions (/AA) on the document, a page, or a form field.
    PdfAdditionalActions = "pdf_additional_actions", blocking: true,
        fr: "Le fichier déclenche des actions automatiques, ce qui n'est pas autorisé. Enregistrez-le avec « Imprimer en PDF » puis déposez-le à nouveau.",
        en: "The PDF defines additional actions (/AA) triggered by viewer events.",
        staff: "Active content (actions on close, save, print, page open).";
    /// A /Launch action: starts a program or opens a file.
    PdfLaunch = "pdf_launch", blocking: true,
        fr: "Le fichier tente de lancer un programme, ce qui n'est pas autorisé. Déposez un autre exemplaire du document.",
        en: "The PDF contains a Launch action (starts a program or opens a file).",
        staff: "Dangerous; never open it. Report it if it looks deliberate.";
    /// Attached files, multimedia or RichMedia.
    PdfEmbeddedFile = "pdf_embedded_file", blocking: true,
        fr: "Le fichier contient des pièces jointes ou des médias intégrés. Déposez un PDF sans pièce jointe (par exemple avec « Imprimer en PDF »).",
        en: "The PDF carries embedded files, attachments or multimedia.",
        staff: "Attachments are not verified; ask for each document separately.";
    /// A PDF that asks the viewer to draw its pages from an XFA form (`/NeedsRendering`) but
    /// holds none. (A real dynamic XFA form is `kind_not_supported`.)
    PdfXfa = "pdf_xfa", blocking: true,
        fr: "Le fichier est un formulaire dynamique (XFA) qui ne s'affiche pas correctement. Remplissez-le puis enregistrez-le avec « Imprimer en PDF » avant de le déposer.",
        en: "The PDF asks the viewer to draw its pages from an XFA form (/NeedsRendering) that it does not contain.",
        staff: "Most viewers show an empty page or a warning; ask for a printed-to-PDF copy.";
    /// The PDF cannot be parsed (header, cross-reference table, trailer, objects).
    PdfMalformed = "pdf_malformed", blocking: true,
        fr: "Le fichier PDF est endommagé et ne peut pas être lu. Enregistrez à nouveau le document depuis le logiciel d'origine puis déposez-le.",
        en: "The PDF cannot be parsed (damaged syntax, cross-reference table or trailer).",
        staff: "Ask for a fresh export or a new scan.";
    /// The PDF parses but its document structure is wrong (no catalog, broken or looping
    /// page tree, page objects of the wrong type, a form, pattern or Type 3 font that draws
    /// itself).
    PdfStructure = "pdf_structure", blocking: true,
        fr: "La structure du fichier PDF est invalide. Enregistrez à nouveau le document depuis le logiciel d'origine puis déposez-le.",
        en: "The PDF's document structure is invalid (catalog, page tree, or a form, pattern or Type 3 font that draws itself).",
        staff: "Ask for a fresh export or a new scan.";
    /// The file stops before the end of the PDF.
    PdfTruncated = "pdf_truncated", blocking: true,
        fr: "Le fichier PDF est incomplet (le dépôt ou l'enregistrement a été interrompu). Déposez-le à nouveau.",
        en: "The PDF is truncated.",
        staff: "The transfer was probably interrupted; ask for the file again.";
    /// The PDF has no page.
    PdfNoPages = "pdf_no_pages", blocking: true,
        fr: "Le fichier PDF ne contient aucune page. Vérifiez le document puis déposez-le à nouveau.",
        en: "The PDF has no page.",
        staff: "Ask for the document again.";
    /// Above the object, nesting or page-tree limits: built to exhaust readers.
    PdfTooComplex = "pdf_too_complex", blocking: true,
        fr: "Le fichier PDF est trop complexe pour être vérifié. Enregistrez-le avec « Imprimer en PDF » ou numérisez le document puis déposez-le à nouveau.",
        en: "The PDF exceeds the object count, nesting depth, page-tree or nested-drawing limits, or its verification outlasts the time limit.",
        staff: "Possibly crafted to exhaust readers; ask for a simpler copy.";
    /// A stream inflates beyond the decompression limit.
    PdfDecompressionBomb = "pdf_decompression_bomb", blocking: true,
        fr: "Le fichier PDF contient des données anormalement volumineuses une fois décompressées. Enregistrez-le avec « Imprimer en PDF » ou numérisez le document puis déposez-le à nouveau.",
        en: "A stream of the PDF decompresses beyond the configured limit (decompression bomb).",
        staff: "Possibly crafted to exhaust readers; do not open it.";
    /// A page's content cannot be decoded (corrupt compressed data, unknown filter).
    PdfContentUnreadable = "pdf_content_unreadable", blocking: true,
        fr: "Le contenu d'au moins une page du PDF est illisible. Enregistrez à nouveau le document depuis le logiciel d'origine puis déposez-le.",
        en: "The content stream of at least one page cannot be decoded.",
        staff: "Pages may show blank or partial; ask for a fresh export.";
    /// A page larger than the PDF maximum (200 inches a side).
    PdfPageTooLarge = "pdf_page_too_large", blocking: true,
        fr: "Le format des pages du PDF est démesuré. Enregistrez le document au format A4 puis déposez-le à nouveau.",
        en: "A page of the PDF is larger than 14400 units (200 inches) a side.",
        staff: "Not printable; ask for an A4 copy.";

    // ---- images -----------------------------------------------------------------------------
    /// More pixels than the limit, decided from the header before decoding (pixel bombs);
    /// also used for a huge image inside a PDF.
    ImageTooLarge = "image_too_large", blocking: true,
        fr: "L'image est trop grande (trop de pixels). Réduisez sa définition ou numérisez en 300 dpi puis déposez-la à nouveau.",
        en: "The image's dimensions exceed the pixel or memory limit (checked before decoding), or its verification outlasts the time limit.",
        staff: "Possibly a decompression bomb; ask for a smaller image.";
    /// Too small a resolution to be read.
    ImageTooSmall = "image_too_small", blocking: true,
        fr: "L'image est trop petite pour être lisible. Numérisez ou photographiez le document en meilleure qualité puis déposez-le à nouveau.",
        en: "The image is too small to be read (shorter side below the minimum).",
        staff: "Ask for a better scan or photo.";
    /// The image data is damaged.
    ImageCorrupt = "image_corrupt", blocking: true,
        fr: "L'image est endommagée et ne peut pas être lue. Enregistrez-la à nouveau ou reprenez la photo puis déposez-la.",
        en: "The image cannot be decoded (corrupt data).",
        staff: "Ask for the image again.";
    /// The image stops before its end.
    ImageTruncated = "image_truncated", blocking: true,
        fr: "L'image est incomplète (le dépôt ou l'enregistrement a été interrompu). Déposez-la à nouveau.",
        en: "The image is truncated.",
        staff: "The transfer was probably interrupted; ask for the file again.";
    /// Malformed metadata blocks (EXIF, MPF) or image structure (IFD loops in TIFF).
    ImageStructure = "image_structure", blocking: true,
        fr: "L'image est mal formée (métadonnées ou structure invalides). Ré-enregistrez-la (par exemple en l'exportant en JPEG ou PDF) puis déposez-la à nouveau.",
        en: "The image's structure or metadata is malformed (EXIF/MPF header, TIFF directory loop, marker sequence).",
        staff: "Readers disagree on such files; ask for a fresh export.";

    // ---- notes: never refuse ---------------------------------------------------------------
    /// The PDF had damage every viewer repairs (wrong offsets, lengths or object counts, a
    /// broken cross-reference table, binary bytes after its end) and the repair lost nothing;
    /// it was read and verified in full.
    PdfRepaired = "pdf_repaired", blocking: false,
        fr: "Le fichier PDF était légèrement endommagé ; il a pu être lu entièrement.",
        en: "The PDF had damage every viewer repairs (wrong offsets, lengths or object counts, a broken cross-reference table, a stream without /Length) and the repair lost nothing; it was then read and verified in full.",
        staff: "Nothing to do; if the document shows badly, ask for a fresh export.";
    /// A content stream inflated whole but failed its checksum: some of what the page draws
    /// may be garbled. Viewers show such pages as far as they read.
    PdfContentDamaged = "pdf_content_damaged", blocking: false,
        fr: "Une partie du contenu d'une page du PDF est endommagée ; le document a pu être lu, mais cette page peut s'afficher avec des défauts.",
        en: "A page content stream inflated whole but failed its checksum: the page is read as viewers read it, and part of it may show garbled.",
        staff: "Check the page named in the detail; if it is unreadable, ask for a fresh export.";
    /// The page tree's /Count disagrees with the pages found.
    PdfPageCountMismatch = "pdf_page_count_mismatch", blocking: false,
        fr: "Le nombre de pages annoncé par le fichier PDF est inexact ; les pages ont été comptées une à une.",
        en: "The page tree's /Count disagrees with the pages actually found; the count given is the pages found.",
        staff: "Nothing to do.";
    /// A static or hybrid XFA form: the XFA part is ignored, the PDF pages are what is kept.
    PdfXfaForm = "pdf_xfa_form", blocking: false,
        fr: "Le formulaire contient une partie XFA, ignorée ; seules les pages du PDF sont prises en compte.",
        en: "The PDF carries a static or hybrid XFA form next to its pages; only the pages count.",
        staff: "Check that the pages show the filled fields.";
    /// JavaScript attached only to the keystroke, format, validate or calculate triggers of
    /// form fields (official forms format amounts and dates this way). Not run on opening.
    PdfFormScripts = "pdf_form_scripts", blocking: false,
        fr: "Le formulaire contient des scripts de saisie (mise en forme des champs) ; ils ont été ignorés.",
        en: "The PDF form carries JavaScript on its fields' keystroke, format, validate or calculate triggers only; no script runs on opening.",
        staff: "Nothing to do; open it in a browser or a viewer with JavaScript disabled as usual.";
    /// The file name has no extension, or one that names no known type.
    NameUninformative = "name_uninformative", blocking: false,
        fr: "Le nom du fichier n'indique pas son type ; le type a été reconnu d'après son contenu.",
        en: "The declared file name has no extension naming a known type; the kind was taken from the content.",
        staff: "Nothing to do.";
}

impl ReasonCode {
    /// The code for a string, as found in stored verdicts.
    pub fn parse(code: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason for refusal, or one note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    /// For candidates, in French: what is wrong and what to do.
    pub message: String,
    /// Technical detail, in English, for staff and logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Reason {
    pub fn new(code: ReasonCode) -> Reason {
        Reason {
            code,
            message: code.message_fr().to_string(),
            detail: None,
        }
    }

    pub fn with_detail(code: ReasonCode, detail: impl Into<String>) -> Reason {
        Reason {
            code,
            message: code.message_fr().to_string(),
            detail: Some(detail.into()),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {}", self.code, detail),
            None => write!(f, "{}", self.code),
        }
    }
}

/// `docs/reasons.md`: a short introduction and [`reasons_table_markdown`]. A test keeps the
/// file in sync with the codes.
pub fn reasons_document_markdown() -> String {
    format!(
        "# Reason codes\n\n\
<!-- Generated from `validators::reasons_document_markdown()`; do not edit by hand. \
The validators test `docs_reasons_md_is_in_sync` fails when this file and the code differ. -->\n\n\
Every verdict of guichet carries codes from this table. The codes are **stable**: the portal, \
the staff interface and webhooks key on them, so a code is never renamed or given another \
meaning; new codes may be added.\n\n\
A verdict has two lists of `{{\"code\", \"message\", \"detail\"}}`:\n\n\
- `reasons`: why the document is **refused**. Empty means accepted. Each is a blocking code \
(\"refuses: yes\").\n\
- `notes`: what was **noticed** without refusing (a repaired PDF, an uninformative file name...). \
Only non-blocking codes (\"refuses: no\") appear there.\n\n\
`message` is the French text shown to candidates (what is wrong and what to do); `detail`, when \
present, is an English technical detail for staff and logs.\n\n{}",
        reasons_table_markdown()
    )
}

/// The table of every code as Markdown, for `docs/reasons.md`.
pub fn reasons_table_markdown() -> String {
    let mut out = String::from(
        "| code | refuses | message (candidates) | meaning | what staff should do |\n|---|---|---|---|---|\n",
    );
    for code in ReasonCode::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            code.as_str(),
            if code.is_blocking() {
                "yes"
            } else {
                "no (note)"
            },
            code.message_fr(),
            code.message_en(),
            code.staff_advice()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ReasonCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert_eq!(ReasonCode::parse(s), Some(*code));
            let json = serde_json::to_string(code).expect("serialize");
            assert_eq!(json, format!("\"{s}\""));
            assert!(!code.message_fr().is_empty() && !code.message_en().is_empty());
        }
    }

    #[test]
    fn reason_serializes_without_empty_detail() {
        let r = Reason::new(ReasonCode::Empty);
        let v = serde_json::to_value(&r).expect("serialize");
        assert_eq!(v["code"], "empty");
        assert!(v.get("detail").is_none());
        let r = Reason::with_detail(ReasonCode::KindNotAccepted, "found png");
        let v = serde_json::to_value(&r).expect("serialize");
        assert_eq!(v["detail"], "found png");
    }

    #[test]
    fn docs_reasons_md_is_in_sync() {
        // Regenerate with:
        // `GUICHET_WRITE_REASONS=1 cargo test -p validators docs_reasons_md_is_in_sync`.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reasons.md");
        let expected = reasons_document_markdown();
        if std::env::var_os("GUICHET_WRITE_REASONS").is_some() {
            std::fs::write(&path, &expected).expect("write docs/reasons.md");
        }
        let found = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            found == expected,
            "{} differs from reasons_document_markdown(); regenerate it with \
             GUICHET_WRITE_REASONS=1 cargo test -p validators docs_reasons_md_is_in_sync",
            path.display()
        );
    }

    #[test]
    fn print_reasons_table() {
        // `cargo test -p validators print_reasons_table -- --nocapture` prints docs/reasons.md.
        let table = reasons_table_markdown();
        assert_eq!(table.lines().count(), ReasonCode::ALL.len() + 2);
        println!("{table}");
    }
}
