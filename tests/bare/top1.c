/* tests/bare/top1.c — a bare metric fixture: the batch's top-1 accuracy (first maximum wins,
 * as torch.argmax). Plain C, no lhost header. Built by tests/bare/tests.cmake. */
#include <stdint.h>

const char lhost_bare_signatures[] =
    "metric top1 max: double top1(const float *logits, const int32 *targets, int64 n, "
    "int32 num_classes)\n";

/* logits: (n, num_classes) row-major; targets: (n) */
double top1(const float *logits, const int32_t *targets, int64_t n, int32_t num_classes)
{
    int64_t i, correct = 0;
    for (i = 0; i < n; i++) {
        const float *row = logits + i * num_classes;
        int32_t c, best = 0;
        for (c = 1; c < num_classes; c++)
            if (row[c] > row[best])
                best = c;
        correct += best == targets[i];
    }
    return n > 0 ? (double)correct / (double)n : 0.0;
}
