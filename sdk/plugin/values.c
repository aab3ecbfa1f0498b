/* Values passed between nodes and to attached modules (plugin.h): tensor
 * lists, packets (a node's ordered key -> value map) and labels. Everything
 * here is step memory from the current context's arena: a packet or a label
 * set lives until lt_ctx_reset(), like the tensors it holds, and is never
 * freed. Keys are copied; so are the item arrays of list values, so a node
 * may hand over a list built in a local array. Lookups are linear: packets
 * hold a handful of keys. */
#include "../internal.h"

#include <ltrain/plugin.h>

#include <string.h>

#define INITIAL_CAPACITY 4

const char *lt_value_kind_name(lt_value_kind kind)
{
    switch (kind) {
    case LT_VALUE_NONE: return "none";
    case LT_VALUE_TENSOR: return "tensor";
    case LT_VALUE_LIST: return "list";
    }
    return "?";
}

lt_tensor_list *lt_tensor_list_new(int n)
{
    static const char *const fn = "lt_tensor_list_new";
    if (n < 0) {
        lt__fail(fn, "length must not be negative, got %d", n);
        return NULL;
    }
    lt_tensor_list *l = lt__calloc(fn, sizeof *l);
    if (!l) return NULL;
    l->n = n;
    if (n > 0 && !(l->items = lt__calloc(fn, (size_t)n * sizeof *l->items))) return NULL;
    return l;
}

static char *step_strdup(const char *fn, const char *s)
{
    const size_t len = strlen(s) + 1;
    char *copy = lt__alloc(fn, len);
    if (copy) memcpy(copy, s, len);
    return copy;
}

/* A value checked for what its kind promises, with its list items copied
 * into step memory. */
static int own_value(const char *fn, const char *key, lt_value in, lt_value *out)
{
    switch (in.kind) {
    case LT_VALUE_TENSOR:
        if (!in.tensor) return lt__fail(fn, "key '%s': tensor value is NULL", key);
        *out = lt_value_tensor(in.tensor);
        return 0;
    case LT_VALUE_LIST: {
        if (in.list.n < 0) return lt__fail(fn, "key '%s': list length %d is negative", key, in.list.n);
        if (in.list.n > 0 && !in.list.items) return lt__fail(fn, "key '%s': list of %d has no items", key, in.list.n);
        for (int i = 0; i < in.list.n; i++)
            if (!in.list.items[i]) return lt__fail(fn, "key '%s': list item %d of %d is NULL", key, i, in.list.n);
        lt_tensor **items = NULL;
        if (in.list.n > 0) {
            items = lt__alloc(fn, (size_t)in.list.n * sizeof *items);
            if (!items) return -1;
            memcpy(items, in.list.items, (size_t)in.list.n * sizeof *items);
        }
        *out = lt_value_list(in.list.n, items);
        return 0;
    }
    case LT_VALUE_NONE: break;
    }
    return lt__fail(fn, "key '%s': value has no kind (expected a tensor or a list)", key);
}

/* ---------------- an ordered map shared by packets and labels ---------------- */

typedef struct value_map {
    int n, cap;
    const char **keys;
    lt_value *values;
} value_map;

static int map_find(const value_map *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->keys[i], key)) return i;
    return -1;
}

static int map_grow(const char *fn, value_map *m)
{
    const int cap = m->cap ? 2 * m->cap : INITIAL_CAPACITY;
    const char **keys = lt__alloc(fn, (size_t)cap * sizeof *keys);
    lt_value *values = lt__alloc(fn, (size_t)cap * sizeof *values);
    if (!keys || !values) return -1;
    if (m->n) {
        memcpy(keys, m->keys, (size_t)m->n * sizeof *keys);
        memcpy(values, m->values, (size_t)m->n * sizeof *values);
    }
    m->keys = keys;
    m->values = values;
    m->cap = cap;
    return 0;
}

static int map_set(const char *fn, value_map *m, const char *key, lt_value value)
{
    lt_value owned;
    if (own_value(fn, key, value, &owned)) return -1;
    const int at = map_find(m, key);
    if (at >= 0) {
        m->values[at] = owned;
        return 0;
    }
    if (m->n == m->cap && map_grow(fn, m)) return -1;
    const char *copy = step_strdup(fn, key);
    if (!copy) return -1;
    m->keys[m->n] = copy;
    m->values[m->n] = owned;
    m->n++;
    return 0;
}

static bool key_ok(const char *fn, const void *container, const char *what, const char *key)
{
    if (!container) {
        lt__fail(fn, "%s is NULL", what);
        return false;
    }
    if (!key || !*key) {
        lt__fail(fn, "key is %s", key ? "empty" : "NULL");
        return false;
    }
    return true;
}

/* "a, b, c" of n names (prefix before each), "(none)" when n is 0; step memory. */
static const char *join_names(const char *fn, const char *const *names, const char *const *prefixes, int n)
{
    if (n == 0) return "(none)";
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(names[i]) + (prefixes ? strlen(prefixes[i]) : 0) + 2;
    char *s = lt__alloc(fn, len);
    if (!s) return NULL;
    char *at = s;
    for (int i = 0; i < n; i++) {
        if (i) {
            memcpy(at, ", ", 2);
            at += 2;
        }
        if (prefixes) {
            const size_t lp = strlen(prefixes[i]);
            memcpy(at, prefixes[i], lp);
            at += lp;
        }
        const size_t ln = strlen(names[i]);
        memcpy(at, names[i], ln);
        at += ln;
    }
    *at = '\0';
    return s;
}

/* ---------------- packets ---------------- */

struct lt_packet {
    value_map map;
};

lt_packet *lt_packet_new(void) { return lt__calloc("lt_packet_new", sizeof(lt_packet)); }

int lt_packet_set(lt_packet *p, const char *key, lt_value value)
{
    static const char *const fn = "lt_packet_set";
    if (!key_ok(fn, p, "packet", key)) return -1;
    return map_set(fn, &p->map, key, value);
}

const lt_value *lt_packet_get(const lt_packet *p, const char *key)
{
    if (!p || !key) return NULL;
    const int at = map_find(&p->map, key);
    return at >= 0 ? &p->map.values[at] : NULL;
}

int lt_packet_count(const lt_packet *p) { return p ? p->map.n : 0; }

const char *lt_packet_key_at(const lt_packet *p, int i)
{
    if (!p || i < 0 || i >= p->map.n) return NULL;
    return p->map.keys[i];
}

const char *lt_packet_keys_str(const lt_packet *p)
{
    if (!p) return "(none)";
    return join_names("lt_packet_keys_str", p->map.keys, NULL, p->map.n);
}

/* ---------------- labels ---------------- */

struct lt_labels {
    value_map map;
    int n_meta, meta_cap;
    lt_metadata *meta;
};

lt_labels *lt_labels_new(void) { return lt__calloc("lt_labels_new", sizeof(lt_labels)); }

int lt_labels_set(lt_labels *l, const char *label, lt_value value)
{
    static const char *const fn = "lt_labels_set";
    if (!key_ok(fn, l, "label set", label)) return -1;
    return map_set(fn, &l->map, label, value);
}

static bool single_meta_type(lt_meta_type t)
{
    return t == LT_META_STR || t == LT_META_INT || t == LT_META_FLOAT || t == LT_META_CATEGORY;
}

/* The storage a metadata type promises (plugin.h's lt_metadata). */
static int check_metadata(const char *fn, const lt_metadata *m)
{
    if (!single_meta_type(m->type))
        return lt__fail(fn, "metadata '%s': type %u is not one of str, int, float, category", m->name,
                        (unsigned)m->type);
    if (m->type == LT_META_STR) {
        if (!m->strings) return lt__fail(fn, "metadata '%s' of type str has no strings", m->name);
        return 0;
    }
    if (!m->values) return lt__fail(fn, "metadata '%s' has no values tensor", m->name);
    if (m->type == LT_META_CATEGORY && !m->strings)
        return lt__fail(fn, "metadata '%s' of type category has no category names", m->name);
    const lt_dtype want = m->type == LT_META_FLOAT ? LT_F32 : LT_I32;
    if (m->values->dtype != want)
        return lt__fail(fn, "metadata '%s' values %s are %s, expected %s", m->name, lt__shp(m->values),
                        lt_dtype_name(m->values->dtype), lt_dtype_name(want));
    if (m->values->ndim != 1)
        return lt__fail(fn, "metadata '%s' values must be [B], got %s", m->name, lt__shp(m->values));
    return 0;
}

static int find_meta(const lt_labels *l, const char *name)
{
    for (int i = 0; i < l->n_meta; i++)
        if (!strcmp(l->meta[i].name, name)) return i;
    return -1;
}

int lt_labels_set_metadata(lt_labels *l, const lt_metadata *meta)
{
    static const char *const fn = "lt_labels_set_metadata";
    if (!l || !meta) return lt__fail(fn, "%s is NULL", l ? "metadata" : "label set");
    if (!key_ok(fn, l, "label set", meta->name) || check_metadata(fn, meta)) return -1;
    lt_metadata copy = *meta;
    int at = find_meta(l, meta->name);
    if (at < 0) {
        if (l->n_meta == l->meta_cap) {
            const int cap = l->meta_cap ? 2 * l->meta_cap : INITIAL_CAPACITY;
            lt_metadata *grown = lt__alloc(fn, (size_t)cap * sizeof *grown);
            if (!grown) return -1;
            if (l->n_meta) memcpy(grown, l->meta, (size_t)l->n_meta * sizeof *grown);
            l->meta = grown;
            l->meta_cap = cap;
        }
        if (!(copy.name = step_strdup(fn, meta->name))) return -1;
        at = l->n_meta++;
    } else {
        copy.name = l->meta[at].name;
    }
    l->meta[at] = copy;
    return 0;
}

const lt_value *lt_labels_get(const lt_labels *l, const char *label)
{
    if (!l || !label) return NULL;
    const int at = map_find(&l->map, label);
    return at >= 0 ? &l->map.values[at] : NULL;
}

const lt_metadata *lt_labels_get_metadata(const lt_labels *l, const char *name)
{
    if (!l || !name) return NULL;
    const int at = find_meta(l, name);
    return at >= 0 ? &l->meta[at] : NULL;
}

/* "segmentation, metadata/distance": labels first, then metadata the way
 * luxonis-train names them. */
const char *lt_labels_keys_str(const lt_labels *l)
{
    static const char *const fn = "lt_labels_keys_str";
    if (!l) return "(none)";
    const int n = l->map.n + l->n_meta;
    if (n == 0) return "(none)";
    const char **names = lt__alloc(fn, (size_t)n * sizeof *names);
    const char **prefixes = lt__alloc(fn, (size_t)n * sizeof *prefixes);
    if (!names || !prefixes) return NULL;
    for (int i = 0; i < l->map.n; i++) {
        names[i] = l->map.keys[i];
        prefixes[i] = "";
    }
    for (int i = 0; i < l->n_meta; i++) {
        names[l->map.n + i] = l->meta[i].name;
        prefixes[l->map.n + i] = "metadata/";
    }
    return join_names(fn, names, prefixes, n);
}
