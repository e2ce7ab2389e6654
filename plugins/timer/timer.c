/* plugins/timer/timer.c — Lightning's Timer: stops the fit once its training time reaches
 * `duration`, given as "DD:HH:MM:SS" ("00:12:00:00") or as timedelta's keywords in a string
 * ("{hours: 1, minutes: 30}", "days=1, seconds=5"). The time is the monotonic clock's from
 * on_train_start, plus the time saved in a resumed checkpoint (the state holds the elapsed
 * seconds, as Lightning's state_dict "time_elapsed" does).
 *
 * interval "step" checks after every training batch and stops after that batch
 * (LHOST_STOP_NOW, Lightning's trainer.should_stop in a batch hook); "epoch" checks at each
 * epoch's end. A depleted timer restored on resume stops at once (on_fit_start). Config:
 *   callbacks: {timer: {duration: "00:00:30:00", interval: step}} */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lhost/lhost.h>

typedef struct timer {
    const lhost_host *host;
    double duration;   /* seconds; < 0: none */
    int32_t epoch;     /* interval: 0 step, 1 epoch */
    int32_t verbose;
    double start, end; /* monotonic seconds; 0 = not yet */
    double offset;     /* elapsed seconds restored from a checkpoint */
    double saved;      /* the bytes state_save hands out */
} timer;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* timedelta(**{key: value, ...}): "{hours: 1, minutes: 2.5}" or "hours=1, minutes=2.5". */
static int parse_keywords(const char *s, double *out)
{
    static const char *const names[] = {"weeks", "days", "hours", "minutes", "seconds",
                                        "milliseconds", "microseconds"};
    static const double unit[] = {604800, 86400, 3600, 60, 1, 1e-3, 1e-6};
    char key[32];
    double total = 0;
    int any = 0;
    while (*s == ' ' || *s == '{')
        s++;
    while (*s && *s != '}') {
        size_t n = 0, k;
        char *end;
        double v;
        while (isalpha((unsigned char)*s) && n + 1 < sizeof key)
            key[n++] = *s++;
        key[n] = '\0';
        while (*s == ' ')
            s++;
        if (*s != ':' && *s != '=')
            return -1;
        v = strtod(s + 1, &end);
        if (end == s + 1)
            return -1;
        for (k = 0; k < sizeof names / sizeof names[0] && strcmp(key, names[k]) != 0; k++)
            ;
        if (k == sizeof names / sizeof names[0])
            return -1;
        total += v * unit[k];
        any = 1;
        s = end;
        while (*s == ' ' || *s == ',')
            s++;
    }
    if (!any || (*s == '}' && s[1] != '\0'))
        return -1;
    *out = total;
    return 0;
}

/* Two digits at s, or -1. */
static int two(const char *s)
{
    return isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1])
               ? (s[0] - '0') * 10 + (s[1] - '0')
               : -1;
}

/* "DD:HH:MM:SS" as Lightning's regex (\d+):(\d\d):(\d\d):(\d\d) (surrounding blanks
 * stripped), else timedelta keywords. */
static int parse_duration(const char *s, double *out)
{
    const char *c;
    double days = 0;
    int h, m, sec;
    size_t n;
    while (*s == ' ')
        s++;
    if (!isdigit((unsigned char)*s))
        return parse_keywords(s, out);
    for (c = s; isdigit((unsigned char)*c); c++)
        days = days * 10 + (*c - '0');
    n = strlen(c);
    while (n > 0 && c[n - 1] == ' ')
        n--;
    if (n != 9 || c[0] != ':' || c[3] != ':' || c[6] != ':' || (h = two(c + 1)) < 0 ||
        (m = two(c + 4)) < 0 || (sec = two(c + 7)) < 0)
        return -1;
    *out = days * 86400 + h * 3600.0 + m * 60.0 + sec;
    return 0;
}

static int32_t tm_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *p,
                         void **self)
{
    timer *t;
    const char *d = lhost_param_string(p, "duration", NULL);
    if (!LHOST_HOST_HAS(host, request_stop_flags)) {
        host->set_error(ctx, "this host cannot stop inside an epoch (ABI 1.1 or newer needed)");
        return LHOST_ERROR;
    }
    if (!(t = host->alloc(sizeof *t)))
        return LHOST_ENOMEM;
    memset(t, 0, sizeof *t);
    t->host = host;
    t->duration = -1;
    if (d && parse_duration(d, &t->duration)) {
        char msg[256];
        snprintf(msg, sizeof msg, "duration \"%s\": expected DD:HH:MM:SS or timedelta keywords "
                                  "such as \"{hours: 1, minutes: 30}\"", d);
        host->set_error(ctx, msg);
        host->free(t);
        return LHOST_ERROR;
    }
    t->epoch = (int32_t)lhost_param_int(p, "interval", 0);
    t->verbose = (int32_t)lhost_param_int(p, "verbose", 1);
    *self = t;
    return LHOST_OK;
}

static void tm_destroy(void *self)
{
    timer *t = self;
    t->host->free(t);
}

/* Lightning's time_elapsed("train"). */
static double elapsed(const timer *t)
{
    if (t->start == 0)
        return t->offset;
    return (t->end != 0 ? t->end : now()) - t->start + t->offset;
}

static int32_t check(timer *t, lhost_ctx *ctx, uint32_t flags)
{
    double e = elapsed(t);
    char msg[160];
    long s;
    if (t->duration < 0 || e < t->duration)
        return LHOST_OK;
    s = (long)e;
    /* Python's str(timedelta(seconds=int(e))): "0:00:03", "1 day, 2:03:04" */
    if (s >= 86400)
        snprintf(msg, sizeof msg, "Time limit reached. Elapsed time is %ld day%s, %ld:%02ld:%02ld",
                 s / 86400, s / 86400 == 1 ? "" : "s", s % 86400 / 3600, s % 3600 / 60, s % 60);
    else
        snprintf(msg, sizeof msg, "Time limit reached. Elapsed time is %ld:%02ld:%02ld",
                 s / 3600, s % 3600 / 60, s % 60);
    if (t->verbose)
        t->host->log(ctx, LHOST_LOG_INFO, msg);
    return t->host->request_stop_flags(ctx, msg, flags);
}

static int32_t tm_fit_start(void *self, lhost_ctx *ctx)
{
    return check(self, ctx, LHOST_STOP_NOW);
}

static int32_t tm_train_start(void *self, lhost_ctx *ctx)
{
    timer *t = self;
    (void)ctx;
    t->start = now();
    t->end = 0;
    return LHOST_OK;
}

static int32_t tm_train_end(void *self, lhost_ctx *ctx)
{
    timer *t = self;
    (void)ctx;
    t->end = now();
    return LHOST_OK;
}

static int32_t tm_batch_end(void *self, lhost_ctx *ctx, const lhost_batch_info *batch)
{
    timer *t = self;
    (void)batch;
    return t->epoch ? LHOST_OK : check(t, ctx, LHOST_STOP_NOW);
}

static int32_t tm_epoch_end(void *self, lhost_ctx *ctx)
{
    timer *t = self;
    return t->epoch ? check(t, ctx, 0) : LHOST_OK;
}

static int32_t tm_state_save(void *self, lhost_ctx *ctx, const void **data, uint64_t *size)
{
    timer *t = self;
    (void)ctx;
    t->saved = elapsed(t);
    *data = &t->saved;
    *size = sizeof t->saved;
    return LHOST_OK;
}

static int32_t tm_state_restore(void *self, lhost_ctx *ctx, uint32_t version, const void *data,
                                uint64_t size)
{
    timer *t = self;
    (void)version;
    if (size != sizeof t->offset) {
        t->host->set_error(ctx, "timer state: expected 8 bytes (the elapsed seconds)");
        return LHOST_ERROR;
    }
    memcpy(&t->offset, data, sizeof t->offset);
    return LHOST_OK;
}

static const char *const intervals[] = {"step", "epoch", NULL};

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_STRING, "duration",
     "the time limit: DD:HH:MM:SS, or timedelta keywords \"{hours: 1, minutes: 30}\"", NULL,
     NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "interval",
     "check after every training step or at every epoch's end", "step", intervals, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "verbose", "say when the time limit is reached",
     "true", NULL, 0, 0, 0},
};

static const lhost_callback_vtable vtable = {
    .struct_size = sizeof(lhost_callback_vtable),
    .state_version = 1,
    .create = tm_create,
    .destroy = tm_destroy,
    .on_fit_start = tm_fit_start,
    .on_train_batch_end = tm_batch_end,
    .on_train_epoch_end = tm_epoch_end,
    .state_save = tm_state_save,
    .state_restore = tm_state_restore,
    .on_train_start = tm_train_start,
    .on_train_end = tm_train_end,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_CALLBACK, "org.lhost.timer", "timer", "1.0.0",
    "stop training when a time limit is reached (Lightning's Timer)", params,
    sizeof params / sizeof params[0], LHOST_PRIORITY_DEFAULT, &vtable,
};

LHOST_PLUGIN_LIBRARY(&desc);
