#!/usr/bin/env bash
# Smart Turn v3.2 scored by Pipecat's own Python feature code and ONNX Runtime's Python package
# (both from the wheels scripts/setup downloaded into models/.cache; unpacked, not installed), on
# espeak-ng sentences at a mid-sentence pause and at the end: the reference for the Rust port's
# figures in bench/turn_eval.sh. See bench/smart_turn_reference.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null
py="$PWD/target/smart-turn-reference"
if [ ! -d "$py/onnxruntime" ]; then
  mkdir -p "$py"
  python3 -m zipfile -e models/.cache/wheels/onnxruntime-1.32.0-*.whl "$py"
  python3 -m zipfile -e models/.cache/wheels/pipecat_ai-1.14.0-py3-none-any.whl "$py/pipecat-wheel"
  mkdir -p "$py/pipecat/audio/turn"
  cp -r "$py/pipecat-wheel/pipecat/audio/turn/smart_turn" "$py/pipecat/audio/turn/"
  touch "$py/pipecat/__init__.py" "$py/pipecat/audio/__init__.py" "$py/pipecat/audio/turn/__init__.py"
  rm -rf "$py/pipecat-wheel"
fi
PYTHONPATH="$py:$PWD/models/.cache/pylib" python3 bench/smart_turn_reference.py "$@"
