/* tests/bare/stop_at.c — a bare (SDK-free) callback fixture: plain C, no lhost header.
 * Stops when validation accuracy passes 0.95 or at epoch 3. Built by tests/bare/tests.cmake. */
const char lhost_bare_signatures[] =
    "# stop as soon as the model is good enough, or after four epochs\n"
    "on_validation_end: int stop_when(double val_acc, int64 epoch)\n";

int stop_when(double val_acc, long epoch)
{
    return val_acc > 0.95 || epoch >= 3;
}
