#!/usr/bin/python3
# tests/fuzz/make_corpus.py — writes the binary seed corpora (corpus_idx/, corpus_ckpt/) from
# the committed golden checkpoint and small hand-made IDX files; the text corpora are written by
# hand. Run from anywhere: /usr/bin/python3 tests/fuzz/make_corpus.py
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, '..', 'golden')


def write(folder, name, data):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    with open(os.path.join(HERE, folder, name), 'wb') as f:
        f.write(data)


# ---- IDX: flags, num_classes, u16 image length, image file, label file ----------------------
def idx(dtype, dims, payload):
    return struct.pack('>HBB', 0, dtype, len(dims)) + b''.join(struct.pack('>I', d) for d in dims) \
        + payload


def idx_seed(flags, classes, images, labels):
    return struct.pack('<BBH', flags, classes, len(images)) + images + labels


img3 = idx(8, [3, 2, 2], bytes(range(12)))
lab3 = idx(8, [3], bytes([0, 1, 2]))
img4 = idx(8, [2, 3, 2, 2], bytes(range(24)))
lab2 = idx(8, [2], bytes([1, 0]))
write('corpus_idx', '01_plain', idx_seed(0, 10, img3, lab3))
write('corpus_idx', '02_gzip', idx_seed(3, 10, img3, lab3))
write('corpus_idx', '03_rank4', idx_seed(1, 2, img4, lab2))
write('corpus_idx', '04_label_too_big', idx_seed(0, 2, img3, lab3))
write('corpus_idx', '05_truncated', idx_seed(0, 10, img3[:-3], lab3))
write('corpus_idx', '06_count_mismatch', idx_seed(0, 10, img3, lab2))
write('corpus_idx', '07_huge_dims', idx_seed(0, 10, idx(8, [0xffffffff, 0xffff, 0xffff], b'\0' * 8),
                                             lab3))
write('corpus_idx', '08_huge_dims_gz', idx_seed(1, 10, idx(8, [0x7fffffff, 0x7fff, 0x7fff],
                                                               b'\0' * 8), lab3))
write('corpus_idx', '09_bad_type', idx_seed(0, 10, idx(0x0d, [3, 2, 2], bytes(48)), lab3))
write('corpus_idx', '10_zero_count', idx_seed(0, 10, idx(8, [0, 2, 2], b''), idx(8, [0], b'')))
write('corpus_idx', '11_raw_gz', idx_seed(7, 10, b'\x1f\x8b\x08\x00' + img3, lab3))


# ---- checkpoints ----------------------------------------------------------------------------
def safetensors(meta, tensors):
    """tensors: [(name, dtype, shape, bytes)]"""
    header, data = {}, b''
    if meta is not None:
        header['__metadata__'] = meta
    for name, dtype, shape, raw in tensors:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [len(data),
                                                                         len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + data


def read_golden(name):
    with open(os.path.join(GOLDEN, name), 'rb') as f:
        return f.read()


sgd = read_golden('ckpt_v1/sgd-step4.ckpt')
write('corpus_ckpt', '01_sgd_step4.ckpt', sgd)
write('corpus_ckpt', '02_tiny.safetensors', read_golden('tiny.safetensors'))
spec = {'in_c': 1, 'in_h': 2, 'in_w': 2, 'layers': [
    {'type': 'flatten', 'name': '0'},
    {'type': 'linear', 'name': 'fc', 'in_features': 4, 'out_features': 2}]}
meta = {'format': 'lhost-checkpoint', 'format_version': '1', 'model_spec': json.dumps(spec),
        'weights_only': 'true', 'hparams': json.dumps({'data_path': 'd', 'batch_size': 2,
                                                        'num_classes': 2})}
small = [('fc.weight', 'F32', [2, 4], bytes(32)), ('fc.bias', 'F32', [2], bytes(8))]
write('corpus_ckpt', '03_linear.ckpt', safetensors(meta, small))
write('corpus_ckpt', '04_transposed.ckpt',
      safetensors(meta, [('fc.weight', 'F32', [4, 2], bytes(32)), small[1]]))
write('corpus_ckpt', '05_foreign_format.ckpt', safetensors(dict(meta, format='pt'), small))
huge = dict(spec, layers=[spec['layers'][0], dict(spec['layers'][1], out_features=2**31 - 1)])
write('corpus_ckpt', '06_huge_layer.ckpt', safetensors(dict(meta, model_spec=json.dumps(huge)),
                                                       small))
write('corpus_ckpt', '07_no_metadata.safetensors', safetensors(None, small))
write('corpus_ckpt', '08_bad_offsets.ckpt', safetensors(meta, small)[:-4])
conv = {'in_c': 1, 'in_h': 4, 'in_w': 4, 'layers': [
    {'type': 'conv2d', 'name': 'c', 'in_channels': 1, 'out_channels': 1, 'kernel_size': 3,
     'stride': 1, 'padding': 1}, {'type': 'relu', 'name': '1'},
    {'type': 'maxpool2d', 'name': '2', 'kernel_size': 2, 'stride': 2},
    {'type': 'dropout', 'name': '3', 'p': 0.5}, {'type': 'flatten', 'name': '4'},
    {'type': 'linear', 'name': 'fc', 'in_features': 4, 'out_features': 2}]}
write('corpus_ckpt', '09_conv.ckpt', safetensors(dict(meta, model_spec=json.dumps(conv)), [
    ('c.weight', 'F32', [1, 1, 3, 3], bytes(36)), ('c.bias', 'F32', [1], bytes(4)),
    ('fc.weight', 'F32', [2, 4], bytes(32)), ('fc.bias', 'F32', [2], bytes(8))]))
