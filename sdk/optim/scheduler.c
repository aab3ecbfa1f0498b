/* Learning-rate schedulers, torch.optim.lr_scheduler 1.13 line by line:
 * _LRScheduler's initial step and step(), each scheduler's chainable
 * get_lr() (and _get_closed_form_lr() where SequentialLR calls step(0)),
 * SequentialLR's construction replay, OneCycleLR's phases and momentum
 * cycling, and ReduceLROnPlateau. Python float expressions are kept in
 * their evaluation order so that the rates are the same doubles. */
#include "optim_private.h"

#include <ltrain/sched.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind { CONSTANT, STEP, MULTISTEP, LINEAR, EXPONENTIAL, COSINE, SEQUENTIAL, ONECYCLE, PLATEAU } kind;

static const char *const kind_names[] = {"ConstantLR",        "StepLR",       "MultiStepLR",
                                         "LinearLR",          "ExponentialLR", "CosineAnnealingLR",
                                         "SequentialLR",      "OneCycleLR",    "ReduceLROnPlateau"};
enum { N_KINDS = 9, MAX_PHASES = 3 };

/* OneCycleLR phase endpoints name group values, as torch's strings do. */
typedef enum group_value { INITIAL_LR, MAX_LR, MIN_LR, MAX_MOMENTUM, BASE_MOMENTUM } group_value;

typedef struct phase {
    double end_step;
    group_value start_lr, end_lr, start_momentum, end_momentum;
} phase;

struct lt_scheduler {
    kind kind;
    lt_optimizer *opt;
    int64_t last_epoch, step_count;
    /* per param group of opt (torch's base_lrs, _last_lr); g is the group
     * get_lr and closed_form_lr compute for */
    double base_lr[LT__MAX_GROUPS], last_lr[LT__MAX_GROUPS];
    int g;
    /* hyperparameters */
    double factor, gamma, start_factor, end_factor, eta_min;
    int64_t total_iters, step_size, t_max;
    lt__ints milestones; /* MultiStepLR (as given), SequentialLR */
    /* SequentialLR */
    lt_scheduler **children;
    int n_children;
    /* OneCycleLR */
    int64_t total_steps;
    double max_lr, min_lr, base_momentum, max_momentum;
    bool cycle_momentum, linear;
    phase phases[MAX_PHASES];
    int n_phases;
    /* ReduceLROnPlateau */
    bool mode_max, threshold_abs;
    double threshold, plateau_min_lr, eps, best;
    int64_t patience, cooldown, cooldown_counter, num_bad_epochs;
};

/* ---------------- get_lr ---------------- */

static int64_t count_in(const lt__ints *m, int64_t v)
{
    int64_t n = 0;
    for (int i = 0; i < m->n; i++) n += m->v[i] == v;
    return n;
}

/* bisect_right over the sorted multiset = number of entries <= v. */
static int64_t count_le(const lt__ints *m, int64_t v)
{
    int64_t n = 0;
    for (int i = 0; i < m->n; i++) n += m->v[i] <= v;
    return n;
}

/* Python's bisect.bisect_right, as SequentialLR calls it on the milestones
 * as given (the binary search is what decides for an unsorted list). */
static int64_t bisect_right(const lt__ints *m, int64_t x)
{
    int lo = 0, hi = m->n;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (x < m->v[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static double group_value_of(const lt_scheduler *s, group_value v)
{
    switch (v) {
    case INITIAL_LR: return s->opt->groups[s->g].initial_lr;
    case MAX_LR: return s->max_lr;
    case MIN_LR: return s->min_lr;
    case MAX_MOMENTUM: return s->max_momentum;
    case BASE_MOMENTUM: return s->base_momentum;
    }
    return 0.0;
}

static double anneal(const lt_scheduler *s, double start, double end, double pct)
{
    if (s->linear) return (end - start) * pct + start;
    const double cos_out = cos(M_PI * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
}

static int onecycle_lr(lt_scheduler *s, double *out)
{
    const int64_t step_num = s->last_epoch;
    if (step_num > s->total_steps)
        return lt_set_error("OneCycleLR: tried to step %lld times; the specified number of total steps is %lld",
                            (long long)(step_num + 1), (long long)s->total_steps);
    double start_step = 0.0;
    for (int i = 0; i < s->n_phases; i++) {
        const phase *p = &s->phases[i];
        if ((double)step_num <= p->end_step || i == s->n_phases - 1) {
            const double pct = ((double)step_num - start_step) / (p->end_step - start_step);
            *out = anneal(s, group_value_of(s, p->start_lr), group_value_of(s, p->end_lr), pct);
            if (s->cycle_momentum)
                s->opt->momentum =
                    anneal(s, group_value_of(s, p->start_momentum), group_value_of(s, p->end_momentum), pct);
            return 0;
        }
        start_step = p->end_step;
    }
    return 0;
}

/* Chainable form: from group g's current lr. */
static int get_lr(lt_scheduler *s, double *out)
{
    const double lr = s->opt->groups[s->g].lr;
    const int64_t e = s->last_epoch;
    switch (s->kind) {
    case CONSTANT:
        if (e == 0) *out = lr * s->factor;
        else if (e > s->total_iters || e != s->total_iters) *out = lr;
        else if (s->factor == 0.0) return lt_set_error("ConstantLR: factor 0 divides by zero at total_iters");
        else *out = lr * (1.0 / s->factor);
        return 0;
    case STEP:
        *out = e == 0 || e % s->step_size != 0 ? lr : lr * s->gamma;
        return 0;
    case MULTISTEP: {
        const int64_t k = count_in(&s->milestones, e);
        *out = k == 0 ? lr : lr * pow(s->gamma, (double)k);
        return 0;
    }
    case LINEAR: {
        if (e == 0) *out = lr * s->start_factor;
        else if (e > s->total_iters) *out = lr;
        else {
            const double den = (double)s->total_iters * s->start_factor + (double)(e - 1) * (s->end_factor - s->start_factor);
            if (den == 0.0) return lt_set_error("LinearLR: division by zero at step %lld (start_factor %g)",
                                                (long long)e, s->start_factor);
            *out = lr * (1. + (s->end_factor - s->start_factor) / den);
        }
        return 0;
    }
    case EXPONENTIAL:
        *out = e == 0 ? lr : lr * s->gamma;
        return 0;
    case COSINE: {
        const double t = (double)s->t_max;
        if (e == 0) *out = lr;
        else if ((e - 1 - s->t_max) % (2 * s->t_max) == 0)
            *out = lr + (s->base_lr[s->g] - s->eta_min) * (1 - cos(M_PI / t)) / 2;
        else
            *out = (1 + cos(M_PI * (double)e / t)) / (1 + cos(M_PI * (double)(e - 1) / t)) * (lr - s->eta_min) +
                   s->eta_min;
        return 0;
    }
    case ONECYCLE: return onecycle_lr(s, out);
    case SEQUENTIAL:
    case PLATEAU: break;
    }
    return lt_set_error("%s: no get_lr", kind_names[s->kind]);
}

/* _get_closed_form_lr (used by step(epoch)): 1 computed, 0 when torch has
 * none, -1 on an error. */
static int closed_form_lr(const lt_scheduler *s, double *out)
{
    const double b = s->base_lr[s->g];
    const int64_t e = s->last_epoch;
    switch (s->kind) {
    case CONSTANT: *out = b * (s->factor + (double)(e >= s->total_iters) * (1 - s->factor)); return 1;
    case STEP: {
        /* Python's floor division (e >= 0 here) */
        *out = b * pow(s->gamma, (double)(e / s->step_size));
        return 1;
    }
    case MULTISTEP: *out = b * pow(s->gamma, (double)count_le(&s->milestones, e)); return 1;
    case LINEAR:
        if (s->total_iters == 0) return lt_set_error("LinearLR: closed form divides by total_iters 0");
        *out = b * (s->start_factor + (s->end_factor - s->start_factor) * (double)(e < s->total_iters ? e : s->total_iters) /
                                          (double)s->total_iters);
        return 1;
    case EXPONENTIAL: *out = b * pow(s->gamma, (double)e); return 1;
    case COSINE:
        *out = s->eta_min + (b - s->eta_min) * (1 + cos(M_PI * (double)e / (double)s->t_max)) / 2;
        return 1;
    default: return 0;
    }
}

/* _LRScheduler.step(epoch): epoch < 0 is None. */
static int base_step(lt_scheduler *s, int64_t epoch)
{
    s->step_count++;
    s->last_epoch = epoch < 0 ? s->last_epoch + 1 : epoch;
    double lrs[LT__MAX_GROUPS];
    for (s->g = 0; s->g < s->opt->n_groups; s->g++) {
        double *lr = &lrs[s->g];
        *lr = s->opt->groups[s->g].lr;
        const int closed = epoch < 0 ? 0 : closed_form_lr(s, lr);
        if (closed < 0 || (closed == 0 && get_lr(s, lr))) return -1;
    }
    for (int g = 0; g < s->opt->n_groups; g++) s->opt->groups[g].lr = s->last_lr[g] = lrs[g];
    return 0;
}

static int initial_step(lt_scheduler *s)
{
    s->step_count = 0;
    return base_step(s, -1);
}

/* _LRScheduler.__init__ with last_epoch = -1. */
static int base_init(lt_scheduler *s)
{
    for (int g = 0; g < s->opt->n_groups; g++) {
        lt__group *group = &s->opt->groups[g];
        if (!group->has_initial_lr) {
            group->initial_lr = group->lr;
            group->has_initial_lr = true;
        }
        s->base_lr[g] = group->initial_lr;
    }
    s->last_epoch = -1;
    return initial_step(s);
}

/* ---------------- creation ---------------- */

static int check_last_epoch(const char *name, int64_t last_epoch)
{
    if (last_epoch != -1)
        return lt_set_error("%s: last_epoch=%lld is not supported: resume with lt_scheduler_load_state", name,
                            (long long)last_epoch);
    return 0;
}

#define N_SPEC(spec) ((int)(sizeof spec / sizeof *spec))
#define COMMON_KEYS {"last_epoch", LT__P_INT, &last_epoch, NULL}, {"verbose", LT__P_BOOL, &verbose, NULL}

static int parse_simple(lt_scheduler *s, const lt_cfg *params, int64_t epochs)
{
    const char *name = kind_names[s->kind];
    int64_t last_epoch = -1;
    bool verbose = false, has_a = false, has_b = false;
    s->factor = 1.0 / 3;
    s->total_iters = 5;
    s->gamma = 0.1;
    s->start_factor = 1.0 / 3;
    s->end_factor = 1.0;
    s->t_max = epochs;
    int rc;
    switch (s->kind) {
    case CONSTANT: {
        const lt__pspec spec[] = {{"factor", LT__P_FLOAT, &s->factor, NULL},
                                  {"total_iters", LT__P_INT, &s->total_iters, NULL}, COMMON_KEYS};
        if ((rc = lt__read_params(name, params, spec, N_SPEC(spec)))) return rc;
        if (s->factor > 1.0 || s->factor < 0)
            return lt_set_error("ConstantLR: constant multiplicative factor expected to be between 0 and 1, got %g",
                                s->factor);
        break;
    }
    case STEP: {
        const lt__pspec spec[] = {{"step_size", LT__P_INT, &s->step_size, &has_a},
                                  {"gamma", LT__P_FLOAT, &s->gamma, NULL}, COMMON_KEYS};
        if ((rc = lt__read_params(name, params, spec, N_SPEC(spec)))) return rc;
        if (!has_a) return lt_set_error("StepLR: parameter 'step_size' (an integer) is required");
        if (s->step_size <= 0) return lt_set_error("StepLR: step_size must be positive, got %lld", (long long)s->step_size);
        break;
    }
    case MULTISTEP: {
        const lt__pspec spec[] = {{"milestones", LT__P_INTS, &s->milestones, &has_a},
                                  {"gamma", LT__P_FLOAT, &s->gamma, NULL}, COMMON_KEYS};
        if ((rc = lt__read_params(name, params, spec, N_SPEC(spec)))) return rc;
        if (!has_a) return lt_set_error("MultiStepLR: parameter 'milestones' (a list of integers) is required");
        break;
    }
    case LINEAR: {
        const lt__pspec spec[] = {{"start_factor", LT__P_FLOAT, &s->start_factor, NULL},
                                  {"end_factor", LT__P_FLOAT, &s->end_factor, NULL},
                                  {"total_iters", LT__P_INT, &s->total_iters, NULL}, COMMON_KEYS};
        if ((rc = lt__read_params(name, params, spec, N_SPEC(spec)))) return rc;
        if (s->start_factor > 1.0 || s->start_factor < 0)
            return lt_set_error("LinearLR: starting multiplicative factor expected to be between 0 and 1, got %g",
                                s->start_factor);
        if (s->end_factor > 1.0 || s->end_factor < 0)
            return lt_set_error("LinearLR: ending multiplicative factor expected to be between 0 and 1, got %g",
                                s->end_factor);
        if (s->total_iters < 0)
            return lt_set_error("LinearLR: total_iters must be >= 0, got %lld", (long long)s->total_iters);
        break;
    }
    case EXPONENTIAL: {
        const lt__pspec spec[] = {{"gamma", LT__P_FLOAT, &s->gamma, &has_a}, COMMON_KEYS};
        if ((rc = lt__read_params(name, params, spec, N_SPEC(spec)))) return rc;
        if (!has_a) return lt_set_error("ExponentialLR: parameter 'gamma' (a number) is required");
        break;
    }
    case COSINE: {
        const lt__pspec spec[] = {{"T_max", LT__P_INT, &s->t_max, &has_b},
                                  {"eta_min", LT__P_FLOAT, &s->eta_min, NULL}, COMMON_KEYS};
        if ((rc = lt__read_params(name, params, spec, N_SPEC(spec)))) return rc;
        if (!has_b && epochs <= 0)
            return lt_set_error("CosineAnnealingLR: parameter 'T_max' is required (no epochs default was given)");
        if (s->t_max <= 0) return lt_set_error("CosineAnnealingLR: T_max must be positive, got %lld", (long long)s->t_max);
        break;
    }
    default: break;
    }
    (void)verbose;
    return check_last_epoch(name, last_epoch);
}

static int parse_plateau(lt_scheduler *s, const lt_cfg *params)
{
    const char *mode = "min", *threshold_mode = "rel";
    bool verbose = false;
    s->factor = 0.1;
    s->patience = 10;
    s->threshold = 1e-4;
    s->eps = 1e-8;
    const lt__pspec spec[] = {
        {"mode", LT__P_STR, &mode, NULL},           {"factor", LT__P_FLOAT, &s->factor, NULL},
        {"patience", LT__P_INT, &s->patience, NULL}, {"threshold", LT__P_FLOAT, &s->threshold, NULL},
        {"threshold_mode", LT__P_STR, &threshold_mode, NULL}, {"cooldown", LT__P_INT, &s->cooldown, NULL},
        {"min_lr", LT__P_FLOAT, &s->plateau_min_lr, NULL}, {"eps", LT__P_FLOAT, &s->eps, NULL},
        {"verbose", LT__P_BOOL, &verbose, NULL},
    };
    if (lt__read_params("ReduceLROnPlateau", params, spec, N_SPEC(spec))) return -1;
    if (s->factor >= 1.0) return lt_set_error("ReduceLROnPlateau: factor should be < 1.0, got %g", s->factor);
    if (strcmp(mode, "min") != 0 && strcmp(mode, "max") != 0)
        return lt_set_error("ReduceLROnPlateau: mode '%s' is unknown (expected 'min' or 'max')", mode);
    if (strcmp(threshold_mode, "rel") != 0 && strcmp(threshold_mode, "abs") != 0)
        return lt_set_error("ReduceLROnPlateau: threshold mode '%s' is unknown (expected 'rel' or 'abs')",
                            threshold_mode);
    s->mode_max = strcmp(mode, "max") == 0;
    s->threshold_abs = strcmp(threshold_mode, "abs") == 0;
    s->best = s->mode_max ? -INFINITY : INFINITY;
    s->last_epoch = 0;
    for (int g = 0; g < s->opt->n_groups; g++) s->last_lr[g] = s->opt->groups[g].lr;
    return 0;
}

static int parse_onecycle(lt_scheduler *s, const lt_cfg *params)
{
    const char *strategy = "cos";
    int64_t last_epoch = -1, epochs = 0, steps_per_epoch = 0;
    bool verbose = false, has_max = false, has_total = false, has_epochs = false, has_spe = false, three = false;
    double pct = 0.3, div_factor = 25., final_div_factor = 1e4;
    s->cycle_momentum = true;
    s->base_momentum = 0.85;
    s->max_momentum = 0.95;
    const lt__pspec spec[] = {
        {"max_lr", LT__P_FLOAT, &s->max_lr, &has_max},
        {"total_steps", LT__P_INT, &s->total_steps, &has_total},
        {"epochs", LT__P_INT, &epochs, &has_epochs},
        {"steps_per_epoch", LT__P_INT, &steps_per_epoch, &has_spe},
        {"pct_start", LT__P_FLOAT, &pct, NULL},
        {"anneal_strategy", LT__P_STR, &strategy, NULL},
        {"cycle_momentum", LT__P_BOOL, &s->cycle_momentum, NULL},
        {"base_momentum", LT__P_FLOAT, &s->base_momentum, NULL},
        {"max_momentum", LT__P_FLOAT, &s->max_momentum, NULL},
        {"div_factor", LT__P_FLOAT, &div_factor, NULL},
        {"final_div_factor", LT__P_FLOAT, &final_div_factor, NULL},
        {"three_phase", LT__P_BOOL, &three, NULL},
        COMMON_KEYS,
    };
    if (lt__read_params("OneCycleLR", params, spec, N_SPEC(spec)) || check_last_epoch("OneCycleLR", last_epoch))
        return -1;
    (void)verbose;
    if (!has_max) return lt_set_error("OneCycleLR: parameter 'max_lr' (a number) is required");
    if (has_total) {
        if (s->total_steps <= 0)
            return lt_set_error("OneCycleLR: expected positive integer total_steps, but got %lld",
                                (long long)s->total_steps);
    } else if (!has_epochs || !has_spe) {
        return lt_set_error("OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)");
    } else {
        if (epochs <= 0) return lt_set_error("OneCycleLR: expected positive integer epochs, but got %lld", (long long)epochs);
        if (steps_per_epoch <= 0)
            return lt_set_error("OneCycleLR: expected positive integer steps_per_epoch, but got %lld",
                                (long long)steps_per_epoch);
        s->total_steps = epochs * steps_per_epoch;
    }
    const double total = (double)s->total_steps;
    if (three) {
        s->phases[0] = (phase){pct * total - 1, INITIAL_LR, MAX_LR, MAX_MOMENTUM, BASE_MOMENTUM};
        s->phases[1] = (phase){2 * pct * total - 2, MAX_LR, INITIAL_LR, BASE_MOMENTUM, MAX_MOMENTUM};
        s->phases[2] = (phase){total - 1, INITIAL_LR, MIN_LR, MAX_MOMENTUM, MAX_MOMENTUM};
        s->n_phases = 3;
    } else {
        s->phases[0] = (phase){pct * total - 1, INITIAL_LR, MAX_LR, MAX_MOMENTUM, BASE_MOMENTUM};
        s->phases[1] = (phase){total - 1, MAX_LR, MIN_LR, BASE_MOMENTUM, MAX_MOMENTUM};
        s->n_phases = 2;
    }
    if (pct < 0 || pct > 1)
        return lt_set_error("OneCycleLR: expected float between 0 and 1 pct_start, but got %g", pct);
    if (strcmp(strategy, "cos") != 0 && strcmp(strategy, "linear") != 0)
        return lt_set_error("OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', instead got '%s'", strategy);
    s->linear = strcmp(strategy, "linear") == 0;
    for (int g = 0; g < s->opt->n_groups; g++)
        s->opt->groups[g] = (lt__group){.lr = s->opt->groups[g].lr, .has_initial_lr = true, .initial_lr = s->max_lr / div_factor};
    s->min_lr = s->max_lr / div_factor / final_div_factor;
    if (s->cycle_momentum) s->opt->momentum = s->max_momentum;
    return base_init(s);
}

static int parse_sequential(lt_scheduler *s, const lt_cfg *params, int64_t epochs)
{
    const lt_cfg *list = NULL;
    int64_t last_epoch = -1;
    bool verbose = false, has_list = false, has_ms = false;
    const lt__pspec spec[] = {{"schedulers", LT__P_LIST, &list, &has_list},
                              {"milestones", LT__P_INTS, &s->milestones, &has_ms}, COMMON_KEYS};
    if (lt__read_params("SequentialLR", params, spec, N_SPEC(spec)) || check_last_epoch("SequentialLR", last_epoch))
        return -1;
    (void)verbose;
    if (!has_list || list->n == 0)
        return lt_set_error("SequentialLR: parameter 'schedulers' (a list of {name, params}) is required");
    if (!has_ms) return lt_set_error("SequentialLR: parameter 'milestones' (a list of integers) is required");
    if (s->milestones.n != list->n - 1)
        return lt_set_error("SequentialLR: expects number of schedulers provided to be one more than the number of "
                            "milestone points, but got number of schedulers %d and the number of milestones to be "
                            "equal to %d",
                            list->n, s->milestones.n);
    s->children = calloc((size_t)list->n, sizeof *s->children);
    if (!s->children) return lt_set_error("SequentialLR: out of memory");
    for (int i = 0; i < list->n; i++) {
        const lt_cfg *item = list->items[i];
        const char *name = NULL;
        if (item->type != LT_CFG_MAP || lt_cfg_as_str(lt_cfg_get(item, "name"), "SequentialLR: schedulers[].name", &name))
            return lt_set_error("%s: SequentialLR: schedulers[%d] must be a map with a 'name' (and 'params')",
                                lt_cfg_where(item), i);
        if (strcmp(name, "SequentialLR") == 0 || strcmp(name, "ReduceLROnPlateau") == 0)
            return lt_set_error("SequentialLR: schedulers[%d]: %s cannot be chained", i, name);
        for (int k = 0; k < item->n; k++)
            if (strcmp(item->keys[k], "name") != 0 && strcmp(item->keys[k], "params") != 0)
                return lt_set_error("%s: SequentialLR: schedulers[%d]: unknown key '%s' (accepted: name, params)",
                                    lt_cfg_where(item->items[k]), i, item->keys[k]);
        s->children[i] = lt_scheduler_new(name, s->opt, lt_cfg_get(item, "params"), epochs);
        if (!s->children[i]) return -1;
        s->n_children = i + 1;
    }
    /* torch: reset the lr, undo the children's initial steps, restart the
     * first one. */
    s->last_epoch = 0;
    for (int g = 0; g < s->opt->n_groups; g++) s->opt->groups[g].lr = s->base_lr[g] = s->opt->groups[g].initial_lr;
    for (int i = 0; i < s->n_children; i++) s->children[i]->last_epoch -= 1;
    if (initial_step(s->children[0])) return -1;
    memcpy(s->last_lr, s->children[0]->last_lr, sizeof s->last_lr);
    return 0;
}

lt_scheduler *lt_scheduler_new(const char *name, lt_optimizer *opt, const lt_cfg *params, int64_t epochs)
{
    if (!name || !opt) return lt_set_error("scheduler: a name and an optimizer are required"), NULL;
    int k = -1;
    for (int i = 0; i < N_KINDS; i++)
        if (strcmp(kind_names[i], name) == 0) k = i;
    if (k < 0)
        return lt_set_error("scheduler: unknown scheduler '%s' (available: ConstantLR, StepLR, MultiStepLR, LinearLR, "
                            "ExponentialLR, CosineAnnealingLR, SequentialLR, OneCycleLR, ReduceLROnPlateau)",
                            name),
               NULL;
    lt_scheduler *s = calloc(1, sizeof *s);
    if (!s) return lt_set_error("%s: out of memory", name), NULL;
    s->kind = (kind)k;
    s->opt = opt;
    opt->has_scheduler = true;
    int rc;
    switch (s->kind) {
    case SEQUENTIAL: rc = parse_sequential(s, params, epochs); break;
    case ONECYCLE: rc = parse_onecycle(s, params); break;
    case PLATEAU: rc = parse_plateau(s, params); break;
    default: rc = parse_simple(s, params, epochs) || base_init(s); break;
    }
    if (rc) {
        lt_scheduler_free(s);
        return NULL;
    }
    return s;
}

void lt_scheduler_free(lt_scheduler *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_children; i++) lt_scheduler_free(s->children[i]);
    free(s->children);
    free(s);
}

const char *lt_scheduler_name(const lt_scheduler *s) { return s ? kind_names[s->kind] : NULL; }
bool lt_scheduler_per_step(const lt_scheduler *s) { return s && s->kind == ONECYCLE; }
bool lt_scheduler_needs_metric(const lt_scheduler *s) { return s && s->kind == PLATEAU; }
double lt_scheduler_last_lr(const lt_scheduler *s) { return lt_scheduler_group_last_lr(s, 0); }

double lt_scheduler_group_last_lr(const lt_scheduler *s, int group)
{
    return s && group >= 0 && group < s->opt->n_groups ? s->last_lr[group] : 0.0;
}

int lt_scheduler_rebase_lr(lt_scheduler *s, int group, double lr)
{
    if (!s) return lt_set_error("scheduler: NULL scheduler");
    if (lt_optimizer_set_group_lr(s->opt, group, lr)) return -1;
    s->opt->groups[group].initial_lr = lr;
    s->opt->groups[group].has_initial_lr = true;
    s->base_lr[group] = lr;
    for (int i = 0; i < s->n_children; i++) s->children[i]->base_lr[group] = lr;
    return 0;
}

/* ---------------- stepping ---------------- */

static int sequential_step(lt_scheduler *s)
{
    s->last_epoch++;
    const int64_t idx = bisect_right(&s->milestones, s->last_epoch);
    lt_scheduler *child = s->children[idx];
    const int rc = idx > 0 && s->milestones.v[idx - 1] == s->last_epoch ? base_step(child, 0) : base_step(child, -1);
    memcpy(s->last_lr, child->last_lr, sizeof s->last_lr);
    return rc;
}

int lt_scheduler_step(lt_scheduler *s)
{
    if (!s) return lt_set_error("scheduler: NULL scheduler");
    if (s->kind == PLATEAU)
        return lt_set_error("ReduceLROnPlateau: step needs the monitored metric (lt_scheduler_step_metric)");
    if (s->kind == SEQUENTIAL) return sequential_step(s);
    return base_step(s, -1);
}

static bool is_better(const lt_scheduler *s, double a)
{
    if (!s->mode_max && !s->threshold_abs) return a < s->best * (1. - s->threshold);
    if (!s->mode_max) return a < s->best - s->threshold;
    if (!s->threshold_abs) return a > s->best * (s->threshold + 1.);
    return a > s->best + s->threshold;
}

int lt_scheduler_step_metric(lt_scheduler *s, double metric)
{
    if (!s) return lt_set_error("scheduler: NULL scheduler");
    if (s->kind != PLATEAU)
        return lt_set_error("%s: step_metric is only for ReduceLROnPlateau (use lt_scheduler_step)", kind_names[s->kind]);
    s->last_epoch++;
    if (is_better(s, metric)) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else {
        s->num_bad_epochs++;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0;
    }
    if (s->num_bad_epochs > s->patience) {
        for (int g = 0; g < s->opt->n_groups; g++) {
            const double old_lr = s->opt->groups[g].lr;
            const double new_lr = fmax(old_lr * s->factor, s->plateau_min_lr);
            if (old_lr - new_lr > s->eps) s->opt->groups[g].lr = new_lr;
        }
        s->cooldown_counter = s->cooldown;
        s->num_bad_epochs = 0;
    }
    for (int g = 0; g < s->opt->n_groups; g++) s->last_lr[g] = s->opt->groups[g].lr;
    return 0;
}

/* ---------------- state ---------------- */

static int put_num(lt_cfg *m, const char *key, double v)
{
    char buf[40];
    if (isnan(v)) snprintf(buf, sizeof buf, ".nan");
    else if (isinf(v)) snprintf(buf, sizeof buf, "%s", v > 0 ? ".inf" : "-.inf");
    else snprintf(buf, sizeof buf, "%.17g", v);
    return lt_cfg_set(m, key, lt_cfg_new_scalar(buf, false));
}

static int put_int(lt_cfg *m, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return lt_cfg_set(m, key, lt_cfg_new_scalar(buf, false));
}

/* Group 0's values under their torch names ("lr"), group g's as "lr.<g>". */
static void group_key(char *out, size_t size, const char *key, int g)
{
    if (g == 0) snprintf(out, size, "%s", key);
    else snprintf(out, size, "%s.%d", key, g);
}

static int put_group_num(lt_cfg *m, const char *key, int g, double v)
{
    char name[64];
    group_key(name, sizeof name, key, g);
    return put_num(m, name, v);
}

lt_cfg *lt_scheduler_state(const lt_scheduler *s)
{
    if (!s) return lt_set_error("scheduler: NULL scheduler"), NULL;
    lt_cfg *m = lt_cfg_new(LT_CFG_MAP);
    if (!m) return NULL;
    int rc = lt_cfg_set(m, "name", lt_cfg_new_scalar(kind_names[s->kind], true)) | put_int(m, "last_epoch", s->last_epoch) |
             put_int(m, "step_count", s->step_count) | put_num(m, "momentum", s->opt->momentum);
    for (int g = 0; g < s->opt->n_groups; g++)
        rc |= put_group_num(m, "base_lr", g, s->base_lr[g]) | put_group_num(m, "last_lr", g, s->last_lr[g]) |
              put_group_num(m, "lr", g, s->opt->groups[g].lr) |
              put_group_num(m, "initial_lr", g, s->opt->groups[g].initial_lr);
    if (s->kind == PLATEAU)
        rc |= put_num(m, "best", s->best) | put_int(m, "num_bad_epochs", s->num_bad_epochs) |
              put_int(m, "cooldown_counter", s->cooldown_counter);
    if (s->kind == SEQUENTIAL) {
        lt_cfg *list = lt_cfg_new(LT_CFG_LIST);
        for (int i = 0; i < s->n_children && list; i++)
            if (lt_cfg_append(list, lt_scheduler_state(s->children[i]))) {
                lt_cfg_free(list);
                list = NULL;
            }
        rc |= lt_cfg_set(m, "schedulers", list);
    }
    if (rc) {
        lt_cfg_free(m);
        return lt_set_error("%s: state: out of memory", kind_names[s->kind]), NULL;
    }
    return m;
}

static int state_error(const char *owner, const char *key, const lt_cfg *v, const char *expected)
{
    if (!v) return lt_set_error("%s: load_state: missing key '%s'", owner, key);
    return lt_set_error("%s: %s: load_state: '%s' must be %s, got '%s'", lt_cfg_where(v), owner, key, expected,
                        v->type == LT_CFG_SCALAR ? v->text : lt_cfg_type_name(v->type));
}

static int get_num(const lt_cfg *m, const char *owner, const char *key, double *out)
{
    const lt_cfg *v = lt_cfg_peek(m, key);
    if (!v || !lt_cfg_is_number(v)) return state_error(owner, key, v, "a number");
    return lt_cfg_as_float(v, key, out);
}

static int get_int(const lt_cfg *m, const char *owner, const char *key, int64_t *out)
{
    const lt_cfg *v = lt_cfg_peek(m, key);
    if (!v || !lt_cfg_is_int(v)) return state_error(owner, key, v, "an integer");
    return lt_cfg_as_int(v, key, out);
}

/* Reads the state into s (and s->opt) when apply; only checks otherwise,
 * so that a bad state leaves everything unchanged. */
static int load_state(lt_scheduler *s, const lt_cfg *st, bool apply)
{
    const char *owner = kind_names[s->kind], *name = NULL;
    if (!st || st->type != LT_CFG_MAP) return lt_set_error("%s: load_state: the state must be a map", owner);
    const lt_cfg *nv = lt_cfg_peek(st, "name");
    if (!nv || lt_cfg_as_str(nv, "name", &name)) return state_error(owner, "name", nv, "a string");
    if (strcmp(name, owner) != 0)
        return lt_set_error("%s: load_state: the state is of a %s, not of a %s", owner, name, owner);
    lt_scheduler t = *s;
    double lr[LT__MAX_GROUPS], initial_lr[LT__MAX_GROUPS], momentum;
    if (get_int(st, owner, "last_epoch", &t.last_epoch) || get_int(st, owner, "step_count", &t.step_count) ||
        get_num(st, owner, "momentum", &momentum))
        return -1;
    for (int g = 0; g < s->opt->n_groups; g++) {
        char k[4][64];
        group_key(k[0], sizeof k[0], "base_lr", g);
        group_key(k[1], sizeof k[1], "last_lr", g);
        group_key(k[2], sizeof k[2], "lr", g);
        group_key(k[3], sizeof k[3], "initial_lr", g);
        if (get_num(st, owner, k[0], &t.base_lr[g]) || get_num(st, owner, k[1], &t.last_lr[g]) ||
            get_num(st, owner, k[2], &lr[g]) || get_num(st, owner, k[3], &initial_lr[g]))
            return -1;
    }
    if (s->kind == PLATEAU && (get_num(st, owner, "best", &t.best) ||
                               get_int(st, owner, "num_bad_epochs", &t.num_bad_epochs) ||
                               get_int(st, owner, "cooldown_counter", &t.cooldown_counter)))
        return -1;
    if (s->kind == SEQUENTIAL) {
        const lt_cfg *list = lt_cfg_peek(st, "schedulers");
        if (!list || list->type != LT_CFG_LIST || list->n != s->n_children) {
            char what[64];
            snprintf(what, sizeof what, "a list of %d scheduler states", s->n_children);
            return state_error(owner, "schedulers", list, what);
        }
        for (int i = 0; i < s->n_children; i++)
            if (load_state(s->children[i], list->items[i], apply)) return -1;
    }
    if (s->kind == SEQUENTIAL && (t.last_epoch < 0))
        return lt_set_error("%s: load_state: last_epoch %lld is negative", owner, (long long)t.last_epoch);
    if (!apply) return 0;
    *s = t;
    for (int g = 0; g < s->opt->n_groups; g++)
        s->opt->groups[g] = (lt__group){.lr = lr[g], .has_initial_lr = true, .initial_lr = initial_lr[g]};
    s->opt->momentum = momentum;
    return 0;
}

int lt_scheduler_load_state(lt_scheduler *s, const lt_cfg *state)
{
    if (!s) return lt_set_error("scheduler: NULL scheduler");
    if (load_state(s, state, false)) return -1;
    return load_state(s, state, true);
}
