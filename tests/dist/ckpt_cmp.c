/* tests/dist/ckpt_cmp.c — compare two checkpoints tensor by tensor: F32 tensors within an
 * absolute + relative tolerance (the worst element is printed), every other tensor byte for
 * byte; both must hold the same tensors. Exit 0 when they match, 1 (naming the first tensor
 * that differs) when not, 2 on a usage or read error.
 * Usage: lh_test_ckpt_cmp A.ckpt B.ckpt TOL */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int main(int argc, char **argv)
{
    lh_safetensors_file *a, *b;
    lh_error err;
    double tol, worst = 0;
    const char *worst_name = "";
    int32_t i, rc = 0;
    if (argc != 4) {
        fprintf(stderr, "usage: %s A.ckpt B.ckpt TOL\n", argv[0]);
        return 2;
    }
    tol = atof(argv[3]);
    if (lh_safetensors_read(argv[1], &a, &err) || lh_safetensors_read(argv[2], &b, &err)) {
        fprintf(stderr, "%s: %s\n", argv[0], err.msg);
        return 2;
    }
    if (lh_safetensors_count(a) != lh_safetensors_count(b)) {
        printf("%d tensors vs %d\n", lh_safetensors_count(a), lh_safetensors_count(b));
        return 1;
    }
    for (i = 0; i < lh_safetensors_count(a) && !rc; i++) {
        const char *name = lh_safetensors_name(a, i), *dt = lh_safetensors_dtype(a, i);
        int32_t j = lh_safetensors_index(b, name);
        uint64_t n = lh_safetensors_nbytes(a, i), k;
        const void *pa = lh_safetensors_data(a, i), *pb;
        if (j < 0 || lh_safetensors_nbytes(b, j) != n || strcmp(lh_safetensors_dtype(b, j), dt)) {
            printf("tensor %s: missing or of another shape in %s\n", name, argv[2]);
            rc = 1;
            break;
        }
        pb = lh_safetensors_data(b, j);
        if (strcmp(dt, "F32") != 0) {
            if (memcmp(pa, pb, (size_t)n)) {
                printf("tensor %s (%s) differs\n", name, dt);
                rc = 1;
            }
            continue;
        }
        for (k = 0; k < n / 4; k++) {
            double x = ((const float *)pa)[k], y = ((const float *)pb)[k];
            double d = fabs(x - y) / (1.0 + fabs(y));
            if (!(d <= worst))
                worst = d, worst_name = name;
            if (!(d <= tol)) {
                printf("tensor %s[%llu]: %.9g vs %.9g (difference %.3g > %g)\n", name,
                       (unsigned long long)k, x, y, d, tol);
                rc = 1;
                break;
            }
        }
    }
    if (!rc)
        printf("%d tensors match; worst F32 difference %.3g (%s)\n", lh_safetensors_count(a),
               worst, worst_name);
    lh_safetensors_close(a);
    lh_safetensors_close(b);
    return rc;
}
