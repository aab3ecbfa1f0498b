/* The trainer's evaluation pictures, chosen the way luxonis-train's "smart"
 * image logging chooses them (luxonis_lightning.py _evaluation_step and
 * _evaluation_epoch_end; lightning/utils.py log_balanced_class_images,
 * log_sequential_images, compute_visualization_buffer):
 *
 *  - at most n_log_images pictures per head (node) in one evaluation; a
 *    batch is visualized only while fewer than that were logged;
 *  - with class labels, a sample of the batch is taken when its class has
 *    the lowest count of all classes taken so far in this evaluation, in
 *    batch order (classes stay balanced);
 *  - the samples passed over are kept (up to n_log_images) and, when the
 *    balanced picks fall short at the end of the evaluation, logged in order
 *    to top up (the reference warns then); after an evaluation that logged
 *    exactly n_log_images nothing is kept any more;
 *  - the visualizers of a node share one counter, which names the picture:
 *      <dir>/<node>/<visualizer>/<epoch>/<counter>.png
 *    (the tracker's key <view>/visualizations/<node>/<visualizer>/<counter>
 *    at step epoch, laid out as its MLflow artifacts are).
 *
 *   lt_vis_log_begin(&l, "run/visualizations/val", epoch);
 *   for each batch: if (lt_vis_log_wants(&l)) { render; lt_vis_log_batch(...); }
 *   lt_vis_log_end(&l, model, &written, &short_of);
 */
#ifndef LTRAIN_CORE_VIS_LOG_H
#define LTRAIN_CORE_VIS_LOG_H

#include "visualize.h"

typedef struct lt_vis_log {
    int max;           /* trainer.n_log_images */
    int n_classes;
    int *class_counts; /* samples taken per class in this evaluation */
    int n_logged;      /* the last node's counter */
    int n_written;     /* pictures written in this evaluation (top-up included) */
    bool needs_buffering;
    lt_vis_batch *buffer; /* passed-over pictures of this evaluation */
    int n_buffer;
    char *dir;
    int64_t epoch;
} lt_vis_log;

/* 0, or -1 with an error (out of memory). */
int lt_vis_log_init(lt_vis_log *l, int64_t n_log_images, int n_classes);
void lt_vis_log_free(lt_vis_log *l);

/* Starts an evaluation whose pictures go under dir (copied) for `epoch`. */
int lt_vis_log_begin(lt_vis_log *l, const char *dir, int64_t epoch);
/* Whether the next batch should be visualized. */
bool lt_vis_log_wants(const lt_vis_log *l);
/* Logs the chosen pictures of a batch (classes: each sample's class, or
 * NULL: no class labels, the first ones are taken); appends the files
 * written to `written`. */
int lt_vis_log_batch(lt_vis_log *l, const lt_model *m, const lt_vis_batch *b, const int32_t *classes,
                     lt_vis_paths *written);
/* Ends the evaluation: tops up from the passed-over pictures when short
 * (*short_of = the count logged before, else -1) and resets the counts
 * (n_written and dir stay until the next begin). */
int lt_vis_log_end(lt_vis_log *l, const lt_model *m, lt_vis_paths *written, int *short_of);

#endif
