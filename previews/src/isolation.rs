//! The parent side of [`Isolation::Process`](crate::Isolation::Process): a child draws the
//! pages and writes them as records (`frame`); the parent waits for each within the page
//! timeout. A page that takes too long, or that kills its child (out of memory, a crash), gets
//! placeholders and its reason; the child is killed and reaped, and a new child goes on from
//! the next page. Every child is reaped before this returns, whatever happens.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use dossiers::Kind;

use crate::frame::{self, Record};
use crate::{Limits, RenderError, RenderedPage, output};

/// How much of the beginning, and of the end, of a child's standard error is kept for the
/// reason of its death (Rust's out-of-memory message comes first, a backtrace may follow).
const STDERR_KEPT: usize = 4 << 10;

pub(crate) fn render_in_children(
    path: &Path,
    kind: Kind,
    exe: &Path,
    args: &[String],
    limits: &Limits,
    on_page: &mut dyn FnMut(RenderedPage),
) -> Result<u32, RenderError> {
    // An unreadable file is the caller's error, not a renderer's.
    File::open(path)?;
    let mut next = 1;
    let mut known_count = None;
    loop {
        let mut renderer = Renderer::spawn(exe, args, path, kind, next, limits)?;
        let count = match renderer.next(limits.page_timeout) {
            Next::Record(Record::Document { pages }) => *known_count.get_or_insert(pages),
            Next::Record(Record::NotRenderable(reason)) => {
                return Err(RenderError::NotRenderable(reason));
            }
            Next::Record(Record::Error(reason)) => return Err(RenderError::Child(reason)),
            other => {
                let reason = renderer.failure(other, limits.page_timeout);
                let Some(count) = known_count else {
                    return Err(RenderError::Child(reason));
                };
                // A child that could not open the document again will not the next time
                // either (opening is the same work each time): the remaining pages fail alike.
                for page in next..=count.min(limits.max_pages) {
                    on_page(output::failed(page, reason.clone()));
                }
                return Ok(count);
            }
        };
        let last = count.min(limits.max_pages);
        while next <= last {
            match renderer.next(limits.page_timeout) {
                Next::Record(Record::Page(page)) if page.page == next => on_page(page),
                other => {
                    let reason = renderer.failure(other, limits.page_timeout);
                    on_page(output::failed(next, reason));
                    next += 1;
                    break;
                }
            }
            next += 1;
        }
        if next > last {
            return Ok(count);
        }
    }
}

/// What came from a child.
enum Next {
    Record(Record),
    /// Nothing within the page timeout.
    TimedOut,
    /// Its output ended, or stopped making sense.
    Ended(Option<io::Error>),
}

/// A running child and the threads that read its two outputs. Dropping it kills and reaps the
/// child.
struct Renderer {
    child: Child,
    records: Option<Receiver<io::Result<Record>>>,
    stdout: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
}

impl Renderer {
    fn spawn(
        exe: &Path,
        args: &[String],
        path: &Path,
        kind: Kind,
        from_page: u32,
        limits: &Limits,
    ) -> Result<Renderer, RenderError> {
        let mut command = Command::new(exe);
        command
            .args(args)
            .args(["--kind", kind.name()])
            .args(["--from-page", &from_page.to_string()])
            .args(["--max-pages", &limits.max_pages.to_string()])
            .args(["--max-height-ratio", &limits.max_height_ratio.to_string()])
            .args(["--memory-limit", &limits.memory_bytes.to_string()])
            .args(["--parent", &std::process::id().to_string()])
            .arg("--")
            .arg(path)
            // Its standard error is read for the reason it died, not to debug it.
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // No code of the parent's runs between fork and exec (the child confines itself, see
        // [`confine`]): so the standard library spawns with posix_spawn, which shares the
        // parent's memory until exec instead of copying its page tables. A fork of the server
        // made every page it wrote next fault and flush the other cores' TLBs, a cost the
        // uploads paid for each document drawn.
        let start = |e: io::Error| RenderError::Child(format!("the renderer does not start: {e}"));
        let mut child = command.spawn().map_err(start)?;
        let threads = match (child.stdout.take(), child.stderr.take()) {
            (Some(out), Some(err)) => read_records(out).and_then(|r| Ok((r, read_stderr(err)?))),
            _ => Err(io::Error::other("the child's outputs are not piped")),
        };
        match threads {
            Ok(((records, stdout), stderr)) => Ok(Renderer {
                child,
                records: Some(records),
                stdout: Some(stdout),
                stderr: Some(stderr),
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(start(e))
            }
        }
    }

    /// The next record, waiting at most `timeout`.
    fn next(&mut self, timeout: Duration) -> Next {
        let Some(records) = &self.records else {
            return Next::Ended(None);
        };
        match records.recv_timeout(timeout) {
            Ok(Ok(record)) => Next::Record(record),
            Ok(Err(e)) => Next::Ended(Some(e)),
            Err(RecvTimeoutError::Timeout) => Next::TimedOut,
            Err(RecvTimeoutError::Disconnected) => Next::Ended(None),
        }
    }

    /// Stops the child after `what` instead of the expected record, and says why the page
    /// it was drawing fails.
    fn failure(&mut self, what: Next, timeout: Duration) -> String {
        let (status, stderr) = self.finish();
        match what {
            Next::TimedOut => format!("rendering took more than {}", seconds(timeout)),
            Next::Record(_) => "the renderer answered out of turn".into(),
            Next::Ended(Some(e)) => format!("the renderer's output does not read: {e}"),
            Next::Ended(None) => death(status, &stderr),
        }
    }

    /// Kills and reaps the child (if it has not exited), then collects its threads: its exit
    /// status and the end of its standard error.
    fn finish(&mut self) -> (Option<ExitStatus>, String) {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        // The record thread may wait to hand over a record: without a receiver it stops.
        self.records = None;
        if let Some(stdout) = self.stdout.take() {
            let _ = stdout.join();
        }
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        (status, stderr)
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The renderer's niceness (0 is the server's, 19 the lowest priority).
const RENDER_NICENESS: libc::c_int = 19;

/// Confines the calling process, a renderer child, before it reads a byte of its document:
/// an address space of at most `memory_bytes` (an allocation beyond fails, and Rust aborts),
/// no core file, the idle scheduling class and the lowest priority, and death with the
/// thread of `parent` that spawned it. The child calls this first thing, while it has a single
/// thread (the scheduling class is inherited by threads created after). Fails when a limit
/// cannot be set, or when `parent` is already gone (the child is then nobody's).
pub fn confine(memory_bytes: u64, parent: u32) -> io::Result<()> {
    let limit = |bytes: u64| libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct it is given, which lives across the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit(memory_bytes)) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit(0)) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // Pictures of pages are derived and may wait; documents arriving may not. The renderer
    // runs only on cores nothing else wants (Linux's idle scheduling class), so under load
    // intake keeps the machine and pictures catch up when it quiets down; elsewhere, at the
    // lowest priority. (Best effort: a refusal is no reason not to render.)
    #[cfg(target_os = "linux")]
    {
        let idle = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler reads the struct it is given, which lives across the call.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &idle) };
    }
    // SAFETY: setpriority takes integers and no pointer.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, RENDER_NICENESS) };
    // The child dies with the thread that spawned it, which waits for it until it is reaped:
    // a server killed mid-rendering leaves no renderer behind.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and no pointer.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // A parent that died before the line above sent no signal: the child has another parent.
    if std::os::unix::process::parent_id() != parent {
        return Err(io::Error::other(
            "the server that started the renderer is gone",
        ));
    }
    Ok(())
}

/// A thread that reads the child's records and hands them over one at a time (a channel of
/// one: the child blocks on its output while the parent handles the previous page).
fn read_records(stdout: ChildStdout) -> io::Result<(Receiver<io::Result<Record>>, JoinHandle<()>)> {
    let (send, receive) = sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("previews-records".into())
        .spawn(move || {
            let mut input = BufReader::new(stdout);
            loop {
                let (record, last) = match frame::read(&mut input) {
                    Ok(Some(record)) => (Ok(record), false),
                    Ok(None) => return,
                    Err(e) => (Err(e), true),
                };
                if send.send(record).is_err() || last {
                    return;
                }
            }
        })?;
    Ok((receive, thread))
}

/// A thread that reads the child's standard error to its end, keeping its first and its last
/// few KiB.
fn read_stderr(mut stderr: ChildStderr) -> io::Result<JoinHandle<String>> {
    std::thread::Builder::new()
        .name("previews-stderr".into())
        .spawn(move || {
            let (mut head, mut tail) = (Vec::new(), Vec::new());
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                let room = STDERR_KEPT.saturating_sub(head.len()).min(n);
                head.extend_from_slice(&buf[..room]);
                tail.extend_from_slice(&buf[room..n]);
                if tail.len() > 2 * STDERR_KEPT {
                    tail.drain(..tail.len() - STDERR_KEPT);
                }
            }
            head.extend_from_slice(&tail);
            String::from_utf8_lossy(&head).into_owned()
        })
}

/// Why a child died, from its exit status and the end of its standard error.
fn death(status: Option<ExitStatus>, stderr: &str) -> String {
    // Rust's answer to an allocation the memory limit refuses: a message, then abort.
    if stderr.contains("memory allocation of") || stderr.contains("Cannot allocate memory") {
        return "rendering ran out of memory".into();
    }
    let said = stderr.lines().map(str::trim).rfind(|l| !l.is_empty());
    let detail = match (said, status) {
        (Some(line), _) => line.chars().take(300).collect(),
        (None, Some(status)) => match status.signal() {
            Some(signal) => format!("killed by signal {signal}"),
            None => format!("exit status {}", status.code().unwrap_or(-1)),
        },
        (None, None) => "no exit status".into(),
    };
    format!("the renderer stopped: {detail}")
}

/// `20 s`, `1.5 s`, `300 ms`.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else if d.as_secs() > 0 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Instant;

    use super::*;
    use crate::PageImage;

    /// Where a stand-in child finds its canned records, and the document it is given.
    struct Stage {
        dir: tempfile::TempDir,
    }

    impl Stage {
        fn new() -> Stage {
            let dir = tempfile::tempdir().expect("a temporary folder");
            std::fs::write(dir.path().join("document"), b"%PDF-").expect("written");
            Stage { dir }
        }

        /// Writes the records `write` makes to the file `name`; its path.
        fn records(&self, name: &str, write: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
            let mut out = Vec::new();
            write(&mut out);
            let path = self.dir.path().join(name);
            std::fs::write(&path, out).expect("written");
            path
        }

        /// The document's page count, then page `n`.
        fn page(&self, pages: u32, n: u32) -> String {
            let path = self.records(&format!("page{n}"), |out| {
                frame::write_document(out, pages).expect("written");
                frame::write_page(out, &page(n)).expect("written");
            });
            path.display().to_string()
        }

        /// Renders with `sh -c script` as the child, whose `$4` is the first page asked (its
        /// arguments: `--kind pdf --from-page N …`).
        fn run(
            &self,
            script: &str,
            limits: &Limits,
        ) -> (Result<u32, RenderError>, Vec<RenderedPage>) {
            let mut pages = Vec::new();
            let args = ["-c", script, "sh"].map(String::from);
            let result = render_in_children(
                &self.dir.path().join("document"),
                Kind::Pdf,
                Path::new("/bin/sh"),
                &args,
                limits,
                &mut |page| pages.push(page),
            );
            (result, pages)
        }
    }

    fn page(n: u32) -> RenderedPage {
        let image = |bytes: &[u8]| PageImage {
            width: 1,
            height: 1,
            jpeg: bytes.to_vec(),
        };
        RenderedPage {
            page: n,
            thumbnail: image(b"thumbnail"),
            reading: image(b"reading"),
            failure: None,
        }
    }

    fn quick() -> Limits {
        Limits {
            page_timeout: Duration::from_millis(300),
            ..Limits::default()
        }
    }

    fn failures(pages: &[RenderedPage]) -> Vec<(u32, Option<&str>)> {
        pages
            .iter()
            .map(|p| (p.page, p.failure.as_deref()))
            .collect()
    }

    #[test]
    fn a_page_that_takes_too_long_is_given_up_and_the_next_drawn_by_a_new_child() {
        let stage = Stage::new();
        let (one, three) = (stage.page(3, 1), stage.page(3, 3));
        // The first child draws page 1, then hangs on page 2.
        let script =
            format!(r#"if [ "$4" = 1 ]; then cat "{one}"; exec sleep 30; else cat "{three}"; fi"#);
        let started = Instant::now();
        let (result, pages) = stage.run(&script, &quick());
        assert_eq!(result.expect("rendered"), 3);
        assert_eq!(
            failures(&pages),
            [
                (1, None),
                (2, Some("rendering took more than 300 ms")),
                (3, None)
            ]
        );
        assert_eq!(pages[0], page(1));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_page_that_kills_its_child_fails_with_the_reason() {
        let stage = Stage::new();
        let (one, four) = (stage.page(4, 1), stage.page(4, 4));
        // Page 2 runs out of memory as Rust reports it; page 3 crashes; page 4 is drawn.
        let script = format!(
            r#"case "$4" in
                1) cat "{one}"; echo "memory allocation of 4096 bytes failed" >&2; kill -ABRT $$ ;;
                3) echo "thread 'main' has overflowed its stack" >&2; exit 134 ;;
                *) cat "{four}" ;;
            esac"#
        );
        let (result, pages) = stage.run(&script, &quick());
        assert_eq!(result.expect("rendered"), 4);
        assert_eq!(
            failures(&pages),
            [
                (1, None),
                (2, Some("rendering ran out of memory")),
                // The child for page 3 died before saying the page count: opening fails the
                // same way every time, so the pages left fail with it.
                (
                    3,
                    Some("the renderer stopped: thread 'main' has overflowed its stack")
                ),
                (
                    4,
                    Some("the renderer stopped: thread 'main' has overflowed its stack")
                ),
            ]
        );
        let placeholder = crate::placeholder(crate::READING_WIDTH);
        assert_eq!(pages[1].reading, placeholder);
    }

    #[test]
    fn a_child_that_stops_between_pages_is_followed_by_another() {
        let stage = Stage::new();
        let (one, two) = (stage.page(2, 1), stage.page(2, 2));
        // Each child draws one page and exits.
        let script = format!(r#"if [ "$4" = 1 ]; then cat "{one}"; exit 0; else cat "{two}"; fi"#);
        let (result, pages) = stage.run(&script, &quick());
        assert_eq!(result.expect("rendered"), 2);
        assert_eq!(
            failures(&pages),
            [(1, None), (2, Some("the renderer stopped: exit status 0"))]
        );
    }

    #[test]
    fn a_document_the_first_child_cannot_open_is_an_error() {
        let stage = Stage::new();
        let refusal = stage.records("refusal", |out| {
            frame::write_not_renderable(out, "the PDF's pages cannot be found").expect("written");
        });
        let (result, pages) = stage.run(&format!("cat '{}'; exit 1", refusal.display()), &quick());
        assert!(
            matches!(&result, Err(RenderError::NotRenderable(why)) if why == "the PDF's pages cannot be found"),
            "{result:?}"
        );
        assert!(pages.is_empty());

        let (result, _) = stage.run("echo 'thread main panicked: boom' >&2; exit 101", &quick());
        assert!(
            matches!(&result, Err(RenderError::Child(why)) if why.ends_with("panicked: boom")),
            "{result:?}"
        );
        let (result, _) = stage.run("exec sleep 30", &quick());
        assert!(
            matches!(&result, Err(RenderError::Child(why)) if why == "rendering took more than 300 ms"),
            "{result:?}"
        );
        let missing = render_in_children(
            &stage.dir.path().join("document"),
            Kind::Pdf,
            Path::new("/nonexistent/guichet"),
            &[],
            &quick(),
            &mut |_| {},
        );
        assert!(
            matches!(&missing, Err(RenderError::Child(why)) if why.starts_with("the renderer does not start")),
            "{missing:?}"
        );
    }

    #[test]
    fn the_child_is_told_its_memory_limit_and_its_parent() {
        let stage = Stage::new();
        let limits = Limits {
            memory_bytes: 64 << 20,
            ..quick()
        };
        let (result, _) = stage.run(r#"echo "$@" >&2; exit 1"#, &limits);
        let told = format!("--memory-limit 67108864 --parent {} --", std::process::id());
        assert!(
            matches!(&result, Err(RenderError::Child(why)) if why.contains(&told)),
            "{result:?}"
        );
    }

    /// Run in a process of its own (this test binary again, see the next test): confines it,
    /// and prints what the limits are then.
    fn confined_report() {
        let parent = std::os::unix::process::parent_id();
        // Room to go on printing (the limit is read back, not put to the test).
        let orphan = confine(1 << 30, parent.wrapping_add(1)).is_err();
        confine(1 << 30, parent).expect("confined");
        let limit = |resource| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes the struct it is given, which lives across the call.
            assert_eq!(unsafe { libc::getrlimit(resource, &mut limit) }, 0);
            limit.rlim_cur
        };
        // SAFETY: sched_getscheduler takes a process id and no pointer.
        let class = unsafe { libc::sched_getscheduler(0) };
        println!(
            "CONFINED address space {}, core files {}, idle class {}, refused as an orphan {orphan}",
            limit(libc::RLIMIT_AS),
            limit(libc::RLIMIT_CORE),
            class == libc::SCHED_IDLE,
        );
    }

    #[test]
    fn confine_limits_the_process_it_runs_in() {
        const CHILD: &str = "PREVIEWS_TEST_CONFINED_CHILD";
        if std::env::var_os(CHILD).is_some() {
            return confined_report();
        }
        let this = "isolation::tests::confine_limits_the_process_it_runs_in";
        let output = Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--exact", this, "--nocapture", "--test-threads", "1"])
            .env(CHILD, "1")
            .output()
            .expect("ran");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(
                "CONFINED address space 1073741824, core files 0, idle class true, \
                 refused as an orphan true"
            ),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn deaths_are_told_by_what_the_child_said_or_its_status() {
        let status = |raw: i32| Some(ExitStatus::from_raw(raw));
        assert_eq!(
            death(status(6), "memory allocation of 1 bytes failed\n"),
            "rendering ran out of memory"
        );
        assert_eq!(
            death(status(9), ""),
            "the renderer stopped: killed by signal 9"
        );
        assert_eq!(
            death(status(3 << 8), "\n"),
            "the renderer stopped: exit status 3"
        );
        assert_eq!(seconds(Duration::from_secs(20)), "20 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(5)), "5 ms");
    }
}
