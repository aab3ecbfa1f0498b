/* The lt_node_* accessors of plugin.h: a node's typed params (from its
 * config's `params:` map), identity, mode, parameter store and the shapes
 * and dataset facts the core found for it (see node_ctx.h).
 *
 * A param of the wrong type cannot be reported through the return value
 * (the readers return the default), so the first such error is kept in the
 * context; the core fails the model build with it after init, whatever init
 * returned. The message names the config location, the node, the key, the
 * expected type and what was found. */
#include "node_ctx.h"

#include "../internal.h"

#include <stdio.h>
#include <string.h>

/* ---------------- typed params ---------------- */

static void describe_value(const lt_cfg *v, char *buf, size_t size)
{
    switch (v ? v->type : LT_CFG_NULL) {
    case LT_CFG_SCALAR: snprintf(buf, size, "'%s'", v->text ? v->text : ""); return;
    case LT_CFG_LIST: snprintf(buf, size, "a list of %d", v->n); return;
    case LT_CFG_MAP: snprintf(buf, size, "a map"); return;
    case LT_CFG_NULL: break;
    }
    snprintf(buf, size, "null");
}

/* item >= 0: v is a list whose item-th entry is the offender. */
static void param_fail_at(lt_node_ctx *nc, const char *key, const lt_cfg *v, int item, const char *expected)
{
    char got[160], what[96];
    if (item >= 0) {
        describe_value(lt_cfg_at(v, item), what, sizeof what);
        snprintf(got, sizeof got, "%s at index %d", what, item);
        v = lt_cfg_at(v, item);
    } else {
        describe_value(v, got, sizeof got);
    }
    char node[192], msg[LT_NODE_PARAM_ERROR_MAX];
    if (nc->type_name && strcmp(nc->type_name, nc->name))
        snprintf(node, sizeof node, "node '%s' (%s)", nc->name, nc->type_name);
    else
        snprintf(node, sizeof node, "node '%s'", nc->name);
    snprintf(msg, sizeof msg, "%s: %s: param '%s' must be %s, got %s", lt_cfg_where(v), node, key, expected, got);
    if (!nc->param_failed) {
        nc->param_failed = true;
        snprintf(nc->param_error, sizeof nc->param_error, "%s", msg);
    }
    lt_set_error("%s", msg);
}

static void param_fail(lt_node_ctx *nc, const char *key, const lt_cfg *v, const char *expected)
{
    param_fail_at(nc, key, v, -1, expected);
}

/* The value at key, or NULL when absent or null (then the default applies). */
static const lt_cfg *param_value(lt_node_ctx *nc, const char *fn, const char *key)
{
    if (!nc || !key) {
        lt_set_error("%s: %s is NULL", fn, nc ? "key" : "node context");
        return NULL;
    }
    if (!nc->cfg) return NULL;
    const lt_cfg *v = lt_cfg_get(nc->cfg, key);
    return v && !lt_cfg_is_null(v) ? v : NULL;
}

int64_t lt_node_param_int(lt_node_ctx *nc, const char *key, int64_t def)
{
    const lt_cfg *v = param_value(nc, "lt_node_param_int", key);
    int64_t out;
    if (!v) return def;
    if (v->type != LT_CFG_SCALAR || !lt_cfg_is_int(v) || lt_cfg_as_int(v, key, &out)) {
        param_fail(nc, key, v, "an integer");
        return def;
    }
    return out;
}

double lt_node_param_float(lt_node_ctx *nc, const char *key, double def)
{
    const lt_cfg *v = param_value(nc, "lt_node_param_float", key);
    double out;
    if (!v) return def;
    if (v->type != LT_CFG_SCALAR || !lt_cfg_is_number(v) || lt_cfg_as_float(v, key, &out)) {
        param_fail(nc, key, v, "a number");
        return def;
    }
    return out;
}

bool lt_node_param_bool(lt_node_ctx *nc, const char *key, bool def)
{
    const lt_cfg *v = param_value(nc, "lt_node_param_bool", key);
    bool out;
    if (!v) return def;
    if (v->type != LT_CFG_SCALAR || !lt_cfg_is_bool(v) || lt_cfg_as_bool(v, key, &out)) {
        param_fail(nc, key, v, "a boolean (true or false)");
        return def;
    }
    return out;
}

/* Any scalar reads as its text: `variant: 18` is meant as "18". */
const char *lt_node_param_str(lt_node_ctx *nc, const char *key, const char *def)
{
    const lt_cfg *v = param_value(nc, "lt_node_param_str", key);
    const char *out;
    if (!v) return def;
    if (v->type != LT_CFG_SCALAR || lt_cfg_as_str(v, key, &out)) {
        param_fail(nc, key, v, "a string");
        return def;
    }
    return out;
}

bool lt_node_has_param(lt_node_ctx *nc, const char *key)
{
    return param_value(nc, "lt_node_has_param", key) != NULL;
}

int lt_node_param_ints(lt_node_ctx *nc, const char *key, int64_t *out, int max)
{
    const lt_cfg *v = param_value(nc, "lt_node_param_ints", key);
    if (!v) return -1;
    if (v->type != LT_CFG_LIST) {
        param_fail(nc, key, v, "a list of integers");
        return -1;
    }
    for (int i = 0; i < v->n; i++) {
        const lt_cfg *item = lt_cfg_at(v, i);
        int64_t value;
        if (!item || item->type != LT_CFG_SCALAR || !lt_cfg_is_int(item) || lt_cfg_as_int(item, key, &value)) {
            param_fail_at(nc, key, v, i, "a list of integers");
            return -1;
        }
        if (out && i < max) out[i] = value;
    }
    return v->n;
}

/* ---------------- identity and model facts ---------------- */

static bool ctx_ok(const lt_node_ctx *nc, const char *fn)
{
    if (!nc) lt_set_error("%s: node context is NULL", fn);
    return nc != NULL;
}

const char *lt_node_name(const lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_name") ? nc->name : NULL; }

const char *lt_node_variant(const lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_variant") ? nc->variant : NULL; }

lt_mode lt_node_mode(const lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_mode") ? nc->mode : LT_MODE_TRAIN; }

const char *lt_node_prefix(const lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_prefix") ? nc->prefix : NULL; }

lt_params *lt_node_params(lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_params") ? nc->params : NULL; }

lt_rng *lt_node_rng(lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_rng") ? nc->rng : NULL; }

int lt_node_n_inputs(const lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_n_inputs") ? nc->n_inputs : 0; }

/* Dimension `dim` (1 = channels, 2 = height, 3 = width) of input i, or -1
 * with an error naming the node. */
static int64_t input_dim(const lt_node_ctx *nc, const char *fn, int i, int dim, const char *what)
{
    if (!ctx_ok(nc, fn)) return -1;
    if (nc->n_inputs == 0) {
        lt_set_error("%s: node '%s' has no known input shapes (its first input packet has no 'features' "
                     "the attach_index could select from)", fn, nc->name);
        return -1;
    }
    if (i < 0 || i >= nc->n_inputs) {
        lt_set_error("%s: node '%s': input %d out of range (it has %d input%s)", fn, nc->name, i, nc->n_inputs,
                     nc->n_inputs == 1 ? "" : "s");
        return -1;
    }
    const lt_node_input_shape *s = &nc->inputs[i];
    if (s->ndim <= dim) {
        lt_set_error("%s: node '%s': input %d has shape %s, which has no %s", fn, nc->name, i,
                     lt__shape_dims(s->ndim, s->shape), what);
        return -1;
    }
    return s->shape[dim];
}

int64_t lt_node_in_channels(const lt_node_ctx *nc, int i)
{
    return input_dim(nc, "lt_node_in_channels", i, 1, "channels");
}

int64_t lt_node_in_height(const lt_node_ctx *nc, int i) { return input_dim(nc, "lt_node_in_height", i, 2, "height"); }

int64_t lt_node_in_width(const lt_node_ctx *nc, int i) { return input_dim(nc, "lt_node_in_width", i, 3, "width"); }

int lt_node_n_classes(const lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_n_classes") ? nc->n_classes : 0; }

int lt_node_n_keypoints(const lt_node_ctx *nc) { return ctx_ok(nc, "lt_node_n_keypoints") ? nc->n_keypoints : 0; }

const char *lt_node_class_name(const lt_node_ctx *nc, int i)
{
    if (!ctx_ok(nc, "lt_node_class_name")) return NULL;
    if (!nc->class_names || i < 0 || i >= nc->n_classes) {
        lt_set_error("lt_node_class_name: node '%s': no class name %d (%d classes%s)", nc->name, i, nc->n_classes,
                     nc->class_names ? "" : ", none named");
        return NULL;
    }
    return nc->class_names[i];
}

const int64_t *lt_node_original_in_shape(const lt_node_ctx *nc)
{
    return ctx_ok(nc, "lt_node_original_in_shape") ? nc->original_in_shape : NULL;
}
