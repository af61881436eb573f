#!/usr/bin/env bash
# Per-turn latency of real sandbox calls (the persona's last speech frame to the agent's first
# speech frame), at 1, 4, 8 and 16 concurrent calls, with the flow agent and with a loopback
# OpenAI-compatible LLM (200 ms to first token). Prints p50/p95/p99, the median of each part,
# and each level's p95 as a ratio of one call's p95, measured in the same run. Each level runs
# twice: over the sandbox network, and over a Twilio media stream (a loopback fake of Twilio
# speaking its WebSocket protocol to Parley, the caller saying the same words), with the
# media stream's figures as ratios of the sandbox's.
#
# The flow agent runs under both turn-end rules in the same run: the fixed 400 ms window (the
# baseline) and the transcript rule (the default), each with one more call whose caller pauses
# 400-900 ms mid-sentence (--cutoff: the share of sentences the agent answered in two halves).
# The transcript rule runs without and with the caller's continuation (PARLEY_CONTINUE_MS), and
# with speech-to-text started at 60 ms of quiet (PARLEY_STT_EARLY_MS).
#
#   bench/turn_latency.sh [--turns N] [--levels 1,4,8,16]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null
# The speech figures depend on the CPU: name it, and whether it has AVX-512.
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, AVX-512: $(grep -qm1 avx512f /proc/cpuinfo && echo yes || echo no)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release --locked -p parley-server --example turn_latency
mkdir -p bench/out
out="bench/out/turn_latency-$(date +%Y%m%d-%H%M%S).txt"
# Each run is rule:early:continue. The fixed window with no continuation is the baseline (Parley
# before the transcript rule); then the transcript rule without a caller's continuation
# (PARLEY_CONTINUE_MS=0), with it (the default), and with speech-to-text from 60 ms of quiet
# (PARLEY_STT_EARLY_MS=60, an opt-in).
for run in window:0:0 transcript:0:0 transcript:0:800 transcript:60:800; do
  IFS=: read -r rule early cont <<< "$run"
  PARLEY_TURN_RULE=$rule PARLEY_STT_EARLY_MS=$early PARLEY_CONTINUE_MS=$cont PARLEY_LOG=warn \
    ./target/release/examples/turn_latency --cutoff --media-stream "$@" | tee -a "$out"
done
PARLEY_LOG=warn ./target/release/examples/turn_latency --llm --media-stream "$@" | tee -a "$out"
