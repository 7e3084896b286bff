//! AppArmor and SELinux on a host that has neither (this machine): a profile or label asked
//! for is a clear error naming it, exit 1 (255 for exec, as runc), nothing left behind; what
//! the host gives anyway (`unconfined`, a mount label with no SELinux) runs. The confinement
//! itself is tested in the VM guest (integration/vm, Debian's kernel with AppArmor).

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::path::Path;

fn apparmor_on_host() -> bool {
    fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'))
        && Path::new("/sys/kernel/security/apparmor").is_dir()
}

fn selinux_on_host() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// create and run of `b` fail with exit 1 naming every needle; nothing is left.
#[track_caller]
fn refused(env: &Env, b: &Bundle, needles: &[&str]) {
    let id = env.id("c");
    let pid_file = env.path("pid");
    env.hull(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ])
    .fails_with(1, needles);
    assert!(!pid_file.exists(), "no pid file after a refused create");
    env.hull(&["state", &id]).fails_with(1, &["does not exist"]);
    env.assert_clean(&id, b);
    let id = env.id("r");
    env.run(b, &id).fails_with(1, needles);
    env.assert_clean(&id, b);
    let list = env.hull(&["list", "-q"]);
    list.ok();
    assert_eq!(list.stdout, "", "nothing listed after refusals");
}

#[test]
fn apparmor_profile_without_apparmor_is_refused() {
    if apparmor_on_host() {
        eprintln!("skipped: this host has AppArmor enabled (the VM test covers it)");
        return;
    }
    let env = Env::new("aaoff");
    let b = env.bundle();
    b.edit(|c| c["process"]["apparmorProfile"] = json!("hull-test-profile"));
    refused(
        &env,
        &b,
        &[
            "process.apparmorProfile",
            "\"hull-test-profile\"",
            "AppArmor is not enabled on this host",
        ],
    );
}

#[test]
fn selinux_label_without_selinux_is_refused() {
    if selinux_on_host() {
        eprintln!("skipped: this host has SELinux enabled");
        return;
    }
    let env = Env::new("seoff");
    let b = env.bundle();
    let label = "system_u:system_r:container_t:s0:c1,c2";
    b.edit(|c| c["process"]["selinuxLabel"] = json!(label));
    refused(
        &env,
        &b,
        &[
            "process.selinuxLabel",
            label,
            "SELinux is not enabled on this host",
        ],
    );
}

#[test]
fn what_the_host_gives_anyway_runs() {
    if apparmor_on_host() || selinux_on_host() {
        eprintln!("skipped: this host has an LSM enabled");
        return;
    }
    let env = Env::new("lsmnoop");
    let b = env.bundle();
    // `unconfined` is what every process here is; a mount label labels nothing without
    // SELinux (runc ignores it too).
    b.edit(|c| {
        c["process"]["apparmorProfile"] = json!("unconfined");
        c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    })
    .args(&["echo", "ran"]);
    let id = env.id("ok");
    let out = env.run(&b, &id);
    out.ok();
    assert_eq!(out.stdout.trim(), "ran");
    env.assert_clean(&id, &b);
}

#[test]
fn exec_with_a_profile_or_label_is_refused() {
    if apparmor_on_host() || selinux_on_host() {
        eprintln!("skipped: this host has an LSM enabled");
        return;
    }
    let env = Env::new("lsmexec");
    let b = env.bundle();
    b.args(&["sleep", "30"]);
    let id = env.id("x");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let pf = env.path("process.json");
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec!["--apparmor".into(), "hull-test-profile".into()],
            vec![
                "--apparmor",
                "\"hull-test-profile\"",
                "AppArmor is not enabled",
            ],
        ),
        (
            vec![
                "--process-label".into(),
                "system_u:system_r:container_t:s0".into(),
            ],
            vec!["--process-label", "SELinux is not enabled"],
        ),
        (
            {
                fs::write(
                    &pf,
                    json!({"args": ["true"], "cwd": "/", "apparmorProfile": "from-file"})
                        .to_string(),
                )
                .unwrap();
                vec!["--process".into(), pf.to_str().unwrap().into()]
            },
            vec![
                "process.apparmorProfile",
                "\"from-file\"",
                "AppArmor is not enabled",
            ],
        ),
    ];
    for (flags, needles) in cases {
        let mut args: Vec<&str> = vec!["exec"];
        args.extend(flags.iter().map(String::as_str));
        args.push(&id);
        if !flags.iter().any(|f| f == "--process") {
            args.push("true");
        }
        env.hull(&args).fails_with(255, &needles);
        // Nothing was started: the container runs only its own sleep.
        let pid = env.state(&id)["pid"].as_i64().unwrap();
        let children =
            fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        assert_eq!(children.trim(), "", "no process started by a refused exec");
        assert!(
            processes_of(&env.root, &id).is_empty(),
            "{:?}",
            processes_of(&env.root, &id)
        );
    }
    // An unconfined exec is fine.
    env.hull(&["exec", "--apparmor", "unconfined", &id, "true"])
        .ok();
    env.hull(&["delete", "--force", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn features_say_the_lsms_are_supported() {
    let out = std::process::Command::new(HULL)
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success());
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // runtime-spec: support in the runtime, not the host's state.
    assert_eq!(f["linux"]["apparmor"]["enabled"], json!(true));
    assert_eq!(f["linux"]["selinux"]["enabled"], json!(true));
}
