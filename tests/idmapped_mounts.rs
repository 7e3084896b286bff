//! Idmapped bind mounts (`mounts[].uidMappings`/`gidMappings`, options `idmap`/`ridmap`): the
//! ids seen inside, the ids written to the host, recursion into submounts, read-only, and every
//! refusal, each with a clear message and nothing left behind.
//!
//! The host directories live under /tmp (ext4 here) and the submount is a tmpfs: both support
//! idmapped mounts on this kernel (tmpfs since 6.3). sysfs does not, which the error case uses.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::{Path, PathBuf};

/// Host uid/gid 1000 shows as 0 in a container without a user namespace: a mount maps the
/// source's ids (containerID) to the ids the container sees (hostID), as runc 1.2 does.
fn to_root() -> Value {
    json!([{"containerID": 1000, "hostID": 0, "size": 1}])
}

/// A host directory holding `f`, both owned by 1000:1000.
fn owned_dir(env: &Env, name: &str) -> PathBuf {
    let d = env.path(name);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("f"), "from host").unwrap();
    chown(&d, Some(1000), Some(1000)).unwrap();
    chown(d.join("f"), Some(1000), Some(1000)).unwrap();
    d
}

fn add_mount(b: &Bundle, m: Value) {
    b.edit(|c| c["mounts"].as_array_mut().unwrap().push(m));
}

fn owner(p: &Path) -> String {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    format!("{}:{}", m.uid(), m.gid())
}

/// Run the bundle in the foreground; require exit 0 and a clean host; return stdout.
#[track_caller]
fn run_ok(env: &Env, b: &Bundle, script: &str) -> String {
    b.script(script);
    let id = env.id("c");
    let out = env.run(b, &id);
    out.ok();
    env.assert_clean(&id, b);
    out.stdout
}

/// Mounts in the host's mount table whose root or mountpoint is `src`: an idmapped tree that
/// leaked out of a failed create would show here.
fn host_mounts_of_source(src: &Path) -> Vec<String> {
    let s = src.to_string_lossy().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() > 4 && (f[3].starts_with(&s) || f[4].starts_with(&s))
        })
        .map(String::from)
        .collect()
}

/// create and run of `b` both fail with exit 1 naming every needle; nothing is left behind:
/// no state dir, cgroup, process (the user namespace helper is a clone of hull and would be
/// found by its command line), mount of the rootfs, or mount of `src` on the host.
#[track_caller]
fn fails(env: &Env, b: &Bundle, src: Option<&Path>, needles: &[&str]) {
    for cmd in ["create", "run"] {
        let id = env.id("bad");
        env.hull(&[cmd, "--bundle", b.dir.to_str().unwrap(), &id])
            .fails_with(1, needles);
        env.assert_clean(&id, b);
        if let Some(s) = src {
            assert_eq!(host_mounts_of_source(s), Vec::<String>::new(), "{cmd}");
        }
    }
}

#[test]
fn host_owner_shows_as_root_and_new_files_get_the_host_id() {
    let env = Env::new("idmap_basic");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    add_mount(
        &b,
        json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind"],
            "uidMappings": to_root(), "gidMappings": to_root()}),
    );
    let out = run_ok(
        &env,
        &b,
        "echo dir=$(stat -c %u:%g /m); echo file=$(stat -c %u:%g /m/f); \
         echo hello > /m/new; mkdir /m/newdir; echo new=$(stat -c %u:%g /m/new); \
         echo opts=$(grep ' /m ' /proc/self/mountinfo | cut -d' ' -f6)",
    );
    let v = kv(&out);
    assert_eq!(v["dir"], "0:0", "{out}");
    assert_eq!(v["file"], "0:0", "{out}");
    assert_eq!(v["new"], "0:0", "{out}");
    assert!(v["opts"].contains("idmapped"), "mount options: {out}");
    // Container root wrote through the mapping: on disk it is 1000.
    assert_eq!(owner(&src.join("new")), "1000:1000");
    assert_eq!(owner(&src.join("newdir")), "1000:1000");
    assert_eq!(fs::read_to_string(src.join("new")).unwrap(), "hello\n");
    // The source itself is untouched and shows the host's ids on the host.
    assert_eq!(owner(&src.join("f")), "1000:1000");
    assert_eq!(host_mounts_of_source(&src), Vec::<String>::new());
}

#[test]
fn without_mapping_the_same_bind_shows_host_ids() {
    // The control for the test above: if idmap were ignored, this is what the container sees.
    let env = Env::new("idmap_control");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    add_mount(
        &b,
        json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind"]}),
    );
    let out = run_ok(&env, &b, "echo file=$(stat -c %u:%g /m/f)");
    assert_eq!(kv(&out)["file"], "1000:1000", "{out}");
}

#[test]
fn inside_a_user_namespace() {
    // Container root is host 100000. A mount mapping host 1000 to 100000 shows 1000's files
    // as the container's root, and `idmap` without mappings takes the container's own map
    // (source 0 -> 100000, i.e. the host's root shows as the container's root).
    let env = Env::new("idmap_userns");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    let rootsrc = env.path("rootsrc");
    fs::create_dir_all(&rootsrc).unwrap();
    fs::write(rootsrc.join("g"), "root's").unwrap();
    // Container root (host 100000) cannot mkdir in the root-owned rootfs: the mount points
    // exist beforehand, as they would in an image.
    fs::create_dir_all(b.rootfs().join("m")).unwrap();
    fs::create_dir_all(b.rootfs().join("own")).unwrap();
    let userns_map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let m = json!([{"containerID": 1000, "hostID": 100000, "size": 1}]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = userns_map.clone();
        c["linux"]["gidMappings"] = userns_map.clone();
    });
    add_mount(
        &b,
        json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind"],
            "uidMappings": m, "gidMappings": m}),
    );
    add_mount(
        &b,
        json!({"destination": "/own", "type": "bind", "source": rootsrc, "options": ["bind", "idmap"]}),
    );
    // Read-only applied by init, inside the user namespace, on the tree the parent mapped.
    fs::create_dir_all(b.rootfs().join("ro")).unwrap();
    add_mount(
        &b,
        json!({"destination": "/ro", "type": "bind", "source": rootsrc, "options": ["bind", "ro", "idmap"]}),
    );
    let out = run_ok(
        &env,
        &b,
        "echo map=$(cat /proc/self/uid_map); echo file=$(stat -c %u:%g /m/f); \
         touch /m/new; echo new=$(stat -c %u:%g /m/new); echo own=$(stat -c %u:%g /own/g); \
         touch /own/made; echo ro=$(stat -c %u:%g /ro/g); \
         if touch /ro/x 2>/dev/null; then echo rowrite=ok; else echo rowrite=refused; fi",
    );
    let v = kv(&out);
    assert_eq!(
        v["map"].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"],
        "{out}"
    );
    assert_eq!(v["file"], "0:0", "{out}");
    assert_eq!(v["new"], "0:0", "{out}");
    assert_eq!(v["own"], "0:0", "{out}");
    assert_eq!(owner(&src.join("new")), "1000:1000");
    assert_eq!(owner(&rootsrc.join("made")), "0:0");
    assert_eq!(v["ro"], "0:0", "{out}");
    assert_eq!(v["rowrite"], "refused", "{out}");
    assert!(!rootsrc.join("x").exists());
}

#[test]
fn ridmap_maps_submounts_idmap_does_not() {
    let env = Env::new("idmap_recursive");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    let sub = src.join("sub");
    fs::create_dir_all(&sub).unwrap();
    nix::mount::mount(
        Some("hull-idmap-sub"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .expect("mount a tmpfs under the source");
    env.host_mount(&sub);
    fs::write(sub.join("g"), "in the submount").unwrap();
    chown(sub.join("g"), Some(1000), Some(1000)).unwrap();
    for (dest, opts) in [
        ("/r", json!(["rbind", "ridmap"])),
        ("/i", json!(["rbind", "idmap"])),
    ] {
        add_mount(
            &b,
            json!({"destination": dest, "type": "bind", "source": src, "options": opts,
                "uidMappings": to_root(), "gidMappings": to_root()}),
        );
    }
    let out = run_ok(
        &env,
        &b,
        "for d in r i; do echo $d.top=$(stat -c %u:%g /$d/f); echo $d.sub=$(stat -c %u:%g /$d/sub/g); \
         echo $d.content=$(cat /$d/sub/g | tr ' ' _); done",
    );
    let v = kv(&out);
    assert_eq!(v["r.top"], "0:0", "{out}");
    assert_eq!(v["r.sub"], "0:0", "ridmap maps the submount: {out}");
    assert_eq!(v["i.top"], "0:0", "{out}");
    assert_eq!(
        v["i.sub"], "1000:1000",
        "idmap leaves the submount unmapped: {out}"
    );
    assert_eq!(
        v["i.content"], "in_the_submount",
        "rbind kept the submount: {out}"
    );
}

#[test]
fn read_only_idmapped_mount() {
    let env = Env::new("idmap_ro");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    add_mount(
        &b,
        json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind", "ro", "idmap"],
            "uidMappings": to_root(), "gidMappings": to_root()}),
    );
    let out = run_ok(
        &env,
        &b,
        "echo file=$(stat -c %u:%g /m/f); if touch /m/x 2>/dev/null; then echo write=ok; \
         else echo write=refused; fi; echo opts=$(grep ' /m ' /proc/self/mountinfo | cut -d' ' -f6)",
    );
    let v = kv(&out);
    assert_eq!(v["file"], "0:0", "{out}");
    assert_eq!(v["write"], "refused", "{out}");
    let opts: Vec<&str> = v["opts"].split(',').collect();
    assert!(opts.contains(&"ro") && opts.contains(&"idmapped"), "{out}");
    assert!(!src.join("x").exists());
}

#[test]
fn mappings_on_a_non_bind_mount_are_refused() {
    let env = Env::new("idmap_nonbind");
    let b = env.bundle();
    add_mount(
        &b,
        json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs",
            "uidMappings": to_root(), "gidMappings": to_root()}),
    );
    fails(
        &env,
        &b,
        None,
        &["mounts[", "(/t)", "need a bind mount", "tmpfs"],
    );
}

#[test]
fn bad_mappings_are_refused_naming_the_field() {
    let env = Env::new("idmap_badmaps");
    let src = owned_dir(&env, "src");
    let cases: Vec<(Value, Value, Vec<&str>)> = vec![
        (json!([]), to_root(), vec!["uidMappings: is empty"]),
        (
            to_root(),
            json!([{"containerID": 0, "hostID": 0, "size": 10},
                   {"containerID": 5, "hostID": 100, "size": 10}]),
            vec!["gidMappings", "overlap in containerID"],
        ),
        (
            json!([{"containerID": 0, "hostID": 0, "size": 0}]),
            to_root(),
            vec!["uidMappings", "size 0"],
        ),
        (
            json!([{"containerID": 4294967290u32, "hostID": 0, "size": 100}]),
            to_root(),
            vec!["uidMappings", "runs past"],
        ),
        (to_root(), Value::Null, vec!["must both be given"]),
    ];
    for (uids, gids, needles) in cases {
        let b = env.bundle();
        let mut m = json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind"],
            "uidMappings": uids});
        if !gids.is_null() {
            m["gidMappings"] = gids;
        }
        add_mount(&b, m);
        let mut needles = needles;
        needles.push("config.json");
        fails(&env, &b, Some(&src), &needles);
    }
}

#[test]
fn idmap_option_without_mappings_or_user_namespace_is_refused() {
    let env = Env::new("idmap_nomaps");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    add_mount(
        &b,
        json!({"destination": "/m", "type": "bind", "source": src, "options": ["rbind", "ridmap"]}),
    );
    fails(
        &env,
        &b,
        Some(&src),
        &["(/m)", "without uidMappings/gidMappings", "user namespace"],
    );
}

#[test]
fn source_filesystem_without_idmap_support_is_named() {
    // sysfs has no FS_ALLOW_IDMAP: mount_setattr says EINVAL.
    let env = Env::new("idmap_sysfs");
    let b = env.bundle();
    add_mount(
        &b,
        json!({"destination": "/hostsys", "type": "bind", "source": "/sys", "options": ["bind", "ro"],
            "uidMappings": to_root(), "gidMappings": to_root()}),
    );
    fails(
        &env,
        &b,
        None,
        &[
            "/sys",
            "sysfs",
            "does not support idmapped mounts",
            "mounts[",
        ],
    );
}

#[test]
fn failure_after_the_trees_are_made_leaves_nothing() {
    // The idmapped tree exists (made by the parent, inherited by init) when a later mount
    // fails inside init: the tree must vanish with the fds, and no helper process remain.
    let env = Env::new("idmap_latefail");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    add_mount(
        &b,
        json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind"],
            "uidMappings": to_root(), "gidMappings": to_root()}),
    );
    add_mount(
        &b,
        json!({"destination": "/later", "type": "bind", "source": env.path("missing"), "options": ["bind"]}),
    );
    fails(
        &env,
        &b,
        Some(&src),
        &["stat bind source", "missing", "No such file"],
    );
}

/// A seccomp filter answering mount_setattr with ENOSYS, as a kernel before 5.12 would; every
/// other call is allowed. Built before fork: the child only installs it.
#[cfg(target_arch = "x86_64")]
fn no_mount_setattr_filter() -> Vec<libc::sock_filter> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    vec![
        stmt(ld, 4), // seccomp_data.arch
        jeq(AUDIT_ARCH_X86_64, 0, 3),
        stmt(ld, 0), // seccomp_data.nr
        jeq(libc::SYS_mount_setattr as u32, 0, 1),
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}

#[cfg(target_arch = "x86_64")]
#[test]
fn kernel_without_mount_setattr_is_named() {
    use std::os::unix::process::CommandExt;
    let env = Env::new("idmap_enosys");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    add_mount(
        &b,
        json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind"],
            "uidMappings": to_root(), "gidMappings": to_root()}),
    );
    let filter = no_mount_setattr_filter();
    let id = env.id("enosys");
    let mut c = env.cmd();
    c.args(["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    // SAFETY: the closure makes two system calls on memory built before fork; nothing in it
    // allocates or takes a lock.
    unsafe {
        c.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &prog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = env.run_cmd(c, "create under a no-mount_setattr filter", TIMEOUT);
    out.fails_with(1, &["no mount_setattr", "Linux 5.12", "mounts["]);
    env.assert_clean(&id, &b);
    assert_eq!(host_mounts_of_source(&src), Vec::<String>::new());
}

#[test]
fn features_advertise_idmap() {
    let env = Env::new("idmap_features");
    let out = env.hull(&["features"]);
    out.ok();
    let f = out.json();
    assert_eq!(
        f["linux"]["mountExtensions"]["idmap"]["enabled"], true,
        "{}",
        out.stdout
    );
    let opts: Vec<&str> = f["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.as_str())
        .collect();
    assert!(
        opts.contains(&"idmap") && opts.contains(&"ridmap"),
        "{opts:?}"
    );
}

#[test]
fn nothing_propagates_back_through_a_shared_source() {
    // A copy of a shared host mount starts in the host's peer group; the parent makes it a
    // slave before init attaches it, so a mount made under it in the container stays there.
    let env = Env::new("idmap_shared");
    let b = env.bundle();
    let src = owned_dir(&env, "src");
    fs::create_dir_all(src.join("sub")).unwrap();
    use nix::mount::{mount, MsFlags};
    mount(
        Some(&src),
        &src,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    env.host_mount(&src);
    mount(
        None::<&str>,
        &src,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    add_mount(
        &b,
        json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind"],
            "uidMappings": to_root(), "gidMappings": to_root()}),
    );
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_ADMIN"));
        }
    });
    let out = run_ok(
        &env,
        &b,
        "echo tags=$(grep ' /m ' /proc/self/mountinfo | cut -d' ' -f7 | tr ' ' _); \
         mount -t tmpfs hull-idmap-leak /m/sub && echo inner=mounted",
    );
    let v = kv(&out);
    assert_eq!(v["inner"], "mounted", "{out}");
    assert!(
        v["tags"].starts_with("master:"),
        "a slave of the host's peer group: {out}"
    );
    let sub = src.join("sub").to_string_lossy().to_string();
    let leaked: Vec<_> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(sub.as_str()))
        .map(String::from)
        .collect();
    assert_eq!(
        leaked,
        Vec::<String>::new(),
        "the container's mount reached the host"
    );
}
