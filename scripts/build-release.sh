#!/usr/bin/env bash
# The release build of hull as we ship, test and benchmark it: one static-pie executable
# (glibc, libseccomp and libgcc linked in, still position-independent for ASLR). Why static:
# every create/run/exec starts hull twice (the second time from the read-only bind of its
# binary, see src/security/sealed_exe.rs), and a static binary skips the dynamic loader's work
# in both (mapping, relocating and binding three libraries, libgcc_s's CPU probe) — measured
# with bench/run.sh. Optimised for size (opt-level "z"): hull's time goes to the kernel, not
# its own code, and the kernel maps the executable's page-cache pages around every fault, so a
# smaller text is a smaller resident set (peak RSS in bench/run.sh) at no measured CPU cost.
# Needs gcc and libc6-dev (libc.a) and libseccomp-dev (libseccomp.a).
# Prints the path of the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
seccomp_dir=$(pkg-config --variable=libdir libseccomp 2>/dev/null || echo /usr/lib/"$(gcc -dumpmachine)")
[ -f "$seccomp_dir/libseccomp.a" ] || { echo "build-release: no libseccomp.a in $seccomp_dir (install libseccomp-dev)" >&2; exit 1; }
# --target keeps RUSTFLAGS away from build scripts and proc-macros (crt-static cannot build them).
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH="$seccomp_dir" \
  RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
  cargo build --release --quiet -p hull --target "$triple" >&2
echo "$PWD/target/$triple/release/hull"
