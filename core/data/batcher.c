/* Batches for the trainer: a per-epoch order (shuffled from (seed, epoch)),
 * batches built by worker threads a bounded window ahead of the consumer
 * and handed over strictly in order. A batch's content depends only on the
 * order and on (seed, epoch, sample index), never on which thread built it,
 * so 0, 1 or N workers give the same bits.
 *
 * Threading: one mutex guards the order, the claim/take counters and the
 * slots. Workers copy a batch's sample ids under the lock and build it
 * unlocked; a batch finished for an epoch that was restarted meanwhile
 * (generation changed) is dropped. */
#define _POSIX_C_SOURCE 200809L
#include "data.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    bool filled;
    lt_batch *batch; /* NULL with error set when building failed */
    char *error;
} slot;

struct lt_batcher {
    const lt_dataset *ds;
    const lt_preprocess *pp;
    lt_batcher_options o;
    int64_t n_samples, n_batches;
    int64_t *order;

    pthread_mutex_t mu;
    pthread_cond_t work_cv, ready_cv;
    pthread_t *threads;
    int n_threads;
    bool stop, started;
    uint64_t generation;
    int64_t epoch, next_claim, next_take;
    int window;
    slot *slots;
};

void lt_batch_free(lt_batch *b)
{
    if (!b) return;
    free(b->sample_ids);
    lt_tensor_free(b->images);
    lt_tensor_free(b->classes);
    lt_tensor_free(b->boxes);
    lt_tensor_free(b->masks);
    lt_tensor_free(b->keypoints);
    free(b);
}

/* ---- building one batch ---- */

/* Labels of the objects of a batch, gathered before their count is known. */
typedef struct objects {
    int m, k, hw;
    float *boxes, *kpts, *masks;
} objects;

static void add_object(objects *ob, int row, const lt_sample *s)
{
    float *b = ob->boxes + (size_t)ob->m * 6;
    b[0] = (float)row, b[1] = (float)s->cls;
    memcpy(b + 2, s->box, sizeof s->box);
    if (ob->kpts) {
        float *k = ob->kpts + (size_t)ob->m * (1 + 3 * ob->k);
        k[0] = (float)row;
        for (int i = 0; i < 3 * ob->k; i++) k[1 + i] = i < 3 * s->n_keypoints ? s->keypoints[i] : 0;
    }
    if (ob->masks)
        for (int i = 0; i < ob->hw; i++) ob->masks[(size_t)ob->m * ob->hw + i] = s->mask ? (float)s->mask[i] : 0;
    ob->m++;
}

static lt_tensor *rows_tensor(const float *src, int m, int cols, int ndim, const int64_t *inner)
{
    int64_t shape[3] = {m, cols, 0};
    if (ndim == 3) shape[1] = inner[0], shape[2] = inner[1];
    lt_tensor *t = lt_tensor_new(LT_F32, ndim, shape);
    if (t && t->numel) memcpy(t->data, src, sizeof(float) * (size_t)t->numel);
    return t;
}

static int finish_objects(const lt_batcher *b, lt_batch *out, const objects *ob)
{
    out->boxes = rows_tensor(ob->boxes, ob->m, 6, 2, NULL);
    if (!out->boxes) return -1;
    if (ob->kpts && !(out->keypoints = rows_tensor(ob->kpts, ob->m, 1 + 3 * ob->k, 2, NULL))) return -1;
    int64_t hw[2] = {b->pp->height, b->pp->width};
    if (ob->masks && !(out->masks = rows_tensor(ob->masks, ob->m, 0, 3, hw))) return -1;
    return 0;
}

static int build_samples(const lt_batcher *b, lt_batch *out, objects *ob)
{
    const lt_dataset *ds = b->ds;
    size_t chw = (size_t)lt_preprocess_channels(b->pp) * b->pp->height * b->pp->width;
    for (int i = 0; i < out->n; i++) {
        lt_sample s;
        if (ds->get(ds, out->sample_ids[i], &s)) return -1;
        lt_rng rng;
        lt_sample_rng(&rng, b->o.seed, out->epoch, out->sample_ids[i]);
        int rc = lt_preprocess_apply(b->pp, b->o.stage, &rng, &s, lt_f32(out->images) + i * chw);
        if (rc == 0) {
            lt_i32(out->classes)[i] = s.cls;
            if (ob->boxes && s.has_box) add_object(ob, i, &s);
        }
        lt_sample_free(&s);
        if (rc) return -1;
    }
    return 0;
}

static lt_batch *build_batch(const lt_batcher *b, lt_batch *out)
{
    const lt_dataset *ds = b->ds;
    const lt_preprocess *pp = b->pp;
    int n = out->n;
    out->images = lt_tensor_new(LT_F32, 4, (int64_t[]){n, lt_preprocess_channels(pp), pp->height, pp->width});
    out->classes = lt_tensor_new(LT_I32, 1, (int64_t[]){n});
    objects ob = {.k = ds->n_keypoints, .hw = pp->height * pp->width};
    bool oom = !out->images || !out->classes;
    if (ds->has_boxes) {
        ob.boxes = malloc(sizeof(float) * 6 * (size_t)n);
        ob.kpts = ob.k ? malloc(sizeof(float) * (size_t)(1 + 3 * ob.k) * n) : NULL;
        ob.masks = ds->has_masks ? malloc(sizeof(float) * (size_t)ob.hw * n) : NULL;
        oom = oom || !ob.boxes || (ob.k && !ob.kpts) || (ds->has_masks && !ob.masks);
    }
    int rc = oom ? lt_set_error("batcher: out of memory for a batch of %d", n) : build_samples(b, out, &ob);
    if (rc == 0 && ds->has_boxes) rc = finish_objects(b, out, &ob);
    free(ob.boxes), free(ob.kpts), free(ob.masks);
    if (rc) {
        lt_batch_free(out);
        return NULL;
    }
    return out;
}

/* A batch shell with its sample ids (called under the lock). */
static lt_batch *batch_shell(const lt_batcher *b, int64_t index)
{
    lt_batch *out = calloc(1, sizeof *out);
    int64_t start = index * b->o.batch_size, end = start + b->o.batch_size;
    if (end > b->n_samples) end = b->n_samples;
    if (out) out->sample_ids = malloc(sizeof *out->sample_ids * (size_t)(end - start));
    if (!out || !out->sample_ids) {
        free(out);
        lt_set_error("batcher: out of memory");
        return NULL;
    }
    out->epoch = b->epoch, out->index = index, out->n = (int)(end - start);
    memcpy(out->sample_ids, b->order + start, sizeof *out->sample_ids * (size_t)out->n);
    return out;
}

/* ---- workers ---- */

static void slot_clear(slot *s)
{
    lt_batch_free(s->batch);
    free(s->error);
    memset(s, 0, sizeof *s);
}

static bool has_work(const lt_batcher *b)
{
    return b->started && b->next_claim < b->n_batches && b->next_claim < b->next_take + b->window;
}

static void *worker_main(void *arg)
{
    lt_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        if (!has_work(b)) {
            pthread_cond_wait(&b->work_cv, &b->mu);
            continue;
        }
        int64_t index = b->next_claim++;
        uint64_t generation = b->generation;
        lt_batch *shell = batch_shell(b, index);
        pthread_mutex_unlock(&b->mu);
        lt_batch *done = shell ? build_batch(b, shell) : NULL;
        char *error = done ? NULL : strdup(lt_last_error());
        pthread_mutex_lock(&b->mu);
        if (generation != b->generation) { /* the epoch was restarted: drop it */
            lt_batch_free(done);
            free(error);
            continue;
        }
        slot *s = &b->slots[index % b->window];
        s->filled = true, s->batch = done, s->error = error;
        pthread_cond_broadcast(&b->ready_cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- public ---- */

static int check_options(const lt_dataset *ds, const lt_preprocess *pp, const lt_batcher_options *o)
{
    if (!ds || !pp || !o) return lt_set_error("batcher: dataset, preprocessing and options are required");
    if (o->batch_size <= 0) return lt_set_error("batcher: batch_size must be > 0, got %d", o->batch_size);
    if (o->n_workers < 0 || o->n_workers > 256)
        return lt_set_error("batcher: n_workers must be in [0, 256], got %d", o->n_workers);
    if (o->limit < 0) return lt_set_error("batcher: limit must be >= 0, got %lld", (long long)o->limit);
    if (ds->n <= 0) return lt_set_error("batcher: the dataset is empty");
    return 0;
}

static int start_workers(lt_batcher *b)
{
    b->window = b->o.prefetch > 0 ? b->o.prefetch : 2 * b->o.n_workers;
    if (b->window < b->o.n_workers) b->window = b->o.n_workers;
    b->slots = calloc((size_t)b->window, sizeof *b->slots);
    b->threads = calloc((size_t)b->o.n_workers, sizeof *b->threads);
    if (!b->slots || !b->threads) return lt_set_error("batcher: out of memory");
    for (int i = 0; i < b->o.n_workers; i++) {
        if (pthread_create(&b->threads[i], NULL, worker_main, b) != 0)
            return lt_set_error("batcher: cannot start worker thread %d of %d", i + 1, b->o.n_workers);
        b->n_threads++;
    }
    return 0;
}

lt_batcher *lt_batcher_new(const lt_dataset *ds, const lt_preprocess *pp, const lt_batcher_options *o)
{
    if (check_options(ds, pp, o)) return NULL;
    lt_batcher *b = calloc(1, sizeof *b);
    if (!b) return lt_set_error("batcher: out of memory"), NULL;
    b->ds = ds, b->pp = pp, b->o = *o;
    b->n_samples = o->limit > 0 && o->limit < ds->n ? o->limit : ds->n;
    b->n_batches = o->drop_last ? b->n_samples / o->batch_size : (b->n_samples + o->batch_size - 1) / o->batch_size;
    b->order = malloc(sizeof *b->order * (size_t)b->n_samples);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work_cv, NULL);
    pthread_cond_init(&b->ready_cv, NULL);
    if (!b->order) {
        lt_set_error("batcher: out of memory");
        lt_batcher_free(b);
        return NULL;
    }
    if (o->n_workers > 0 && start_workers(b)) {
        lt_batcher_free(b);
        return NULL;
    }
    return b;
}

int64_t lt_batcher_n_batches(const lt_batcher *b)
{
    return b ? b->n_batches : 0;
}

/* The epoch's order: identity, or a Fisher-Yates shuffle from (seed, epoch)
 * over the whole dataset when shuffling (limit then takes its prefix). */
static void make_order(lt_batcher *b)
{
    int64_t n = b->ds->n;
    if (!b->o.shuffle) {
        for (int64_t i = 0; i < b->n_samples; i++) b->order[i] = i;
        return;
    }
    int64_t *all = n == b->n_samples ? b->order : malloc(sizeof *all * (size_t)n);
    if (!all) all = b->order, n = b->n_samples; /* out of memory: shuffle the prefix only */
    for (int64_t i = 0; i < n; i++) all[i] = i;
    lt_rng rng;
    lt_rng_seed(&rng, lt_hash64(lt_hash64(b->o.seed ^ 0x5348554646ull) ^ (uint64_t)b->epoch));
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)lt_rng_below(&rng, (uint64_t)i + 1), t = all[i];
        all[i] = all[j], all[j] = t;
    }
    if (all != b->order) {
        memcpy(b->order, all, sizeof *all * (size_t)b->n_samples);
        free(all);
    }
}

int lt_batcher_start_epoch(lt_batcher *b, int64_t epoch)
{
    if (!b) return lt_set_error("batcher: NULL batcher");
    pthread_mutex_lock(&b->mu);
    b->generation++;
    for (int i = 0; i < b->window; i++) slot_clear(&b->slots[i]);
    b->epoch = epoch;
    make_order(b);
    b->next_claim = b->next_take = 0;
    b->started = true;
    pthread_cond_broadcast(&b->work_cv);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* Ends the epoch after a failure: workers stop claiming its batches. */
static void abandon_epoch(lt_batcher *b)
{
    b->generation++;
    for (int i = 0; i < b->window; i++) slot_clear(&b->slots[i]);
    b->next_take = b->next_claim = b->n_batches;
}

int lt_batcher_next(lt_batcher *b, lt_batch **out)
{
    *out = NULL;
    if (!b) return lt_set_error("batcher: NULL batcher");
    if (!b->started) return lt_set_error("batcher: lt_batcher_start_epoch was not called");
    if (b->n_threads == 0) {
        if (b->next_take >= b->n_batches) return 0;
        lt_batch *shell = batch_shell(b, b->next_take);
        if (!shell || !(*out = build_batch(b, shell))) {
            b->next_take = b->n_batches;
            return -1;
        }
        b->next_take++;
        return 1;
    }
    pthread_mutex_lock(&b->mu);
    int rc = 0;
    if (b->next_take < b->n_batches) {
        slot *s = &b->slots[b->next_take % b->window];
        while (!s->filled) pthread_cond_wait(&b->ready_cv, &b->mu);
        if (s->batch) {
            *out = s->batch, s->batch = NULL, rc = 1;
            slot_clear(s);
            b->next_take++;
            pthread_cond_broadcast(&b->work_cv);
        } else {
            rc = lt_set_error("%s", s->error ? s->error : "batcher: out of memory");
            abandon_epoch(b);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void lt_batcher_free(lt_batcher *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_broadcast(&b->work_cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_threads; i++) pthread_join(b->threads[i], NULL);
    for (int i = 0; i < b->window && b->slots; i++) slot_clear(&b->slots[i]);
    pthread_cond_destroy(&b->ready_cv);
    pthread_cond_destroy(&b->work_cv);
    pthread_mutex_destroy(&b->mu);
    free(b->slots);
    free(b->threads);
    free(b->order);
    free(b);
}
