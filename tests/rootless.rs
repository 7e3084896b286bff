//! Rootless hull: run as an unprivileged user the test creates, with a user namespace mapping
//! that user (directly, and through newuidmap/newgidmap for more ids), no cgroups (none is
//! delegated), and state under $XDG_RUNTIME_DIR/hull by default.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const USER: &str = "hull-rootless";
const SUBIDS: &str = "300000:65536";

/// The user's subordinate range in `file` ("start", "count"): useradd may have allocated one
/// already, otherwise the test added SUBIDS.
fn subids(file: &str) -> (String, String) {
    let text = fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{USER}:")))
        .expect("subordinate ids for the test user");
    let mut f = line.split(':').skip(1);
    (f.next().unwrap().to_string(), f.next().unwrap().to_string())
}

/// The test user (created once, with subordinate ids for newuidmap), as (uid, gid).
fn user() -> (u32, u32) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let exists = Command::new("id")
            .arg(USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        if !exists.success() {
            let st = Command::new("useradd")
                .args(["-M", "-s", "/bin/sh", USER])
                .status()
                .expect("useradd");
            assert!(st.success(), "useradd {USER} failed");
        }
        for f in ["/etc/subuid", "/etc/subgid"] {
            let cur = fs::read_to_string(f).unwrap_or_default();
            if !cur.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
                fs::write(f, format!("{cur}{USER}:{SUBIDS}\n")).unwrap();
            }
        }
    });
    let id = |flag: &str| -> u32 {
        let o = Command::new("id").args([flag, USER]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

struct Rootless {
    env: Env,
    hull: PathBuf,
    state: PathBuf,
    uid: u32,
    gid: u32,
}

impl Rootless {
    fn new(name: &str) -> Rootless {
        let (uid, gid) = user();
        let env = Env::new(name);
        // The user must be able to reach hull and its own state dir.
        let hull = env.base.join("hull");
        fs::copy(common::HULL, &hull).unwrap();
        fs::set_permissions(&env.base, fs::Permissions::from_mode(0o755)).unwrap();
        let state = env.base.join("rootless-state");
        fs::create_dir(&state).unwrap();
        std::os::unix::fs::chown(&state, Some(uid), Some(gid)).unwrap();
        Rootless {
            env,
            hull,
            state,
            uid,
            gid,
        }
    }

    fn as_user(&self, cwd: &Path, global: &[&str], args: &[&str], xdg: Option<&Path>) -> Out {
        let mut c = Command::new("runuser");
        c.args(["-u", USER, "--"])
            .arg(&self.hull)
            .args(global)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null());
        c.env_remove("XDG_RUNTIME_DIR");
        if let Some(x) = xdg {
            c.env("XDG_RUNTIME_DIR", x);
        }
        self.env
            .run_cmd(c, &format!("as {USER}: {args:?}"), TIMEOUT)
    }

    /// A bundle whose config.json is `hull spec --rootless` as the user wrote it.
    fn bundle(&self, script: &str) -> Bundle {
        let b = self.env.bundle();
        fs::remove_file(b.config_path()).unwrap();
        std::os::unix::fs::chown(&b.dir, Some(self.uid), Some(self.gid)).unwrap();
        self.as_user(&b.dir, &[], &["spec", "--rootless"], None)
            .ok();
        b.edit(|c| {
            c["process"]["terminal"] = json!(false);
            c["process"]["args"] = json!(["sh", "-c", script]);
        });
        b
    }

    fn root_args(&self) -> Vec<String> {
        vec!["--root".into(), self.state.display().to_string()]
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        // Whatever a failed test left: delete as root through the same state dir.
        if let Ok(rd) = fs::read_dir(&self.state) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().to_string();
                let _ = Command::new(&self.hull)
                    .arg("--root")
                    .arg(&self.state)
                    .args(["delete", "--force", &id])
                    .status();
            }
        }
    }
}

fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn rootless_run_maps_the_user_to_root() {
    let r = Rootless::new("rootless1");
    let b = r.bundle("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; hostname; cat /proc/self/setgroups");
    let id = r.env.id("c");
    let g = r.root_args();
    let g: Vec<&str> = g.iter().map(String::as_str).collect();
    let out = r.as_user(&b.dir, &g, &["run", &id], None);
    out.ok();
    let text = squash(&out.stdout);
    let want = format!("0\n0\n0 {} 1\n0 {} 1\nhull\ndeny", r.uid, r.gid);
    assert_eq!(
        text, want,
        "inside the rootless container; stderr {:?}",
        out.stderr
    );
    assert!(!r.state.join(&id).exists(), "run removed its state");
    assert!(
        cgroup_dirs_named(&id).is_empty(),
        "no cgroup for a rootless container without delegation"
    );
    eprintln!(
        "rootless: uid {} ran as root of its own user namespace",
        r.uid
    );
}

#[test]
fn rootless_newuidmap_maps_subordinate_ids() {
    let r = Rootless::new("rootless2");
    assert!(
        Path::new("/usr/bin/newuidmap").exists(),
        "newuidmap missing: install Debian's uidmap package"
    );
    let b = r.bundle("cat /proc/self/uid_map /proc/self/gid_map; id -u");
    let (ubase, usize_) = subids("/etc/subuid");
    let (gbase, gsize) = subids("/etc/subgid");
    let n = |s: &str| s.parse::<u32>().unwrap();
    b.edit(|c| {
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": r.uid, "size": 1},
                                           {"containerID": 1, "hostID": n(&ubase), "size": n(&usize_)}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": r.gid, "size": 1},
                                           {"containerID": 1, "hostID": n(&gbase), "size": n(&gsize)}]);
    });
    let id = r.env.id("c");
    let g = r.root_args();
    let g: Vec<&str> = g.iter().map(String::as_str).collect();
    let out = r.as_user(&b.dir, &g, &["run", &id], None);
    out.ok();
    let text = squash(&out.stdout);
    let want = format!(
        "0 {} 1\n1 {ubase} {usize_}\n0 {} 1\n1 {gbase} {gsize}\n0",
        r.uid, r.gid
    );
    assert_eq!(
        text, want,
        "maps written by newuidmap/newgidmap; stderr {:?}",
        out.stderr
    );
}

#[test]
fn rootless_state_defaults_to_xdg_runtime_dir() {
    let r = Rootless::new("rootless3");
    let b = r.bundle("sleep 30");
    let xdg = r.env.base.join("xdg");
    fs::create_dir(&xdg).unwrap();
    std::os::unix::fs::chown(&xdg, Some(r.uid), Some(r.gid)).unwrap();
    let id = r.env.id("c");
    r.as_user(&b.dir, &[], &["run", "-d", &id], Some(&xdg)).ok();
    let state = xdg.join("hull").join(&id).join("state.json");
    assert!(
        state.exists(),
        "state under $XDG_RUNTIME_DIR/hull: {}",
        state.display()
    );
    let mode = fs::metadata(xdg.join("hull")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "state root is private");
    let st = r.as_user(&b.dir, &[], &["state", &id], Some(&xdg));
    st.ok();
    assert!(st.stdout.contains("\"running\""), "{}", st.stdout);
    r.as_user(&b.dir, &[], &["delete", "--force", &id], Some(&xdg))
        .ok();
    assert!(!xdg.join("hull").join(&id).exists());
}
