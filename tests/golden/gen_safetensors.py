#!/usr/bin/env python3
"""tests/golden/gen_safetensors.py — writes tests/golden/tiny.safetensors, the fixture that
tests/unit/test_safetensors.c reads and that lhost's writer must reproduce byte for byte.

The file is written by hand with struct + json, following the safetensors format:
  8-byte little-endian header length N, N bytes of JSON header padded with spaces to a multiple
  of 8, then the data area. Layout chosen to match lhost's writer (host/safetensors.h):
  "__metadata__" first, tensors in insertion order in the JSON, data grouped by element size
  (8, 4, 2, 1 bytes; insertion order inside a group), compact JSON, UTF-8 unescaped.

Usage:
  python3 tests/golden/gen_safetensors.py            # (re)write the fixture and verify it
  python3 tests/golden/gen_safetensors.py --check F  # validate any safetensors file F (e.g. one
                                                     # lhost wrote) with the strict reader below
When the `safetensors` Python package is installed it cross-checks every file too; torch 1.13
(Debian python3-torch) cannot read safetensors, so it is only used to build tensors from the data.
Run with the Python that has the Debian packages (/usr/bin/python3 on Debian).
"""
import json
import os
import struct
import sys

# dtype -> (struct code, bytes per element)
DTYPES = {"F64": ("d", 8), "I64": ("q", 8), "U64": ("Q", 8), "F32": ("f", 4), "I32": ("i", 4),
          "U32": ("I", 4), "F16": ("e", 2), "I16": ("h", 2), "U16": ("H", 2), "BF16": (None, 2),
          "I8": ("b", 1), "U8": ("B", 1), "BOOL": ("?", 1), "F8_E4M3": (None, 1),
          "F8_E5M2": (None, 1)}

# The fixture. test_safetensors.c repeats these values; keep both in step.
TENSORS = [
    ("conv.weight", "F32", [2, 1, 2, 2], [(i - 3.5) * 0.25 for i in range(8)]),
    ("fc.bias", "F64", [3], [0.1, -2.5, 1e-300]),
    ("step", "I64", [], [123456789012]),
    ("counts", "I32", [4], [-1, 0, 7, 2147483647]),
    ("mask", "U8", [5], [0, 1, 2, 254, 255]),
    ("seed", "U64", [2], [2**64 - 1, 42]),
    ("empty", "F32", [0, 3], []),
]
METADATA = {"epoch": "3", "note": "tiny \"fixture\"\nline 2 \u2014 \u00fc"}


def nelem(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def pack(dtype, values):
    code, _ = DTYPES[dtype]
    return struct.pack("<%d%s" % (len(values), code), *values)


def write(path, tensors, metadata):
    header, blobs, off = {}, {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for size in (8, 4, 2, 1):
        for name, dtype, shape, values in tensors:
            if DTYPES[dtype][1] == size:
                blob = pack(dtype, values)
                assert len(blob) == nelem(shape) * size
                blobs[name] = (off, blob)
                off += len(blob)
    for name, dtype, shape, _ in tensors:
        b, blob = blobs[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [b, b + len(blob)]}
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    data = b"".join(blob for _, blob in sorted(blobs.values(), key=lambda x: x[0]))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)) + hjson + data)


def read(path):
    """Strict reader: returns (metadata, {name: (dtype, shape, values or raw bytes)})."""
    raw = open(path, "rb").read()
    assert len(raw) >= 8, "shorter than 8 bytes"
    (n,) = struct.unpack("<Q", raw[:8])
    assert n <= 100_000_000 and 8 + n <= len(raw), "bad header length %d" % n
    assert raw[8:9] == b"{", "header does not start with '{'"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    assert all(isinstance(v, str) for v in meta.values()), "non-string metadata"
    out, ranges = {}, []
    for name, info in header.items():
        dtype, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        code, size = DTYPES[dtype]
        assert all(isinstance(d, int) and d >= 0 for d in shape)
        assert e - b == nelem(shape) * size, "%s: size mismatch" % name
        ranges.append((b, e, name))
        chunk = data[b:e]
        values = list(struct.unpack("<%d%s" % (nelem(shape), code), chunk)) if code else chunk
        out[name] = (dtype, shape, values)
    pos = 0
    for b, e, name in sorted(ranges):
        assert b == pos, "%s: gap or overlap at %d" % (name, b)
        pos = e
    assert pos == len(data), "trailing bytes in the data area"
    return meta, out


def cross_check(path, tensors):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        print("  (python safetensors not installed: cross-check skipped)")
        return
    loaded = load_file(path)
    for name, (dtype, shape, values) in tensors.items():
        assert list(loaded[name].shape) == shape, name
        if not isinstance(values, bytes):
            assert [v for v in loaded[name].reshape(-1).tolist()] == values, name
    print("  safetensors.numpy.load_file agrees")


def check(path):
    meta, tensors = read(path)
    print("%s: %d tensors, %d metadata keys: OK" % (path, len(tensors), len(meta)))
    for name, (dtype, shape, values) in tensors.items():
        print("  %-24s %-5s %s" % (name, dtype, shape))
    cross_check(path, tensors)
    return meta, tensors


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        for p in sys.argv[2:]:
            check(p)
        return
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny.safetensors")
    write(path, TENSORS, METADATA)
    meta, tensors = check(path)
    assert meta == METADATA
    for name, dtype, shape, values in TENSORS:
        assert tensors[name] == (dtype, shape, values) or dtype in ("F32",) and \
            tensors[name][2] == [struct.unpack("<f", struct.pack("<f", v))[0] for v in values], name


if __name__ == "__main__":
    main()
