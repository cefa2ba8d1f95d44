//! Reloading the policy when any file it was compiled from changes (the `watch` feature).
//!
//! The directory of every file the engine read (the policy and each list file) is watched,
//! and, for a file reached through symbolic links, the directory of its target too: editors
//! that write a new file and rename it over the old one, cron jobs that replace a feed, and
//! Kubernetes' ConfigMap volumes (which swap a `..data` symlink and never write the file) are
//! all seen. An event only prompts a look: the files are hashed and compared with the digests
//! of what was compiled, and the policy is reloaded only when one of them changed. For mounts
//! where file events never fire (some network file systems), [`WatchOptions::poll`] adds the
//! same look on a timer.
//!
//! A file that is missing, half-written or invalid is refused and the old engine stays; the
//! same broken content is reported once, not at every event.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, RwLock};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::Gate;
use crate::engine::provenance::digest_on_disk;
use crate::error::{ErrorKind, PolicyError};

/// How [`Gate::watch_with`] watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    debounce: Duration,
    poll: Option<Duration>,
    events: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(200),
            poll: None,
            events: true,
        }
    }
}

impl WatchOptions {
    /// Watch with file events, 200 ms of debounce, and no polling.
    pub fn new() -> Self {
        WatchOptions::default()
    }

    /// How long to wait after the last event before looking (so that a file written in
    /// several steps is read once, whole).
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// Also hash the files every `interval` and reload when one changed: for mounts where file
    /// events do not fire. Hashing reads every file, so keep it to seconds, not milliseconds.
    pub fn poll(mut self, interval: Duration) -> Self {
        self.poll = Some(interval);
        self
    }

    /// Whether to listen to file events (the default). Without them only
    /// [`poll`](Self::poll) looks at the files.
    pub fn events(mut self, yes: bool) -> Self {
        self.events = yes;
        self
    }
}

/// Keeps a gate's policy files watched; dropping it stops the watching.
#[derive(Debug)]
pub struct PolicyWatcher {
    tx: mpsc::Sender<Message>,
}

impl Drop for PolicyWatcher {
    fn drop(&mut self) {
        let _ = self.tx.send(Message::Stop);
    }
}

#[derive(Debug)]
enum Message {
    /// Something happened in a watched directory to a name that matters.
    Changed,
    Stop,
}

/// The file names whose events prompt a look, shared with the event callback.
type Names = Arc<RwLock<BTreeSet<OsString>>>;

impl Gate {
    /// Reloads the policy whenever a file it was compiled from changes, `debounce` after the
    /// last change. Each reload is logged (target `portcullis`) with the policy revision; a
    /// failed one keeps the old engine.
    pub fn watch(&self, debounce: Duration) -> Result<PolicyWatcher, PolicyError> {
        self.watch_with(WatchOptions::new().debounce(debounce))
    }

    /// [`watch`](Self::watch) with options: polling as well as, or instead of, file events.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use portcullis::gate::{Gate, WatchOptions};
    ///
    /// let gate = Gate::from_path("policy.toml")?;
    /// let _watcher = gate.watch_with(WatchOptions::new().poll(Duration::from_secs(10)))?;
    /// # Ok::<(), portcullis::PolicyError>(())
    /// ```
    pub fn watch_with(&self, options: WatchOptions) -> Result<PolicyWatcher, PolicyError> {
        if self.path().is_none() {
            return Err(PolicyError::invalid(
                "this gate was not made from a policy file",
            ));
        }
        let (tx, rx) = mpsc::channel::<Message>();
        let names: Names = Arc::default();
        let watcher = if options.events {
            Some(event_watcher(tx.clone(), names.clone())?)
        } else {
            None
        };
        let mut watching = Watching {
            watcher,
            dirs: BTreeSet::new(),
            names,
        };
        watching.sync(self)?;
        let gate = self.clone();
        std::thread::Builder::new()
            .name("portcullis-watch".into())
            .spawn(move || watching.run(&gate, &rx, options))
            .map_err(|e| {
                PolicyError::new(ErrorKind::Io, format!("cannot start the watch thread: {e}"))
            })?;
        Ok(PolicyWatcher { tx })
    }
}

/// A file-event watcher that sends [`Message::Changed`] for events on names that matter.
fn event_watcher(
    tx: mpsc::Sender<Message>,
    names: Names,
) -> Result<notify::RecommendedWatcher, PolicyError> {
    notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Reading a file (as a reload does) is an access event: only changes count.
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let names = match names.read() {
            Ok(n) => n,
            Err(poisoned) => poisoned.into_inner(),
        };
        if event.paths.iter().any(|p| matters(p, &names)) {
            let _ = tx.send(Message::Changed);
        }
    })
    .map_err(|e| PolicyError::new(ErrorKind::Io, format!("cannot watch the policy files: {e}")))
}

/// Whether an event on `path` may change a policy file: one of the files' names, or a name
/// Kubernetes' atomic writer uses for its swaps (`..data`, `..data_tmp`, `..2026_11_30_…`).
fn matters(path: &Path, names: &BTreeSet<OsString>) -> bool {
    path.file_name()
        .is_some_and(|n| names.contains(n) || n.to_str().is_some_and(|s| s.starts_with("..")))
}

/// The watching thread's state.
struct Watching {
    /// `None` when only polling.
    watcher: Option<notify::RecommendedWatcher>,
    dirs: BTreeSet<PathBuf>,
    names: Names,
}

impl Watching {
    fn run(mut self, gate: &Gate, rx: &mpsc::Receiver<Message>, options: WatchOptions) {
        // The disk content of the last reload that failed, so that it is reported once.
        let mut refused: Option<Vec<Option<[u8; 32]>>> = None;
        let tick = options.poll.unwrap_or(Duration::from_secs(3600));
        loop {
            match rx.recv_timeout(tick) {
                Ok(Message::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Ok(Message::Changed) => {
                    // Debounce: wait for a quiet moment.
                    loop {
                        match rx.recv_timeout(options.debounce) {
                            Ok(Message::Changed) => {}
                            Ok(Message::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                            Err(mpsc::RecvTimeoutError::Timeout) => break,
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) if options.poll.is_none() => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let engine = gate.engine();
            let files = engine.source_files();
            let now: Vec<Option<[u8; 32]>> =
                files.iter().map(|f| digest_on_disk(f.path())).collect();
            let changed = files.iter().any(|f| f.changed_on_disk());
            drop(engine);
            if !changed || refused.as_ref() == Some(&now) {
                continue;
            }
            refused = gate.reload().is_err().then_some(now);
            if let Err(e) = self.sync(gate) {
                tracing::warn!(target: "portcullis", "{e}");
            }
        }
    }

    /// Watches the directories of the current engine's files (and of their symlink targets),
    /// and no others.
    fn sync(&mut self, gate: &Gate) -> Result<(), PolicyError> {
        let Some(watcher) = self.watcher.as_mut() else {
            return Ok(());
        };
        let engine = gate.engine();
        let mut paths: Vec<PathBuf> = engine
            .source_files()
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect();
        if let Some(p) = gate.path() {
            paths.push(p.to_path_buf());
        }
        let mut dirs = BTreeSet::new();
        let mut names = BTreeSet::new();
        for path in &paths {
            for p in std::iter::once(path.clone()).chain(std::fs::canonicalize(path).ok()) {
                if let Some(n) = p.file_name() {
                    names.insert(n.to_os_string());
                }
                dirs.insert(match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                });
            }
        }
        match self.names.write() {
            Ok(mut n) => *n = names,
            Err(poisoned) => *poisoned.into_inner() = names,
        }
        for gone in self.dirs.difference(&dirs) {
            // A directory already removed (a ConfigMap's old timestamped one) is unwatched.
            let _ = watcher.unwatch(gone);
        }
        let mut first_error = None;
        let mut watched = BTreeSet::new();
        for dir in dirs {
            if self.dirs.contains(&dir) {
                watched.insert(dir);
                continue;
            }
            // A directory that cannot be watched now is tried again at the next sync.
            match watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    watched.insert(dir);
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| {
                        PolicyError::new(
                            ErrorKind::Io,
                            format!("cannot watch `{}`: {e}", dir.display()),
                        )
                    });
                }
            }
        }
        self.dirs = watched;
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
