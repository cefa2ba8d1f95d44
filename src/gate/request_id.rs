//! Request ids: the one name a refusal's body, its log event and the handler's
//! [`Caller`](super::Caller) share, so that a client's complaint can be found in the logs.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// When the request id a request arrives with is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestIds {
    /// Keep the incoming id when the peer is one of the policy's trusted proxies (which set
    /// it themselves); make a new one otherwise. The default.
    #[default]
    FromTrustedProxies,
    /// Keep any well-formed incoming id: for services that only proxies reach.
    FromAnyone,
    /// Always make a new one.
    Generate,
}

/// The id of one request: the one it arrived with (when kept), or one made here, unique within
/// the process and unlikely to repeat across restarts.
///
/// ```
/// use portcullis::gate::{Gate, Outcome};
/// use portcullis::{AsRequestView, Policy, Request};
///
/// let gate = Gate::new(Policy::from_toml("[policy]\ndefault = \"allow\"")?.compile()?);
/// let Outcome::Pass(a) = gate.check(&Request::get("/").peer("192.0.2.1".parse()?).view()) else {
///     unreachable!()
/// };
/// let Outcome::Pass(b) = gate.check(&Request::get("/").peer("192.0.2.1".parse()?).view()) else {
///     unreachable!()
/// };
/// assert_ne!(a.request_id, b.request_id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Repr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    Made { process: u32, thread: u32, seq: u64 },
    Given(Arc<str>),
}

/// The longest incoming id kept.
const MAX_GIVEN_LEN: usize = 128;

impl RequestId {
    /// A new id. No atomic operation is shared between threads: each counts its own.
    pub(crate) fn make() -> RequestId {
        static PROCESS: OnceLock<u32> = OnceLock::new();
        static THREADS: AtomicU32 = AtomicU32::new(0);
        thread_local! {
            static NEXT: Cell<(u32, u64)> = const { Cell::new((u32::MAX, 0)) };
        }
        let process = *PROCESS.get_or_init(|| {
            // The start time and the process id, mixed: a new prefix at every start.
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            let mixed = (micros ^ (u64::from(std::process::id()) << 32))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            (mixed >> 32) as u32
        });
        let (thread, seq) = NEXT
            .try_with(|next| {
                let (mut thread, seq) = next.get();
                if thread == u32::MAX {
                    thread = THREADS.fetch_add(1, Ordering::Relaxed);
                }
                next.set((thread, seq.wrapping_add(1)));
                (thread, seq)
            })
            .unwrap_or((u32::MAX, 0));
        RequestId(Repr::Made {
            process,
            thread,
            seq,
        })
    }

    /// The incoming id, when it is 1 to 128 letters, digits or `-_.:/+=@` (nothing that could
    /// forge a log line or break a JSON string).
    pub(crate) fn given(value: &[u8]) -> Option<RequestId> {
        let plain = !value.is_empty()
            && value.len() <= MAX_GIVEN_LEN
            && value
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(b));
        // INVARIANT: checked ASCII above.
        let text = std::str::from_utf8(value).ok().filter(|_| plain)?;
        Some(RequestId(Repr::Given(Arc::from(text))))
    }

    /// Whether the id is the one the request arrived with.
    pub fn is_given(&self) -> bool {
        matches!(self.0, Repr::Given(_))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Made {
                process,
                thread,
                seq,
            } => write!(f, "{process:08x}-{thread:x}-{seq:x}"),
            Repr::Given(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_ids_do_not_repeat_across_threads() {
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..1000)
                            .map(|_| RequestId::make().to_string())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn only_plain_incoming_ids_are_kept() {
        for ok in ["abc-123", "0f:1a/2b+c=d@e_f.g", &"a".repeat(128)] {
            assert_eq!(
                RequestId::given(ok.as_bytes())
                    .map(|i| i.to_string())
                    .as_deref(),
                Some(ok)
            );
        }
        for bad in [
            "",
            "a b",
            "a\"b",
            "a\nb",
            "é",
            &"a".repeat(129),
            "a\\b",
            "<x>",
        ] {
            assert_eq!(RequestId::given(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
