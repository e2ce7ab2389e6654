/* tests/unit/csv_column.h — read one column of a metrics.csv text (header-only): every row's
 * value, or only the non-empty ones, as doubles. */
#ifndef LH_TEST_CSV_COLUMN_H
#define LH_TEST_CSV_COLUMN_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Column `name` of a CSV text: values of every row into out (NAN where empty); the rows read,
 * or -1 when there is no such column. */
static inline int csv_column_all(const char *text, const char *name, double *out, int cap)
{
    const char *line, *nl, *p = text;
    int col = -1, c = 0, n = 0;
    size_t len = strlen(name);
    while (*p && *p != '\n') { /* the header */
        const char *end = p + strcspn(p, ",\n");
        if ((size_t)(end - p) == len && strncmp(p, name, len) == 0)
            col = c;
        c++;
        p = *end == ',' ? end + 1 : end;
    }
    if (col < 0)
        return -1;
    line = strchr(text, '\n');
    while (line && line[1] && n < cap) {
        line++;
        nl = strchr(line, '\n');
        p = line;
        for (c = 0; c < col && p && (!nl || p < nl); c++)
            p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        out[n++] = (p && *p != ',' && *p != '\n' && *p) ? strtod(p, NULL) : NAN;
        line = nl;
    }
    return n;
}

/* The non-empty values of a column, in row order; -1 when there is no such column. */
static inline int csv_column_values(const char *text, const char *name, double *out, int cap)
{
    static double all[8192];
    int n = csv_column_all(text, name, all, 8192), k, m = 0;
    for (k = 0; k < n && m < cap; k++)
        if (!isnan(all[k]))
            out[m++] = all[k];
    return n < 0 ? -1 : m;
}

#endif
