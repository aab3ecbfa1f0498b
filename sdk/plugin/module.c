/* The attached-module handle (plugin.h's lt_module): accessors, typed
 * params, sub-loss reports, metric states and metric results. */
#include "module.h"

#include "../internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lt_desc_kind_name(lt_desc_kind kind)
{
    static const char *const names[LT_DESC_KIND_COUNT] = {
        [LT_DESC_NODE] = "node",     [LT_DESC_TASK] = "task",          [LT_DESC_LOSS] = "loss",
        [LT_DESC_METRIC] = "metric", [LT_DESC_VISUALIZER] = "visualizer",
    };
    return kind > 0 && kind < LT_DESC_KIND_COUNT ? names[kind] : "descriptor";
}

const char *lt_arg_kind_name(lt_arg_kind kind)
{
    switch (kind) {
    case LT_ARG_TENSOR: return "tensor";
    case LT_ARG_LIST: return "list";
    case LT_ARG_METADATA: return "metadata";
    case LT_ARG_CANVAS: return "canvas";
    }
    return "?";
}

static char *dup_str(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ------------------------------------------------------------------ */
/* Metric states                                                       */
/* ------------------------------------------------------------------ */

static void fill_f32(lt_tensor *t, float v)
{
    float *d = lt_f32(t);
    for (int64_t i = 0; i < t->numel; i++) d[i] = v;
}

static void clear_list(lt_metric_state_slot *s)
{
    for (int i = 0; i < s->list.n; i++) lt_tensor_free(s->list.items[i]);
    s->list.n = 0;
}

/* Fills the resolved copy of a spec; -1 with an error naming the state. */
static int resolve_state_spec(const char *who, int n_classes, const lt_state_spec *in, lt_state_spec *out)
{
    *out = *in;
    if (!in->name[0]) return lt_set_error("%s: a metric state has an empty name", who);
    if (in->kind != LT_STATE_TENSOR && in->kind != LT_STATE_LIST)
        return lt_set_error("%s: state '%s' has kind %d; expected LT_STATE_TENSOR or LT_STATE_LIST", who, in->name,
                            (int)in->kind);
    if ((unsigned)in->reduce > LT_REDUCE_CAT)
        return lt_set_error("%s: state '%s' has an unknown reduce %d", who, in->name, (int)in->reduce);
    if (in->kind == LT_STATE_LIST) {
        /* Lists can only be gathered across processes, never summed. */
        if (in->reduce != LT_REDUCE_DEFAULT && in->reduce != LT_REDUCE_CAT)
            return lt_set_error("%s: list state '%s' can only be reduced by cat (LT_REDUCE_CAT)", who, in->name);
        out->reduce = LT_REDUCE_CAT;
        out->ndim = 0;
        return 0;
    }
    if (in->reduce == LT_REDUCE_DEFAULT) out->reduce = LT_REDUCE_SUM;
    if (in->ndim < 0 || in->ndim > 4)
        return lt_set_error("%s: state '%s' has ndim %d; expected 0..4", who, in->name, in->ndim);
    for (int d = 0; d < in->ndim; d++) {
        if (in->shape[d] == -1) {
            if (n_classes <= 0)
                return lt_set_error("%s: state '%s' has a dimension of -1 (n_classes), but the node has no "
                                    "classes", who, in->name);
            out->shape[d] = n_classes;
        } else if (in->shape[d] < 0) {
            return lt_set_error("%s: state '%s' has dimension %lld; expected >= 0 or -1 (n_classes)", who, in->name,
                                (long long)in->shape[d]);
        }
    }
    return 0;
}

static int create_states(lt_module *m, const lt_module_setup *su)
{
    int n = 0;
    while (su->states && su->states[n].name) n++;
    if (n == 0) return 0;
    char who[512];
    snprintf(who, sizeof who, "%s '%s' (node '%s')", lt_desc_kind_name(su->kind), su->identifier, su->node_identifier);
    m->states = calloc((size_t)n, sizeof *m->states);
    if (!m->states) return lt_set_error("%s: out of memory for %d states", who, n);
    for (int i = 0; i < n; i++) {
        lt_metric_state_slot *s = &m->states[i];
        if (resolve_state_spec(who, su->n_classes, &su->states[i], &s->spec) != 0) return -1;
        m->n_states = i + 1; /* so lt__module_free releases what exists */
        for (int j = 0; j < i; j++)
            if (strcmp(m->states[j].spec.name, s->spec.name) == 0)
                return lt_set_error("%s: state '%s' is declared twice", who, s->spec.name);
        if (s->spec.kind == LT_STATE_TENSOR) {
            s->tensor = lt_tensor_new(LT_F32, s->spec.ndim, s->spec.shape);
            if (!s->tensor) {
                char cause[512]; /* lt_set_error must not read the buffer it writes */
                snprintf(cause, sizeof cause, "%s", lt_last_error());
                return lt_set_error("%s: state '%s': %s", who, s->spec.name, cause);
            }
            fill_f32(s->tensor, s->spec.default_value);
        }
    }
    return 0;
}

static lt_metric_state_slot *find_state(lt_module *m, const char *name, lt_state_kind want, const char *fn)
{
    if (!m || !name) {
        lt_set_error("%s: NULL module or state name", fn);
        return NULL;
    }
    for (int i = 0; i < m->n_states; i++) {
        lt_metric_state_slot *s = &m->states[i];
        if (strcmp(s->spec.name, name) != 0) continue;
        if (s->spec.kind != want) {
            lt_set_error("%s: %s '%s': state '%s' is a %s state; use %s", fn, lt_desc_kind_name(m->kind), m->identifier,
                         name, s->spec.kind == LT_STATE_LIST ? "list" : "tensor",
                         s->spec.kind == LT_STATE_LIST ? "lt_metric_state_list / lt_metric_state_append"
                                                       : "lt_metric_state");
            return NULL;
        }
        return s;
    }
    char names[512] = "";
    size_t len = 0;
    for (int i = 0; i < m->n_states && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", m->states[i].spec.name);
    lt_set_error("%s: %s '%s' has no state '%s' (states: %s)", fn, lt_desc_kind_name(m->kind), m->identifier, name,
                 m->n_states ? names : "none");
    return NULL;
}

lt_tensor *lt_metric_state(lt_module *m, const char *name)
{
    lt_metric_state_slot *s = find_state(m, name, LT_STATE_TENSOR, "lt_metric_state");
    return s ? s->tensor : NULL;
}

const lt_tensor_list *lt_metric_state_list(lt_module *m, const char *name)
{
    lt_metric_state_slot *s = find_state(m, name, LT_STATE_LIST, "lt_metric_state_list");
    return s ? &s->list : NULL;
}

int lt_metric_state_append(lt_module *m, const char *name, const lt_tensor *t)
{
    if (!t) {
        if (!lt_last_error()[0]) lt_set_error("lt_metric_state_append: NULL tensor for state '%s'", name ? name : "?");
        return -1;
    }
    lt_metric_state_slot *s = find_state(m, name, LT_STATE_LIST, "lt_metric_state_append");
    if (!s) return -1;
    if (s->list.n == s->list_cap) {
        int cap = s->list_cap ? 2 * s->list_cap : 8;
        lt_tensor **items = realloc(s->list.items, (size_t)cap * sizeof *items);
        if (!items) return lt_set_error("lt_metric_state_append: out of memory for state '%s'", name);
        s->list.items = items;
        s->list_cap = cap;
    }
    lt_tensor *copy = lt_tensor_clone_owned(t);
    if (!copy) return -1;
    s->list.items[s->list.n++] = copy;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Metric results                                                      */
/* ------------------------------------------------------------------ */

void lt__metric_result_clear(lt_metric_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        free(r->entries[i].name);
        lt_tensor_free(r->entries[i].tensor);
    }
    r->n = 0;
    r->has_main = false;
    r->main = NAN;
}

/* The entry named `name`, added (empty) if new; NULL with an error. */
static lt_metric_entry *result_entry(lt_metric_result *r, const char *name, const char *fn)
{
    if (!r || !name || !name[0]) {
        lt_set_error("%s: NULL result or empty name", fn);
        return NULL;
    }
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->entries[i].name, name) == 0) {
            lt_tensor_free(r->entries[i].tensor);
            r->entries[i].tensor = NULL;
            return &r->entries[i];
        }
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 8;
        lt_metric_entry *e = realloc(r->entries, (size_t)cap * sizeof *e);
        if (!e) goto oom;
        r->entries = e;
        r->cap = cap;
    }
    lt_metric_entry *e = &r->entries[r->n];
    *e = (lt_metric_entry){.name = dup_str(name), .value = NAN};
    if (!e->name) goto oom;
    r->n++;
    return e;
oom:
    lt_set_error("%s: metric '%s': out of memory for result '%s'", fn, r->owner ? r->owner : "?", name);
    return NULL;
}

int lt_metric_result_set_main(lt_metric_result *r, float value)
{
    if (!r) return lt_set_error("lt_metric_result_set_main: NULL result");
    r->has_main = true;
    r->main = value;
    return 0;
}

int lt_metric_result_set(lt_metric_result *r, const char *name, float value)
{
    lt_metric_entry *e = result_entry(r, name, "lt_metric_result_set");
    if (!e) return -1;
    e->value = value;
    return 0;
}

static float single_value(const lt_tensor *t)
{
    if (t->numel != 1) return NAN;
    switch (t->dtype) {
    case LT_F32: return lt_f32(t)[0];
    case LT_I32: return (float)lt_i32(t)[0];
    case LT_U8: return (float)lt_u8(t)[0];
    case LT_I64: return (float)((const int64_t *)t->data)[0];
    default: return NAN;
    }
}

int lt_metric_result_set_tensor(lt_metric_result *r, const char *name, const lt_tensor *value)
{
    if (!value) {
        if (!lt_last_error()[0]) lt_set_error("lt_metric_result_set_tensor: NULL tensor for '%s'", name ? name : "?");
        return -1;
    }
    lt_tensor *copy = lt_tensor_clone_owned(value);
    if (!copy) return -1;
    lt_metric_entry *e = result_entry(r, name, "lt_metric_result_set_tensor");
    if (!e) {
        lt_tensor_free(copy);
        return -1;
    }
    e->tensor = copy;
    e->value = single_value(copy);
    return 0;
}

bool lt_metric_result_has_main(const lt_metric_result *r) { return r && r->has_main; }

float lt_metric_result_main(const lt_metric_result *r) { return r && r->has_main ? r->main : NAN; }

int lt_metric_result_count(const lt_metric_result *r) { return r ? r->n : 0; }

const char *lt_metric_result_name(const lt_metric_result *r, int i)
{
    return r && i >= 0 && i < r->n ? r->entries[i].name : NULL;
}

float lt_metric_result_value(const lt_metric_result *r, int i)
{
    return r && i >= 0 && i < r->n ? r->entries[i].value : NAN;
}

const lt_tensor *lt_metric_result_tensor(const lt_metric_result *r, int i)
{
    return r && i >= 0 && i < r->n ? r->entries[i].tensor : NULL;
}

/* ------------------------------------------------------------------ */
/* Handle lifetime                                                     */
/* ------------------------------------------------------------------ */

lt_module *lt__module_new(const lt_module_setup *s)
{
    if (!s || !s->identifier || !s->node_identifier) {
        lt_set_error("lt__module_new: missing identifier");
        return NULL;
    }
    lt_module *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->kind = s->kind;
    m->identifier = dup_str(s->identifier);
    m->node_identifier = dup_str(s->node_identifier);
    if (!m->identifier || !m->node_identifier) goto oom;
    m->task = s->task;
    m->n_classes = s->n_classes;
    m->class_names = s->class_names;
    m->params = s->params;
    m->where = s->where;
    m->result.owner = m->identifier;
    m->result.main = NAN;
    if (s->state_size) {
        m->state = calloc(1, s->state_size);
        if (!m->state) goto oom;
    }
    if (create_states(m, s) != 0) {
        lt__module_free(m);
        return NULL;
    }
    return m;
oom:
    lt__module_free(m);
    lt_set_error("%s '%s': out of memory creating the module", lt_desc_kind_name(s->kind), s->identifier);
    return NULL;
}

void lt__module_free(lt_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_states; i++) {
        lt_tensor_free(m->states[i].tensor);
        clear_list(&m->states[i]);
        free(m->states[i].list.items);
    }
    free(m->states);
    lt__metric_result_clear(&m->result);
    free(m->result.entries);
    free(m->sublosses);
    free(m->param_error);
    free(m->state);
    free(m->identifier);
    free(m->node_identifier);
    free(m);
}

void lt__module_begin_call(lt_module *m)
{
    if (m) m->n_sublosses = 0;
}

void lt__module_reset_states(lt_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_states; i++) {
        lt_metric_state_slot *s = &m->states[i];
        if (s->tensor) fill_f32(s->tensor, s->spec.default_value);
        clear_list(s);
    }
    lt__metric_result_clear(&m->result);
}

const char *lt__module_param_error(const lt_module *m) { return m ? m->param_error : NULL; }

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

void *lt_module_state(lt_module *m) { return m ? m->state : NULL; }

const char *lt_module_name(const lt_module *m) { return m ? m->identifier : NULL; }

const char *lt_module_node_name(const lt_module *m) { return m ? m->node_identifier : NULL; }

const char *lt_module_task(const lt_module *m) { return m ? m->task : NULL; }

int lt_module_n_classes(const lt_module *m) { return m ? m->n_classes : 0; }

const char *lt_module_class_name(const lt_module *m, int i)
{
    if (!m || !m->class_names || i < 0 || i >= m->n_classes) {
        lt_set_error("lt_module_class_name: class %d out of range (%d classes%s)", i, m ? m->n_classes : 0,
                     m && !m->class_names ? ", no names" : "");
        return NULL;
    }
    return m->class_names[i];
}

int lt_module_log_loss(lt_module *m, const char *name, lt_tensor *value)
{
    if (!value) {
        if (!lt_last_error()[0]) lt_set_error("lt_module_log_loss: NULL tensor for sub-loss '%s'", name ? name : "?");
        return -1;
    }
    if (!m || !name || !name[0]) return lt_set_error("lt_module_log_loss: NULL module or empty sub-loss name");
    if (m->kind != LT_DESC_LOSS)
        return lt_set_error("lt_module_log_loss: %s '%s' is not a loss", lt_desc_kind_name(m->kind), m->identifier);
    if (value->numel != 1)
        return lt_set_error("lt_module_log_loss: loss '%s': sub-loss '%s' is %s; sub-losses must be scalars",
                            m->identifier, name, lt__shp(value));
    for (int i = 0; i < m->n_sublosses; i++)
        if (strcmp(m->sublosses[i].name, name) == 0) {
            m->sublosses[i].value = value;
            return 0;
        }
    if (m->n_sublosses == m->cap_sublosses) {
        int cap = m->cap_sublosses ? 2 * m->cap_sublosses : 8;
        lt_subloss *s = realloc(m->sublosses, (size_t)cap * sizeof *s);
        if (!s) return lt_set_error("lt_module_log_loss: loss '%s': out of memory", m->identifier);
        m->sublosses = s;
        m->cap_sublosses = cap;
    }
    /* The tensor lives for the step, so its name does too. */
    size_t len = strlen(name) + 1;
    char *copy = lt_step_alloc(len);
    if (!copy) return -1;
    memcpy(copy, name, len);
    m->sublosses[m->n_sublosses++] = (lt_subloss){.name = copy, .value = value};
    return 0;
}

/* ------------------------------------------------------------------ */
/* Typed params                                                        */
/* ------------------------------------------------------------------ */

/* The param value, or NULL when absent or null (defaults apply). */
static const lt_cfg *param(lt_module *m, const char *key)
{
    if (!m || !key || !m->params || m->params->type != LT_CFG_MAP) return NULL;
    const lt_cfg *c = lt_cfg_get(m->params, key);
    return c && !lt_cfg_is_null(c) ? c : NULL;
}

/* "loss 'BCE' (node 'head') params.pos_weight" for lt_cfg_as_* messages. */
static const char *param_what(const lt_module *m, const char *key, char *buf, size_t size)
{
    snprintf(buf, size, "%s '%s' (node '%s') params.%s", lt_desc_kind_name(m->kind), m->identifier, m->node_identifier, key);
    return buf;
}

static void param_failed(lt_module *m)
{
    if (!m->param_error) m->param_error = dup_str(lt_last_error());
}

int64_t lt_module_param_int(lt_module *m, const char *key, int64_t def)
{
    const lt_cfg *c = param(m, key);
    char what[256];
    int64_t v;
    if (!c) return def;
    if (lt_cfg_as_int(c, param_what(m, key, what, sizeof what), &v) != 0) return param_failed(m), def;
    return v;
}

double lt_module_param_float(lt_module *m, const char *key, double def)
{
    const lt_cfg *c = param(m, key);
    char what[256];
    double v;
    if (!c) return def;
    if (lt_cfg_as_float(c, param_what(m, key, what, sizeof what), &v) != 0) return param_failed(m), def;
    return v;
}

bool lt_module_param_bool(lt_module *m, const char *key, bool def)
{
    const lt_cfg *c = param(m, key);
    char what[256];
    bool v;
    if (!c) return def;
    if (lt_cfg_as_bool(c, param_what(m, key, what, sizeof what), &v) != 0) return param_failed(m), def;
    return v;
}

const char *lt_module_param_str(lt_module *m, const char *key, const char *def)
{
    const lt_cfg *c = param(m, key);
    char what[256];
    const char *v;
    if (!c) return def;
    if (lt_cfg_as_str(c, param_what(m, key, what, sizeof what), &v) != 0) return param_failed(m), def;
    return v;
}

/* A number or a list of numbers: the entry count (writing up to max), -1
 * when absent or on a type error (recorded like the other getters). */
int lt_module_param_floats(lt_module *m, const char *key, double *out, int max)
{
    const lt_cfg *c = param(m, key);
    char what[256];
    if (!c) return -1;
    param_what(m, key, what, sizeof what);
    if (c->type == LT_CFG_SCALAR) {
        double v;
        if (lt_cfg_as_float(c, what, &v) != 0) return param_failed(m), -1;
        if (max > 0 && out) out[0] = v;
        return 1;
    }
    if (c->type != LT_CFG_LIST) {
        lt_set_error("%s: %s: expected a number or a list of numbers, got a %s", lt_cfg_where(c), what,
                     lt_cfg_type_name(c->type));
        return param_failed(m), -1;
    }
    for (int i = 0; i < c->n; i++) {
        double v;
        char item[300];
        snprintf(item, sizeof item, "%s[%d]", what, i);
        if (lt_cfg_as_float(lt_cfg_at(c, i), item, &v) != 0) return param_failed(m), -1;
        if (i < max && out) out[i] = v;
    }
    return c->n;
}
