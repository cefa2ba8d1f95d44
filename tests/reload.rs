//! Reloading what deployments change, on a real server on loopback: list files edited in place
//! and replaced by rename, a broken list file, a Kubernetes ConfigMap volume swapped under its
//! `..data` symlink, and the polling fallback. Each change must be seen within seconds.
#![cfg(all(feature = "watch", feature = "axum"))]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis::gate::{Gate, WatchOptions};
use support::{get, start, Framework};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portcullis-reload-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Forbids `/page/*` to clients in the list file `blocked.txt`.
const POLICY: &str = r#"
[policy]
default = "allow"

[lists]
blocked = { file = "blocked.txt" }

[[rules]]
name = "blocklist"
effect = "forbid"
when = { ip = ["@blocked"] }
"#;

/// Polls the server until `/page/x` from 127.0.0.1 answers `status`, for at most 10 s.
async fn answers(addr: std::net::SocketAddr, status: u16) -> bool {
    for _ in 0..200 {
        if get(addr, None, "/page/x", &[]).await.status == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_files_edited_in_place_replaced_by_rename_and_broken() {
    let dir = scratch("list");
    std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
    std::fs::write(dir.join("blocked.txt"), "192.0.2.1\n").unwrap();
    let gate = Gate::from_path(dir.join("policy.toml")).unwrap();
    let first = gate.engine().revision();
    let _watcher = gate.watch(Duration::from_millis(50)).unwrap();
    let server = start(Framework::Axum, gate.clone(), "127.0.0.1:0").await;
    assert!(answers(server.addr, 200).await);

    // Edited in place, as `echo >> list` does.
    std::fs::write(dir.join("blocked.txt"), "192.0.2.1\n127.0.0.1\n").unwrap();
    assert!(
        answers(server.addr, 403).await,
        "an in-place edit was not seen"
    );
    let second = gate.engine().revision();
    assert_ne!(first, second, "the revision names the list file's content");

    // Replaced by rename, as feed updaters do.
    write_atomically(&dir.join("blocked.txt"), "192.0.2.1\n");
    assert!(
        answers(server.addr, 200).await,
        "a replacement by rename was not seen"
    );
    assert_eq!(gate.engine().revision(), first, "same bytes, same revision");

    // A broken list keeps the old engine, exactly like a broken policy.
    write_atomically(&dir.join("blocked.txt"), "127.0.0.1\nnot-an-address\n");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get(server.addr, None, "/page/x", &[]).await.status, 200);
    assert_eq!(gate.engine().revision(), first);

    // Fixed again: picked up.
    write_atomically(&dir.join("blocked.txt"), "127.0.0.1\n");
    assert!(
        answers(server.addr, 403).await,
        "the fixed list was not seen"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Builds the layout the kubelet makes for a ConfigMap volume: the data in a timestamped
/// directory, `..data` a symlink to it, and each key a symlink through `..data`.
#[cfg(unix)]
fn configmap_update(mount: &Path, stamp: &str, files: &[(&str, &str)]) {
    use std::os::unix::fs::symlink;
    let data = mount.join(stamp);
    std::fs::create_dir_all(&data).unwrap();
    for (name, text) in files {
        std::fs::write(data.join(name), text).unwrap();
    }
    let old = std::fs::read_link(mount.join("..data")).ok();
    // The kubelet's swap: a new `..data_tmp` link renamed over `..data`.
    symlink(stamp, mount.join("..data_tmp")).unwrap();
    std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).unwrap();
    for (name, _) in files {
        let link = mount.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new("..data").join(name), &link).unwrap();
        }
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(mount.join(old)).unwrap();
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_swapped_under_its_data_symlink_is_seen() {
    let mount = scratch("configmap");
    configmap_update(
        &mount,
        "..2026_11_30_10_00_00.1",
        &[("policy.toml", POLICY), ("blocked.txt", "192.0.2.1\n")],
    );
    let gate = Gate::from_path(mount.join("policy.toml")).unwrap();
    let _watcher = gate.watch(Duration::from_millis(50)).unwrap();
    let server = start(Framework::Axum, gate.clone(), "127.0.0.1:0").await;
    assert!(answers(server.addr, 200).await);

    // A new list through the swap: the files themselves are never written.
    configmap_update(
        &mount,
        "..2026_11_30_10_05_00.2",
        &[("policy.toml", POLICY), ("blocked.txt", "127.0.0.0/8\n")],
    );
    assert!(
        answers(server.addr, 403).await,
        "the ConfigMap swap was not seen"
    );

    // A second swap, after the first one's directory is gone, is seen too.
    let forbid_all = POLICY.replace("default = \"allow\"", "default = \"forbid\"");
    configmap_update(
        &mount,
        "..2026_11_30_10_10_00.3",
        &[("policy.toml", &forbid_all), ("blocked.txt", "192.0.2.1\n")],
    );
    assert!(answers(server.addr, 403).await);
    assert!(
        get(server.addr, None, "/", &[]).await.status == 403,
        "the second swap was not seen"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&mount);
}

#[test]
fn polling_sees_a_change_that_sends_no_event() {
    let dir = scratch("poll");
    std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
    std::fs::write(dir.join("blocked.txt"), "192.0.2.1\n").unwrap();
    let gate = Gate::from_path(dir.join("policy.toml")).unwrap();
    let before = gate.engine().revision();
    let watcher = gate
        .watch_with(
            WatchOptions::new()
                .events(false)
                .poll(Duration::from_millis(100)),
        )
        .unwrap();
    std::fs::write(dir.join("blocked.txt"), "127.0.0.1\n").unwrap();
    let seen = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        gate.engine().revision() != before
    });
    assert!(seen, "the change was not seen");
    drop(watcher);
    let _ = std::fs::remove_dir_all(&dir);
}
