//! cgroup v2 with real controllers, tested in a VM: this host is hybrid (v1 controllers), so
//! integration/vm/run.sh boots Debian's kernel under qemu (software emulation) on a pure v2
//! host and runs hull there: limits, the eBPF device filter, CLONE_INTO_CGROUP, freeze,
//! update, ps, delete. The same guest has AppArmor (Debian's kernel, its default LSM), so it
//! also checks process.apparmorProfile and `exec --apparmor` for real: confined, denied, an
//! unknown profile refused with nothing left. It prints one VMTEST line per check.

use std::process::Command;

/// As tests/common's HULL: the release binary named by HULL_TEST_BINARY when set at build time.
const HULL: &str = match option_env!("HULL_TEST_BINARY") {
    Some(p) => p,
    None => env!("CARGO_BIN_EXE_hull"),
};

#[test]
fn cgroup_v2_in_a_vm() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/integration/vm/run.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(HULL)
        .output()
        .expect("run integration/vm/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "cgroup v2 / AppArmor VM checks failed (see VMTEST lines above)"
    );
    let passed = stdout
        .lines()
        .filter(|l| l.starts_with("VMTEST ok "))
        .count();
    assert!(
        passed >= 36,
        "expected at least 36 passing VM checks (26 cgroup v2, 10 AppArmor), saw {passed}"
    );
}
