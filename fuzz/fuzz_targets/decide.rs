//! Request → decide: never panics, is deterministic, agrees with its explanation, and agrees
//! with the plain reference evaluator from the test suite (see `props.rs`).
#![no_main]

#[path = "../../tests/reference/mod.rs"]
mod reference;
#[path = "../props.rs"]
mod props;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: props::FuzzRequest| props::check_decide(&input));
