#!/bin/sh
# Makes (once) the virtual environment of the Cheetah3 oracle and prints
# the path of its Python, for tests/cheetah_oracle.rs and
# benches/cheetah.rs:
#
#   scripts/cheetah-oracle.sh            # -> target/cheetah-oracle/bin/python
#
# Cheetah3 comes from PyPI through pip. Fails (exit 1) when python3, its
# venv module or PyPI are not available: the comparison test must fail
# then, never skip.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
venv="${CHEETAH_ORACLE_VENV:-$here/target/cheetah-oracle}"
py="$venv/bin/python"
# One maker at a time: the tests call this in parallel, and two `venv`s
# into one folder fail ("File exists"); the others wait, then reuse it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if ! "$py" -c 'import Cheetah.Template' 2>/dev/null; then
    command -v python3 >/dev/null || { echo "cheetah-oracle: python3 is not installed" >&2; exit 1; }
    python3 -m venv "$venv" >&2 || { echo "cheetah-oracle: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'Cheetah3==3.2.6.post1' >&2 \
        || { echo "cheetah-oracle: pip install Cheetah3 failed" >&2; exit 1; }
    "$py" -c 'import Cheetah.Template' || { echo "cheetah-oracle: Cheetah3 does not import" >&2; exit 1; }
fi
echo "$py"
