//! `guichet validate FILE...`: the verdict on local files, offline.
//!
//! Exit status: 0 when every file passes, 1 when any is rejected, 2 on usage errors
//! (an unreadable file, a campaign that does not parse, an unknown piece).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use dossiers::Campaign;
use validators::{Declared, Limits, Policy, Verdict};

pub fn run(
    files: &[std::path::PathBuf],
    campaign: Option<&Path>,
    piece: Option<&str>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let policy = policy_for(campaign, piece)?;
    let limits = Limits::default();
    let mut all_accepted = true;
    for (path, verdict) in files.iter().zip(verdicts(files, &policy, &limits)) {
        let verdict = verdict.with_context(|| format!("reading {}", path.display()))?;
        all_accepted &= verdict.accepted();
        if as_json {
            println!("{}", json_line(path, &verdict));
        } else {
            print_human(path, &verdict);
        }
    }
    Ok(if all_accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The verdicts on `files`, in their order, worked out on every core: one worker a core, each
/// taking the next file, largest first, as it finishes one, so a large file holds one core
/// only and none is left for the end. Each worker
/// verifies one file at a time, with the bounded memory of the server's verification.
fn verdicts(
    files: &[std::path::PathBuf],
    policy: &Policy,
    limits: &Limits,
) -> impl Iterator<Item = std::io::Result<Verdict>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(files.len().max(1));
    // Largest first, so that no core is left with a large file when the others are done.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_cached_key(|&i| {
        std::cmp::Reverse(std::fs::metadata(&files[i]).map_or(0, |m| m.len()))
    });
    let order = &order;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let taken = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&index) = order.get(taken) else {
                        break;
                    };
                    let path = &files[index];
                    let declared = Declared {
                        filename: path.file_name().map(|n| n.to_string_lossy().into_owned()),
                        content_type: None,
                    };
                    let verdict = validators::validate_file(path, None, &declared, policy, limits);
                    release_freed_memory();
                    if sender.send((index, verdict)).is_err() {
                        break;
                    }
                }
            });
        }
    });
    drop(sender);
    let mut results: Vec<Option<std::io::Result<Verdict>>> =
        std::iter::repeat_with(|| None).take(files.len()).collect();
    for (index, verdict) in receiver {
        results[index] = Some(verdict);
    }
    results.into_iter().flatten()
}

/// Gives back to the system the memory freed by the file just verified, once the allocator
/// holds more than [`FREED_KEPT_BYTES`] of it. glibc's allocator keeps what a thread frees in
/// that thread's arena, so each worker would otherwise hold the peak of the largest file it
/// met, and the process the sum of those peaks (once 158 MiB over the corpus, where 106 were
/// needed). Trimming after every file cost a quarter of the time in page faults and
/// `madvise`; trimming whenever 16 MiB were free, two thirds of the system time. With 64 MiB
/// kept, a run over the corpus trims rarely, and its peak stays below the Python reference
/// check's.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallinfo2 only reads the allocator's statistics, and malloc_trim only returns
    // free heap pages to the system; neither touches memory in use, and both may be called
    // from any thread.
    unsafe {
        if libc::mallinfo2().fordblks > FREED_KEPT_BYTES {
            libc::malloc_trim(0);
        }
    }
}

/// Freed memory the allocator may keep between files (see [`release_freed_memory`]).
const FREED_KEPT_BYTES: usize = 64 << 20;

/// The piece's limits when `--campaign` and `--piece` are given; any supported kind otherwise.
fn policy_for(campaign: Option<&Path>, piece: Option<&str>) -> anyhow::Result<Policy> {
    let (Some(file), Some(code)) = (campaign, piece) else {
        return Ok(Policy {
            accept: None,
            max_bytes: None,
            max_pages: None,
        });
    };
    let source =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let campaign = Campaign::parse(&source, &file.display().to_string())?;
    let Some(piece) = campaign.piece(code) else {
        let known: Vec<&str> = campaign.pieces().iter().map(|p| p.code()).collect();
        bail!(
            "campaign {} has no piece {code:?} (pieces: {})",
            campaign.id(),
            known.join(", ")
        );
    };
    Ok(Policy {
        accept: Some(piece.accept().to_vec()),
        max_bytes: Some(piece.max_bytes()),
        max_pages: piece.max_pages(),
    })
}

fn json_line(path: &Path, verdict: &Verdict) -> serde_json::Value {
    json!({
        "path": path.display().to_string(),
        "kind": verdict.kind,
        "verdict": if verdict.accepted() { "accepted" } else { "rejected" },
        "reasons": verdict.reasons,
        "notes": verdict.notes,
        "sha256": verdict.sha256,
        "size": verdict.size,
        "pages": verdict.pages,
    })
}

fn print_human(path: &Path, verdict: &Verdict) {
    let pages = verdict
        .pages
        .map(|p| format!(", {p} page(s)"))
        .unwrap_or_default();
    if verdict.accepted() {
        println!("{}: accepted ({}{pages})", path.display(), verdict.kind);
    } else {
        println!("{}: rejected ({}{pages})", path.display(), verdict.kind);
    }
    for reason in &verdict.reasons {
        println!("  - {}: {}", reason.code.as_str(), reason.message);
    }
    for note in &verdict.notes {
        println!("  · {}: {}", note.code.as_str(), note.message);
    }
}
