//! The file system a directory lives on, as Linux tells it: enough to warn when the data
//! directory is on an ext4 made without a journal, which docs/deployment.md advises against
//! (after a power cut it needs a check before it mounts, and it keeps freed inodes from reuse
//! for a minute, which slows every file created after many were deleted).
//!
//! Read from `/proc/self/mountinfo` (the mount that holds the directory), `/sys/dev/block`
//! (the device's kernel name) and `/proc/fs` (`ext4/<name>` for each ext4 mounted,
//! `jbd2/<name>-<inode>` for each journal in use). Anything missing or unreadable (another
//! system, a container without `/sys`) tells nothing, and nothing is reported.

use std::path::{Path, PathBuf};

/// The mount that holds `dir`, from the text of a `mountinfo` file: its device
/// (`major:minor`) and file system type, from the line whose mount point is the longest prefix
/// of `dir` (absolute, symbolic links resolved). The last such line wins: a later mount on the
/// same point hides the earlier one.
fn mount_of<'a>(mountinfo: &'a str, dir: &Path) -> Option<(&'a str, &'a str)> {
    let mut found: Option<(usize, &str, &str)> = None;
    for line in mountinfo.lines() {
        // ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER
        let mut fields = line.split(' ');
        let (Some(device), Some(point)) = (fields.nth(2), fields.nth(1)) else {
            continue;
        };
        let Some(fs_type) = fields.skip_while(|f| *f != "-").nth(1) else {
            continue;
        };
        let point = PathBuf::from(unescape(point));
        let depth = point.components().count();
        if dir.starts_with(&point) && found.is_none_or(|(deepest, ..)| depth >= deepest) {
            found = Some((depth, device, fs_type));
        }
    }
    found.map(|(_, device, fs_type)| (device, fs_type))
}

/// A mount point as `mountinfo` writes it, with space, tab, newline and backslash in octal.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The kernel's name of the ext4 device that holds `dir` when that ext4 has no journal, read
/// under `proc` and `sys` (`/proc` and `/sys` but in tests).
fn ext4_without_journal_under(dir: &Path, proc: &Path, sys: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let mountinfo = std::fs::read_to_string(proc.join("self/mountinfo")).ok()?;
    let (device, fs_type) = mount_of(&mountinfo, &dir)?;
    if fs_type != "ext4" {
        return None;
    }
    // /sys/dev/block/254:0 -> ../../devices/.../block/vda
    let name = std::fs::read_link(sys.join("dev/block").join(device)).ok()?;
    let name = name.file_name()?.to_str()?.to_string();
    if !proc.join("fs/ext4").join(&name).is_dir() {
        return None;
    }
    let journal = format!("{name}-");
    let journalled = std::fs::read_dir(proc.join("fs/jbd2"))
        .map(|entries| {
            entries.flatten().any(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.strip_prefix(&journal))
                    .is_some_and(|inode| inode.parse::<u64>().is_ok())
            })
        })
        .unwrap_or(false);
    (!journalled).then_some(name)
}

/// The kernel's name of the device (`vda`, `nvme0n1p2`...) when `dir` is on an ext4 without a
/// journal; `None` when it has one, is another file system, or nothing could tell.
pub fn ext4_without_journal(dir: &Path) -> Option<String> {
    ext4_without_journal_under(dir, Path::new("/proc"), Path::new("/sys"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
23 22 0:21 / /proc rw,nosuid - proc proc rw
24 22 7:0 / /mnt/with\\040space rw,relatime - ext4 /dev/loop0 rw
25 22 0:30 / /srv rw - tmpfs tmpfs rw
26 25 7:1 / /srv/data rw shared:5 master:1 - ext4 /dev/loop1 rw
";

    #[test]
    fn the_deepest_mount_holding_the_directory_is_found() {
        let of = |dir: &str| mount_of(MOUNTINFO, Path::new(dir));
        assert_eq!(of("/var/lib/guichet"), Some(("254:0", "ext4")));
        assert_eq!(of("/srv/data/guichet"), Some(("7:1", "ext4")));
        assert_eq!(of("/srv/other"), Some(("0:30", "tmpfs")));
        // A name that only starts like a mount point is not under it.
        assert_eq!(of("/srv/database"), Some(("0:30", "tmpfs")));
        assert_eq!(of("/mnt/with space/guichet"), Some(("7:0", "ext4")));
    }

    #[test]
    fn a_later_mount_on_the_same_point_hides_the_earlier() {
        let info = format!("{MOUNTINFO}27 22 0:40 / /srv/data rw - xfs /dev/sdb rw\n");
        assert_eq!(
            mount_of(&info, Path::new("/srv/data/guichet")),
            Some(("0:40", "xfs"))
        );
    }

    /// A `/proc` and `/sys` of a machine whose root is `vda` (ext4) and whose `/srv/data`
    /// is `loop1` (ext4), both holding `dir`'s path; `journals` lists `/proc/fs/jbd2`.
    fn machine(journals: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().expect("tempdir");
        let (proc, sys) = (root.path().join("proc"), root.path().join("sys"));
        std::fs::create_dir_all(proc.join("self")).unwrap();
        std::fs::write(proc.join("self/mountinfo"), MOUNTINFO).unwrap();
        for name in ["vda", "loop1"] {
            std::fs::create_dir_all(proc.join("fs/ext4").join(name)).unwrap();
        }
        std::fs::create_dir_all(proc.join("fs/jbd2")).unwrap();
        for journal in journals {
            std::fs::create_dir_all(proc.join("fs/jbd2").join(journal)).unwrap();
        }
        std::fs::create_dir_all(sys.join("dev/block")).unwrap();
        for (device, name) in [("254:0", "vda"), ("7:1", "loop1")] {
            let target = format!("../../devices/virtual/block/{name}");
            std::os::unix::fs::symlink(target, sys.join("dev/block").join(device)).unwrap();
        }
        (root, proc, sys)
    }

    #[test]
    fn an_ext4_is_reported_only_without_its_journal() {
        // The directory itself must exist (its path is resolved); "/" is on vda here.
        let dir = Path::new("/");
        let (_root, proc, sys) = machine(&[]);
        assert_eq!(
            ext4_without_journal_under(dir, &proc, &sys),
            Some("vda".to_string())
        );
        let (_root, proc, sys) = machine(&["vda-8"]);
        assert_eq!(ext4_without_journal_under(dir, &proc, &sys), None);
        // Another device's journal is not this one's.
        let (_root, proc, sys) = machine(&["vda1-8", "loop1-8"]);
        assert_eq!(
            ext4_without_journal_under(dir, &proc, &sys),
            Some("vda".to_string())
        );
    }

    #[test]
    fn nothing_is_reported_when_nothing_tells() {
        let (_root, proc, sys) = machine(&[]);
        std::fs::remove_file(sys.join("dev/block/254:0")).unwrap();
        assert_eq!(
            ext4_without_journal_under(Path::new("/"), &proc, &sys),
            None
        );
        let empty = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            ext4_without_journal_under(Path::new("/"), empty.path(), empty.path()),
            None
        );
    }
}
