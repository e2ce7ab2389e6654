/* examples/bare_c/stop_at.c — an SDK-free ("bare") lhost callback in plain C: no lhost header,
 * no lhost library. It stops training once validation accuracy passes a threshold, or after
 * four epochs. The host reads the declaration below, binds `val_acc` to the latest logged
 * validation accuracy and `epoch` to the trainer's epoch, and calls stop_when through libffi
 * after every validation run. Build: see CMakeLists.txt or README.md. */

/* What the host reads: one declaration per line (format in README.md). */
const char lhost_bare_signatures[] =
    "on_validation_end: int stop_when(double val_acc, int64 epoch)\n";

/* 0: continue, 1: stop training (a normal end, as EarlyStopping), < 0: an error. */
int stop_when(double val_acc, long epoch)
{
    return val_acc > 0.95 || epoch >= 3;
}
