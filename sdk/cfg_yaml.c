/* YAML for config trees (see cfg.h): a libyaml event reader that builds the
 * tree with marks, expands aliases and rejects duplicate keys, and a block
 * writer whose output reads back to the same tree. */
#include "cfg_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Trees deeper than this are refused, so the recursive free, clone and
 * writer stay far from the stack limit. */
#define MAX_DEPTH 256
/* Alias expansion copies nodes; this bounds "billion laughs" documents,
 * whose aliases multiply a small text into a huge tree. */
#define MAX_NODES (1L << 20)

/* ================================================================ reader */

typedef struct frame {
    lt_cfg *node;     /* open list or map */
    char *anchor;     /* registered when the collection closes */
    char *key;        /* map: key waiting for its value */
    int *key_lines;   /* map: line of every key, for duplicate-key errors */
    int key_lines_cap;
} frame;

typedef struct anchor {
    char *name;
    lt_cfg *node;
} anchor;

typedef struct reader {
    const char *file;       /* for messages */
    char *owned_file;       /* node file name, until the root takes it */
    const char *node_file;
    lt_cfg *root;
    frame stack[MAX_DEPTH];
    int depth;
    anchor *anchors;
    int n_anchors, cap_anchors;
    long n_copied; /* nodes made by alias expansion */
    int n_documents;
} reader;

static int fail_at(const reader *r, yaml_mark_t mark, const char *fmt, ...) LT_PRINTF(3, 4);

static int fail_at(const reader *r, yaml_mark_t mark, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return lt_set_error("%s:%zu:%zu: %s", r->file, mark.line + 1, mark.column + 1, what);
}

/* libyaml reports bad encodings by byte offset only: find line and column. */
static yaml_mark_t mark_at_offset(const char *text, size_t len, size_t offset)
{
    yaml_mark_t m = {0};
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            m.line++;
            m.column = 0;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            m.column++;
        }
    }
    return m;
}

static int syntax_error(const reader *r, const yaml_parser_t *p, const char *text, size_t len)
{
    if (p->error == YAML_MEMORY_ERROR) return lt_set_error("%s: out of memory while reading YAML", r->file);
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) {
        yaml_mark_t m = mark_at_offset(text, len, p->problem_offset);
        if (p->problem_value >= 0) return fail_at(r, m, "%s (byte 0x%02X)", problem, (unsigned)p->problem_value);
        return fail_at(r, m, "%s", problem);
    }
    if (p->context)
        return fail_at(r, p->problem_mark, "%s (%s at line %zu, column %zu)", problem, p->context,
                       p->context_mark.line + 1, p->context_mark.column + 1);
    return fail_at(r, p->problem_mark, "%s", problem);
}

static frame *top(reader *r) { return r->depth ? &r->stack[r->depth - 1] : NULL; }

static bool expects_key(reader *r)
{
    frame *f = top(r);
    return f && f->node->type == LT_CFG_MAP && !f->key;
}

static lt_cfg *located(const reader *r, lt_cfg *node, yaml_mark_t mark)
{
    if (!node) return NULL;
    node->file = r->node_file;
    node->line = (int)mark.line + 1;
    node->column = (int)mark.column + 1;
    return node;
}

/* Attaches a finished or freshly opened node under the open collection,
 * or makes it the root. Frees node on failure. */
static int place(reader *r, lt_cfg *node)
{
    frame *f = top(r);
    if (!f) {
        r->root = node;
        r->root->owned_file = r->owned_file;
        r->owned_file = NULL;
        return 0;
    }
    int rc = lt__cfg_push(f->node, f->key, node);
    free(f->key);
    f->key = NULL;
    if (rc) lt_cfg_free(node);
    return rc;
}

static int add_anchor(reader *r, const char *name, lt_cfg *node)
{
    if (r->n_anchors == r->cap_anchors) {
        int cap = r->cap_anchors ? 2 * r->cap_anchors : 8;
        anchor *a = realloc(r->anchors, (size_t)cap * sizeof *a);
        if (!a) return lt_set_error("%s: out of memory while reading YAML", r->file);
        r->anchors = a;
        r->cap_anchors = cap;
    }
    char *copy = strdup(name);
    if (!copy) return lt_set_error("%s: out of memory while reading YAML", r->file);
    r->anchors[r->n_anchors++] = (anchor){copy, node};
    return 0;
}

/* The latest definition wins: YAML lets a document redefine an anchor. */
static lt_cfg *find_anchor(const reader *r, const char *name)
{
    for (int i = r->n_anchors - 1; i >= 0; i--)
        if (strcmp(r->anchors[i].name, name) == 0) return r->anchors[i].node;
    return NULL;
}

static int take_key(reader *r, const char *key, yaml_mark_t mark)
{
    frame *f = top(r);
    const lt_cfg *map = f->node;
    int line = (int)mark.line + 1;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return fail_at(r, mark, "duplicate key '%s' (first at line %d, again at line %d)", key, f->key_lines[i],
                           line);
    if (map->n == f->key_lines_cap) {
        int cap = f->key_lines_cap ? 2 * f->key_lines_cap : 8;
        int *lines = realloc(f->key_lines, (size_t)cap * sizeof *lines);
        if (!lines) return lt_set_error("%s: out of memory while reading YAML", r->file);
        f->key_lines = lines;
        f->key_lines_cap = cap;
    }
    f->key = strdup(key);
    if (!f->key) return lt_set_error("%s: out of memory while reading YAML", r->file);
    f->key_lines[map->n] = line;
    return 0;
}

/* ---- tags: plain scalars are typed on access; quoted ones are strings ---- */

#define CORE_TAG_PREFIX "tag:yaml.org,2002:"

typedef struct core_tag {
    const char *tag;
    lt_cfg_type fits;
    lt__cfg_kind kind; /* what a tagged scalar's text must read as */
} core_tag;

static const core_tag core_tags[] = {
    {YAML_STR_TAG, LT_CFG_SCALAR, LT__CFG_STRING}, {YAML_NULL_TAG, LT_CFG_SCALAR, LT__CFG_NULLISH},
    {YAML_BOOL_TAG, LT_CFG_SCALAR, LT__CFG_BOOL},  {YAML_INT_TAG, LT_CFG_SCALAR, LT__CFG_INT},
    {YAML_FLOAT_TAG, LT_CFG_SCALAR, LT__CFG_FLOAT}, {YAML_SEQ_TAG, LT_CFG_LIST, LT__CFG_STRING},
    {YAML_MAP_TAG, LT_CFG_MAP, LT__CFG_STRING},
};

/* A tag as it is usually written: "!!int" for the core schema's. */
static const char *tag_name(const char *tag, char *buf, size_t size)
{
    size_t prefix = strlen(CORE_TAG_PREFIX);
    if (strncmp(tag, CORE_TAG_PREFIX, prefix) == 0) snprintf(buf, size, "!!%s", tag + prefix);
    else snprintf(buf, size, "%s", tag);
    return buf;
}

/* *out: the core tag of a node of this type, NULL when untagged or "!". */
static int check_tag(const reader *r, const yaml_event_t *ev, const char *tag, lt_cfg_type type,
                     const core_tag **out)
{
    char name[160];
    *out = NULL;
    if (!tag || strcmp(tag, "!") == 0) return 0;
    for (size_t i = 0; i < sizeof core_tags / sizeof core_tags[0]; i++) {
        if (strcmp(tag, core_tags[i].tag) != 0) continue;
        if (core_tags[i].fits != type)
            return fail_at(r, ev->start_mark, "tag '%s' does not fit a %s", tag_name(tag, name, sizeof name),
                           lt_cfg_type_name(type));
        *out = &core_tags[i];
        return 0;
    }
    return fail_at(r, ev->start_mark, "unsupported tag '%s'", tag_name(tag, name, sizeof name));
}

/* Sets *quoted from the style and tag (!!str and "!" make strings); a core
 * type tag must fit the text. */
static int scalar_quoted(const reader *r, const yaml_event_t *ev, bool *quoted)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *text = (const char *)ev->data.scalar.value;
    const core_tag *t;
    *quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (check_tag(r, ev, tag, LT_CFG_SCALAR, &t)) return -1;
    if (!tag) return 0;
    if (!t || t->kind == LT__CFG_STRING) {
        *quoted = true;
        return 0;
    }
    lt__cfg_kind kind = lt__cfg_plain_kind(text);
    if (kind != t->kind && !(kind == LT__CFG_INT && t->kind == LT__CFG_FLOAT)) {
        char name[160];
        return fail_at(r, ev->start_mark, "'%s' is not a valid %s", text, tag_name(tag, name, sizeof name));
    }
    *quoted = false;
    return 0;
}

/* ---- events ---- */

static int on_scalar(reader *r, const yaml_event_t *ev)
{
    const char *text = (const char *)ev->data.scalar.value;
    if (strlen(text) != ev->data.scalar.length) return fail_at(r, ev->start_mark, "NUL character in a scalar");
    const char *name = (const char *)ev->data.scalar.anchor;
    if (expects_key(r)) {
        if (name) return fail_at(r, ev->start_mark, "anchors on map keys are not supported (&%s)", name);
        return take_key(r, text, ev->start_mark);
    }
    bool quoted;
    if (scalar_quoted(r, ev, &quoted)) return -1;
    /* Plain nulls become the NULL type; other scalars keep their text. */
    bool is_null = !quoted && lt__cfg_plain_kind(text) == LT__CFG_NULLISH;
    lt_cfg *node = located(r, is_null ? lt_cfg_new(LT_CFG_NULL) : lt_cfg_new_scalar(text, quoted), ev->start_mark);
    if (!node || place(r, node)) return -1;
    return name ? add_anchor(r, name, node) : 0;
}

static int open_collection(reader *r, const yaml_event_t *ev, lt_cfg_type type)
{
    bool map = type == LT_CFG_MAP;
    const char *tag = (const char *)(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
    const char *name = (const char *)(map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
    if (expects_key(r))
        return fail_at(r, ev->start_mark, "map keys must be scalars, got a %s", lt_cfg_type_name(type));
    if (r->depth == MAX_DEPTH) return fail_at(r, ev->start_mark, "nesting deeper than %d levels", MAX_DEPTH);
    const core_tag *t;
    if (check_tag(r, ev, tag, type, &t)) return -1;
    lt_cfg *node = located(r, lt_cfg_new(type), ev->start_mark);
    if (!node || place(r, node)) return -1;
    frame *f = &r->stack[r->depth++];
    *f = (frame){.node = node};
    if (name && !(f->anchor = strdup(name))) return lt_set_error("%s: out of memory while reading YAML", r->file);
    return 0;
}

static void drop_frame(frame *f)
{
    free(f->anchor);
    free(f->key);
    free(f->key_lines);
    *f = (frame){0};
}

static int close_collection(reader *r)
{
    frame *f = &r->stack[--r->depth];
    int rc = f->anchor ? add_anchor(r, f->anchor, f->node) : 0;
    drop_frame(f);
    return rc;
}

/* Nodes in a subtree, counting no further than limit. */
static long count_nodes(const lt_cfg *c, long limit)
{
    long n = 1;
    for (int i = 0; i < c->n && n <= limit; i++) n += count_nodes(c->items[i], limit - n);
    return n;
}

static bool is_open(const reader *r, const char *name)
{
    for (int i = 0; i < r->depth; i++)
        if (r->stack[i].anchor && strcmp(r->stack[i].anchor, name) == 0) return true;
    return false;
}

/* An alias becomes a deep copy of its anchor's node, marks included, so
 * errors point at the text the value came from. */
static int on_alias(reader *r, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    const lt_cfg *target = find_anchor(r, name);
    if (!target && is_open(r, name))
        return fail_at(r, ev->start_mark, "alias *%s refers to a node that contains it", name);
    if (!target) return fail_at(r, ev->start_mark, "undefined alias *%s", name);
    if (expects_key(r)) {
        if (target->type != LT_CFG_SCALAR)
            return fail_at(r, ev->start_mark, "map keys must be scalars, but *%s is a %s", name,
                           lt_cfg_type_name(target->type));
        return take_key(r, target->text, ev->start_mark);
    }
    long size = count_nodes(target, MAX_NODES - r->n_copied);
    if (r->n_copied + size > MAX_NODES)
        return fail_at(r, ev->start_mark, "aliases expand to more than %ld nodes", MAX_NODES);
    lt_cfg *copy = lt__cfg_copy_in_tree(target);
    if (!copy) return -1;
    r->n_copied += size;
    return place(r, copy);
}

static int on_event(reader *r, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++r->n_documents > 1) return fail_at(r, ev->start_mark, "expected one YAML document, found another");
        return 0;
    case YAML_SCALAR_EVENT: return on_scalar(r, ev);
    case YAML_ALIAS_EVENT: return on_alias(r, ev);
    case YAML_SEQUENCE_START_EVENT: return open_collection(r, ev, LT_CFG_LIST);
    case YAML_MAPPING_START_EVENT: return open_collection(r, ev, LT_CFG_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: return close_collection(r);
    default: return 0;
    }
}

static int read_events(reader *r, yaml_parser_t *p, const char *text, size_t len)
{
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev)) return syntax_error(r, p, text, len);
        bool done = ev.type == YAML_STREAM_END_EVENT;
        int rc = on_event(r, &ev);
        yaml_event_delete(&ev);
        if (rc) return -1;
        if (done) break;
    }
    if (r->root) return 0;
    /* An empty stream is a null document. */
    lt_cfg *node = located(r, lt_cfg_new(LT_CFG_NULL), (yaml_mark_t){0});
    return node ? place(r, node) : -1;
}

static void reader_release(reader *r)
{
    while (r->depth) drop_frame(&r->stack[--r->depth]);
    for (int i = 0; i < r->n_anchors; i++) free(r->anchors[i].name);
    free(r->anchors);
    free(r->owned_file);
}

lt_cfg *lt_cfg_parse_yaml(const char *text, size_t len, const char *file_name)
{
    if (!text && len) {
        lt_set_error("lt_cfg_parse_yaml: text is NULL");
        return NULL;
    }
    reader *r = calloc(1, sizeof *r);
    yaml_parser_t parser;
    if (!r || (file_name && !(r->owned_file = strdup(file_name))) || !yaml_parser_initialize(&parser)) {
        if (r) free(r->owned_file);
        free(r);
        lt_set_error("lt_cfg_parse_yaml: out of memory");
        return NULL;
    }
    r->file = file_name ? file_name : "<config>";
    r->node_file = r->owned_file;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);
    lt_cfg *root = NULL;
    if (read_events(r, &parser, text, len) == 0) root = r->root;
    else lt_cfg_free(r->root);
    yaml_parser_delete(&parser);
    reader_release(r);
    free(r);
    return root;
}

/* Reads all of f into a malloc'd buffer; 0 or an errno value. */
static int read_all(FILE *f, char **text, size_t *len)
{
    size_t cap = 0;
    *text = NULL;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? 2 * cap : 16384;
            char *grown = realloc(*text, cap);
            if (!grown) return ENOMEM;
            *text = grown;
        }
        errno = 0;
        *len += fread(*text + *len, 1, cap - *len, f);
        if (ferror(f)) return errno ? errno : EIO;
        if (feof(f)) return 0;
    }
}

lt_cfg *lt_cfg_load_yaml(const char *path)
{
    if (!path) {
        lt_set_error("lt_cfg_load_yaml: path is NULL");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        lt_set_error("cannot open config '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *text;
    size_t len;
    int err = read_all(f, &text, &len);
    fclose(f);
    lt_cfg *root = NULL;
    if (err) lt_set_error("cannot read config '%s': %s", path, strerror(err));
    else root = lt_cfg_parse_yaml(text, len, path);
    free(text);
    return root;
}

/* ================================================================ writer */

typedef struct writer {
    char *data;
    size_t len, cap;
    bool out_of_memory;
    const lt_cfg *bad_text; /* node whose text is not UTF-8 */
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->out_of_memory) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1) cap *= 2;
        char *grown = realloc(w->data, cap);
        if (!grown) {
            w->out_of_memory = true;
            return;
        }
        w->data = grown;
        w->cap = cap;
    }
    memcpy(w->data + w->len, s, n);
    w->len += n;
    w->data[w->len] = '\0';
}

static void put_str(writer *w, const char *s) { put(w, s, strlen(s)); }

static void indent(writer *w, int n)
{
    for (int i = 0; i < n; i++) put(w, " ", 1);
}

/* Decodes one UTF-8 character; 0 when the bytes are not valid UTF-8. */
static int utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4) return 0;
    uint32_t v = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < smallest[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

/* Characters that can appear as themselves in any scalar (no tabs, line
 * breaks, controls, BOM or non-characters). */
static bool is_literal_char(uint32_t cp)
{
    if (cp >= 0x20 && cp <= 0x7E) return true;
    if (cp < 0xA0) return false;
    if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) return false;
    return cp <= 0xD7FF || (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
}

/* -1: not UTF-8; 0: needs escapes (double quotes); 1: every char literal. */
static int text_chars(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    int all_literal = 1;
    while (*s) {
        uint32_t cp;
        int n = utf8_next(s, &cp);
        if (!n) return -1;
        if (!is_literal_char(cp)) all_literal = 0;
        s += n;
    }
    return all_literal;
}

/* Words YAML 1.1 readers (PyYAML, older tools) give a meaning: booleans,
 * the merge key and the "value" key. */
static bool is_yaml11_word(const char *s)
{
    static const char *const words[] = {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON",
                                        "off", "Off", "OFF", "<<", "=", NULL};
    for (const char *const *w = words; *w; w++)
        if (strcmp(s, *w) == 0) return true;
    return false;
}

/* A string may be written plain when it reads back as the same string,
 * here and in YAML 1.1 readers: no indicator first, no ": " or " #", no
 * flow characters, and nothing that looks like a number, bool or null. */
static bool plain_is_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || strchr("-?:,[]{}#&*!|>'\"%@` .+0123456789", s[0])) return false;
    if (s[n - 1] == ' ' || s[n - 1] == ':') return false;
    if (strpbrk(s, ",[]{}") || strstr(s, ": ") || strstr(s, " #")) return false;
    if (lt__cfg_plain_kind(s) != LT__CFG_STRING || is_yaml11_word(s)) return false;
    return text_chars(s) == 1;
}

static void put_single_quoted(writer *w, const char *s)
{
    put(w, "'", 1);
    for (const char *q; (q = strchr(s, '\'')); s = q + 1) { /* ' is written '' */
        put(w, s, (size_t)(q - s));
        put_str(w, "''");
    }
    put_str(w, s);
    put(w, "'", 1);
}

static void put_escape(writer *w, uint32_t cp)
{
    char buf[16];
    switch (cp) {
    case '"': put_str(w, "\\\""); return;
    case '\\': put_str(w, "\\\\"); return;
    case '\n': put_str(w, "\\n"); return;
    case '\t': put_str(w, "\\t"); return;
    case '\r': put_str(w, "\\r"); return;
    }
    if (cp <= 0xFF) snprintf(buf, sizeof buf, "\\x%02X", (unsigned)cp);
    else if (cp <= 0xFFFF) snprintf(buf, sizeof buf, "\\u%04X", (unsigned)cp);
    else snprintf(buf, sizeof buf, "\\U%08X", (unsigned)cp);
    put_str(w, buf);
}

static void put_double_quoted(writer *w, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    put(w, "\"", 1);
    while (*s) {
        uint32_t cp = 0;
        int n = utf8_next(s, &cp);
        if (n == 0) break; /* validated by put_string */
        if (is_literal_char(cp) && cp != '"' && cp != '\\') put(w, (const char *)s, (size_t)n);
        else put_escape(w, cp);
        s += n;
    }
    put(w, "\"", 1);
}

/* Writes a string (value or key): plain when safe, else quoted. */
static void put_string(writer *w, const lt_cfg *owner, const char *s)
{
    int chars = text_chars(s);
    if (chars < 0) {
        if (!w->bad_text) w->bad_text = owner;
        return;
    }
    if (plain_is_safe(s)) put_str(w, s);
    else if (chars == 1) put_single_quoted(w, s);
    else put_double_quoted(w, s);
}

static bool is_block(const lt_cfg *c) { return (c->type == LT_CFG_LIST || c->type == LT_CFG_MAP) && c->n > 0; }

/* Null, scalar, or empty collection, on the current line. */
static void put_inline(writer *w, const lt_cfg *c)
{
    if (c->type == LT_CFG_LIST) put_str(w, "[]");
    else if (c->type == LT_CFG_MAP) put_str(w, "{}");
    else if (lt_cfg_is_null(c)) put_str(w, "null");
    else if (lt__cfg_kind_of(c) != LT__CFG_STRING) put_str(w, c->text); /* typed plain text, verbatim */
    else put_string(w, c, c->text);
}

static void put_block(writer *w, const lt_cfg *c, int col, bool first_inline);

/* After "key:" or an explicit-key ":" line. */
static void put_map_value(writer *w, const lt_cfg *v, int col)
{
    if (is_block(v)) {
        put(w, "\n", 1);
        put_block(w, v, col + 2, false);
    } else {
        put(w, " ", 1);
        put_inline(w, v);
        put(w, "\n", 1);
    }
}

/* libyaml caps implicit keys at 1024 characters; longer ones (escapes can
 * quadruple the length) use the explicit "? key" form. */
#define LONG_KEY 200

static void put_map(writer *w, const lt_cfg *m, int col, bool first_inline)
{
    for (int i = 0; i < m->n; i++) {
        if (i > 0 || !first_inline) indent(w, col);
        if (strlen(m->keys[i]) > LONG_KEY) {
            put_str(w, "? ");
            put_string(w, m, m->keys[i]);
            put(w, "\n", 1);
            indent(w, col);
        } else {
            put_string(w, m, m->keys[i]);
        }
        put(w, ":", 1);
        put_map_value(w, m->items[i], col);
    }
}

static void put_list(writer *w, const lt_cfg *l, int col, bool first_inline)
{
    for (int i = 0; i < l->n; i++) {
        if (i > 0 || !first_inline) indent(w, col);
        put_str(w, "- ");
        if (is_block(l->items[i])) {
            put_block(w, l->items[i], col + 2, true);
        } else {
            put_inline(w, l->items[i]);
            put(w, "\n", 1);
        }
    }
}

/* A non-empty list or map at column col; first_inline: its first line
 * continues a "- " already written. */
static void put_block(writer *w, const lt_cfg *c, int col, bool first_inline)
{
    if (c->type == LT_CFG_MAP) put_map(w, c, col, first_inline);
    else put_list(w, c, col, first_inline);
}

char *lt_cfg_to_yaml(const lt_cfg *c)
{
    if (!c) return NULL;
    writer w = {0};
    if (is_block(c)) {
        put_block(&w, c, 0, false);
    } else {
        put_inline(&w, c);
        put(&w, "\n", 1);
    }
    if (w.bad_text) {
        free(w.data);
        lt_set_error("%s: lt_cfg_to_yaml: text is not valid UTF-8", lt_cfg_where(w.bad_text));
        return NULL;
    }
    if (w.out_of_memory) {
        free(w.data);
        lt_set_error("lt_cfg_to_yaml: out of memory");
        return NULL;
    }
    return w.data;
}
