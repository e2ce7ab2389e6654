/* host/dist/dist.c — what both implementations share: the launcher's variables, the timeout
 * and the message prefix (see dist.h). */
#include "dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


static double timeout_s = 600;

int64_t lh_dist_launcher_world(const char **var)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
    size_t i;
    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long long n;
        if (!v || !v[0])
            continue;
        n = strtoll(v, &end, 10);
        if (var)
            *var = vars[i];
        return (*end || n < 1) ? 1 : (int64_t)n;
    }
    if (var)
        *var = NULL;
    return 1;
}

int32_t lh_dist_launcher_local_rank(const char **var)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                       "SLURM_LOCALID"};
    size_t i;
    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long n;
        if (!v || !v[0])
            continue;
        n = strtol(v, &end, 10);
        if (*end || n < 0 || n > INT32_MAX)
            continue; /* not a rank: the next variable, or MPI's own answer */
        if (var)
            *var = vars[i];
        return (int32_t)n;
    }
    if (var)
        *var = NULL;
    return -1;
}

void lh_dist_set_timeout(double seconds)
{
    timeout_s = seconds > 0 ? seconds : 0;
}

double lh_dist_timeout(void)
{
    return timeout_s;
}

const char *lh_dist_prefix(void)
{
    static char buf[32];
    if (lh_dist_rank() == 0)
        return "";
    snprintf(buf, sizeof buf, "[rank %d] ", (int)lh_dist_rank());
    return buf;
}
