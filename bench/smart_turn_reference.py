#!/usr/bin/env python3
"""Smart Turn v3.2 through Pipecat's own feature code and ONNX Runtime's Python package: the
reference for crates/speech/src/turn (is an inversion the model's, or the port's?).

Sentences spoken by espeak-ng in two parts, scored at the pause (the first part, with 120 ms of
silence after it) and at the end (both parts, 500 ms apart), wideband and through 8 kHz mu-law
(sox). Prints each probability and the AUC of ends against pauses (1.0: perfect, 0.5: chance).

    bench/smart_turn_reference.sh     # unpacks the two wheels scripts/setup keeps, runs this
"""
import subprocess
import sys

import numpy as np
import onnxruntime as ort
from pipecat.audio.turn.smart_turn._whisper_features import compute_whisper_log_mel_features

MODEL = sys.argv[1] if len(sys.argv) > 1 else "models/turn/smart-turn-v3.2-cpu.onnx"
SENTENCES = [
    ("I'd like to book an appointment", "for next Tuesday morning."),
    ("I called yesterday and", "nobody picked up the phone."),
    ("I want to cancel my subscription", "because I'm moving abroad."),
    ("I need to speak with someone about", "a refund for my last order."),
    ("Could you send the confirmation", "to my email address?"),
    ("I was charged twice", "for the same order last month."),
]
VOICES = ["en-us", "en-us+f3", "en-gb-x-rp"]
RATE = 16000


def sox(data, args):
    return subprocess.run(["sox", *args], input=data, capture_output=True, check=True).stdout


def speak(text, voice):
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    raw = sox(wav, ["-t", "wav", "-", "-t", "raw", "-e", "signed", "-b", "16", "-r", str(RATE), "-c", "1", "-"])
    x = np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768
    voiced = np.nonzero(np.abs(x) > 0.01)[0]
    return x[: voiced[-1] + RATE * 120 // 1000] if len(voiced) else x


def phone(x):
    raw = (np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes()
    pcm16 = ["-t", "raw", "-e", "signed", "-b", "16", "-c", "1"]
    mu = sox(raw, [*pcm16, "-r", str(RATE), "-", "-t", "raw", "-e", "mu-law", "-r", "8000", "-"])
    back = sox(mu, ["-t", "raw", "-e", "mu-law", "-r", "8000", "-c", "1", "-", *pcm16, "-r", str(RATE), "-"])
    return np.frombuffer(back, dtype=np.int16).astype(np.float32) / 32768


def main():
    session = ort.InferenceSession(MODEL)

    def probability(x):
        n = 8 * RATE
        x = x[-n:] if len(x) > n else np.pad(x, (n - len(x), 0))
        features = compute_whisper_log_mel_features(x, do_normalize=True)[None]
        return float(session.run(None, {"input_features": features})[0][0].item())

    for telephone in (False, True):
        ends, pauses = [], []
        for voice in VOICES:
            for first, second in SENTENCES:
                a, b = speak(first + ",", voice), speak(second, voice)
                whole = np.concatenate([a, np.zeros(RATE // 2, np.float32), b])
                if telephone:
                    a, whole = phone(a), phone(whole)
                pauses.append(probability(a))
                ends.append(probability(whole))
        auc = np.mean([[1.0 if e > p else 0.5 if e == p else 0.0 for p in pauses] for e in ends])
        print("8 kHz mu-law" if telephone else "wideband 16 kHz")
        print("  at ends:   ", " ".join(f"{p:.2f}" for p in ends))
        print("  at pauses: ", " ".join(f"{p:.2f}" for p in pauses))
        print(f"  AUC, ends against pauses: {auc:.2f}")


if __name__ == "__main__":
    main()
