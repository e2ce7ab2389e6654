//! examples/bare_rust/src/lib.rs — an SDK-free ("bare") lhost plugin in Rust: plain
//! `extern "C"` functions plus the exported signature string the host parses. No lhost crate,
//! no bindgen. The format is in examples/bare_c/README.md.

/// What the host reads: one declaration per line, NUL-terminated like a C string.
#[no_mangle]
pub static lhost_bare_signatures: [u8; 163] = *b"on_validation_end: int stop_when(double val_acc, int64 epoch)\n\
metric top1 max: double top1(const float *logits, const int32 *targets, int64 n, int32 num_classes)\n\0";

/// Stop once validation accuracy passes 0.95, or after four epochs (0 continue, 1 stop).
#[no_mangle]
pub extern "C" fn stop_when(val_acc: f64, epoch: i64) -> i32 {
    (val_acc > 0.95 || epoch >= 3) as i32
}

/// Top-1 accuracy of one batch: `logits` is (n, num_classes) row-major, `targets` is (n).
/// The host keeps the sample-weighted mean over the epoch.
///
/// # Safety
/// The host passes `n * num_classes` floats and `n` targets, valid for the call.
#[no_mangle]
pub unsafe extern "C" fn top1(logits: *const f32, targets: *const i32, n: i64,
                              num_classes: i32) -> f64 {
    if n <= 0 || num_classes <= 0 {
        return 0.0;
    }
    let k = num_classes as usize;
    let scores = std::slice::from_raw_parts(logits, n as usize * k);
    let targets = std::slice::from_raw_parts(targets, n as usize);
    let mut correct = 0usize;
    for (row, &t) in scores.chunks_exact(k).zip(targets) {
        // first maximum wins, as torch.argmax
        let mut best = 0;
        for c in 1..k {
            if row[c] > row[best] {
                best = c;
            }
        }
        correct += (best as i32 == t) as usize;
    }
    correct as f64 / n as f64
}
