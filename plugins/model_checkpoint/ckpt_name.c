/* plugins/model_checkpoint/ckpt_name.c — Lightning's _format_checkpoint_name in C: fill a
 * filename template's {key[:spec]} fields from logged values and the trainer's counters. */
#include "ckpt_name.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t cap, len;
    int overflow;
} sbuf;

/* Append text; '/' and '\\' become '_' when `clean` (inserted names and values). */
static void sb_put(sbuf *b, const char *s, size_t n, int clean)
{
    size_t k;
    for (k = 0; k < n; k++) {
        char c = s[k];
        if (clean && (c == '/' || c == '\\'))
            c = '_';
        if (b->len + 1 >= b->cap) {
            b->overflow = 1;
            return;
        }
        b->p[b->len++] = c;
    }
    b->p[b->len] = '\0';
}

static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Python's str(float): the shortest digits that read back exactly, fixed notation for decimal
 * exponents in [-4, 16), always with a '.' or an exponent. */
static void format_shortest(double v, char *out, size_t cap)
{
    char tmp[64];
    int p, x;
    if (isnan(v)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v < 0 ? "-inf" : "inf");
        return;
    }
    for (p = 1; p < 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
    x = atoi(strchr(tmp, 'e') + 1);
    if (x >= -4 && x < 16) {
        int decimals = p - 1 - x;
        snprintf(out, cap, "%.*f", decimals > 0 ? decimals : 0, v);
        if (!strchr(out, '.'))
            strncat(out, ".0", cap - strlen(out) - 1);
    } else {
        snprintf(out, cap, "%s", tmp);
    }
}

/* A decimal number of the spec, saturated at 1000 (past every limit), so ".4294967296f" is
 * too big rather than wrapping to 0 the way (int)strtol does. */
static int spec_number(const char **s)
{
    int v = 0;
    for (; **s >= '0' && **s <= '9'; (*s)++)
        v = v >= 1000 ? 1000 : v * 10 + (**s - '0');
    return v;
}

/* Format one value with a spec ("", ".5f", "03d", ...). Returns 0 or -1 for a bad spec. */
static int format_value(const char *spec, int is_int, int64_t i, double d, char *out, size_t cap)
{
    char fmt[32];
    const char *s = spec;
    int zero = 0, width = -1, prec = -1;
    char type = 0;
    double v = is_int ? (double)i : d;

    if (*s == '0') {
        zero = 1;
        s++;
    }
    if (*s >= '1' && *s <= '9')
        width = spec_number(&s);
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return -1;
        prec = spec_number(&s);
    }
    if (*s == 'f' || *s == 'e' || *s == 'g' || *s == 'd')
        type = *s++;
    if (*s != '\0' || width > 64 || prec > 30 || (type == 'd' && prec >= 0))
        return -1;

    if (type == 'd' || (type == 0 && prec < 0 && is_int)) {
        long long n = is_int ? (long long)i : (isfinite(d) ? llround(d) : 0);
        snprintf(fmt, sizeof fmt, "%%%s%dlld", zero ? "0" : "", width > 0 ? width : 0);
        snprintf(out, cap, fmt, n);
        return 0;
    }
    if (type == 0 && prec < 0) {
        char tmp[64];
        format_shortest(v, tmp, sizeof tmp);
        snprintf(out, cap, "%*s", width > 0 ? width : 0, tmp);
        return 0;
    }
    if (isnan(v)) { /* glibc may print "-nan"; Python prints "nan" */
        snprintf(out, cap, "%*s", width > 0 ? width : 0, "nan");
        return 0;
    }
    snprintf(fmt, sizeof fmt, "%%%s%d.%d%c", zero ? "0" : "", width > 0 ? width : 0,
             prec >= 0 ? prec : 6, type ? type : 'g');
    snprintf(out, cap, fmt, v);
    return 0;
}

int mc_name_format(const char *tmpl, int auto_insert, mc_lookup_fn lookup, void *user, char *out,
                   size_t cap, char *err, size_t errcap)
{
    sbuf b = {out, cap, 0, 0};
    const char *s = tmpl;
    if (cap == 0)
        return -1;
    out[0] = '\0';
    while (*s) {
        const char *close, *colon, *open2;
        char key[256], spec[64], val[128];
        size_t klen;
        int is_int = 1;
        int64_t i = 0;
        double d = 0.0;

        if (*s == '}') {
            seterr(err, errcap, "filename \"%s\": '}' without '{'", tmpl);
            return -1;
        }
        if (*s != '{') {
            if (*s == '/' || *s == '\\' || (s[0] == '.' && s[1] == '.')) {
                seterr(err, errcap,
                       "filename \"%s\": '/', '\\\\' and \"..\" are not allowed in the name "
                       "(put folders in dirpath)",
                       tmpl);
                return -1;
            }
            sb_put(&b, s, 1, 0);
            s++;
            continue;
        }
        close = strchr(s, '}');
        if (!close) {
            seterr(err, errcap, "filename \"%s\": '{' without '}'", tmpl);
            return -1;
        }
        colon = memchr(s, ':', (size_t)(close - s));
        klen = (size_t)((colon ? colon : close) - (s + 1));
        open2 = strchr(s + 1, '{');
        if (klen == 0 || klen >= sizeof key || (open2 && open2 < close)) {
            seterr(err, errcap, "filename \"%s\": bad field at offset %d", tmpl, (int)(s - tmpl));
            return -1;
        }
        memcpy(key, s + 1, klen);
        key[klen] = '\0';
        spec[0] = '\0';
        if (colon) {
            size_t slen = (size_t)(close - colon - 1);
            if (slen >= sizeof spec) {
                seterr(err, errcap, "filename \"%s\": format of {%s} too long", tmpl, key);
                return -1;
            }
            memcpy(spec, colon + 1, slen);
            spec[slen] = '\0';
        }
        if (lookup(user, key, &is_int, &i, &d) != 0) {
            is_int = 1;
            i = 0;
        }
        if (format_value(spec, is_int, i, d, val, sizeof val) != 0) {
            seterr(err, errcap,
                   "filename \"%s\": format \"%s\" of {%s}: expected [0][width][.precision]"
                   "[f|e|g|d]",
                   tmpl, spec, key);
            return -1;
        }
        if (auto_insert) {
            sb_put(&b, key, klen, 1);
            sb_put(&b, "=", 1, 0);
        }
        sb_put(&b, val, strlen(val), 1);
        s = close + 1;
    }
    if (b.overflow) {
        seterr(err, errcap, "filename \"%s\": the name is too long", tmpl);
        return -1;
    }
    if (b.len == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0 || strchr(out, '/')) {
        seterr(err, errcap, "filename \"%s\": gives the name \"%s\", not a file name", tmpl, out);
        return -1;
    }
    return 0;
}
