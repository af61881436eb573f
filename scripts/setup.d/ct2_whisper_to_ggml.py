#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model (faster-whisper layout) to whisper.cpp's ggml format.

Usage: ct2_whisper_to_ggml.py MODEL_DIR OUT.bin [--ftype q8_0|f16]

MODEL_DIR holds `model.bin` (CTranslate2 binary, version 6, WhisperSpec) and `tokenizer.json`
(Hugging Face byte-level BPE). Needs numpy only.

What the conversion does:
- renames CTranslate2 variables to the names whisper.cpp's loader expects, splitting the fused
  q/k/v (self-attention) and k/v (cross-attention) projections back into separate tensors;
- writes the hyper-parameters, the 80 Slaney mel filters for a 400-point FFT at 16 kHz (what
  `librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)` gives, which Whisper was trained with)
  and the byte-level vocabulary (the regular tokens; whisper.cpp numbers the special ones);
- stores 2-D weight matrices as q8_0 (the reference ggml quantization, bit for bit) or f16,
  conv kernels as f16, and biases, layer norms and positional embeddings as f32 -- the types
  whisper.cpp allocates for each tensor.
"""

import json
import os
import re
import struct
import sys

import numpy as np

GGML_MAGIC = 0x67676D6C
GGML_QNT_VERSION = 2
GGML_QNT_VERSION_FACTOR = 1000
FTYPE_F16 = 1  # GGML_FTYPE_MOSTLY_F16
FTYPE_Q8_0 = 7  # GGML_FTYPE_MOSTLY_Q8_0
TYPE_F32, TYPE_F16, TYPE_Q8_0 = 0, 1, 8  # ggml_type
QK8_0 = 32

# CTranslate2 DataType ids.
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def fail(msg):
    sys.stderr.write("ct2_whisper_to_ggml: error: %s\n" % msg)
    sys.exit(1)


def read_ct2(path):
    """Returns ({name: ndarray}, aliases) from a CTranslate2 model.bin (binary version >= 4)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return vals

    def string():
        nonlocal pos
        (n,) = take("<H")
        s = bytes(buf[pos : pos + n]).rstrip(b"\0").decode("utf-8")
        pos += n
        return s

    (version,) = take("<I")
    if version < 4:
        fail("unsupported CTranslate2 binary version %d" % version)
    spec = string()
    take("<I")  # spec revision
    if spec != "WhisperSpec":
        fail("not a Whisper model: spec %r" % spec)
    (count,) = take("<I")
    variables = {}
    for _ in range(count):
        name = string()
        (rank,) = take("<B")
        dims = take("<%dI" % rank) if rank else ()
        dtype_id, nbytes = take("<BI")
        dtype = CT2_DTYPES.get(dtype_id)
        if dtype is None:
            fail("variable %s has unsupported dtype id %d" % (name, dtype_id))
        arr = np.frombuffer(buf[pos : pos + nbytes], dtype=dtype)
        variables[name] = arr.reshape(dims) if rank else arr
        pos += nbytes
    aliases = {}
    if pos < len(buf):
        (n_alias,) = take("<I")
        for _ in range(n_alias):
            alias = string()
            aliases[alias] = string()
    if pos != len(buf):
        fail("trailing bytes in %s (truncated or corrupt model?)" % path)
    return variables, aliases


def mel_filters(sr=16000, n_fft=400, n_mels=80):
    """Slaney-style mel filterbank with Slaney normalisation (librosa's default), float32."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        mel = f / f_sp
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mel)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        hz = f_sp * m
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), hz)

    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)), dtype=np.float64)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    return weights.astype(np.float32)


def byte_decoder():
    """Inverse of GPT-2's bytes_to_unicode: maps each printable stand-in character to its byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def vocabulary(tokenizer_path):
    with open(tokenizer_path, encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    special = [t["id"] for t in tok.get("added_tokens", []) if t.get("special")]
    first_special = min(special) if special else len(vocab)
    dec = byte_decoder()
    by_id = {i: s for s, i in vocab.items() if i < first_special}
    tokens = []
    for i in range(first_special):
        s = by_id.get(i, "")
        try:
            tokens.append(bytes(dec[c] for c in s))
        except KeyError:
            fail("token %d (%r) is not byte-level BPE" % (i, s))
    return tokens


def q8_0(x):
    """ggml's quantize_row_q8_0_ref over the rows of a 2-D float array: 34-byte blocks."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.shape[-1] % QK8_0:
        fail("row length %d is not a multiple of %d" % (x.shape[-1], QK8_0))
    blocks = x.reshape(-1, QK8_0)
    amax = np.abs(blocks).max(axis=1)
    d = amax / 127.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    v = blocks * inv[:, None]
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # roundf: half away from zero
    out = np.empty((blocks.shape[0], 2 + QK8_0), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out


def main():
    args = sys.argv[1:]
    ftype_name = "q8_0"
    if "--ftype" in args:
        i = args.index("--ftype")
        ftype_name = args[i + 1]
        del args[i : i + 2]
    if len(args) != 2 or ftype_name not in ("q8_0", "f16"):
        fail("usage: ct2_whisper_to_ggml.py MODEL_DIR OUT.bin [--ftype q8_0|f16]")
    model_dir, out_path = args
    v, aliases = read_ct2(model_dir + "/model.bin")

    def get(name):
        name = aliases.get(name, name)
        if name not in v:
            fail("variable %s missing from model.bin" % name)
        return v[name]

    n_vocab, n_text_state = get("decoder/embeddings/weight").shape
    n_audio_ctx, n_audio_state = get("encoder/position_encodings/encodings").shape
    n_text_ctx = get("decoder/position_encodings/encodings").shape[0]
    n_mels = get("encoder/conv1/weight").shape[1]
    n_audio_head = int(get("encoder/num_heads").view(np.int16)[0])
    n_text_head = int(get("decoder/num_heads").view(np.int16)[0])
    n_audio_layer = len({k.split("/")[1] for k in v if re.match(r"encoder/layer_\d+/", k)})
    n_text_layer = len({k.split("/")[1] for k in v if re.match(r"decoder/layer_\d+/", k)})
    if n_mels != 80:
        fail("expected 80 mel bins, model has %d" % n_mels)

    tensors = []  # (name, array, kind) with kind in {"w", "conv", "f32"}

    def lin(prefix, ct2, kind="w", bias=True):
        tensors.append((prefix + ".weight", get(ct2 + "/weight"), kind))
        if bias:
            tensors.append((prefix + ".bias", get(ct2 + "/bias"), "f32"))

    def norm(prefix, ct2):
        tensors.append((prefix + ".weight", get(ct2 + "/gamma"), "f32"))
        tensors.append((prefix + ".bias", get(ct2 + "/beta"), "f32"))

    def split(prefix, ct2, names):
        w, b = get(ct2 + "/weight"), get(ct2 + "/bias")
        n = len(names)
        for part, name in enumerate(names):
            rows = slice(part * w.shape[0] // n, (part + 1) * w.shape[0] // n)
            tensors.append(("%s.%s.weight" % (prefix, name), w[rows], "w"))
            if name == "key":
                if np.any(b[rows] != 0):
                    fail("%s has a non-zero key bias, which whisper.cpp has no slot for" % ct2)
            else:
                tensors.append(("%s.%s.bias" % (prefix, name), b[rows], "f32"))

    tensors.append(("encoder.positional_embedding", get("encoder/position_encodings/encodings"), "f32"))
    for i in (1, 2):
        tensors.append(("encoder.conv%d.weight" % i, get("encoder/conv%d/weight" % i), "conv"))
        tensors.append(("encoder.conv%d.bias" % i, get("encoder/conv%d/bias" % i).reshape(-1, 1), "f32"))
    for i in range(n_audio_layer):
        p, c = "encoder.blocks.%d" % i, "encoder/layer_%d" % i
        norm(p + ".attn_ln", c + "/self_attention/layer_norm")
        split(p + ".attn", c + "/self_attention/linear_0", ["query", "key", "value"])
        lin(p + ".attn.out", c + "/self_attention/linear_1")
        norm(p + ".mlp_ln", c + "/ffn/layer_norm")
        lin(p + ".mlp.0", c + "/ffn/linear_0")
        lin(p + ".mlp.2", c + "/ffn/linear_1")
    norm("encoder.ln_post", "encoder/layer_norm")

    tensors.append(("decoder.positional_embedding", get("decoder/position_encodings/encodings"), "f32"))
    tensors.append(("decoder.token_embedding.weight", get("decoder/embeddings/weight"), "w"))
    for i in range(n_text_layer):
        p, c = "decoder.blocks.%d" % i, "decoder/layer_%d" % i
        norm(p + ".attn_ln", c + "/self_attention/layer_norm")
        split(p + ".attn", c + "/self_attention/linear_0", ["query", "key", "value"])
        lin(p + ".attn.out", c + "/self_attention/linear_1")
        norm(p + ".cross_attn_ln", c + "/attention/layer_norm")
        lin(p + ".cross_attn.query", c + "/attention/linear_0")
        split(p + ".cross_attn", c + "/attention/linear_1", ["key", "value"])
        lin(p + ".cross_attn.out", c + "/attention/linear_2")
        norm(p + ".mlp_ln", c + "/ffn/layer_norm")
        lin(p + ".mlp.0", c + "/ffn/linear_0")
        lin(p + ".mlp.2", c + "/ffn/linear_1")
    norm("decoder.ln", "decoder/layer_norm")

    tokens = vocabulary(model_dir + "/tokenizer.json")
    filters = mel_filters(n_mels=n_mels)
    ftype = FTYPE_Q8_0 + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR if ftype_name == "q8_0" else FTYPE_F16

    tmp_path = out_path + ".tmp"
    with open(tmp_path, "wb") as f:
        hparams = [n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
                   n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype]
        f.write(struct.pack("<12i", GGML_MAGIC, *hparams))
        f.write(struct.pack("<2i", *filters.shape))
        f.write(filters.astype("<f4").tobytes())
        f.write(struct.pack("<i", len(tokens)))
        for t in tokens:
            f.write(struct.pack("<i", len(t)))
            f.write(t)
        for name, arr, kind in tensors:
            if kind == "f32":
                data, ttype = np.ascontiguousarray(arr, dtype="<f4"), TYPE_F32
            elif kind == "conv" or ftype_name == "f16":
                data, ttype = np.ascontiguousarray(arr, dtype="<f2"), TYPE_F16
            else:
                data, ttype = q8_0(arr), TYPE_Q8_0
            shape = arr.shape
            raw = name.encode("utf-8")
            f.write(struct.pack("<3i", len(shape), len(raw), ttype))
            f.write(struct.pack("<%di" % len(shape), *reversed(shape)))
            f.write(raw)
            f.write(data.tobytes())
    os.replace(tmp_path, out_path)
    print(
        "ct2_whisper_to_ggml: wrote %s (%s, %d tensors, %d tokens + %d special, %d layers)"
        % (out_path, ftype_name, len(tensors), len(tokens), n_vocab - len(tokens), n_audio_layer)
    )


if __name__ == "__main__":
    main()
