//! Policy text → parse and compile: never panics, errors always render (see `props.rs`).
#![no_main]

#[path = "../../tests/reference/mod.rs"]
mod reference;
#[path = "../props.rs"]
mod props;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| props::check_policy(data));
