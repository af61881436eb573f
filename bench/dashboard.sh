#!/usr/bin/env bash
# The dashboard with a large team, in headless Chromium: time to interactive of the calls list,
# a call page, the agent editor and the contacts list with 100,000 contacts and 100,000 calls,
# as ratios to an empty team measured in the same run; the JS a first visit downloads; frame
# times of a node drag in the editor with a 300-node agent. See bench/README.md ("dashboard").
#
#   bench/dashboard.sh                       # ~10 min on 2 cores with the debug binary
#   BENCH_CONTACTS=20000 BENCH_CALLS=20000 bench/dashboard.sh   # smaller
#   BASELINE_DIST=/path/to/old/web/dist bench/dashboard.sh      # + the drag, this build vs that one
#
# Env: BENCH_BIN (default target/release/parley if built, else target/debug/parley; nothing is
# built here), CHROMIUM (/usr/bin/chromium), RUNS (5 warm loads per page), BENCH_KEEP=1 keeps
# the temporary folder (data dirs, server logs, state files).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CONTACTS="${BENCH_CONTACTS:-100000}"
CALLS="${BENCH_CALLS:-100000}"
if [ -n "${BENCH_BIN:-}" ]; then BIN="$BENCH_BIN"
elif [ -x target/release/parley ]; then BIN="$ROOT/target/release/parley"
else BIN="$ROOT/target/debug/parley"; fi
[ -x "$BIN" ] || { echo "dashboard: no server binary at $BIN (cargo build -p parley-server)" >&2; exit 1; }
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "dashboard: needs Chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 1; }
[ -d web/node_modules/playwright-core ] || { echo "dashboard: run scripts/setup-web first (web/node_modules)" >&2; exit 1; }
[ -f web/dist/index.html ] || { echo "dashboard: web/dist is not built (scripts/setup-web)" >&2; exit 1; }

mkdir -p bench/out
OUT="bench/out/dashboard-$(date +%Y%m%d-%H%M%S).txt"
exec > >(tee "$OUT") 2>&1
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, AVX-512: $(grep -qm1 avx512f /proc/cpuinfo && echo yes || echo no)"
echo "Server: $BIN ($(case "$BIN" in */release/*) echo release build;; */debug/*) echo 'debug build: unoptimized, API answers are slower than a release build';; *) echo given;; esac)), commit $(git rev-parse --short HEAD)"
echo "Dashboard: web/dist entry $(grep -o 'assets/index-[^"]*\.js' web/dist/index.html) (a debug server reads web/dist from disk, a release one has it built in)"
echo "Seeded team: $CONTACTS contacts, $CALLS calls; empty team: one agent, one real call"

tmp="$(mktemp -d)"
declare -A pid=()
cleanup() {
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A port=()
start() { # name
  local name=$1 dir="$tmp/$1" url
  mkdir -p "$dir"
  [ -n "${port[$name]:-}" ] || port[$name]="$(free_port)"
  url="http://127.0.0.1:${port[$name]}"
  PARLEY_DATA_DIR="$dir" PARLEY_BIND="127.0.0.1:${port[$name]}" PARLEY_SIP_BIND=127.0.0.1:0 PARLEY_PUBLIC_URL="$url" \
    PARLEY_RATE_LIMIT_PER_MINUTE=0 PARLEY_PUBLIC_RATE_LIMIT_PER_MINUTE=0 \
    "$BIN" serve >> "$dir/server.log" 2>&1 &
  pid[$name]=$!
  for _ in $(seq 1 240); do
    curl -sf "$url/health" >/dev/null 2>&1 && return 0
    kill -0 "${pid[$name]}" 2>/dev/null || { tail -20 "$dir/server.log"; echo "dashboard: the $name server did not start" >&2; exit 1; }
    sleep 0.5
  done
  echo "dashboard: the $name server did not answer /health" >&2; exit 1
}
stop() { kill "${pid[$1]}"; wait "${pid[$1]}" 2>/dev/null || true; unset "pid[$1]"; }
url() { echo "http://127.0.0.1:${port[$1]}"; }

t0=$SECONDS
start empty
start seeded
# Real sandbox calls: one in the empty team; five in the seeded one (the built-in personas that
# say yes, say no, never answer, are busy, reach voicemail), the shapes the clones copy.
python3 bench/dashboard/seed.py setup --url "$(url empty)" --log "$tmp/empty/server.log" --out "$tmp/empty.json" --calls 1 &
s1=$!
python3 bench/dashboard/seed.py setup --url "$(url seeded)" --log "$tmp/seeded/server.log" --out "$tmp/seeded.json" --calls 5
wait $s1
python3 bench/dashboard/seed.py contacts --state "$tmp/seeded.json" --url "$(url seeded)" --n "$CONTACTS"
stop seeded
python3 bench/dashboard/seed.py clone --state "$tmp/seeded.json" --db "$tmp/seeded/parley.db" --n "$CALLS"
start seeded
password="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
for t in empty seeded; do
  team="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["team"])' "$tmp/$t.json")"
  echo "$password" | PARLEY_DATA_DIR="$tmp/$t" "$BIN" user set-password --email owner@parley.local --team "$team" --role owner >/dev/null
done
echo "Seeding took $((SECONDS - t0)) s"
echo
PARLEY_EMAIL=owner@parley.local PARLEY_PASSWORD="$password" EMPTY_STATE="$tmp/empty.json" SEEDED_STATE="$tmp/seeded.json" \
  node bench/dashboard/measure.mjs
echo "(written to $OUT)"
