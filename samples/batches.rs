//! `cargo run --example generate-batches -- OUTDIR`: realistic scanned batches made from
//! guichet's own cover and separator sheets and document pages — 200 and 300 dpi, noise,
//! skew, sheets upside down and at 90°, blank duplex backs, a stray page before the first
//! sheet; JPEG and CCITT G4; PDF and multi-page TIFF — and `manifest.json`, what each batch
//! holds (expected segments with their pages, blank pages, pages before the first sheet),
//! and a sample cover sheet and separator sheet as printed.
//!
//! Sheets are signed with the secret given by `GUICHET_SECRET` (default: `sample secret`),
//! so a server started with the same secret files the batches' documents.
//! The generation itself lives in `scanners::generate`, shared with the tests.

use std::path::PathBuf;

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: generate-batches OUTDIR");
        std::process::exit(2);
    };
    let secret = std::env::var("GUICHET_SECRET").unwrap_or_else(|_| "sample secret".into());
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("{}: {e}", out.display());
        std::process::exit(1);
    }
    let mut manifests = Vec::new();
    for spec in scanners::generate::standard_specs() {
        let (bytes, manifest) = scanners::generate::build(&spec, secret.as_bytes());
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
        manifests.push(manifest);
    }
    // The printed sheets themselves, as a candidate would get them.
    for (file, piece) in [
        ("cover-sheet.pdf", None),
        ("separator-sheet.pdf", Some("jdc")),
    ] {
        let pdf = scanners::generate::sheet_pdf("DEMO-0001", piece, secret.as_bytes());
        let path = out.join(file);
        if let Err(e) = std::fs::write(&path, pdf) {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }
        println!("{}", path.display());
    }
    let json = serde_json::to_string_pretty(&manifests).expect("manifests serialise");
    let path = out.join("manifest.json");
    if let Err(e) = std::fs::write(&path, json + "\n") {
        eprintln!("{}: {e}", path.display());
        std::process::exit(1);
    }
    println!("{}", path.display());
}
