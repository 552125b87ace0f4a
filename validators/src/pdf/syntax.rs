//! What a content stream says, read as readers read it: every operator known, nothing cut off.
//!
//! Decisions:
//! - A content stream that ends inside an inline image (`BI` without its `ID` … `EI`), inside
//!   a string, array or dictionary, or with operands no operator uses, was cut off: what
//!   followed is lost. Refused as `pdf_truncated`. Pages split over several streams are judged
//!   on their streams joined, as readers draw them.
//! - In a file that needed repair, the content must also read whole: an operator the PDF
//!   specification does not define (outside a `BX` … `EX` compatibility section) or bytes
//!   the content grammar cannot read are what a bad repair leaves (bytes of another object, a
//!   wrong stream length), and the page is not what its producer drew. Refused as
//!   `pdf_content_unreadable`. In an undamaged file the same flaws are the producer's, and
//!   readers skip them as they always have (a corpus Distiller file holds garbled text in a
//!   stream that fails its checksum): they pass.
//! - The operations of a repaired file's content are read with lopdf's strict content parser,
//!   once.

use lopdf::content::Content;

use crate::reason::ReasonCode;

type Refusal = (ReasonCode, String);

/// Every operator of ISO 32000-2 (table 50), and `BI` for a whole inline image as lopdf reads
/// it.
const OPERATORS: &[&str] = &[
    "b", "B", "b*", "B*", "BDC", "BI", "BMC", "BT", "BX", "c", "cm", "CS", "cs", "d", "d0", "d1",
    "Do", "DP", "EI", "EMC", "ET", "EX", "f", "F", "f*", "G", "g", "gs", "h", "i", "ID", "j", "J",
    "K", "k", "l", "m", "M", "MP", "n", "q", "Q", "re", "RG", "rg", "ri", "s", "S", "SC", "sc",
    "SCN", "scn", "sh", "T*", "Tc", "Td", "TD", "Tf", "TJ", "Tj", "TL", "Tm", "Tr", "Ts", "Tw",
    "Tz", "v", "w", "W", "W*", "y", "'", "\"",
];

/// Judges the content `data` (a page's streams joined, or one form's or glyph's stream);
/// `what` names it in the detail.
pub(super) fn check_content_syntax(data: &[u8], what: &str, repaired: bool) -> Result<(), Refusal> {
    if let Some(cut) = cut_off(data) {
        return Err((
            ReasonCode::PdfTruncated,
            format!("{what}: its content {cut}"),
        ));
    }
    if !repaired {
        return Ok(());
    }
    let Ok(content) = Content::decode_strict(data) else {
        return Err((
            ReasonCode::PdfContentUnreadable,
            format!("{what}: its content does not read whole after the file's repair"),
        ));
    };
    let mut compatibility = 0usize;
    for operation in &content.operations {
        match operation.operator.as_str() {
            "BX" => compatibility += 1,
            "EX" => compatibility = compatibility.saturating_sub(1),
            known if OPERATORS.contains(&known) => {}
            unknown if compatibility == 0 => {
                let shown: String = unknown.chars().take(24).collect();
                return Err((
                    ReasonCode::PdfContentUnreadable,
                    format!("{what}: its content holds `{shown}`, which is no PDF operator"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// How the content was cut off, if it was: it must end with a known operator (then white space
/// or comments), and an inline image must reach its `EI`.
fn cut_off(data: &[u8]) -> Option<&'static str> {
    if let Some(bi) = last_operator(data, b"BI") {
        let rest = &data[bi..];
        match last_operator(rest, b"ID") {
            None => return Some("ends inside an inline image, before its data"),
            Some(id) if last_operator(&rest[id..], b"EI").is_none() => {
                return Some("ends inside an inline image's data");
            }
            _ => {}
        }
    }
    let end = trimmed(data);
    if end.is_empty() {
        return None;
    }
    let last = end[end.len() - 1];
    let token_start = end
        .iter()
        .rposition(|b| is_delimiter(*b) || b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let token = &end[token_start..];
    // A known operator: a word cut from a string (`(Hello wor`) or a name is not one.
    let is_operator = (token_start == 0 || end[token_start - 1] != b'/')
        && std::str::from_utf8(token).is_ok_and(|t| OPERATORS.contains(&t));
    if is_operator || (last == b'I' && end.ends_with(b"EI")) {
        None
    } else {
        Some("ends with operands and no operator, or inside a string, array or dictionary")
    }
}

/// `data` without trailing white space (NUL is white space in PDF) and a trailing comment
/// line.
fn trimmed(data: &[u8]) -> &[u8] {
    let pdf_space = |b: &u8| b.is_ascii_whitespace() || *b == 0;
    let mut end = &data[..data
        .iter()
        .rposition(|b| !pdf_space(b))
        .map_or(0, |i| i + 1)];
    // A comment runs to the end of its line: drop a last line that is one.
    let line_start = end
        .iter()
        .rposition(|b| matches!(b, b'\r' | b'\n'))
        .map_or(0, |i| i + 1);
    if let Some(percent) = end[line_start..].iter().position(|b| *b == b'%')
        && !end[line_start..line_start + percent].contains(&b'(')
    {
        let comment = &end[..line_start + percent];
        end = &comment[..comment
            .iter()
            .rposition(|b| !pdf_space(b))
            .map_or(0, |i| i + 1)];
    }
    end
}

fn is_delimiter(b: u8) -> bool {
    b"()<>[]{}/%".contains(&b)
}

/// The offset of the last `operator` standing alone (white space or a delimiter around it).
fn last_operator(data: &[u8], operator: &[u8]) -> Option<usize> {
    let n = operator.len();
    memchr::memmem::rfind_iter(data, operator).find(|&i| {
        (i == 0 || data[i - 1].is_ascii_whitespace() || is_delimiter(data[i - 1]))
            && data
                .get(i + n)
                .is_none_or(|b| b.is_ascii_whitespace() || is_delimiter(*b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(data: &[u8]) -> Option<ReasonCode> {
        check_content_syntax(data, "page 1", true)
            .err()
            .map(|(code, _)| code)
    }

    #[test]
    fn whole_content_passes() {
        assert_eq!(code(b"q 1 0 0 1 0 0 cm BT /F1 12 Tf (Hi) Tj ET Q\n"), None);
        assert_eq!(
            code(b"BI /W 1 /H 1 /BPC 8 /CS /G ID \x00 EI Q % done\n"),
            None
        );
        assert_eq!(code(b"BX /Foo 1 zz EX q Q"), None);
        assert_eq!(code(b""), None);
        assert_eq!(code(b"q 1 0 0 1 0 0 cm Q\n\0\0\0"), None);
    }

    #[test]
    fn content_cut_inside_an_inline_image_or_an_operation_is_truncated() {
        let truncated = Some(ReasonCode::PdfTruncated);
        assert_eq!(
            code(b"q BI /W 4 /H 4 /BPC 8 /CS /G ID \x00\x01\x02"),
            truncated
        );
        assert_eq!(code(b"q BI /W 4 /H 4 /BPC 8"), truncated);
        assert_eq!(code(b"q 1 0 0 1 0"), truncated);
        assert_eq!(code(b"BT (Hello wor"), truncated);
        assert_eq!(code(b"BT [(Hello) -20 (wor"), truncated);
        assert_eq!(code(b"BT /F1"), truncated);
        assert_eq!(code(b"BT /Tj"), truncated);
    }

    #[test]
    fn after_a_repair_content_that_does_not_read_whole_is_refused() {
        let (code, detail) = check_content_syntax(b"q 1 0 0 1 0 0 cm q184356 Q", "page 3", true)
            .expect_err("refused");
        assert_eq!(code, ReasonCode::PdfContentUnreadable);
        assert!(detail.contains("q184356"), "{detail}");
        assert!(check_content_syntax(b"q 1 0 0 1 0 0 cm q184356 Q", "page 3", false).is_ok());
        assert!(check_content_syntax(b"q ) Q", "page 3", false).is_ok());
        assert!(check_content_syntax(b"q ) Q", "page 3", true).is_err());
    }
}
