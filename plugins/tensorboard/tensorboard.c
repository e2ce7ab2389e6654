/* plugins/tensorboard/tensorboard.c — a logger plugin writing TensorBoard event files, as
 * Lightning's default TensorBoardLogger does:
 *
 *   loggers:
 *     tensorboard: {}            # default_hp_metric: true, flush_secs: 120
 *
 * The file is <run dir>/events.out.tfevents.<time>.<host>.<pid>.0 (the name TensorBoard's
 * EventFileWriter gives). It is a TFRecord stream: each record is its length (uint64, little
 * endian), the masked CRC32C of those 8 bytes, the bytes of one Event, and their masked CRC32C.
 * The first Event is file_version "brain.Event:2"; each logged value is then one Event with its
 * step and a Summary.Value (tag, simple_value), as SummaryWriter.add_scalar writes it, "epoch"
 * included as Lightning's logger connector adds it. log_hparams writes the HParams plugin's
 * experiment and session_start_info summaries and, with default_hp_metric, hp_metric = -1 at
 * step 0 (Lightning's placeholder); finalize writes session_end_info with the run's status.
 *
 * The Events are encoded with protobuf-c from tb_event.proto (TensorBoard's field numbers).
 * Output is buffered and flushed at each epoch's rows (a row holding a `val_`, `train_` or
 * `_epoch` key), after flush_secs seconds, and on finalize, so a crashed run keeps its epochs. */
#include <lhost/lhost.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tb_event.pb-c.h"

typedef struct tb {
    const lhost_host *host;
    char path[4400];
    FILE *f;
    int hp_metric;
    double flush_secs, last_flush;
} tb;

/* ---- TFRecord framing -------------------------------------------------------------------- */

static uint32_t crc_table[256];

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    if (!crc_table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t k = i;
            for (int j = 0; j < 8; j++)
                k = k & 1 ? (k >> 1) ^ 0x82F63B78u : k >> 1;
            crc_table[i] = k;
        }
    while (n--)
        c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t masked_crc(const uint8_t *p, size_t n)
{
    uint32_t c = crc32c(p, n);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int32_t fail(tb *t, lhost_ctx *ctx, const char *what)
{
    char msg[4600];
    snprintf(msg, sizeof msg, "%s: %s: %s", t->path, what, errno ? strerror(errno) : "I/O error");
    t->host->set_error(ctx, msg);
    return LHOST_ERROR;
}

/* One Event as one record. */
static int32_t write_event(tb *t, lhost_ctx *ctx, Lhtb__Event *ev)
{
    size_t n = lhtb__event__get_packed_size(ev);
    uint8_t head[12], tail[4], *buf = malloc(n ? n : 1);
    if (!buf) {
        t->host->set_error(ctx, "out of memory for an event");
        return LHOST_ERROR;
    }
    lhtb__event__pack(ev, buf);
    put_le(head, n, 8);
    put_le(head + 8, masked_crc(head, 8), 4);
    put_le(tail, masked_crc(buf, n), 4);
    errno = 0;
    int bad = fwrite(head, 1, 12, t->f) != 12 || fwrite(buf, 1, n, t->f) != n ||
              fwrite(tail, 1, 4, t->f) != 4;
    free(buf);
    return bad ? fail(t, ctx, "write failed") : LHOST_OK;
}

static int32_t write_scalar(tb *t, lhost_ctx *ctx, int64_t step, double wall, const char *tag,
                            double value)
{
    Lhtb__Event ev = LHTB__EVENT__INIT;
    Lhtb__Summary sum = LHTB__SUMMARY__INIT;
    Lhtb__Summary__Value v = LHTB__SUMMARY__VALUE__INIT, *vp = &v;
    v.tag = (char *)tag;
    v.value_case = LHTB__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
    v.simple_value = (float)value;
    sum.n_value = 1;
    sum.value = &vp;
    ev.wall_time = wall;
    ev.step = step;
    ev.what_case = LHTB__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return write_event(t, ctx, &ev);
}

/* An HParams plugin summary: tag _hparams_/<name>, no value, the plugin data as metadata. */
static int32_t write_hparams_data(tb *t, lhost_ctx *ctx, const char *name,
                                  const Lhtb__HParamsPluginData *data)
{
    Lhtb__Event ev = LHTB__EVENT__INIT;
    Lhtb__Summary sum = LHTB__SUMMARY__INIT;
    Lhtb__Summary__Value v = LHTB__SUMMARY__VALUE__INIT, *vp = &v;
    Lhtb__SummaryMetadata md = LHTB__SUMMARY_METADATA__INIT;
    Lhtb__SummaryMetadata__PluginData pd = LHTB__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    char tag[64];
    size_t n = lhtb__hparams_plugin_data__get_packed_size(data);
    uint8_t *content = malloc(n ? n : 1);
    int32_t rc;
    if (!content) {
        t->host->set_error(ctx, "out of memory for hparams");
        return LHOST_ERROR;
    }
    lhtb__hparams_plugin_data__pack(data, content);
    snprintf(tag, sizeof tag, "_hparams_/%s", name);
    pd.plugin_name = "hparams";
    pd.content.len = n;
    pd.content.data = content;
    md.plugin_data = &pd;
    v.tag = tag;
    v.metadata = &md;
    sum.n_value = 1;
    sum.value = &vp;
    ev.wall_time = wall_now();
    ev.what_case = LHTB__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    rc = write_event(t, ctx, &ev);
    free(content);
    return rc;
}

static int32_t flush(tb *t, lhost_ctx *ctx)
{
    errno = 0;
    t->last_flush = wall_now();
    return fflush(t->f) ? fail(t, ctx, "write failed") : LHOST_OK;
}

/* ---- the plugin -------------------------------------------------------------------------- */

static int32_t tb_create(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,
                         void **self)
{
    tb *t = (tb *)calloc(1, sizeof *t);
    if (!t) {
        host->set_error(ctx, "out of memory");
        return LHOST_ERROR;
    }
    t->host = host;
    t->hp_metric = (int)lhost_param_int(pv, "default_hp_metric", 1);
    t->flush_secs = lhost_param_float(pv, "flush_secs", 120);
    *self = t;
    return LHOST_OK;
}

static void tb_destroy(void *self)
{
    tb *t = (tb *)self;
    if (t->f)
        fclose(t->f);
    free(t);
}

/* An hparam's text as the value Lightning would hand TensorBoard: a number, a bool or text. */
static void hparam_value(const char *s, Lhtb__PbValue *v, int32_t *type)
{
    char *end;
    double d = strtod(s, &end);
    if (*s && !*end && end != s) {
        v->kind_case = LHTB__PB_VALUE__KIND_NUMBER_VALUE, v->number_value = d, *type = 3;
    } else if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        v->kind_case = LHTB__PB_VALUE__KIND_BOOL_VALUE, v->bool_value = s[0] == 't', *type = 2;
    } else {
        v->kind_case = LHTB__PB_VALUE__KIND_STRING_VALUE, v->string_value = (char *)s, *type = 1;
    }
}

static int32_t write_hparams(tb *t, lhost_ctx *ctx, uint32_t count, const char *const *keys,
                             const char *const *values)
{
    Lhtb__HParamsPluginData exp_d = LHTB__HPARAMS_PLUGIN_DATA__INIT;
    Lhtb__HParamsPluginData ssi_d = LHTB__HPARAMS_PLUGIN_DATA__INIT;
    Lhtb__Experiment exp = LHTB__EXPERIMENT__INIT;
    Lhtb__SessionStartInfo ssi = LHTB__SESSION_START_INFO__INIT;
    Lhtb__MetricName mname = LHTB__METRIC_NAME__INIT;
    Lhtb__MetricInfo minfo = LHTB__METRIC_INFO__INIT, *mp = &minfo;
    Lhtb__HParamInfo *infos = calloc(count + 1, sizeof *infos), **info_p;
    Lhtb__PbValue *vals = calloc(count + 1, sizeof *vals);
    Lhtb__SessionStartInfo__HparamsEntry *ents = calloc(count + 1, sizeof *ents), **ent_p;
    int32_t rc = LHOST_ERROR;
    info_p = calloc(count + 1, sizeof *info_p);
    ent_p = calloc(count + 1, sizeof *ent_p);
    if (!infos || !vals || !ents || !info_p || !ent_p) {
        t->host->set_error(ctx, "out of memory for hparams");
        goto done;
    }
    for (uint32_t i = 0; i < count; i++) {
        lhtb__hparam_info__init(&infos[i]);
        lhtb__pb_value__init(&vals[i]);
        lhtb__session_start_info__hparams_entry__init(&ents[i]);
        infos[i].name = (char *)keys[i];
        hparam_value(values[i], &vals[i], &infos[i].type);
        ents[i].key = (char *)keys[i];
        ents[i].value = &vals[i];
        info_p[i] = &infos[i];
        ent_p[i] = &ents[i];
    }
    exp.n_hparam_infos = count;
    exp.hparam_infos = info_p;
    if (t->hp_metric) {
        mname.tag = "hp_metric";
        minfo.name = &mname;
        exp.n_metric_infos = 1;
        exp.metric_infos = &mp;
    }
    exp_d.data_case = LHTB__HPARAMS_PLUGIN_DATA__DATA_EXPERIMENT;
    exp_d.experiment = &exp;
    ssi.n_hparams = count;
    ssi.hparams = ent_p;
    ssi.start_time_secs = wall_now();
    ssi_d.data_case = LHTB__HPARAMS_PLUGIN_DATA__DATA_SESSION_START_INFO;
    ssi_d.session_start_info = &ssi;
    rc = write_hparams_data(t, ctx, "experiment", &exp_d);
    if (rc == LHOST_OK)
        rc = write_hparams_data(t, ctx, "session_start_info", &ssi_d);
done:
    free(infos);
    free(vals);
    free(ents);
    free(info_p);
    free(ent_p);
    return rc;
}

static int32_t tb_hparams(void *self, lhost_ctx *ctx, const char *run_dir, uint32_t count,
                          const char *const *keys, const char *const *values)
{
    tb *t = (tb *)self;
    char host[256] = "localhost";
    Lhtb__Event ev = LHTB__EVENT__INIT;
    if (t->f) /* a second call (a second fit) goes on in the same file */
        return write_hparams(t, ctx, count, keys, values);
    gethostname(host, sizeof host - 1);
    snprintf(t->path, sizeof t->path, "%s/events.out.tfevents.%010lld.%s.%ld.0", run_dir,
             (long long)time(NULL), host, (long)getpid());
    errno = 0;
    if (!(t->f = fopen(t->path, "wb")))
        return fail(t, ctx, "cannot create");
    ev.wall_time = wall_now();
    ev.what_case = LHTB__EVENT__WHAT_FILE_VERSION;
    ev.file_version = "brain.Event:2";
    if (write_event(t, ctx, &ev) || write_hparams(t, ctx, count, keys, values) ||
        (t->hp_metric && write_scalar(t, ctx, 0, wall_now(), "hp_metric", -1)))
        return LHOST_ERROR;
    return flush(t, ctx);
}

/* A row of an epoch's values, the point at which Lightning's loggers save. */
static int epoch_row(const lhost_log_row *row)
{
    for (uint32_t k = 0; k < row->count; k++) {
        const char *key = row->keys[k];
        size_t n = strlen(key);
        if (strncmp(key, "val_", 4) == 0 || strncmp(key, "train_", 6) == 0 ||
            (n > 6 && strcmp(key + n - 6, "_epoch") == 0))
            return 1;
    }
    return 0;
}

static int32_t tb_row(void *self, lhost_ctx *ctx, const lhost_log_row *row)
{
    tb *t = (tb *)self;
    double wall = wall_now();
    if (!t->f) {
        t->host->set_error(ctx, "log_row before log_hparams");
        return LHOST_ERROR;
    }
    for (uint32_t k = 0; k < row->count; k++)
        if (write_scalar(t, ctx, row->step, wall, row->keys[k], row->values[k]))
            return LHOST_ERROR;
    if (write_scalar(t, ctx, row->step, wall, "epoch", (double)row->epoch))
        return LHOST_ERROR;
    if (epoch_row(row) || wall - t->last_flush >= t->flush_secs)
        return flush(t, ctx);
    return LHOST_OK;
}

static int32_t tb_finalize(void *self, lhost_ctx *ctx, const char *status)
{
    tb *t = (tb *)self;
    Lhtb__HParamsPluginData d = LHTB__HPARAMS_PLUGIN_DATA__INIT;
    Lhtb__SessionEndInfo sei = LHTB__SESSION_END_INFO__INIT;
    int32_t rc;
    int bad;
    if (!t->f)
        return LHOST_OK;
    sei.status = strcmp(status, "success") == 0 ? 1 : 2; /* STATUS_SUCCESS, STATUS_FAILURE */
    sei.end_time_secs = wall_now();
    d.data_case = LHTB__HPARAMS_PLUGIN_DATA__DATA_SESSION_END_INFO;
    d.session_end_info = &sei;
    rc = write_hparams_data(t, ctx, "session_end_info", &d);
    errno = 0;
    bad = fclose(t->f) != 0;
    t->f = NULL;
    if (rc)
        return rc;
    return bad ? fail(t, ctx, "write failed") : LHOST_OK;
}

static const lhost_param params[] = {
    {sizeof(lhost_param), LHOST_PARAM_BOOL, "default_hp_metric",
     "log hp_metric = -1 with the hparams, Lightning's placeholder for the HParams view", "true",
     NULL, 0, 0, 0},
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "flush_secs",
     "write buffered events out at least this often (seconds)", "120", NULL, 0, 0,
     LHOST_PARAM_HAS_MIN},
};

static const lhost_logger_vtable vtable = {
    sizeof(lhost_logger_vtable), tb_create, tb_destroy, tb_hparams, tb_row, tb_finalize,
};

static const lhost_plugin_desc desc = {
    sizeof(lhost_plugin_desc), LHOST_KIND_LOGGER, "org.lhost.tensorboard", "tensorboard",
    "1.0.0", "TensorBoard event files (scalars and hparams) in the run's folder", params, 2,
    LHOST_PRIORITY_DEFAULT, &vtable,
};

LHOST_PLUGIN_LIBRARY(&desc);
