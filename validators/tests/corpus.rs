//! The real-world corpus (`../shared/corpus` from the repository root): every `valid` file is
//! identified with its kind and accepted, or refused only as `kind_not_accepted` /
//! `kind_not_supported`; every `hostile:*` file is refused with a specific reason, without
//! panic and within bounded time. Gaps that cannot be closed yet are listed in [`KNOWN_GAPS`];
//! the test fails if a listed file starts passing (so the list stays honest) or if an
//! unlisted file fails.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dossiers::Kind;
use validators::{Declared, Limits, Policy, ReasonCode, Verdict, detect, validate};

/// Longest time one file may take.
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Files the validators do not handle as the corpus expects yet: (path, why).
const KNOWN_GAPS: &[(&str, &str)] = &[
    // Valid files refused: the label and the bytes disagree, or a policy keeps them out.
    (
        "pdf-valid/pypdf_unreadablemetadata.pdf",
        "1.1 MB of NUL bytes (offsets 1695609-2817775) replace objects 79-174, the page tree root 172 among them: pages are lost, refused as damaged; pypdf 7.1 itself raises `Invalid object in /Pages` counting its pages, and Poppler shows four blank 0x0 pages (docs/decisions.md)",
    ),
];

/// Hostile files accepted on purpose, each with the note that must come with it: damaged files
/// that lopdf repairs and that are then read and verified in full (corpus README).
const ACCEPTED_WITH_NOTE: &[(&str, ReasonCode)] = &[
    // A stream without /Length, read up to `endstream` as every viewer does: the same defect
    // as the valid pdfium hello_world.pdf, which must pass.
    ("pdf-hostile/pdfjs_issue1293r.pdf", ReasonCode::PdfRepaired),
    ("pdf-hostile/qpdf_bad22.pdf", ReasonCode::PdfRepaired),
    // Damage judged by what is lost (docs/decisions.md, "Damaged PDFs"): each of these is read
    // by `qpdf --check` with warnings only (exit 3) and drawn whole by `pdftoppm` (exit 0);
    // its trailer is intact and every object it uses is found. No cross-reference table, no
    // `xref` keyword, one byte missing (every offset after it wrong), a fuzzed cross-reference
    // table, a malformed entry, a broken /Prev section.
    (
        "pdf-hostile/fc_T03_001_no-cross-reference-table.pdf",
        ReasonCode::PdfRepaired,
    ),
    (
        "pdf-hostile/fc_T03_002_xref-keyword-missing.pdf",
        ReasonCode::PdfRepaired,
    ),
    (
        "pdf-hostile/fc_corruptionOneByteMissing.pdf",
        ReasonCode::PdfRepaired,
    ),
    (
        "pdf-hostile/pdfjs_GHOSTSCRIPT-698804-1-fuzzed.pdf",
        ReasonCode::PdfRepaired,
    ),
    (
        "pdf-hostile/qpdf_bad-xref-entry.pdf",
        ReasonCode::PdfRepaired,
    ),
    ("pdf-hostile/qpdf_bad8.pdf", ReasonCode::PdfRepaired),
    // Fuzzed XMP metadata, which no reader draws, and streams whose filters carry the
    // abbreviated names of inline images (`/A85`): Poppler and pdf.js draw its page whole.
    (
        "pdf-hostile/pdfjs_PDFBOX-3148-2-fuzzed.pdf",
        ReasonCode::PdfRepaired,
    ),
];

/// Files the corpus calls hostile that are genuine documents, accepted without a note: (path,
/// why).
const GENUINE: &[(&str, &str)] = &[(
    "pdf-hostile/ocr_enormous.pdf",
    "a 9000x9000 RGB scan drawn at 300 ppi on a 30-inch page (243 MB decoded, 81 Mpx): a \
     large-format scan, judged by its decoded bytes and never decoded whole (docs/decisions.md, \
     Large images in PDFs)",
)];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

struct Entry {
    path: String,
    sha256: String,
    expect: String,
}

fn manifest(dir: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Entry {
                path: cols[0].to_string(),
                sha256: cols[2].to_string(),
                expect: cols[3].to_string(),
            }
        })
        .collect()
}

/// The kind a valid file is, from its (truthful) extension; `None` for kinds guichet does not
/// know (a raw G3 fax stream).
fn expected_kind(path: &str) -> Option<Kind> {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "mpo" => Some(Kind::Jpeg),
        "g3" => None,
        other => Some(
            other
                .parse()
                .unwrap_or_else(|_| panic!("{path}: no kind for .{other}")),
        ),
    }
}

/// Runs `validate` in a thread and gives up after [`TIME_LIMIT`].
fn timed_validate(
    bytes: Vec<u8>,
    name: String,
    limits: Limits,
) -> Result<(Verdict, Duration), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let declared = Declared {
            filename: Some(name),
            content_type: None,
        };
        let verdict = validate(&bytes, &declared, &Policy::default(), &limits);
        let _ = tx.send((verdict, start.elapsed()));
    });
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(result) => Ok(result),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("took more than {TIME_LIMIT:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("validate panicked".to_string()),
    }
}

fn codes(v: &Verdict) -> String {
    let list: Vec<String> = v.reasons.iter().map(|r| r.to_string()).collect();
    let notes: Vec<String> = v.notes.iter().map(|r| r.code.to_string()).collect();
    format!("[{}] notes [{}]", list.join("; "), notes.join(", "))
}

/// Why the file does not meet the corpus's expectation, or `None` when it does.
fn judge(entry: &Entry, bytes: &[u8], verdict: &Verdict) -> Option<String> {
    if entry.expect == "valid" {
        let expected = expected_kind(&entry.path);
        let found = detect(bytes).kind;
        if found != expected {
            return Some(format!("detected {found:?}, expected {expected:?}"));
        }
        let allowed = [ReasonCode::KindNotAccepted, ReasonCode::KindNotSupported];
        if let Some(r) = verdict.reasons.iter().find(|r| !allowed.contains(&r.code)) {
            return Some(format!("valid file refused: {r}"));
        }
        return None;
    }
    if verdict.accepted() {
        match ACCEPTED_WITH_NOTE.iter().find(|(p, _)| *p == entry.path) {
            Some((_, note)) if verdict.notes.iter().any(|n| n.code == *note) => None,
            Some((_, note)) => Some(format!("accepted without the note {note}")),
            None if GENUINE.iter().any(|(p, _)| *p == entry.path) => None,
            None => Some("hostile file accepted".to_string()),
        }
    } else {
        None
    }
}

#[test]
fn corpus() {
    let dir = corpus_dir();
    if !dir.join("MANIFEST.tsv").exists() {
        println!(
            "SKIPPED: no corpus at {} (it lives in ../shared/corpus)",
            dir.display()
        );
        return;
    }
    // Valid files include tiny conformance images (5x5, 32x32): valid encodings, too small to
    // read as documents. Readability is a limit of its own, tested in the unit tests.
    let valid_limits = Limits {
        min_image_side: 0,
        ..Limits::default()
    };
    let mut failures = Vec::new();
    let mut gaps_passing = Vec::new();
    let mut timings = Vec::new();
    let (mut valid, mut hostile, mut valid_ok, mut hostile_ok) = (0, 0, 0, 0);
    for entry in manifest(&dir) {
        let bytes = std::fs::read(dir.join(&entry.path)).expect("read corpus file");
        let name = entry
            .path
            .rsplit('/')
            .next()
            .unwrap_or(&entry.path)
            .to_string();
        let is_valid = entry.expect == "valid";
        let limits = if is_valid {
            valid_limits.clone()
        } else {
            Limits::default()
        };
        let outcome = timed_validate(bytes.clone(), name, limits);
        let problem = match &outcome {
            Ok((verdict, elapsed)) => {
                timings.push((*elapsed, entry.path.clone()));
                assert_eq!(verdict.sha256, entry.sha256, "{}: hash", entry.path);
                println!(
                    "{:>7.1} ms  {:<10} {:<70} {} {}",
                    elapsed.as_secs_f64() * 1000.0,
                    entry.expect.trim_start_matches("hostile:"),
                    entry.path,
                    if verdict.accepted() {
                        "ACCEPTED"
                    } else {
                        "refused"
                    },
                    codes(verdict)
                );
                judge(&entry, &bytes, verdict)
            }
            Err(e) => Some(e.clone()),
        };
        let ok = problem.is_none();
        if is_valid {
            valid += 1;
            valid_ok += usize::from(ok);
        } else {
            hostile += 1;
            hostile_ok += usize::from(ok);
        }
        let gap = KNOWN_GAPS.iter().find(|(p, _)| *p == entry.path);
        match (problem, gap) {
            (Some(p), None) => failures.push(format!("{}: {p}", entry.path)),
            (None, Some((p, why))) => gaps_passing.push(format!("{p} (listed: {why})")),
            _ => {}
        }
    }
    timings.sort();
    println!(
        "\nvalid: {valid_ok}/{valid} as expected; hostile: {hostile_ok}/{hostile} as expected"
    );
    println!("known gaps: {}", KNOWN_GAPS.len());
    for (t, p) in timings.iter().rev().take(5) {
        println!("slowest: {:>8.1} ms  {p}", t.as_secs_f64() * 1000.0);
    }
    assert!(
        gaps_passing.is_empty(),
        "files listed in KNOWN_GAPS now pass; remove them:\n{}",
        gaps_passing.join("\n")
    );
    assert!(
        failures.is_empty(),
        "unexpected results:\n{}",
        failures.join("\n")
    );
}

/// The bounded-memory path for large content (a memory map; PDFs loaded without image and
/// embedded-file data; PNGs decoded row by row) gives the same verdict as the ordinary one, on
/// every corpus file: forced for all of them with `large_content_bytes: 0`. The exception:
/// damaged PDFs the second parser helped read, which it is not given on that path.
#[test]
fn the_large_content_path_gives_the_same_verdicts() {
    let dir = corpus_dir();
    if !dir.join("MANIFEST.tsv").exists() {
        println!("SKIPPED: no corpus at {}", dir.display());
        return;
    }
    let ordinary = Limits {
        min_image_side: 0,
        ..Limits::default()
    };
    let large = Limits {
        large_content_bytes: 0,
        ..ordinary.clone()
    };
    let mut differences = Vec::new();
    for entry in manifest(&dir) {
        let path = dir.join(&entry.path);
        let declared = Declared::default();
        let bytes = std::fs::read(&path).expect("read corpus file");
        let expected = validate(&bytes, &declared, &Policy::default(), &ordinary);
        let found = validators::validate_file(&path, None, &declared, &Policy::default(), &large)
            .expect("read corpus file");
        assert_eq!(found.sha256, entry.sha256, "{}: hash", entry.path);
        let codes = |v: &Verdict| v.reasons.iter().map(|r| r.code).collect::<Vec<_>>();
        // Large content is not given to the second PDF parser, which would hold a copy of it
        // (docs/decisions.md): a file it helped read may be refused on the large path.
        let second_parser = expected.notes.iter().any(|n| {
            n.detail
                .as_deref()
                .is_some_and(|d| d.contains("second parser"))
        });
        if second_parser {
            continue;
        }
        if codes(&found) != codes(&expected) || found.pages != expected.pages {
            differences.push(format!(
                "{}: ordinary {} pages {:?}, large {} pages {:?}",
                entry.path,
                self::codes(&expected),
                expected.pages,
                self::codes(&found),
                found.pages
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the large-content path disagrees:\n{}",
        differences.join("\n")
    );
}
