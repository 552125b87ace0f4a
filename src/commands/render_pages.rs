//! `guichet render-pages --kind K --from-page N … --memory-limit BYTES --parent PID FILE`
//! (hidden): the child process in which `previews` draws a document's pages, under the memory
//! limit it sets on itself before reading the file (`previews::confine`). It writes one
//! framed record a page to standard output as each is done (`previews::child_main`), and
//! exits 0; 1 when the document cannot be drawn (after saying why in a record).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use dossiers::Kind;

pub fn run(
    file: &Path,
    kind: Kind,
    from_page: u32,
    max_pages: Option<u32>,
    max_height_ratio: Option<u32>,
    memory_limit: u64,
    parent: u32,
) -> ExitCode {
    if let Err(e) = previews::confine(memory_limit, parent) {
        eprintln!("guichet render-pages: confining the renderer: {e}");
        return ExitCode::from(1);
    }
    let defaults = previews::Limits::default();
    let limits = previews::Limits {
        max_pages: max_pages.unwrap_or(defaults.max_pages),
        max_height_ratio: max_height_ratio.unwrap_or(defaults.max_height_ratio),
        memory_bytes: memory_limit,
        ..defaults
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let result = previews::child_main(file, kind, from_page, &limits, &mut out);
    // Records are flushed as they are written; what is left is nothing or a closed pipe.
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guichet render-pages: {e}");
            ExitCode::from(1)
        }
    }
}
