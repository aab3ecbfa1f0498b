/* Pictures of a model's predictions: the visualizers attached to its nodes
 * run on canvases made from the batch images, and the drawings are written
 * as PNG files (used by `ltrain infer` and `ltrain inspect`).
 *
 *   lt_vis_model vm;
 *   if (lt_vis_model_open(&vm, cfg, registry, weights)) -> error
 *   ... lt_model_forward(vm.model, images, LT_MODE_EVAL) in vm.ctx ...
 *   lt_vis_paths out = {0};
 *   lt_visualize_batch(vm.model, &vm.pp, images, NULL, "out/dir", 0, &out);
 *   lt_vis_paths_free(&out);
 *   lt_vis_model_close(&vm);
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
#include "registry.h"

/* Paths of the files written (malloc'd strings). */
typedef struct lt_vis_paths {
    int n;
    char **paths;
} lt_vis_paths;

void lt_vis_paths_free(lt_vis_paths *p);

/* Canvases are enlarged (nearest neighbour, an integer factor) until their
 * shorter side reaches this many pixels, so text stays legible on small
 * training sizes such as 32 x 32. */
#define LT_VIS_MIN_CANVAS 256

/* The 8-bit RGB canvases, uint8 [B,3,H*s,W*s] (owned; lt_tensor_free) of
 * images float32 [B,C,H,W] preprocessed by pp (normalisation and colour
 * space undone), s the enlargement factor above. NULL with an error. */
lt_tensor *lt_vis_canvases(const lt_preprocess *pp, const lt_tensor *images);

/* Runs every visualizer of every node of `m` (after a forward on `images`)
 * and writes one PNG per visualizer: the batch as a grid, each image's
 * target and prediction side by side when the visualizer returns a pair.
 * Files are <dir>/<node>/<visualizer>_<index>.png; their paths are appended
 * to out. labels may be NULL (inference: visualizers get no target and
 * draw predictions only). 0 or -1. */
int lt_visualize_batch(lt_model *m, const lt_preprocess *pp, const lt_tensor *images, const lt_labels *labels,
                       const char *dir, int index, lt_vis_paths *out);

/* A model ready for evaluation, as the trainer builds it: the config's
 * preprocessing, its train dataset (class names and count), the model and
 * its weights (`weights`, else model.weights, else the initial ones). */
typedef struct lt_vis_model {
    lt_ctx *ctx; /* current while the model is open (the previous one is restored on close) */
    lt_ctx *prev;
    lt_preprocess pp;
    lt_dataset *train;
    lt_model *model;
    const lt_config *cfg;
} lt_vis_model;

int lt_vis_model_open(lt_vis_model *vm, const lt_config *cfg, const lt_registry *reg, const char *weights);
void lt_vis_model_close(lt_vis_model *vm);

/* Opens split `view` of the config's dataset (generated or clsdir). */
lt_dataset *lt_vis_open_dataset(const lt_config *cfg, const char *view);

/* mkdir -p; 0 or -1 with an error naming the path. */
int lt_vis_mkdir_p(const char *path);

/* Commands (core/cmd_infer.c, core/cmd_inspect.c). */
int lt_cmd_infer(int argc, char **argv);
void lt_cmd_infer_usage(FILE *out);
int lt_cmd_inspect(int argc, char **argv);
void lt_cmd_inspect_usage(FILE *out);

#endif
