/* host/config/config.c — YAML config tree and dotted overrides (see config.h). */
#include "config.h"
#include "paths.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define LH_CFG_MAX_DEPTH 64

struct lh_config_node {
    int type;
    int is_null;
    char *scalar;   /* LH_CFG_SCALAR: text ("" for null) */
    char **keys;    /* LH_CFG_MAP: keys[i] names kids[i] */
    lh_config_node **kids;
    int32_t n, cap;
    char *where;
    char *path;
};

struct lh_config {
    lh_config_node *root;
};

/* ---- nodes ------------------------------------------------------------------------------- */

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static void node_free(lh_config_node *n)
{
    if (!n)
        return;
    for (int32_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        node_free(n->kids[i]);
    }
    free(n->keys);
    free(n->kids);
    free(n->scalar);
    free(n->where);
    free(n->path);
    free(n);
}

/* Path of a child: "parent.part" or "part" under the root. */
static char *child_path(const char *parent, const char *part)
{
    return *parent ? dupf("%s.%s", parent, part) : strdup(part);
}

static lh_config_node *node_new(int type, const char *where, const char *path)
{
    lh_config_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = type;
    n->where = strdup(where);
    n->path = strdup(path);
    if (!n->where || !n->path) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* Append kid (and key, for a mapping). Takes ownership of both, even on failure. */
static int node_append(lh_config_node *n, char *key, lh_config_node *kid)
{
    if (n->n == n->cap) {
        int32_t cap = n->cap ? 2 * n->cap : 8;
        lh_config_node **kids = realloc(n->kids, (size_t)cap * sizeof *kids);
        if (kids)
            n->kids = kids;
        char **keys = n->type == LH_CFG_MAP ? realloc(n->keys, (size_t)cap * sizeof *keys) : NULL;
        if (keys)
            n->keys = keys;
        if (!kids || (n->type == LH_CFG_MAP && !keys)) {
            free(key);
            node_free(kid);
            return -1;
        }
        n->cap = cap;
    }
    if (n->type == LH_CFG_MAP)
        n->keys[n->n] = key;
    else
        free(key);
    n->kids[n->n++] = kid;
    return 0;
}

static int32_t map_find(const lh_config_node *m, const char *key, size_t len)
{
    for (int32_t i = 0; i < m->n; i++)
        if (strlen(m->keys[i]) == len && strncmp(m->keys[i], key, len) == 0)
            return i;
    return -1;
}

/* A sequence index: all digits, no leading zero (except "0"). -1 if not one. */
static int64_t parse_index(const char *s, size_t len)
{
    if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* ---- errors ------------------------------------------------------------------------------- */

int lh_config_error(const lh_config_node *n, lh_error *err, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && *n->path)
        return lh_error_set(err, "config %s: %s: %s", n->where, n->path, msg);
    return lh_error_set(err, "config %s: %s", n ? n->where : "?", msg);
}

/* How a value is described in "got ..." */
static void describe(const lh_config_node *n, char *buf, size_t len)
{
    if (n->type == LH_CFG_MAP)
        snprintf(buf, len, "a mapping");
    else if (n->type == LH_CFG_SEQ)
        snprintf(buf, len, "a sequence");
    else if (n->is_null)
        snprintf(buf, len, "null");
    else
        snprintf(buf, len, "\"%.200s\"", n->scalar);
}

/* ---- YAML -> tree ------------------------------------------------------------------------- */

typedef struct builder {
    yaml_parser_t parser;
    const char *name;  /* file name for "name:line" */
    const char *where; /* fixed where (command line), or NULL to use name:line */
    lh_error *err;
    const unsigned char *text; /* the whole input, so a reader error can be placed */
    size_t len;
    int depth0;        /* the document's depth in the tree: an override's value sits at its key's */
} builder;

/* libyaml places a reader error (a NUL or other control character, bad UTF-8) by byte offset
 * only, with line 0: turn the offset into the line and column (in characters) it is at. */
static int reader_error(builder *b)
{
    size_t off = b->parser.problem_offset, line = 1, col = 1, i;
    int v = b->parser.problem_value;
    for (i = 0; i < off && i < b->len; i++) {
        if (b->text[i] == '\n')
            line++, col = 1;
        else if ((b->text[i] & 0xC0) != 0x80) /* count characters, not UTF-8 continuations */
            col++;
    }
    char value[32] = ""; /* the octet or code point, when libyaml names one (-1: none) */
    if (v >= 0)
        snprintf(value, sizeof value, "0x%02x ", (unsigned)v);
    if (b->where)
        return lh_error_set(b->err, "config %s: %s (%sat byte %zu): expected UTF-8 text",
                            b->where, b->parser.problem, value, off);
    return lh_error_set(b->err, "config %s:%zu:%zu: %s (%sat byte %zu): expected UTF-8 text",
                        b->name, line, col, b->parser.problem, value, off);
}

static int next_event(builder *b, yaml_event_t *ev)
{
    if (yaml_parser_parse(&b->parser, ev))
        return 0;
    if (b->parser.error == YAML_READER_ERROR && b->parser.problem)
        return reader_error(b);
    if (b->where)
        return lh_error_set(b->err, "config %s: YAML syntax error: %s", b->where,
                            b->parser.problem ? b->parser.problem : "unknown");
    return lh_error_set(b->err, "config %s:%zu: YAML syntax error: %s", b->name,
                        b->parser.problem_mark.line + 1,
                        b->parser.problem ? b->parser.problem : "unknown");
}

static char *where_of(builder *b, const yaml_mark_t *m)
{
    return b->where ? strdup(b->where) : dupf("%s:%zu", b->name, m->line + 1);
}

static int is_null_scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
           !strcmp(v, "NULL");
}

/* A scalar node. A plain empty, ~ or null scalar is YAML's null, kept as "" with is_null set so
 * readers can tell "unset" from the string "null" (which a user would have to quote). */
static lh_config_node *build_scalar(const yaml_event_t *ev, const char *where, const char *path)
{
    lh_config_node *n = node_new(LH_CFG_SCALAR, where, path);
    if (!n)
        return NULL;
    n->is_null = is_null_scalar(ev);
    n->scalar = strdup(n->is_null ? "" : (const char *)ev->data.scalar.value);
    if (!n->scalar) {
        node_free(n);
        return NULL;
    }
    return n;
}

static lh_config_node *build(builder *b, yaml_event_t *ev, const char *where, const char *path,
                          int depth);

/* Read the next event and build the node it starts, at `where`/`path`. A mapping value uses this
 * with its key's where, since the key's line is the one a user looks for. */
static lh_config_node *build_next(builder *b, const char *where, const char *path, int depth)
{
    yaml_event_t ev;
    if (next_event(b, &ev) < 0)
        return NULL;
    lh_config_node *n = build(b, &ev, where, path, depth);
    yaml_event_delete(&ev);
    return n;
}

/* Fill sequence n with its items up to the end event. Each item is named by its index
 * ("callbacks.0") and placed at its own line. -1 leaves err set, or empty for out of memory. */
static int build_seq_items(builder *b, lh_config_node *n, int depth)
{
    yaml_event_t ev;
    char idx[64];
    for (;;) {
        if (next_event(b, &ev) < 0)
            return -1;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        snprintf(idx, sizeof idx, "%d", (int)n->n);
        char *kw = where_of(b, &ev.start_mark), *kp = child_path(n->path, idx);
        lh_config_node *kid = kw && kp ? build(b, &ev, kw, kp, depth + 1) : NULL;
        yaml_event_delete(&ev);
        free(kw);
        free(kp);
        if (!kid || node_append(n, NULL, kid) < 0)
            return -1;
    }
}

/* Add one "key: value" entry to mapping n, starting at its key event `kev` (consumed). Keys
 * must be scalars (lookups are by dotted text) and unique: YAML would let a later duplicate win
 * silently, hiding a typo or a merge mistake, so both lines are named instead. */
static int build_map_entry(builder *b, lh_config_node *n, yaml_event_t *kev, int depth)
{
    char *kw = where_of(b, &kev->start_mark);
    if (kev->type != YAML_SCALAR_EVENT) {
        lh_error_set(b->err, "config %s: %s%smapping keys must be scalars", kw ? kw : "?",
                     n->path, *n->path ? ": " : "");
        yaml_event_delete(kev);
        free(kw);
        return -1;
    }
    char *key = strdup((const char *)kev->data.scalar.value);
    yaml_event_delete(kev);
    char *kp = key ? child_path(n->path, key) : NULL;
    int32_t dup = key ? map_find(n, key, strlen(key)) : -1;
    if (dup >= 0) {
        lh_error_set(b->err, "config %s: %s: duplicate key (first at %s)", kw, kp,
                     n->kids[dup]->where);
        free(kw);
        free(kp);
        free(key);
        return -1;
    }
    lh_config_node *kid = kw && kp ? build_next(b, kw, kp, depth + 1) : NULL;
    free(kw);
    free(kp);
    if (!kid) {
        free(key);
        return -1;
    }
    return node_append(n, key, kid);
}

/* Fill mapping n with its entries up to the end event; -1 as for build_seq_items. */
static int build_map_entries(builder *b, lh_config_node *n, int depth)
{
    yaml_event_t kev;
    for (;;) {
        if (next_event(b, &kev) < 0)
            return -1;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        if (build_map_entry(b, n, &kev, depth) < 0)
            return -1;
    }
}

/* Build the node that starts with `ev` (consumed). `where` is the node's where string (owned by
 * the caller), path its dotted path. Depth is capped so a hostile file cannot exhaust the stack
 * through recursion; aliases are refused because expanding them lets a small file grow without
 * bound (and the tree has no shared nodes). A step that fails without a message ran out of
 * memory, which is reported here, once, at the node being built. */
static lh_config_node *build(builder *b, yaml_event_t *ev, const char *where, const char *path,
                          int depth)
{
    lh_config_node *n = NULL;
    int rc = 0;

    if (depth > LH_CFG_MAX_DEPTH) {
        lh_error_set(b->err, "config %s: %s: nested deeper than %d levels", where, path,
                     LH_CFG_MAX_DEPTH);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = build_scalar(ev, where, path);
        break;
    case YAML_SEQUENCE_START_EVENT:
        n = node_new(LH_CFG_SEQ, where, path);
        rc = n ? build_seq_items(b, n, depth) : 0;
        break;
    case YAML_MAPPING_START_EVENT:
        n = node_new(LH_CFG_MAP, where, path);
        rc = n ? build_map_entries(b, n, depth) : 0;
        break;
    case YAML_ALIAS_EVENT:
        lh_error_set(b->err, "config %s: %s%saliases (*%s) are not supported", where, path,
                     *path ? ": " : "", (const char *)ev->data.alias.anchor);
        return NULL;
    default:
        lh_error_set(b->err, "config %s: unexpected YAML event", where);
        return NULL;
    }
    if (rc < 0) {
        node_free(n);
        n = NULL;
    }
    if (!n && !b->err->msg[0])
        lh_error_set(b->err, "config %s: out of memory", where);
    return n;
}

/* Parse one YAML document from an initialised parser. An empty stream gives a null scalar. */
static lh_config_node *parse_doc(builder *b, const char *root_path)
{
    yaml_event_t ev;
    lh_config_node *root = NULL;
    b->err->msg[0] = '\0';
    for (;;) {
        if (next_event(b, &ev) < 0)
            goto fail;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT ||
            t == YAML_DOCUMENT_END_EVENT) {
            if (t == YAML_DOCUMENT_START_EVENT && root) {
                char *w = where_of(b, &ev.start_mark);
                lh_error_set(b->err, "config %s: only one YAML document is allowed", w ? w : "?");
                free(w);
                yaml_event_delete(&ev);
                goto fail;
            }
            yaml_event_delete(&ev);
            continue;
        }
        char *w = where_of(b, &ev.start_mark);
        root = w ? build(b, &ev, w, root_path, b->depth0) : NULL;
        free(w);
        yaml_event_delete(&ev);
        if (!root)
            goto fail;
    }
    if (!root) {
        char *w = b->where ? strdup(b->where) : dupf("%s:1", b->name);
        root = w ? node_new(LH_CFG_SCALAR, w, root_path) : NULL;
        free(w);
        if (root) {
            root->is_null = 1;
            root->scalar = strdup("");
        }
        if (!root || !root->scalar) {
            node_free(root);
            lh_error_set(b->err, "config %s: out of memory", b->name);
            return NULL;
        }
    }
    return root;
fail:
    node_free(root);
    return NULL;
}

/* Wrap a parsed top level into a config: it must be a mapping (or empty). */
static int finish_load(lh_config **out, lh_config_node *root, lh_error *err)
{
    if (root->type == LH_CFG_SCALAR && root->is_null) {
        root->type = LH_CFG_MAP;
        free(root->scalar);
        root->scalar = NULL;
        root->is_null = 0;
    }
    if (root->type != LH_CFG_MAP) {
        char got[256];
        describe(root, got, sizeof got);
        lh_config_error(root, err, "expected a mapping at the top level, got %s", got);
        node_free(root);
        return -1;
    }
    *out = calloc(1, sizeof **out);
    if (!*out) {
        node_free(root);
        return lh_error_set(err, "config: out of memory");
    }
    (*out)->root = root;
    return 0;
}

/* Parse `len` bytes of YAML named `name` (where: fixed place for messages, or NULL). */
static lh_config_node *parse_text(const char *name, const char *where, const char *text,
                                  size_t len, const char *root_path, int depth0, lh_error *err)
{
    builder b = {.name = name, .where = where, .err = err, .text = (const unsigned char *)text,
                 .len = len, .depth0 = depth0};
    if (!yaml_parser_initialize(&b.parser)) {
        lh_error_set(err, "config %s: out of memory", name);
        return NULL;
    }
    yaml_parser_set_input_string(&b.parser, b.text, len);
    lh_config_node *root = parse_doc(&b, root_path);
    yaml_parser_delete(&b.parser);
    return root;
}

#define LH_CFG_MAX_BYTES (16 << 20) /* a config is a page of text; refuse what cannot be one */

int lh_config_load(lh_config **out, const char *path, lh_error *err)
{
    lh_error local;
    char why[300], *text = NULL;
    size_t len = 0, cap = 0;
    if (!err)
        err = &local;
    *out = NULL;
    if (!path)
        return lh_config_load_string(out, "(none)", "", err);
    FILE *f = lh_paths_fopen_regular(path, why, sizeof why);
    if (!f)
        return lh_error_set(err, "config %s: %s%s", path, why,
                            strncmp(why, "not a", 5) == 0 ? ", expected a YAML file" : "");
    /* Read whole: the bytes are needed to place a reader error at its line and column. */
    for (;;) {
        if (len == cap) {
            int too_big = cap >= LH_CFG_MAX_BYTES;
            char *t = too_big ? NULL : realloc(text, cap ? 2 * cap : 8192);
            if (!t) {
                free(text);
                fclose(f);
                if (too_big)
                    return lh_error_set(err, "config %s: larger than %d bytes", path,
                                        LH_CFG_MAX_BYTES);
                return lh_error_set(err, "config %s: out of memory", path);
            }
            text = t;
            cap = cap ? 2 * cap : 8192;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(text);
        fclose(f);
        return lh_error_set(err, "config %s: read error: %s", path, strerror(e));
    }
    fclose(f);
    lh_config_node *root = parse_text(path, NULL, text, len, "", 0, err);
    free(text);
    if (!root)
        return -1;
    return finish_load(out, root, err);
}

int lh_config_load_string(lh_config **out, const char *name, const char *yaml, lh_error *err)
{
    lh_error local;
    if (!err)
        err = &local;
    *out = NULL;
    lh_config_node *root = parse_text(name, NULL, yaml, strlen(yaml), "", 0, err);
    if (!root)
        return -1;
    return finish_load(out, root, err);
}

void lh_config_free(lh_config *cfg)
{
    if (!cfg)
        return;
    node_free(cfg->root);
    free(cfg);
}

/* ---- overrides ---------------------------------------------------------------------------- */

/* A plugin's parameter: <section>.<instance>.<param> under metrics, callbacks or loggers. Every
 * plugin parameter is a single value (host/train/trainer_setup.c refuses anything else). */
static int is_plugin_param(const char *path)
{
    static const char *const sections[] = {"metrics.", "callbacks.", "loggers."};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
        size_t n = strlen(sections[i]);
        const char *dot;
        if (strncmp(path, sections[i], n) == 0 && (dot = strchr(path + n, '.')) &&
            dot > path + n && dot[1] && !strchr(dot + 1, '.'))
            return 1;
    }
    return 0;
}

/* Parse an override value into a node with the given where/path. A value in brackets or quotes
 * is YAML (a list, a map, a quoted string), except for a plugin parameter, which only takes a
 * single value: there "{epoch}-{step}" or "[x]" is the text itself, and quotes are removed only
 * when they make a valid YAML string. The value sits `depth` deep in the tree (so key and value
 * together nest no deeper than a file may). */
static lh_config_node *override_value(const char *value, const char *where, const char *path,
                                      int depth, lh_error *err)
{
    int flow = value[0] == '[' || value[0] == '{', quoted = value[0] == '"' || value[0] == '\'';
    int plugin = is_plugin_param(path);
    if ((flow && !plugin) || quoted) {
        lh_error local = {{0}};
        lh_config_node *n = parse_text(where, where, value, strlen(value), path, depth,
                                       plugin ? &local : err);
        if (!plugin || (n && n->type == LH_CFG_SCALAR))
            return n;
        node_free(n); /* not a single quoted string: keep the text as it is */
    }
    lh_config_node *n = node_new(LH_CFG_SCALAR, where, path);
    if (n) {
        n->is_null = !*value || !strcmp(value, "~") || !strcmp(value, "null") ||
                     !strcmp(value, "Null") || !strcmp(value, "NULL");
        n->scalar = strdup(n->is_null ? "" : value);
    }
    if (!n || !n->scalar) {
        node_free(n);
        lh_error_set(err, "config %s: out of memory", where);
        return NULL;
    }
    return n;
}

/* One --key.path=value argument, split once so each step sees the same pieces. */
typedef struct override_arg {
    const char *where; /* "command line (--a.b=1)", for every message */
    const char *key;   /* "a.b", not NUL-terminated: klen bytes */
    size_t klen;
    const char *value; /* "1" */
    int depth;         /* the key's dotted parts: how deep the value sits */
    lh_error *err;
} override_arg;

/* Where `part` goes in `cur`: the index of an existing child, or -1 to add one. A sequence takes
 * an index up to its length, the length itself appending, so a list can grow one item at a time;
 * anything further would leave a hole. */
static int override_slot(const override_arg *ov, const lh_config_node *cur, const char *part,
                         size_t plen, const char *path, int32_t *slot)
{
    if (cur->type == LH_CFG_MAP) {
        *slot = map_find(cur, part, plen);
        return 0;
    }
    int64_t idx = parse_index(part, plen); /* LH_CFG_SEQ */
    if (idx < 0 || idx > cur->n)
        return lh_error_set(
            ov->err, "config %s: %s: expected an index 0..%d into %s (a sequence of %d)", ov->where,
            path, (int)cur->n, *cur->path ? cur->path : "the top level", (int)cur->n);
    *slot = idx < cur->n ? (int32_t)idx : -1;
    return 0;
}

/* The node to put at `path` in place of `old` (NULL if nothing is there): the value itself for
 * the key's last part, whatever it replaces; else a new mapping to go on in, where `old` can only
 * be a scalar (containers are walked into). Only a null becomes a mapping, since replacing a set
 * scalar would silently drop a value the file gave. */
static lh_config_node *override_kid(const override_arg *ov, const lh_config_node *old, int last,
                                    const char *path)
{
    if (last)
        return override_value(ov->value, ov->where, path, ov->depth, ov->err);
    if (old && !old->is_null) {
        lh_error_set(ov->err, "config %s: %s: is a scalar (\"%.200s\" from %s), cannot set "
                     "%.*s in it", ov->where, path, old->scalar, old->where, (int)ov->klen,
                     ov->key);
        return NULL;
    }
    lh_config_node *kid = node_new(LH_CFG_MAP, ov->where, path);
    if (!kid)
        lh_error_set(ov->err, "config %s: out of memory", ov->where);
    return kid;
}

/* Put kid into cur: over the child at slot, or appended under key. Takes both kid and key. */
static int override_put(const override_arg *ov, lh_config_node *cur, int32_t slot, char *key,
                        lh_config_node *kid)
{
    if (slot >= 0) {
        node_free(cur->kids[slot]);
        cur->kids[slot] = kid;
        free(key);
        return 0;
    }
    if (node_append(cur, key, kid) < 0)
        return lh_error_set(ov->err, "config %s: out of memory", ov->where);
    return 0;
}

/* Apply the key part at *part inside *cur: walk into an existing mapping or sequence, or put a
 * new node there. Returns 1 with *cur and *part moved to the next part, 0 once the value is set,
 * -1 on error. */
static int override_part(const override_arg *ov, lh_config_node **cur, const char **part)
{
    size_t rest = ov->klen - (size_t)(*part - ov->key);
    const char *dot = memchr(*part, '.', rest);
    size_t plen = dot ? (size_t)(dot - *part) : rest;
    char *pstr = strndup(*part, plen);
    if (!pstr)
        return lh_error_set(ov->err, "config %s: out of memory", ov->where);
    if (plen == 0) {
        free(pstr);
        return lh_error_set(ov->err, "config %s: empty part in key %.*s", ov->where,
                            (int)ov->klen, ov->key);
    }
    char *path = child_path((*cur)->path, pstr);
    if (!path) {
        free(pstr);
        return lh_error_set(ov->err, "config %s: out of memory", ov->where);
    }
    int32_t slot = -1;
    if (override_slot(ov, *cur, *part, plen, path, &slot) < 0) {
        free(pstr);
        free(path);
        return -1;
    }
    lh_config_node *old = slot >= 0 ? (*cur)->kids[slot] : NULL, *kid = old;
    if (dot && old && (old->type == LH_CFG_MAP || old->type == LH_CFG_SEQ)) {
        free(pstr); /* walk into it */
    } else {
        kid = override_kid(ov, old, !dot, path);
        if (!kid || override_put(ov, *cur, slot, pstr, kid) < 0) {
            if (!kid)
                free(pstr);
            free(path);
            return -1;
        }
    }
    free(path);
    if (!dot)
        return 0;
    *cur = kid;
    *part = dot + 1;
    return 1;
}

/* Split the argument at its first '=' (a value may hold more), then walk the key one dotted part
 * at a time. */
/* The offset of the first byte of s that does not begin UTF-8 as YAML reads it (a code point up
 * to U+10FFFF, no surrogate, no overlong form), or -1. An override is held to what a file is, so
 * the tree it makes emits as YAML that loads back (libyaml's emitter would escape U+18B35E as
 * "\U0018B35E", which its reader refuses). */
static long utf8_bad(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                                         : (c & 0xF8) == 0xF0 ? 3 : 4;
        unsigned long v = n == 0 ? c : c & (0x3Fu >> n);
        if (n == 4)
            return (long)(p - (const unsigned char *)s);
        for (unsigned k = 1; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80) /* a NUL ends the loop here too */
                return (long)(p - (const unsigned char *)s);
            v = v << 6 | (p[k] & 0x3Fu);
        }
        if ((n == 1 && v < 0x80) || (n == 2 && v < 0x800) || (n == 3 && v < 0x10000) ||
            v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return (long)(p - (const unsigned char *)s);
        p += n + 1;
    }
    return -1;
}

int lh_config_override(lh_config *cfg, const char *arg, lh_error *err)
{
    lh_error local;
    if (!err)
        err = &local;
    long bad = utf8_bad(arg);
    if (bad >= 0)
        return lh_error_set(err, "config command line (%.*s...): byte %ld is not UTF-8 text",
                            (int)(bad < 60 ? bad : 60), arg, bad);
    char where[1100];
    snprintf(where, sizeof where, "command line (%.1000s)", arg);
    const char *s = strncmp(arg, "--", 2) == 0 ? arg + 2 : arg;
    const char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return lh_error_set(err, "config %s: expected --key.path=value", where);
    /* Each part is one level of the tree, as deep as a file may nest: a 64,000-part key would
     * build 64,000 nested maps, each with its full dotted path. */
    size_t parts = 1;
    for (const char *p = s; p < eq; p++)
        parts += *p == '.';
    if (parts > LH_CFG_MAX_DEPTH)
        return lh_error_set(err, "config command line (%.60s...): the key has %zu dotted parts, "
                            "at most %d", arg, parts, LH_CFG_MAX_DEPTH);
    override_arg ov = {.where = where, .key = s, .klen = (size_t)(eq - s), .value = eq + 1,
                       .depth = (int)parts, .err = err};
    lh_config_node *cur = cfg->root;
    const char *part = s;
    int rc;
    while ((rc = override_part(&ov, &cur, &part)) > 0)
        ; /* one dotted part per step */
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

const lh_config_node *lh_config_root(const lh_config *cfg)
{
    return cfg ? cfg->root : NULL;
}

const lh_config_node *lh_config_get(const lh_config_node *map, const char *dotted)
{
    const lh_config_node *cur = map;
    const char *part = dotted;
    while (cur && part) {
        const char *dot = strchr(part, '.');
        size_t plen = dot ? (size_t)(dot - part) : strlen(part);
        if (cur->type == LH_CFG_MAP) {
            int32_t i = map_find(cur, part, plen);
            cur = i >= 0 ? cur->kids[i] : NULL;
        } else if (cur->type == LH_CFG_SEQ) {
            int64_t i = parse_index(part, plen);
            cur = i >= 0 && i < cur->n ? cur->kids[i] : NULL;
        } else {
            cur = NULL;
        }
        part = dot ? dot + 1 : NULL;
    }
    return cur;
}

int lh_config_type(const lh_config_node *n)
{
    return n ? n->type : 0;
}

int32_t lh_config_len(const lh_config_node *n)
{
    return n && n->type != LH_CFG_SCALAR ? n->n : 0;
}

const char *lh_config_key_at(const lh_config_node *map, int32_t i)
{
    return map && map->type == LH_CFG_MAP && i >= 0 && i < map->n ? map->keys[i] : NULL;
}

const lh_config_node *lh_config_at(const lh_config_node *n, int32_t i)
{
    return n && n->type != LH_CFG_SCALAR && i >= 0 && i < n->n ? n->kids[i] : NULL;
}

const char *lh_config_scalar(const lh_config_node *n)
{
    return n && n->type == LH_CFG_SCALAR ? n->scalar : NULL;
}

int lh_config_is_null(const lh_config_node *n)
{
    return n && n->type == LH_CFG_SCALAR && n->is_null;
}

const char *lh_config_where(const lh_config_node *n)
{
    return n ? n->where : NULL;
}

const char *lh_config_path(const lh_config_node *n)
{
    return n ? n->path : NULL;
}

/* ---- typed getters ------------------------------------------------------------------------ */

/* The value node for a getter: 1 if present and not null, 0 to use the default. */
static int value_of(const lh_config_node *map, const char *key, const lh_config_node **n)
{
    *n = lh_config_get(map, key);
    return *n && !lh_config_is_null(*n);
}

static int expected(const lh_config_node *n, lh_error *err, const char *what)
{
    char got[256];
    describe(n, got, sizeof got);
    return lh_config_error(n, err, "expected %s, got %s", what, got);
}

int lh_config_get_int(const lh_config_node *map, const char *key, int64_t dflt, int64_t min,
                      int64_t max, int64_t *out, lh_error *err)
{
    const lh_config_node *n;
    char what[160];
    if (min > INT64_MIN && max < INT64_MAX)
        snprintf(what, sizeof what, "an integer from %" PRId64 " to %" PRId64, min, max);
    else if (min > INT64_MIN)
        snprintf(what, sizeof what, "an integer >= %" PRId64, min);
    else if (max < INT64_MAX)
        snprintf(what, sizeof what, "an integer <= %" PRId64, max);
    else
        snprintf(what, sizeof what, "an integer");
    if (!value_of(map, key, &n)) {
        *out = dflt;
        return 0;
    }
    if (n->type != LH_CFG_SCALAR)
        return expected(n, err, what);
    const char *s = n->scalar;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE || s[0] == ' ' || s[0] == '\t' || v < min || v > max)
        return expected(n, err, what);
    *out = v;
    return 0;
}

int lh_config_get_float(const lh_config_node *map, const char *key, double dflt, double min,
                        double max, double *out, lh_error *err)
{
    const lh_config_node *n;
    char what[160];
    if (min > -HUGE_VAL && max < HUGE_VAL)
        snprintf(what, sizeof what, "a number from %g to %g", min, max);
    else if (min > -HUGE_VAL)
        snprintf(what, sizeof what, "a number >= %g", min);
    else if (max < HUGE_VAL)
        snprintf(what, sizeof what, "a number <= %g", max);
    else
        snprintf(what, sizeof what, "a number");
    if (!value_of(map, key, &n)) {
        *out = dflt;
        return 0;
    }
    if (n->type != LH_CFG_SCALAR)
        return expected(n, err, what);
    /* Decimal only: strtod alone would also take "inf", "nan" and hex. */
    const char *s = n->scalar;
    if (!*s || strspn(s, "+-0123456789.eE") != strlen(s))
        return expected(n, err, what);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v) || v < min || v > max)
        return expected(n, err, what);
    *out = v;
    return 0;
}

int lh_config_get_bool(const lh_config_node *map, const char *key, int dflt, int *out,
                       lh_error *err)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    const lh_config_node *n;
    if (!value_of(map, key, &n)) {
        *out = dflt;
        return 0;
    }
    if (n->type == LH_CFG_SCALAR) {
        for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
            if (!strcasecmp(n->scalar, yes[i])) {
                *out = 1;
                return 0;
            }
            if (!strcasecmp(n->scalar, no[i])) {
                *out = 0;
                return 0;
            }
        }
    }
    return expected(n, err, "true or false");
}

int lh_config_get_string(const lh_config_node *map, const char *key, const char *dflt,
                         const char **out, lh_error *err)
{
    const lh_config_node *n;
    if (!value_of(map, key, &n)) {
        *out = dflt;
        return 0;
    }
    if (n->type != LH_CFG_SCALAR)
        return expected(n, err, "a string");
    *out = n->scalar;
    return 0;
}

/* "a, b or c" */
static void join_choices(const char *const *choices, const char *last_sep, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i] && k < len; i++) {
        const char *sep = i == 0 ? "" : choices[i + 1] ? ", " : last_sep;
        int w = snprintf(buf + k, len - k, "%s%s", sep, choices[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

int lh_config_get_enum(const lh_config_node *map, const char *key, const char *const *choices,
                    int dflt_index, int *out, lh_error *err)
{
    const lh_config_node *n;
    char what[512];
    if (!value_of(map, key, &n)) {
        *out = dflt_index;
        return 0;
    }
    if (n->type == LH_CFG_SCALAR) {
        for (int i = 0; choices[i]; i++) {
            if (!strcmp(n->scalar, choices[i])) {
                *out = i;
                return 0;
            }
        }
    }
    join_choices(choices, " or ", what, sizeof what);
    return expected(n, err, what);
}

int lh_config_check_keys(const lh_config_node *map, const char *const *allowed, lh_error *err)
{
    char list[600];
    if (!map || lh_config_is_null(map))
        return 0;
    if (map->type != LH_CFG_MAP)
        return expected(map, err, "a mapping");
    for (int32_t i = 0; i < map->n; i++) {
        int ok = 0;
        for (int j = 0; allowed[j] && !ok; j++)
            ok = !strcmp(map->keys[i], allowed[j]);
        if (!ok) {
            join_choices(allowed, ", ", list, sizeof list);
            return lh_config_error(map->kids[i], err, "unknown key; expected one of %s", list);
        }
    }
    return 0;
}
