//! A scratch directory for one test binary, under the target directory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This test binary's scratch directory, under the target directory (not the system's
/// temporary directory), emptied when a run first uses it: files of one run do not pile up.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(env!("CARGO_CRATE_NAME"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    })
}
