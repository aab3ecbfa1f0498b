/* The trainer (core/trainer.h): Lightning's fit loop for a luxonis-train
 * config, on the core's model graph, datasets, optimizers and schedulers. */
#include "trainer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ltrain/autograd.h>
#include <ltrain/context.h>
#include <ltrain/ops.h>
#include <ltrain/profile.h>
#include <ltrain/safetensors.h>
#include <ltrain/sched.h>

#include "../sdk/plugin/module.h"
#include "data/data.h"
#include "format.h"
#include "model.h"
#include "vis_log.h"
#include "visualize.h"
#include "weights.h"
#include "modules.h"
#include "run_log.h"

enum { VIEW_TRAIN, VIEW_VAL, VIEW_TEST, N_VIEWS };
enum { PATH_SIZE = 4096 };

/* One kept checkpoint of a top-k list (higher score is better). */
typedef struct kept_ckpt {
    double score;
    char *path;
} kept_ckpt;

typedef struct topk {
    const char *dir; /* "min_val_loss" or "best_val_metric" */
    int n;
    kept_ckpt *items;
} topk;

/* Lightning's EarlyStopping (strict, check_finite): stop once `monitor`
 * has not improved by more than min_delta for `patience` validations. */
typedef struct early_stopping {
    bool active;
    const char *monitor; /* borrowed from the config */
    bool maximize;
    int64_t patience;
    double min_delta; /* >= 0 */
    bool verbose;
    double best;      /* +inf (min) or -inf (max) before the first check */
    int64_t wait;
} early_stopping;

/* Set by SIGINT/SIGTERM (lt_trainer_handle_signals). */
static volatile sig_atomic_t interrupt_flag;

struct lt_trainer {
    const lt_config *cfg;
    const lt_registry *reg;
    FILE *log;
    lt_ctx *ctx;
    uint64_t seed;
    lt_preprocess pp;
    const char *view_names[N_VIEWS];
    lt_dataset *ds[N_VIEWS];
    lt_batcher *batcher[N_VIEWS];
    int n_classes;
    lt_model *model;
    lt_optimizer *opt;
    lt_scheduler *sched;
    int64_t start_epoch; /* epochs already done (resume) */
    char *run_dir;
    lt_run_log *run_log; /* <run>/luxonis_train.log and metrics.csv; NULL with no_run_dir */
    lt_vis_log vis;        /* n_log_images pictures of each evaluation */
    int64_t current_epoch; /* Lightning's current_epoch: the step of logged results and pictures */
    double *train_losses;
    int n_train_losses;
    lt_eval_result test_result;
    bool has_test_result;
    topk best_loss, best_metric;
    early_stopping es;
    const char *test_view; /* TestOnTrainEnd's view, or NULL: no test at the end */
    int64_t start_step;    /* batches of epoch start_epoch already trained (resume) */
    double start_loss_sum; /* their summed loss */
    int64_t stop_after_steps, steps;
    bool stopped_early, interrupted;
    char *resume_path;
};

/* ---------------------------------------------------------------- helpers */

void lt_trainer_log(const lt_trainer *t, lt_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt); /* the file first: a closed console pipe (SIGPIPE) must not cost the log its line */
    lt_run_log_vline(t->run_log, level, fmt, ap);
    va_end(ap);
    if (t->log) {
        if (isatty(fileno(t->log))) fputs("\r\033[K", t->log); /* over the progress bar */
        va_start(ap, fmt);
        vfprintf(t->log, fmt, ap);
        va_end(ap);
        fputc('\n', t->log);
        fflush(t->log);
    }
}

/* Makes the trainer's context current; returns the previous one. */
static lt_ctx *enter(lt_trainer *t) { return lt_ctx_use(t->ctx); }

static const char *view_of(const lt_config_views *v, const char *fallback)
{
    return v->n > 0 && v->names[0] ? v->names[0] : fallback;
}

/* -------------------------------------------------------------- datasets */

static lt_dataset *open_dataset(const lt_trainer *t, const char *view)
{
    const lt_cfg *params = t->cfg->loader.params;
    const char *type = "clsdir";
    const lt_cfg *ty = params ? lt_cfg_get(params, "dataset_type") : NULL;
    if (ty && !lt_cfg_is_null(ty) && lt_cfg_as_str(ty, "loader.params.dataset_type", &type)) return NULL;
    if (!strcmp(type, "generated")) {
        lt_generated_options o;
        lt_generated_defaults(&o);
        o.seed = t->seed;
        if (lt_generated_options_from_cfg(params, &o)) return NULL;
        return lt_generated_open(&o, view);
    }
    if (strcmp(type, "clsdir") != 0) {
        lt_set_error("%s: loader.params.dataset_type: unknown dataset type '%s' (expected 'clsdir' or 'generated')",
                     lt_cfg_where(ty), type);
        return NULL;
    }
    const lt_cfg *dir = params ? lt_cfg_get(params, "dataset_dir") : NULL;
    const char *path = NULL;
    if (!dir || lt_cfg_is_null(dir)) {
        lt_set_error("loader.params.dataset_dir: required for dataset_type 'clsdir' (a folder with train/, val/ and "
                     "test/ splits of one folder per class)");
        return NULL;
    }
    if (lt_cfg_as_str(dir, "loader.params.dataset_dir", &path)) return NULL;
    return lt_clsdir_open(path, view, &(lt_clsdir_options){.skip_corrupt = false});
}

static lt_batcher *batcher_of(lt_trainer *t, int v)
{
    if (t->batcher[v]) return t->batcher[v];
    if (!t->ds[v] && !(t->ds[v] = open_dataset(t, t->view_names[v]))) return NULL;
    if (t->ds[v]->n_classes != t->n_classes) {
        lt_set_error("loader: view '%s' has %d classes but '%s' has %d", t->view_names[v], t->ds[v]->n_classes,
                     t->view_names[VIEW_TRAIN], t->n_classes);
        return NULL;
    }
    const lt_config_trainer *tr = &t->cfg->trainer;
    const lt_batcher_options o = {
        .batch_size = (int)tr->batch_size,
        .shuffle = v == VIEW_TRAIN,
        .drop_last = v == VIEW_TRAIN && tr->skip_last_batch,
        .n_workers = (int)tr->n_workers,
        .seed = t->seed,
        .stage = lt_stage_of_view(t->view_names[v]),
    };
    t->batcher[v] = lt_batcher_new(t->ds[v], &t->pp, &o);
    return t->batcher[v];
}

/* The batch's labels as the reference collates them: one-hot [n, C]. */
static lt_labels *batch_labels(const lt_batch *b, int n_classes)
{
    lt_tensor *one_hot = lt_zeros(LT_F32, 2, (const int64_t[]){b->n, n_classes});
    lt_labels *labels = lt_labels_new();
    if (!one_hot || !labels) return NULL;
    const int32_t *cls = (const int32_t *)b->classes->data;
    for (int i = 0; i < b->n; i++)
        if (cls[i] >= 0 && cls[i] < n_classes) lt_f32(one_hot)[(int64_t)i * n_classes + cls[i]] = 1.0f;
    if (lt_labels_set(labels, "classification", lt_value_tensor(one_hot))) return NULL;
    return labels;
}

/* ----------------------------------------------------------- checkpoints */

static char *scheduler_yaml(const lt_trainer *t)
{
    if (!t->sched) return NULL;
    lt_cfg *state = lt_scheduler_state(t->sched);
    char *yaml = state ? lt_cfg_to_yaml(state) : NULL;
    lt_cfg_free(state);
    return yaml;
}

/* A checkpoint after `epochs_done` epochs and `step` batches of the next
 * (an interrupted epoch, whose summed loss so far is loss_sum). */
static int save_checkpoint_at(const lt_trainer *t, const char *path, int64_t epochs_done, int64_t step,
                              double loss_sum)
{
    lt_named_tensors *state = lt_optimizer_state(t->opt);
    if (!state) return -1;
    lt_named_tensor *extra = calloc(state->n ? state->n : 1, sizeof *extra);
    char *config = lt_config_to_yaml(t->cfg);
    char *sched = scheduler_yaml(t);
    char epoch[32], step_text[32], loss_text[40], early[80];
    snprintf(epoch, sizeof epoch, "%lld", (long long)epochs_done);
    snprintf(step_text, sizeof step_text, "%lld", (long long)step);
    snprintf(loss_text, sizeof loss_text, "%.17g", loss_sum);
    /* EarlyStopping's progress, "<mode> <best> <wait>", so a resume continues it. */
    if (t->es.active)
        snprintf(early, sizeof early, "%s %.17g %lld", t->es.maximize ? "max" : "min", t->es.best,
                 (long long)t->es.wait);
    else
        early[0] = '\0';
    int rc = -1;
    if (!extra || !config || (t->sched && !sched)) goto done;
    size_t n = 0;
    for (; n < state->n; n++) {
        extra[n].tensor = state->items[n].tensor;
        if (!(extra[n].name = lt_format("optimizer.%s", state->items[n].name))) goto done;
    }
    const lt_metadata_entry meta[] = {
        {"format", "ltrain"},
        {"epoch", epoch},
        {"model", t->cfg->model.name ? t->cfg->model.name : "model"},
        {"optimizer", lt_optimizer_name(t->opt)},
        {"config", config},
        {"scheduler", sched ? sched : ""},
        {"step", step_text},
        {"loss_sum", loss_text},
        {"early_stopping", early},
    };
    rc = lt_state_dict_save(lt_model_params(t->model), path, extra, state->n, meta, sizeof meta / sizeof meta[0]);
done:
    if (extra)
        for (size_t i = 0; i < state->n; i++) free(extra[i].name);
    free(extra);
    free(config);
    free(sched);
    lt_named_tensors_free(state);
    return rc;
}

static int save_checkpoint(const lt_trainer *t, const char *path, int64_t epochs_done)
{
    return save_checkpoint_at(t, path, epochs_done, 0, 0.0);
}

static int load_training_state(lt_trainer *t, const lt_safetensors *f, const char *path)
{
    lt_named_tensors state = {0};
    const size_t count = lt_safetensors_count(f);
    state.items = calloc(count ? count : 1, sizeof *state.items);
    if (!state.items) return lt_set_error("trainer: out of memory");
    for (size_t i = 0; i < count; i++) {
        const lt_tensor *x = lt_safetensors_at(f, i);
        if (strncmp(x->name, "optimizer.", 10) != 0) continue;
        state.items[state.n].name = (char *)x->name + 10;
        state.items[state.n++].tensor = (lt_tensor *)x;
    }
    int rc = lt_optimizer_load_state(t->opt, &state);
    free(state.items);
    if (rc) return lt_set_error("%s: optimizer state: %s", path, lt_last_error());
    const char *epoch = lt_safetensors_meta(f, "epoch");
    if (!epoch) return lt_set_error("%s: no 'epoch' in the metadata: not a checkpoint ltrain can resume", path);
    t->start_epoch = strtoll(epoch, NULL, 10);
    const char *step = lt_safetensors_meta(f, "step");
    const char *loss_sum = lt_safetensors_meta(f, "loss_sum");
    t->start_step = step ? strtoll(step, NULL, 10) : 0;
    t->start_loss_sum = loss_sum ? strtod(loss_sum, NULL) : 0.0;
    const char *early = lt_safetensors_meta(f, "early_stopping");
    if (t->es.active && early && !strncmp(early, t->es.maximize ? "max " : "min ", 4)) {
        char *end;
        t->es.best = strtod(early + 4, &end);
        t->es.wait = strtoll(end, NULL, 10);
    }
    const char *sched = lt_safetensors_meta(f, "scheduler");
    if (t->sched && sched && *sched) {
        lt_cfg *s = lt_cfg_parse_yaml(sched, strlen(sched), path);
        rc = s ? lt_scheduler_load_state(t->sched, s) : -1;
        lt_cfg_free(s);
        if (rc) return lt_set_error("%s: scheduler state: %s", path, lt_last_error());
    }
    return 0;
}

/* Loads a checkpoint's weights (an ltrain checkpoint, or a torch state_dict
 * by name: core/weights.h); with resume also the optimizer, scheduler and
 * epoch. */
static int load_weights(lt_trainer *t, const char *path, bool resume)
{
    lt_safetensors *f = lt_safetensors_load(path);
    if (!f) return -1;
    const lt_weights_options wo = {.strict = t->cfg->trainer.strict_weights_loading, .log = t->log};
    int rc = lt_model_load_weights(t->model, f, &wo);
    if (rc == 0 && resume) rc = load_training_state(t, f, path);
    lt_safetensors_free(f);
    return rc;
}

/* Keeps the best `k` checkpoints of a list (k < 0: all). */
static int topk_offer(lt_trainer *t, topk *list, double score, const char *file, int64_t epochs_done)
{
    const int64_t k = t->cfg->trainer.save_top_k;
    if (k == 0) return 0;
    int worst = -1;
    if (k > 0 && list->n >= k) {
        worst = 0;
        for (int i = 1; i < list->n; i++)
            if (list->items[i].score < list->items[worst].score) worst = i;
        if (!(score > list->items[worst].score)) return 0;
    }
    char *dir = lt_format("%s/%s", t->run_dir, list->dir);
    char *path = dir ? lt_format("%s/%s.safetensors", dir, file) : NULL;
    if (!path) {
        free(dir);
        return -1;
    }
    if (mkdir(dir, 0777) && errno != EEXIST) {
        lt_set_error("%s: %s", dir, strerror(errno));
        free(dir);
        free(path);
        return -1;
    }
    free(dir);
    if (save_checkpoint(t, path, epochs_done)) {
        free(path);
        return -1;
    }
    if (worst >= 0) {
        if (strcmp(list->items[worst].path, path) != 0) unlink(list->items[worst].path);
        free(list->items[worst].path);
        list->items[worst] = (kept_ckpt){score, path};
        return 0;
    }
    kept_ckpt *items = realloc(list->items, (size_t)(list->n + 1) * sizeof *items);
    if (!items) {
        free(path);
        return lt_set_error("trainer: out of memory");
    }
    list->items = items;
    list->items[list->n++] = (kept_ckpt){score, path};
    return 0;
}

static void topk_free(topk *list)
{
    for (int i = 0; i < list->n; i++) free(list->items[i].path);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

/* ---------------------------------------------------------- run directory */

/* luxonis-ml's names are random adjective-noun pairs. */
static void random_run_name(char *out, size_t size)
{
    static const char *const adjectives[] = {"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen",
                                             "lively", "proud", "quick", "silly", "swift", "witty", "zesty", "bold"};
    static const char *const nouns[] = {"otter", "falcon", "panda", "lynx", "heron", "koala", "bison", "gecko",
                                        "moose", "raven", "tiger", "whale", "zebra", "yak", "crane", "fox"};
    const uint64_t h = lt_hash64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
    snprintf(out, size, "%s-%s", adjectives[h % 16], nouns[(h >> 8) % 16]);
}

/* <save_directory>/<N>-<name>, N one above the largest numeric prefix. */
static int make_run_dir(lt_trainer *t)
{
    const char *base = t->cfg->tracker.save_directory ? t->cfg->tracker.save_directory : "output";
    if (lt_vis_mkdir_p(base)) return -1;
    long next = 0;
    DIR *d = opendir(base);
    if (!d) return lt_set_error("%s: %s", base, strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        const long n = strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '-' && n >= next) next = n + 1;
    }
    closedir(d);
    char name[128];
    if (t->cfg->tracker.run_name)
        snprintf(name, sizeof name, "%s", t->cfg->tracker.run_name);
    else
        random_run_name(name, sizeof name);
    for (int tries = 0; tries < 1000; tries++, next++) {
        free(t->run_dir);
        if (!(t->run_dir = lt_format("%s/%ld-%s", base, next, name))) return -1;
        if (mkdir(t->run_dir, 0777) == 0) break;
        if (errno != EEXIST) return lt_set_error("%s: %s", t->run_dir, strerror(errno));
    }
    char *cfg_path = lt_format("%s/training_config.yaml", t->run_dir);
    const int rc = cfg_path ? lt_config_save(t->cfg, cfg_path) : -1;
    free(cfg_path);
    if (rc == 0 && !(t->run_log = lt_run_log_open(t->run_dir))) return -1;
    return rc;
}

/* ------------------------------------------------------------- building */

static int build_model(lt_trainer *t)
{
    const lt_dataset *train = t->ds[VIEW_TRAIN];
    lt_dataset_info info = {
        .n_classes = t->n_classes,
        .n_keypoints = train->n_keypoints,
        .class_names = (const char *const *)train->class_names,
        .input_shape = {t->cfg->trainer.batch_size, lt_preprocess_channels(&t->pp), t->pp.height, t->pp.width},
    };
    t->model = lt_model_build(t->reg, t->cfg->model.nodes, t->cfg->model.n_nodes, &info, t->seed);
    const lt_weights_options wo = {.strict = t->cfg->trainer.strict_weights_loading, .log = t->log};
    return t->model ? lt_model_load_node_weights(t->model, &wo) : -1;
}

static int build_optimization(lt_trainer *t)
{
    const lt_config_trainer *tr = &t->cfg->trainer;
    const char *opt_name = tr->optimizer.name ? tr->optimizer.name : "Adam";
    t->opt = lt_optimizer_new(opt_name, lt_model_params(t->model), tr->optimizer.params);
    if (!t->opt) return lt_set_error("trainer.optimizer: %s", lt_last_error());
    /* luxonis-train's "default/<node>" groups: a frozen node with
     * lr_after_unfreeze learns in a group of its own, at the default lr
     * until apply_freezing rebases it (groups in node order). */
    const lt_config_model *m = &t->cfg->model;
    for (int i = 0; i < lt_model_n_nodes(t->model) && i < m->n_nodes; i++) {
        const lt_config_freezing *f = &m->node_info[i].freezing;
        if (!f->active || !f->has_lr_after_unfreeze) continue;
        if (!(f->lr_after_unfreeze >= 0.0) || isinf(f->lr_after_unfreeze))
            return lt_set_error("model.nodes[%d].freezing.lr_after_unfreeze: expected a learning rate >= 0, got %g", i,
                                f->lr_after_unfreeze);
        char prefix[512];
        snprintf(prefix, sizeof prefix, "%s.", lt_model_node_identifier(t->model, i));
        if (lt_optimizer_add_group(t->opt, prefix, lt_optimizer_get_lr(t->opt)) < 0)
            return lt_set_error("model.nodes[%d].freezing: %s", i, lt_last_error());
    }
    const char *sched_name = tr->scheduler.name ? tr->scheduler.name : "ConstantLR";
    t->sched = lt_scheduler_new(sched_name, t->opt, tr->scheduler.params, tr->epochs);
    if (!t->sched) return lt_set_error("trainer.scheduler: %s", lt_last_error());
    return 0;
}

/* ------------------------------------------------------------ callbacks */

static int view_index(const lt_trainer *t, const char *view);

/* EarlyStopping's params, Lightning's defaults: monitor val/loss (the
 * reference's configs name it), mode min, patience 3, min_delta 0. */
static int parse_early_stopping(lt_trainer *t, const lt_config_callback *cb)
{
    early_stopping *es = &t->es;
    *es = (early_stopping){.active = true, .monitor = "val/loss", .patience = 3};
    const char *mode = "min";
    const lt_cfg *p = cb->params;
    const lt_cfg *v;
    static const char *const known[] = {"monitor", "mode", "patience", "min_delta", "verbose", NULL};
    for (int i = 0; p && p->type == LT_CFG_MAP && i < p->n; i++) {
        const char *key = p->keys[i];
        int k = 0;
        while (known[k] && strcmp(known[k], key)) k++;
        if (!known[k])
            return lt_set_error("%s: trainer.callbacks: EarlyStopping has no parameter '%s' (expected monitor, mode, "
                                "patience, min_delta or verbose)",
                                lt_cfg_where(p->items[i]), key);
    }
    if (p && (v = lt_cfg_get(p, "monitor")) && !lt_cfg_is_null(v) &&
        lt_cfg_as_str(v, "EarlyStopping.monitor", &es->monitor))
        return -1;
    if (p && (v = lt_cfg_get(p, "mode")) && !lt_cfg_is_null(v) && lt_cfg_as_str(v, "EarlyStopping.mode", &mode))
        return -1;
    if (strcmp(mode, "min") && strcmp(mode, "max"))
        return lt_set_error("%s: EarlyStopping.mode must be 'min' or 'max', not '%s'", lt_cfg_where(v), mode);
    es->maximize = !strcmp(mode, "max");
    if (p && (v = lt_cfg_get(p, "patience")) && !lt_cfg_is_null(v) &&
        lt_cfg_as_int(v, "EarlyStopping.patience", &es->patience))
        return -1;
    if (es->patience < 0)
        return lt_set_error("EarlyStopping.patience must be >= 0, not %lld", (long long)es->patience);
    if (p && (v = lt_cfg_get(p, "min_delta")) && !lt_cfg_is_null(v) &&
        lt_cfg_as_float(v, "EarlyStopping.min_delta", &es->min_delta))
        return -1;
    es->min_delta = fabs(es->min_delta); /* Lightning flips its sign by mode */
    if (p && (v = lt_cfg_get(p, "verbose")) && !lt_cfg_is_null(v) &&
        lt_cfg_as_bool(v, "EarlyStopping.verbose", &es->verbose))
        return -1;
    es->best = es->maximize ? -INFINITY : INFINITY;
    return 0;
}

/* The callbacks the trainer acts on: EarlyStopping and TestOnTrainEnd
 * (present by default through smart_cfg_auto_populate); the others are
 * accepted by the schema and have nothing to do here. */
static int setup_callbacks(lt_trainer *t)
{
    const lt_config_trainer *tr = &t->cfg->trainer;
    for (int i = 0; i < tr->n_callbacks; i++) {
        const lt_config_callback *cb = &tr->callbacks[i];
        if (!cb->active || !cb->name) continue;
        if (!strcmp(cb->name, "EarlyStopping") && parse_early_stopping(t, cb)) return -1;
        if (!strcmp(cb->name, "TestOnTrainEnd")) {
            const lt_cfg *v = cb->params ? lt_cfg_get(cb->params, "view") : NULL;
            t->test_view = "test";
            if (v && !lt_cfg_is_null(v) && lt_cfg_as_str(v, "TestOnTrainEnd.view", &t->test_view)) return -1;
            if (view_index(t, t->test_view) < 0)
                return lt_set_error("%s: TestOnTrainEnd.view must be train, val or test, not '%s'", lt_cfg_where(v),
                                    t->test_view);
        }
    }
    return 0;
}

/* Lightning's EarlyStopping._evaluate_stopping_criteria after a
 * validation: true when training should stop. */
static int early_stopping_check(lt_trainer *t, const lt_eval_result *val, bool *stop)
{
    early_stopping *es = &t->es;
    *stop = false;
    if (!es->active) return 0;
    int k = 0;
    while (k < val->n && strcmp(val->names[k], es->monitor)) k++;
    if (k == val->n) { /* Lightning's strict mode */
        char names[1024] = "";
        for (int i = 0; i < val->n; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", val->names[i]);
        return lt_set_error("EarlyStopping: monitor '%s' is not a validation result (available: %s)", es->monitor,
                            names);
    }
    const double current = val->values[k];
    if (!isfinite(current)) {
        *stop = true;
        lt_trainer_log(t, LT_LOG_INFO, "early stopping: %s = %g is not finite", es->monitor, current);
        return 0;
    }
    const bool improved = es->maximize ? current - es->min_delta > es->best : current + es->min_delta < es->best;
    if (improved) {
        if (es->verbose) lt_trainer_log(t, LT_LOG_INFO, "early stopping: %s improved to %.6f", es->monitor, current);
        es->best = current;
        es->wait = 0;
        return 0;
    }
    if (++es->wait >= es->patience) {
        *stop = true;
        lt_trainer_log(t, LT_LOG_INFO, "early stopping: %s did not improve in the last %lld validations (best %.6f)",
                       es->monitor, (long long)es->wait, es->best);
    }
    return 0;
}

/* ------------------------------------------------------------- freezing */

static int64_t unfreeze_epoch(const lt_config_freezing *f, int64_t epochs)
{
    if (!f->has_unfreeze_after) return INT64_MAX; /* frozen for the whole run */
    return f->unfreeze_is_fraction ? (int64_t)(f->unfreeze_after * (double)epochs) : (int64_t)f->unfreeze_after;
}

/* Nodes with freezing.active train only from epoch unfreeze_after on:
 * before, their parameters have requires_grad off, so they get no
 * gradient and the optimizer skips them (its state stays untouched). At
 * the unfreeze epoch, lr_after_unfreeze rebases the node's param group
 * (build_optimization): its lr, initial_lr and the scheduler's base lr --
 * except when resuming inside that epoch, whose checkpoint holds the rates. */
static int apply_freezing(lt_trainer *t, int64_t epoch)
{
    const lt_config_model *m = &t->cfg->model;
    const int n = lt_model_n_nodes(t->model) < m->n_nodes ? lt_model_n_nodes(t->model) : m->n_nodes;
    int group = 0;
    for (int i = 0; i < n; i++) {
        const lt_config_freezing *f = &m->node_info[i].freezing;
        if (!f->active) continue;
        if (f->has_lr_after_unfreeze) group++;
        char prefix[512];
        snprintf(prefix, sizeof prefix, "%s.", lt_model_node_identifier(t->model, i));
        const bool frozen = epoch < unfreeze_epoch(f, t->cfg->trainer.epochs);
        lt_params_set_trainable(lt_model_params(t->model), prefix, !frozen);
        if (frozen || epoch != unfreeze_epoch(f, t->cfg->trainer.epochs)) continue;
        if (f->has_lr_after_unfreeze && t->start_step == 0 &&
            lt_scheduler_rebase_lr(t->sched, group, f->lr_after_unfreeze))
            return -1;
        if (f->has_lr_after_unfreeze)
            lt_trainer_log(t, LT_LOG_INFO, "unfreezing node '%s' at epoch %lld, lr %g",
                           lt_model_node_identifier(t->model, i), (long long)epoch + 1, f->lr_after_unfreeze);
        else
            lt_trainer_log(t, LT_LOG_INFO, "unfreezing node '%s' at epoch %lld", lt_model_node_identifier(t->model, i),
                           (long long)epoch + 1);
    }
    return 0;
}

/* --------------------------------------------------------- interrupting */

void lt_trainer_handle_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = lt_trainer_request_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second signal gets the default action: it ends the process */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void lt_trainer_request_stop(int signal_number)
{
    (void)signal_number;
    interrupt_flag = 1;
}

static bool stop_requested(lt_trainer *t)
{
    return interrupt_flag || (t->stop_after_steps > 0 && t->steps >= t->stop_after_steps);
}

lt_trainer *lt_trainer_new(const lt_config *cfg, const lt_trainer_options *o)
{
    if (!cfg || !o || !o->registry) {
        lt_set_error("lt_trainer_new: config and registry are required");
        return NULL;
    }
    lt_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        lt_set_error("trainer: out of memory");
        return NULL;
    }
    t->cfg = cfg;
    t->reg = o->registry;
    t->log = o->log;
    t->best_loss.dir = "min_val_loss";
    t->best_metric.dir = "best_val_metric";
    t->seed = cfg->trainer.has_seed ? (uint64_t)cfg->trainer.seed : 0;
    t->view_names[VIEW_TRAIN] = view_of(&cfg->loader.train_view, "train");
    t->view_names[VIEW_VAL] = view_of(&cfg->loader.val_view, "val");
    t->view_names[VIEW_TEST] = view_of(&cfg->loader.test_view, "test");
    if (!(t->ctx = lt_ctx_new())) {
        free(t);
        return NULL;
    }
    lt_ctx_seed(t->ctx, t->seed);
    lt_ctx *prev = enter(t);
    const lt_cfg *trainer_map = lt_cfg_peek(cfg->resolved, "trainer");
    int rc = lt_preprocess_from_cfg(trainer_map ? lt_cfg_peek(trainer_map, "preprocessing") : NULL, &t->pp);
    if (rc == 0 && !(t->ds[VIEW_TRAIN] = open_dataset(t, t->view_names[VIEW_TRAIN]))) rc = -1;
    if (rc == 0) {
        t->n_classes = t->ds[VIEW_TRAIN]->n_classes;
        rc = lt_vis_log_init(&t->vis, cfg->trainer.n_log_images, t->n_classes);
    }
    if (rc == 0) {
        rc = build_model(t);
    }
    if (rc == 0) rc = build_optimization(t);
    if (rc == 0) rc = setup_callbacks(t);
    t->stop_after_steps = o->stop_after_steps;
    const char *weights = o->weights ? o->weights : cfg->model.weights;
    const bool resume = (o->resume || cfg->trainer.resume_training) && !o->no_run_dir;
    if (rc == 0 && o->resume && !weights) rc = lt_set_error("resume: no checkpoint given");
    if (rc == 0 && weights) rc = load_weights(t, weights, resume);
    if (rc == 0 && t->start_epoch >= cfg->trainer.epochs && resume)
        rc = lt_set_error("%s: the checkpoint has done %lld of trainer.epochs %lld: nothing to resume (raise "
                          "trainer.epochs to train longer)",
                          weights, (long long)t->start_epoch, (long long)cfg->trainer.epochs);
    if (rc == 0 && !o->no_run_dir) rc = make_run_dir(t);
    lt_ctx_use(prev);
    if (rc) {
        lt_trainer_free(t);
        return NULL;
    }
    return t;
}

void lt_trainer_free(lt_trainer *t)
{
    if (!t) return;
    lt_ctx *prev = enter(t);
    for (int v = 0; v < N_VIEWS; v++) {
        lt_batcher_free(t->batcher[v]);
        lt_dataset_free(t->ds[v]);
    }
    lt_scheduler_free(t->sched);
    lt_optimizer_free(t->opt);
    lt_model_free(t->model);
    lt_ctx_use(prev == t->ctx ? NULL : prev);
    lt_ctx_free(t->ctx);
    lt_run_log_close(t->run_log);
    lt_vis_log_free(&t->vis);
    free(t->run_dir);
    free(t->resume_path);
    free(t->train_losses);
    lt_eval_result_free(&t->test_result);
    topk_free(&t->best_loss);
    topk_free(&t->best_metric);
    free(t);
}

/* ------------------------------------------------------------ evaluation */

void lt_eval_result_free(lt_eval_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) free(r->names[i]);
    free(r->names);
    free(r->values);
    *r = (lt_eval_result){.main_index = -1};
}

static int result_add(lt_eval_result *r, char *name, double value)
{
    if (!name) return -1;
    char **names = realloc(r->names, (size_t)(r->n + 1) * sizeof *names);
    if (names) r->names = names;
    double *values = names ? realloc(r->values, (size_t)(r->n + 1) * sizeof *values) : NULL;
    if (!values) {
        free(name);
        return lt_set_error("trainer: out of memory");
    }
    r->values = values;
    r->names[r->n] = name;
    r->values[r->n++] = value;
    return 0;
}

double lt_eval_result_get(const lt_eval_result *r, const char *name)
{
    for (int i = 0; r && i < r->n; i++)
        if (!strcmp(r->names[i], name)) return r->values[i];
    return NAN;
}

char *lt_eval_result_json(const lt_eval_result *r)
{
    size_t size = 16, len = 0;
    for (int i = 0; i < r->n; i++) size += strlen(r->names[i]) * 2 + 40;
    char *s = malloc(size);
    if (!s) return NULL;
    s[len++] = '{';
    for (int i = 0; i < r->n; i++) {
        len += (size_t)snprintf(s + len, size - len, "%s\"", i ? ", " : "");
        for (const char *c = r->names[i]; *c; c++) {
            if (*c == '"' || *c == '\\') s[len++] = '\\';
            s[len++] = *c;
        }
        if (isfinite(r->values[i]))
            len += (size_t)snprintf(s + len, size - len, "\": %.9g", r->values[i]);
        else
            len += (size_t)snprintf(s + len, size - len, "\": null");
    }
    snprintf(s + len, size - len, "}");
    return s;
}

static void metrics_reset(lt_model *m)
{
    for (int i = 0; i < lt_model_n_nodes(m); i++)
        for (int k = 0; k < lt_model_n_attached(m, i, LT_DESC_METRIC); k++)
            lt_attached_metric_reset(lt_model_attached(m, i, LT_DESC_METRIC, k));
}

static int metrics_update(lt_model *m, const lt_labels *labels)
{
    for (int i = 0; i < lt_model_n_nodes(m); i++)
        for (int k = 0; k < lt_model_n_attached(m, i, LT_DESC_METRIC); k++)
            if (lt_attached_metric_update(lt_model_attached(m, i, LT_DESC_METRIC, k), lt_model_packet(m, i), labels))
                return -1;
    return 0;
}

/* The main metric: the one marked is_main_metric, else the first (§6). */
static bool is_main(const lt_model *m, int node, int k)
{
    for (int i = 0; i < lt_model_n_nodes(m); i++)
        for (int j = 0; j < lt_model_n_attached(m, i, LT_DESC_METRIC); j++)
            if (lt_attached_is_main_metric(lt_model_attached(m, i, LT_DESC_METRIC, j))) return i == node && j == k;
    for (int i = 0; i < lt_model_n_nodes(m); i++)
        if (lt_model_n_attached(m, i, LT_DESC_METRIC) > 0) return i == node && k == 0;
    return false;
}

static int metrics_collect(const lt_trainer *t, const char *view, lt_eval_result *out)
{
    lt_model *m = t->model;
    for (int i = 0; i < lt_model_n_nodes(m); i++) {
        const char *node = lt_model_node_identifier(m, i);
        for (int k = 0; k < lt_model_n_attached(m, i, LT_DESC_METRIC); k++) {
            lt_attached *a = lt_model_attached(m, i, LT_DESC_METRIC, k);
            const lt_metric_result *r = NULL;
            if (lt_attached_metric_compute(a, &r)) return -1;
            const bool main = is_main(m, i, k);
            if (lt_metric_result_has_main(r)) {
                if (main) out->main_index = out->n;
                if (result_add(out, lt_format("%s/metric/%s/%s", view, node, lt_attached_identifier(a)),
                               lt_metric_result_main(r)))
                    return -1;
            }
            if (!t->cfg->trainer.log_sub_metrics && lt_metric_result_has_main(r)) continue;
            for (int s = 0; s < lt_metric_result_count(r); s++) {
                if (lt_metric_result_tensor(r, s)) continue; /* matrices are artifacts, not scalars */
                const char *name = lt_metric_result_name(r, s);
                /* A dict-only metric serves as main through its own-named entry (ConfusionMatrix's mcc). */
                if (main && out->main_index < 0 && !strcasecmp(name, "mcc")) out->main_index = out->n;
                if (result_add(out, lt_format("%s/metric/%s/%s", view, node, name), lt_metric_result_value(r, s)))
                    return -1;
            }
        }
    }
    return 0;
}

/* Up to n_log_images pictures of an evaluation's batches from every
 * visualizer (core/vis_log.h), into <run>/visualizations/<view>/. Only in
 * runs with a run directory. */
static int visualize_batch(lt_trainer *t, const lt_batch *batch, const lt_labels *labels)
{
    lt_vis_batch b;
    lt_vis_paths written = {0};
    if (lt_vis_render_batch(t->model, &t->pp, batch->images, labels, &b)) return -1;
    const int rc = lt_vis_log_batch(&t->vis, t->model, &b, (const int32_t *)batch->classes->data, &written);
    lt_vis_batch_free(&b);
    lt_vis_paths_free(&written);
    return rc;
}

static int visualize_end(lt_trainer *t)
{
    lt_vis_paths written = {0};
    int short_of = -1;
    const int rc = lt_vis_log_end(&t->vis, t->model, &written, &short_of);
    lt_vis_paths_free(&written);
    if (rc == 0 && short_of >= 0 && t->vis.n_written > 0)
        lt_trainer_log(t, LT_LOG_WARNING,
                       "logged images (%d) != expected (%d): class imbalance or a small split; topped up in order",
                       short_of, t->vis.max);
    if (rc == 0 && t->vis.n_written > 0) lt_trainer_log(t, LT_LOG_INFO, "pictures: %s/", t->vis.dir);
    return rc;
}

static int evaluate_batches(lt_trainer *t, int v, lt_batcher *b, double *mean_loss)
{
    const lt_config_trainer *tr = &t->cfg->trainer;
    const int64_t limit = v == VIEW_VAL && tr->has_n_validation_batches && tr->n_validation_batches >= 0
                              ? tr->n_validation_batches
                              : INT64_MAX;
    if (lt_batcher_start_epoch(b, 0)) return -1;
    if (t->run_dir) {
        const char *view = v == VIEW_TRAIN ? "train" : v == VIEW_VAL ? "val" : "test";
        char *dir = lt_format("%s/visualizations/%s", t->run_dir, view);
        const int rc = dir ? lt_vis_log_begin(&t->vis, dir, t->current_epoch) : -1;
        free(dir);
        if (rc) return -1;
    }
    double sum = 0.0;
    int64_t n = 0;
    lt_batch *batch;
    int rc;
    while (n < limit && (rc = lt_batcher_next(b, &batch)) == 1) {
        const lt_labels *labels = batch_labels(batch, t->n_classes);
        lt_tensor *loss = NULL;
        int err = !labels || lt_model_forward(t->model, batch->images, LT_MODE_EVAL) ||
                  !(loss = lt_model_loss(t->model, labels)) || metrics_update(t->model, labels);
        if (!err) sum += lt_item(loss);
        if (!err && t->run_dir && lt_vis_log_wants(&t->vis)) err = visualize_batch(t, batch, labels);
        lt_batch_free(batch);
        lt_ctx_reset(t->ctx);
        if (err) return -1;
        n++;
    }
    if (n < limit && rc < 0) return -1;
    if (t->run_dir && visualize_end(t)) return -1;
    *mean_loss = n ? sum / (double)n : NAN;
    return 0;
}

static int view_index(const lt_trainer *t, const char *view)
{
    for (int v = 0; v < N_VIEWS; v++)
        if (!strcmp(view, t->view_names[v])) return v;
    if (!strcmp(view, "train")) return VIEW_TRAIN;
    if (!strcmp(view, "val") || !strcmp(view, "valid")) return VIEW_VAL;
    if (!strcmp(view, "test")) return VIEW_TEST;
    return -1;
}

int lt_trainer_evaluate(lt_trainer *t, const char *view, lt_eval_result *out)
{
    *out = (lt_eval_result){.main_index = -1};
    const int v = view ? view_index(t, view) : -1;
    if (v < 0) return lt_set_error("evaluate: unknown view '%s' (expected train, val or test)", view ? view : "");
    lt_ctx *prev = enter(t);
    const bool grad = lt_set_grad_enabled(false);
    metrics_reset(t->model);
    lt_batcher *b = batcher_of(t, v);
    double loss = NAN;
    const char *label = v == VIEW_TRAIN ? "train" : v == VIEW_VAL ? "val" : "test";
    int rc = b ? evaluate_batches(t, v, b, &loss) : -1;
    if (rc == 0) rc = result_add(out, lt_format("%s/loss", label), loss);
    if (rc == 0) rc = metrics_collect(t, label, out);
    metrics_reset(t->model);
    lt_set_grad_enabled(grad);
    lt_ctx_use(prev);
    if (rc) lt_eval_result_free(out);
    return rc;
}

/* -------------------------------------------------------------- training */

/* torch.nn.utils.clip_grad_norm_ (L2) or clip_grad_value_. */
static void clip_gradients(lt_params *p, double max, bool by_value)
{
    const size_t n = lt_params_count(p);
    if (by_value) {
        const float v = (float)max;
        for (size_t i = 0; i < n; i++) {
            lt_tensor *x = lt_params_at(p, i);
            if (!x->grad || !lt_requires_grad(x)) continue;
            for (int64_t j = 0; j < x->numel; j++) x->grad[j] = fminf(fmaxf(x->grad[j], -v), v);
        }
        return;
    }
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const lt_tensor *x = lt_params_at(p, i);
        if (!x->grad || !lt_requires_grad(x)) continue;
        double s = 0.0;
        for (int64_t j = 0; j < x->numel; j++) s += (double)x->grad[j] * x->grad[j];
        total += s;
    }
    const float coef = (float)(max / (sqrt(total) + 1e-6));
    if (coef >= 1.0f) return; /* torch multiplies by the clamped 1: a no-op */
    for (size_t i = 0; i < n; i++) {
        lt_tensor *x = lt_params_at(p, i);
        if (!x->grad || !lt_requires_grad(x)) continue;
        for (int64_t j = 0; j < x->numel; j++) x->grad[j] *= coef;
    }
}

int lt_trainer_forward_backward(lt_trainer *t, lt_tensor *images, const lt_labels *labels, int64_t accumulate,
                                int64_t batch_index, double *loss_value)
{
    if (lt_model_forward(t->model, images, LT_MODE_TRAIN)) return -1;
    lt_profile_scope loss_scope = lt_profile_begin(LT_PROFILE_LOSS);
    lt_tensor *loss = lt_model_loss(t->model, labels);
    lt_profile_end(loss_scope);
    if (!loss) return -1;
    *loss_value = lt_item(loss);
    if (!isfinite(*loss_value)) return lt_set_error("train: the loss is %g at batch %lld", *loss_value,
                                                    (long long)batch_index);
    lt_tensor *scaled = accumulate > 1 ? lt_mul_scalar(loss, 1.0f / (float)accumulate) : loss;
    return scaled ? lt_backward(scaled) : -1;
}

static int train_step(lt_trainer *t, const lt_batch *batch, int64_t accumulate, double *loss_value)
{
    const lt_labels *labels = batch_labels(batch, t->n_classes);
    if (!labels) return -1;
    return lt_trainer_forward_backward(t, batch->images, labels, accumulate, batch->index, loss_value);
}

int lt_trainer_optimizer_step(lt_trainer *t)
{
    const lt_config_trainer *tr = &t->cfg->trainer;
    if (tr->has_gradient_clip_val && tr->gradient_clip_val > 0.0)
        clip_gradients(lt_model_params(t->model), tr->gradient_clip_val,
                       tr->gradient_clip_algorithm && !strcmp(tr->gradient_clip_algorithm, "value"));
    if (lt_optimizer_step(t->opt)) return -1;
    lt_optimizer_zero_grad(t->opt);
    return lt_scheduler_per_step(t->sched) ? lt_scheduler_step(t->sched) : 0;
}

static void progress(const lt_trainer *t, int64_t epoch, int64_t i, int64_t n, double loss)
{
    if (!t->log || !isatty(fileno(t->log))) return;
    enum { WIDTH = 24 };
    const int filled = n > 0 ? (int)(WIDTH * i / n) : WIDTH;
    char bar[WIDTH + 1];
    for (int k = 0; k < WIDTH; k++) bar[k] = k < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(t->log, "\repoch %lld/%lld [%s] %lld/%lld loss %.4f", (long long)epoch + 1,
            (long long)t->cfg->trainer.epochs, bar, (long long)i, (long long)n, loss);
    fflush(t->log);
}

/* Skips the batches an interrupted run already trained in this epoch. */
static int resume_within_epoch(lt_trainer *t, lt_batcher *b, int64_t *i, double *sum)
{
    for (; *i < t->start_step; ++*i) {
        lt_batch *batch;
        const int rc = lt_batcher_next(b, &batch);
        if (rc < 0) return -1;
        if (rc == 0) return lt_set_error("resume: the checkpoint is %lld batches into an epoch of %lld",
                                         (long long)t->start_step, (long long)*i);
        lt_batch_free(batch);
    }
    *sum = t->start_loss_sum;
    t->start_step = 0;
    return 0;
}

/* One epoch; *done is the number of batches trained, short of the
 * epoch's when a stop was requested (then at an optimizer step). */
static int train_epoch(lt_trainer *t, int64_t epoch, double *mean_loss, int64_t *done, double *loss_sum)
{
    lt_batcher *b = t->batcher[VIEW_TRAIN];
    if (lt_batcher_start_epoch(b, epoch)) return -1;
    const int64_t n_batches = lt_batcher_n_batches(b);
    const int64_t accumulate =
        t->cfg->trainer.has_accumulate_grad_batches && t->cfg->trainer.accumulate_grad_batches > 1
            ? t->cfg->trainer.accumulate_grad_batches
            : 1;
    lt_optimizer_zero_grad(t->opt);
    lt_set_grad_enabled(true);
    double sum = 0.0;
    int64_t i = 0;
    if (t->start_step > 0 && resume_within_epoch(t, b, &i, &sum)) return -1;
    lt_batch *batch;
    int rc = 0;
    while (!(i > 0 && i % accumulate == 0 && stop_requested(t)) && (rc = lt_batcher_next(b, &batch)) == 1) {
        double loss = 0.0;
        /* Dropout masks from (seed, epoch, batch): a resumed run draws the same. */
        lt_ctx_seed(t->ctx, lt_hash64(t->seed ^ lt_hash64(((uint64_t)epoch << 32) + (uint64_t)i + 1)));
        const int err = train_step(t, batch, accumulate, &loss);
        lt_batch_free(batch);
        lt_ctx_reset(t->ctx);
        if (err) return -1;
        sum += loss;
        i++;
        t->steps++;
        if ((i % accumulate == 0 || i == n_batches) && lt_trainer_optimizer_step(t)) return -1;
        progress(t, epoch, i, n_batches, sum / (double)i);
    }
    if (rc < 0) return -1;
    if (i == 0) return lt_set_error("train: the training view '%s' gave no batches", t->view_names[VIEW_TRAIN]);
    *mean_loss = sum / (double)i;
    *done = i;
    *loss_sum = sum;
    return 0;
}

static void format_name(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s", name);
    for (char *c = out; *c; c++)
        if (*c == '/') *c = '_';
}

/* Validation, checkpoints and the scheduler's metric step. */
static int validate(lt_trainer *t, int64_t epoch, lt_eval_result *val)
{
    if (lt_trainer_evaluate(t, "val", val)) return -1;
    const double loss = val->values[0];
    const char *model = t->cfg->model.name ? t->cfg->model.name : "model";
    char file[512];
    snprintf(file, sizeof file, "%s_loss=%.4f_%02lld", model, loss, (long long)epoch);
    if (isfinite(loss) && topk_offer(t, &t->best_loss, -loss, file, epoch + 1)) return -1;
    if (val->main_index >= 0) {
        const char *full = val->names[val->main_index] + strlen("val/metric/");
        char metric[256];
        format_name(metric, sizeof metric, full);
        const double score = val->values[val->main_index];
        snprintf(file, sizeof file, "%s_%s=%.4f_loss=%.4f_%02lld", model, metric, score, loss, (long long)epoch);
        if (isfinite(score) && topk_offer(t, &t->best_metric, score, file, epoch + 1)) return -1;
    }
    if (lt_scheduler_needs_metric(t->sched) && lt_scheduler_step_metric(t->sched, loss)) return -1;
    return 0;
}

/* An evaluation's results as rows of metrics.csv at `step`. */
static void log_metrics(const lt_trainer *t, const lt_eval_result *r, int64_t step)
{
    for (int i = 0; r && i < r->n; i++) lt_run_log_metric(t->run_log, r->names[i], r->values[i], step);
}

/* The epoch's line, and its scalars (train/loss, the learning rate under
 * LearningRateMonitor's name lr-<optimizer>, the validation results). */
static void log_epoch(const lt_trainer *t, int64_t epoch, double train_loss, const lt_eval_result *val,
                      double seconds)
{
    char line[1024], lr_name[64];
    int n = snprintf(line, sizeof line, "epoch %lld/%lld  train/loss %.4f", (long long)epoch + 1,
                     (long long)t->cfg->trainer.epochs, train_loss);
    if (val && n < (int)sizeof line) {
        n += snprintf(line + n, sizeof line - (size_t)n, "  val/loss %.4f", val->values[0]);
        if (val->main_index >= 0 && n < (int)sizeof line)
            n += snprintf(line + n, sizeof line - (size_t)n, "  %s %.4f", val->names[val->main_index],
                          val->values[val->main_index]);
    }
    const double lr = lt_optimizer_get_lr(t->opt);
    if (n < (int)sizeof line) snprintf(line + n, sizeof line - (size_t)n, "  lr %.3g  %.1fs", lr, seconds);
    lt_trainer_log(t, LT_LOG_INFO, "%s", line);
    snprintf(lr_name, sizeof lr_name, "lr-%s", lt_optimizer_name(t->opt));
    lt_run_log_metric(t->run_log, "train/loss", train_loss, epoch);
    lt_run_log_metric(t->run_log, lr_name, lr, epoch);
    log_metrics(t, val, epoch);
}

static bool validates_after(const lt_config_trainer *tr, int64_t epoch)
{
    const int64_t done = epoch + 1;
    if (done == tr->epochs) return true;
    if (done == 1 && tr->run_validation_after_first_epoch) return true;
    return tr->validation_interval > 0 && done % tr->validation_interval == 0;
}

/* The epoch loop: train, validate (early stopping), step the scheduler,
 * write last.safetensors; an interrupt writes it mid-epoch and stops. */
static int fit_epochs(lt_trainer *t)
{
    const lt_config_trainer *tr = &t->cfg->trainer;
    if (!batcher_of(t, VIEW_TRAIN)) return -1;
    free(t->train_losses);
    t->n_train_losses = 0;
    if (!(t->train_losses = calloc((size_t)(tr->epochs > 0 ? tr->epochs : 1), sizeof *t->train_losses)))
        return lt_set_error("trainer: out of memory");
    free(t->resume_path);
    if (!(t->resume_path = lt_format("%s/last.safetensors", t->run_dir))) return -1;
    const int64_t n_batches = lt_batcher_n_batches(t->batcher[VIEW_TRAIN]);
    int rc = 0;
    for (int64_t epoch = t->start_epoch; rc == 0 && epoch < tr->epochs; epoch++) {
        t->current_epoch = epoch;
        const double start = lt_profile_seconds();
        double loss = 0.0, loss_sum = 0.0;
        int64_t done = 0;
        if ((rc = apply_freezing(t, epoch))) break;
        if ((rc = train_epoch(t, epoch, &loss, &done, &loss_sum))) break;
        if (done < n_batches) { /* interrupted within the epoch */
            t->interrupted = true;
            rc = save_checkpoint_at(t, t->resume_path, epoch, done, loss_sum);
            break;
        }
        t->train_losses[t->n_train_losses++] = loss;
        lt_eval_result val = {.main_index = -1};
        const bool validated = validates_after(tr, epoch);
        bool stop = false;
        if (validated) rc = validate(t, epoch, &val);
        if (rc == 0 && validated) rc = early_stopping_check(t, &val, &stop);
        if (rc == 0 && !lt_scheduler_per_step(t->sched) && !lt_scheduler_needs_metric(t->sched))
            rc = lt_scheduler_step(t->sched);
        if (rc == 0) rc = save_checkpoint(t, t->resume_path, epoch + 1);
        if (rc == 0) log_epoch(t, epoch, loss, validated ? &val : NULL, lt_profile_seconds() - start);
        lt_eval_result_free(&val);
        if (rc == 0 && stop) {
            t->stopped_early = true;
            break;
        }
        if (rc == 0 && epoch + 1 < tr->epochs && stop_requested(t)) {
            t->interrupted = true;
            break;
        }
    }
    if (t->interrupted) interrupt_flag = 0;
    if (rc == 0 && t->interrupted)
        lt_trainer_log(t, LT_LOG_WARNING, "interrupted: training state saved to %s", t->resume_path);
    return rc;
}

/* TestOnTrainEnd's results: one line, and rows at step = epochs trained. */
static void log_test(const lt_trainer *t)
{
    char line[2048];
    int n = 0;
    for (int i = 0; i < t->test_result.n && n < (int)sizeof line; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%s%s %.4f", i ? "  " : "", t->test_result.names[i],
                      t->test_result.values[i]);
    lt_trainer_log(t, LT_LOG_INFO, "%s", n ? line : "test: no results");
    log_metrics(t, &t->test_result, t->current_epoch);
}

/* The kept checkpoint with the best score, or NULL. */
static const char *topk_best(const topk *list)
{
    const kept_ckpt *best = NULL;
    for (int i = 0; i < list->n; i++)
        if (!best || list->items[i].score > best->score) best = &list->items[i];
    return best ? best->path : NULL;
}

/* Where the run's checkpoints are, for the user's next command. */
static void log_checkpoints(const lt_trainer *t)
{
    const char *metric = topk_best(&t->best_metric), *loss = topk_best(&t->best_loss);
    if (metric) lt_trainer_log(t, LT_LOG_INFO, "best checkpoint (main metric): %s", metric);
    if (loss) lt_trainer_log(t, LT_LOG_INFO, "best checkpoint (val loss): %s", loss);
    if (t->resume_path) lt_trainer_log(t, LT_LOG_INFO, "last checkpoint: %s", t->resume_path);
}

int lt_trainer_fit(lt_trainer *t)
{
    if (!t->run_dir) return lt_set_error("fit: the trainer was made without a run directory");
    lt_ctx *prev = enter(t);
    lt_trainer_log(t, LT_LOG_INFO, "run directory: %s", t->run_dir);
    if (t->start_epoch > 0)
        lt_trainer_log(t, LT_LOG_INFO, "resuming at epoch %lld%s", (long long)t->start_epoch + 1,
                t->start_step > 0 ? " (within the epoch)" : "");
    t->steps = 0;
    t->interrupted = t->stopped_early = false;
    int rc = fit_epochs(t);
    if (rc == 0 && !t->interrupted) log_checkpoints(t);
    if (rc == 0 && t->test_view && !t->interrupted) { /* TestOnTrainEnd */
        lt_eval_result_free(&t->test_result);
        t->current_epoch = t->start_epoch + t->n_train_losses;
        rc = lt_trainer_evaluate(t, t->test_view, &t->test_result);
        t->has_test_result = rc == 0;
        if (rc == 0) log_test(t);
    }
    lt_ctx_use(prev);
    return rc;
}

bool lt_trainer_interrupted(const lt_trainer *t) { return t->interrupted; }

bool lt_trainer_stopped_early(const lt_trainer *t) { return t->stopped_early; }

const char *lt_trainer_resume_checkpoint(const lt_trainer *t) { return t->resume_path; }

/* The run of <save_directory> with the largest number whose
 * training_config.yaml is this config's and which has last.safetensors. */
char *lt_trainer_find_resume(const lt_config *cfg)
{
    const char *base = cfg->tracker.save_directory ? cfg->tracker.save_directory : "output";
    char *yaml = lt_config_to_yaml(cfg);
    if (!yaml) return NULL;
    DIR *d = opendir(base);
    if (!d) {
        free(yaml);
        lt_set_error("resume: %s: %s", base, strerror(errno));
        return NULL;
    }
    long best = -1;
    char *found = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        const long n = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '-' || n <= best) continue;
        char *ckpt = lt_format("%s/%s/last.safetensors", base, e->d_name);
        char *config = lt_format("%s/%s/training_config.yaml", base, e->d_name);
        struct stat st;
        bool match = ckpt && config && stat(ckpt, &st) == 0;
        if (match) {
            FILE *f = fopen(config, "rb");
            const size_t len = strlen(yaml);
            char *text = f ? malloc(len + 2) : NULL;
            match = text && fread(text, 1, len + 1, f) == len && !memcmp(text, yaml, len);
            free(text);
            if (f) fclose(f);
        }
        if (match) {
            free(found);
            found = ckpt;
            best = n;
        } else {
            free(ckpt);
        }
        free(config);
    }
    closedir(d);
    free(yaml);
    if (!found)
        lt_set_error("resume: no run under '%s' has this config and a last.safetensors; pass --resume CKPT", base);
    return found;
}

const char *lt_trainer_run_dir(const lt_trainer *t) { return t->run_dir; }

lt_run_log *lt_trainer_run_log(lt_trainer *t) { return t->run_log; }

lt_model *lt_trainer_model(lt_trainer *t) { return t->model; }

lt_ctx *lt_trainer_ctx(lt_trainer *t) { return t->ctx; }

lt_optimizer *lt_trainer_optimizer(lt_trainer *t) { return t->opt; }

int lt_trainer_n_classes(const lt_trainer *t) { return t->n_classes; }

const lt_preprocess *lt_trainer_preprocess(const lt_trainer *t) { return &t->pp; }

lt_dataset *lt_trainer_dataset(lt_trainer *t, const char *view)
{
    const int v = view ? view_index(t, view) : -1;
    if (v < 0) {
        lt_set_error("dataset: unknown view '%s' (expected train, val or test)", view ? view : "");
        return NULL;
    }
    if (!t->ds[v]) t->ds[v] = open_dataset(t, t->view_names[v]);
    return t->ds[v];
}

const double *lt_trainer_train_losses(const lt_trainer *t, int *n)
{
    *n = t->n_train_losses;
    return t->train_losses;
}

const lt_eval_result *lt_trainer_test_result(const lt_trainer *t)
{
    return t->has_test_result ? &t->test_result : NULL;
}
