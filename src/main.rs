//! The `hull` command line: runc's, option for option.

mod cli;

fn main() {
    // After the re-exec from a sealed memfd (security/sealed_exe.rs) the kernel names us
    // "memfd:hull"; ps, pgrep and tests look for "hull".
    // SAFETY: PR_SET_NAME with a NUL-terminated string of at most 16 bytes.
    unsafe {
        libc::prctl(
            libc::PR_SET_NAME,
            c"hull".as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    std::process::exit(cli::main());
}
