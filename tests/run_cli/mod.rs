//! Running the built `portcullis` binary from the repository root, for the CLI tests.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

#[path = "../scratch/mod.rs"]
mod scratch;
pub use scratch::scratch;

/// Runs the binary with `args`, feeding `stdin` if given.
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let input = child.stdin.take();
    if let (Some(mut pipe), Some(bytes)) = (input, stdin) {
        // A command that stops reading early closes the pipe: that is not a failure here.
        let _ = pipe.write_all(bytes);
    }
    child.wait_with_output().expect("the binary finishes")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// A file in this test binary's scratch directory.
pub fn temp(name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, contents).expect("a temporary file");
    path
}
