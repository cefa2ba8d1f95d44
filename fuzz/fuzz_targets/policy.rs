//! Policy text → parse and compile: never panics, errors always render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::{Format, Policy};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let format = match selector % 3 {
        0 => Format::Toml,
        1 => Format::Json,
        _ => Format::Yaml,
    };
    match Policy::parse("fuzz", text.to_owned(), format).and_then(|p| {
        // List files are not read from fuzz input: a list naming a file fails to compile.
        p.with_base_dir("/nonexistent").compile()
    }) {
        Ok(engine) => {
            let _ = engine.stats();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
