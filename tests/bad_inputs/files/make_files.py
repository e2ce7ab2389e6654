#!/usr/bin/python3
# tests/bad_inputs/files/make_files.py — writes the committed binary fixtures of the bad-input
# catalogue (standard library only): safetensors files as other tools write them.
# Run: /usr/bin/python3 tests/bad_inputs/files/make_files.py   (from anywhere; writes next to it)
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def safetensors(name, tensors, metadata):
    """tensors: [(name, dtype, shape, bytes)]; metadata: dict or None (no __metadata__)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for tname, dtype, shape, raw in tensors:
        header[tname] = {"dtype": dtype, "shape": shape,
                         "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # padded to 8 bytes, as the safetensors library does
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


weight = struct.pack("<4f", 0.5, -1.0, 2.0, 0.25)
# What every Hugging Face checkpoint says: format "pt".
safetensors("hf_format_pt.safetensors", [("linear.weight", "F32", [2, 2], weight)],
            {"format": "pt"})
# A safetensors file with no metadata at all.
safetensors("no_metadata.safetensors", [("linear.weight", "F32", [2, 2], weight)], None)
# An lhost format tag over tensors of another model (no model_spec).
safetensors("lhost_tag_only.safetensors", [("linear.weight", "F32", [2, 2], weight)],
            {"format": "lhost-checkpoint", "format_version": "2"})
