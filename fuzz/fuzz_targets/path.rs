//! Path handling: whatever the engine accepts is clean, and `/admin` cannot be reached in
//! disguise (see `props.rs`).
#![no_main]

#[path = "../../tests/reference/mod.rs"]
mod reference;
#[path = "../props.rs"]
mod props;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|target: &[u8]| props::check_path(target));
