/* Registry of plugin descriptors: entries in registration order (the order
 * `ltrain plugins` lists them), plus an open-addressing hash index on
 * (kind, name) so lookups stay O(1) however many plugins are loaded. */
#include "registry.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct lt_registry {
    lt_registry_entry *entries; /* registration order */
    size_t n, cap;
    size_t *slots;              /* hash index: entry index + 1, 0 = empty */
    size_t n_slots;             /* power of two, at least twice n */
};

/* ------------------------------------------------------------------ */
/* Hash index                                                          */
/* ------------------------------------------------------------------ */

static size_t key_hash(lt_desc_kind kind, const char *name)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)kind; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return (size_t)h;
}

static bool entry_is(const lt_registry_entry *e, lt_desc_kind kind, const char *name)
{
    return e->desc->kind == kind && strcmp(e->desc->name, name) == 0;
}

/* Slot holding (kind, name), or the empty slot where it would go. */
static size_t *find_slot(const lt_registry *r, lt_desc_kind kind, const char *name)
{
    size_t mask = r->n_slots - 1;
    for (size_t i = key_hash(kind, name) & mask;; i = (i + 1) & mask) {
        size_t *s = &r->slots[i];
        if (*s == 0 || entry_is(&r->entries[*s - 1], kind, name)) return s;
    }
}

static int grow_index(lt_registry *r)
{
    size_t n_slots = r->n_slots ? r->n_slots * 2 : 64;
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return lt_set_error("registry: out of memory");
    free(r->slots);
    r->slots = slots;
    r->n_slots = n_slots;
    for (size_t i = 0; i < r->n; i++) *find_slot(r, r->entries[i].desc->kind, r->entries[i].desc->name) = i + 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

lt_registry *lt_registry_new(void)
{
    lt_registry *r = calloc(1, sizeof *r);
    if (!r || grow_index(r) != 0) {
        free(r);
        lt_set_error("registry: out of memory");
        return NULL;
    }
    return r;
}

void lt_registry_free(lt_registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->entries[i].plugin);
        free((char *)r->entries[i].file);
    }
    free(r->entries);
    free(r->slots);
    free(r);
}

static const char *file_or_builtin(const char *file) { return file && *file ? file : "(built in)"; }

int lt_registry_add(lt_registry *r, const lt_desc_header *desc, const char *plugin, const char *file)
{
    if (!desc || !desc->name || desc->kind <= 0 || desc->kind >= LT_DESC_KIND_COUNT)
        return lt_set_error("registry: descriptor without a name or with an invalid kind");
    const lt_registry_entry *old = lt_registry_find(r, desc->kind, desc->name);
    if (old)
        return lt_set_error("%s '%s' of plugin '%s' (%s) is already registered by plugin '%s' (%s)",
                            lt_desc_kind_name(desc->kind), desc->name, plugin ? plugin : "?", file_or_builtin(file),
                            old->plugin, file_or_builtin(old->file));
    if (2 * (r->n + 1) > r->n_slots && grow_index(r) != 0) return -1;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        lt_registry_entry *e = realloc(r->entries, cap * sizeof *e);
        if (!e) return lt_set_error("registry: out of memory");
        r->entries = e;
        r->cap = cap;
    }
    char *plugin_copy = strdup(plugin ? plugin : "");
    char *file_copy = strdup(file ? file : "");
    if (!plugin_copy || !file_copy) {
        free(plugin_copy);
        free(file_copy);
        return lt_set_error("registry: out of memory");
    }
    r->entries[r->n] = (lt_registry_entry){.desc = desc, .plugin = plugin_copy, .file = file_copy};
    *find_slot(r, desc->kind, desc->name) = ++r->n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Lookup                                                              */
/* ------------------------------------------------------------------ */

const lt_registry_entry *lt_registry_find(const lt_registry *r, lt_desc_kind kind, const char *name)
{
    if (!r || !name) return NULL;
    size_t s = *find_slot(r, kind, name);
    return s ? &r->entries[s - 1] : NULL;
}

size_t lt_registry_count(const lt_registry *r) { return r ? r->n : 0; }

const lt_registry_entry *lt_registry_at(const lt_registry *r, size_t i)
{
    return r && i < r->n ? &r->entries[i] : NULL;
}

/* Optimal-string-alignment distance (Levenshtein plus adjacent
 * transpositions, the commonest typo), case-insensitive. Three rolling
 * rows; names are short, so the stack suffices for all but absurd input. */
int lt_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int stack_rows[3 * 129];
    int *heap = NULL, *rows = stack_rows;
    if (lb + 1 > 129) {
        heap = malloc(3 * (lb + 1) * sizeof *heap);
        if (!heap) return (int)(la > lb ? la : lb); /* the trivial upper bound */
        rows = heap;
    }
    int *prev2 = rows, *prev = rows + lb + 1, *cur = rows + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        int ca = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= lb; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            int best = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    int d = prev[lb];
    free(heap);
    return d;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return true;
    return n == 0;
}

static size_t common_prefix_nocase(const char *a, const char *b)
{
    size_t n = 0;
    while (a[n] && b[n] && tolower((unsigned char)a[n]) == tolower((unsigned char)b[n])) n++;
    return n;
}

/* How close `cand` is to the misspelt `name`: the edit distance when the
 * two are plausibly the same thing, -1 otherwise. Plausible means a small
 * distance for the length (a third of the longer name, at least 2), one
 * containing the other ("FocalLoss" in "SigmoidFocalLoss"), or a shared
 * prefix of three characters or more ("BCELoss", "BCEWithLogitsLoss"). */
static int closeness(const char *name, const char *cand)
{
    size_t ln = strlen(name), lc = strlen(cand), longer = ln > lc ? ln : lc, shorter = ln < lc ? ln : lc;
    int d = lt_edit_distance(name, cand);
    int limit = (int)(longer / 3) > 2 ? (int)(longer / 3) : 2;
    if (d <= limit) return d;
    if (shorter >= 3 && (contains_nocase(cand, name) || contains_nocase(name, cand))) return d;
    size_t prefix = common_prefix_nocase(name, cand);
    if (prefix >= 3) return d;
    return -1;
}

enum { MAX_SUGGESTIONS = 3 };

/* Up to MAX_SUGGESTIONS entries of `kind` closest to name, best first
 * (ties keep registration order). Returns how many. */
static int suggest(const lt_registry *r, lt_desc_kind kind, const char *name, const char **out)
{
    int dist[MAX_SUGGESTIONS], n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const lt_desc_header *d = r->entries[i].desc;
        if (d->kind != kind) continue;
        int c = closeness(name, d->name);
        if (c < 0) continue;
        int at = n;
        while (at > 0 && dist[at - 1] > c) at--;
        if (at >= MAX_SUGGESTIONS) continue;
        int last = n < MAX_SUGGESTIONS ? n : MAX_SUGGESTIONS - 1;
        for (int k = last; k > at; k--) {
            dist[k] = dist[k - 1];
            out[k] = out[k - 1];
        }
        dist[at] = c;
        out[at] = d->name;
        if (n < MAX_SUGGESTIONS) n++;
    }
    return n;
}

static size_t count_kind(const lt_registry *r, lt_desc_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) n += r->entries[i].desc->kind == kind;
    return n;
}

const lt_registry_entry *lt_registry_lookup(const lt_registry *r, lt_desc_kind kind, const char *name,
                                            const char *context)
{
    const char *ctx = context && *context ? context : NULL;
    if (!name || !*name) {
        lt_set_error("%s%sexpected a %s name, got an empty one", ctx ? ctx : "", ctx ? ": " : "", lt_desc_kind_name(kind));
        return NULL;
    }
    const lt_registry_entry *e = lt_registry_find(r, kind, name);
    if (e) return e;

    char hint[512];
    const char *close[MAX_SUGGESTIONS];
    int n = r ? suggest(r, kind, name, close) : 0;
    if (n > 0) {
        int len = snprintf(hint, sizeof hint, " (did you mean ");
        for (int i = 0; i < n && len > 0 && (size_t)len < sizeof hint; i++)
            len += snprintf(hint + len, sizeof hint - (size_t)len, "%s'%s'", i == 0 ? "" : i == n - 1 ? " or " : ", ",
                            close[i]);
        if (len > 0 && (size_t)len < sizeof hint) snprintf(hint + len, sizeof hint - (size_t)len, "?)");
    } else if (r && count_kind(r, kind) > 0) {
        snprintf(hint, sizeof hint, "; `ltrain plugins` lists the registered ones");
    } else {
        snprintf(hint, sizeof hint, "; no %s is registered (is the plugin on the plugin path?)", lt_desc_kind_name(kind));
    }
    lt_set_error("%s%sunknown %s '%s'%s", ctx ? ctx : "", ctx ? ": " : "", lt_desc_kind_name(kind), name, hint);
    return NULL;
}
