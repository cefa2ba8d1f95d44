//! A scratch directory for one test process, under the target directory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This test process's scratch directory, under the target directory (not the system's
/// temporary directory). Directories that earlier runs of this test binary left behind are
/// removed when a run first asks, where the system can say their process has ended (Linux's
/// `/proc`): concurrent runs keep theirs, and finished runs do not pile up.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let prefix = concat!(env!("CARGO_CRATE_NAME"), "-");
        let proc = Path::new("/proc/self");
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix(prefix));
            if let Some(pid) = pid.filter(|p| p.bytes().all(|b| b.is_ascii_digit())) {
                if proc.exists() && !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = root.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    })
}
