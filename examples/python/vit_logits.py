#!/usr/bin/env python3
"""Logits of an autoprog model file in NumPy: the forward pass of docs/model-files.md.

    autoprog runs download RUN_ID -o model.safetensors
    python3 examples/python/vit_logits.py model.safetensors input.safetensors

`input.safetensors` holds one tensor `x`: images [B, side, side, C] (NHWC, float32), normalised as
autoprog feeds them (pixel / 255 − mean) / std per channel with the dataset's statistics
(docs/model-files.md lists them). Prints `{"reader": …, "logits": [[…], …]}` as JSON.

Needs NumPy. The file is read with the `safetensors` package (`pip install safetensors numpy`);
`--reader numpy` reads it with the small reader below instead (the format is an 8-byte header
length, a JSON header and raw little-endian data). Without `--reader`, the `safetensors`
package is used when it is installed and the NumPy reader otherwise, and stderr says so.
"""

import argparse
import json
import math
import struct
import sys

import numpy as np

LAYER_NORM_EPSILON = 1e-6
DTYPES = {"F32": np.float32, "F64": np.float64}


def read_with_numpy(path):
    """Tensors and metadata of a safetensors file, read without the safetensors package."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        values = np.frombuffer(data[begin:end], dtype=np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<"))
        tensors[name] = values.reshape(entry["shape"])
    return tensors, metadata


def read_with_safetensors(path):
    from safetensors import safe_open

    with safe_open(path, framework="np") as f:
        return {name: f.get_tensor(name) for name in f.keys()}, f.metadata() or {}


def read(path, reader):
    if reader == "safetensors":
        return read_with_safetensors(path)
    return read_with_numpy(path)


def layer_norm(x, gamma, beta):
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + LAYER_NORM_EPSILON) * gamma + beta


_erf = np.vectorize(math.erf)


def gelu(x):
    """Exact GELU, x·Φ(x)."""
    return x * 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def softmax(x):
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def bilinear_matrix(out_size, in_size):
    """[out, in] bilinear weights with half-pixel centres (how the position table is resized)."""
    matrix = np.zeros((out_size, in_size))
    scale = in_size / out_size
    for out in range(out_size):
        source = (out + 0.5) * scale - 0.5
        floor = math.floor(source)
        lerp = source - floor
        matrix[out, max(floor, 0)] += 1 - lerp
        matrix[out, min(math.ceil(source), in_size - 1)] += lerp
    return matrix


def position_table(table, grid):
    """[1 + G², D] → [1 + g², D]: the class row as it is, the patch rows resized bilinearly."""
    full = round(math.sqrt(table.shape[0] - 1))
    if grid == full:
        return table
    resize = bilinear_matrix(grid, full)
    patches = table[1:].reshape(full, full, -1)
    resized = np.einsum("ah,bw,hwd->abd", resize, resize, patches).reshape(grid * grid, -1)
    return np.concatenate([table[:1], resized], axis=0)


def logits(w, architecture, x):
    """The forward pass of autoprog's ViT on x [B, r, r, C] (float64 throughout)."""
    w = {name: value.astype(np.float64) for name, value in w.items()}
    batch, side, _, channels = x.shape
    p, width, heads = architecture["patchSize"], architecture["width"], architecture["heads"]
    grid = side // p
    # Patches in (row, column) order, each flattened as (py, px, channel).
    patches = x.reshape(batch, grid, p, grid, p, channels).transpose(0, 1, 3, 2, 4, 5)
    tokens = patches.reshape(batch, grid * grid, p * p * channels) @ w["embed.patch.w"] + w["embed.patch.b"]
    cls = np.broadcast_to(w["embed.cls"], (batch, 1, width))
    stream = np.concatenate([cls, tokens], axis=1) + position_table(w["embed.pos"], grid)  # [B, N, D]
    n = stream.shape[1]
    head_width = width // heads
    for i in range(architecture["depth"]):
        b = lambda name: w[f"blocks.{i}.{name}"]  # noqa: E731
        # ReZero scalar of an identity-grown block: scales both residual branches (timm: LayerScale).
        scale = w.get(f"blocks.{i}.rezero", np.float64(1.0))
        h = layer_norm(stream, b("norm1.gamma"), b("norm1.beta"))
        qkv = (h @ b("attn.qkv.w") + b("attn.qkv.b")).reshape(batch, n, 3, heads, head_width)
        q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # each [B, H, N, dh]
        attention = softmax((q / math.sqrt(head_width)) @ k.transpose(0, 1, 3, 2))
        merged = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, n, width)
        stream = stream + scale * (merged @ b("attn.proj.w") + b("attn.proj.b"))
        h = layer_norm(stream, b("norm2.gamma"), b("norm2.beta"))
        hidden = gelu(h @ b("mlp.fc1.w") + b("mlp.fc1.b"))
        stream = stream + scale * (hidden @ b("mlp.fc2.w") + b("mlp.fc2.b"))
    cls_out = layer_norm(stream[:, 0], w["norm.gamma"], w["norm.beta"])
    return cls_out @ w["head.w"] + w["head.b"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a model file from GET /v1/runs/{id}/model")
    parser.add_argument("input", help="a safetensors file holding `x`, images [B, side, side, C]")
    parser.add_argument("--reader", choices=["safetensors", "numpy"], help="how to read the files")
    args = parser.parse_args()
    reader = args.reader
    if reader is None:
        try:
            import safetensors  # noqa: F401

            reader = "safetensors"
        except ImportError:
            reader = "numpy"
            print("the safetensors package is not installed: reading with the NumPy reader", file=sys.stderr)
    weights, metadata = read(args.model, reader)
    inputs, _ = read(args.input, reader)
    architecture = json.loads(metadata["architecture"])
    result = logits(weights, architecture, inputs["x"].astype(np.float64))
    json.dump({"reader": reader, "logits": result.tolist()}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
