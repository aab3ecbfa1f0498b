/* The model graph (model.h): nodes looked up in the registry, wired by
 * their inputs, sorted topologically, built by a shape probe, and run step
 * by step, each producing a packet.
 *
 * Build, in order:
 *   1. describe: registry lookup (did you mean), identifier (alias or
 *      name, unique), variant, task;
 *   2. wire: input identifiers to node indices (dangling ones rejected);
 *   3. sort: topological order, stable in config order (a cycle is
 *      rejected naming its nodes); outputs are the nodes nobody consumes;
 *   4. probe: in that order, each node gets its attach_index and the
 *      shapes it selects from its input's "features" (checked against the
 *      kind its forward takes), is initialised, then runs once on a zero
 *      image [1,C,H,W] (grad off, eval mode) so the next nodes see its
 *      output shapes;
 *   5. attach the losses, metrics and visualizers (core/modules.h).
 * Parameters of every node live in one store under prefix = identifier. */
#include "model.h"

#include "../sdk/plugin/node_ctx.h"
#include "modules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERROR_MAX 1024

enum { ATTACHED_KINDS = 3 }; /* losses, metrics, visualizers */

typedef struct model_node {
    const lt_node_desc *desc;
    const char *type_name; /* registry name */
    char *identifier;      /* alias or name; also the parameter prefix */
    char *where;           /* config location for messages */
    char *variant;         /* resolved, or NULL */
    int n_inputs;
    int *inputs; /* node indices */
    bool is_output;
    bool has_task;
    lt_task_info task;
    lt_attach_index attach;
    const char *weights;      /* params.weights: a file path, or NULL (borrowed from params) */
    const lt_cfg *params_src; /* the config's params (borrowed, build only) */
    lt_cfg *params;           /* our copy: what the node reads */
    lt_node_ctx nc;
    lt_node_input_shape *in_shapes;
    lt_rng rng;
    void *state;
    bool initialized;
    const lt_packet *packet; /* of the last forward */
    lt_attached **attached[ATTACHED_KINDS];
    int n_attached[ATTACHED_KINDS];
} model_node;

struct lt_model {
    int n;
    model_node *nodes;
    int *order;
    lt_params *params;
    int n_classes, n_keypoints;
    char **class_names; /* n_classes owned copies, or NULL */
    int64_t input_shape[4];
};

/* ---------------- messages ---------------- */

static char *dup_str(const char *s)
{
    char *copy = s ? strdup(s) : NULL;
    if (s && !copy) lt_set_error("model: out of memory");
    return copy;
}

/* "node 'seg' (CustomSegmentationHead)", or "node 'ResNet'" without an alias. */
static const char *node_label(const model_node *nd, char *buf, size_t size)
{
    if (strcmp(nd->identifier, nd->type_name))
        snprintf(buf, size, "node '%s' (%s)", nd->identifier, nd->type_name);
    else
        snprintf(buf, size, "node '%s'", nd->identifier);
    return buf;
}

/* Sets "<where>: node 'x' (Type): <message>" and returns -1. */
static int node_fail(const model_node *nd, const char *fmt, ...) LT_PRINTF(2, 3);
static int node_fail(const model_node *nd, const char *fmt, ...)
{
    char msg[ERROR_MAX], label[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lt_set_error("%s: %s: %s", nd->where, node_label(nd, label, sizeof label), msg);
}

/* Wraps the current error (set by a plugin or another core part) as
 * "<where>: node 'x': <what>: <error>". */
static int node_fail_last(const model_node *nd, const char *what)
{
    char last[ERROR_MAX];
    snprintf(last, sizeof last, "%s", *lt_last_error() ? lt_last_error() : "(no message)");
    return node_fail(nd, "%s: %s", what, last);
}

static const char *attach_str(lt_attach_index a, char *buf, size_t size)
{
    switch (a.kind) {
    case LT_ATTACH_INDEX: snprintf(buf, size, "%d", a.start); break;
    case LT_ATTACH_SLICE:
        if (a.step)
            snprintf(buf, size, "[%d, %d, %d]", a.start, a.stop, a.step);
        else
            snprintf(buf, size, "[%d, %d]", a.start, a.stop);
        break;
    case LT_ATTACH_EVERY: snprintf(buf, size, "\"all\""); break;
    case LT_ATTACH_UNSET: snprintf(buf, size, "(unset)"); break;
    }
    return buf;
}

/* ---------------- 1. describe ---------------- */

static int resolve_variant(model_node *nd, const char *wanted)
{
    const char *const *variants = nd->desc->variants;
    const bool default_wanted = !wanted || !strcmp(wanted, "default");
    /* "none" (the reference's null variant): no variant; the node's params decide. */
    if (wanted && !strcmp(wanted, "none")) return 0;
    if (!variants || !variants[0]) {
        if (default_wanted) return 0;
        return node_fail(nd, "unknown variant '%s': the node has no variants", wanted);
    }
    if (default_wanted) return (nd->variant = dup_str(variants[0])) ? 0 : -1;
    for (int i = 0; variants[i]; i++)
        if (!strcmp(variants[i], wanted)) return (nd->variant = dup_str(variants[i])) ? 0 : -1;
    char valid[512] = "";
    size_t len = 0;
    for (int i = 0; variants[i] && len < sizeof valid; i++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", variants[i]);
    return node_fail(nd, "unknown variant '%s' (valid: %s)", wanted, valid);
}

static int check_identifier(const lt_model *m, int i)
{
    const model_node *nd = &m->nodes[i];
    if (!*nd->identifier) return node_fail(nd, "the alias must not be empty");
    if (strchr(nd->identifier, '/'))
        return node_fail(nd, "'/' is not allowed in node names and aliases ('%s')", nd->identifier);
    for (int j = 0; j < i; j++)
        if (!strcmp(m->nodes[j].identifier, nd->identifier))
            return node_fail(nd, "duplicate node identifier '%s' (also %s); give one of them an alias",
                             nd->identifier, m->nodes[j].where);
    return 0;
}

static int describe_node(lt_model *m, const lt_registry *r, const lt_node_config *c, int i)
{
    model_node *nd = &m->nodes[i];
    char where[64];
    snprintf(where, sizeof where, "model.nodes[%d]", i);
    if (!(nd->where = dup_str(c->where ? c->where : where))) return -1;
    if (!c->name || !*c->name) return lt_set_error("%s: a node needs a name", nd->where);
    const lt_registry_entry *e = lt_registry_lookup(r, LT_DESC_NODE, c->name, nd->where);
    if (!e) return -1;
    nd->desc = (const lt_node_desc *)e->desc;
    nd->type_name = nd->desc->header.name;
    if (!(nd->identifier = dup_str(c->alias ? c->alias : c->name))) return -1;
    if (!nd->desc->forward) return node_fail(nd, "its descriptor has no forward function");
    if (check_identifier(m, i) || resolve_variant(nd, c->variant)) return -1;
    if (nd->desc->task) {
        if (lt_task_resolve(r, nd->desc->task, &nd->task)) return node_fail_last(nd, "task");
        nd->has_task = true;
    }
    if (c->params && !lt_cfg_is_null(c->params)) {
        if (c->params->type != LT_CFG_MAP)
            return node_fail(nd, "params must be a map, got a %s (%s)", lt_cfg_type_name(c->params->type),
                             lt_cfg_where(c->params));
        nd->params_src = c->params;
        if (!(nd->params = lt_cfg_clone(c->params))) return node_fail_last(nd, "copying params");
        for (int k = 0; k < nd->params->n; k++) nd->params->used[k] = false; /* the node's reads only */
    }
    return 0;
}

/* ---------------- 2. wire ---------------- */

static int find_identifier(const lt_model *m, const char *id)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->nodes[i].identifier, id)) return i;
    return -1;
}

static int dangling_input(const lt_model *m, const model_node *nd, const char *name)
{
    int best = -1, best_d = 0;
    for (int i = 0; i < m->n; i++) {
        const int d = lt_edit_distance(name, m->nodes[i].identifier);
        if (best < 0 || d < best_d) best = i, best_d = d;
    }
    char suggestion[160] = "";
    const int limit = (int)strlen(name) / 3 + 1;
    if (best >= 0 && best_d <= limit)
        snprintf(suggestion, sizeof suggestion, " (did you mean '%s'?)", m->nodes[best].identifier);
    char nodes[512] = "";
    size_t len = 0;
    for (int i = 0; i < m->n && len < sizeof nodes; i++)
        len += (size_t)snprintf(nodes + len, sizeof nodes - len, "%s%s", i ? ", " : "", m->nodes[i].identifier);
    return node_fail(nd, "input '%s' is not a node of the model%s; nodes: %s", name, suggestion, nodes);
}

static int wire_inputs(lt_model *m, const lt_node_config *cfgs)
{
    for (int i = 0; i < m->n; i++) {
        model_node *nd = &m->nodes[i];
        const lt_node_config *c = &cfgs[i];
        if (c->n_inputs < 0) return node_fail(nd, "inputs: negative count %d", c->n_inputs);
        if (c->n_inputs > 0 && !c->inputs) return node_fail(nd, "inputs: %d names but no list", c->n_inputs);
        if (c->n_inputs == 0) continue;
        if (!(nd->inputs = calloc((size_t)c->n_inputs, sizeof *nd->inputs))) return lt_set_error("model: out of memory");
        nd->n_inputs = c->n_inputs;
        for (int k = 0; k < c->n_inputs; k++) {
            if (!c->inputs[k]) return node_fail(nd, "inputs[%d] is null", k);
            const int j = find_identifier(m, c->inputs[k]);
            if (j < 0) return dangling_input(m, nd, c->inputs[k]);
            nd->inputs[k] = j;
        }
    }
    return 0;
}

/* ---------------- 3. sort ---------------- */

static bool inputs_placed(const model_node *nd, const bool *placed)
{
    for (int k = 0; k < nd->n_inputs; k++)
        if (!placed[nd->inputs[k]]) return false;
    return true;
}

/* Walks unplaced inputs from an unplaced node until one repeats and
 * reports that loop in data-flow order: "a -> b -> c -> a". */
static int report_cycle(const lt_model *m, const bool *placed)
{
    int *path = malloc((size_t)(m->n + 1) * sizeof *path);
    if (!path) return lt_set_error("model: out of memory");
    int len = 0, at = 0;
    while (placed[at]) at++;
    int first = -1;
    for (;;) {
        for (int k = 0; k < len; k++)
            if (path[k] == at) first = k;
        if (first >= 0) break;
        path[len++] = at;
        const model_node *nd = &m->nodes[at];
        for (int k = 0; k < nd->n_inputs; k++)
            if (!placed[nd->inputs[k]]) {
                at = nd->inputs[k];
                break;
            }
    }
    char msg[ERROR_MAX];
    size_t n = 0;
    /* path[first..len) follows inputs upstream; print it reversed. */
    n += (size_t)snprintf(msg + n, sizeof msg - n, "%s", m->nodes[path[first]].identifier);
    for (int k = len - 1; k >= first && n < sizeof msg; k--)
        n += (size_t)snprintf(msg + n, sizeof msg - n, " -> %s", m->nodes[path[k]].identifier);
    free(path);
    return lt_set_error("model.nodes: the nodes form a cycle: %s", msg);
}

static int sort_nodes(lt_model *m)
{
    const size_t n = (size_t)(m->n > 0 ? m->n : 0);
    bool *placed = calloc(n, sizeof *placed);
    if (!(m->order = calloc(n, sizeof *m->order)) || !placed) {
        free(placed);
        return lt_set_error("model: out of memory");
    }
    for (int k = 0; k < m->n; k++) {
        int next = -1;
        for (int i = 0; i < m->n && next < 0; i++)
            if (!placed[i] && inputs_placed(&m->nodes[i], placed)) next = i;
        if (next < 0) {
            const int rc = report_cycle(m, placed);
            free(placed);
            return rc;
        }
        placed[next] = true;
        m->order[k] = next;
    }
    free(placed);
    for (int i = 0; i < m->n; i++) m->nodes[i].is_output = true;
    for (int i = 0; i < m->n; i++)
        for (int k = 0; k < m->nodes[i].n_inputs; k++) m->nodes[m->nodes[i].inputs[k]].is_output = false;
    return 0;
}

/* ---------------- attach_index ---------------- */

static bool cfg_int(const lt_cfg *v, int *out)
{
    int64_t x;
    if (!v || v->type != LT_CFG_SCALAR || !lt_cfg_is_int(v) || lt_cfg_as_int(v, "attach_index", &x)) return false;
    if (x < -(1 << 30) || x > (1 << 30)) return false;
    *out = (int)x;
    return true;
}

/* ---------------- weights ---------------- */

/* params.weights (luxonis-train's common node kwarg): a safetensors path the
 * caller loads after the build (core/weights.h); "none" or null loads
 * nothing. "download", "yolo" and URLs need a download, which ltrain never
 * does. */
static int resolve_weights(model_node *nd)
{
    const lt_cfg *v = nd->params ? lt_cfg_get(nd->params, "weights") : NULL;
    nd->weights = NULL;
    if (!v || lt_cfg_is_null(v)) return 0;
    const char *w;
    if (lt_cfg_as_str(v, "param 'weights' (a .safetensors path or \"none\")", &w)) return node_fail_last(nd, "params");
    if (!strcasecmp(w, "none")) return 0;
    if (!strcmp(w, "download") || !strcmp(w, "yolo") || strstr(w, "://"))
        return node_fail(nd, "%s: param 'weights': '%s' needs a download, and ltrain does not download weights; "
                         "save them as .safetensors and pass the file path",
                         lt_cfg_where(v), w);
    if (!*w) return node_fail(nd, "%s: param 'weights' is empty (expected a .safetensors path or \"none\")", lt_cfg_where(v));
    nd->weights = w;
    return 0;
}

/* attach_index from params: an int, [start, stop], [start, stop, step] or "all". */
static int parse_attach_param(model_node *nd, const lt_cfg *v)
{
    if (v->type == LT_CFG_SCALAR) {
        if (cfg_int(v, &nd->attach.start)) {
            nd->attach.kind = LT_ATTACH_INDEX;
            return 0;
        }
        if (v->text && !strcmp(v->text, "all")) {
            nd->attach = LT_ATTACH_ALL;
            return 0;
        }
    } else if (v->type == LT_CFG_LIST && (v->n == 2 || v->n == 3)) {
        lt_attach_index a = {.kind = LT_ATTACH_SLICE};
        if (cfg_int(lt_cfg_at(v, 0), &a.start) && cfg_int(lt_cfg_at(v, 1), &a.stop) &&
            (v->n == 2 || cfg_int(lt_cfg_at(v, 2), &a.step))) {
            nd->attach = a;
            return 0;
        }
    }
    char got[96];
    if (v->type == LT_CFG_SCALAR)
        snprintf(got, sizeof got, "'%s'", v->text ? v->text : "");
    else
        snprintf(got, sizeof got, "a %s of %d", lt_cfg_type_name(v->type), v->n);
    return node_fail(nd, "%s: param 'attach_index' must be an integer, [start, stop], [start, stop, step] or "
                     "\"all\", got %s", lt_cfg_where(v), got);
}

/* Params first, then the descriptor, then inference from the input kind
 * (tensor -> -1, list -> all; otherwise heads -1, other nodes all). */
static int resolve_attach(model_node *nd)
{
    const lt_cfg *v = nd->params ? lt_cfg_get(nd->params, "attach_index") : NULL;
    if (v && !lt_cfg_is_null(v)) return parse_attach_param(nd, v);
    const lt_attach_index d = nd->desc->attach_index;
    if (d.kind == LT_ATTACH_INDEX || d.kind == LT_ATTACH_SLICE || d.kind == LT_ATTACH_EVERY) {
        nd->attach = d;
        return 0;
    }
    if (d.kind != LT_ATTACH_UNSET) return node_fail(nd, "descriptor attach_index has unknown kind %d", (int)d.kind);
    switch (nd->desc->input_kind) {
    case LT_VALUE_TENSOR: nd->attach = LT_ATTACH_AT(-1); break;
    case LT_VALUE_LIST: nd->attach = LT_ATTACH_ALL; break;
    default: nd->attach = nd->desc->role == LT_NODE_HEAD ? LT_ATTACH_AT(-1) : LT_ATTACH_ALL; break;
    }
    return 0;
}

/* The indices a slice selects from len outputs: Python's slice rules, with
 * luxonis-train's default step (-1 when start > stop, else 1). */
static int slice_indices(lt_attach_index a, int len, int *out)
{
    int start = a.start < 0 ? a.start + len : a.start;
    int stop = a.stop < 0 ? a.stop + len : a.stop;
    int step = a.step;
    if (!step) step = (a.start < 0) == (a.stop < 0) && a.start > a.stop ? -1 : 1;
    if (step > 0) {
        start = start < 0 ? 0 : start > len ? len : start;
        stop = stop < 0 ? 0 : stop > len ? len : stop;
    } else {
        start = start < 0 ? -1 : start >= len ? len - 1 : start;
        stop = stop < 0 ? -1 : stop >= len ? len - 1 : stop;
    }
    int n = 0;
    for (int i = start; step > 0 ? i < stop : i > stop; i += step) out[n++] = i;
    return n;
}

/* "'h' is incompatible with its input 'b': detail" naming both nodes (src
 * NULL: the model input). */
static int incompatible(const model_node *nd, const model_node *src, const char *fmt, ...) LT_PRINTF(3, 4);
static int incompatible(const model_node *nd, const model_node *src, const char *fmt, ...)
{
    char detail[ERROR_MAX], label[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (!src) return node_fail(nd, "incompatible with the model input: %s", detail);
    return node_fail(nd, "incompatible with its input %s: %s", node_label(src, label, sizeof label), detail);
}

static const char *src_name(const model_node *src) { return src ? src->identifier : "the model input"; }

/* What nd's attach_index selects from its input's features: one tensor or
 * a step list. -1 with an error naming both nodes. */
static int select_attached(const model_node *nd, const model_node *src, const lt_value *features, lt_value *out)
{
    char a[64];
    attach_str(nd->attach, a, sizeof a);
    if (features->kind == LT_VALUE_TENSOR) {
        if (nd->attach.kind == LT_ATTACH_INDEX && (nd->attach.start == 0 || nd->attach.start == -1)) {
            *out = lt_value_tensor(features->tensor);
            return 0;
        }
        return incompatible(nd, src, "attach_index %s needs a list of outputs, but '%s' produces a single tensor", a,
                            src_name(src));
    }
    if (features->kind != LT_VALUE_LIST)
        return incompatible(nd, src, "'%s' has an empty 'features' value", src_name(src));
    const int len = features->list.n;
    if (nd->attach.kind == LT_ATTACH_EVERY) {
        *out = lt_value_list(len, features->list.items);
        return 0;
    }
    if (nd->attach.kind == LT_ATTACH_INDEX) {
        const int i = nd->attach.start < 0 ? nd->attach.start + len : nd->attach.start;
        if (i < 0 || i >= len)
            return incompatible(nd, src, "attach_index %s is out of range for the %d output%s of '%s'", a, len,
                                len == 1 ? "" : "s", src_name(src));
        *out = lt_value_tensor(features->list.items[i]);
        return 0;
    }
    int *idx = len ? lt_step_alloc((size_t)len * sizeof *idx) : NULL;
    if (len && !idx) return -1;
    const int n = len ? slice_indices(nd->attach, len, idx) : 0;
    if (n == 0)
        return incompatible(nd, src, "attach_index %s selects none of the %d output%s of '%s'", a, len,
                            len == 1 ? "" : "s", src_name(src));
    lt_tensor_list *l = lt_tensor_list_new(n);
    if (!l) return -1;
    for (int k = 0; k < n; k++) l->items[k] = features->list.items[idx[k]];
    *out = lt_value_list(n, l->items);
    return 0;
}

/* The default unwrap's selection checked against the kind forward takes. */
static int check_input_kind(const model_node *nd, const model_node *src, const lt_value *sel)
{
    const lt_value_kind want = nd->desc->input_kind;
    if (want == LT_VALUE_NONE || sel->kind == want) return 0;
    char a[64];
    attach_str(nd->attach, a, sizeof a);
    if (want == LT_VALUE_TENSOR)
        return incompatible(nd, src, "'%s' takes a single tensor, but attach_index %s selects a list of %d outputs "
                            "of '%s'", nd->identifier, a, sel->list.n, src_name(src));
    return incompatible(nd, src, "'%s' takes a list of tensors, but attach_index %s selects a single tensor of '%s'",
                        nd->identifier, a, src_name(src));
}

/* inputs[0]["features"][attach_index], as luxonis-train's BaseNode.unwrap. */
static int default_unwrap(const lt_model *m, const model_node *nd, const lt_packet *const *inputs, int n_inputs,
                          lt_value *in)
{
    if (n_inputs != 1)
        return node_fail(nd, "the default unwrap takes one input node, got %d; the node needs its own unwrap",
                         n_inputs);
    const model_node *src = nd->n_inputs ? &m->nodes[nd->inputs[0]] : NULL;
    const lt_value *features = lt_packet_get(inputs[0], "features");
    if (!features)
        return incompatible(nd, src, "'%s' has no 'features' in its packet (keys: %s); the node needs its own unwrap",
                            src_name(src), lt_packet_keys_str(inputs[0]));
    if (select_attached(nd, src, features, in)) return -1;
    return check_input_kind(nd, src, in);
}

/* ---------------- running one node ---------------- */

static int default_wrap(const model_node *nd, const lt_value *out, lt_packet *packet)
{
    return lt_packet_set(packet, nd->has_task ? nd->task.main_output : "features", *out);
}

static int check_output(const model_node *nd, const lt_value *out)
{
    if (out->kind == LT_VALUE_NONE) return node_fail(nd, "forward succeeded but set no output");
    if (out->kind != LT_VALUE_TENSOR && out->kind != LT_VALUE_LIST)
        return node_fail(nd, "forward set an output of unknown kind %d", (int)out->kind);
    const lt_value_kind want = nd->desc->output_kind;
    if (want != LT_VALUE_NONE && out->kind != want)
        return node_fail(nd, "forward returned a %s but the node declares output_kind %s", lt_value_kind_name(out->kind),
                         lt_value_kind_name(want));
    if (out->kind == LT_VALUE_TENSOR && !out->tensor) return node_fail(nd, "forward returned a NULL tensor");
    return 0;
}

static int unwrap_inputs(const lt_model *m, model_node *nd, const lt_packet *const *inputs, int n_inputs,
                         lt_value *in)
{
    const lt_node_desc *d = nd->desc;
    if (!d->unwrap) return default_unwrap(m, nd, inputs, n_inputs, in);
    if (d->unwrap(nd->state, &nd->nc, inputs, n_inputs, in)) return node_fail_last(nd, "unwrap failed");
    if (d->input_kind != LT_VALUE_NONE && in->kind != d->input_kind)
        return node_fail(nd, "unwrap produced a %s but forward takes a %s", lt_value_kind_name(in->kind),
                         lt_value_kind_name(d->input_kind));
    return 0;
}

static int wrap_output(model_node *nd, const lt_value *out, lt_packet *packet)
{
    const lt_node_desc *d = nd->desc;
    if (d->wrap ? d->wrap(nd->state, &nd->nc, out, packet) : default_wrap(nd, out, packet))
        return node_fail_last(nd, "wrap failed");
    return 0;
}

/* unwrap -> forward -> wrap in `mode`; the node's packet, or NULL with an
 * error naming the node. */
static lt_packet *run_node(const lt_model *m, model_node *nd, const lt_packet *const *inputs, int n_inputs,
                           lt_mode mode)
{
    nd->nc.mode = mode;
    lt_value in = {0}, out = {0};
    if (unwrap_inputs(m, nd, inputs, n_inputs, &in)) return NULL;
    if (nd->desc->forward(nd->state, &nd->nc, &in, &out)) {
        node_fail_last(nd, "forward failed");
        return NULL;
    }
    if (check_output(nd, &out)) return NULL;
    lt_packet *packet = lt_packet_new();
    return packet && !wrap_output(nd, &out, packet) ? packet : NULL;
}

/* The packets node nd receives: its input nodes' (or the model input's). */
static const lt_packet **gather_inputs(const lt_model *m, const model_node *nd, const lt_packet *image_packet,
                                       int *n_inputs)
{
    *n_inputs = nd->n_inputs ? nd->n_inputs : 1;
    const lt_packet **in = lt_step_alloc((size_t)*n_inputs * sizeof *in);
    if (!in) return NULL;
    if (!nd->n_inputs) in[0] = image_packet;
    for (int k = 0; k < nd->n_inputs; k++) in[k] = m->nodes[nd->inputs[k]].packet;
    return in;
}

/* {"features": [images]}: what input-less nodes receive (luxonis-train's rule). */
static lt_packet *image_packet_of(lt_tensor *images)
{
    lt_tensor_list *l = lt_tensor_list_new(1);
    lt_packet *p = lt_packet_new();
    if (!l || !p) return NULL;
    l->items[0] = images;
    return lt_packet_set(p, "features", lt_value_list(1, l->items)) ? NULL : p;
}

/* ---------------- 4. probe and init ---------------- */

/* Shapes the node's attach_index selects from its first input's features.
 * Default unwrap: any incompatibility fails the build. Custom unwrap:
 * best effort (no shapes when the rule does not apply). */
static int probe_shapes(lt_model *m, model_node *nd, const lt_packet *const *inputs, int n_inputs)
{
    const bool custom = nd->desc->unwrap != NULL;
    lt_value sel = {0};
    if (custom) {
        const model_node *src = nd->n_inputs ? &m->nodes[nd->inputs[0]] : NULL;
        const lt_value *features = lt_packet_get(inputs[0], "features");
        if (!features || select_attached(nd, src, features, &sel)) {
            lt_clear_error();
            return 0;
        }
    } else if (default_unwrap(m, nd, inputs, n_inputs, &sel)) {
        return -1;
    }
    const int n = sel.kind == LT_VALUE_TENSOR ? 1 : sel.list.n;
    if (n == 0) return 0;
    if (!(nd->in_shapes = calloc((size_t)n, sizeof *nd->in_shapes))) return lt_set_error("model: out of memory");
    for (int k = 0; k < n; k++) {
        const lt_tensor *t = sel.kind == LT_VALUE_TENSOR ? sel.tensor : sel.list.items[k];
        nd->in_shapes[k].ndim = t->ndim;
        memcpy(nd->in_shapes[k].shape, t->shape, sizeof t->shape);
    }
    nd->nc.n_inputs = n;
    nd->nc.inputs = nd->in_shapes;
    return 0;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void fill_ctx(lt_model *m, model_node *nd, uint64_t seed)
{
    /* Each node draws from its own stream: adding a node leaves the
     * others' initial weights unchanged. */
    lt_rng_seed(&nd->rng, lt_hash64(seed ^ hash_str(nd->identifier)));
    nd->nc = (lt_node_ctx){
        .name = nd->identifier,
        .type_name = nd->type_name,
        .variant = nd->variant,
        .prefix = nd->identifier,
        .mode = LT_MODE_EVAL,
        .params = m->params,
        .rng = &nd->rng,
        .cfg = nd->params,
        .n_classes = m->n_classes,
        .n_keypoints = m->n_keypoints,
        .class_names = (const char *const *)m->class_names,
    };
    memcpy(nd->nc.original_in_shape, m->input_shape, sizeof m->input_shape);
}

/* The node reads our copy of its params (so strings it keeps stay valid
 * while the model lives); a key it never read is an error, as an unknown
 * keyword argument is in Python. Read keys are marked in the caller's tree
 * too, for its own unused-key report. */
static int check_unused_params(const model_node *nd)
{
    const lt_cfg *p = nd->params;
    if (!p || !p->used) return 0;
    for (int k = 0; k < p->n; k++) {
        if (!p->used[k])
            return node_fail(nd, "%s: unknown param '%s' (the node never read it)", lt_cfg_where(p->items[k]),
                             p->keys[k]);
        lt_cfg_get(nd->params_src, p->keys[k]);
    }
    return 0;
}

/* Every parameter the node registered must sit under its prefix. */
static int check_param_names(const lt_model *m, const model_node *nd, size_t first)
{
    const size_t lp = strlen(nd->identifier);
    for (size_t k = first; k < lt_params_count(m->params); k++) {
        const char *name = lt_params_at(m->params, k)->name;
        if (strncmp(name, nd->identifier, lp) || name[lp] != '.')
            return node_fail(nd, "registered parameter '%s' outside its prefix '%s' (use lt_node_prefix())", name,
                             nd->identifier);
    }
    return 0;
}

static int init_node(lt_model *m, model_node *nd)
{
    const lt_node_desc *d = nd->desc;
    if (d->state_size && !(nd->state = calloc(1, d->state_size)))
        return node_fail(nd, "out of memory for %zu bytes of state", d->state_size);
    const size_t first = lt_params_count(m->params);
    lt_clear_error();
    if (d->init && d->init(nd->state, &nd->nc)) {
        if (nd->nc.param_failed) return lt_set_error("%s", nd->nc.param_error);
        return node_fail_last(nd, "init failed");
    }
    nd->initialized = true;
    if (nd->nc.param_failed) return lt_set_error("%s", nd->nc.param_error);
    return check_unused_params(nd) || check_param_names(m, nd, first) ? -1 : 0;
}

static int probe_node(lt_model *m, model_node *nd, const lt_packet *image_packet, uint64_t seed)
{
    int n_inputs;
    const lt_packet **inputs = gather_inputs(m, nd, image_packet, &n_inputs);
    if (!inputs) return -1;
    fill_ctx(m, nd, seed);
    if (resolve_attach(nd) || resolve_weights(nd) || probe_shapes(m, nd, inputs, n_inputs) || init_node(m, nd)) return -1;
    lt_packet *p = run_node(m, nd, inputs, n_inputs, LT_MODE_EVAL);
    if (!p) {
        char last[ERROR_MAX];
        snprintf(last, sizeof last, "%s", lt_last_error());
        return lt_set_error("%s (while probing shapes on a zero image)", last);
    }
    nd->packet = p;
    return 0;
}

static int probe_all(lt_model *m, uint64_t seed)
{
    const int64_t shape[4] = {1, m->input_shape[1], m->input_shape[2], m->input_shape[3]};
    lt_packet *image_packet = image_packet_of(lt_zeros(LT_F32, 4, shape));
    if (!image_packet) return -1;
    for (int k = 0; k < m->n; k++)
        if (probe_node(m, &m->nodes[m->order[k]], image_packet, seed)) return -1;
    return 0;
}

/* ---------------- 5. attached modules ---------------- */

static const lt_desc_kind attached_kind_of[ATTACHED_KINDS] = {LT_DESC_LOSS, LT_DESC_METRIC, LT_DESC_VISUALIZER};

static int kind_slot(lt_desc_kind kind)
{
    for (int s = 0; s < ATTACHED_KINDS; s++)
        if (attached_kind_of[s] == kind) return s;
    return -1;
}

static int attach_modules(lt_model *m, const lt_registry *r, const lt_node_config *cfgs)
{
    const lt_attached *main_metric = NULL;
    const model_node *main_node = NULL;
    for (int i = 0; i < m->n; i++) {
        model_node *nd = &m->nodes[i];
        const lt_node_config *c = &cfgs[i];
        const lt_attach_target target = {
            .node_identifier = nd->identifier,
            .node_name = nd->type_name,
            .task = nd->has_task ? &nd->task : NULL,
            .n_classes = m->n_classes,
            .class_names = (const char *const *)m->class_names,
        };
        const lt_module_config *lists[ATTACHED_KINDS] = {c->losses, c->metrics, c->visualizers};
        const int counts[ATTACHED_KINDS] = {c->n_losses, c->n_metrics, c->n_visualizers};
        for (int s = 0; s < ATTACHED_KINDS; s++) {
            if (counts[s] <= 0) continue;
            if (!lists[s]) return node_fail(nd, "%d attached modules but no list", counts[s]);
            if (!(nd->attached[s] = calloc((size_t)counts[s], sizeof *nd->attached[s])))
                return lt_set_error("model: out of memory");
            for (int k = 0; k < counts[s]; k++) {
                lt_attached *a = lt_attached_build(r, attached_kind_of[s], &lists[s][k], &target);
                if (!a) return -1;
                nd->attached[s][nd->n_attached[s]++] = a;
                if (attached_kind_of[s] != LT_DESC_METRIC || !lt_attached_is_main_metric(a)) continue;
                if (main_metric)
                    return node_fail(nd, "metric '%s' is marked is_main_metric, but so is '%s' of node '%s'; "
                                     "at most one main metric is allowed", lt_attached_identifier(a),
                                     lt_attached_identifier(main_metric), main_node->identifier);
                main_metric = a;
                main_node = nd;
            }
        }
    }
    return 0;
}

/* ---------------- build and free ---------------- */

static int check_dataset(const lt_dataset_info *ds)
{
    const int64_t *s = ds->input_shape;
    for (int k = 0; k < 4; k++)
        if (s[k] <= 0)
            return lt_set_error("model: the dataset's input shape [%lld,%lld,%lld,%lld] must be a positive [B,C,H,W]",
                                (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
    if (ds->n_classes < 0 || ds->n_keypoints < 0)
        return lt_set_error("model: dataset n_classes %d and n_keypoints %d must not be negative", ds->n_classes,
                            ds->n_keypoints);
    return 0;
}

static int copy_dataset(lt_model *m, const lt_dataset_info *ds)
{
    m->n_classes = ds->n_classes;
    m->n_keypoints = ds->n_keypoints;
    memcpy(m->input_shape, ds->input_shape, sizeof m->input_shape);
    if (!ds->class_names || ds->n_classes == 0) return 0;
    if (!(m->class_names = calloc((size_t)ds->n_classes, sizeof *m->class_names)))
        return lt_set_error("model: out of memory");
    for (int i = 0; i < ds->n_classes; i++)
        if (!(m->class_names[i] = dup_str(ds->class_names[i] ? ds->class_names[i] : ""))) return -1;
    return 0;
}

/* Runs the probe and the module builds in a private step context (grad off,
 * eval), restoring the caller's context afterwards. */
static int build_in_probe_ctx(lt_model *m, const lt_registry *r, const lt_node_config *cfgs, uint64_t seed)
{
    lt_ctx *probe = lt_ctx_new();
    if (!probe) return -1;
    lt_ctx *prev = lt_ctx_use(probe);
    lt_set_grad_enabled(false);
    lt_set_training(false);
    int rc = probe_all(m, seed);
    for (int i = 0; i < m->n; i++) m->nodes[i].packet = NULL; /* probe memory goes away below */
    if (!rc) rc = attach_modules(m, r, cfgs);
    lt_ctx_use(prev);
    lt_ctx_free(probe);
    return rc;
}

lt_model *lt_model_build(const lt_registry *r, const lt_node_config *nodes, int n_nodes, const lt_dataset_info *ds,
                         uint64_t seed)
{
    if (!r || !nodes || !ds) {
        lt_set_error("lt_model_build: %s is NULL", !r ? "registry" : !nodes ? "node list" : "dataset info");
        return NULL;
    }
    if (n_nodes <= 0) {
        lt_set_error("model.nodes: the model has no nodes");
        return NULL;
    }
    if (check_dataset(ds)) return NULL;
    lt_model *m = calloc(1, sizeof *m);
    if (!m || !(m->nodes = calloc((size_t)n_nodes, sizeof *m->nodes)) || !(m->params = lt_params_new())) {
        lt_model_free(m);
        lt_set_error("model: out of memory");
        return NULL;
    }
    m->n = n_nodes;
    int rc = copy_dataset(m, ds);
    for (int i = 0; i < n_nodes && !rc; i++) rc = describe_node(m, r, &nodes[i], i);
    if (!rc) rc = wire_inputs(m, nodes);
    if (!rc) rc = sort_nodes(m);
    if (!rc) rc = build_in_probe_ctx(m, r, nodes, seed);
    if (!rc) rc = lt_params_pack(m->params);
    if (rc) {
        char last[ERROR_MAX];
        snprintf(last, sizeof last, "%s", lt_last_error());
        lt_model_free(m);
        lt_set_error("%s", last);
        return NULL;
    }
    return m;
}

void lt_model_free(lt_model *m)
{
    if (!m) return;
    /* Finalise consumers before their producers. */
    for (int k = m->order ? m->n - 1 : -1; k >= 0; k--) {
        model_node *nd = &m->nodes[m->order[k]];
        if (nd->initialized && nd->desc->fini) nd->desc->fini(nd->state);
        nd->initialized = false;
    }
    for (int i = 0; m->nodes && i < m->n; i++) {
        model_node *nd = &m->nodes[i];
        for (int s = 0; s < ATTACHED_KINDS; s++) {
            for (int k = 0; k < nd->n_attached[s]; k++) lt_attached_free(nd->attached[s][k]);
            free(nd->attached[s]);
        }
        free(nd->state);
        free(nd->identifier);
        free(nd->where);
        free(nd->variant);
        free(nd->inputs);
        free(nd->in_shapes);
        lt_cfg_free(nd->params);
    }
    for (int i = 0; m->class_names && i < m->n_classes; i++) free(m->class_names[i]);
    free(m->class_names);
    free(m->nodes);
    free(m->order);
    lt_params_free(m->params);
    free(m);
}

/* ---------------- running ---------------- */

int lt_model_forward(lt_model *m, lt_tensor *images, lt_mode mode)
{
    static const char *const fn = "lt_model_forward";
    if (!m || !images) return lt_set_error("%s: %s is NULL", fn, m ? "images" : "model");
    if (mode != LT_MODE_TRAIN && mode != LT_MODE_EVAL && mode != LT_MODE_EXPORT)
        return lt_set_error("%s: unknown mode %d", fn, (int)mode);
    if (!lt_ctx_current())
        return lt_set_error("%s: no ltrain context is current on this thread (lt_ctx_new() + lt_ctx_use())", fn);
    char shape[96];
    if (images->ndim != 4 || images->dtype != LT_F32 || images->shape[1] != m->input_shape[1])
        return lt_set_error("%s: images %s (%s) must be float32 [B,%lld,H,W]", fn,
                            lt_shape_str(images, shape, sizeof shape), lt_dtype_name(images->dtype),
                            (long long)m->input_shape[1]);
    for (int i = 0; i < m->n; i++) m->nodes[i].packet = NULL;
    const lt_packet *image_packet = image_packet_of(images);
    if (!image_packet) return -1;
    const bool was_training = lt_set_training(mode == LT_MODE_TRAIN);
    int rc = 0;
    for (int k = 0; k < m->n && !rc; k++) {
        model_node *nd = &m->nodes[m->order[k]];
        int n_inputs;
        const lt_packet **inputs = gather_inputs(m, nd, image_packet, &n_inputs);
        lt_packet *p = inputs ? run_node(m, nd, inputs, n_inputs, mode) : NULL;
        if (!p) rc = -1;
        nd->packet = p;
    }
    lt_set_training(was_training);
    return rc;
}

lt_tensor *lt_model_loss(lt_model *m, const lt_labels *labels)
{
    static const char *const fn = "lt_model_loss";
    if (!m) {
        lt_set_error("%s: model is NULL", fn);
        return NULL;
    }
    const int s = kind_slot(LT_DESC_LOSS);
    lt_tensor *total = NULL;
    for (int i = 0; i < m->n; i++) {
        const model_node *nd = &m->nodes[i];
        for (int k = 0; k < nd->n_attached[s]; k++) {
            if (!nd->packet) {
                node_fail(nd, "no packet to compute losses on: run lt_model_forward first");
                return NULL;
            }
            lt_attached *a = nd->attached[s][k];
            lt_tensor *loss = lt_attached_loss(a, nd->packet, labels);
            if (!loss) return NULL;
            const float w = lt_attached_weight(a);
            lt_tensor *term = w == 1.0f ? loss : lt_mul_scalar(loss, w);
            total = total ? lt_add(total, term) : term;
            if (!total) return NULL;
        }
    }
    if (!total) lt_set_error("%s: the model has no losses (attach one under a node's `losses:`)", fn);
    return total;
}

/* ---------------- accessors ---------------- */

static const model_node *node_at(const lt_model *m, int i, const char *fn)
{
    if (!m) {
        lt_set_error("%s: model is NULL", fn);
        return NULL;
    }
    if (i < 0 || i >= m->n) {
        lt_set_error("%s: node %d out of range (the model has %d)", fn, i, m->n);
        return NULL;
    }
    return &m->nodes[i];
}

lt_params *lt_model_params(lt_model *m) { return m ? m->params : NULL; }

int lt_model_n_nodes(const lt_model *m) { return m ? m->n : 0; }

int lt_model_find_node(const lt_model *m, const char *identifier)
{
    return m && identifier ? find_identifier(m, identifier) : -1;
}

const char *lt_model_node_identifier(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_node_identifier");
    return nd ? nd->identifier : NULL;
}

const lt_node_desc *lt_model_node_desc(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_node_desc");
    return nd ? nd->desc : NULL;
}

const lt_task_info *lt_model_node_task(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_node_task");
    return nd && nd->has_task ? &nd->task : NULL;
}

const lt_packet *lt_model_packet(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_packet");
    return nd ? nd->packet : NULL;
}

bool lt_model_node_is_output(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_node_is_output");
    return nd && nd->is_output;
}

const char *lt_model_node_variant(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_node_variant");
    return nd ? nd->variant : NULL;
}

const char *lt_model_node_weights(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_node_weights");
    return nd ? nd->weights : NULL;
}

lt_attach_index lt_model_node_attach_index(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_node_attach_index");
    return nd ? nd->attach : (lt_attach_index){0};
}

int lt_model_node_n_inputs(const lt_model *m, int i)
{
    const model_node *nd = node_at(m, i, "lt_model_node_n_inputs");
    return nd ? nd->n_inputs : -1;
}

int lt_model_node_input(const lt_model *m, int i, int k)
{
    const model_node *nd = node_at(m, i, "lt_model_node_input");
    if (!nd) return -1;
    if (k < 0 || k >= nd->n_inputs)
        return lt_set_error("lt_model_node_input: node '%s' has no input %d (it has %d)", nd->identifier, k,
                            nd->n_inputs);
    return nd->inputs[k];
}

int lt_model_order(const lt_model *m, int k)
{
    if (!m || k < 0 || k >= m->n) return lt_set_error("lt_model_order: position %d out of range", k);
    return m->order[k];
}

const char *lt_model_node_head_config(lt_model *m, int i)
{
    model_node *nd = (model_node *)node_at(m, i, "lt_model_node_head_config");
    if (!nd) return NULL;
    if (!nd->desc->custom_head_config) return "{}";
    lt_clear_error();
    const char *json = nd->desc->custom_head_config(nd->state, &nd->nc);
    if (!json) node_fail_last(nd, "custom_head_config failed");
    return json;
}

int lt_model_n_attached(const lt_model *m, int node, lt_desc_kind kind)
{
    const model_node *nd = node_at(m, node, "lt_model_n_attached");
    const int s = kind_slot(kind);
    return nd && s >= 0 ? nd->n_attached[s] : 0;
}

struct lt_attached *lt_model_attached(const lt_model *m, int node, lt_desc_kind kind, int k)
{
    const model_node *nd = node_at(m, node, "lt_model_attached");
    const int s = kind_slot(kind);
    if (!nd) return NULL;
    if (s < 0 || k < 0 || k >= nd->n_attached[s]) {
        static const char *const names[ATTACHED_KINDS] = {"loss", "metric", "visualizer"};
        lt_set_error("lt_model_attached: node '%s' has no %s %d", nd->identifier,
                     s < 0 ? "attached module of that kind" : names[s], k);
        return NULL;
    }
    return nd->attached[s][k];
}
