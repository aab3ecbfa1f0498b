/* State dicts (see safetensors.h): safetensors tensors into an lt_params
 * store by PyTorch name, and a store out to safetensors.
 *
 * Loading runs in two passes, plan then copy, so a failed load (shape or
 * dtype mismatch, strict-mode key mismatch) leaves the store untouched. */
#define _POSIX_C_SOURCE 200809L

#include "../internal.h"

#include <ltrain/safetensors.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F32_EXACT_INT (1 << 24) /* every integer of magnitude <= 2^24 is exact in float32 */

static int sd_fail(const lt_safetensors *f, const char *fmt, ...) LT_PRINTF(2, 3);
static int sd_fail(const lt_safetensors *f, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *path = lt_safetensors_path(f);
    return lt_set_error("state_dict: '%s': %s", path ? path : "(null)", msg);
}

void lt_state_dict_report_free(lt_state_dict_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_missing; i++) free(r->missing[i]);
    for (size_t i = 0; i < r->n_unexpected; i++) free(r->unexpected[i]);
    free(r->missing);
    free(r->unexpected);
    *r = (lt_state_dict_report){0};
}

/* ---- names ---- */

/* The store name a file name maps to (malloc'd), after the first matching rule. */
static char *map_name(const char *name, const lt_state_dict_options *o)
{
    for (size_t i = 0; i < o->n_maps; i++) {
        const char *from = o->maps[i].from ? o->maps[i].from : "";
        const char *to = o->maps[i].to ? o->maps[i].to : "";
        size_t lf = strlen(from);
        if (strncmp(name, from, lf)) continue;
        size_t lt = strlen(to), rest = strlen(name + lf);
        char *s = malloc(lt + rest + 1);
        if (s) {
            memcpy(s, to, lt);
            memcpy(s + lt, name + lf, rest + 1);
        }
        return s;
    }
    return strdup(name);
}

static bool in_scope(const lt_tensor *t, const lt_state_dict_options *o)
{
    return !o->scope || !strncmp(t->name, o->scope, strlen(o->scope));
}

/* ---- dtype conversion ---- */

static bool is_int(lt_dtype d) { return d == LT_I32 || d == LT_U8 || d == LT_I64; }

static int64_t int_at(const lt_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case LT_I32: return ((const int32_t *)t->data)[i];
    case LT_U8: return ((const uint8_t *)t->data)[i];
    default: return ((const int64_t *)t->data)[i];
    }
}

static bool fits(int64_t v, lt_dtype to)
{
    switch (to) {
    case LT_I32: return v >= INT32_MIN && v <= INT32_MAX;
    case LT_U8: return v >= 0 && v <= UINT8_MAX;
    case LT_I64: return true;
    default: return v >= -F32_EXACT_INT && v <= F32_EXACT_INT; /* LT_F32 */
    }
}

/* Checks that src converts to dst's dtype without changing a value. */
static int check_convertible(const lt_safetensors *f, const char *file_name, const lt_tensor *src,
                             const lt_tensor *dst)
{
    if (src->dtype == dst->dtype) return 0;
    if (!is_int(src->dtype))
        return sd_fail(f, "tensor '%s' is %s but '%s' is %s; float32 does not convert to integers", file_name,
                       lt_dtype_name(src->dtype), dst->name, lt_dtype_name(dst->dtype));
    for (int64_t i = 0; i < src->numel; i++) {
        int64_t v = int_at(src, i);
        if (!fits(v, dst->dtype))
            return sd_fail(f, "tensor '%s' (%s) element %lld = %lld does not fit '%s' (%s) exactly", file_name,
                           lt_dtype_name(src->dtype), (long long)i, (long long)v, dst->name,
                           lt_dtype_name(dst->dtype));
    }
    return 0;
}

static void copy_converted(const lt_tensor *src, lt_tensor *dst)
{
    if (src->dtype == dst->dtype) {
        memcpy(dst->data, src->data, (size_t)src->numel * lt_dtype_size(src->dtype));
    } else {
        for (int64_t i = 0; i < src->numel; i++) {
            int64_t v = int_at(src, i);
            switch (dst->dtype) {
            case LT_I32: ((int32_t *)dst->data)[i] = (int32_t)v; break;
            case LT_U8: ((uint8_t *)dst->data)[i] = (uint8_t)v; break;
            case LT_I64: ((int64_t *)dst->data)[i] = v; break;
            default: ((float *)dst->data)[i] = (float)v; break;
            }
        }
    }
    dst->version++;
}

/* ---- the plan ---- */

typedef struct plan {
    lt_tensor **dst;  /* per file tensor: the store tensor it loads into, or NULL */
    bool *matched;    /* per store tensor */
    lt_tensor **zero; /* num_batches_tracked buffers reset to 0 (see legacy_bn_counter) */
    size_t n_zero;
    lt_state_dict_report rep;
} plan;

static void plan_free(plan *pl)
{
    free(pl->dst);
    free(pl->matched);
    free(pl->zero);
    lt_state_dict_report_free(&pl->rep);
}

static int push_name(char ***list, size_t *n, const char *name)
{
    char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (!grown) return -1;
    *list = grown;
    if (!(grown[*n] = strdup(name))) return -1;
    (*n)++;
    return 0;
}

static bool store_matched(const lt_params *p, const plan *pl, const char *name)
{
    const lt_tensor *t = lt_params_find(p, name);
    for (size_t k = 0; t && k < lt_params_count(p); k++)
        if (lt_params_at(p, k) == t) return pl->matched[k];
    return false;
}

/* State dicts saved before PyTorch 0.4.1 (and the torchvision model-zoo
 * weights converted from them) have no "<bn>.num_batches_tracked". Like
 * BatchNorm's _load_from_state_dict for such files, a missing counter whose
 * "<bn>.running_mean" is in the file is reset to 0 instead of being
 * reported missing. */
static bool legacy_bn_counter(const lt_params *p, const plan *pl, const lt_tensor *t)
{
    static const char suffix[] = ".num_batches_tracked";
    size_t len = strlen(t->name), ls = sizeof suffix - 1;
    if (len <= ls || strcmp(t->name + len - ls, suffix) || t->numel != 1 || !is_int(t->dtype)) return false;
    char *mean = malloc(len - ls + sizeof ".running_mean");
    if (!mean) return false;
    memcpy(mean, t->name, len - ls);
    strcpy(mean + len - ls, ".running_mean");
    bool legacy = store_matched(p, pl, mean);
    free(mean);
    return legacy;
}

/* Pairs file tensors with store tensors and checks shapes and dtypes. */
static int match_tensors(lt_params *p, const lt_safetensors *f, const lt_state_dict_options *o, plan *pl)
{
    size_t nf = lt_safetensors_count(f), np = lt_params_count(p);
    pl->dst = calloc(nf + 1, sizeof *pl->dst);
    pl->matched = calloc(np + 1, sizeof *pl->matched);
    if (!pl->dst || !pl->matched) return sd_fail(f, "out of memory");
    for (size_t i = 0; i < nf; i++) {
        const lt_tensor *src = lt_safetensors_at(f, i);
        char *name = map_name(src->name, o);
        if (!name) return sd_fail(f, "out of memory");
        lt_tensor *dst = lt_params_find(p, name);
        free(name);
        if (!dst || !in_scope(dst, o)) {
            if (push_name(&pl->rep.unexpected, &pl->rep.n_unexpected, src->name)) return sd_fail(f, "out of memory");
            continue;
        }
        if (!lt_same_shape(src, dst))
            return sd_fail(f, "size mismatch for '%s'%s%s%s: the file has %s, the model %s", dst->name,
                           strcmp(src->name, dst->name) ? " (in the file '" : "",
                           strcmp(src->name, dst->name) ? src->name : "", strcmp(src->name, dst->name) ? "')" : "",
                           lt__shp(src), lt__shp(dst));
        if (check_convertible(f, src->name, src, dst)) return -1;
        for (size_t k = 0; k < np; k++)
            if (lt_params_at(p, k) == dst) {
                if (pl->matched[k])
                    return sd_fail(f, "tensor '%s' maps to '%s', which another tensor of the file also maps to",
                                   src->name, dst->name);
                pl->matched[k] = true;
            }
        pl->dst[i] = dst;
        pl->rep.n_loaded++;
    }
    pl->zero = calloc(np + 1, sizeof *pl->zero);
    if (!pl->zero) return sd_fail(f, "out of memory");
    for (size_t k = 0; k < np; k++) {
        lt_tensor *t = lt_params_at(p, k);
        if (pl->matched[k] || !in_scope(t, o)) continue;
        if (legacy_bn_counter(p, pl, t)) {
            pl->zero[pl->n_zero++] = t;
            continue;
        }
        if (push_name(&pl->rep.missing, &pl->rep.n_missing, t->name)) return sd_fail(f, "out of memory");
    }
    return 0;
}

/* Appends "label: a, b, c" to buf as far as it fits, ending with "(N more)". */
static void append_list(char *buf, size_t size, const char *label, char **names, size_t n)
{
    size_t len = strlen(buf);
    if (!n || len + 1 >= size) return;
    len += (size_t)snprintf(buf + len, size - len, "%s%zu %s: ", len ? "; " : "", n, label);
    for (size_t i = 0; i < n && len < size; i++) {
        size_t need = strlen(names[i]) + 2;
        if (len + need + 16 >= size) {
            snprintf(buf + len, size - len, "... (%zu more)", n - i);
            return;
        }
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
    }
}

static int strict_failure(const lt_safetensors *f, const plan *pl)
{
    char list[800] = "";
    append_list(list, sizeof list, pl->rep.n_missing == 1 ? "missing key" : "missing keys", pl->rep.missing,
                pl->rep.n_missing);
    append_list(list, sizeof list, pl->rep.n_unexpected == 1 ? "unexpected key" : "unexpected keys",
                pl->rep.unexpected, pl->rep.n_unexpected);
    return sd_fail(f, "strict load: %s", list);
}

int lt_state_dict_load(lt_params *p, const lt_safetensors *f, const lt_state_dict_options *o,
                       lt_state_dict_report *report)
{
    static const lt_state_dict_options strict_default = {.strict = true};
    if (report) *report = (lt_state_dict_report){0};
    if (!p || !f) return lt_set_error("state_dict: %s is NULL", !p ? "parameter store" : "file");
    if (!o) o = &strict_default;
    if (o->n_maps && !o->maps) return sd_fail(f, "n_maps is %zu but maps is NULL", o->n_maps);
    plan pl = {0};
    int rc = match_tensors(p, f, o, &pl);
    if (!rc && o->strict && (pl.rep.n_missing || pl.rep.n_unexpected)) {
        rc = strict_failure(f, &pl);
        if (report) {
            *report = pl.rep;
            report->n_loaded = 0; /* nothing was written */
            pl.rep = (lt_state_dict_report){0};
        }
    }
    if (!rc) {
        for (size_t i = 0; i < lt_safetensors_count(f); i++)
            if (pl.dst[i]) copy_converted(lt_safetensors_at(f, i), pl.dst[i]);
        for (size_t i = 0; i < pl.n_zero; i++) {
            memset(pl.zero[i]->data, 0, lt_dtype_size(pl.zero[i]->dtype));
            pl.zero[i]->version++;
        }
        if (report) {
            *report = pl.rep;
            pl.rep = (lt_state_dict_report){0};
        }
    }
    plan_free(&pl);
    return rc;
}

int lt_state_dict_load_file(lt_params *p, const char *path, const lt_state_dict_options *o,
                            lt_state_dict_report *report)
{
    if (report) *report = (lt_state_dict_report){0};
    lt_safetensors *f = lt_safetensors_load(path);
    if (!f) return -1;
    int rc = lt_state_dict_load(p, f, o, report);
    lt_safetensors_free(f);
    return rc;
}

int lt_state_dict_save(const lt_params *p, const char *path, const lt_named_tensor *extra, size_t n_extra,
                       const lt_metadata_entry *meta, size_t n_meta)
{
    if (!p) return lt_set_error("state_dict: '%s': parameter store is NULL", path ? path : "(null)");
    if (n_extra && !extra) return lt_set_error("state_dict: '%s': n_extra is %zu but extra is NULL", path, n_extra);
    size_t np = lt_params_count(p), n = np + n_extra;
    lt_named_tensor *all = malloc((n + 1) * sizeof *all);
    if (!all) return lt_set_error("state_dict: '%s': out of memory", path ? path : "(null)");
    for (size_t i = 0; i < np; i++) {
        lt_tensor *t = lt_params_at(p, i);
        /* lt_named_tensor's fields are not const; the writer only reads them. */
        all[i] = (lt_named_tensor){(char *)t->name, t};
    }
    for (size_t i = 0; i < n_extra; i++) all[np + i] = extra[i];
    int rc = lt_safetensors_save(path, all, n, meta, n_meta);
    free(all);
    return rc;
}
