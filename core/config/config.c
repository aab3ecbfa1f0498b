/* The training config: load, override, upgrade, validate, fill defaults,
 * expand the predefined model, run the reference's validators, and build
 * the typed view (reference §2). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../registry.h"

/* ============================================================ bookkeeping */

static void push_text(char ***list, int *n, const char *text)
{
    char *copy = strdup(text);
    char **grown = copy ? realloc(*list, (size_t)(*n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy); /* a lost note is not worth failing the load */
        return;
    }
    *list = grown;
    (*list)[(*n)++] = copy;
}

static void note_default(void *ctx, const char *text)
{
    lt_config *c = ctx;
    push_text(&c->defaults, &c->n_defaults, text);
}

static void note(lt_config *c, const char *fmt, ...) LT_PRINTF(2, 3);
static void note(lt_config *c, const char *fmt, ...)
{
    char text[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    note_default(c, text);
}

static void warn(lt_config *c, const char *fmt, ...) LT_PRINTF(2, 3);
static void warn(lt_config *c, const char *fmt, ...)
{
    char text[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    push_text(&c->warnings, &c->n_warnings, text);
}

/* Zeroed memory freed with the config. */
static void *keep(lt_config *c, size_t size)
{
    void *p = calloc(1, size ? size : 1);
    void **grown = p ? realloc(c->blocks_, (size_t)(c->n_blocks_ + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(p);
        lt_set_error("config: out of memory");
        return NULL;
    }
    c->blocks_ = grown;
    c->blocks_[c->n_blocks_++] = p;
    return p;
}

static char *keep_text(lt_config *c, const char *fmt, ...) LT_PRINTF(2, 3);
static char *keep_text(lt_config *c, const char *fmt, ...)
{
    char text[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *p = keep(c, strlen(text) + 1);
    if (p) strcpy(p, text);
    return p;
}

void lt_config_free(lt_config *c)
{
    if (!c) return;
    lt_cfg_free(c->resolved);
    for (int i = 0; i < c->n_defaults; i++) free(c->defaults[i]);
    for (int i = 0; i < c->n_warnings; i++) free(c->warnings[i]);
    for (int i = 0; i < c->n_blocks_; i++) free(c->blocks_[i]);
    free(c->defaults);
    free(c->warnings);
    free(c->blocks_);
    free(c);
}

/* ============================================================ tree helpers */

static bool is_map(const lt_cfg *v) { return v && v->type == LT_CFG_MAP; }
static bool is_list(const lt_cfg *v) { return v && v->type == LT_CFG_LIST; }

/* Text of a non-null scalar, else NULL. */
static const char *text_of(const lt_cfg *v)
{
    return v && v->type == LT_CFG_SCALAR && !lt_cfg_is_null(v) ? v->text : NULL;
}

static const char *str_at(const lt_cfg *map, const char *key) { return text_of(lt_cfg_peek(map, key)); }

/* Walks "a.b.c" through maps. */
static lt_cfg *at_path(const lt_cfg *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    lt_cfg *cur = (lt_cfg *)root;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save))
        cur = is_map(cur) ? lt_cfg_peek(cur, seg) : NULL;
    return cur;
}

static int64_t int_at(const lt_cfg *map, const char *key, int64_t fallback)
{
    int64_t v;
    const lt_cfg *c = lt_cfg_peek(map, key);
    return c && lt_cfg_is_int(c) && !lt_cfg_as_int(c, key, &v) ? v : fallback;
}

static bool opt_int(const lt_cfg *map, const char *key, int64_t *out)
{
    const lt_cfg *c = lt_cfg_peek(map, key);
    return c && lt_cfg_is_int(c) && !lt_cfg_as_int(c, key, out);
}

static bool opt_float(const lt_cfg *map, const char *key, double *out)
{
    const lt_cfg *c = lt_cfg_peek(map, key);
    return c && lt_cfg_is_number(c) && !lt_cfg_as_float(c, key, out);
}

static bool bool_at(const lt_cfg *map, const char *key, bool fallback)
{
    bool v;
    const lt_cfg *c = lt_cfg_peek(map, key);
    return c && lt_cfg_is_bool(c) && !lt_cfg_as_bool(c, key, &v) ? v : fallback;
}

static int set_text(lt_cfg *map, const char *key, const char *text, bool quoted)
{
    return lt_cfg_set(map, key, lt_cfg_new_scalar(text, quoted));
}

/* Sets key to a copy of value (or to an empty map when value is null). */
static int set_copy(lt_cfg *map, const char *key, const lt_cfg *value)
{
    return lt_cfg_set(map, key, value && !lt_cfg_is_null(value) ? lt_cfg_clone(value) : lt_cfg_new(LT_CFG_MAP));
}

/* Moves map[from] to map[to] (an upgrade rename); true when moved. */
static bool rename_key(lt_cfg *src, const char *from, lt_cfg *dst, const char *to)
{
    lt_cfg *v = lt_cfg_peek(src, from);
    if (!v || lt_cfg_peek(dst, to)) return false;
    if (lt_cfg_set(dst, to, lt_cfg_clone(v))) return false;
    lt_cfg_remove(src, from);
    return true;
}

static const lt_schema_key *schema_at(const char *section, const char *key)
{
    const lt_schema_key *s = lt_schema_find(lt_config_schema, section);
    return s ? lt_schema_find(s->children, key) : NULL;
}

/* " (did you mean 'X'?)" over a NULL-terminated list, or the list. */
static void closest(const char *const *names, const char *name, char *out, size_t size)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; names[i]; i++) {
        int d = lt_edit_distance(name, names[i]);
        if (d < best_d) best_d = d, best = names[i];
    }
    size_t la = strlen(name), lb = best ? strlen(best) : 0;
    int limit = (int)((la > lb ? la : lb) / 3);
    if (best && best_d <= (limit < 2 ? 2 : limit)) {
        snprintf(out, size, " (did you mean '%s'?)", best);
        return;
    }
    size_t len = (size_t)snprintf(out, size, " (valid: ");
    for (int i = 0; names[i] && len < size; i++) len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", names[i]);
    if (len < size) snprintf(out + len, size - len, ")");
}

static int check_name(const lt_cfg *item, const char *path, const char *what, const char *const *names)
{
    const char *name = str_at(item, "name");
    if (!name) return 0;
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name)) return 0;
    char hint[900];
    closest(names, name, hint, sizeof hint);
    return lt_set_error("%s: %s.name: unknown %s '%s'%s", lt_cfg_where(lt_cfg_peek(item, "name")), path, what, name, hint);
}

/* ================================================== before the schema */

/* The reference's config upgrade (§2.10): old spellings move to new keys. */
static void upgrade(lt_config *c, lt_cfg *root)
{
    if (rename_key(root, "config_version", root, "version"))
        warn(c, "config_version is now called version");
    lt_cfg *trainer = lt_cfg_peek(root, "trainer");
    if (is_map(trainer) && rename_key(trainer, "use_rich_progress_bar", root, "rich_logging"))
        warn(c, "trainer.use_rich_progress_bar moved to rich_logging");
    lt_cfg *pre = is_map(trainer) ? lt_cfg_peek(trainer, "preprocessing") : NULL;
    lt_cfg *rgb = is_map(pre) ? lt_cfg_peek(pre, "train_rgb") : NULL;
    if (rgb && lt_cfg_is_bool(rgb) && !lt_cfg_peek(pre, "color_space")) {
        bool on = bool_at(pre, "train_rgb", true);
        if (!set_text(pre, "color_space", on ? "RGB" : "BGR", false)) {
            lt_cfg_remove(pre, "train_rgb");
            warn(c, "trainer.preprocessing.train_rgb is now color_space: %s", on ? "RGB" : "BGR");
        }
    }
    lt_cfg *model = lt_cfg_peek(root, "model");
    if (!is_map(model)) return;
    lt_cfg *pm = lt_cfg_peek(model, "predefined_model");
    lt_cfg *pm_params = is_map(pm) ? lt_cfg_peek(pm, "params") : NULL;
    if (is_map(pm_params) && rename_key(pm_params, "variant", pm, "variant"))
        warn(c, "model.predefined_model.params.variant moved to model.predefined_model.variant");
    lt_cfg *nodes = lt_cfg_peek(model, "nodes");
    for (int i = 0; is_list(nodes) && i < nodes->n; i++) {
        lt_cfg *params = is_map(nodes->items[i]) ? lt_cfg_peek(nodes->items[i], "params") : NULL;
        if (is_map(params) && rename_key(params, "variant", nodes->items[i], "variant"))
            warn(c, "model.nodes[%d].params.variant moved to model.nodes[%d].variant", i, i);
    }
}

static const char *identifier(const lt_cfg *node)
{
    const char *alias = str_at(node, "alias");
    return alias ? alias : str_at(node, "name");
}

/* Nodes after the first without inputs follow the "linear multi-head
 * topology" (ModelConfig.validate_nodes): before the first node whose name
 * contains "Head" each takes the previous node, from there on the node
 * just before that head. Runs on the user's nodes only. */
static int linear_topology(lt_config *c, lt_cfg *root)
{
    lt_cfg *nodes = at_path(root, "model.nodes");
    if (!is_list(nodes)) return 0;
    int last_body = -1;
    bool warned = false;
    for (int i = 0; i < nodes->n; i++) {
        lt_cfg *nd = nodes->items[i];
        const char *name = is_map(nd) ? str_at(nd, "name") : NULL;
        if (!name) return 0; /* the schema reports it */
        if (strstr(name, "Head") && last_body < 0) last_body = i - 1;
        if (i == 0 || lt_cfg_peek(nd, "inputs") || lt_cfg_peek(nd, "input_sources")) continue;
        const char *prev = identifier(nodes->items[last_body >= 0 ? last_body : i - 1]);
        if (!prev) return 0;
        lt_cfg *inputs = lt_cfg_new(LT_CFG_LIST);
        if (!inputs || lt_cfg_append(inputs, lt_cfg_new_scalar(prev, false)) || lt_cfg_set(nd, "inputs", inputs)) {
            if (inputs && !lt_cfg_peek(nd, "inputs")) lt_cfg_free(inputs);
            return -1;
        }
        if (!warned)
            warn(c, "model.nodes[%d] ('%s') has no inputs: assuming a linear multi-head topology "
                    "(backbone -> (neck?) -> head1, head2, ...)", i, identifier(nd));
        warned = true;
        note(c, "model.nodes[%d].inputs = [%s]", i, prev);
    }
    return 0;
}

/* ===================================================== predefined models */

static const lt_schema_key simple_model_params[] = {
    {.key = "backbone", .type = LT_ST_STR},
    {.key = "backbone_variant", .type = LT_ST_STR, .flags = LT_SK_NULLABLE},
    {.key = "backbone_params", .type = LT_ST_MAP, .flags = LT_SK_NULLABLE},
    {.key = "neck", .type = LT_ST_STR, .flags = LT_SK_NULLABLE},
    {.key = "neck_variant", .type = LT_ST_STR, .flags = LT_SK_NULLABLE},
    {.key = "neck_params", .type = LT_ST_MAP, .flags = LT_SK_NULLABLE},
    {.key = "use_neck", .type = LT_ST_BOOL},
    {.key = "head", .type = LT_ST_STR},
    {.key = "head_variant", .type = LT_ST_STR, .flags = LT_SK_NULLABLE},
    {.key = "head_params", .type = LT_ST_MAP, .flags = LT_SK_NULLABLE},
    {.key = "loss", .type = LT_ST_STR},
    {.key = "loss_params", .type = LT_ST_MAP, .flags = LT_SK_NULLABLE},
    {.key = "metrics", .type = LT_ST_STR_LIST, .flags = LT_SK_NULLABLE},
    {.key = "main_metric", .type = LT_ST_STR, .flags = LT_SK_NULLABLE},
    {.key = "metrics_params", .type = LT_ST_MAP, .flags = LT_SK_NULLABLE},
    {.key = "visualizer", .type = LT_ST_STR, .flags = LT_SK_NULLABLE},
    {.key = "visualizer_params", .type = LT_ST_MAP, .flags = LT_SK_NULLABLE},
    {.key = "confusion_matrix_available", .type = LT_ST_BOOL},
    {.key = "enable_confusion_matrix", .type = LT_ST_BOOL},
    {.key = "confusion_matrix_params", .type = LT_ST_MAP, .flags = LT_SK_NULLABLE},
    {.key = "task_name", .type = LT_ST_STR, .flags = LT_SK_NULLABLE},
    {.key = "torchmetrics_task", .type = LT_ST_STR, .flags = LT_SK_NULLABLE,
     .choices = (const char *const[]){"binary", "multiclass", "multilabel", NULL}},
    {.key = "per_class_metrics", .type = LT_ST_BOOL, .flags = LT_SK_NULLABLE},
    {0},
};

/* What a SimplePredefinedModel subclass fixes; user params override it. */
typedef struct simple_model {
    const char *backbone, *head, *loss, *visualizer, *main_metric;
    const char *const *metrics;
    bool confusion_matrix_available;
} simple_model;

/* A node param, user value first, then the variant's. */
static const char *param_str(const lt_cfg *params, const char *key, const char *fallback)
{
    const lt_cfg *v = lt_cfg_peek(params, key);
    if (!v) return fallback;
    return text_of(v); /* null: none */
}

/* `*_params.freezing` becomes the node's freezing with active: true. */
static int node_params_and_freezing(lt_cfg *node, const lt_cfg *params, const char *path)
{
    lt_cfg *copy = params && !lt_cfg_is_null(params) ? lt_cfg_clone(params) : lt_cfg_new(LT_CFG_MAP);
    if (!copy) return -1;
    lt_cfg *freezing = lt_cfg_peek(copy, "freezing");
    if (freezing) {
        if (!is_map(freezing)) {
            int rc = lt_set_error("%s: %s.freezing: expected a map, got %s", lt_cfg_where(freezing), path,
                                  lt_cfg_type_name(freezing->type));
            lt_cfg_free(copy);
            return rc;
        }
        lt_cfg *f = lt_cfg_clone(freezing);
        if (!f || (!lt_cfg_peek(f, "active") && set_text(f, "active", "true", false))) {
            lt_cfg_free(f);
            lt_cfg_free(copy);
            return -1;
        }
        lt_cfg_remove(copy, "freezing");
        if (lt_cfg_set(node, "freezing", f)) {
            lt_cfg_free(copy);
            return -1;
        }
    }
    return lt_cfg_set(node, "params", copy);
}

static lt_cfg *new_node(const char *name, const char *variant)
{
    lt_cfg *n = lt_cfg_new(LT_CFG_MAP);
    if (!n || set_text(n, "name", name, false) || (variant && set_text(n, "variant", variant, true))) {
        lt_cfg_free(n);
        return NULL;
    }
    return n;
}

static int set_inputs(lt_cfg *node, const char *input)
{
    lt_cfg *l = lt_cfg_new(LT_CFG_LIST);
    if (!l || lt_cfg_append(l, lt_cfg_new_scalar(input, false))) {
        lt_cfg_free(l);
        return -1;
    }
    return lt_cfg_set(node, "inputs", l);
}

/* {name, params[, weight | is_main_metric]} */
static lt_cfg *module(const char *name, const lt_cfg *params, const char *extra_key, const char *extra)
{
    lt_cfg *m = lt_cfg_new(LT_CFG_MAP);
    if (!m || set_text(m, "name", name, false) || set_copy(m, "params", params) ||
        (extra_key && set_text(m, extra_key, extra, false))) {
        lt_cfg_free(m);
        return NULL;
    }
    return m;
}

static lt_cfg *metrics_params(const lt_cfg *params)
{
    const lt_cfg *base = lt_cfg_peek(params, "metrics_params");
    lt_cfg *mp = base && !lt_cfg_is_null(base) ? lt_cfg_clone(base) : lt_cfg_new(LT_CFG_MAP);
    const char *task = str_at(params, "torchmetrics_task");
    const lt_cfg *per_class = lt_cfg_peek(params, "per_class_metrics");
    if (mp && task && set_text(mp, "torchmetrics_task", task, false)) goto fail;
    if (mp && per_class && !lt_cfg_is_null(per_class) && lt_cfg_set(mp, "per_class_metrics", lt_cfg_clone(per_class)))
        goto fail;
    return mp;
fail:
    lt_cfg_free(mp);
    return NULL;
}

static int head_metrics(lt_cfg *head, const simple_model *sm, const lt_cfg *params)
{
    lt_cfg *list = lt_cfg_new(LT_CFG_LIST);
    lt_cfg *mp = metrics_params(params);
    if (!list || !mp) goto fail;
    const char *main_metric = param_str(params, "main_metric", sm->main_metric);
    const lt_cfg *user = lt_cfg_peek(params, "metrics");
    int n = user ? (is_list(user) ? user->n : text_of(user) ? 1 : 0) : 0;
    if (!user)
        while (sm->metrics[n]) n++;
    for (int i = 0; i < n; i++) {
        const char *name = !user ? sm->metrics[i] : is_list(user) ? text_of(user->items[i]) : text_of(user);
        bool is_main = main_metric && !strcmp(name, main_metric);
        if (lt_cfg_append(list, module(name, mp, "is_main_metric", is_main ? "true" : "false"))) goto fail;
    }
    const bool cm = bool_at(params, "confusion_matrix_available", sm->confusion_matrix_available) &&
                    bool_at(params, "enable_confusion_matrix", true);
    if (cm && lt_cfg_append(list, module("ConfusionMatrix", lt_cfg_peek(params, "confusion_matrix_params"),
                                         "is_main_metric", "false")))
        goto fail;
    lt_cfg_free(mp);
    return lt_cfg_set(head, "metrics", list);
fail:
    lt_cfg_free(list);
    lt_cfg_free(mp);
    return -1;
}

static int head_modules(lt_cfg *head, const simple_model *sm, const lt_cfg *params)
{
    const char *loss = param_str(params, "loss", sm->loss);
    lt_cfg *losses = lt_cfg_new(LT_CFG_LIST);
    if (!losses || (loss && lt_cfg_append(losses, module(loss, lt_cfg_peek(params, "loss_params"), "weight", "1.0"))) ||
        lt_cfg_set(head, "losses", losses)) {
        if (losses && lt_cfg_peek(head, "losses") != losses) lt_cfg_free(losses);
        return -1;
    }
    if (head_metrics(head, sm, params)) return -1;
    const char *vis = param_str(params, "visualizer", sm->visualizer);
    lt_cfg *visualizers = lt_cfg_new(LT_CFG_LIST);
    if (!visualizers ||
        (vis && lt_cfg_append(visualizers, module(vis, lt_cfg_peek(params, "visualizer_params"), NULL, NULL))) ||
        lt_cfg_set(head, "visualizers", visualizers)) {
        if (visualizers && lt_cfg_peek(head, "visualizers") != visualizers) lt_cfg_free(visualizers);
        return -1;
    }
    return 0;
}

/* SimplePredefinedModel.nodes: backbone -> [neck] -> head with the
 * model's loss, metrics (+ ConfusionMatrix) and visualizer. */
static int simple_nodes(const simple_model *sm, const lt_cfg *params, const char *backbone_variant, lt_cfg *nodes)
{
    const char *pp = "model.predefined_model.params";
    char path[128];
    const char *backbone = param_str(params, "backbone", sm->backbone);
    const char *neck = param_str(params, "neck", NULL);
    const char *head = param_str(params, "head", sm->head);
    if (!backbone || !head) return lt_set_error("%s: the backbone and the head must be named", pp);
    const bool use_neck = neck && bool_at(params, "use_neck", true);

    lt_cfg *b = new_node(backbone, param_str(params, "backbone_variant", backbone_variant));
    snprintf(path, sizeof path, "%s.backbone_params", pp);
    if (!b || node_params_and_freezing(b, lt_cfg_peek(params, "backbone_params"), path) || lt_cfg_append(nodes, b)) {
        if (b && (nodes->n == 0 || nodes->items[nodes->n - 1] != b)) lt_cfg_free(b);
        return -1;
    }
    if (use_neck) {
        lt_cfg *n = new_node(neck, param_str(params, "neck_variant", NULL));
        snprintf(path, sizeof path, "%s.neck_params", pp);
        if (!n || set_inputs(n, backbone) || node_params_and_freezing(n, lt_cfg_peek(params, "neck_params"), path) ||
            lt_cfg_append(nodes, n)) {
            if (n && nodes->items[nodes->n - 1] != n) lt_cfg_free(n);
            return -1;
        }
    }
    lt_cfg *h = new_node(head, param_str(params, "head_variant", NULL));
    const char *task = str_at(params, "task_name");
    snprintf(path, sizeof path, "%s.head_params", pp);
    if (!h || set_inputs(h, use_neck ? neck : backbone) ||
        node_params_and_freezing(h, lt_cfg_peek(params, "head_params"), path) ||
        (task && set_text(h, "task_name", task, true)) || head_modules(h, sm, params) || lt_cfg_append(nodes, h)) {
        if (h && nodes->items[nodes->n - 1] != h) lt_cfg_free(h);
        return -1;
    }
    return 0;
}

static const char *const classification_variants[] = {"light", "heavy", NULL};
static const char *const classification_metrics[] = {"F1Score", "Accuracy", "Recall", NULL};

/* config/predefined_models/classification_model.py: ResNet-18 (light) or
 * ResNet-50 (heavy) -> ClassificationHead; CrossEntropyLoss; F1Score
 * (main), Accuracy, Recall, ConfusionMatrix; ClassificationVisualizer. */
static int classification_model(const lt_cfg *pm, const char *variant, lt_cfg *nodes)
{
    static const simple_model sm = {
        .backbone = "ResNet",
        .head = "ClassificationHead",
        .loss = "CrossEntropyLoss",
        .visualizer = "ClassificationVisualizer",
        .main_metric = "F1Score",
        .metrics = classification_metrics,
        .confusion_matrix_available = true,
    };
    return simple_nodes(&sm, lt_cfg_peek(pm, "params"), !strcmp(variant, "heavy") ? "50" : "18", nodes);
}

const lt_predefined_model lt_predefined_models[] = {
    {"ClassificationModel", classification_variants, classification_model},
};
const int lt_n_predefined_models = (int)(sizeof lt_predefined_models / sizeof lt_predefined_models[0]);

static const lt_predefined_model *find_predefined(const lt_cfg *name_node, const char *name)
{
    const char *names[16];
    int n = 0;
    for (int i = 0; i < lt_n_predefined_models; i++) {
        if (!strcmp(lt_predefined_models[i].name, name)) return &lt_predefined_models[i];
        if (n < 15) names[n++] = lt_predefined_models[i].name;
    }
    names[n] = NULL;
    char hint[512];
    closest(names, name, hint, sizeof hint);
    lt_set_error("%s: model.predefined_model.name: unknown predefined model '%s'%s", lt_cfg_where(name_node), name,
                 hint);
    return NULL;
}

/* Empties a generated node's list when the include_* flag is off. */
static int drop_unless(lt_cfg *node, const lt_cfg *pm, const char *flag, const char *key)
{
    if (bool_at(pm, flag, true)) return 0;
    return lt_cfg_set(node, key, lt_cfg_new(LT_CFG_LIST));
}

static int expand_predefined(lt_config *c, lt_cfg *root)
{
    lt_cfg *model = lt_cfg_peek(root, "model");
    lt_cfg *pm = lt_cfg_peek(model, "predefined_model");
    if (!is_map(pm)) return 0;
    const char *name = str_at(pm, "name");
    const lt_predefined_model *def = find_predefined(lt_cfg_peek(pm, "name"), name);
    if (!def) return -1;
    const char *variant = str_at(pm, "variant");
    if (!variant || !strcmp(variant, "default")) variant = def->variants[0];
    int vi = 0;
    while (def->variants[vi] && strcmp(def->variants[vi], variant)) vi++;
    if (!def->variants[vi]) {
        char hint[256];
        closest(def->variants, variant, hint, sizeof hint);
        return lt_set_error("%s: model.predefined_model.variant: unknown variant '%s' of %s%s",
                            lt_cfg_where(lt_cfg_peek(pm, "variant")), variant, name, hint);
    }
    lt_cfg *params = lt_cfg_peek(pm, "params");
    if (lt_schema_apply(simple_model_params, params, "model.predefined_model.params", NULL, NULL)) return -1;
    lt_cfg *nodes = lt_cfg_peek(model, "nodes");
    const int first = nodes->n;
    if (def->append_nodes(pm, variant, nodes)) return -1;
    const lt_schema_key *node_schema = schema_at("model", "nodes")->children;
    for (int i = first; i < nodes->n; i++) {
        char path[64];
        snprintf(path, sizeof path, "model.nodes[%d]", i);
        lt_cfg *nd = nodes->items[i];
        if (drop_unless(nd, pm, "include_losses", "losses") || drop_unless(nd, pm, "include_metrics", "metrics") ||
            drop_unless(nd, pm, "include_visualizers", "visualizers") ||
            lt_schema_apply(node_schema, nd, path, NULL, NULL))
            return -1;
    }
    note(c, "model.nodes[%d..%d] = the nodes of %s (variant %s)", first, nodes->n - 1, name, variant);
    return 0;
}

/* ================================================= model validators */

static const char *const module_lists[] = {"losses", "metrics", "visualizers"};

/* Names and aliases become log keys and paths: no '/'. */
static int no_slash(const lt_cfg *m, int node, const char *list, int index)
{
    static const char *const keys[] = {"name", "alias"};
    char where[96] = "";
    if (list) snprintf(where, sizeof where, ".%s[%d]", list, index);
    for (int k = 0; k < 2; k++) {
        const char *t = str_at(m, keys[k]);
        if (t && strchr(t, '/'))
            return lt_set_error("%s: model.nodes[%d]%s: the %s '%s' contains a '/', which is not allowed",
                                lt_cfg_where(lt_cfg_peek(m, keys[k])), node, where, keys[k], t);
    }
    return 0;
}

static int check_slashes(const lt_cfg *nodes)
{
    for (int i = 0; i < nodes->n; i++) {
        const lt_cfg *nd = nodes->items[i];
        if (no_slash(nd, i, NULL, 0)) return -1;
        for (int l = 0; l < 3; l++) {
            const lt_cfg *list = lt_cfg_peek(nd, module_lists[l]);
            for (int j = 0; j < list->n; j++)
                if (no_slash(list->items[j], i, module_lists[l], j)) return -1;
        }
    }
    return 0;
}

/* ModelConfig.check_main_metric: at most one; else the first metric that
 * is not a confusion matrix. */
static int check_main_metric(lt_config *c, const lt_cfg *nodes)
{
    const lt_cfg *main_metric = NULL;
    lt_cfg *first = NULL;
    bool any = false, all_matrices = true;
    for (int i = 0; i < nodes->n; i++) {
        const lt_cfg *metrics = lt_cfg_peek(nodes->items[i], "metrics");
        for (int j = 0; j < metrics->n; j++) {
            lt_cfg *m = metrics->items[j];
            any = true;
            char lower[128];
            snprintf(lower, sizeof lower, "%s", str_at(m, "name"));
            for (char *p = lower; *p; p++) *p = (char)tolower((unsigned char)*p);
            if (!strstr(lower, "matrix")) {
                all_matrices = false;
                if (!first) first = m;
            }
            if (!bool_at(m, "is_main_metric", false)) continue;
            if (main_metric)
                return lt_set_error("%s: multiple main metrics: '%s' and '%s'; only one can have is_main_metric: true",
                                    lt_cfg_where(lt_cfg_peek(m, "is_main_metric")), identifier(main_metric),
                                    identifier(m));
            main_metric = m;
        }
    }
    if (main_metric) return 0;
    if (!any) {
        if (nodes->n) warn(c, "no metrics specified");
        return 0;
    }
    if (all_matrices)
        return lt_set_error("model: no main metric can be set because all the metrics are confusion matrices");
    warn(c, "no main metric specified: using '%s'", identifier(first));
    note(c, "main metric = %s", identifier(first));
    return set_text(first, "is_main_metric", "true", false);
}

/* ModelConfig.check_unique_names: a duplicate without an alias becomes
 * "{name}_{node alias}" (Python prints a missing alias as None), then
 * gets "_{i}" when that is taken too. */
static int unique_names(lt_config *c, const lt_cfg *nodes)
{
    for (int i = 0; i < nodes->n; i++) {
        lt_cfg *nd = nodes->items[i];
        const char *node_alias = str_at(nd, "alias");
        for (int l = 0; l < 3; l++) {
            lt_cfg *list = lt_cfg_peek(nd, module_lists[l]);
            const char *seen[256];
            int n_seen = 0, node_index = 0;
            seen[n_seen++] = identifier(nd);
            for (int j = 0; j < list->n && n_seen < 256; j++) {
                lt_cfg *m = list->items[j];
                const char *name = identifier(m);
                bool dup = false;
                for (int k = 0; k < n_seen; k++) dup |= !strcmp(seen[k], name);
                if (dup) {
                    char alias[300];
                    const char *have = str_at(m, "alias");
                    snprintf(alias, sizeof alias, "%s", have ? have : "");
                    if (!have) snprintf(alias, sizeof alias, "%s_%s", name, node_alias ? node_alias : "None");
                    bool taken = false;
                    for (int k = 0; k < n_seen; k++) taken |= !strcmp(seen[k], alias);
                    if (taken) {
                        warn(c, "duplicate name %s in model.nodes[%d].%s: renamed to %s_%d", alias, i,
                             module_lists[l], alias, node_index);
                        size_t len = strlen(alias);
                        if (len < sizeof alias - 12) snprintf(alias + len, sizeof alias - len, "_%d", node_index);
                        node_index++;
                    }
                    if (set_text(m, "alias", alias, true)) return -1;
                    note(c, "model.nodes[%d].%s[%d].alias = %s", i, module_lists[l], j, alias);
                }
                /* The reference records only the identifier before renaming,
                 * so a third duplicate would get the same alias; recording
                 * the new alias too keeps them unique, as its docs intend. */
                seen[n_seen++] = dup ? str_at(m, "alias") : name;
            }
        }
    }
    return 0;
}

static int loss_weights(lt_config *c, const lt_cfg *nodes)
{
    for (int i = 0; i < nodes->n; i++) {
        const lt_cfg *losses = lt_cfg_peek(nodes->items[i], "losses");
        for (int j = 0; j < losses->n; j++) {
            double w = 1.0;
            opt_float(losses->items[j], "weight", &w);
            if (w < 0)
                return lt_set_error("%s: model.nodes[%d].losses[%d].weight: expected a number >= 0, got %g",
                                    lt_cfg_where(lt_cfg_peek(losses->items[j], "weight")), i, j, w);
            if (w == 0)
                warn(c, "loss '%s' has weight 0: it will not contribute to the training",
                     identifier(losses->items[j]));
        }
    }
    return 0;
}

/* Outputs default to the nodes nobody takes as input. */
static int infer_outputs(lt_config *c, lt_cfg *model, const lt_cfg *nodes)
{
    lt_cfg *outputs = lt_cfg_peek(model, "outputs");
    if (outputs->n) return 0;
    for (int i = 0; i < nodes->n; i++) {
        const char *id = identifier(nodes->items[i]);
        bool consumed = false;
        for (int j = 0; j < nodes->n && !consumed; j++) {
            const lt_cfg *inputs = lt_cfg_peek(nodes->items[j], "inputs");
            for (int k = 0; k < inputs->n && !consumed; k++) consumed = !strcmp(text_of(inputs->items[k]), id);
        }
        if (consumed) continue;
        if (lt_cfg_append(outputs, lt_cfg_new_scalar(id, false))) return -1;
        note(c, "model.outputs += %s", id);
    }
    return 0;
}

static int validate_model(lt_config *c, lt_cfg *root)
{
    lt_cfg *model = lt_cfg_peek(root, "model");
    lt_cfg *nodes = lt_cfg_peek(model, "nodes");
    return check_main_metric(c, nodes) || infer_outputs(c, model, nodes) || check_slashes(nodes) ||
                   unique_names(c, nodes) || loss_weights(c, nodes)
               ? -1
               : 0;
}

/* ================================================ trainer validators */

typedef struct range_rule {
    const char *path;
    int64_t min;
    bool minus_one; /* -1 also accepted */
} range_rule;

static const range_rule int_ranges[] = {
    {"trainer.batch_size", 1, false},         {"trainer.epochs", 1, false},
    {"trainer.n_workers", 0, false},          {"trainer.n_log_images", 0, false},
    {"trainer.validation_interval", 1, true}, {"trainer.save_top_k", 0, true},
    {"trainer.n_validation_batches", 1, true}, {"trainer.accumulate_grad_batches", 1, false},
    {"trainer.overfit_batches", 0, false},
};

static int check_ranges(const lt_cfg *root)
{
    for (size_t i = 0; i < sizeof int_ranges / sizeof int_ranges[0]; i++) {
        const range_rule *r = &int_ranges[i];
        int64_t v;
        const lt_cfg *node = at_path(root, r->path);
        if (!node || !lt_cfg_is_int(node) || lt_cfg_as_int(node, r->path, &v)) continue;
        if (v >= r->min || (r->minus_one && v == -1)) continue;
        return lt_set_error("%s: %s: expected %san integer >= %lld, got %lld", lt_cfg_where(node), r->path,
                            r->minus_one ? "-1 or " : "", (long long)r->min, (long long)v);
    }
    const lt_cfg *clip = at_path(root, "trainer.gradient_clip_val");
    double d;
    if (clip && lt_cfg_is_number(clip) && !lt_cfg_as_float(clip, "", &d) && d < 0)
        return lt_set_error("%s: trainer.gradient_clip_val: expected a number >= 0, got %g", lt_cfg_where(clip), d);
    const lt_cfg *size = at_path(root, "trainer.preprocessing.train_image_size");
    if (size->n != 2)
        return lt_set_error("%s: trainer.preprocessing.train_image_size: expected [height, width], got %d values",
                            lt_cfg_where(size), size->n);
    for (int i = 0; i < 2; i++) {
        int64_t v;
        if (!lt_cfg_as_int(size->items[i], "", &v) && v < 1)
            return lt_set_error("%s: trainer.preprocessing.train_image_size[%d]: expected an integer >= 1, got %lld",
                                lt_cfg_where(size->items[i]), i, (long long)v);
    }
    return 0;
}

/* PreprocessingConfig.check_normalize: a Normalize augmentation replaces
 * normalize.params and leaves the list. */
static int normalize_from_augmentations(lt_config *c, lt_cfg *pre)
{
    lt_cfg *augs = lt_cfg_peek(pre, "augmentations");
    lt_cfg *normalize = lt_cfg_peek(pre, "normalize");
    for (int i = 0; i < augs->n; i++) {
        lt_cfg *aug = augs->items[i];
        if (strcmp(str_at(aug, "name"), "Normalize")) continue;
        if (bool_at(normalize, "active", true))
            warn(c, "Normalize is in both trainer.preprocessing.augmentations and trainer.preprocessing.normalize: "
                    "the augmentation's params win");
        if (set_copy(normalize, "params", lt_cfg_peek(aug, "params"))) return -1;
        lt_cfg_free(aug);
        memmove(&augs->items[i], &augs->items[i + 1], (size_t)(augs->n - i - 1) * sizeof *augs->items);
        augs->n--;
        break;
    }
    return 0;
}

static bool has_callback(const lt_cfg *callbacks, const char *name)
{
    for (int i = 0; i < callbacks->n; i++)
        if (!strcmp(str_at(callbacks->items[i], "name"), name)) return true;
    return false;
}

static int validate_trainer(lt_config *c, lt_cfg *root, bool user_deterministic)
{
    lt_cfg *trainer = lt_cfg_peek(root, "trainer");
    lt_cfg *callbacks = lt_cfg_peek(trainer, "callbacks");
    for (int i = 0; i < callbacks->n; i++) {
        char path[64];
        snprintf(path, sizeof path, "trainer.callbacks[%d]", i);
        if (check_name(callbacks->items[i], path, "callback", lt_config_callback_names)) return -1;
    }
    if (check_name(lt_cfg_peek(trainer, "optimizer"), "trainer.optimizer", "optimizer", lt_config_optimizer_names) ||
        check_name(lt_cfg_peek(trainer, "scheduler"), "trainer.scheduler", "scheduler", lt_config_scheduler_names))
        return -1;
    if (check_ranges(root)) return -1;
    if (normalize_from_augmentations(c, lt_cfg_peek(trainer, "preprocessing"))) return -1;

    if (!lt_cfg_is_null(lt_cfg_peek(trainer, "seed")) && !user_deterministic) {
        warn(c, "trainer.deterministic set to true because trainer.seed is set");
        note(c, "trainer.deterministic = true (trainer.seed is set)");
        if (set_text(trainer, "deterministic", "true", false)) return -1;
    }
    int64_t interval = int_at(trainer, "validation_interval", 5), epochs = int_at(trainer, "epochs", 100);
    if (interval == -1 || interval > epochs) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)epochs);
        if (interval != -1) warn(c, "trainer.validation_interval set to trainer.epochs (%s)", text);
        note(c, "trainer.validation_interval = %s (trainer.epochs)", text);
        if (set_text(trainer, "validation_interval", text, false)) return -1;
    }
    /* EMACallback first: it updates before the others (stable order). */
    int put = 0;
    for (int i = 0; i < callbacks->n; i++)
        if (!strcmp(str_at(callbacks->items[i], "name"), "EMACallback")) {
            lt_cfg *ema = callbacks->items[i];
            memmove(&callbacks->items[put + 1], &callbacks->items[put], (size_t)(i - put) * sizeof *callbacks->items);
            callbacks->items[put++] = ema;
        }
    /* ConvertOnTrainEnd does what Export/ArchiveOnTrainEnd do. */
    bool convert = false;
    for (int i = 0; i < callbacks->n; i++)
        convert |= !strcmp(str_at(callbacks->items[i], "name"), "ConvertOnTrainEnd") &&
                   bool_at(callbacks->items[i], "active", true);
    for (int i = 0; convert && i < callbacks->n; i++) {
        const char *name = str_at(callbacks->items[i], "name");
        if ((!strcmp(name, "ExportOnTrainEnd") || !strcmp(name, "ArchiveOnTrainEnd")) &&
            bool_at(callbacks->items[i], "active", true)) {
            warn(c, "%s deactivated: ConvertOnTrainEnd is active", name);
            if (set_text(callbacks->items[i], "active", "false", false)) return -1;
        }
    }
    return 0;
}

/* A view is a string or a list of strings; "train" equals [train]. */
static int view_count(const lt_cfg *v) { return v->type == LT_CFG_LIST ? v->n : 1; }
static const char *view_at(const lt_cfg *v, int i) { return v->type == LT_CFG_LIST ? text_of(v->items[i]) : text_of(v); }

static bool same_views(const lt_cfg *a, const lt_cfg *b)
{
    if (view_count(a) != view_count(b)) return false;
    for (int i = 0; i < view_count(a); i++)
        if (strcmp(view_at(a, i), view_at(b, i))) return false;
    return true;
}

/* Config.smart_auto_populate (reference §2.10). */
static int smart_auto_populate(lt_config *c, lt_cfg *root)
{
    lt_cfg *trainer = lt_cfg_peek(root, "trainer");
    if (!bool_at(trainer, "smart_cfg_auto_populate", true)) return 0;
    lt_cfg *pre = lt_cfg_peek(trainer, "preprocessing");
    lt_cfg *size = lt_cfg_peek(pre, "train_image_size");
    lt_cfg *augs = lt_cfg_peek(pre, "augmentations");
    for (int i = 0; i < augs->n; i++) {
        lt_cfg *params = lt_cfg_peek(augs->items[i], "params");
        if (strcmp(str_at(augs->items[i], "name"), "Mosaic4") ||
            (lt_cfg_peek(params, "out_width") && lt_cfg_peek(params, "out_height")))
            continue;
        /* As the reference does: out_width takes the height. */
        if (lt_cfg_set(params, "out_width", lt_cfg_clone(size->items[0])) ||
            lt_cfg_set(params, "out_height", lt_cfg_clone(size->items[1])))
            return -1;
        warn(c, "Mosaic4: out_width and out_height set from train_image_size");
        note(c, "trainer.preprocessing.augmentations[%d].params.out_width/out_height = %s/%s", i,
             size->items[0]->text, size->items[1]->text);
    }
    lt_cfg *loader = lt_cfg_peek(root, "loader");
    const lt_cfg *tv = lt_cfg_peek(loader, "train_view");
    if (same_views(tv, lt_cfg_peek(loader, "val_view")) && same_views(tv, lt_cfg_peek(loader, "test_view"))) {
        if (lt_cfg_is_null(lt_cfg_peek(trainer, "n_validation_batches"))) {
            warn(c, "train, validation and test views are the same: n_validation_batches set to 10");
            note(c, "trainer.n_validation_batches = 10 (smart_cfg_auto_populate)");
            if (set_text(trainer, "n_validation_batches", "10", false)) return -1;
        } else {
            warn(c, "train, validation and test views are the same: make sure this is intended");
        }
    }
    if (is_map(at_path(root, "model.predefined_model"))) {
        int64_t k = 64 / int_at(trainer, "batch_size", 32);
        if (k < 1) k = 1; /* int(64 / batch_size) is 0 beyond 64, which Lightning rejects */
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)k);
        note(c, "trainer.accumulate_grad_batches = %s (predefined model, 64 / batch_size)", text);
        if (set_text(trainer, "accumulate_grad_batches", text, false)) return -1;
    }
    lt_cfg *callbacks = lt_cfg_peek(trainer, "callbacks");
    static const char *const defaults[] = {"UploadCheckpoint", "TestOnTrainEnd", "ConvertOnTrainEnd"};
    const lt_schema_key *cb_schema = schema_at("trainer", "callbacks")->children;
    for (int i = 0; i < 3; i++) {
        if (has_callback(callbacks, defaults[i])) continue;
        lt_cfg *cb = lt_cfg_new(LT_CFG_MAP);
        if (!cb || set_text(cb, "name", defaults[i], false) || lt_schema_apply(cb_schema, cb, "", NULL, NULL) ||
            lt_cfg_append(callbacks, cb)) {
            if (cb && callbacks->items[callbacks->n - 1] != cb) lt_cfg_free(cb);
            return -1;
        }
        note(c, "trainer.callbacks += %s (smart_cfg_auto_populate)", defaults[i]);
    }
    return 0;
}

/* LoaderConfig.validate_params: dataset_type is stored lower-case. */
static int lower_dataset_type(lt_cfg *root)
{
    lt_cfg *t = at_path(root, "loader.params.dataset_type");
    if (!t) return 0;
    if (!text_of(t)) return lt_set_error("%s: loader.params.dataset_type: expected a string", lt_cfg_where(t));
    for (char *p = t->text; *p; p++) *p = (char)tolower((unsigned char)*p);
    return 0;
}

/* ==================================================== the typed view */

static bool str_list(lt_config *c, const lt_cfg *v, const char *const **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!v || lt_cfg_is_null(v)) return true;
    const int count = v->type == LT_CFG_LIST ? v->n : 1;
    const char **names = keep(c, (size_t)count * sizeof *names);
    if (!names) return false;
    for (int i = 0; i < count; i++) names[i] = v->type == LT_CFG_LIST ? text_of(v->items[i]) : text_of(v);
    *out = names;
    *n = count;
    return true;
}

static bool views(lt_config *c, const lt_cfg *v, lt_config_views *out) { return str_list(c, v, &out->names, &out->n); }

static bool modules(lt_config *c, const lt_cfg *list, const char *path, const lt_module_config **out, int *n)
{
    lt_module_config *m = keep(c, (size_t)list->n * sizeof *m);
    if (!m) return false;
    for (int j = 0; j < list->n; j++) {
        const lt_cfg *item = list->items[j];
        double w = 1.0;
        opt_float(item, "weight", &w);
        m[j] = (lt_module_config){
            .name = str_at(item, "name"),
            .alias = str_at(item, "alias"),
            .params = lt_cfg_peek(item, "params"),
            .weight = (float)w,
            .is_main_metric = bool_at(item, "is_main_metric", false),
            .where = keep_text(c, "%s: %s[%d]", lt_cfg_where(item), path, j),
        };
        if (!m[j].where) return false;
    }
    *out = m;
    *n = list->n;
    return true;
}

static void freezing(const lt_cfg *f, lt_config_freezing *out)
{
    out->active = bool_at(f, "active", false);
    out->has_unfreeze_after = opt_float(f, "unfreeze_after", &out->unfreeze_after);
    out->unfreeze_is_fraction = out->has_unfreeze_after && !lt_cfg_is_int(lt_cfg_peek(f, "unfreeze_after"));
    out->has_lr_after_unfreeze = opt_float(f, "lr_after_unfreeze", &out->lr_after_unfreeze);
}

static bool build_node(lt_config *c, const lt_cfg *nd, int i, lt_node_config *g, lt_config_node *info)
{
    char path[64];
    const lt_cfg *variant = lt_cfg_peek(nd, "variant");
    g->name = str_at(nd, "name");
    g->alias = str_at(nd, "alias");
    g->variant = lt_cfg_is_null(variant) ? "none" : variant->text; /* null means "no variant" */
    g->params = lt_cfg_peek(nd, "params");
    g->where = keep_text(c, "%s: model.nodes[%d]", lt_cfg_where(nd), i);
    if (!g->where || !str_list(c, lt_cfg_peek(nd, "inputs"), &g->inputs, &g->n_inputs)) return false;
    snprintf(path, sizeof path, "model.nodes[%d].losses", i);
    if (!modules(c, lt_cfg_peek(nd, "losses"), path, &g->losses, &g->n_losses)) return false;
    snprintf(path, sizeof path, "model.nodes[%d].metrics", i);
    if (!modules(c, lt_cfg_peek(nd, "metrics"), path, &g->metrics, &g->n_metrics)) return false;
    snprintf(path, sizeof path, "model.nodes[%d].visualizers", i);
    if (!modules(c, lt_cfg_peek(nd, "visualizers"), path, &g->visualizers, &g->n_visualizers)) return false;
    if (!str_list(c, lt_cfg_peek(nd, "input_sources"), &info->input_sources, &info->n_input_sources)) return false;
    info->task_name = str_at(nd, "task_name");
    const lt_cfg *mto = lt_cfg_peek(nd, "metadata_task_override");
    info->metadata_task_override = lt_cfg_is_null(mto) ? NULL : mto;
    info->remove_on_export = bool_at(nd, "remove_on_export", false);
    freezing(lt_cfg_peek(nd, "freezing"), &info->freezing);
    info->finetuning = lt_cfg_peek(nd, "finetuning");
    info->cfg = nd;
    return true;
}

static bool build_model(lt_config *c, const lt_cfg *model)
{
    lt_config_model *m = &c->model;
    m->name = str_at(model, "name");
    m->weights = str_at(model, "weights");
    const lt_cfg *pm = lt_cfg_peek(model, "predefined_model");
    if (is_map(pm)) {
        m->predefined = (lt_config_predefined){
            .name = str_at(pm, "name"),
            .variant = str_at(pm, "variant"),
            .params = lt_cfg_peek(pm, "params"),
            .include_losses = bool_at(pm, "include_losses", true),
            .include_metrics = bool_at(pm, "include_metrics", true),
            .include_visualizers = bool_at(pm, "include_visualizers", true),
        };
    }
    const lt_cfg *nodes = lt_cfg_peek(model, "nodes");
    m->n_nodes = nodes->n;
    m->nodes = keep(c, (size_t)nodes->n * sizeof *m->nodes);
    m->node_info = keep(c, (size_t)nodes->n * sizeof *m->node_info);
    if (!m->nodes || !m->node_info) return false;
    for (int i = 0; i < nodes->n; i++)
        if (!build_node(c, nodes->items[i], i, &m->nodes[i], &m->node_info[i])) return false;
    return str_list(c, lt_cfg_peek(model, "outputs"), &m->outputs, &m->n_outputs);
}

static lt_config_item item(const lt_cfg *v)
{
    if (!is_map(v)) return (lt_config_item){0};
    return (lt_config_item){.name = str_at(v, "name"), .params = lt_cfg_peek(v, "params")};
}

static bool build_preprocessing(lt_config *c, const lt_cfg *pre, lt_config_preprocessing *p)
{
    const lt_cfg *size = lt_cfg_peek(pre, "train_image_size");
    for (int i = 0; i < 2; i++) lt_cfg_as_int(size->items[i], "", &p->train_image_size[i]);
    p->keep_aspect_ratio = bool_at(pre, "keep_aspect_ratio", true);
    p->color_space = str_at(pre, "color_space");
    const lt_cfg *norm = lt_cfg_peek(pre, "normalize");
    p->normalize_active = bool_at(norm, "active", true);
    p->normalize_params = lt_cfg_peek(norm, "params");
    const lt_cfg *augs = lt_cfg_peek(pre, "augmentations");
    p->n_augmentations = augs->n;
    p->augmentations = keep(c, (size_t)augs->n * sizeof *p->augmentations);
    if (!p->augmentations) return false;
    for (int i = 0; i < augs->n; i++) {
        const lt_cfg *a = augs->items[i];
        lt_config_augmentation *o = &p->augmentations[i];
        o->name = str_at(a, "name");
        o->params = lt_cfg_peek(a, "params");
        o->active = bool_at(a, "active", true);
        o->use_for_resizing = bool_at(a, "use_for_resizing", false);
        o->where = keep_text(c, "%s: trainer.preprocessing.augmentations[%d]", lt_cfg_where(a), i);
        if (!o->where || !views(c, lt_cfg_peek(a, "apply_on_stages"), &o->apply_on_stages)) return false;
    }
    return true;
}

static bool build_trainer(lt_config *c, const lt_cfg *t)
{
    lt_config_trainer *o = &c->trainer;
    if (!build_preprocessing(c, lt_cfg_peek(t, "preprocessing"), &o->preprocessing)) return false;
    o->precision = str_at(t, "precision");
    o->accelerator = str_at(t, "accelerator");
    o->devices = str_at(t, "devices");
    o->strategy = str_at(t, "strategy");
    o->n_sanity_val_steps = int_at(t, "n_sanity_val_steps", 2);
    o->profiler = str_at(t, "profiler");
    o->matmul_precision = str_at(t, "matmul_precision");
    o->has_seed = opt_int(t, "seed", &o->seed);
    const lt_cfg *det = lt_cfg_peek(t, "deterministic");
    o->deterministic = lt_cfg_is_null(det) ? -1 : lt_cfg_is_bool(det) ? bool_at(t, "deterministic", false) : 2;
    o->smart_cfg_auto_populate = bool_at(t, "smart_cfg_auto_populate", true);
    o->batch_size = int_at(t, "batch_size", 32);
    o->has_accumulate_grad_batches = opt_int(t, "accumulate_grad_batches", &o->accumulate_grad_batches);
    o->has_gradient_clip_val = opt_float(t, "gradient_clip_val", &o->gradient_clip_val);
    o->gradient_clip_algorithm = str_at(t, "gradient_clip_algorithm");
    o->use_weighted_sampler = bool_at(t, "use_weighted_sampler", false);
    o->epochs = int_at(t, "epochs", 100);
    o->overfit_batches = int_at(t, "overfit_batches", 0);
    o->resume_training = bool_at(t, "resume_training", false);
    o->strict_weights_loading = bool_at(t, "strict_weights_loading", false);
    o->n_workers = int_at(t, "n_workers", 4);
    o->validation_interval = int_at(t, "validation_interval", 5);
    o->run_validation_after_first_epoch = bool_at(t, "run_validation_after_first_epoch", false);
    o->n_log_images = int_at(t, "n_log_images", 4);
    o->skip_last_batch = bool_at(t, "skip_last_batch", true);
    o->has_n_validation_batches = opt_int(t, "n_validation_batches", &o->n_validation_batches);
    o->pin_memory = bool_at(t, "pin_memory", true);
    o->log_sub_metrics = bool_at(t, "log_sub_metrics", true);
    o->log_sub_losses = bool_at(t, "log_sub_losses", true);
    o->save_top_k = int_at(t, "save_top_k", 3);
    o->optimizer = item(lt_cfg_peek(t, "optimizer"));
    o->scheduler = item(lt_cfg_peek(t, "scheduler"));
    o->training_strategy = item(lt_cfg_peek(t, "training_strategy"));
    const lt_cfg *cbs = lt_cfg_peek(t, "callbacks");
    o->n_callbacks = cbs->n;
    o->callbacks = keep(c, (size_t)cbs->n * sizeof *o->callbacks);
    if (!o->callbacks) return false;
    for (int i = 0; i < cbs->n; i++) {
        const lt_cfg *cb = cbs->items[i];
        o->callbacks[i] = (lt_config_callback){
            .name = str_at(cb, "name"),
            .active = bool_at(cb, "active", true),
            .params = lt_cfg_peek(cb, "params"),
            .where = keep_text(c, "%s: trainer.callbacks[%d]", lt_cfg_where(cb), i),
        };
        if (!o->callbacks[i].where) return false;
    }
    return true;
}

static bool build_view(lt_config *c)
{
    const lt_cfg *r = c->resolved;
    c->rich_logging = bool_at(r, "rich_logging", true);
    c->version = str_at(r, "version");
    const lt_cfg *l = lt_cfg_peek(r, "loader");
    c->loader.name = str_at(l, "name");
    c->loader.image_source = str_at(l, "image_source");
    c->loader.params = lt_cfg_peek(l, "params");
    if (!views(c, lt_cfg_peek(l, "train_view"), &c->loader.train_view) ||
        !views(c, lt_cfg_peek(l, "val_view"), &c->loader.val_view) ||
        !views(c, lt_cfg_peek(l, "test_view"), &c->loader.test_view))
        return false;
    const lt_cfg *tr = lt_cfg_peek(r, "tracker");
    c->tracker = (lt_config_tracker){
        .project_name = str_at(tr, "project_name"),
        .project_id = str_at(tr, "project_id"),
        .run_name = str_at(tr, "run_name"),
        .run_id = str_at(tr, "run_id"),
        .save_directory = str_at(tr, "save_directory"),
        .is_tensorboard = bool_at(tr, "is_tensorboard", true),
        .is_wandb = bool_at(tr, "is_wandb", false),
        .is_mlflow = bool_at(tr, "is_mlflow", false),
        .wandb_entity = str_at(tr, "wandb_entity"),
    };
    c->exporter = lt_cfg_peek(r, "exporter");
    c->archiver = lt_cfg_peek(r, "archiver");
    const lt_cfg *tuner = lt_cfg_peek(r, "tuner");
    c->tuner = is_map(tuner) ? tuner : NULL;
    return build_model(c, lt_cfg_peek(r, "model")) && build_trainer(c, lt_cfg_peek(r, "trainer"));
}

/* ======================================================== entry points */

static int resolve(lt_config *c, lt_cfg *root)
{
    upgrade(c, root);
    if (lt_cfg_peek(root, "ENVIRON"))
        warn(c, "ENVIRON in the config file is not recommended for security reasons: "
                "use environment variables instead (it is left out of the saved config)");
    const lt_cfg *trainer = lt_cfg_peek(root, "trainer");
    const bool user_deterministic = is_map(trainer) && lt_cfg_peek(trainer, "deterministic");
    if (linear_topology(c, root) || lt_schema_apply(lt_config_schema, root, "", note_default, c)) return -1;
    if (validate_trainer(c, root, user_deterministic) || expand_predefined(c, root) || validate_model(c, root) ||
        smart_auto_populate(c, root) || lower_dataset_type(root))
        return -1;
    return 0;
}

lt_config *lt_config_from_tree(lt_cfg *tree, const char *const *overrides, int n_overrides)
{
    if (!tree) return NULL;
    lt_config *c = calloc(1, sizeof *c);
    lt_override_labels labels = {0};
    if (!c) {
        lt_cfg_free(tree);
        lt_set_error("config: out of memory");
        return NULL;
    }
    /* An empty file is an empty config. */
    if (lt_cfg_is_null(tree) && tree->type != LT_CFG_MAP && tree->type != LT_CFG_LIST) {
        lt_cfg *empty = lt_cfg_new(LT_CFG_MAP);
        if (empty) { /* it takes the file name the root owns */
            empty->file = tree->file;
            empty->owned_file = tree->owned_file;
            tree->owned_file = NULL;
            lt_cfg_free(tree);
            tree = empty;
        }
    }
    int rc = tree ? 0 : -1;
    if (!rc && tree->type != LT_CFG_MAP)
        rc = lt_set_error("%s: expected a map of sections (model, loader, trainer, ...), got a %s", lt_cfg_where(tree),
                          lt_cfg_type_name(tree->type));
    if (!rc) rc = lt_config_apply_overrides(tree, overrides, n_overrides, &labels);
    if (!rc) rc = resolve(c, tree);
    /* The clone owns copies of every file name, overrides' included. */
    if (!rc && !(c->resolved = lt_cfg_clone(tree))) rc = -1;
    lt_cfg_free(tree);
    lt_config_free_labels(&labels);
    if (!rc && !build_view(c)) rc = -1;
    if (rc) {
        lt_config_free(c);
        return NULL;
    }
    return c;
}

lt_config *lt_config_parse(const char *text, const char *file_name, const char *const *overrides, int n_overrides)
{
    if (!text) {
        lt_set_error("lt_config_parse: text is NULL");
        return NULL;
    }
    return lt_config_from_tree(lt_cfg_parse_yaml(text, strlen(text), file_name), overrides, n_overrides);
}

lt_config *lt_config_load(const char *path, const char *const *overrides, int n_overrides)
{
    if (!path) {
        lt_set_error("lt_config_load: path is NULL");
        return NULL;
    }
    return lt_config_from_tree(lt_cfg_load_yaml(path), overrides, n_overrides);
}

/* Drops the keys the reference excludes from dumps. */
static void strip_no_dump(const lt_schema_key *table, lt_cfg *map)
{
    for (const lt_schema_key *k = table; k->key; k++) {
        lt_cfg *v = lt_cfg_peek(map, k->key);
        if (!v) continue;
        if (k->flags & LT_SK_NO_DUMP) {
            lt_cfg_remove(map, k->key);
        } else if (k->children && is_map(v)) {
            strip_no_dump(k->children, v);
        } else if (k->children && is_list(v)) {
            for (int i = 0; i < v->n; i++)
                if (is_map(v->items[i])) strip_no_dump(k->children, v->items[i]);
        }
    }
}

char *lt_config_to_yaml(const lt_config *c)
{
    if (!c || !c->resolved) {
        lt_set_error("lt_config_to_yaml: no config");
        return NULL;
    }
    lt_cfg *copy = lt_cfg_clone(c->resolved);
    if (!copy) return NULL;
    strip_no_dump(lt_config_schema, copy);
    char *text = lt_cfg_to_yaml(copy);
    lt_cfg_free(copy);
    return text;
}

int lt_config_save(const lt_config *c, const char *path)
{
    char *text = lt_config_to_yaml(c);
    if (!text) return -1;
    size_t size = strlen(path) + 8;
    char *tmp = malloc(size);
    int rc = -1;
    FILE *f = NULL;
    if (!tmp) {
        lt_set_error("lt_config_save: out of memory");
        goto out;
    }
    snprintf(tmp, size, "%s.tmp", path);
    if (!(f = fopen(tmp, "w"))) {
        lt_set_error("lt_config_save: cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path)) {
        lt_set_error("lt_config_save: cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(text);
    return rc;
}
