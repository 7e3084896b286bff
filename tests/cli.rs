//! The command line around the containers: --version, features, spec, global options.

mod common;

use common::*;
use std::fs;

#[test]
fn version_lines() {
    let env = Env::new("version");
    let out = env.hull(&["--version"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 3, "{:?}", out.stdout);
    assert!(lines[0].starts_with("hull version "), "{:?}", lines[0]);
    assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{lines:?}");
    let spec = lines
        .iter()
        .find_map(|l| l.strip_prefix("spec: "))
        .expect("a spec: line");
    assert!(spec.starts_with("1."), "{spec:?}");
    assert_eq!(env.hull(&["-v"]).stdout, out.stdout);
}

#[test]
fn features_document() {
    let env = Env::new("features");
    let out = env.hull(&["features"]);
    out.ok();
    let f = out.json();
    for k in [
        "ociVersionMin",
        "ociVersionMax",
        "hooks",
        "mountOptions",
        "linux",
    ] {
        assert!(f.get(k).is_some(), "features has {k}: {f}");
    }
    assert!(f["ociVersionMax"].as_str().unwrap().starts_with("1."));
    let opts: Vec<&str> = f["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Every option the tests show working (inside.rs) is advertised.
    for o in [
        "ro", "rro", "bind", "rbind", "nosuid", "noexec", "nodev", "shared", "private",
    ] {
        assert!(opts.contains(&o), "mountOptions has {o}: {opts:?}");
    }
    let l = &f["linux"];
    for k in [
        "namespaces",
        "capabilities",
        "cgroup",
        "seccomp",
        "apparmor",
        "selinux",
    ] {
        assert!(l.get(k).is_some(), "linux.{k} in {l}");
    }
    let caps: Vec<&str> = l["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for c in [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_ADMIN",
    ] {
        assert!(caps.contains(&c), "{c} in {caps:?}");
    }
    // containerd refuses idmapped mounts unless this says enabled: it must be a bool.
    assert!(l["mountExtensions"]["idmap"]["enabled"].is_boolean(), "{l}");
}

#[test]
fn spec_writes_a_template_and_refuses_to_overwrite() {
    let env = Env::new("spec");
    let dir = env.path("b");
    fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    env.hull(&["spec", "--bundle", d]).ok();
    let c: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert!(c["ociVersion"].as_str().unwrap().starts_with("1."));
    assert_eq!(
        c["process"]["terminal"], true,
        "runc's template has a terminal"
    );
    assert_eq!(c["root"]["path"], "rootfs");
    let ns: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for want in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&want), "{want} in {ns:?}");
    }
    // A second spec does not overwrite the file.
    fs::write(dir.join("config.json"), "keep").unwrap();
    let out = env.hull(&["spec", "--bundle", d]);
    out.fails_with(1, &["config.json"]);
    assert_eq!(fs::read_to_string(dir.join("config.json")).unwrap(), "keep");
    // -b and the rootless template (a user namespace mapping the caller).
    let dir2 = env.path("b2");
    fs::create_dir_all(&dir2).unwrap();
    env.hull(&["spec", "-b", dir2.to_str().unwrap(), "--rootless"])
        .ok();
    let c: serde_json::Value =
        serde_json::from_slice(&fs::read(dir2.join("config.json")).unwrap()).unwrap();
    let ns: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(ns.contains(&"user"), "{ns:?}");
    assert_eq!(c["linux"]["uidMappings"][0]["hostID"], 0);
    // In the current directory by default.
    let dir3 = env.path("b3");
    fs::create_dir_all(&dir3).unwrap();
    env.hull_in(Some(&dir3), &["spec"], TIMEOUT).ok();
    assert!(dir3.join("config.json").exists());
}

#[test]
fn global_options_are_accepted() {
    let env = Env::new("globals");
    let b = env.bundle();
    b.args(&["true"]);
    let log = env.path("log");
    let l = log.to_str().unwrap();
    let root = env.root.to_str().unwrap().to_string();
    for g in [
        vec!["--debug".to_string()],
        vec!["--rootless=false".to_string()],
        vec!["--rootless".to_string(), "false".to_string()],
        vec![
            "--log".to_string(),
            l.to_string(),
            "--log-format".to_string(),
            "text".to_string(),
        ],
        vec![format!("--log={l}"), "--log-format=json".to_string()],
    ] {
        let id = env.id("g");
        let mut args: Vec<&str> = g.iter().map(|s| s.as_str()).collect();
        args.extend(["run", "--bundle", b.dir.to_str().unwrap(), &id]);
        let out = env.hull(&args);
        assert_eq!(out.code, 0, "{g:?}: {out:?}");
        env.assert_clean(&id, &b);
    }
    // `--root=DIR`.
    let id = env.id("eq");
    let mut c = std::process::Command::new(HULL);
    c.arg(format!("--root={root}"))
        .args(["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    env.run_cmd(c, "run", TIMEOUT).ok();
    env.assert_clean(&id, &b);
    // create/run options clients pass that change nothing here.
    let id = env.id("opts");
    env.hull(&[
        "run",
        "--no-new-keyring",
        "--no-subreaper",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ])
    .ok();
    env.assert_clean(&id, &b);
    // Unknown --log-format and a missing command are errors.
    env.hull(&["--log-format", "xml", "list"])
        .fails_with(1, &["xml"]);
    assert_eq!(env.hull(&[]).code, 1);
}

#[test]
fn closed_stdout_is_not_a_panic() {
    // `hull features | head -1`, `hull list | head`: a reader that goes away must not make
    // hull panic (exit 101 with a Rust backtrace on stderr).
    use std::os::fd::{FromRawFd, OwnedFd};
    let env = Env::new("epipe");
    for args in [vec!["features"], vec!["list"], vec!["--version"]] {
        let mut p = [0; 2];
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        drop(r); // nobody will ever read
        let err = env.path("stderr");
        let child = env
            .cmd()
            .args(&args)
            .stdout(std::process::Stdio::from(w))
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let st = wait_timeout(child, TIMEOUT, "hull with a closed stdout");
        let stderr = fs::read_to_string(&err).unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(status_code(st), 101, "{args:?}: {stderr}");
    }
}
