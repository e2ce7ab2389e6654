/* host/config/config_emit.c — a config tree written back as YAML (`lhost train --print_config`).
 *
 * The tree keeps every scalar as text, so the YAML written here loads back (lh_config_load) to
 * the same keys in the same order, the same scalar texts and the same nulls. libyaml's emitter
 * picks the quoting a text needs (": ", "#", leading "-", flow indicators, line breaks); the one
 * thing it cannot know is that this loader reads plain ~, null, Null, NULL and the empty text as
 * null, so a string spelled like that is written double-quoted and a null as plain `null`.
 * A mapping or sequence of scalars that fits on a line is written in flow style
 * ({type: relu}, [1, 28, 28]), everything else in block style, as a person would write it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define LH_EMIT_FLOW_WIDTH 80 /* characters: wider collections of scalars go in block style */

typedef struct out_buf {
    char *data;
    size_t len, cap;
    int oom;
} out_buf;

/* [libyaml] Append what the emitter wrote to the buffer. Returns 1 on success, as libyaml wants. */
static int write_out(void *arg, unsigned char *bytes, size_t n)
{
    out_buf *b = arg;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = 1;
            return 0;
        }
        b->data = d, b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 1;
}

/* Texts the loader would read as null when plain. */
static int null_word(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static int emit_scalar(yaml_emitter_t *e, const char *text, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1,
                                      1, style))
        return 0;
    return yaml_emitter_emit(e, &ev);
}

/* A collection of scalars short enough for one line goes in flow style. */
static int flow_fits(const lh_config_node *n)
{
    size_t width = 2;
    for (int32_t i = 0; i < lh_config_len(n); i++) {
        const lh_config_node *kid = lh_config_at(n, i);
        const char *s = lh_config_scalar(kid);
        if (!s)
            return 0;
        width += (lh_config_is_null(kid) ? 4 : strlen(s)) + 2;
        if (lh_config_type(n) == LH_CFG_MAP)
            width += strlen(lh_config_key_at(n, i)) + 2;
    }
    return width <= LH_EMIT_FLOW_WIDTH;
}

static int emit_node(yaml_emitter_t *e, const lh_config_node *n, int in_flow)
{
    yaml_event_t ev;
    int flow, ok, map = lh_config_type(n) == LH_CFG_MAP;
    if (lh_config_type(n) == LH_CFG_SCALAR) {
        if (lh_config_is_null(n))
            return emit_scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
        /* a line break reads better as \n than as a folded single-quoted scalar */
        return emit_scalar(e, lh_config_scalar(n),
                           null_word(lh_config_scalar(n)) || strchr(lh_config_scalar(n), '\n')
                               ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                               : YAML_ANY_SCALAR_STYLE);
    }
    flow = in_flow || flow_fits(n);
    ok = map ? yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                   flow ? YAML_FLOW_MAPPING_STYLE
                                                        : YAML_BLOCK_MAPPING_STYLE)
             : yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                    flow ? YAML_FLOW_SEQUENCE_STYLE
                                                         : YAML_BLOCK_SEQUENCE_STYLE);
    if (!ok || !yaml_emitter_emit(e, &ev))
        return 0;
    for (int32_t i = 0; i < lh_config_len(n); i++) {
        if (map && !emit_scalar(e, lh_config_key_at(n, i), YAML_ANY_SCALAR_STYLE))
            return 0;
        if (!emit_node(e, lh_config_at(n, i), flow))
            return 0;
    }
    ok = map ? yaml_mapping_end_event_initialize(&ev) : yaml_sequence_end_event_initialize(&ev);
    return ok && yaml_emitter_emit(e, &ev);
}

char *lh_config_to_yaml(const lh_config_node *n, lh_error *err)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    out_buf b = {0};
    int ok;
    if (!yaml_emitter_initialize(&e)) {
        lh_error_set(err, "config: out of memory for the YAML emitter");
        return NULL;
    }
    yaml_emitter_set_output(&e, write_out, &b);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_indent(&e, 2);
    yaml_emitter_set_width(&e, -1); /* never fold a long scalar over lines */
    ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
         yaml_emitter_emit(&e, &ev) &&
         yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
         yaml_emitter_emit(&e, &ev) && emit_node(&e, n, 0) &&
         yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
         yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) &&
         yaml_emitter_flush(&e);
    if (!ok) {
        lh_error_set(err, "config %s: cannot write as YAML: %s", lh_config_where(n),
                     b.oom ? "out of memory" : e.problem ? e.problem : "emitter error");
        free(b.data);
        b.data = NULL;
    }
    yaml_emitter_delete(&e);
    return b.data;
}
