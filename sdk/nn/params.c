/* Parameter store (see nn.h): named parameters and buffers in registration
 * order, and packing of all parameter data / gradients into two flat blocks.
 *
 * Every parameter has a fixed offset in a flat layout (each tensor starts on
 * a 64-byte boundary; the gaps stay zero). lt_params_pack() lays data and
 * gradients out that way, so an optimizer can keep its state in the same
 * layout and walk one array (see lt__params_layout). */
#include "../internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PACK_ALIGN_FLOATS 16 /* 64 bytes */

typedef struct param_entry {
    lt_tensor *t;
    char *name;     /* owned; t->name borrows it */
    int64_t offset; /* flat-layout offset (parameters), -1 for buffers */
    bool in_block;  /* data/grad live in the store's packed blocks */
} param_entry;

struct lt_params {
    param_entry *entries;
    size_t count, cap;
    int64_t flat_size; /* floats in the flat layout of all parameters */
    float *data_block, *grad_block;
    bool packed; /* every parameter is in the current blocks */
};


lt_params *lt_params_new(void)
{
    lt_params *p = calloc(1, sizeof *p);
    if (!p) lt_set_error("lt_params_new: out of memory");
    return p;
}

static void entry_free(param_entry *e)
{
    if (e->in_block) {
        free(e->t); /* header only: data and grad belong to the blocks */
    } else {
        lt_tensor_free(e->t);
    }
    free(e->name);
}

void lt_params_free(lt_params *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->count; i++) entry_free(&p->entries[i]);
    free(p->entries);
    free(p->data_block);
    free(p->grad_block);
    free(p);
}

static char *join_name(const char *prefix, const char *name)
{
    size_t lp = prefix && *prefix ? strlen(prefix) + 1 : 0, ln = strlen(name);
    char *s = malloc(lp + ln + 1);
    if (!s) return NULL;
    if (lp) {
        memcpy(s, prefix, lp - 1);
        s[lp - 1] = '.';
    }
    memcpy(s + lp, name, ln + 1);
    return s;
}

static int64_t align_floats(int64_t n) { return (n + PACK_ALIGN_FLOATS - 1) / PACK_ALIGN_FLOATS * PACK_ALIGN_FLOATS; }

static lt_tensor *new_tensor(lt_dtype dtype, int ndim, const int64_t *shape, bool trainable)
{
    lt_tensor *t = lt_tensor_new(dtype, ndim, shape);
    if (!t) return NULL;
    if (trainable && lt_tensor_set_requires_grad(t, true) != 0) {
        lt_tensor_free(t);
        return NULL;
    }
    t->flags |= trainable ? LT_PARAMETER : LT_BUFFER;
    return t;
}

lt_tensor *lt_params_add(lt_params *p, const char *prefix, const char *name, lt_dtype dtype, int ndim,
                         const int64_t *shape, bool trainable)
{
    if (!p || !name || !*name) {
        lt_set_error("lt_params_add: %s", !p ? "store is NULL" : "empty parameter name");
        return NULL;
    }
    char *full = join_name(prefix, name);
    if (!full) {
        lt_set_error("lt_params_add: out of memory");
        return NULL;
    }
    if (lt_params_find(p, full)) {
        lt_set_error("lt_params_add: duplicate name '%s'", full);
        free(full);
        return NULL;
    }
    if (trainable && dtype != LT_F32) {
        lt_set_error("lt_params_add: parameter '%s' must be float32, got %s (only buffers may be other dtypes)",
                     full, lt_dtype_name(dtype));
        free(full);
        return NULL;
    }
    if (p->count == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 32;
        param_entry *e = realloc(p->entries, cap * sizeof *e);
        if (!e) {
            free(full);
            lt_set_error("lt_params_add: out of memory");
            return NULL;
        }
        p->entries = e;
        p->cap = cap;
    }
    lt_tensor *t = new_tensor(dtype, ndim, shape, trainable);
    if (!t) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", lt_last_error());
        lt_set_error("lt_params_add: '%s': %s", full, msg);
        free(full);
        return NULL;
    }
    t->name = full;
    param_entry *e = &p->entries[p->count++];
    *e = (param_entry){.t = t, .name = full, .offset = -1, .in_block = false};
    if (trainable) {
        e->offset = p->flat_size;
        p->flat_size += align_floats(t->numel);
        p->packed = false; /* the new parameter lives outside the blocks */
    }
    return t;
}

lt_tensor *lt_params_find(const lt_params *p, const char *name)
{
    if (!p || !name) return NULL;
    for (size_t i = 0; i < p->count; i++)
        if (!strcmp(p->entries[i].name, name)) return p->entries[i].t;
    return NULL;
}

size_t lt_params_count(const lt_params *p) { return p ? p->count : 0; }

lt_tensor *lt_params_at(const lt_params *p, size_t i) { return p && i < p->count ? p->entries[i].t : NULL; }

int64_t lt_params_numel(const lt_params *p, bool trainable_only)
{
    int64_t n = 0;
    for (size_t i = 0; p && i < p->count; i++) {
        const lt_tensor *t = p->entries[i].t;
        if ((t->flags & LT_PARAMETER) && (!trainable_only || lt_requires_grad(t))) n += t->numel;
    }
    return n;
}

int lt_params_pack(lt_params *p)
{
    if (!p) return lt_set_error("lt_params_pack: store is NULL");
    if (p->packed) return 0;
    size_t bytes = (size_t)(p->flat_size ? p->flat_size : PACK_ALIGN_FLOATS) * sizeof(float);
    float *data = aligned_alloc(64, bytes), *grad = aligned_alloc(64, bytes);
    if (!data || !grad) {
        free(data);
        free(grad);
        return lt_set_error("lt_params_pack: out of memory for %zu bytes of parameters", bytes);
    }
    memset(data, 0, bytes);
    memset(grad, 0, bytes);
    for (size_t i = 0; i < p->count; i++) {
        param_entry *e = &p->entries[i];
        if (e->offset < 0) continue;
        lt_tensor *t = e->t;
        size_t n = (size_t)t->numel * sizeof(float);
        float *d = data + e->offset, *g = grad + e->offset;
        memcpy(d, t->data, n);
        if (t->grad) memcpy(g, t->grad, n);
        if (!e->in_block) {
            free(t->data);
            free(t->grad);
        }
        t->data = d;
        t->grad = g;
        e->in_block = true;
    }
    free(p->data_block);
    free(p->grad_block);
    p->data_block = data;
    p->grad_block = grad;
    p->packed = true;
    return 0;
}

void lt_params_zero_grad(lt_params *p)
{
    if (!p) return;
    if (p->packed) {
        memset(p->grad_block, 0, (size_t)p->flat_size * sizeof(float));
        return;
    }
    for (size_t i = 0; i < p->count; i++)
        if (p->entries[i].offset >= 0) lt_tensor_zero_grad(p->entries[i].t);
}

void lt_params_set_trainable(lt_params *p, const char *prefix, bool trainable)
{
    if (!p) return;
    size_t lp = prefix ? strlen(prefix) : 0;
    for (size_t i = 0; i < p->count; i++) {
        param_entry *e = &p->entries[i];
        if (e->offset < 0 || (lp && strncmp(e->name, prefix, lp) != 0)) continue;
        /* Parameters always have a gradient buffer, so this cannot fail. */
        lt_tensor_set_requires_grad(e->t, trainable);
    }
}

/* ---- internal: the flat layout, for optimizers ---- */

int64_t lt__params_offset(const lt_params *p, size_t i) { return i < p->count ? p->entries[i].offset : -1; }

int64_t lt__params_flat_size(const lt_params *p) { return p->flat_size; }

bool lt__params_blocks(const lt_params *p, float **data, float **grad)
{
    if (!p->packed) return false;
    *data = p->data_block;
    *grad = p->grad_block;
    return true;
}
