/* Pictures of a model's predictions: the visualizers attached to its nodes
 * run on canvases made from the batch images, and the drawings are written
 * as PNG files (used by the trainer, `ltrain infer` and `ltrain inspect`; a
 * model to draw with comes from lt_trainer_new with no_run_dir).
 *
 *   ... lt_model_forward(model, images, LT_MODE_EVAL) ...
 *   lt_vis_paths out = {0};
 *   lt_visualize_batch(model, pp, images, NULL, "out/dir", 0, &out);
 *   lt_vis_paths_free(&out);
 *
 * Errors follow common.h: -1 with lt_last_error(); nothing prints but the
 * weight loader's notes on stderr (tensors unused or not in the file). */
#ifndef LTRAIN_CORE_VISUALIZE_H
#define LTRAIN_CORE_VISUALIZE_H

#include <stdio.h>

#include <ltrain/context.h>
#include <ltrain/plugin.h>

#include "config/config.h"
#include "data/data.h"
#include "model.h"
#include "modules.h"
#include "registry.h"

/* Paths of the files written (malloc'd strings). */
typedef struct lt_vis_paths {
    int n;
    char **paths;
} lt_vis_paths;

void lt_vis_paths_free(lt_vis_paths *p);
/* Appends a copy of path. 0 or -1 (out of memory). */
int lt_vis_paths_add(lt_vis_paths *p, const char *path);

/* Canvases are enlarged (nearest neighbour, an integer factor) until their
 * shorter side reaches this many pixels, so text stays legible on small
 * training sizes such as 32 x 32. */
#define LT_VIS_MIN_CANVAS 256

/* The 8-bit RGB canvases, uint8 [B,3,H*s,W*s] (owned; lt_tensor_free) of
 * images float32 [B,C,H,W] preprocessed by pp (normalisation and colour
 * space undone), s the enlargement factor above. NULL with an error. */
lt_tensor *lt_vis_canvases(const lt_preprocess *pp, const lt_tensor *images);

/* Every visualizer's pictures of one batch: slot s holds the pictures of
 * visualizer viz[s] of node node[s], uint8 [B,3,H,W] (each image's target
 * and prediction side by side when the visualizer returns a pair). */
typedef struct lt_vis_batch {
    int n;
    int *node;
    lt_attached **viz;
    lt_tensor **pictures;
} lt_vis_batch;

/* Runs every visualizer of every node of `m` (after a forward on `images`)
 * into *out (freed with lt_vis_batch_free, also on error). labels may be
 * NULL (no target: predictions only). 0 or -1. */
int lt_vis_render_batch(lt_model *m, const lt_preprocess *pp, const lt_tensor *images, const lt_labels *labels,
                        lt_vis_batch *out);
void lt_vis_batch_free(lt_vis_batch *b);

/* Writes picture b of uint8 [B,3,H,W] as a PNG. 0 or -1. */
int lt_vis_save_picture(const lt_tensor *pictures, int64_t b, const char *path);

/* Runs every visualizer of every node of `m` (after a forward on `images`)
 * and writes one PNG per visualizer: the batch as a grid, each image's
 * target and prediction side by side when the visualizer returns a pair.
 * Files are <dir>/<node>/<visualizer>_<index>.png; their paths are appended
 * to out. labels may be NULL (inference: visualizers get no target and
 * draw predictions only). 0 or -1. */
int lt_visualize_batch(lt_model *m, const lt_preprocess *pp, const lt_tensor *images, const lt_labels *labels,
                       const char *dir, int index, lt_vis_paths *out);

/* mkdir -p; 0 or -1 with an error naming the path. */
int lt_vis_mkdir_p(const char *path);

/* Commands (core/cmd_infer.c, core/cmd_inspect.c). */
int lt_cmd_infer(int argc, char **argv);
void lt_cmd_infer_usage(FILE *out);
int lt_cmd_inspect(int argc, char **argv);
void lt_cmd_inspect_usage(FILE *out);

#endif
