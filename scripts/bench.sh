#!/usr/bin/env bash
# Benchmarks (BENCHMARKS.md says what they measure and the targets).
#
#   1. the whole `conteneur get nom_machine` process on the eole-server 2.10
#      corpus, with hyperfine (target: < 10 ms), and the same `get` on 2000
#      synthetic containers;
#   2. `cargo bench --bench pipeline`: load + resolve + problems on the
#      corpus, on 200 synthetic dictionaries x 50 variables (target: load +
#      resolve < 100 ms) and on 50/500/2000 containers;
#   3. a summary of the medians.
#
# Results go to target/bench-results/. Nothing touches the machine's
# /etc/eole: every run has its own --root in a temporary folder, and the
# config.eol read is a file of the corpus.
#
# Environment: BENCH_JOBS (cargo -j, default 1: the benchmark machine is
# small and shared), BENCH_RUNS (hyperfine runs, default 50, at least 30),
# EOLE_CORPUS (default tests/data/eole, the copy kept in the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n== %s\n' "$*"; }

jobs=${BENCH_JOBS:-1}
runs=${BENCH_RUNS:-50}
if [ "$runs" -lt 30 ]; then runs=30; fi

corpus=${EOLE_CORPUS:-$repo/tests/data/eole}
if [ ! -d "$corpus/dicos/eole-server-2.10.0" ]; then
  echo "bench.sh: the EOLE corpus is missing ($corpus); set EOLE_CORPUS" >&2
  exit 1
fi
export EOLE_CORPUS=$corpus

# --- tools -----------------------------------------------------------------
if ! command -v hyperfine >/dev/null 2>&1; then
  say "installing hyperfine"
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench.sh: hyperfine is missing; run as root or: apt-get install hyperfine" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq hyperfine || { apt-get update -qq && apt-get install -y -qq hyperfine; }
fi
for t in cargo jq; do
  command -v "$t" >/dev/null 2>&1 || { echo "bench.sh: $t is missing" >&2; exit 1; }
done

out=$repo/target/bench-results
mkdir -p "$out"
root=$(mktemp -d /tmp/conteneur-bench.XXXXXX)
trap 'rm -rf "$root"' EXIT

# --- 1. the whole process ---------------------------------------------------
say "cargo build --release"
cargo build --release --locked -j "$jobs"
bin=$repo/target/release/conteneur

get=("$bin" --root "$root/corpus" --dicos "$corpus/dicos/eole-server-2.10.0"
     --extra "$corpus/extra" --config "$corpus/config-eol/output_jojo_hapy2.eol"
     get nom_machine)
mkdir -p "$root/corpus"
got=$("${get[@]}")
if [ "$got" != hapy2 ]; then
  echo "bench.sh: 'get nom_machine' printed '$got', expected hapy2" >&2
  exit 1
fi

# The synthetic containers, written by benches/synth.rs (also builds the
# benchmarks for step 2).
say "cargo bench --bench synth (2000 containers)"
cargo bench --locked -j "$jobs" --bench synth -- containers 2000 "$root/c2000"
get2000=("$bin" --root "$root/c2000" --dicos "$root/c2000/dicos" --extra "$root/c2000/extra"
         --config "$root/c2000/config.eol" get conteneur2000_port_out)
got=$("${get2000[@]}")
if [ "$got" != 22000 ]; then
  echo "bench.sh: 'get conteneur2000_port_out' printed '$got', expected 22000" >&2
  exit 1
fi

q() { printf '%q ' "$@"; }
say "hyperfine: get nom_machine, eole-server 2.10 corpus ($runs runs)"
hyperfine -N --warmup 3 --runs "$runs" \
  --command-name "get nom_machine (eole-server 2.10 corpus)" \
  --export-markdown "$out/get-corpus.md" --export-json "$out/get-corpus.json" \
  "$(q "${get[@]}")"

say "hyperfine: get conteneur2000_port_out, 2000 containers"
hyperfine -N --warmup 3 --runs 30 \
  --command-name "get conteneur2000_port_out (2000 containers)" \
  --export-markdown "$out/get-2000.md" --export-json "$out/get-2000.json" \
  "$(q "${get2000[@]}")"

# --- 2. the library pipeline ------------------------------------------------
say "cargo bench --bench pipeline"
cargo bench --locked -j "$jobs" --bench pipeline 2>&1 | tee "$out/pipeline.log"

# --- 3. summary ---------------------------------------------------------------
ms() { awk -v s="$1" 'BEGIN { printf "%.3f", s * 1000 }'; }
hf_median() { jq -r '.results[0].median' "$1"; }
crit_median() { # criterion's estimate, in ns -> ms
  local f=$repo/target/criterion/$1/new/estimates.json
  if [ -f "$f" ]; then jq -r '.median.point_estimate / 1e6 | . * 1000 | round / 1000' "$f"; else echo "?"; fi
}
verdict() { # value, limit
  awk -v v="$1" -v l="$2" 'BEGIN { if (v == "?") print "?"; else if (v + 0 < l + 0) print "met"; else print "MISSED" }'
}

get_ms=$(ms "$(hf_median "$out/get-corpus.json")")
get2000_ms=$(ms "$(hf_median "$out/get-2000.json")")
syn_ms=$(crit_median synthetic_200x50/load_list)

{
  echo "| case | median (ms) | target |"
  echo "|---|---:|---|"
  echo "| whole process: get nom_machine, eole-server corpus | $get_ms | < 10 ms: $(verdict "$get_ms" 10) |"
  echo "| whole process: get conteneur2000_port_out, 2000 containers | $get2000_ms | |"
  for b in corpus/dico_load corpus/load_values corpus/load corpus/load_list corpus/load_list_problems \
           synthetic_200x50/load synthetic_200x50/load_list synthetic_200x50/load_list_problems \
           containers/load_list/50 containers/load_list/500 containers/load_list/2000 \
           containers/load_list_problems/50 containers/load_list_problems/500 \
           containers/load_list_problems/2000; do
    m=$(crit_median "$b")
    t=""
    if [ "$b" = synthetic_200x50/load_list ]; then t="< 100 ms: $(verdict "$m" 100)"; fi
    echo "| $b | $m | $t |"
  done
} > "$out/summary.md"

say "summary (medians; details in $out)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
  "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "rustc: $(rustc --version); conteneur: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
echo
cat "$out/summary.md"
