#!/usr/bin/env bash
# The test command (README: "Run the tests"). On a bare Debian 12 machine it
# installs what the tests need, then checks formatting and lints, then runs
# every test. .ci/run calls exactly this script.
#
# Tests never touch the machine's /etc/eole: each one works under its own
# --root in a temporary folder.
#
# Why the set-up runs in the background: on a cold machine the services and
# images (apt, debootstrap, docker builds) are network and disk work, and the
# compile is CPU work. They overlap: cargo compiles while the services come
# up, and the tests start once both are done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "test.sh: cargo is missing. conteneur needs Rust 1.85 or later (edition 2024);" >&2
  echo "         Debian 12's own rustc is too old: install a toolchain with rustup." >&2
  exit 1
fi

# --- what the tests need from Debian (in the background) ---------------------
# The real EOLE material the tests read is in the repository (tests/data/eole,
# with its origin and licence): a clone alone is enough.
#
# The real services the end-to-end tests drive: the Docker engine, a
# registry on 127.0.0.1:5000, nginx (scripts/services.sh installs and starts
# them; it is the one step that runs apt-get on the host), then, side by
# side: the small test images built locally (no Docker Hub here; the guest
# images of tests/vm.rs from Debian's kernel and busybox), the real
# applications of tests/apps.rs (MariaDB, WordPress, from Debian 12
# packages), and the Debian 12 root of tests/package.sh. All are cached after
# the first run.
SETUP_LOG=$(mktemp -d /tmp/conteneur-setup.XXXXXX)
setup() {
  ./scripts/services.sh >"$SETUP_LOG/services.log" 2>&1 || { echo "services.sh failed" >"$SETUP_LOG/failed"; return 1; }
  local rc=0
  { ./scripts/images.sh && ./scripts/images-vm.sh && ./scripts/images-apps.sh; } >"$SETUP_LOG/images.log" 2>&1 &
  local images=$!
  ./tests/package.sh --prepare-chroot >"$SETUP_LOG/chroot.log" 2>&1 || { echo "the package's Debian root failed" >>"$SETUP_LOG/failed"; rc=1; }
  wait "$images" || { echo "the test images failed" >>"$SETUP_LOG/failed"; rc=1; }
  return "$rc"
}
say "set-up in the background: services, test images, the package's Debian root (logs in $SETUP_LOG)"
setup &
SETUP_PID=$!
# If the checks below fail, do not leave the set-up (or the package test)
# running unseen: the background jobs and their children are stopped.
stop_jobs() {
  local p
  for p in "$@"; do
    pkill -TERM -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
}
trap 'stop_jobs "$SETUP_PID"' EXIT

# --- checks ----------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings

say "cargo test --no-run (compile while the services come up)"
cargo test --locked --all-targets --no-run

# The Debian package (release build, lintian, install/trigger/remove/purge
# in a Debian 12 chroot) runs beside the tests: its build is CPU work, the
# end-to-end tests mostly wait on the engine. Its output is shown after the
# tests'.
PACKAGE_LOG=$SETUP_LOG/package.log
say "Debian package (tests/package.sh) in the background (log in $PACKAGE_LOG)"
./tests/package.sh >"$PACKAGE_LOG" 2>&1 &
PACKAGE_PID=$!
trap 'stop_jobs "$SETUP_PID" "$PACKAGE_PID"' EXIT

say "waiting for the set-up"
setup_rc=0
wait "$SETUP_PID" || setup_rc=$?
for f in services images chroot; do
  if [ -s "$SETUP_LOG/$f.log" ]; then
    echo "-- $f:"
    grep -v '^\s*$' "$SETUP_LOG/$f.log" | tail -n 40 || true
  fi
done
if [ "$setup_rc" -ne 0 ]; then
  cat "$SETUP_LOG/failed" >&2 2>/dev/null || true
  echo "test.sh: the set-up failed (logs above, in $SETUP_LOG)" >&2
  exit 1
fi

# The two slowest test binaries mostly wait (drain: a 150 s stop timeout;
# swarm: two engines' convergence): they run beside the others, which
# keep the cores busy meanwhile. Everything is compiled already.
SLOW_TESTS="drain swarm"
SLOW_LOG=$(mktemp /tmp/conteneur-slow-tests.XXXXXX)
say "cargo test ($SLOW_TESTS beside the others; their output after)"
slow_args=()
for t in $SLOW_TESTS; do slow_args+=(--test "$t"); done
cargo test --locked "${slow_args[@]}" >"$SLOW_LOG" 2>&1 &
SLOW_PID=$!
trap 'stop_jobs "$PACKAGE_PID" "$SLOW_PID"' EXIT
other_args=(--lib --bins --benches --examples)
for f in tests/*.rs; do
  t=$(basename "$f" .rs)
  case " $SLOW_TESTS " in *" $t "*) continue ;; esac
  other_args+=(--test "$t")
done
test_rc=0
cargo test --locked "${other_args[@]}" || test_rc=$?
slow_rc=0
wait "$SLOW_PID" || slow_rc=$?
say "cargo test $SLOW_TESTS: its output"
cat "$SLOW_LOG"
rm -f "$SLOW_LOG"
[ "$slow_rc" -eq 0 ] || test_rc=$slow_rc

say "Debian package (tests/package.sh): its output"
package_rc=0
wait "$PACKAGE_PID" || package_rc=$?
trap - EXIT
cat "$PACKAGE_LOG"
if [ "$test_rc" -ne 0 ] || [ "$package_rc" -ne 0 ]; then
  echo "test.sh: cargo test exited $test_rc, tests/package.sh exited $package_rc" >&2
  exit 1
fi
