/* plugins/common/monitor.h — what EarlyStopping and ModelCheckpoint share about the value they
 * monitor: the default mode when the user omits it, and the "available keys" text for errors.
 *
 * Header-only (static inline), private to the reference plugins; built against the SDK alone. */
#ifndef LHP_MONITOR_H
#define LHP_MONITOR_H

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <lhost/lhost.h>

/* Mode when `mode` is omitted: the host's answer for the monitored key (the metric's
 * higher_is_better, or 0 for losses) when it has one; otherwise, for hosts without that
 * service or keys it does not know, the name decides: "max" when the key contains one of the
 * names of the reference metrics whose higher value is better, else "min". Returns 1 for max. */
static inline int lhp_mode_infer_max(const lhost_host *host, lhost_ctx *ctx, const char *monitor)
{
    static const char *const higher[] = {"acc", "precision", "recall", "f1", "fbeta",
                                         "specificity", NULL};
    char low[256];
    size_t k;
    int32_t hib;
    if (!monitor)
        return 0;
    if (LHOST_HOST_HAS(host, value_higher_is_better) &&
        host->value_higher_is_better(ctx, monitor, &hib) == LHOST_OK)
        return hib != 0;
    for (k = 0; monitor[k] && k + 1 < sizeof low; k++)
        low[k] = (char)tolower((unsigned char)monitor[k]);
    low[k] = '\0';
    for (k = 0; higher[k]; k++)
        if (strstr(low, higher[k]))
            return 1;
    return 0;
}

typedef struct lhp_keylist {
    char *buf;
    size_t cap, len;
    unsigned count;
} lhp_keylist;

static inline int32_t lhp_keylist_visit(void *user, const char *key, double value)
{
    lhp_keylist *kl = (lhp_keylist *)user;
    int n;
    (void)value;
    if (kl->len >= kl->cap)
        return 1;
    n = snprintf(kl->buf + kl->len, kl->cap - kl->len, "%s%s", kl->count ? ", " : "", key);
    if (n < 0 || (size_t)n >= kl->cap - kl->len) {
        kl->len = kl->cap; /* truncated: stop */
        return 1;
    }
    kl->len += (size_t)n;
    kl->count++;
    return 0;
}

/* Write the currently logged keys, comma-separated, into buf ("none" when there are none or
 * the host cannot list them). */
static inline void lhp_list_keys(const lhost_host *host, lhost_ctx *ctx, char *buf, size_t cap)
{
    lhp_keylist kl = {buf, cap, 0, 0};
    buf[0] = '\0';
    if (LHOST_HOST_HAS(host, list_values))
        host->list_values(ctx, lhp_keylist_visit, &kl);
    if (kl.count == 0)
        snprintf(buf, cap, "none");
}

/* Printf into a stack buffer and hand it to host->log / host->set_error. */
#define LHP_MSG_MAX 16384 /* room for two full paths */
#define LHP_LOG(host, ctx, level, ...)                                   \
    do {                                                                 \
        char lhp_msg_[LHP_MSG_MAX];                                      \
        snprintf(lhp_msg_, sizeof lhp_msg_, __VA_ARGS__);                \
        if (LHOST_HOST_HAS((host), log))                                 \
            (host)->log((ctx), (level), lhp_msg_);                       \
    } while (0)
#define LHP_ERROR(host, ctx, ...)                                        \
    do {                                                                 \
        char lhp_msg_[LHP_MSG_MAX];                                      \
        snprintf(lhp_msg_, sizeof lhp_msg_, __VA_ARGS__);                \
        if (LHOST_HOST_HAS((host), set_error))                           \
            (host)->set_error((ctx), lhp_msg_);                          \
    } while (0)

#endif
