//! Reloading the policy when its file changes (the `watch` feature).
//!
//! The file's directory is watched, so that editors that write a new file and rename it over
//! the old one are seen. Changes are debounced; a file that is missing, half-written or
//! invalid is refused and the old engine stays.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::Gate;
use crate::error::{ErrorKind, PolicyError};

/// Keeps a gate's policy file watched; dropping it stops the watching.
#[derive(Debug)]
pub struct PolicyWatcher {
    _watcher: notify::RecommendedWatcher,
}

impl Gate {
    /// Reloads the policy file whenever it changes, `debounce` after the last change. Each
    /// reload is logged (target `portcullis`); a failed one keeps the old engine.
    pub fn watch(&self, debounce: Duration) -> Result<PolicyWatcher, PolicyError> {
        let Some(path) = self.path().map(PathBuf::from) else {
            return Err(PolicyError::invalid(
                "this gate was not made from a policy file",
            ));
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().map(|n| n.to_os_string());
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event {
                    // Reading the file (as a reload does) is an access event: only changes count.
                    if matches!(event.kind, notify::EventKind::Access(_)) {
                        return;
                    }
                    if event
                        .paths
                        .iter()
                        .any(|p| p.file_name().map(|n| n.to_os_string()) == name)
                    {
                        let _ = tx.send(());
                    }
                }
            })
            .map_err(|e| {
                PolicyError::new(ErrorKind::Io, format!("cannot watch the policy file: {e}"))
            })?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| {
                PolicyError::new(
                    ErrorKind::Io,
                    format!("cannot watch `{}`: {e}", dir.display()),
                )
            })?;
        let gate = self.clone();
        std::thread::Builder::new()
            .name("portcullis-watch".into())
            .spawn(move || {
                // Ends when the watcher, and with it the sender, is dropped.
                while rx.recv().is_ok() {
                    while rx.recv_timeout(debounce).is_ok() {}
                    match gate.reload() {
                        Ok(()) => tracing::info!(target: "portcullis", path = %path.display(), "policy reloaded"),
                        Err(e) => tracing::error!(target: "portcullis", path = %path.display(), "policy reload failed, keeping the old policy: {e}"),
                    }
                }
            })
            .map_err(|e| PolicyError::new(ErrorKind::Io, format!("cannot start the watch thread: {e}")))?;
        Ok(PolicyWatcher { _watcher: watcher })
    }
}
