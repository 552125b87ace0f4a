//! `cargo run --example seed_batches -- DIR`: small generated scanned batches for the
//! `read_batch` target's seeds (fuzz/seed calls it): JPEG and CCITT G4 pages in PDFs and
//! multi-page TIFFs, with guichet's cover and separator sheets signed under the target's secret
//! ([`guichet_fuzz::batch::SECRET`]), a stray page before the first sheet and blank backs, at
//! 100 and 150 dpi, so that they stay small (40 KiB to 800 KiB) and quick to fuzz.
//!
//! Each batch is read and split back before it is written: a batch whose sheets are not all
//! found is an error, so that the seeds do reach the segments and their rebuilding.

use std::path::PathBuf;

use scanners::generate::{self, BatchSpec, Container, DossierSpec, ImageCoding, Placement};

fn specs() -> Vec<BatchSpec> {
    let up = Placement {
        quarter_turns: 0,
        skew: 0.0,
    };
    let turned = Placement {
        quarter_turns: 2,
        skew: 1.5,
    };
    let spec = |name: &str, dpi, coding, container, duplex, seed| BatchSpec {
        name: name.into(),
        dpi,
        coding,
        container,
        stray_pages: 1,
        duplex,
        // Sensor noise makes JPEG pages ten times larger: JPEG pages get only specks.
        noise: if coding == ImageCoding::Jpeg {
            (0, 50)
        } else {
            (8, 50)
        },
        dossiers: vec![DossierSpec {
            reference: format!("FUZZ-{seed:04}"),
            cover: if seed % 2 == 0 { up } else { turned },
            loose_pages: 1,
            pieces: vec![("jdc".into(), 1, up)],
        }],
        seed,
    };
    use Container::{Pdf, Tiff};
    use ImageCoding::{G4, Jpeg};
    vec![
        spec("jpeg-pdf-100", 100, Jpeg, Pdf, false, 1),
        spec("g4-pdf-100", 100, G4, Pdf, true, 2),
        spec("g4-tiff-100", 100, G4, Tiff, false, 3),
        spec("jpeg-tiff-100", 100, Jpeg, Tiff, false, 4),
        spec("g4-pdf-150", 150, G4, Pdf, false, 5),
        spec("g4-tiff-150", 150, G4, Tiff, true, 6),
    ]
}

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: seed_batches DIR");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("{}: {e}", out.display());
        std::process::exit(1);
    }
    let secret = guichet_fuzz::batch::SECRET;
    for spec in specs() {
        let (bytes, manifest) = generate::build(&spec, secret);
        let batch = scanners::batch::read(&bytes, &scanners::batch::BatchLimits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.name));
        let split = scanners::split::split(&batch, secret);
        let found: Vec<usize> = split.segments.iter().map(|s| s.sheet_page).collect();
        let expected: Vec<usize> = manifest.segments.iter().map(|s| s.sheet_page).collect();
        if found != expected {
            eprintln!(
                "{}: sheets found on pages {found:?}, expected {expected:?}",
                manifest.name
            );
            std::process::exit(1);
        }
        let path = out.join(&manifest.file);
        if let Err(e) = std::fs::write(&path, &bytes) {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }
        println!(
            "{}: {} pages, {} segments, {} bytes",
            path.display(),
            manifest.pages,
            manifest.segments.len(),
            bytes.len()
        );
    }
}
