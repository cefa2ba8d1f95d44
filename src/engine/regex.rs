//! Limits and settings shared by every regular expression the engine runs: header regexes
//! written in a policy and the regexes globs are translated to.

use regex_automata::util::syntax;

/// The most memory one compiled regular expression may take.
pub const MAX_REGEX_BYTES: usize = 1 << 20;

/// Every regex is built with these limits, so a policy cannot make one grow without bound.
pub(crate) fn regex_config() -> regex_automata::meta::Config {
    regex_automata::meta::Config::new()
        .match_kind(regex_automata::MatchKind::All)
        .nfa_size_limit(Some(MAX_REGEX_BYTES))
        .onepass_size_limit(Some(MAX_REGEX_BYTES))
        .dfa_size_limit(Some(MAX_REGEX_BYTES))
        .hybrid_cache_capacity(MAX_REGEX_BYTES)
}

/// The parser settings of every regex: nesting is bounded, so parsing cannot overflow the stack.
pub(crate) fn syntax_config() -> syntax::Config {
    syntax::Config::new().nest_limit(64)
}
