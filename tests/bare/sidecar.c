/* tests/bare/sidecar.c — a bare fixture with no exported signature string: its declarations
 * are in the manifest sidecar.lhost next to sidecar.so. Plain C, no lhost header. */
int every_epoch(long epoch, long max_epochs)
{
    return epoch + 1 >= max_epochs;
}

double always_half(const float *logits, const int *targets, long n, int num_classes)
{
    (void)logits;
    (void)targets;
    (void)n;
    (void)num_classes;
    return 0.5;
}
