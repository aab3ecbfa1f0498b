/* The generic optimizer: creation by torch name from a params map, the
 * step loop shared by Adam, AdamW and RMSprop (SGD delegates to lt_sgd),
 * learning rate / momentum access for schedulers, and the state as named
 * tensors for checkpoints.
 *
 * Adam and RMSprop keep a step count per parameter (torch's state['step']);
 * their buffers use the store's flat layout, allocated at creation. A step
 * is one threaded loop over the packed block when every parameter takes
 * part and all have taken the same number of steps (the bias corrections
 * are then shared); otherwise it walks the parameters that require grad. */
#include "optim_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *lt__optim_flat_alloc(int64_t n)
{
    const size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* ---------------- params maps ---------------- */

static const char *ptype_name(lt__ptype t)
{
    switch (t) {
    case LT__P_FLOAT: return "a number";
    case LT__P_INT: return "an integer";
    case LT__P_BOOL: return "a boolean";
    case LT__P_STR: return "a string";
    case LT__P_PAIR: return "a list of 2 numbers";
    case LT__P_INTS: return "a list of integers";
    case LT__P_LIST: return "a list";
    }
    return "?";
}

static int param_type_error(const char *owner, const char *key, lt__ptype t, const lt_cfg *v)
{
    if (v->type == LT_CFG_SCALAR)
        return lt_set_error("%s: %s: parameter '%s' expects %s, got '%s'", lt_cfg_where(v), owner, key, ptype_name(t),
                            v->text);
    if (v->type == LT_CFG_LIST)
        return lt_set_error("%s: %s: parameter '%s' expects %s, got a list of %d entries", lt_cfg_where(v), owner, key,
                            ptype_name(t), v->n);
    return lt_set_error("%s: %s: parameter '%s' expects %s, got a %s", lt_cfg_where(v), owner, key, ptype_name(t),
                        lt_cfg_type_name(v->type));
}

static int read_one(const char *owner, const char *key, const lt__pspec *s, const lt_cfg *v)
{
    switch (s->type) {
    case LT__P_FLOAT:
        if (!lt_cfg_is_number(v)) return param_type_error(owner, key, s->type, v);
        return lt_cfg_as_float(v, key, s->dst);
    case LT__P_INT:
        if (!lt_cfg_is_int(v)) return param_type_error(owner, key, s->type, v);
        return lt_cfg_as_int(v, key, s->dst);
    case LT__P_BOOL:
        if (!lt_cfg_is_bool(v)) return param_type_error(owner, key, s->type, v);
        return lt_cfg_as_bool(v, key, s->dst);
    case LT__P_STR:
        if (v->type != LT_CFG_SCALAR) return param_type_error(owner, key, s->type, v);
        return lt_cfg_as_str(v, key, s->dst);
    case LT__P_PAIR: {
        if (v->type != LT_CFG_LIST || v->n != 2) return param_type_error(owner, key, s->type, v);
        for (int i = 0; i < 2; i++)
            if (!lt_cfg_is_number(v->items[i])) return param_type_error(owner, key, s->type, v->items[i]);
        double *d = s->dst;
        return lt_cfg_as_float(v->items[0], key, &d[0]) || lt_cfg_as_float(v->items[1], key, &d[1]) ? -1 : 0;
    }
    case LT__P_INTS: {
        lt__ints *out = s->dst;
        if (v->type != LT_CFG_LIST) return param_type_error(owner, key, s->type, v);
        if (v->n > LT__MAX_INTS)
            return lt_set_error("%s: %s: parameter '%s' has %d entries, at most %d are supported", lt_cfg_where(v),
                                owner, key, v->n, LT__MAX_INTS);
        for (int i = 0; i < v->n; i++) {
            if (!lt_cfg_is_int(v->items[i])) return param_type_error(owner, key, s->type, v->items[i]);
            if (lt_cfg_as_int(v->items[i], key, &out->v[i])) return -1;
        }
        out->n = v->n;
        return 0;
    }
    case LT__P_LIST:
        if (v->type != LT_CFG_LIST) return param_type_error(owner, key, s->type, v);
        *(const lt_cfg **)s->dst = v;
        return 0;
    }
    return -1;
}

int lt__read_params(const char *owner, const lt_cfg *params, const lt__pspec *spec, int n)
{
    if (!params || lt_cfg_is_null(params)) return 0;
    if (params->type != LT_CFG_MAP)
        return lt_set_error("%s: %s: params must be a map, got %s", lt_cfg_where(params), owner,
                            lt_cfg_type_name(params->type));
    for (int k = 0; k < params->n; k++) {
        const char *key = params->keys[k];
        const lt__pspec *s = NULL;
        for (int i = 0; i < n && !s; i++)
            if (strcmp(spec[i].key, key) == 0) s = &spec[i];
        if (!s) {
            char accepted[512] = "";
            size_t len = 0;
            for (int i = 0; i < n && len < sizeof accepted; i++)
                len += (size_t)snprintf(accepted + len, sizeof accepted - len, "%s%s", i ? ", " : "", spec[i].key);
            return lt_set_error("%s: %s: unknown parameter '%s' (accepted: %s)", lt_cfg_where(params->items[k]),
                                owner, key, accepted);
        }
        const lt_cfg *v = lt_cfg_get(params, key); /* marks it used */
        if (lt_cfg_is_null(v)) continue;           /* null: torch's None, the default */
        if (read_one(owner, key, s, v)) return -1;
        if (s->seen) *s->seen = true;
    }
    return 0;
}

/* ---------------- creation ---------------- */

static int parse_sgd(lt_optimizer *o, const lt_cfg *params)
{
    bool has_lr = false, maximize = false, ignored;
    const lt__pspec spec[] = {
        {"lr", LT__P_FLOAT, &o->groups[0].lr, &has_lr}, {"momentum", LT__P_FLOAT, &o->momentum, NULL},
        {"dampening", LT__P_FLOAT, &o->dampening, NULL}, {"weight_decay", LT__P_FLOAT, &o->weight_decay, NULL},
        {"nesterov", LT__P_BOOL, &o->nesterov, NULL}, {"maximize", LT__P_BOOL, &maximize, NULL},
        {"foreach", LT__P_BOOL, &ignored, NULL}, {"differentiable", LT__P_BOOL, &ignored, NULL},
    };
    if (lt__read_params("SGD", params, spec, (int)(sizeof spec / sizeof *spec))) return -1;
    if (!has_lr) return lt_set_error("SGD: parameter 'lr' is required (torch.optim.SGD has no default lr)");
    if (maximize) return lt_set_error("SGD: maximize=true is not supported");
    if (!(o->groups[0].lr >= 0.0)) return lt_set_error("SGD: invalid learning rate: %g", o->groups[0].lr);
    if (!(o->momentum >= 0.0)) return lt_set_error("SGD: invalid momentum value: %g", o->momentum);
    if (!(o->weight_decay >= 0.0)) return lt_set_error("SGD: invalid weight_decay value: %g", o->weight_decay);
    if (o->nesterov && (o->momentum <= 0.0 || o->dampening != 0.0))
        return lt_set_error("SGD: nesterov momentum requires a momentum and zero dampening (momentum %g, dampening %g)",
                            o->momentum, o->dampening);
    return 0;
}

static int parse_adam(lt_optimizer *o, const lt_cfg *params)
{
    double betas[2] = {0.9, 0.999};
    bool ignored;
    o->groups[0].lr = 1e-3;
    o->eps = 1e-8;
    o->weight_decay = o->kind == LT__ADAMW ? 1e-2 : 0.0;
    const lt__pspec spec[] = {
        {"lr", LT__P_FLOAT, &o->groups[0].lr, NULL}, {"betas", LT__P_PAIR, betas, NULL}, {"eps", LT__P_FLOAT, &o->eps, NULL},
        {"weight_decay", LT__P_FLOAT, &o->weight_decay, NULL}, {"amsgrad", LT__P_BOOL, &o->amsgrad, NULL},
        {"maximize", LT__P_BOOL, &o->maximize, NULL}, {"foreach", LT__P_BOOL, &ignored, NULL},
        {"capturable", LT__P_BOOL, &ignored, NULL}, {"differentiable", LT__P_BOOL, &ignored, NULL},
        {"fused", LT__P_BOOL, &ignored, NULL},
    };
    if (lt__read_params(o->name, params, spec, (int)(sizeof spec / sizeof *spec))) return -1;
    o->momentum = betas[0];
    o->beta2 = betas[1];
    if (!(o->groups[0].lr >= 0.0)) return lt_set_error("%s: invalid learning rate: %g", o->name, o->groups[0].lr);
    if (!(o->eps >= 0.0)) return lt_set_error("%s: invalid epsilon value: %g", o->name, o->eps);
    for (int i = 0; i < 2; i++)
        if (!(betas[i] >= 0.0 && betas[i] < 1.0))
            return lt_set_error("%s: invalid beta parameter at index %d: %g", o->name, i, betas[i]);
    if (!(o->weight_decay >= 0.0)) return lt_set_error("%s: invalid weight_decay value: %g", o->name, o->weight_decay);
    return 0;
}

static int parse_rmsprop(lt_optimizer *o, const lt_cfg *params)
{
    bool ignored;
    o->groups[0].lr = 1e-2;
    o->alpha = 0.99;
    o->eps = 1e-8;
    const lt__pspec spec[] = {
        {"lr", LT__P_FLOAT, &o->groups[0].lr, NULL}, {"alpha", LT__P_FLOAT, &o->alpha, NULL},
        {"eps", LT__P_FLOAT, &o->eps, NULL}, {"weight_decay", LT__P_FLOAT, &o->weight_decay, NULL},
        {"momentum", LT__P_FLOAT, &o->momentum, NULL}, {"centered", LT__P_BOOL, &o->centered, NULL},
        {"maximize", LT__P_BOOL, &o->maximize, NULL}, {"foreach", LT__P_BOOL, &ignored, NULL},
        {"differentiable", LT__P_BOOL, &ignored, NULL},
    };
    if (lt__read_params("RMSprop", params, spec, (int)(sizeof spec / sizeof *spec))) return -1;
    if (!(o->groups[0].lr >= 0.0)) return lt_set_error("RMSprop: invalid learning rate: %g", o->groups[0].lr);
    if (!(o->eps >= 0.0)) return lt_set_error("RMSprop: invalid epsilon value: %g", o->eps);
    if (!(o->momentum >= 0.0)) return lt_set_error("RMSprop: invalid momentum value: %g", o->momentum);
    if (!(o->weight_decay >= 0.0)) return lt_set_error("RMSprop: invalid weight_decay value: %g", o->weight_decay);
    if (!(o->alpha >= 0.0)) return lt_set_error("RMSprop: invalid alpha value: %g", o->alpha);
    return 0;
}

/* Names the slots the configuration uses and allocates them (RMSprop's
 * momentum buffer only with a momentum: a scheduler may add it later). */
static int setup_slots(lt_optimizer *o)
{
    switch (o->kind) {
    case LT__SGD: {
        const lt_sgd_options so = {.lr = (float)o->groups[0].lr, .momentum = (float)o->momentum,
                                   .dampening = (float)o->dampening, .weight_decay = (float)o->weight_decay,
                                   .nesterov = o->nesterov};
        o->sgd = lt_sgd_new(o->params, &so);
        if (o->sgd) lt__sgd_set_dampening(o->sgd, o->dampening);
        return o->sgd ? 0 : -1;
    }
    case LT__ADAM:
    case LT__ADAMW:
        o->slot_names[o->n_slots++] = "exp_avg";
        o->slot_names[o->n_slots++] = "exp_avg_sq";
        if (o->amsgrad) o->slot_names[o->n_slots++] = "max_exp_avg_sq";
        break;
    case LT__RMSPROP:
        o->slot_names[o->n_slots++] = "square_avg";
        o->slot_names[o->n_slots++] = "momentum_buffer";
        o->slot_names[o->n_slots++] = "grad_avg";
        break;
    }
    for (int s = 0; s < o->n_slots; s++) {
        if (o->kind == LT__RMSPROP && ((s == 1 && o->momentum <= 0.0) || (s == 2 && !o->centered))) continue;
        o->slots[s] = lt__optim_flat_alloc(o->flat_size);
        if (!o->slots[s])
            return lt_set_error("%s: out of memory for the state of %lld parameter floats", o->name,
                                (long long)o->flat_size);
    }
    return 0;
}

lt_optimizer *lt_optimizer_new(const char *name, lt_params *p, const lt_cfg *params)
{
    static const struct {
        const char *name;
        lt__optim_kind kind;
    } kinds[] = {{"SGD", LT__SGD}, {"Adam", LT__ADAM}, {"AdamW", LT__ADAMW}, {"RMSprop", LT__RMSPROP}};
    if (!name || !p) return lt_set_error("optimizer: a name and a parameter store are required"), NULL;
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(kinds[i].name, name) == 0) k = i;
    if (k < 0)
        return lt_set_error("optimizer: unknown optimizer '%s' (available: SGD, Adam, AdamW, RMSprop)", name), NULL;
    lt_optimizer *o = calloc(1, sizeof *o);
    if (!o) return lt_set_error("%s: out of memory", name), NULL;
    o->kind = kinds[k].kind;
    o->name = kinds[k].name;
    o->params = p;
    o->n_tensors = lt_params_count(p);
    o->flat_size = lt__params_flat_size(p);
    o->n_groups = 1;
    o->steps = calloc(o->n_tensors + 1, sizeof *o->steps);
    o->group_of = calloc(o->n_tensors + 1, sizeof *o->group_of);
    o->tensor_lr = calloc(o->n_tensors + 1, sizeof *o->tensor_lr);
    int rc = !o->steps || !o->group_of || !o->tensor_lr ? lt_set_error("%s: out of memory", name)
             : o->kind == LT__SGD ? parse_sgd(o, params)
             : o->kind == LT__RMSPROP ? parse_rmsprop(o, params)
                                     : parse_adam(o, params);
    if (rc || setup_slots(o)) {
        lt_optimizer_free(o);
        return NULL;
    }
    return o;
}

void lt_optimizer_free(lt_optimizer *opt)
{
    if (!opt) return;
    for (int s = 0; s < LT__MAX_SLOTS; s++) free(opt->slots[s]);
    lt_sgd_free(opt->sgd);
    free(opt->steps);
    free(opt->group_of);
    free(opt->tensor_lr);
    free(opt);
}

const char *lt_optimizer_name(const lt_optimizer *opt) { return opt ? opt->name : NULL; }

void lt_optimizer_zero_grad(lt_optimizer *opt)
{
    LT__PROFILE_KIND(LT_PROFILE_OPTIMIZER);
    if (opt) lt_params_zero_grad(opt->params);
}

/* ---------------- hyperparameters ---------------- */

double lt_optimizer_get_lr(const lt_optimizer *opt) { return lt_optimizer_group_lr(opt, 0); }
int lt_optimizer_set_lr(lt_optimizer *opt, double lr) { return lt_optimizer_set_group_lr(opt, 0, lr); }

/* ---------------- param groups ---------------- */

int lt_optimizer_add_group(lt_optimizer *opt, const char *prefix, double lr)
{
    if (!opt || !prefix || !*prefix) return lt_set_error("optimizer: add_group needs an optimizer and a name prefix");
    if (opt->has_scheduler)
        return lt_set_error("%s: add_group('%s'): groups are made before a scheduler is attached", opt->name, prefix);
    if (opt->n_groups == LT__MAX_GROUPS)
        return lt_set_error("%s: add_group('%s'): at most %d param groups", opt->name, prefix, LT__MAX_GROUPS);
    if (!(lr >= 0.0) || isinf(lr)) return lt_set_error("%s: add_group('%s'): invalid learning rate: %g", opt->name, prefix, lr);
    const size_t len = strlen(prefix);
    const int g = opt->n_groups;
    int n = 0;
    for (size_t i = 0; i < opt->n_tensors; i++) {
        const lt_tensor *t = lt_params_at(opt->params, i);
        if (!(t->flags & LT_PARAMETER) || strncmp(t->name, prefix, len)) continue;
        opt->group_of[i] = g;
        n++;
    }
    if (n == 0) return lt_set_error("%s: add_group: no parameter name starts with '%s'", opt->name, prefix);
    opt->groups[g] = (lt__group){.lr = lr};
    opt->n_groups++;
    return g;
}

int lt_optimizer_n_groups(const lt_optimizer *opt) { return opt ? opt->n_groups : 0; }

double lt_optimizer_group_lr(const lt_optimizer *opt, int group)
{
    return opt && group >= 0 && group < opt->n_groups ? opt->groups[group].lr : 0.0;
}

int lt_optimizer_set_group_lr(lt_optimizer *opt, int group, double lr)
{
    if (!opt) return lt_set_error("optimizer: NULL optimizer");
    if (group < 0 || group >= opt->n_groups)
        return lt_set_error("%s: no param group %d (it has %d)", opt->name, group, opt->n_groups);
    if (!(lr >= 0.0) || isinf(lr)) return lt_set_error("%s: invalid learning rate: %g", opt->name, lr);
    opt->groups[group].lr = lr;
    return 0;
}

bool lt_optimizer_has_momentum(const lt_optimizer *opt) { return opt != NULL; }
double lt_optimizer_get_momentum(const lt_optimizer *opt) { return opt ? opt->momentum : 0.0; }

int lt_optimizer_set_momentum(lt_optimizer *opt, double momentum)
{
    if (!opt) return lt_set_error("optimizer: NULL optimizer");
    if (!(momentum >= 0.0) || isinf(momentum)) return lt_set_error("%s: invalid momentum value: %g", opt->name, momentum);
    opt->momentum = momentum;
    return 0;
}

/* ---------------- step ---------------- */

static bool is_param(const lt_tensor *t) { return (t->flags & LT_PARAMETER) != 0; }

/* The flat loop applies when the store is packed, nothing is frozen and
 * every parameter has taken the same number of steps. */
static bool flat_ok(const lt_optimizer *o, float **data, float **grad, int64_t *steps)
{
    /* eps 0 would turn the zero gaps of the layout into 0/0 */
    if (o->n_groups > 1 || !(o->eps > 0.0) || !lt__params_blocks(o->params, data, grad)) return false;
    int64_t common = -1;
    for (size_t i = 0; i < o->n_tensors; i++) {
        const lt_tensor *t = lt_params_at(o->params, i);
        if (!is_param(t)) continue;
        if (!lt_requires_grad(t) || (common >= 0 && o->steps[i] != common)) return false;
        common = o->steps[i];
    }
    *steps = common < 0 ? 0 : common;
    return true;
}

/* Update of n elements at flat offset off, after `step` steps. */
static void update_range(lt_optimizer *o, double lr, int64_t step, float *param, const float *grad, int64_t off,
                         int64_t n)
{
    if (o->kind == LT__RMSPROP) {
        float *buf = o->momentum > 0.0 ? o->slots[1] + off : NULL;
        lt__rmsprop_update(o, lr, param, grad, o->slots[0] + off, buf, o->centered ? o->slots[2] + off : NULL, n);
        return;
    }
    lt__adam_scalars s;
    lt__adam_scalars_of(o, lr, step, &s);
    lt__adam_update(&s, param, grad, o->slots[0] + off, o->slots[1] + off, o->amsgrad ? o->slots[2] + off : NULL, n);
}

static int sgd_step(lt_optimizer *o)
{
    lt_sgd_options *so = lt__sgd_options(o->sgd);
    so->lr = (float)o->groups[0].lr;
    so->momentum = (float)o->momentum;
    bool *started = lt__sgd_started(o->sgd);
    int rc;
    if (o->n_groups > 1) {
        for (size_t i = 0; i < o->n_tensors; i++) o->tensor_lr[i] = (float)o->groups[o->group_of[i]].lr;
        rc = lt__sgd_step_lrs(o->sgd, o->tensor_lr);
    } else {
        rc = lt_sgd_step(o->sgd);
    }
    for (size_t i = 0; i < o->n_tensors && rc == 0; i++) o->steps[i] = started[i];
    return rc;
}

int lt_optimizer_step(lt_optimizer *opt)
{
    LT__PROFILE_KIND(LT_PROFILE_OPTIMIZER);
    if (!opt) return lt_set_error("optimizer: NULL optimizer");
    if (opt->kind == LT__SGD) return sgd_step(opt);
    lt_params *p = opt->params;
    if (lt_params_count(p) != opt->n_tensors)
        return lt__fail(opt->name,
                        "the parameter store changed after the optimizer was created (%zu tensors then, %zu now)",
                        opt->n_tensors, lt_params_count(p));
    if (opt->kind == LT__RMSPROP && opt->momentum > 0.0 && !opt->slots[1]) {
        opt->slots[1] = lt__optim_flat_alloc(opt->flat_size);
        if (!opt->slots[1]) return lt__fail(opt->name, "out of memory for the momentum buffer");
    }
    float *data, *grad;
    int64_t steps;
    if (flat_ok(opt, &data, &grad, &steps)) {
        /* Gaps of the flat layout are zero everywhere and stay zero (Adam:
         * m = v = 0 gives 0 / eps; RMSprop: 0 / eps). */
        update_range(opt, opt->groups[0].lr, steps + 1, data, grad, 0, opt->flat_size);
        for (size_t i = 0; i < opt->n_tensors; i++) {
            lt_tensor *t = lt_params_at(p, i);
            if (!is_param(t)) continue;
            opt->steps[i]++;
            t->version++;
        }
        return 0;
    }
    for (size_t i = 0; i < opt->n_tensors; i++) {
        lt_tensor *t = lt_params_at(p, i);
        if (!is_param(t) || !lt_requires_grad(t) || !t->grad) continue;
        opt->steps[i]++;
        update_range(opt, opt->groups[opt->group_of[i]].lr, opt->steps[i], lt_f32(t), t->grad, lt__params_offset(p, i), t->numel);
        t->version++;
    }
    return 0;
}

/* ---------------- state ---------------- */

void lt_named_tensors_free(lt_named_tensors *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        lt_tensor_free(l->items[i].tensor);
    }
    free(l->items);
    free(l);
}

/* The slots parameter i has in the state: SGD's momentum_buffer when it
 * has a buffer; RMSprop's optional buffers when the option is on. Slot -1
 * is "step" (not for SGD). */
static bool slot_active(const lt_optimizer *o, int s)
{
    if (o->kind == LT__SGD) return s == 0 && lt__sgd_buffer(o->sgd, false) != NULL;
    if (s < 0) return true;
    if (o->kind == LT__RMSPROP) return s == 0 || (s == 1 && o->momentum > 0.0) || (s == 2 && o->centered);
    return s < o->n_slots;
}

static const char *slot_name(const lt_optimizer *o, int s)
{
    if (s < 0) return "step";
    return o->kind == LT__SGD ? "momentum_buffer" : o->slot_names[s];
}

/* The flat buffer of slot s; NULL for the step counter (s < 0). */
static float *slot_data(const lt_optimizer *o, int s)
{
    if (s < 0) return NULL;
    return o->kind == LT__SGD ? lt__sgd_buffer(o->sgd, false) : o->slots[s];
}

static char *state_name(const lt_tensor *t, const char *slot)
{
    const size_t len = strlen(t->name) + strlen(slot) + 8;
    char *s = malloc(len);
    if (s) snprintf(s, len, "state.%s.%s", t->name, slot);
    return s;
}

static int push(lt_named_tensors *l, size_t *cap, char *name, lt_tensor *t)
{
    if (!name || !t) {
        free(name);
        lt_tensor_free(t);
        return -1;
    }
    if (l->n == *cap) {
        const size_t nc = *cap ? *cap * 2 : 16;
        lt_named_tensor *items = realloc(l->items, nc * sizeof *items);
        if (!items) {
            free(name);
            lt_tensor_free(t);
            return -1;
        }
        l->items = items;
        *cap = nc;
    }
    l->items[l->n++] = (lt_named_tensor){name, t};
    return 0;
}

lt_named_tensors *lt_optimizer_state(const lt_optimizer *opt)
{
    if (!opt) return lt_set_error("optimizer: NULL optimizer"), NULL;
    lt_named_tensors *l = calloc(1, sizeof *l);
    size_t cap = 0;
    if (!l) return lt_set_error("%s: out of memory", opt->name), NULL;
    const int first = opt->kind == LT__SGD ? 0 : -1;
    for (size_t i = 0; i < opt->n_tensors; i++) {
        const lt_tensor *t = lt_params_at(opt->params, i);
        if (!is_param(t) || opt->steps[i] == 0) continue;
        for (int s = first; s < LT__MAX_SLOTS; s++) {
            if (!slot_active(opt, s)) continue;
            lt_tensor *v;
            if (s < 0) {
                v = lt_tensor_new(LT_I64, 0, NULL);
                if (v) *(int64_t *)v->data = opt->steps[i];
            } else {
                v = lt_tensor_new(LT_F32, t->ndim, t->shape);
                if (v) memcpy(v->data, slot_data(opt, s) + lt__params_offset(opt->params, i),
                              sizeof(float) * (size_t)t->numel);
            }
            if (push(l, &cap, state_name(t, slot_name(opt, s)), v)) {
                lt_named_tensors_free(l);
                return lt_set_error("%s: out of memory for the state", opt->name), NULL;
            }
        }
    }
    return l;
}

/* Index of the state entry of parameter t / slot s, or -1. */
static int find_entry(const lt_named_tensors *l, const lt_tensor *t, const char *slot)
{
    const size_t nlen = strlen(t->name);
    for (size_t k = 0; k < l->n; k++) {
        const char *n = l->items[k].name;
        if (n && strncmp(n, "state.", 6) == 0 && strncmp(n + 6, t->name, nlen) == 0 && n[6 + nlen] == '.' &&
            strcmp(n + 7 + nlen, slot) == 0)
            return (int)k;
    }
    return -1;
}

/* Checks one entry against the parameter it belongs to. */
static int check_entry(const lt_optimizer *o, const lt_named_tensor *e, const lt_tensor *t, int s)
{
    const lt_tensor *v = e->tensor;
    if (!v) return lt_set_error("%s: load_state: entry '%s' has no tensor", o->name, e->name);
    if (s < 0) {
        if (v->dtype != LT_I64 || v->numel != 1)
            return lt_set_error("%s: load_state: '%s' must be a one-element int64 tensor, got %s %s", o->name, e->name,
                                lt_dtype_name(v->dtype), lt__shp(v));
        if (*(const int64_t *)v->data < 1)
            return lt_set_error("%s: load_state: '%s' is %lld, a step count must be >= 1", o->name, e->name,
                                (long long)*(const int64_t *)v->data);
        return 0;
    }
    if (v->dtype != LT_F32 || !lt_same_shape(v, t))
        return lt_set_error("%s: load_state: '%s' is %s %s but parameter '%s' is float32 %s", o->name, e->name,
                            lt_dtype_name(v->dtype), lt__shp(v), t->name, lt__shp(t));
    return 0;
}

/* Validates the whole list: every entry is claimed by exactly one
 * (parameter, slot), and a parameter has all its slots or none. */
static int validate_state(lt_optimizer *o, const lt_named_tensors *l, char *claimed)
{
    const int first = o->kind == LT__SGD ? 0 : -1;
    for (size_t i = 0; i < o->n_tensors; i++) {
        const lt_tensor *t = lt_params_at(o->params, i);
        if (!is_param(t)) continue;
        int present = 0, expected = 0;
        const char *missing = NULL;
        for (int s = first; s < LT__MAX_SLOTS; s++) {
            if (!slot_active(o, s) && !(o->kind == LT__SGD && s == 0 && o->momentum != 0.0)) continue;
            expected++;
            const int k = find_entry(l, t, slot_name(o, s));
            if (k < 0) {
                missing = slot_name(o, s);
                continue;
            }
            if (check_entry(o, &l->items[k], t, s)) return -1;
            claimed[k] = 1;
            present++;
        }
        if (present && present != expected)
            return lt_set_error("%s: load_state: parameter '%s' has a partial state: 'state.%s.%s' is missing", o->name,
                                t->name, t->name, missing);
    }
    for (size_t k = 0; k < l->n; k++)
        if (!claimed[k])
            return lt_set_error("%s: load_state: unexpected entry '%s' (no such parameter or state of this %s)",
                                o->name, l->items[k].name ? l->items[k].name : "(null)", o->name);
    return 0;
}

int lt_optimizer_load_state(lt_optimizer *opt, const lt_named_tensors *state)
{
    if (!opt || !state) return lt_set_error("optimizer: load_state needs an optimizer and a state");
    if (lt_params_count(opt->params) != opt->n_tensors)
        return lt_set_error("%s: load_state: the parameter store changed after the optimizer was created", opt->name);
    char *claimed = calloc(state->n + 1, 1);
    if (!claimed) return lt_set_error("%s: out of memory", opt->name);
    int rc = validate_state(opt, state, claimed);
    free(claimed);
    if (rc) return -1;
    /* Buffers that the state needs but were never allocated (SGD and
     * RMSprop momentum turned on after creation). */
    if (opt->kind == LT__SGD && opt->momentum != 0.0 && !lt__sgd_buffer(opt->sgd, true))
        return lt_set_error("%s: out of memory", opt->name);
    if (opt->kind == LT__RMSPROP && opt->momentum > 0.0 && !opt->slots[1] &&
        !(opt->slots[1] = lt__optim_flat_alloc(opt->flat_size)))
        return lt_set_error("%s: out of memory", opt->name);
    bool *started = opt->kind == LT__SGD ? lt__sgd_started(opt->sgd) : NULL;
    const int first = opt->kind == LT__SGD ? 0 : -1;
    for (size_t i = 0; i < opt->n_tensors; i++) {
        const lt_tensor *t = lt_params_at(opt->params, i);
        if (!is_param(t)) continue;
        const int64_t off = lt__params_offset(opt->params, i);
        opt->steps[i] = 0;
        if (started) started[i] = false;
        for (int s = first; s < LT__MAX_SLOTS; s++) {
            if (!slot_active(opt, s)) continue;
            float *dst = slot_data(opt, s);
            const int k = find_entry(state, t, slot_name(opt, s));
            if (s < 0) {
                opt->steps[i] = k < 0 ? 0 : *(const int64_t *)state->items[k].tensor->data;
            } else if (k < 0) {
                memset(dst + off, 0, sizeof(float) * (size_t)t->numel);
            } else {
                memcpy(dst + off, state->items[k].tensor->data, sizeof(float) * (size_t)t->numel);
                if (started) started[i] = true, opt->steps[i] = 1;
            }
        }
    }
    return 0;
}
