//! The real-world corpus (`../shared/corpus`, its `pdf-valid` and `scans` folders): every file
//! of a kind drawn here renders without a panic, every page of every valid document is drawn
//! (no placeholder), and each page is blank exactly where Poppler draws it blank
//! (`pdftoppm`, when installed: a differential check, not a list of expected pictures). Prints
//! the time each file took.
//!
//! Skipped when the corpus (or pdftoppm) is absent, unless GUICHET_TEST_REQUIRE_ALL_BACKENDS=1.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dossiers::Kind;
use image::GrayImage;
use previews::{Isolation, Limits, Rendered, render_file};

/// Disagreements with Poppler, each explained.
const ACCOUNTED: &[(&str, &str)] = &[(
    "pdf-valid/pypdf_unreadablemetadata.pdf",
    "its page tree is overwritten with NUL bytes: hayro finds three pages by scanning the \
     objects and draws them, Poppler shows four empty pages of 0×0 (validators refuse it)",
)];

fn required() -> bool {
    std::env::var("GUICHET_TEST_REQUIRE_ALL_BACKENDS").as_deref() == Ok("1")
}

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if dir.join("MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    assert!(!required(), "the corpus is required: no {}", dir.display());
    eprintln!("no corpus at {}: skipped", dir.display());
    None
}

/// The kind by content, as far as this test needs: what `validators` would detect.
fn sniff(bytes: &[u8]) -> Option<Kind> {
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        Some(Kind::Pdf)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some(Kind::Tiff)
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some(Kind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG") {
        Some(Kind::Png)
    } else {
        None
    }
}

/// A page on which nothing shows: every pixel within a few levels of the most common one
/// (what JPEG leaves of a uniform page).
fn blank(page: &GrayImage) -> bool {
    let mut counts = [0usize; 256];
    for p in page.pixels() {
        counts[p[0] as usize] += 1;
    }
    let mode = (0..256).max_by_key(|&v| counts[v]).unwrap_or(255) as u8;
    page.pixels().all(|p| p[0].abs_diff(mode) <= 8)
}

/// Whether Poppler draws each page blank, or `None` without pdftoppm.
fn poppler_blank_pages(path: &Path) -> Option<Vec<bool>> {
    let out = tempfile::tempdir().expect("a temporary folder");
    // Its exit status does not matter: a page Poppler cannot draw is written blank, or not
    // at all, and counted so.
    Command::new("pdftoppm")
        .args(["-r", "24", "-gray"])
        .arg(path)
        .arg(out.path().join("page"))
        .output()
        .ok()?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(out.path())
        .expect("listed")
        .map(|e| e.expect("an entry").path())
        .collect();
    // page-01.pgm, page-02.pgm, … (zero-padded to the width of the last number)
    pages.sort();
    Some(
        pages
            .iter()
            .map(|p| {
                image::open(p).is_ok_and(|page| {
                    let grey = page.to_luma8();
                    grey.pixels().all(|q| q[0] == grey.get_pixel(0, 0)[0])
                })
            })
            .collect(),
    )
}

struct Outcome {
    file: String,
    kind: Option<Kind>,
    result: Result<Rendered, String>,
    took: Duration,
    problems: Vec<String>,
}

fn check(corpus: &Path, file: &str, poppler: bool) -> Outcome {
    let path = corpus.join(file);
    let bytes = std::fs::read(&path).expect("a corpus file");
    let Some(kind) = sniff(&bytes) else {
        return Outcome {
            file: file.into(),
            kind: None,
            result: Err("not drawn here (raw fax, HEIC)".into()),
            took: Duration::ZERO,
            problems: Vec::new(),
        };
    };
    let started = Instant::now();
    let result = render_file(&path, kind, &Isolation::InProcess, &Limits::default());
    let took = started.elapsed();
    let mut problems = Vec::new();
    let accounted = ACCOUNTED.iter().any(|(f, _)| *f == file);
    match &result {
        Err(e) => problems.push(format!("not rendered: {e}")),
        Ok(rendered) => {
            if rendered.pages.len() != rendered.page_count as usize {
                problems.push(format!(
                    "{} pages drawn of {}",
                    rendered.pages.len(),
                    rendered.page_count
                ));
            }
            let reference = (kind == Kind::Pdf && poppler)
                .then(|| poppler_blank_pages(&path))
                .flatten();
            if let Some(reference) = &reference
                && reference.len() != rendered.pages.len()
                && !accounted
            {
                problems.push(format!(
                    "{} pages, Poppler {}",
                    rendered.pages.len(),
                    reference.len()
                ));
            }
            for page in &rendered.pages {
                if let Some(why) = &page.failure {
                    problems.push(format!("page {} failed: {why}", page.page));
                    continue;
                }
                let shown = support::grey(&page.reading);
                let ours = blank(&shown);
                let expected = match &reference {
                    Some(reference) => reference.get(page.page as usize - 1).copied(),
                    // Without a reference, scans and photos are never blank.
                    None if kind != Kind::Pdf => Some(false),
                    None => None,
                };
                if expected.is_some_and(|e| e != ours) && !accounted {
                    let (us, them) = if ours {
                        ("blank", "draws")
                    } else {
                        ("draws", "blank")
                    };
                    problems.push(format!("page {}: {us} here, Poppler {them}", page.page));
                }
                if kind != Kind::Pdf && support::levels(&shown) < 16 {
                    problems.push(format!("page {}: a scan of few grey levels", page.page));
                }
            }
        }
    }
    Outcome {
        file: file.into(),
        kind: Some(kind),
        result: result.map_err(|e| e.to_string()),
        took,
        problems,
    }
}

#[test]
fn every_valid_page_of_the_corpus_is_drawn() {
    let Some(corpus) = corpus() else { return };
    let poppler = Command::new("pdftoppm").arg("-v").output().is_ok();
    assert!(
        poppler || !required(),
        "pdftoppm is required (poppler-utils)"
    );
    if !poppler {
        eprintln!("pdftoppm absent: pages are not compared with Poppler's");
    }
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("the manifest");
    let files: Vec<String> = manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let file = fields.next()?;
            let expect = fields.nth(2)?;
            let folder = file.split('/').next()?;
            (expect == "valid" && matches!(folder, "pdf-valid" | "scans")).then(|| file.into())
        })
        .collect();
    assert!(files.len() > 80, "{} files listed", files.len());

    // One worker a core, each taking the next file.
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = check(&corpus, file, poppler);
                    outcomes.lock().expect("not poisoned").push(outcome);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("not poisoned");
    outcomes.sort_by(|a, b| a.file.cmp(&b.file));

    let mut pages = 0;
    let mut problems = Vec::new();
    for outcome in &outcomes {
        let kind = outcome.kind.map_or("-", Kind::name);
        let summary = match &outcome.result {
            Ok(rendered) => {
                pages += rendered.pages.len();
                format!("{} pages", rendered.pages.len())
            }
            Err(e) => e.clone(),
        };
        println!(
            "{:>7.0} ms  {kind:<4}  {:<48} {summary}",
            outcome.took.as_secs_f64() * 1000.0,
            outcome.file
        );
        for problem in &outcome.problems {
            problems.push(format!("{}: {problem}", outcome.file));
        }
    }
    let total: Duration = outcomes.iter().map(|o| o.took).sum();
    println!("{pages} pages of {} files in {total:.1?}", outcomes.len());
    for (file, why) in ACCOUNTED {
        println!("accounted: {file}: {why}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn encrypted_pdfs_are_drawn_when_they_open_without_a_password() {
    let Some(corpus) = corpus() else { return };
    let render = |file: &str| {
        let path = corpus.join("pdf-hostile").join(file);
        render_file(&path, Kind::Pdf, &Isolation::InProcess, &Limits::default())
    };
    // Owner password only ("restrictions"), RC4 and AES: they open, and every page shows (as
    // in Poppler).
    for file in [
        "fc_encryption_nocopy.pdf",
        "paperless_signed.pdf",
        "qpdf_V4-aes.pdf",
    ] {
        let rendered = render(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!rendered.pages.is_empty(), "{file}");
        for page in &rendered.pages {
            assert_eq!(page.failure, None, "{file}");
            assert!(
                !blank(&support::grey(&page.reading)),
                "{file}: page {}",
                page.page
            );
        }
    }
    // A user password: nothing to draw without it.
    for file in [
        "paperless_password-is-test.pdf",
        "qpdf_enc-XI-R6_V5_U-view_O-master.pdf",
    ] {
        match render(file) {
            Err(previews::RenderError::NotRenderable(why)) => {
                assert_eq!(why, "the PDF does not open without its password", "{file}");
            }
            other => panic!("{file}: {other:?}"),
        }
    }
}
