#!/usr/bin/env bash
# Builds conteneur's Debian package: target/debian/conteneur_<version>_amd64.deb.
#
#   packaging/build-deb.sh            # release build, generated files, cargo deb
#
# Steps: install cargo-deb if missing (from crates.io, pinned by --locked);
# build the release binaries; write the man pages and shell completions from
# the clap definitions (target/release/conteneur-generate) and copy the hook
# scripts of instance.d/ into target/packaging/root/, laid out as installed;
# then cargo deb packages them with what Cargo.toml's [package.metadata.deb]
# lists. Prints the path of the .deb on its last line.
#
# CONTENEUR_HOOKS_DIR: another folder of <phase>/NN-name hooks than
# instance.d/ (tests/package.sh uses it to check how hooks are shipped).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== build-deb: %s\n' "$*" >&2; }
die() { printf 'build-deb: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null 2>&1 || die "cargo is missing: conteneur needs Rust 1.85 or later (rustup)"
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is missing (Debian's dpkg)"

CARGO_DEB_VERSION=3.8.0
if [[ "$(cargo deb --version 2>/dev/null || true)" != *"$CARGO_DEB_VERSION"* ]]; then
  say "installing cargo-deb $CARGO_DEB_VERSION (cargo install --locked)"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi

say "cargo build --release"
cargo build --release --locked --bin conteneur --bin conteneur-generate

STAGE=target/packaging/root
rm -rf "$STAGE"
mkdir -p "$STAGE"

say "man pages and completions from the clap definitions"
gen=target/release/conteneur-generate
"$gen" man "$STAGE/usr/share/man/man1" >/dev/null
comp=target/packaging/completions
rm -rf "$comp"
"$gen" completions "$comp" >/dev/null
# conteneur's own: where each shell looks them up. The EOLE names' go to
# /usr/share/conteneur/completions: postinst links them as slaves of each
# name's alternative, so they exist only where the name is conteneur's.
install -D -m 0644 "$comp/bash/conteneur" "$STAGE/usr/share/bash-completion/completions/conteneur"
install -D -m 0644 "$comp/zsh/_conteneur" "$STAGE/usr/share/zsh/vendor-completions/_conteneur"
install -D -m 0644 "$comp/fish/conteneur.fish" "$STAGE/usr/share/fish/vendor_completions.d/conteneur.fish"
for shell in bash zsh fish; do
  for f in "$comp/$shell"/*; do
    case "$(basename "$f")" in conteneur | _conteneur | conteneur.fish) continue ;; esac
    install -D -m 0644 "$f" "$STAGE/usr/share/conteneur/completions/$shell/$(basename "$f")"
  done
done

HOOKS_DIR=${CONTENEUR_HOOKS_DIR:-instance.d}
say "hooks from $HOOKS_DIR/"
hooks=0
for phase in preservice pretemplate posttemplate postservice; do
  [ -d "$HOOKS_DIR/$phase" ] || continue
  for h in "$HOOKS_DIR/$phase"/*; do
    [ -f "$h" ] || continue
    name=$(basename "$h")
    # run-parts' rule: only these names are run; anything else would be
    # shipped for nothing.
    [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || die "$h: a hook name is made of letters, digits, _ and - only"
    install -D -m 0755 "$h" "$STAGE/usr/share/eole/$phase/$name"
    hooks=$((hooks + 1))
  done
done
say "$hooks hook(s)"

say "cargo deb"
cargo deb --no-build --locked --quiet >/dev/null
pkgid=$(cargo pkgid --quiet)   # path+file:///…#conteneur@0.1.0 (or …#0.1.0)
version=${pkgid##*[#@]}
deb="target/debian/conteneur_${version}_amd64.deb"
[ -f "$deb" ] || die "cargo deb did not write $deb"
echo "$deb"
