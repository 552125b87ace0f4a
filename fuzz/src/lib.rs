//! What the fuzz targets share: the panic policy, and the targets' bodies with the invariants
//! every answer must hold. The validators' live beside their regression tests
//! (`validators/tests/fuzz-regressions/harness.rs`) so that a find replayed there runs
//! exactly what the fuzzer ran; the mailroom batch reader's (`read_batch`) is [`batch`].
//!
//! A crash is a panic that escapes the validators, a broken invariant, a timeout or an
//! out-of-memory. A panic inside a decoder that the validators' guard (`catch_unwind`) turns
//! into a reason code is the designed behaviour, not a crash: it is logged once per source
//! location so it can be reported upstream, and `GUICHET_FUZZ_STRICT=1` makes it abort like any
//! other panic (see docs/fuzzing.md).

pub mod batch;
#[path = "../../validators/tests/fuzz-regressions/harness.rs"]
pub mod harness;

use std::collections::HashSet;
use std::sync::Mutex;

/// Replaces libfuzzer-sys's hook, which aborts on every panic, caught or not. Call from the
/// target's `init:`. A panic that escapes the target still aborts (libfuzzer-sys catches it
/// around the target and aborts), after this hook has printed where it came from.
pub fn init() {
    let strict = std::env::var_os("GUICHET_FUZZ_STRICT").is_some_and(|v| v != "0");
    let default_hook = std::panic::take_hook();
    let seen: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    std::panic::set_hook(Box::new(move |info| {
        if strict {
            default_hook(info);
            std::process::abort();
        }
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.insert(place.clone()) {
            eprintln!(
                "guichet-fuzz: panic at {place} (location #{}): {info}",
                seen.len()
            );
        }
    }));
}
