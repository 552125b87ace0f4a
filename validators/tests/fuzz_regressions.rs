//! Finds of the fuzzers (`fuzz/`, docs/fuzzing.md), replayed: every input that once crashed,
//! hung or ran out of memory in a fuzz target is kept in `tests/fuzz-regressions/`, minimised,
//! and must now be answered without panic, within [`TIME_LIMIT`], with the invariants the
//! fuzzers check ([`harness`]). Every fixture goes through all three targets, not only the one
//! that found it. [`FINDS`] also says what verdict each one must get now.

#[path = "fuzz-regressions/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use validators::{Declared, Limits, Policy, ReasonCode, validate};

/// Longest time one target may take on one fixture (the fuzzers run with `-timeout=10`).
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// One find: its fixture, the target that found it, what went wrong, and a reason code the
/// verdict under the default policy must now carry (`None`: accepted, or any refusal).
struct Find {
    file: &'static str,
    target: &'static str,
    what: &'static str,
    expect: Option<ReasonCode>,
}

const FINDS: &[Find] = &[Find {
    file: "detect-pdf-header-beyond-window.bin",
    target: "detect",
    what: "`%PDF` without its dash in the first 1024 bytes (infer says PDF) and a real `%PDF-` \
           header past the window: detect reported a PDF at offset 1100, and validate verified \
           the embedded document instead of refusing the file",
    expect: Some(ReasonCode::KindUnknown),
}];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions")
}

/// The fixtures: every file of the folder but the shared harness.
fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("read tests/fuzz-regressions")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "rs"))
        .collect();
    files.sort();
    files
}

/// Runs one target on `data` in a thread; `Err` when it panics or takes too long.
fn run(target: harness::Target, data: Vec<u8>) -> Result<Duration, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        target(&data);
        let _ = tx.send(start.elapsed());
    });
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(elapsed) => Ok(elapsed),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("took more than {TIME_LIMIT:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("panicked".to_string()),
    }
}

#[test]
fn every_find_is_answered_in_bounded_time_by_every_target() {
    let mut failures = Vec::new();
    for path in fixtures() {
        let data = std::fs::read(&path).expect("read fixture");
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        for (target, body) in harness::TARGETS {
            match run(body, data.clone()) {
                Ok(t) => println!("{:>8.1} ms  {target:<15} {name:?}", t.as_secs_f64() * 1e3),
                Err(e) => failures.push(format!("{name:?} in {target}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "finds that fail again:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_find_is_listed_with_its_expected_verdict() {
    let on_disk: Vec<String> = fixtures()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for file in &on_disk {
        assert!(
            FINDS.iter().any(|f| f.file == file),
            "{file} is not listed in FINDS"
        );
    }
    for find in FINDS {
        assert!(
            on_disk.iter().any(|f| f == find.file),
            "{}: listed but missing",
            find.file
        );
        assert!(
            harness::TARGETS.iter().any(|(t, _)| *t == find.target),
            "{}: unknown target {}",
            find.file,
            find.target
        );
        let Some(code) = find.expect else { continue };
        let data = std::fs::read(fixtures_dir().join(find.file)).expect("read fixture");
        let v = validate(
            &data,
            &Declared::default(),
            &Policy::default(),
            &Limits::default(),
        );
        assert!(
            v.has_reason(code),
            "{} ({}): expected {code}, got {:?}",
            find.file,
            find.what,
            v.reasons
        );
    }
}
