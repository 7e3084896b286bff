//! Bugs found by driving hull through real clients (integration/run.sh): each test is the
//! smallest hull-level reproduction of what the client saw.

mod common;

use common::*;
use serde_json::json;
use std::path::Path;

/// podman and docker on cgroup v1/hybrid hosts create no cgroup namespace. A fresh cgroup mount
/// there shows the host's root cgroup, so `podman run --memory 64m` read the host's limit from
/// /sys/fs/cgroup/memory/memory.limit_in_bytes. runc bind-mounts the container's own cgroup.
#[test]
fn cgroup_mount_without_cgroupns_shows_own_cgroup() {
    let mem = cgroup_mounts();
    if !mem.contains_key("memory") || !Path::new("/sys/fs/cgroup/memory").is_dir() {
        eprintln!("skip: no cgroup v1 memory hierarchy");
        return;
    }
    let env = Env::new("cgnons");
    let b = env.bundle();
    let id = env.id("c");
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "cgroup");
        c["linux"]["cgroupsPath"] = json!(format!("/{id}"));
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    });
    b.script(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
         ls /sys/fs/cgroup/memory | grep -c '^memory.limit_in_bytes$'",
    );
    let out = env.hull(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(out.code, 0, "run failed: {out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["67108864", "1"],
        "the container's own limit: {out:?}"
    );
    env.assert_clean(&id, &b);
}

/// dockerd 20.10 puts `"blockIO": {"weight": 0}` in every config.json; hosts without a
/// proportional-weight IO scheduler have no blkio.weight file, and writing the 0 failed every
/// `docker run`. runc treats 0 as unset.
#[test]
fn blkio_weight_zero_is_unset() {
    let env = Env::new("blkio0");
    let b = env.bundle();
    let id = env.id("c");
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{id}"));
        c["linux"]["resources"]["blockIO"] = json!({"weight": 0, "leafWeight": 0});
    });
    b.script("echo ok");
    let out = env.hull(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(out.code, 0, "run failed: {out:?}");
    assert_eq!(out.stdout.trim(), "ok");
    env.assert_clean(&id, &b);
}

/// `docker update --cpu-shares 512` sends the whole LinuxResources on stdin (`update
/// --resources -`), with 0 for every memory field not given. runc treats 0 as unset; writing
/// 0 to memory.limit_in_bytes fails with EBUSY and the update failed.
#[test]
fn update_with_zero_memory_fields_keeps_the_limit() {
    if !Path::new("/sys/fs/cgroup/memory").is_dir() {
        eprintln!("skip: no cgroup v1 memory hierarchy");
        return;
    }
    let env = Env::new("upd0");
    let b = env.bundle();
    let id = env.id("c");
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{id}"));
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
    });
    b.args(&["sleep", "1000"]);
    env.hull(&["run", "--detach", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let res = env.path("resources.json");
    std::fs::write(
        &res,
        r#"{"memory":{"limit":0,"reservation":0,"swap":0,"kernelTCP":0},"cpu":{"shares":512}}"#,
    )
    .unwrap();
    env.hull(&["update", "--resources", res.to_str().unwrap(), &id])
        .ok();
    let dir = Path::new("/sys/fs/cgroup/memory").join(&id);
    let limit = std::fs::read_to_string(dir.join("memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), "67108864", "limit kept");
    env.hull(&["delete", "--force", &id]).ok();
    env.assert_clean(&id, &b);
}

/// `podman run --tmpfs /dir` passes runc's `tmpcopyup` extension: the tmpfs must start with
/// a copy of what the image has at /dir (modes, owners, links). hull refused the option.
#[test]
fn tmpfs_copyup_copies_the_image_dir() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let env = Env::new("copyup");
    let b = env.bundle();
    let id = env.id("c");
    let data = b.rootfs().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("sub/f"), "content\n").unwrap();
    std::fs::set_permissions(data.join("sub/f"), std::fs::Permissions::from_mode(0o604)).unwrap();
    std::os::unix::fs::chown(data.join("sub/f"), Some(1000), Some(1000)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o711)).unwrap();
    symlink("sub/f", data.join("link")).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "tmpcopyup"]
        }))
    });
    b.script(
        "cat /data/link; stat -c '%a %u:%g' /data /data/sub/f; \
         grep -c ' /data tmpfs ' /proc/mounts; echo new > /data/x && echo writable",
    );
    let out = env.hull(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(out.code, 0, "run failed: {out:?}");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["content", "711 0:0", "604 1000:1000", "1", "writable"],
        "{out:?}"
    );
    // the image's directory itself is untouched
    assert!(!data.join("x").exists());
    env.assert_clean(&id, &b);
}
