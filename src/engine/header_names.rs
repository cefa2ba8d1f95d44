//! What a header's name says before its value is read: its length (a bit of a request's
//! name-length mask, which rules out most lookups at once), whether it holds an `_`, and the
//! names it is a twin of (`X_Api_Key` and `x-api-key`).

pub(crate) const fn length_bit(len: usize) -> u64 {
    1 << if len < 63 { len } else { 63 }
}

/// The lengths of `names` as [`RequestView::name_lengths`](super::request::RequestView::name_lengths) bits: a set of header names that
/// one test rules out together (see [`RequestView::may_carry_any`](super::request::RequestView::may_carry_any)).
pub(crate) const fn lengths_of(names: &[&str]) -> u64 {
    let mut mask = 0;
    let mut i = 0;
    while i < names.len() {
        mask |= length_bit(names[i].len());
        i += 1;
    }
    mask
}

/// The bit of `name_lengths` that says some header name holds an underscore.
pub(crate) const UNDERSCORE_BIT: u64 = 1;

pub(crate) fn name_lengths<'n>(names: impl Iterator<Item = &'n [u8]>) -> u64 {
    names.fold(0, |mask, n| {
        let underscore = if has_underscore(n) { UNDERSCORE_BIT } else { 0 };
        mask | length_bit(n.len()) | underscore
    })
}

/// Whether a header name holds `_`, a word at a time: names are short, and `memchr`'s set-up
/// or a byte-at-a-time search cost more than the search itself. A name's last word is read
/// overlapping the one before it, so no byte is looked at alone.
pub(crate) fn has_underscore(name: &[u8]) -> bool {
    // The classic "has a zero byte" test on `word ^ "____"`: nonzero exactly when some byte
    // of `word` is `_` (borrows only disturb bytes after the first match).
    fn in_u64(word: [u8; 8]) -> bool {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
        let x = u64::from_ne_bytes(word) ^ u64::from_ne_bytes([b'_'; 8]);
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    }
    fn in_u32(word: [u8; 4]) -> bool {
        const ONES: u32 = u32::from_ne_bytes([0x01; 4]);
        const HIGHS: u32 = u32::from_ne_bytes([0x80; 4]);
        let x = u32::from_ne_bytes(word) ^ u32::from_ne_bytes([b'_'; 4]);
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    }
    if let Some(&last) = name.last_chunk::<8>() {
        let (chunks, _) = name.as_chunks::<8>();
        return chunks.iter().any(|&c| in_u64(c)) || in_u64(last);
    }
    match (name.first_chunk::<4>(), name.last_chunk::<4>()) {
        (Some(&first), Some(&last)) => in_u32(first) || in_u32(last),
        _ => name.contains(&b'_'),
    }
}

/// The spelling the engine looks a header up by: lowercase, `-` for `_`. Lookups find every
/// twin of it (see [`twin_eq`]), so a policy naming `x_debug` sees `X-Debug` too, and the
/// checks that depend on a header's name (credentials, `host`) cannot be dodged by a twin
/// spelling in the policy.
pub(crate) fn canonical_name(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b == b'_' {
                '-'
            } else {
                char::from(b.to_ascii_lowercase())
            }
        })
        .collect()
}

/// Whether two header names are the same once ASCII case is ignored and `_` is read as `-`.
///
/// CGI, WSGI, PHP and some proxies turn `X_Api_Key` and `X-Api-Key` into the same variable
/// (`HTTP_X_API_KEY`; Django CVE-2015-0219), so a backend may read an underscore twin as the
/// header itself. The engine reads twins as more lines of the header, so that whatever a
/// backend makes of them, the engine has seen it: two different keys are ambiguous, a twin
/// override is one more method reading, a twin forbidden value satisfies a forbid condition.
pub(crate) fn twin_eq(a: &[u8], b: &[u8]) -> bool {
    let fold = |c: u8| {
        if c == b'_' {
            b'-'
        } else {
            c.to_ascii_lowercase()
        }
    };
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| fold(x) == fold(y))
}
