#!/usr/bin/env bash
# End-of-turn detectors on phone audio with natural mid-sentence pauses (400-900 ms): for a
# fixed 400 ms window, the transcript rule at several waits, Smart Turn v3.2 at 0.5 and the rule
# combined with Smart Turn, the precision and recall of "complete", the share of pauses cut off
# and the delay from the caller's last word to the decision (engine times included: Whisper to
# text and Smart Turn per inference, measured). Utterances come from the offline voices (Piper
# and espeak-ng variants), through 8 kHz mu-law. See crates/speech/examples/turn_eval.rs.
#
#   bench/turn_eval.sh [--voices piper,en-us,...] [--rules C/N/O,...] [--threshold P] [-v]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null
# The speech figures depend on the CPU: name it, and whether it has AVX-512.
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, AVX-512: $(grep -qm1 avx512f /proc/cpuinfo && echo yes || echo no)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release --locked -p parley-speech --example turn_eval
mkdir -p bench/out
"${CARGO_TARGET_DIR:-target}/release/examples/turn_eval" "$@" | tee -a "bench/out/turn_eval-$(date +%Y%m%d-%H%M%S).txt"
