/* Config trees (see cfg.h): building, cloning, lookups that mark keys used,
 * and typed scalar reads under YAML 1.2's core schema. */
#include "cfg_private.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ nodes */

static void *out_of_memory(const char *op)
{
    lt_set_error("%s: out of memory", op);
    return NULL;
}

static lt_cfg *node_alloc(lt_cfg_type type)
{
    lt_cfg *c = calloc(1, sizeof *c);
    if (!c) return out_of_memory("lt_cfg_new");
    c->type = type;
    return c;
}

lt_cfg *lt_cfg_new(lt_cfg_type type)
{
    if ((unsigned)type > LT_CFG_MAP) {
        lt_set_error("lt_cfg_new: unknown config type %d", (int)type);
        return NULL;
    }
    /* An empty plain scalar reads as null, like "key:" in YAML. */
    if (type == LT_CFG_SCALAR) return lt_cfg_new_scalar("", false);
    return node_alloc(type);
}

lt_cfg *lt_cfg_new_scalar(const char *text, bool quoted)
{
    if (!text) {
        lt_set_error("lt_cfg_new_scalar: text is NULL");
        return NULL;
    }
    lt_cfg *c = node_alloc(LT_CFG_SCALAR);
    if (!c) return NULL;
    c->text = strdup(text);
    if (!c->text) {
        free(c);
        return out_of_memory("lt_cfg_new_scalar");
    }
    c->quoted = quoted;
    return c;
}

void lt_cfg_free(lt_cfg *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        lt_cfg_free(c->items[i]);
        if (c->keys) free(c->keys[i]);
    }
    free(c->items);
    free(c->keys);
    free(c->used);
    free(c->text);
    free(c->owned_file);
    free(c);
}

/* Grows the entry arrays to hold at least `want` entries. Each array is
 * stored as soon as it is reallocated, so a later failure leaks nothing. */
static int reserve(lt_cfg *c, int want)
{
    if (want <= c->cap) return 0;
    int cap = c->cap ? c->cap : 4;
    while (cap < want) cap *= 2;
    lt_cfg **items = realloc(c->items, (size_t)cap * sizeof *items);
    if (!items) return lt_set_error("lt_cfg: out of memory");
    c->items = items;
    if (c->type == LT_CFG_MAP) {
        char **keys = realloc(c->keys, (size_t)cap * sizeof *keys);
        if (!keys) return lt_set_error("lt_cfg: out of memory");
        c->keys = keys;
        bool *used = realloc(c->used, (size_t)cap * sizeof *used);
        if (!used) return lt_set_error("lt_cfg: out of memory");
        c->used = used;
    }
    c->cap = cap;
    return 0;
}

int lt__cfg_push(lt_cfg *parent, const char *key, lt_cfg *value)
{
    if (reserve(parent, parent->n + 1)) return -1;
    if (parent->type == LT_CFG_MAP) {
        char *k = strdup(key);
        if (!k) return lt_set_error("lt_cfg: out of memory");
        parent->keys[parent->n] = k;
        parent->used[parent->n] = false;
    }
    parent->items[parent->n++] = value;
    return 0;
}

static int find_key(const lt_cfg *map, const char *key)
{
    if (!map || map->type != LT_CFG_MAP || !key) return -1;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) return i;
    return -1;
}

/* Fails a call that took ownership of value: frees it and sets the error. */
static int reject_value(lt_cfg *value, const char *op, const char *want, const lt_cfg *got)
{
    lt_cfg_free(value);
    return lt_set_error("%s: expected %s, got %s", op, want, got ? lt_cfg_type_name(got->type) : "NULL");
}

int lt_cfg_append(lt_cfg *list, lt_cfg *value)
{
    if (!value) return -1; /* keep the error of whatever failed to build it */
    if (!list || list->type != LT_CFG_LIST) return reject_value(value, "lt_cfg_append", "a list", list);
    if (lt__cfg_push(list, NULL, value)) {
        lt_cfg_free(value);
        return -1;
    }
    return 0;
}

int lt_cfg_set(lt_cfg *map, const char *key, lt_cfg *value)
{
    if (!value) return -1;
    if (!map || map->type != LT_CFG_MAP) return reject_value(value, "lt_cfg_set", "a map", map);
    if (!key) {
        lt_cfg_free(value);
        return lt_set_error("lt_cfg_set: key is NULL");
    }
    int i = find_key(map, key);
    if (i >= 0) {
        lt_cfg_free(map->items[i]);
        map->items[i] = value;
        map->used[i] = false;
        return 0;
    }
    if (lt__cfg_push(map, key, value)) {
        lt_cfg_free(value);
        return -1;
    }
    return 0;
}

int lt_cfg_remove(lt_cfg *map, const char *key)
{
    if (!map || map->type != LT_CFG_MAP)
        return lt_set_error("lt_cfg_remove: expected a map, got %s",
                            map ? lt_cfg_type_name(map->type) : "NULL");
    int i = find_key(map, key);
    if (i < 0) return 0;
    lt_cfg_free(map->items[i]);
    free(map->keys[i]);
    int tail = map->n - i - 1;
    memmove(map->items + i, map->items + i + 1, (size_t)tail * sizeof *map->items);
    memmove(map->keys + i, map->keys + i + 1, (size_t)tail * sizeof *map->keys);
    memmove(map->used + i, map->used + i + 1, (size_t)tail * sizeof *map->used);
    map->n--;
    return 1;
}

/* ------------------------------------------------------------------ clone */

/* Maps the file names of a source subtree to their copies. A clone keeps
 * all its names in one buffer owned by its root, so every node's `file`
 * stays valid whichever subtrees are later removed. */
typedef struct file_map {
    const char **from;
    const char **to;
    int n, cap;
    char *names; /* "a\0b\0": the copies */
} file_map;

static int file_index(const file_map *fm, const char *file)
{
    for (int i = 0; i < fm->n; i++)
        if (fm->from[i] == file) return i;
    return -1;
}

static int collect_files(const lt_cfg *c, file_map *fm)
{
    if (c->file && file_index(fm, c->file) < 0) {
        if (fm->n == fm->cap) {
            int cap = fm->cap ? 2 * fm->cap : 4;
            const char **from = realloc(fm->from, (size_t)cap * sizeof *from);
            if (!from) return -1;
            fm->from = from;
            fm->cap = cap;
        }
        fm->from[fm->n++] = c->file;
    }
    for (int i = 0; i < c->n; i++)
        if (collect_files(c->items[i], fm)) return -1;
    return 0;
}

static int copy_file_names(file_map *fm)
{
    if (fm->n == 0) return 0;
    size_t total = 0;
    for (int i = 0; i < fm->n; i++) total += strlen(fm->from[i]) + 1;
    fm->names = malloc(total);
    fm->to = malloc((size_t)fm->n * sizeof *fm->to);
    if (!fm->names || !fm->to) return -1;
    char *p = fm->names;
    for (int i = 0; i < fm->n; i++) {
        size_t len = strlen(fm->from[i]) + 1;
        memcpy(p, fm->from[i], len);
        fm->to[i] = p;
        p += len;
    }
    return 0;
}

static lt_cfg *copy_node(const lt_cfg *c, const file_map *fm);

static int copy_entries(lt_cfg *d, const lt_cfg *c, const file_map *fm)
{
    if (reserve(d, c->n)) return -1;
    for (int i = 0; i < c->n; i++) {
        lt_cfg *child = copy_node(c->items[i], fm);
        if (!child) return -1;
        if (c->type == LT_CFG_MAP) {
            d->keys[i] = strdup(c->keys[i]);
            if (!d->keys[i]) {
                lt_cfg_free(child);
                return lt_set_error("lt_cfg_clone: out of memory");
            }
            d->used[i] = c->used[i];
        }
        d->items[i] = child;
        d->n = i + 1;
    }
    return 0;
}

/* fm NULL: keep the source's file pointers. */
static lt_cfg *copy_node(const lt_cfg *c, const file_map *fm)
{
    lt_cfg *d = node_alloc(c->type);
    if (!d) return NULL;
    d->quoted = c->quoted;
    d->line = c->line;
    d->column = c->column;
    d->file = fm && c->file ? fm->to[file_index(fm, c->file)] : c->file;
    if (c->text && !(d->text = strdup(c->text))) {
        free(d);
        return out_of_memory("lt_cfg_clone");
    }
    if (copy_entries(d, c, fm)) {
        lt_cfg_free(d);
        return NULL;
    }
    return d;
}

lt_cfg *lt__cfg_copy_in_tree(const lt_cfg *c) { return copy_node(c, NULL); }

lt_cfg *lt_cfg_clone(const lt_cfg *c)
{
    if (!c) return NULL;
    file_map fm = {0};
    lt_cfg *d = NULL;
    if (collect_files(c, &fm) || copy_file_names(&fm))
        out_of_memory("lt_cfg_clone");
    else if ((d = copy_node(c, &fm))) {
        d->owned_file = fm.names;
        fm.names = NULL;
    }
    free(fm.names);
    free(fm.from);
    free(fm.to);
    return d;
}

/* ---------------------------------------------------------------- reading */

lt_cfg *lt_cfg_peek(const lt_cfg *map, const char *key)
{
    int i = find_key(map, key);
    return i < 0 ? NULL : map->items[i];
}

lt_cfg *lt_cfg_get(const lt_cfg *map, const char *key)
{
    int i = find_key(map, key);
    if (i < 0) return NULL;
    map->used[i] = true; /* the marks are bookkeeping, not content */
    return map->items[i];
}

lt_cfg *lt_cfg_at(const lt_cfg *list, int i)
{
    if (!list || list->type != LT_CFG_LIST || i < 0 || i >= list->n) return NULL;
    return list->items[i];
}

const char *lt_cfg_type_name(lt_cfg_type type)
{
    switch (type) {
    case LT_CFG_NULL: return "null";
    case LT_CFG_SCALAR: return "scalar";
    case LT_CFG_LIST: return "list";
    case LT_CFG_MAP: return "map";
    }
    return "unknown";
}

const char *lt_cfg_where(const lt_cfg *c)
{
    /* A few rotating buffers, so one message can name two places. */
    static _Thread_local char bufs[4][512];
    static _Thread_local unsigned next;
    char *buf = bufs[next++ % 4];
    const char *file = c && c->file ? c->file : "<config>";
    if (c && c->line > 0)
        snprintf(buf, sizeof bufs[0], "%s:%d:%d", file, c->line, c->column);
    else
        snprintf(buf, sizeof bufs[0], "%s", file);
    return buf;
}

/* ------------------------------------------------- YAML 1.2 core schema */

static bool is_one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0) return true;
    return false;
}

static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const inf_words[] = {".inf", ".Inf", ".INF", NULL};
static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};

static int digit_value(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return 99;
}

/* Reads [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. False when s is not an
 * integer; *fits is false when it is one but lies outside int64. */
static bool read_int(const char *s, int64_t *value, bool *fits)
{
    int base = 10;
    bool negative = false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        s += 2;
    } else if (*s == '-' || *s == '+') {
        negative = *s++ == '-';
    }
    if (!*s) return false;
    uint64_t magnitude = 0;
    *fits = true;
    for (; *s; s++) {
        int d = digit_value(*s);
        if (d >= base) return false;
        if (magnitude > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) *fits = false;
        else magnitude = magnitude * (uint64_t)base + (uint64_t)d;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (magnitude > limit) *fits = false;
    if (!*fits) return true;
    if (negative) *value = magnitude == limit ? INT64_MIN : -(int64_t)magnitude;
    else *value = (int64_t)magnitude;
    return true;
}

static size_t count_digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') n++;
    return n;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_decimal_float(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    size_t whole = count_digits(s);
    s += whole;
    size_t fraction = 0;
    if (*s == '.') {
        s++;
        fraction = count_digits(s);
        s += fraction;
    }
    if (whole == 0 && fraction == 0) return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') s++;
        size_t exponent = count_digits(s);
        if (exponent == 0) return false;
        s += exponent;
    }
    return *s == '\0';
}

static bool is_special_float(const char *s, double *value)
{
    if (is_one_of(s, nan_words)) {
        *value = NAN;
        return true;
    }
    bool negative = *s == '-';
    if (*s == '-' || *s == '+') s++;
    if (!is_one_of(s, inf_words)) return false;
    *value = negative ? -INFINITY : INFINITY;
    return true;
}

lt__cfg_kind lt__cfg_plain_kind(const char *text)
{
    int64_t i;
    bool fits;
    double d;
    if (is_one_of(text, null_words)) return LT__CFG_NULLISH;
    if (is_one_of(text, true_words) || is_one_of(text, false_words)) return LT__CFG_BOOL;
    if (read_int(text, &i, &fits)) return LT__CFG_INT;
    if (is_decimal_float(text) || is_special_float(text, &d)) return LT__CFG_FLOAT;
    return LT__CFG_STRING;
}

lt__cfg_kind lt__cfg_kind_of(const lt_cfg *c)
{
    if (c->type == LT_CFG_NULL) return LT__CFG_NULLISH;
    if (c->type != LT_CFG_SCALAR || c->quoted) return LT__CFG_STRING;
    return lt__cfg_plain_kind(c->text);
}

static bool is_plain(const lt_cfg *c, lt__cfg_kind kind)
{
    return c && c->type == LT_CFG_SCALAR && !c->quoted && lt__cfg_plain_kind(c->text) == kind;
}

bool lt_cfg_is_null(const lt_cfg *c) { return !c || c->type == LT_CFG_NULL || is_plain(c, LT__CFG_NULLISH); }

bool lt_cfg_is_bool(const lt_cfg *c) { return is_plain(c, LT__CFG_BOOL); }

bool lt_cfg_is_int(const lt_cfg *c)
{
    int64_t v;
    bool fits;
    return is_plain(c, LT__CFG_INT) && read_int(c->text, &v, &fits) && fits;
}

bool lt_cfg_is_number(const lt_cfg *c) { return is_plain(c, LT__CFG_INT) || is_plain(c, LT__CFG_FLOAT); }

/* ------------------------------------------------------- typed reads */

/* Says what a value is, for "expected X, got Y" messages. */
static const char *describe(const lt_cfg *c, char *buf, size_t size)
{
    if (!c) return "nothing";
    if (c->type == LT_CFG_MAP) return "a map";
    if (c->type == LT_CFG_LIST) return "a list";
    if (lt_cfg_is_null(c)) return "null";
    enum { SHOWN = 48 };
    int len = (int)strlen(c->text);
    const char *more = "";
    if (len > SHOWN) {
        len = SHOWN;
        while (len > 0 && ((unsigned char)c->text[len] & 0xC0) == 0x80) len--; /* whole UTF-8 chars */
        more = "...";
    }
    bool looks_typed = c->quoted && lt__cfg_plain_kind(c->text) != LT__CFG_STRING;
    snprintf(buf, size, "'%.*s%s'%s", len, c->text, more, looks_typed ? " (quoted, so a string)" : "");
    return buf;
}

static int type_error(const lt_cfg *c, const char *what, const char *expected, const char *note)
{
    char got[128];
    return lt_set_error("%s: %s%sexpected %s, got %s%s", lt_cfg_where(c), what ? what : "", what ? ": " : "",
                        expected, describe(c, got, sizeof got), note);
}

int lt_cfg_as_int(const lt_cfg *c, const char *what, int64_t *out)
{
    int64_t v;
    bool fits;
    if (!is_plain(c, LT__CFG_INT) || !read_int(c->text, &v, &fits)) return type_error(c, what, "an integer", "");
    if (!fits) return type_error(c, what, "a 64-bit integer", " (out of range)");
    *out = v;
    return 0;
}

/* strtod in the "C" locale, so a host program's setlocale() cannot turn
 * the decimal point into a comma. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static double decimal_to_double(const char *s)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
}

/* Value of an integer literal of any size (0x/0o ones beyond int64 too). */
static double int_to_double(const char *s)
{
    if (!(s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))) return decimal_to_double(s);
    double base = s[1] == 'x' ? 16.0 : 8.0, v = 0.0;
    for (s += 2; *s; s++) v = v * base + digit_value(*s);
    return v;
}

int lt_cfg_as_float(const lt_cfg *c, const char *what, double *out)
{
    if (is_plain(c, LT__CFG_INT)) {
        *out = int_to_double(c->text);
        return 0;
    }
    if (!is_plain(c, LT__CFG_FLOAT)) return type_error(c, what, "a number", "");
    if (!is_special_float(c->text, out)) *out = decimal_to_double(c->text); /* 1e999 -> inf, as YAML */
    return 0;
}

int lt_cfg_as_bool(const lt_cfg *c, const char *what, bool *out)
{
    if (!is_plain(c, LT__CFG_BOOL)) return type_error(c, what, "a boolean (true or false)", "");
    *out = is_one_of(c->text, true_words);
    return 0;
}

int lt_cfg_as_str(const lt_cfg *c, const char *what, const char **out)
{
    /* Any non-null scalar has a text; numbers and bools read as their
     * spelling, so `name: 2024` is the string "2024". */
    if (!c || c->type != LT_CFG_SCALAR || lt_cfg_is_null(c)) return type_error(c, what, "a string", "");
    *out = c->text;
    return 0;
}
