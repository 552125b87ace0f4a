//! Pages per second and peak memory splitting a 300-page batch (300 dpi grayscale JPEG PDF,
//! a cover sheet every ten pages, sheets in all four orientations and skewed).
//!
//! `cargo bench -p scanners --bench split`. Environment: `MAILROOM_BENCH_PAGES` (default 300),
//! `MAILROOM_BENCH_NOISE` (sensor noise of document pages, in gray levels either way; default
//! 3, as in a scanner's JPEG output: pages are then about 0.9 MB each; more noise makes larger
//! pages, 5 makes a 1,000-page batch about 1 GB), `MAILROOM_BENCH_OUT` (where the batch is
//! written; default under the system's temporary directory), for `scripts/bench-mailroom` to
//! run the usual pdftoppm + zbarimg pipeline on the same file. The batch is generated first,
//! then read page by page from the file and split by a fresh process (this one, run again with
//! `MAILROOM_BENCH_INPUT`), so that its peak resident memory (`VmHWM`, mapped file pages
//! included) counts reading, parsing and splitting, and nothing of the generation;
//! `MAILROOM_BENCH_RUNS` (default 1) measures that many times, each in a fresh process.

use std::time::Instant;

use scanners::generate::{self, Canvas, EncodedPage, ImageCoding};
use scanners::split::PageFinding;
use scanners::{BatchLimits, open, split};

const SECRET: &[u8] = b"benchmark secret";
const DPI: u32 = 300;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of this process (user and system, every thread), in seconds: what the split
/// costs whatever else the machine runs.
fn cpu_seconds() -> Option<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the memory it is given, which is large enough.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

fn main() {
    if let Ok(input) = std::env::var("MAILROOM_BENCH_INPUT") {
        measure(&input);
        return;
    }
    let pages: usize = std::env::var("MAILROOM_BENCH_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let noise: u8 = std::env::var("MAILROOM_BENCH_NOISE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    eprintln!("generating a {pages}-page batch at {DPI} dpi…");
    // A few distinct content pages, reused: generating is not what is measured.
    let content: Vec<EncodedPage> = (0..8)
        .map(|n| {
            let page = generate::text_page(DPI, 11, n).noisy(n as u64 + 1, noise, 400);
            generate::encode_page(&page, ImageCoding::Jpeg)
        })
        .collect();
    let mut batch = Vec::with_capacity(pages);
    let mut sheets = 0;
    for i in 0..pages {
        if i % 10 == 0 {
            let reference = format!("BENCH-{:04}", i / 10);
            let sheet: Canvas =
                generate::rasterise_sheet(&generate::sheet_pdf(&reference, None, SECRET), DPI)
                    .expect("rasterises");
            let skew = [0.0, 2.5, -2.0][sheets % 3];
            let sheet = if skew != 0.0 {
                sheet.skewed(skew)
            } else {
                sheet
            };
            let sheet = sheet.turned((sheets % 4) as u32).noisy(i as u64, 3, 400);
            batch.push(generate::encode_page(&sheet, ImageCoding::Jpeg));
            sheets += 1;
        } else {
            batch.push(content[i % content.len()].clone());
        }
    }
    let bytes = generate::pdf_batch(&batch);
    drop(batch);
    let out = std::env::var("MAILROOM_BENCH_OUT").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join("mailroom-bench.pdf")
            .to_string_lossy()
            .into_owned()
    });
    std::fs::write(&out, &bytes).expect("writes the batch");
    eprintln!(
        "batch written to {out} ({} bytes, {sheets} sheets)",
        bytes.len()
    );
    drop(bytes);
    let runs: usize = std::env::var("MAILROOM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for run in 1..=runs.max(1) {
        if runs > 1 {
            println!("-- run {run} of {runs}");
        }
        let status = std::process::Command::new(std::env::current_exe().expect("own path"))
            .env("MAILROOM_BENCH_INPUT", &out)
            .env("MAILROOM_BENCH_SHEETS", sheets.to_string())
            .status()
            .expect("runs the measuring process");
        assert!(status.success(), "measuring process failed");
    }
}

/// Reads and splits the batch at `input`, in a process of its own.
fn measure(input: &str) {
    let sheets: usize = std::env::var("MAILROOM_BENCH_SHEETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let start = Instant::now();
    let parsed = open(std::path::Path::new(input), &BatchLimits::default()).expect("reads");
    let read_time = start.elapsed();
    let peak_after_read = peak_rss_kib();
    let pages = parsed.pages.len();
    let split = split(&parsed, SECRET);
    let total = start.elapsed();
    let found = split
        .pages
        .iter()
        .filter(|p| matches!(p, PageFinding::Sheet(_)))
        .count();
    let size = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "pages: {pages}, batch: {} MB, threads: {threads}, sheets: {sheets}, sheets found: {found}",
        size / 1_000_000
    );
    println!(
        "read: {:.2} s, read + split: {:.2} s, {:.1} pages/s",
        read_time.as_secs_f64(),
        total.as_secs_f64(),
        pages as f64 / total.as_secs_f64()
    );
    if let Some(cpu) = cpu_seconds() {
        println!(
            "CPU time: {cpu:.2} s ({:.1} ms a page)",
            cpu * 1000.0 / pages as f64
        );
    }
    if let (Some(read), Some(peak)) = (peak_after_read, peak_rss_kib()) {
        println!(
            "peak resident memory: {} MiB (after reading the structure: {} MiB)",
            peak / 1024,
            read / 1024
        );
    }
    assert_eq!(found, sheets, "every sheet found");
}
