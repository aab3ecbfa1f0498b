/* Attached modules (losses, metrics, visualizers) of a node: built from
 * their config against the registry and the node's task, bound once
 * (ffi_bind.c), called each step. See core/modules.h. */
#include "modules.h"

#include "../sdk/plugin/module.h"
#include "ffi_bind.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The part every attached-module descriptor shares (LT_MODULE_COMMON). */
typedef struct module_common {
    const char *const *supported_tasks;
    const char *node;
    size_t state_size;
    int (*init)(lt_module *m);
    void (*fini)(lt_module *m);
    const lt_arg_spec *args;
} module_common;

struct lt_attached {
    lt_desc_kind kind;
    char *who;             /* "loss 'X' (node 'head')" */
    const char *where;     /* config location, or NULL */
    float weight;
    bool is_main_metric;
    lt_task_info task;     /* valid when has_task */
    bool has_task;
    lt_module *m;
    lt_binding binding;
    bool bound;            /* binding built (no raw hook) */
    bool inited;           /* init succeeded: fini is due */
    void (*fini)(lt_module *m);

    lt_generic_fn call;    /* forward / update, when no raw hook */
    lt_tensor *(*loss_run)(lt_module *m, const lt_packet *packet, const lt_labels *labels);
    int (*metric_run)(lt_module *m, const lt_packet *packet, const lt_labels *labels);
    int (*compute)(lt_module *m, lt_metric_result *r);
    const lt_state_spec *states;
    int (*vis_run)(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas, const lt_packet *packet,
                   const lt_labels *labels);
};

static char *format(const char *fmt, ...) LT_PRINTF(1, 2);
static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Re-raises the current error (a plugin's or a helper's) behind a prefix.
 * lt_set_error must not read the buffer it writes, hence the copy. */
static int wrap_error(const char *prefix, const char *what)
{
    char cause[1024];
    snprintf(cause, sizeof cause, "%s", lt_last_error());
    if (!cause[0]) snprintf(cause, sizeof cause, "(it gave no error message)");
    if (what) return lt_set_error("%s: %s: %s", prefix, what, cause);
    return lt_set_error("%s: %s", prefix, cause);
}

/* Build errors carry the config location too. */
static int wrap_build_error(const lt_attached *a)
{
    return a->where ? wrap_error(a->where, NULL) : -1;
}

/* A descriptor member exists when the plugin's declared size covers it. */
#define DESC_HAS(d, T, member) ((d)->header.size >= offsetof(T, member) + sizeof(((T *)0)->member))

/* ------------------------------------------------------------------ */
/* Build                                                               */
/* ------------------------------------------------------------------ */

/* Reads the descriptor of kind into a (hooks) and c (common part). */
static int read_descriptor(lt_attached *a, const lt_desc_header *h, module_common *c)
{
#define COMMON(d) (module_common){(d)->supported_tasks, (d)->node, (d)->state_size, (d)->init, (d)->fini, (d)->args}
    switch (a->kind) {
    case LT_DESC_LOSS: {
        const lt_loss_desc *d = (const lt_loss_desc *)h;
        if (!DESC_HAS(d, lt_loss_desc, forward)) break;
        *c = COMMON(d);
        a->call = d->forward;
        a->loss_run = DESC_HAS(d, lt_loss_desc, run) ? d->run : NULL;
        if (!a->call && !a->loss_run) return lt_set_error("%s: the descriptor has neither forward nor run", a->who);
        return 0;
    }
    case LT_DESC_METRIC: {
        const lt_metric_desc *d = (const lt_metric_desc *)h;
        if (!DESC_HAS(d, lt_metric_desc, states)) break;
        *c = COMMON(d);
        a->call = d->update;
        a->compute = d->compute;
        a->states = d->states;
        a->metric_run = DESC_HAS(d, lt_metric_desc, run_update) ? d->run_update : NULL;
        if (!a->call && !a->metric_run)
            return lt_set_error("%s: the descriptor has neither update nor run_update", a->who);
        if (!a->compute) return lt_set_error("%s: the descriptor has no compute", a->who);
        return 0;
    }
    case LT_DESC_VISUALIZER: {
        const lt_visualizer_desc *d = (const lt_visualizer_desc *)h;
        if (!DESC_HAS(d, lt_visualizer_desc, forward)) break;
        *c = COMMON(d);
        a->call = d->forward;
        a->vis_run = DESC_HAS(d, lt_visualizer_desc, run) ? d->run : NULL;
        if (!a->call && !a->vis_run) return lt_set_error("%s: the descriptor has neither forward nor run", a->who);
        return 0;
    }
    default: break;
    }
#undef COMMON
    return lt_set_error("%s: descriptor of %u bytes is too small for a %s; rebuild the plugin against this ltrain",
                        a->who, (unsigned)h->size, lt_desc_kind_name(a->kind));
}

static bool list_has(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], name)) return true;
    return false;
}

/* "a, b, c" into buf. */
static const char *join(const char *const *list, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; list[i] && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", list[i]);
    return buf;
}

/* Settles the module's task: the node's (which must be supported), or, for
 * a node without one, the module's only supported task. *note explains a
 * missing task for later binding errors. */
static int settle_task(lt_attached *a, const lt_registry *r, const module_common *c, const lt_attach_target *t,
                       char *note, size_t note_size)
{
    char names[512];
    note[0] = '\0';
    if (c->supported_tasks && !c->supported_tasks[0])
        return lt_set_error("%s: supported_tasks is an empty list; use NULL for any task", a->who);
    if (t->task) {
        if (c->supported_tasks && !list_has(c->supported_tasks, t->task->name))
            return lt_set_error("%s: task '%s' of node '%s' is not supported; %s supports: %s", a->who,
                                t->task->name, t->node_identifier, lt_desc_kind_name(a->kind),
                                join(c->supported_tasks, names, sizeof names));
        a->task = *t->task;
        a->has_task = true;
        return 0;
    }
    if (c->supported_tasks && !c->supported_tasks[1]) {
        /* luxonis-train: a node without a task lends the module its only task. */
        if (lt_task_resolve(r, c->supported_tasks[0], &a->task) != 0) return wrap_error(a->who, NULL);
        a->has_task = true;
        return 0;
    }
    if (c->supported_tasks)
        snprintf(note, note_size, " and the %s supports several tasks (%s)", lt_desc_kind_name(a->kind),
                 join(c->supported_tasks, names, sizeof names));
    return 0;
}

static int check_node(const lt_attached *a, const module_common *c, const lt_attach_target *t)
{
    if (!c->node || (t->node_name && !strcmp(c->node, t->node_name))) return 0;
    return lt_set_error("%s: works only with node '%s', but is attached to '%s' (node '%s')", a->who, c->node,
                        t->node_name ? t->node_name : "?", t->node_identifier);
}

static int create_module(lt_attached *a, const module_common *c, const lt_module_config *cfg,
                         const lt_attach_target *t, const char *identifier)
{
    lt_module_setup su = {
        .kind = a->kind,
        .identifier = identifier,
        .node_identifier = t->node_identifier,
        .task = a->has_task ? a->task.name : NULL,
        .n_classes = t->n_classes,
        .class_names = t->class_names,
        .params = cfg->params,
        .where = cfg->where,
        .state_size = c->state_size,
        .states = a->kind == LT_DESC_METRIC ? a->states : NULL,
    };
    a->m = lt__module_new(&su);
    return a->m ? 0 : -1;
}

static int bind_arguments(lt_attached *a, const module_common *c, const char *note)
{
    bool raw = a->loss_run || a->metric_run || a->vis_run;
    if (raw) return 0; /* raw hooks see the whole packet and labels */
    lt_binding_spec spec = {
        .who = a->who,
        .node = a->m->node_identifier,
        .kind = a->kind,
        .args = c->args,
        .task = a->has_task ? &a->task : NULL,
        .no_task_note = note,
    };
    int rc = lt_binding_build(&a->binding, &spec);
    a->bound = true; /* freeable either way */
    return rc;
}

static int run_init(lt_attached *a, const module_common *c)
{
    a->fini = c->fini;
    if (c->init) {
        lt__module_begin_call(a->m);
        lt_clear_error();
        if (c->init(a->m) != 0) return wrap_error(a->who, "init failed");
    }
    a->inited = true;
    const char *perr = lt__module_param_error(a->m);
    if (perr) return lt_set_error("%s", perr);
    return 0;
}

lt_attached *lt_attached_build(const lt_registry *r, lt_desc_kind kind, const lt_module_config *cfg,
                               const lt_attach_target *target)
{
    if (!r || !cfg || !cfg->name || !target || !target->node_identifier) {
        lt_set_error("lt_attached_build: missing registry, config, name or target");
        return NULL;
    }
    if (kind != LT_DESC_LOSS && kind != LT_DESC_METRIC && kind != LT_DESC_VISUALIZER) {
        lt_set_error("lt_attached_build: '%s': kind %d is not a loss, metric or visualizer", cfg->name, (int)kind);
        return NULL;
    }
    char context[512];
    snprintf(context, sizeof context, "%s%snode '%s'", cfg->where ? cfg->where : "", cfg->where ? ": " : "",
             target->node_identifier);
    const lt_registry_entry *e = lt_registry_lookup(r, kind, cfg->name, context);
    if (!e) return NULL;

    lt_attached *a = calloc(1, sizeof *a);
    const char *identifier = cfg->alias ? cfg->alias : cfg->name;
    if (a) a->who = format("%s '%s' (node '%s')", lt_desc_kind_name(kind), identifier, target->node_identifier);
    if (!a || !a->who) {
        free(a);
        lt_set_error("%s: out of memory building %s '%s'", context, lt_desc_kind_name(kind), identifier);
        return NULL;
    }
    a->kind = kind;
    a->where = cfg->where;
    a->weight = kind == LT_DESC_LOSS ? cfg->weight : 0.0f;
    a->is_main_metric = kind == LT_DESC_METRIC && cfg->is_main_metric;

    module_common c = {0};
    char note[640];
    if (read_descriptor(a, e->desc, &c) != 0 || settle_task(a, r, &c, target, note, sizeof note) != 0 ||
        check_node(a, &c, target) != 0 || create_module(a, &c, cfg, target, identifier) != 0 ||
        bind_arguments(a, &c, note) != 0 || run_init(a, &c) != 0) {
        wrap_build_error(a);
        lt_attached_free(a);
        return NULL;
    }
    return a;
}

void lt_attached_free(lt_attached *a)
{
    if (!a) return;
    if (a->inited && a->fini) a->fini(a->m);
    if (a->bound) lt_binding_free(&a->binding);
    lt__module_free(a->m);
    free(a->who);
    free(a);
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

lt_desc_kind lt_attached_kind(const lt_attached *a) { return a->kind; }

const char *lt_attached_identifier(const lt_attached *a) { return a->m->identifier; }

float lt_attached_weight(const lt_attached *a) { return a->weight; }

bool lt_attached_is_main_metric(const lt_attached *a) { return a->is_main_metric; }

int lt_attached_n_sublosses(const lt_attached *a) { return a->m->n_sublosses; }

const char *lt_attached_subloss_name(const lt_attached *a, int i)
{
    return i >= 0 && i < a->m->n_sublosses ? a->m->sublosses[i].name : NULL;
}

lt_tensor *lt_attached_subloss(const lt_attached *a, int i)
{
    return i >= 0 && i < a->m->n_sublosses ? a->m->sublosses[i].value : NULL;
}

int lt_attached_n_states(const lt_attached *a) { return a->m->n_states; }

const lt_state_spec *lt_attached_state_spec(const lt_attached *a, int i)
{
    return i >= 0 && i < a->m->n_states ? &a->m->states[i].spec : NULL;
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

static int check_kind(const lt_attached *a, lt_desc_kind want, const char *fn)
{
    if (a && a->kind == want) return 0;
    return lt_set_error("%s: %s is not a %s", fn, a ? a->who : "NULL module", lt_desc_kind_name(want));
}

/* A getter that failed during the call is reported after it. */
static int check_params(const lt_attached *a)
{
    const char *perr = lt__module_param_error(a->m);
    return perr ? lt_set_error("%s", perr) : 0;
}

static void begin_call(lt_attached *a)
{
    lt__module_begin_call(a->m);
    lt_clear_error(); /* whatever the plugin leaves is its own message */
}

lt_tensor *lt_attached_loss(lt_attached *a, const lt_packet *packet, const lt_labels *labels)
{
    if (check_kind(a, LT_DESC_LOSS, "lt_attached_loss") != 0) return NULL;
    begin_call(a);
    lt_tensor *loss;
    if (a->loss_run) {
        loss = a->loss_run(a->m, packet, labels);
    } else {
        if (lt_binding_fill(&a->binding, a->m, NULL, NULL, packet, labels) != 0) return NULL;
        loss = lt_binding_call_ptr(&a->binding, a->call);
    }
    if (!loss) return wrap_error(a->who, "forward failed"), NULL;
    if (check_params(a) != 0) return NULL;
    if (loss->numel != 1 || loss->dtype != LT_F32) {
        char shape[64];
        lt_set_error("%s: forward returned a %s tensor of shape %s; a loss must be a float32 scalar", a->who,
                     lt_dtype_name(loss->dtype), lt_shape_str(loss, shape, sizeof shape));
        return NULL;
    }
    return loss;
}

int lt_attached_metric_update(lt_attached *a, const lt_packet *packet, const lt_labels *labels)
{
    if (check_kind(a, LT_DESC_METRIC, "lt_attached_metric_update") != 0) return -1;
    begin_call(a);
    int rc;
    if (a->metric_run) {
        rc = a->metric_run(a->m, packet, labels);
    } else {
        if (lt_binding_fill(&a->binding, a->m, NULL, NULL, packet, labels) != 0) return -1;
        rc = lt_binding_call_int(&a->binding, a->call);
    }
    if (rc != 0) return wrap_error(a->who, "update failed");
    return check_params(a);
}

/* "a, b, c" of a result's sub-metric names. */
static const char *result_names(const lt_metric_result *r, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", r->entries[i].name);
    return buf;
}

int lt_attached_metric_compute(lt_attached *a, const lt_metric_result **out)
{
    if (check_kind(a, LT_DESC_METRIC, "lt_attached_metric_compute") != 0) return -1;
    lt_metric_result *r = &a->m->result;
    lt__metric_result_clear(r);
    begin_call(a);
    if (a->compute(a->m, r) != 0) return wrap_error(a->who, "compute failed");
    if (check_params(a) != 0) return -1;
    if (!r->has_main && r->n == 0)
        return lt_set_error("%s: compute set no value; call lt_metric_result_set_main and/or lt_metric_result_set",
                            a->who);
    /* C has no return annotations to inspect at build, and running compute
     * on fresh states there could divide by zero or have side effects, so a
     * dict-only main metric is caught at its first compute. */
    if (a->is_main_metric && !r->has_main) {
        char names[512];
        return lt_set_error("%s: is the main metric (is_main_metric), but compute returned only sub-metrics (%s) "
                            "and no main value; a metric without a main value cannot be the main metric: set one "
                            "with lt_metric_result_set_main or choose another main metric",
                            a->who, result_names(r, names, sizeof names));
    }
    if (out) *out = r;
    return 0;
}

void lt_attached_metric_reset(lt_attached *a)
{
    if (a && a->kind == LT_DESC_METRIC) lt__module_reset_states(a->m);
}

static int check_canvas(const lt_attached *a, const char *what, const lt_tensor *c)
{
    if (!c) return lt_set_error("%s: no %s given", a->who, what);
    if (c->dtype != LT_U8 || c->ndim != 4 || c->shape[1] != 3) {
        char shape[64];
        return lt_set_error("%s: %s must be uint8 [B,3,H,W], got %s %s", a->who, what, lt_dtype_name(c->dtype),
                            lt_shape_str(c, shape, sizeof shape));
    }
    return 0;
}

int lt_attached_visualize(lt_attached *a, lt_tensor *prediction_canvas, lt_tensor *target_canvas,
                          const lt_packet *packet, const lt_labels *labels)
{
    if (check_kind(a, LT_DESC_VISUALIZER, "lt_attached_visualize") != 0) return LT_VIS_ERROR;
    if (check_canvas(a, "prediction_canvas", prediction_canvas) != 0 ||
        check_canvas(a, "target_canvas", target_canvas) != 0)
        return LT_VIS_ERROR;
    if (!lt_same_shape(prediction_canvas, target_canvas)) {
        char s1[64], s2[64];
        lt_set_error("%s: prediction_canvas %s and target_canvas %s differ in shape", a->who,
                     lt_shape_str(prediction_canvas, s1, sizeof s1), lt_shape_str(target_canvas, s2, sizeof s2));
        return LT_VIS_ERROR;
    }
    begin_call(a);
    int rc;
    if (a->vis_run) {
        rc = a->vis_run(a->m, prediction_canvas, target_canvas, packet, labels);
    } else {
        if (lt_binding_fill(&a->binding, a->m, prediction_canvas, target_canvas, packet, labels) != 0)
            return LT_VIS_ERROR;
        rc = lt_binding_call_int(&a->binding, a->call);
    }
    if (rc == LT_VIS_ERROR) return wrap_error(a->who, "forward failed"), LT_VIS_ERROR;
    if (check_params(a) != 0) return LT_VIS_ERROR;
    if (rc != LT_VIS_PREDICTION && rc != LT_VIS_PAIR) {
        lt_set_error("%s: forward returned %d; expected LT_VIS_PREDICTION (%d), LT_VIS_PAIR (%d) or LT_VIS_ERROR",
                     a->who, rc, LT_VIS_PREDICTION, LT_VIS_PAIR);
        return LT_VIS_ERROR;
    }
    return rc;
}
