"""Writes models/tiny-vad.safetensors: a few KB of F32 weights for the example
voice pipeline (deterministic values, standard library only).

    python3 make_tiny_model.py [OUTPUT]
"""
import json
import math
import os
import struct
import sys


def tensors():
    weight = [math.sin(i * 0.37) * 0.25 for i in range(16 * 32)]
    bias = [math.cos(i * 1.3) * 0.01 for i in range(16)]
    return [("vad.bias", [16], bias), ("vad.weight", [16, 32], weight)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "models", "tiny-vad.safetensors")
    header, data = {"__metadata__": {"format": "pt", "note": "remotemedia example"}}, b""
    for name, shape, values in tensors():
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(out, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    main()
