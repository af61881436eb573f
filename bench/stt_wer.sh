#!/usr/bin/env bash
# Word error rate and time per utterance of the offline speech-to-text on phone audio: every
# installed Whisper model x several voices (Piper at three rates, espeak-ng variants, Debian's
# flite voices) x clean / call-centre noise at 20 dB / 10 dB SNR, all through 8 kHz mu-law.
# See crates/speech/examples/stt_eval/main.rs and the "Speech-to-text accuracy" section of
# bench/README.md.
#
#   bench/stt_wer.sh [stt_eval options: --voices ... --conditions ... --sentences N -v]
#
# Models: models/whisper/ggml-*.bin (scripts/setup installs base; PARLEY_SETUP_WHISPER_TINY_EN=1
# scripts/setup adds tiny.en), plus any ggml-*.bin in $BENCH_STT_MODELS_DIR (a folder of your own).
# Needs: scripts/setup run once; flite for the flite voices (apt-get install flite).
# Writes bench/out/stt_wer-<time>.md (the tables) and .tsv (every utterance and its transcript).
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS="${PARLEY_MODELS_DIR:-models}"
[ -f "$MODELS/whisper/ggml-base-q8_0.bin" ] || { echo "stt_wer: no Whisper model in $MODELS: run scripts/setup first" >&2; exit 1; }
model_args=()
for f in "$MODELS"/whisper/ggml-*.bin ${BENCH_STT_MODELS_DIR:+"$BENCH_STT_MODELS_DIR"/ggml-*.bin}; do
    [ -f "$f" ] && model_args+=(--model "$f")
done
voice_args=()
if ! command -v flite >/dev/null; then
    echo "stt_wer: flite is not installed (Debian: apt-get install flite): its voices are left out" >&2
    voice_args=(--voices piper,piper:0.8,piper:1.2,en-us,en-us+f3,en-gb,en-us+m7)
fi
cargo build --release --locked -p parley-speech --example stt_eval
mkdir -p bench/out
out="bench/out/stt_wer-$(date +%Y%m%d-%H%M%S)"
"${CARGO_TARGET_DIR:-target}/release/examples/stt_eval" "${model_args[@]}" "${voice_args[@]}" --tsv "$out.tsv" "$@" \
    | tee "$out.md"
