//! Running images through hull: config → bundle, verbs, volumes, logs, exec, tty, shared
//! layers, and cleanup. Root only (CI is root): containers need namespaces and mounts.
//! Every test removes its containers and mounts on drop, failed or not.

mod common;

use common::*;
use std::process::Output;

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
const GROUP: &[u8] = b"root:x:0:\napp:x:1000:\nextra:x:2000:app\n";

/// A dock root whose containers and mounts are removed on drop.
struct Env {
    d: Dock,
}

impl Env {
    fn new() -> Env {
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "running containers needs root (CI runs as root)"
        );
        Env { d: Dock::new() }
    }

    fn busybox(self) -> Env {
        self.d.ok(&["import-busybox"]);
        self
    }

    /// Run dock; returns (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out: Output = self.d.run(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Run a container and require exit 0; its stdout.
    fn out(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(
            code, 0,
            "dock {args:?}: exit {code}\nstdout: {out}\nstderr: {err}"
        );
        out
    }

    fn inspect(&self, c: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.d.ok(&["inspect", c])).unwrap();
        v[0].clone()
    }

    fn root(&self) -> &std::path::Path {
        self.d.root.path()
    }

    fn mounts_under_root(&self) -> Vec<String> {
        let root = self.root().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&root))
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.d.run(&["ps", "-a", "-q", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.d.run(&["rm", "-f", id]);
        }
        for m in self.mounts_under_root().iter().rev() {
            let c = std::ffi::CString::new(m.as_str()).unwrap();
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// An image with ENTRYPOINT, CMD, ENV, WORKDIR, USER and VOLUME set, in three layers.
fn app_image() -> TestImage {
    make_image_with(
        "amd64",
        vec![
            busybox_layer("app"),
            files_layer(&[("etc/passwd", PASSWD), ("etc/group", GROUP)]),
            files_layer(&[("work/hello", b"not executable"), ("home/app/.keep", b"")]),
        ],
        false,
        serde_json::json!({
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo default; exit 7"],
            "Env": ["PATH=/bin", "FOO=bar"],
            "WorkingDir": "/work",
            "User": "app",
            "Volumes": {"/data": {}},
        }),
    )
}

#[test]
fn pulled_image_config_overrides_and_exit_codes() {
    let reg = RegistryProc::start(RegistryAuth::None);
    upload(&reg.host, "test/app", "1", &app_image(), None);
    let e = Env::new();
    let img = format!("{}/test/app:1", reg.host);
    e.d.ok(&["pull", "-q", "--platform", "linux/amd64", &img]);

    // ENTRYPOINT + CMD, and the process's exit code.
    let (code, out, _) = e.run(&["run", "--rm", &img]);
    assert_eq!((code, out.as_str()), (7, "default\n"));

    // Env, cwd, user (resolved from the image's passwd and group), HOME.
    let out = e.out(&[
        "run",
        "--rm",
        &img,
        "echo $FOO $(pwd) $(id -u):$(id -g) $(id -G) $HOME",
    ]);
    assert_eq!(out, "bar /work 1000:1000 1000 2000 /home/app\n");

    // Overrides: -e, --env-file, -w, -u name and uid:gid.
    let envf = TempDir::new("envfile");
    let ef = envf.path().join("env");
    std::fs::write(&ef, "# comment\nFROMFILE=yes\nFOO=file\n").unwrap();
    let out = e.out(&[
        "run",
        "--rm",
        "--env-file",
        ef.to_str().unwrap(),
        "-e",
        "FOO=baz",
        "-w",
        "/tmp",
        "-u",
        "root",
        &img,
        "echo $FOO $FROMFILE $(pwd) $(id -u)",
    ]);
    assert_eq!(out, "baz yes /tmp 0\n");
    let out = e.out(&[
        "run",
        "--rm",
        "-u",
        "4242:55",
        &img,
        "echo $(id -u):$(id -g)",
    ]);
    assert_eq!(out, "4242:55\n");
    let (code, _, err) = e.run(&["run", "--rm", "-u", "nobody-here", &img]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("unable to find user nobody-here"), "{err}");

    // --entrypoint replaces ENTRYPOINT and drops CMD; args replace CMD.
    let out = e.out(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/busybox",
        &img,
        "echo",
        "a",
        "b",
    ]);
    assert_eq!(out, "a b\n");
    let out = e.out(&[
        "run",
        "--rm",
        "--entrypoint",
        "",
        &img,
        "busybox",
        "echo",
        "no-entry",
    ]);
    assert_eq!(out, "no-entry\n");

    // docker's exit codes for dock's own errors.
    let (code, _, err) = e.run(&["run", "--rm", "--entrypoint", "/bin/echo", &img]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("no such file or directory"), "{err}");
    let (code, _, err) = e.run(&["run", "--rm", "--entrypoint", "nosuch", &img]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    let (code, _, err) = e.run(&["run", "--rm", "--entrypoint", "/work/hello", &img]);
    assert_eq!(code, 126, "{err}");
    let (code, _, err) = e.run(&["run", "--name", "dup", &img]);
    assert_eq!(code, 7, "{err}");
    let (code, _, err) = e.run(&["run", "--name", "dup", &img]);
    assert_eq!(code, 125);
    assert!(err.contains("already in use"), "{err}");
    e.d.ok(&["rm", "dup"]);
    let (code, _, err) = e.run(&["run", "--rm", "--pull", "never", "busybox-not-here"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("no such image"), "{err}");

    // The image's VOLUME is a volume.
    let out = e.out(&["run", "--rm", "-u", "0", &img, "mount | grep -c ' /data '"]);
    assert_eq!(out, "1\n");
    // --rm left nothing behind.
    assert_eq!(e.d.ok(&["ps", "-a", "-q"]), "");
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
}

#[test]
fn volumes_survive_rm() {
    let e = Env::new().busybox();
    e.out(&[
        "run",
        "--name",
        "writer",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo persisted > /data/f",
    ]);
    e.d.ok(&["rm", "writer"]);
    let out = e.out(&[
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out, "persisted\n");
    assert!(e.root().join("volumes/keep/_data/f").is_file());

    // A host bind mount, and :ro.
    let host = TempDir::new("bind");
    std::fs::write(host.path().join("in"), "from host").unwrap();
    let spec = format!("{}:/h", host.path().display());
    let out = e.out(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "cat /h/in; echo x > /h/out",
    ]);
    assert_eq!(out, "from host");
    assert_eq!(
        std::fs::read_to_string(host.path().join("out")).unwrap(),
        "x\n"
    );
    let ro = format!("{spec}:ro");
    let (code, _, _) = e.run(&["run", "--rm", "-v", &ro, "busybox", "touch", "/h/no"]);
    assert_ne!(code, 0);
    assert!(!host.path().join("no").exists());
    // A volume destination with `..` is refused.
    let (code, _, err) = e.run(&["run", "--rm", "-v", "x:/a/../etc", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("`..`"), "{err}");
}

#[test]
fn detached_logs_exec_stop_rm() {
    let e = Env::new().busybox();
    let id = e.out(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-term; exit 3' TERM; echo started; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let ps = e.d.ok(&["ps"]);
    assert!(ps.contains("ticker") && ps.contains("Up"), "{ps}");
    let mut logs = String::new();
    for _ in 0..100 {
        logs = e.d.ok(&["logs", "ticker"]);
        if logs.contains("started") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(logs, "started\n");
    // exec joins the running container.
    let out = e.out(&[
        "exec",
        "ticker",
        "sh",
        "-c",
        "echo in-exec; cat /etc/hostname",
    ]);
    assert_eq!(out, format!("in-exec\n{}\n", &id[..12]));
    let (code, _, _) = e.run(&["exec", "ticker", "sh", "-c", "exit 4"]);
    assert_eq!(code, 4);
    let insp = e.inspect("ticker");
    assert_eq!(insp["State"]["Status"], "running");
    assert!(insp["State"]["Pid"].as_i64().unwrap() > 0);

    // logs -f runs until the container stops; stop sends SIGTERM first.
    let follow =
        e.d.cmd(&["logs", "-f", "ticker"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let t = std::time::Instant::now();
    e.d.ok(&["stop", "-t", "5", "ticker"]);
    assert!(t.elapsed().as_secs() < 5, "stop waited for the timeout");
    let follow = follow.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&follow.stdout),
        "started\ngot-term\n"
    );
    let insp = e.inspect("ticker");
    assert_eq!(insp["State"]["Status"], "exited");
    assert_eq!(insp["State"]["ExitCode"], 3);
    let ps = e.d.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (3)"), "{ps}");
    assert!(!e.d.ok(&["ps"]).contains("ticker"));

    // Start again, then rm -f a running container.
    e.d.ok(&["start", "ticker"]);
    assert_eq!(e.inspect("ticker")["State"]["Status"], "running");
    let (code, _, err) = e.run(&["rm", "ticker"]);
    assert_eq!(code, 1);
    assert!(err.contains("stop it first"), "{err}");
    e.d.ok(&["rm", "-f", "ticker"]);
    assert!(!e.root().join("containers").join(id).exists());
    assert!(e.mounts_under_root().is_empty());
    assert!(!e.root().join("hull").join(id).exists());

    // dock kill: the exit code is 128 + the signal.
    e.out(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "100"]);
    e.d.ok(&["kill", "sleeper"]);
    let mut st = serde_json::Value::Null;
    for _ in 0..100 {
        st = e.inspect("sleeper")["State"].clone();
        if st["Status"] == "exited" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(st["ExitCode"], 137, "{st}");
}

#[test]
fn tty_through_a_pty() {
    let e = Env::new().busybox();
    let out = e.out(&[
        "run",
        "--rm",
        "-t",
        "busybox",
        "sh",
        "-c",
        "tty; test -t 0 && test -t 1 && echo both-tty; echo $TERM",
    ]);
    // The pty turns \n into \r\n.
    assert_eq!(out, "/dev/pts/0\r\nboth-tty\r\nxterm\r\n");
    let out = e.out(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "test -t 1 || echo no-tty",
    ]);
    assert_eq!(out, "no-tty\n");
}

#[test]
fn containers_share_layer_dirs_and_rootfs_goes_with_rm() {
    let e = Env::new().busybox();
    let a = e.d.ok(&["create", "--name", "a", "busybox", "true"]);
    let b = e.d.ok(&["create", "--name", "b", "busybox", "true"]);
    let (a, b) = (a.trim(), b.trim());
    let la = e.inspect("a")["GraphDriver"]["Data"]["LowerDir"].clone();
    let lb = e.inspect("b")["GraphDriver"]["Data"]["LowerDir"].clone();
    assert_eq!(la, lb);
    assert!(la.as_str().unwrap().contains("/snapshots/sha256-"));
    // The kernel's view: both overlays have the same lowerdir.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let lower_of = |id: &str| -> String {
        mounts
            .lines()
            .find(|l| l.contains(&format!("{id}/bundle/rootfs")))
            .and_then(|l| l.split(',').find_map(|o| o.strip_prefix("lowerdir=")))
            .unwrap_or_else(|| panic!("no overlay for {id}"))
            .to_string()
    };
    assert_eq!(lower_of(a), lower_of(b));
    assert_eq!(lower_of(a), la.as_str().unwrap());
    // One snapshot for the one layer.
    assert_eq!(
        std::fs::read_dir(e.root().join("snapshots"))
            .unwrap()
            .count(),
        1
    );
    for id in [a, b] {
        e.d.ok(&["rm", id]);
        assert!(!e.root().join("containers").join(id).exists());
    }
    assert!(e.mounts_under_root().is_empty());
    let (code, _, _) = e.run(&["inspect", "a"]);
    assert_ne!(code, 0);
}

#[test]
fn whiteouts_apply_with_overlay_and_with_the_copy_fallback() {
    let reg = RegistryProc::start(RegistryAuth::None);
    let img = make_image_with(
        "amd64",
        vec![
            busybox_layer("wh"),
            files_layer(&[("etc/gone", b"x"), ("dir/old", b"o"), ("dir/kept", b"k")]),
            files_layer(&[
                ("etc/.wh.gone", b""),
                ("dir/.wh..wh..opq", b""),
                ("dir/new", b"n"),
            ]),
        ],
        false,
        serde_json::json!({"Cmd": ["sh", "-c", "ls /dir; test -e /etc/gone || echo gone"]}),
    );
    upload(&reg.host, "test/wh", "1", &img, None);
    let e = Env::new();
    let name = format!("{}/test/wh:1", reg.host);
    // Not in the store: `run` pulls it (docker's --pull missing).
    let (code, out, err) = e.run(&["run", "--rm", &name]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Unable to find image"), "{err}");
    assert_eq!(out, "new\ngone\n");
    let (code, _, err) = e.run(&["run", "--rm", "--pull", "never", "127.0.0.1:1/none:1"]);
    assert_eq!(code, 125);
    assert!(err.contains("no such image"), "{err}");
    let copy =
        e.d.cmd(&["run", "--rm", &name])
            .env("DOCK_STORAGE_DRIVER", "copy")
            .output()
            .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&copy.stdout), "new\ngone\n");
}

#[test]
fn docker_defaults_and_security_flags() {
    let e = Env::new().busybox();
    let status = |args: &[&str], field: &str| -> String {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        let cmd = format!("grep '^{field}:' /proc/self/status | cut -f2");
        a.extend_from_slice(&["busybox", "sh", "-c", &cmd]);
        e.out(&a).trim().to_string()
    };
    // docker's 14 default capabilities.
    assert_eq!(status(&[], "CapEff"), "00000000a80425fb");
    assert_eq!(status(&["--cap-drop", "ALL"], "CapEff"), "0000000000000000");
    assert_eq!(
        status(&["--cap-drop", "all", "--cap-add", "NET_ADMIN"], "CapEff"),
        "0000000000001000"
    );
    assert_eq!(
        status(&["--security-opt", "no-new-privileges"], "NoNewPrivs"),
        "1"
    );
    assert_eq!(status(&[], "NoNewPrivs"), "0");
    // docker's default seccomp profile, built in.
    assert_eq!(status(&[], "Seccomp"), "2");
    assert_eq!(
        status(&["--security-opt", "seccomp=unconfined"], "Seccomp"),
        "0"
    );
    assert_eq!(status(&["--privileged"], "Seccomp"), "0");

    // Masked paths, read-only rootfs, tmpfs, hostname and the /etc files.
    let out = e.out(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "wc -c < /proc/timer_list; touch /proc/sys/x 2>/dev/null || echo ro",
    ]);
    assert_eq!(out, "0\nro\n");
    let (code, _, _) = e.run(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_ne!(code, 0);
    let out = e.out(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        "touch /scratch/ok && echo tmpfs; hostname; cat /etc/hostname; grep -c box /etc/hosts",
    ]);
    assert_eq!(out, "tmpfs\nbox\nbox\n1\n");

    // Resources (cgroup v1 files inside the container's cgroup namespace).
    let out = e.out(&[
        "run", "--rm", "-m", "64m", "--pids-limit", "40", "--cpus", "0.5", "busybox", "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    ]);
    assert_eq!(out, "67108864\n40\n50000\n");

    // --network none: only lo, and it is up; host: the host's interfaces.
    let out = e.out(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net; ping -c1 -W2 127.0.0.1 >/dev/null && echo lo-up",
    ]);
    assert_eq!(out, "lo\nlo-up\n");
    let host_ifs = std::fs::read_dir("/sys/class/net").unwrap().count();
    let out = e.out(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net | wc -l",
    ]);
    assert_eq!(out.trim(), host_ifs.to_string());
}

#[test]
fn busybox_import_and_demo_command() {
    let e = Env::new().busybox();
    assert_eq!(
        e.out(&["run", "--rm", "busybox", "echo", "hello"]),
        "hello\n"
    );
    let images = e.d.ok(&["images"]);
    assert!(images.contains("busybox"), "{images}");
    assert_eq!(e.d.ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn image_stop_signal_and_exec_exit_codes() {
    let e = Env::new();
    let store = dock::store::Store::open(e.root()).unwrap();
    let tar = dock::import::busybox_tar(std::path::Path::new(dock::import::BUSYBOX)).unwrap();
    dock::import::store_image(
        &store,
        "docker.io/library/usr1:latest",
        &[tar],
        serde_json::json!({
            "StopSignal": "SIGUSR1",
            "Cmd": ["sh", "-c", "trap 'echo got-usr1; exit 9' USR1; while true; do sleep 0.1; done"],
        }),
    )
    .unwrap();
    e.out(&["run", "-d", "--name", "s", "usr1"]);
    let (code, _, err) = e.run(&["exec", "s", "nosuch"]);
    assert_eq!(code, 127, "{err}");
    let (code, _, err) = e.run(&["exec", "s", "/etc/passwd"]);
    assert_eq!(code, 126, "{err}");
    let out = e.out(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "A=1",
        "s",
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u)",
    ]);
    assert_eq!(out, "1 /tmp 65534\n");
    e.d.ok(&["stop", "-t", "10", "s"]);
    assert_eq!(e.inspect("s")["State"]["ExitCode"], 9);
    assert_eq!(e.d.ok(&["logs", "s"]), "got-usr1\n");
    let (code, _, err) = e.run(&["exec", "s", "true"]);
    assert_eq!(code, 125, "{err}");
}

#[test]
fn gc_keeps_snapshots_in_use_and_removes_the_rest() {
    let e = Env::new().busybox();
    e.d.ok(&["create", "--name", "user", "busybox", "true"]);
    let snaps = || {
        std::fs::read_dir(e.root().join("snapshots"))
            .unwrap()
            .count()
    };
    assert_eq!(snaps(), 1);
    std::fs::create_dir(e.root().join("snapshots/.tmp-dead-999999999-1")).unwrap();
    e.d.ok(&["rmi", "busybox"]);
    let out = e.d.ok(&["gc"]);
    assert!(out.contains("1 snapshots"), "{out}"); // only the dead unpacker's temp dir
    assert_eq!(snaps(), 1, "a container still uses the snapshot");
    e.d.ok(&["rm", "user"]);
    let out = e.d.ok(&["gc"]);
    assert!(out.contains("1 snapshots"), "{out}");
    assert_eq!(snaps(), 0);
}

#[test]
fn killed_monitor_stop_cleans_up_and_start_again() {
    let e = Env::new().busybox();
    let id = e.out(&["run", "-d", "--name", "orphan", "busybox", "sleep", "1000"]);
    let id = id.trim();
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(e.root().join("containers").join(id).join("record.json")).unwrap(),
    )
    .unwrap();
    let monitor = rec["monitor"][0].as_i64().unwrap() as i32;
    unsafe { libc::kill(monitor, libc::SIGKILL) };
    std::thread::sleep(std::time::Duration::from_millis(100));
    // Still running: its process lives on without the monitor.
    assert!(e.d.ok(&["ps"]).contains("orphan"));
    let t = std::time::Instant::now();
    e.d.ok(&["stop", "-t", "1", "orphan"]);
    assert!(t.elapsed().as_secs() < 5);
    assert_eq!(e.inspect("orphan")["State"]["Status"], "exited");
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
    assert!(!e.root().join("hull").join(id).exists());
    e.d.ok(&["start", "orphan"]);
    assert_eq!(e.out(&["exec", "orphan", "echo", "back"]), "back\n");
    e.d.ok(&["rm", "-f", "orphan"]);
    assert!(e.mounts_under_root().is_empty());
}

#[test]
fn parallel_first_runs_share_one_snapshot() {
    let e = Env::new().busybox();
    // No snapshot yet: four runs race to unpack the layer; each unpacks into its own temp dir
    // and one rename wins.
    let kids: Vec<_> = (0..4)
        .map(|i| {
            e.d.cmd(&["run", "--rm", "busybox", "echo", &format!("run{i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, k) in kids.into_iter().enumerate() {
        let out = k.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("run{i}\n"));
    }
    let names: Vec<String> = std::fs::read_dir(e.root().join("snapshots"))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("sha256-"), "{names:?}");
    assert_eq!(e.d.ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn foreground_output_is_logged_and_signals_are_forwarded() {
    let e = Env::new().busybox();
    let (code, out, err) = e.run(&[
        "run",
        "--name",
        "fg",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; test -t 1 || echo stdout-is-a-pipe; exit 3",
    ]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(out, "out\nstdout-is-a-pipe\n");
    assert_eq!(err, "err\n");
    // The log keeps the streams apart.
    let (code, out, err) = e.run(&["logs", "fg"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "out\nstdout-is-a-pipe\n");
    assert_eq!(err, "err\n");
    e.d.ok(&["rm", "fg"]);

    // SIGINT to dock reaches the container's process, whose exit code dock returns.
    let mut child =
        e.d.cmd(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-int; exit 4' INT; echo ready; while true; do sleep 0.1; done",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    use std::io::Read;
    stdout.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    unsafe { libc::kill(pid, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "got-int\n");
    assert_eq!(child.wait().unwrap().code(), Some(4));
}

/// A static probe that makes raw syscalls and prints their errno names (busybox has no
/// keyctl applet and its applets print their own wording). Built with the host's C compiler
/// (the one Rust links with) and glibc's libc.a. integration/lib/podman.sh runs it too.
fn syscall_probe(dir: &std::path::Path) -> std::path::PathBuf {
    let src = dir.join("probe.c");
    std::fs::write(&src, include_str!("syscall_probe.c")).unwrap();
    let bin = dir.join("probe");
    let out = std::process::Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("cc (the C compiler Rust links with) is needed to build the syscall probe");
    assert!(
        out.status.success(),
        "cc -static probe.c (needs libc6-dev): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

#[test]
fn default_seccomp_denies_with_eperm_as_docker() {
    let e = Env::new().busybox();
    let tmp = TempDir::new("probe");
    syscall_probe(tmp.path());
    // Through sh: dock checks the command in the image's rootfs, before volumes are mounted.
    let vol = format!("{}:/p:ro", tmp.path().display());
    // docker's default profile: EPERM for what it denies; clone3 ENOSYS (libc falls back to
    // clone, whose flags the filter can check).
    let out = e.out(&["run", "--rm", "-v", &vol, "busybox", "sh", "-c", "/p/probe"]);
    assert_eq!(
        out,
        "unshare=EPERM\nmount=EPERM\nkeyctl=EPERM\nclone3=ENOSYS\nbpf=EPERM\n\
         kexec_load=EPERM\nadd_key=EPERM\n"
    );
    // CAP_SYS_ADMIN opens mount/unshare/clone3 in the filter (the kernel then decides).
    let out = e.out(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "/p/probe",
    ]);
    assert!(out.starts_with("unshare=ok\n"), "{out}");
    assert!(!out.contains("clone3=ENOSYS"), "{out}");
    // Unconfined: the kernel's own answers (keyctl with a bad command is EINVAL/EOPNOTSUPP).
    let out = e.out(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "/p/probe",
    ]);
    assert!(!out.contains("keyctl=EPERM"), "{out}");
    // add_key with null pointers: the kernel's answer is EFAULT, so the filters above (and
    // ENOSYS under podman's profile below) are what answered, not a kernel without keyrings.
    assert!(out.contains("add_key=EFAULT"), "{out}");
}

/// podman's default profile, containers-common's file, loaded as `--security-opt seccomp=`.
const PODMAN_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// What the file says about `name`, as (action, errnoRet, conditional) for each rule naming
/// it: read from the JSON itself, not through dock's converter under test.
fn profile_rules(p: &serde_json::Value, name: &str) -> Vec<(String, Option<u64>, bool)> {
    p["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["errnoRet"].as_u64(),
                r["includes"].as_object().is_some_and(|o| !o.is_empty())
                    || r["args"].as_array().is_some_and(|a| !a.is_empty()),
            )
        })
        .collect()
}

#[test]
fn podman_default_seccomp_profile_loads_and_behaves() {
    let text = std::fs::read_to_string(PODMAN_PROFILE).unwrap_or_else(|e| {
        panic!(
            "{PODMAN_PROFILE}: {e}: install the Debian package `golang-github-containers-common` \
             (listed in .ci/packages; `apt-get install golang-github-containers-common`)"
        )
    });
    let p: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The expectations below follow from these lines of the profile; if a new version of the
    // package changes them, this says which.
    assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO", "{PODMAN_PROFILE}");
    assert_eq!(p["defaultErrnoRet"], 38, "{PODMAN_PROFILE}: default ENOSYS");
    let allow = ("SCMP_ACT_ALLOW".to_string(), None, false);
    let eperm = ("SCMP_ACT_ERRNO".to_string(), Some(1), false);
    for name in ["unshare", "mount", "keyctl", "clone3"] {
        assert!(
            profile_rules(&p, name).contains(&allow),
            "{PODMAN_PROFILE}: {name} no longer allowed unconditionally: {:?}",
            profile_rules(&p, name)
        );
    }
    // bpf: EPERM unless CAP_SYS_ADMIN (an `excludes`); kexec_load: EPERM always.
    for name in ["bpf", "kexec_load"] {
        assert!(
            profile_rules(&p, name).contains(&eperm),
            "{PODMAN_PROFILE}: {name} no longer EPERM: {:?}",
            profile_rules(&p, name)
        );
    }
    assert_eq!(
        profile_rules(&p, "add_key"),
        vec![],
        "{PODMAN_PROFILE}: add_key is now listed"
    );

    let e = Env::new().busybox();
    let tmp = TempDir::new("probe");
    syscall_probe(tmp.path());
    let vol = format!("{}:/p:ro", tmp.path().display());
    let opt = format!("seccomp={PODMAN_PROFILE}");
    let run = |cmd: &str| {
        e.out(&[
            "run",
            "--rm",
            "--security-opt",
            &opt,
            "-v",
            &vol,
            "busybox",
            "sh",
            "-c",
            cmd,
        ])
    };
    // unshare, mount: allowed by the profile, EPERM from the kernel (no CAP_SYS_ADMIN);
    // keyctl, clone3: allowed, the kernel's answers to the probe's arguments (no thread
    // keyring; no clone_args); bpf, kexec_load: the profile's EPERM; add_key: not listed,
    // the profile's default ENOSYS.
    assert_eq!(
        run("/p/probe"),
        "unshare=EPERM\nmount=EPERM\nkeyctl=ENOKEY\nclone3=EINVAL\nbpf=EPERM\n\
         kexec_load=EPERM\nadd_key=ENOSYS\n"
    );
    // Ordinary programs run: a shell pipeline, ls, fork/exec, files, under the filter.
    let out = run(
        "ls / | grep -x bin; echo hi > /tmp/f && cat /tmp/f; sh -c 'exit 3'; echo $?; \
         grep Seccomp: /proc/self/status | tr -s '\t ' ' '",
    );
    assert_eq!(out, "bin\nhi\n3\nSeccomp: 2\n");
    // With CAP_SYS_ADMIN the profile's bpf rule allows it: the kernel answers instead.
    let out = e.out(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        &opt,
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "/p/probe",
    ]);
    assert!(out.starts_with("unshare=ok\n"), "{out}");
    assert!(out.contains("\nbpf=EINVAL\n"), "{out}");
    assert!(out.ends_with("add_key=ENOSYS\n"), "{out}");
}

#[test]
fn privileged_gets_host_devices_and_no_confinement() {
    let e = Env::new().busybox();
    let check =
        "for d in /dev/kmsg /dev/loop0 /dev/null; do test -c $d -o -b $d && echo $d; done; \
                 test -e /dev/console && echo console-node; \
                 grep -E '^(Seccomp|CapEff):' /proc/self/status | tr -s '\t ' ' '; \
                 grep ' /sys ' /proc/self/mounts | grep -q '[ ,]ro[ ,]' && echo sys-ro; \
                 wc -c < /proc/timer_list";
    let host_loop0 = std::path::Path::new("/dev/loop0").exists();
    let out = e.out(&["run", "--rm", "--privileged", "busybox", "sh", "-c", check]);
    let mut want = String::from("/dev/kmsg\n");
    if host_loop0 {
        want.push_str("/dev/loop0\n");
    }
    want.push_str("/dev/null\n");
    assert!(out.starts_with(&want), "{out}");
    assert!(!out.contains("console-node"), "{out}");
    assert!(out.contains("Seccomp: 0"), "{out}");
    assert!(!out.contains("CapEff: 00000000a80425fb"), "{out}");
    assert!(!out.contains("sys-ro"), "{out}");
    // The device cgroup lets the container use them: read a record from the kernel log.
    let out = e.out(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/kmsg bs=8192 count=1 2>/dev/null | grep -c ';'",
    ]);
    assert_eq!(out, "1\n");
    // Not privileged: only the default devices, /sys read-only, masked paths.
    let out = e.out(&["run", "--rm", "busybox", "sh", "-c", check]);
    assert!(
        out.starts_with("/dev/null\nCapEff: 00000000a80425fb\nSeccomp: 2\n"),
        "{out}"
    );
    assert!(out.contains("sys-ro"), "{out}");
    assert!(out.ends_with("0\n"), "{out}");
}

/// Wait until `dock logs` of `c` has `n` lines (stdout and stderr together).
fn wait_log_lines(e: &Env, c: &str, n: usize) {
    for _ in 0..200 {
        let (_, out, err) = e.run(&["logs", c]);
        if out.lines().count() + err.lines().count() >= n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("{c}: fewer than {n} log lines");
}

#[test]
fn logs_keep_stdout_and_stderr_apart() {
    let e = Env::new().busybox();
    e.out(&[
        "run",
        "-d",
        "--name",
        "two",
        "busybox",
        "sh",
        "-c",
        "echo o1; echo e1 >&2; echo o2; printf 'no-newline'; sleep 100",
    ]);
    wait_log_lines(&e, "two", 3);
    let (code, out, err) = e.run(&["logs", "two"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!((out.as_str(), err.as_str()), ("o1\no2\n", "e1\n"));
    // The file is docker's json-file format.
    let id = e.inspect("two")["Id"].as_str().unwrap().to_string();
    let raw = std::fs::read_to_string(e.root().join("containers").join(&id).join("container.log"))
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    assert_eq!(first["log"], "o1\n");
    assert_eq!(first["stream"], "stdout");
    assert!(first["time"].as_str().unwrap().ends_with('Z'), "{first}");
    // --tail and -t.
    let (_, out, err) = e.run(&["logs", "--tail", "1", "-t", "two"]);
    let all = format!("{out}{err}");
    assert_eq!(all.lines().count(), 1, "{all}");
    let (time, line) = all.trim_end().split_once(' ').unwrap();
    assert!(time.starts_with("20") && time.ends_with('Z'), "{all}");
    assert!(line == "o2" || line == "e1", "{all}");
    // The unterminated last line arrives when the stream ends; -f follows to the end.
    let follow =
        e.d.cmd(&["logs", "-f", "two"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    e.d.ok(&["kill", "two"]);
    let follow = follow.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&follow.stdout),
        "o1\no2\nno-newline"
    );
    assert_eq!(String::from_utf8_lossy(&follow.stderr), "e1\n");
}

#[test]
fn run_detached_interactive_then_attach() {
    use std::io::{BufRead, Write};
    let e = Env::new().busybox();
    let script = "while read l; do echo \"echo:$l\"; echo \"err:$l\" >&2; \
                  [ \"$l\" = quit ] && exit 5; done; exit 6";
    e.out(&[
        "run", "-d", "-i", "--name", "ia", "busybox", "sh", "-c", script,
    ]);
    // A first client sends a line and leaves: the container's stdin stays open (docker's
    // monitor holds it for -d -i).
    let mut a =
        e.d.cmd(&["attach", "ia"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    a.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(a.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "echo:hello\n");
    unsafe { libc::kill(a.id() as i32, libc::SIGKILL) };
    a.wait().unwrap();
    assert_eq!(e.inspect("ia")["State"]["Status"], "running");
    // A second one ends it and gets its output and exit code.
    let mut b =
        e.d.cmd(&["attach", "ia"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    b.stdin.take().unwrap().write_all(b"again\nquit\n").unwrap();
    let b = b.wait_with_output().unwrap();
    assert_eq!(b.status.code(), Some(5));
    assert_eq!(
        String::from_utf8_lossy(&b.stdout),
        "echo:again\necho:quit\n"
    );
    assert_eq!(String::from_utf8_lossy(&b.stderr), "err:again\nerr:quit\n");
    let (_, out, err) = e.run(&["logs", "ia"]);
    assert_eq!(out, "echo:hello\necho:again\necho:quit\n");
    assert_eq!(err, "err:hello\nerr:again\nerr:quit\n");
    assert_eq!(e.inspect("ia")["State"]["ExitCode"], 5);
    // Nothing to attach to any more; the monitor and its socket are gone.
    let (code, _, err) = e.run(&["attach", "ia"]);
    assert_eq!(code, 1);
    assert!(err.contains("not running"), "{err}");
    let id = e.inspect("ia")["Id"].as_str().unwrap().to_string();
    assert!(!e
        .root()
        .join("containers")
        .join(id)
        .join("attach.sock")
        .exists());

    // With -t the input goes through the pty (echoed, \r\n line ends).
    e.out(&[
        "run",
        "-d",
        "-i",
        "-t",
        "--name",
        "it",
        "busybox",
        "sh",
        "-c",
        "read x; echo \"got $x\"; exit 2",
    ]);
    let mut t =
        e.d.cmd(&["attach", "it"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let mut tin = t.stdin.take().unwrap();
    tin.write_all(b"hi\n").unwrap();
    let t = t.wait_with_output().unwrap();
    drop(tin);
    assert_eq!(t.status.code(), Some(2));
    let tout = String::from_utf8_lossy(&t.stdout);
    assert!(tout.ends_with("got hi\r\n"), "{tout:?}");
}

#[test]
fn start_attached_with_and_without_stdin() {
    use std::io::Write;
    let e = Env::new().busybox();
    // start -a: both streams, the exit code, nothing of our stdin.
    e.d.ok(&[
        "create",
        "--name",
        "sa",
        "busybox",
        "sh",
        "-c",
        "echo o; echo e >&2; exit 4",
    ]);
    let (code, out, err) = e.run(&["start", "-a", "sa"]);
    assert_eq!((code, out.as_str(), err.as_str()), (4, "o\n", "e\n"));
    assert_eq!(e.inspect("sa")["State"]["Status"], "exited");
    // Again: a stopped container starts and attaches again.
    let (code, out, _) = e.run(&["start", "-a", "sa"]);
    assert_eq!((code, out.as_str()), (4, "o\n"));

    // create -i + start -a -i: our stdin is the container's, closed when ours ends.
    e.d.ok(&[
        "create",
        "-i",
        "--name",
        "si",
        "busybox",
        "sh",
        "-c",
        "cat; echo done; exit 3",
    ]);
    let mut c =
        e.d.cmd(&["start", "-a", "-i", "si"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    c.stdin.take().unwrap().write_all(b"abc\ndef\n").unwrap();
    let c = c.wait_with_output().unwrap();
    assert_eq!(c.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&c.stdout), "abc\ndef\ndone\n");

    // --rm with start -a: the exit code still arrives, and the container is gone.
    e.d.ok(&[
        "create", "--rm", "--name", "gone", "busybox", "sh", "-c", "exit 9",
    ]);
    let (code, _, err) = e.run(&["start", "-a", "gone"]);
    assert_eq!(code, 9, "{err}");
    assert!(!e.d.ok(&["ps", "-a"]).contains("gone"));
    // A command that cannot start: docker's codes, nothing left running or mounted.
    e.d.ok(&["create", "--name", "bad", "busybox", "nosuch"]);
    let (code, _, err) = e.run(&["start", "-a", "bad"]);
    assert_eq!(code, 127, "{err}");
    let (code, _, err) = e.run(&["start", "-a", "sa", "si"]);
    assert_eq!(code, 1);
    assert!(err.contains("one container"), "{err}");
    for c in ["sa", "si", "bad"] {
        e.d.ok(&["rm", c]);
    }
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
}
