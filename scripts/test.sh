#!/usr/bin/env bash
# The test command (README: "Run the tests"). On a bare Debian 12 machine it
# installs what the tests need, then checks formatting and lints, then runs
# every test. .ci/run calls exactly this script.
#
# Tests never touch the machine's /etc/eole: each one works under its own
# --root in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# --- what the tests need from Debian ---------------------------------------
# The real EOLE material the tests read is in the repository (tests/data/eole,
# with its origin and licence): a clone alone is enough.

# The real services the end-to-end tests drive: the Docker engine, a
# registry on 127.0.0.1:5000, nginx (scripts/services.sh installs and starts
# them), and the small test images built locally (no Docker Hub here).
say "services: Docker engine, loopback registry, nginx"
./scripts/services.sh
say "test images"
./scripts/images.sh
# The real applications of tests/apps.rs (MariaDB, WordPress), from Debian
# 12 packages; cached after the first run.
say "application images (MariaDB, WordPress)"
./scripts/images-apps.sh

if ! command -v cargo >/dev/null 2>&1; then
  echo "test.sh: cargo is missing. conteneur needs Rust 1.85 or later (edition 2024);" >&2
  echo "         Debian 12's own rustc is too old: install a toolchain with rustup." >&2
  exit 1
fi

# --- checks ----------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings

say "cargo test"
cargo test --locked --all-targets

# The Debian package: release build, lintian, install/trigger/remove/purge
# in a Debian 12 chroot (cached under /var/cache/conteneur-test after the
# first run).
say "Debian package (tests/package.sh)"
./tests/package.sh
