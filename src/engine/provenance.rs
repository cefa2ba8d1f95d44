//! What a compiled engine was built from: the policy and every file it read, each with the
//! SHA-256 digest of the bytes compiled, and the revision those digests make.
//!
//! Reloading compares the digests with the files on disk, so that a change to any of them
//! (a list file rewritten by a cron job, a Kubernetes ConfigMap swapped under a symlink) is seen,
//! and a directory event that changed nothing the policy read reloads nothing.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One file a policy was compiled from, with the digest of the bytes that were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    path: PathBuf,
    digest: [u8; 32],
}

impl SourceFile {
    /// The file and the digest of `bytes`, its content as read.
    pub(crate) fn new(path: PathBuf, bytes: &[u8]) -> SourceFile {
        SourceFile {
            path,
            digest: Sha256::digest(bytes).into(),
        }
    }

    /// The path as the policy named it (list files resolved against the policy's directory).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file on disk no longer holds the bytes that were compiled (or cannot be
    /// read).
    pub fn changed_on_disk(&self) -> bool {
        digest_on_disk(&self.path) != Some(self.digest)
    }
}

/// The digest of a file's content now; `None` when it cannot be read.
pub(crate) fn digest_on_disk(path: &Path) -> Option<[u8; 32]> {
    std::fs::read(path)
        .ok()
        .map(|bytes| Sha256::digest(&bytes).into())
}

/// A short, stable name for the exact content an engine was compiled from: the first 12 hex
/// digits of a SHA-256 over the policy text and every file it read. Two engines with the same
/// revision were compiled from the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Revision([u8; 6]);

impl Revision {
    /// The revision of a policy text and the files it read, in the order they were read.
    pub(crate) fn of(policy_text: &[u8], files: &[SourceFile]) -> Revision {
        let mut h = Sha256::new();
        h.update(Sha256::digest(policy_text));
        for f in files {
            let path = f.path.to_string_lossy();
            h.update((path.len() as u64).to_le_bytes());
            h.update(path.as_bytes());
            h.update(f.digest);
        }
        let full: [u8; 32] = h.finalize().into();
        let mut short = [0; 6];
        short.copy_from_slice(&full[..6]);
        Revision(short)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Where an engine came from: its revision, the policy file (when it was read from one) and
/// the list files it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provenance {
    pub(crate) revision: Revision,
    /// The policy file first (when there is one), then list files in name order.
    pub(crate) files: Vec<SourceFile>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_names_every_byte_read() {
        let a = SourceFile::new("a.txt".into(), b"192.0.2.1\n");
        let b = SourceFile::new("a.txt".into(), b"192.0.2.2\n");
        let base = Revision::of(b"[policy]", std::slice::from_ref(&a));
        assert_eq!(base, Revision::of(b"[policy]", std::slice::from_ref(&a)));
        assert_ne!(base, Revision::of(b"[policy] ", std::slice::from_ref(&a)));
        assert_ne!(base, Revision::of(b"[policy]", &[b]));
        assert_ne!(base, Revision::of(b"[policy]", &[]));
        let moved = SourceFile::new("b.txt".into(), b"192.0.2.1\n");
        assert_ne!(base, Revision::of(b"[policy]", &[moved]));
        assert_eq!(base.to_string().len(), 12);
        assert!(base.to_string().bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn a_file_changed_on_disk_is_seen() {
        let dir = std::env::temp_dir().join(format!("portcullis-prov-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("list.txt");
        std::fs::write(&path, "192.0.2.1\n").unwrap();
        let f = SourceFile::new(path.clone(), b"192.0.2.1\n");
        assert!(!f.changed_on_disk());
        std::fs::write(&path, "192.0.2.9\n").unwrap();
        assert!(f.changed_on_disk());
        std::fs::remove_file(&path).unwrap();
        assert!(f.changed_on_disk());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
