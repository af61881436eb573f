#!/usr/bin/env bash
# False barge-ins (coughs, doors, a talker 10 and 20 dB behind the caller, backchannels) and the
# delay to stop the agent for the caller's real interruption (p50/p95), for WebRTC's VAD and
# Silero's, with and without the barge-in gate, as ratios against WebRTC without the gate (how
# calls ran before), all in one run; with the CPU and Silero's inference time per 32 ms chunk.
# The caller's speech is the offline Piper voice; the noises are generated.
#
#   bench/barge_in.sh [--trials N] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, AVX-512: $(grep -qm1 avx512f /proc/cpuinfo && echo yes || echo no)"
cargo build --release --locked -p parley-voice --example barge_in
mkdir -p bench/out
PARLEY_LOG=warn ./target/release/examples/barge_in "$@" | tee -a "bench/out/barge_in-$(date +%Y%m%d-%H%M%S).txt"
