#!/usr/bin/env bash
# Automation throughput and timer accuracy (crates/server/examples/automation_bench.rs), on SQLite
# and PostgreSQL, in one run:
#   - runs/s of a 5-step workflow without calls (create contact, condition, tag, HTTP request to a
#     loopback receiver, end), webhook-triggered, as a ratio to the same server's POST /contact/create
#     throughput measured just before;
#   - 10,000 runs parked on delay_until, due within one minute: p50/p99/max lateness of the delay steps.
#
#   bench/automation.sh [--seconds 10] [--conns 32] [--delays 10000] [--window-secs 60]
# PostgreSQL: uses PARLEY_TEST_POSTGRES_URL, or starts the throwaway cluster of scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PARLEY_TEST_POSTGRES_URL:-}" ]; then
  # shellcheck source=scripts/test-postgres.sh
  source scripts/test-postgres.sh
fi
scripts/setup >/dev/null
cargo build --release --locked -p parley-server --example automation_bench
mkdir -p bench/out
PARLEY_LOG=warn ./target/release/examples/automation_bench --pg-url "$PARLEY_TEST_POSTGRES_URL" "$@" \
  | tee -a "bench/out/automation-$(date +%Y%m%d-%H%M%S).txt"
