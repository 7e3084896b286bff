#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz + libFuzzer) of what reads hostile input: config.json
# through hull's loader and validator, and dock's image reference and manifest parsers.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    SECONDS per target (default 60); targets in fuzz/
#
# Installs what it needs (a C++ compiler for libFuzzer, cargo-fuzz), builds the targets, seeds
# the corpora, runs each target for a bounded time and prints its executions and coverage.
# Exits non-zero on any crash, timeout or out-of-memory and prints the input that caused it.
# Runs on stable Rust: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z sanitizer flag cargo
# fuzz passes for AddressSanitizer. Environment:
#   FUZZ_SANITIZER=address|none   (default address; none if the toolchain lacks the runtime)
#   HULL_FUZZ_TARGET_DIR=DIR      build directory (default fuzz/target)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
all=${#targets[@]}
[ "$all" -gt 0 ] || targets=(config reference manifest)
case $secs in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a number, not '$secs'" >&2; exit 2 ;; esac

say() { echo "fuzz: $*"; }

# libfuzzer-sys compiles libFuzzer's C++ sources.
if ! command -v c++ >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "fuzz.sh: no C++ compiler; install g++ (as root)" >&2; exit 1; }
  say "installing g++"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends g++ >/dev/null
fi

cargo_fuzz_version=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
  say "installing cargo-fuzz $cargo_fuzz_version"
  cargo install --quiet --locked cargo-fuzz --version "$cargo_fuzz_version"
fi

sanitizer=${FUZZ_SANITIZER:-address}
if [ "$sanitizer" != none ]; then
  rtlib="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/lib"
  if ! compgen -G "$rtlib/librustc-*_rt.asan.a" >/dev/null; then
    say "no AddressSanitizer runtime in $rtlib; fuzzing without a sanitizer"
    sanitizer=none
  fi
fi
export RUSTC_BOOTSTRAP=1
target_dir=${HULL_FUZZ_TARGET_DIR:-$repo/fuzz/target}
fuzz() { (cd fuzz && cargo fuzz "$@" --sanitizer "$sanitizer" --target-dir "$target_dir"); }

# Seeds: committed ones in fuzz/seeds/, and these written at run time.
seed_corpus() {
  local dir=fuzz/corpus/$1 tmp
  mkdir -p "$dir"
  case $1 in
  config)
    cargo build --quiet -p hull
    for flag in "" --rootless; do
      tmp=$(mktemp -d)
      "${CARGO_TARGET_DIR:-target}/debug/hull" spec --bundle "$tmp" $flag
      cp "$tmp/config.json" "$dir/seed-spec${flag}.json"
      # The same template compact, and without its process (need_process=false paths).
      tr -d '\n' <"$tmp/config.json" | tr -s ' ' >"$dir/seed-spec${flag}-compact.json"
      sed '/"process": {/,/^  },/d' "$tmp/config.json" >"$dir/seed-spec${flag}-noprocess.json"
      rm -r "$tmp"
    done
    ;;
  reference)
    local hex
    hex=$(printf '%064d' 7)
    local i=0
    for r in busybox busybox:1.36 library/busybox user/app:v1 docker.io/library/busybox:latest \
      index.docker.io/user/app localhost/app localhost:5000/ns/app:tag "127.0.0.1:5000/a/b@sha256:$hex" \
      "[::1]:5000/app:1@sha256:$hex" "Registry.example.com/x__y/a-b.c:tag_1" "app@sha512:$hex$hex"; do
      i=$((i + 1))
      printf '%s' "$r" >"$dir/seed-$i"
    done
    ;;
  manifest)
    # The first byte picks the Content-Type (see fuzz_targets/manifest.rs): none, and the
    # one that matches the document.
    for f in fuzz/seeds/manifest/*.json; do
      { printf '\000'; cat "$f"; } >"$dir/seed-$(basename "$f" .json)-0"
      { if grep -q '"manifests"' "$f"; then printf '\001'; else printf '\003'; fi; cat "$f"; } \
        >"$dir/seed-$(basename "$f" .json)-1"
    done
    ;;
  esac
}

say "building ${targets[*]} (sanitizer: $sanitizer)"
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz.sh: no target fuzz/fuzz_targets/$t.rs" >&2; exit 2; }
done
if [ "$all" = 0 ]; then
  fuzz build
else
  for t in "${targets[@]}"; do fuzz build "$t"; done
fi
failed=0
summary=()
for t in "${targets[@]}"; do
  seed_corpus "$t"
  corpora=("corpus/$t")
  [ -d "fuzz/seeds/$t" ] && corpora+=("seeds/$t")
  opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [ -f "fuzz/dicts/$t.dict" ] && opts+=(-dict="dicts/$t.dict")
  log=$(mktemp)
  say "running $t for ${secs}s"
  set +e
  timeout $((secs + 300)) bash -c 'cd fuzz && exec cargo fuzz run "$@"' _ \
    "$t" --sanitizer "$sanitizer" --target-dir "$target_dir" "${corpora[@]}" -- "${opts[@]}" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' || true)
  line="$t: ${execs:-?} execs in ${secs}s (${rate:-?}/s), ${cov:-no coverage line}"
  [ "$rc" = 0 ] || line="$t: FAILED (exit $rc) after ${execs:-?} execs"
  if [ "$rc" != 0 ]; then
    failed=1
    echo "---- $t failed (exit $rc):"
    if grep -qE 'panicked at|==ERROR|ERROR: libFuzzer|SUMMARY: ' "$log"; then
      grep -E -A6 'panicked at|==ERROR|ERROR: libFuzzer|SUMMARY: ' "$log" | head -40
    else
      grep -v -E '^#[0-9]+' "$log" | tail -40
    fi
    artifact=$(grep -oE 'artifacts/[^ ]+' "$log" | tail -1 || true)
    if [ -n "$artifact" ]; then
      replay="cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer"
      [ "$target_dir" = "$repo/fuzz/target" ] || replay="$replay --target-dir $target_dir"
      line="$line; input: fuzz/$artifact (replay: $replay $t $artifact)"
    fi
  fi
  rm -f "$log"
  say "$line"
  summary+=("$line")
done
echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
exit $failed
