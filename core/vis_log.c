/* The trainer's evaluation pictures (core/vis_log.h). */
#include "vis_log.h"

#include <stdlib.h>
#include <string.h>

enum { PATH_SIZE = 4096 };

int lt_vis_log_init(lt_vis_log *l, int64_t n_log_images, int n_classes)
{
    *l = (lt_vis_log){.max = n_log_images > 0 ? (int)n_log_images : 0, .n_classes = n_classes,
                      .needs_buffering = true};
    if (n_classes > 0 && !(l->class_counts = calloc((size_t)n_classes, sizeof *l->class_counts)))
        return lt_set_error("visualize: out of memory");
    return 0;
}

static void clear_buffer(lt_vis_log *l)
{
    for (int i = 0; i < l->n_buffer; i++) lt_vis_batch_free(&l->buffer[i]);
    free(l->buffer);
    l->buffer = NULL;
    l->n_buffer = 0;
}

void lt_vis_log_free(lt_vis_log *l)
{
    clear_buffer(l);
    free(l->class_counts);
    free(l->dir);
    *l = (lt_vis_log){0};
}

int lt_vis_log_begin(lt_vis_log *l, const char *dir, int64_t epoch)
{
    free(l->dir);
    if (!(l->dir = strdup(dir))) return lt_set_error("visualize: out of memory");
    l->epoch = epoch;
    l->n_logged = l->n_written = 0;
    if (l->class_counts) memset(l->class_counts, 0, (size_t)l->n_classes * sizeof *l->class_counts);
    clear_buffer(l);
    return 0;
}

bool lt_vis_log_wants(const lt_vis_log *l) { return l->n_logged < l->max; }

static int save(lt_vis_log *l, const lt_model *m, const lt_vis_batch *b, int s, int64_t index, int counter,
                lt_vis_paths *written)
{
    char path[PATH_SIZE];
    const char *node = lt_model_node_identifier(m, b->node[s]), *viz = lt_attached_identifier(b->viz[s]);
    if (snprintf(path, sizeof path, "%s/%s/%s/%lld", l->dir, node, viz, (long long)l->epoch) >= (int)sizeof path)
        return lt_set_error("%s: path too long", l->dir);
    if (lt_vis_mkdir_p(path)) return -1;
    const size_t len = strlen(path);
    snprintf(path + len, sizeof path - len, "/%d.png", counter);
    if (lt_vis_save_picture(b->pictures[s], index, path)) return -1;
    l->n_written++;
    return lt_vis_paths_add(written, path);
}

/* log_sequential_images: per node a counter from n_logged, shared by its
 * visualizers, over the samples `idx`; n_logged becomes the last node's. */
static int log_sequential(lt_vis_log *l, const lt_model *m, const lt_vis_batch *b, const int64_t *idx, int n_idx,
                          lt_vis_paths *written)
{
    int counter = l->n_logged, last = l->n_logged;
    for (int s = 0; s < b->n; s++) {
        if (s == 0 || b->node[s] != b->node[s - 1]) counter = l->n_logged;
        for (int j = 0; j < n_idx && counter < l->max; j++, counter++)
            if (save(l, m, b, s, idx[j], counter, written)) return -1;
        last = counter;
    }
    if (b->n > 0) l->n_logged = last;
    return 0;
}

/* compute_visualization_buffer: the samples not taken, up to max less what
 * the first kept batch holds. */
static int keep_passed_over(lt_vis_log *l, const lt_vis_batch *b, const bool *taken, int64_t batch)
{
    const int64_t held = l->n_buffer > 0 && l->buffer[0].n > 0 ? l->buffer[0].pictures[0]->shape[0] : 0;
    int64_t free_n = 0;
    for (int64_t i = 0; i < batch; i++) free_n += !taken[i];
    if (held >= l->max || free_n == 0 || b->n == 0) return 0;
    const int64_t keep = free_n < l->max - held ? free_n : l->max - held;
    lt_vis_batch *grown = realloc(l->buffer, ((size_t)l->n_buffer + 1) * sizeof *grown);
    if (!grown) return lt_set_error("visualize: out of memory");
    l->buffer = grown;
    lt_vis_batch *e = &l->buffer[l->n_buffer++];
    *e = (lt_vis_batch){.n = b->n};
    e->node = malloc((size_t)b->n * sizeof *e->node);
    e->viz = malloc((size_t)b->n * sizeof *e->viz);
    e->pictures = calloc((size_t)b->n, sizeof *e->pictures);
    if (!e->node || !e->viz || !e->pictures) return lt_set_error("visualize: out of memory");
    for (int s = 0; s < b->n; s++) {
        const lt_tensor *p = b->pictures[s];
        const int64_t one = p->shape[1] * p->shape[2] * p->shape[3];
        e->node[s] = b->node[s];
        e->viz[s] = b->viz[s];
        if (!(e->pictures[s] = lt_tensor_new(LT_U8, 4, (const int64_t[]){keep, p->shape[1], p->shape[2], p->shape[3]})))
            return lt_set_error("visualize: out of memory");
        int64_t k = 0;
        for (int64_t i = 0; i < batch && k < keep; i++)
            if (!taken[i]) memcpy(lt_u8(e->pictures[s]) + k++ * one, lt_u8(p) + i * one, (size_t)one);
    }
    return 0;
}

int lt_vis_log_batch(lt_vis_log *l, const lt_model *m, const lt_vis_batch *b, const int32_t *classes,
                     lt_vis_paths *written)
{
    if (b->n == 0) return 0;
    const int64_t batch = b->pictures[0]->shape[0];
    int64_t *idx = malloc((size_t)batch * sizeof *idx);
    bool *taken = calloc((size_t)batch, sizeof *taken);
    int n_idx = 0, rc = 0;
    if (!idx || !taken) {
        free(idx);
        free(taken);
        return lt_set_error("visualize: out of memory");
    }
    for (int64_t i = 0; i < batch; i++) {
        if (!classes || !l->class_counts) { /* no class labels: the first ones */
            idx[n_idx++] = i;
            continue;
        }
        const int c = classes[i];
        if (c < 0 || c >= l->n_classes) continue; /* a sample without a class is never taken */
        int least = l->class_counts[0];
        for (int k = 1; k < l->n_classes; k++)
            if (l->class_counts[k] < least) least = l->class_counts[k];
        if (l->class_counts[c] != least) continue;
        l->class_counts[c]++;
        taken[i] = true;
        idx[n_idx++] = i;
    }
    rc = log_sequential(l, m, b, idx, n_idx, written);
    if (rc == 0 && classes && l->class_counts && l->needs_buffering) rc = keep_passed_over(l, b, taken, batch);
    free(idx);
    free(taken);
    return rc;
}

int lt_vis_log_end(lt_vis_log *l, const lt_model *m, lt_vis_paths *written, int *short_of)
{
    *short_of = -1;
    int rc = 0;
    if (l->n_logged != l->max) {
        *short_of = l->n_logged;
        for (int e = 0; rc == 0 && e < l->n_buffer; e++) {
            const int64_t n = l->buffer[e].n > 0 ? l->buffer[e].pictures[0]->shape[0] : 0;
            int64_t *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
            if (!idx) return lt_set_error("visualize: out of memory");
            for (int64_t j = 0; j < n; j++) idx[j] = j;
            rc = log_sequential(l, m, &l->buffer[e], idx, (int)n, written);
            free(idx);
        }
    } else {
        l->needs_buffering = false;
    }
    clear_buffer(l);
    l->n_logged = 0;
    if (l->class_counts) memset(l->class_counts, 0, (size_t)l->n_classes * sizeof *l->class_counts);
    return rc;
}
