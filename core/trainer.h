/* The trainer: a model, its data, optimizer and scheduler built from a
 * resolved config (core/config/config.h), trained epoch by epoch the way
 * luxonis-train's Lightning module does, with a run directory laid out as
 * the reference's (§9):
 *
 *   <tracker.save_directory>/<N>-<run_name>/
 *     training_config.yaml           the resolved config
 *     min_val_loss/<model>_loss=0.1234_07.safetensors               top-k by val/loss
 *     best_val_metric/<model>_<node>_<Metric>=0.9500_loss=0.1234_07.safetensors  top-k by main metric
 *     last.safetensors               after every epoch, for resume
 *
 * A checkpoint holds the model's tensors under their PyTorch names, the
 * optimizer state under "optimizer.", and metadata: epoch, model, config
 * (the resolved YAML) and scheduler (its state as YAML).
 *
 *   lt_trainer *t = lt_trainer_new(cfg, &(lt_trainer_options){.registry = reg, .log = stdout});
 *   if (!t || lt_trainer_fit(t)) fprintf(stderr, "%s\n", lt_last_error());
 *   lt_trainer_free(t);
 *
 * Errors follow common.h: NULL / -1 with lt_last_error(); nothing prints
 * except the epoch lines written to options.log. */
#ifndef LTRAIN_CORE_TRAINER_H
#define LTRAIN_CORE_TRAINER_H

#include <stdio.h>

#include "config/config.h"
#include "registry.h"

typedef struct lt_trainer_options {
    const lt_registry *registry; /* plugins (must outlive the trainer) */
    const char *weights;         /* checkpoint to start from; NULL: model.weights */
    bool no_run_dir;             /* evaluation only: create no run directory */
    FILE *log;                   /* one line per epoch; NULL: silent */
} lt_trainer_options;

typedef struct lt_trainer lt_trainer;

/* Opens the datasets, builds the model, optimizer and scheduler, loads the
 * weights and, unless no_run_dir, creates the run directory and writes
 * training_config.yaml. `cfg` must outlive the trainer. */
lt_trainer *lt_trainer_new(const lt_config *cfg, const lt_trainer_options *o);
void lt_trainer_free(lt_trainer *t);

/* Trains trainer.epochs epochs (from the resumed epoch), validating every
 * validation_interval epochs and after the last, then tests. 0 or -1. */
int lt_trainer_fit(lt_trainer *t);

/* Results of one evaluation: "<view>/loss" first, then
 * "<view>/metric/<node>/<metric>" for every scalar a metric computes. */
typedef struct lt_eval_result {
    int n;
    char **names;
    double *values;
    int main_index; /* entry of the main metric, or -1 */
} lt_eval_result;

/* Loss and metrics on the loader's view "train", "val" or "test" (eval
 * mode, no gradients). out is freed with lt_eval_result_free. */
int lt_trainer_evaluate(lt_trainer *t, const char *view, lt_eval_result *out);
void lt_eval_result_free(lt_eval_result *r);
/* The result's value by name, or NAN. */
double lt_eval_result_get(const lt_eval_result *r, const char *name);
/* One JSON object {"name": value, ...} (malloc'd). */
char *lt_eval_result_json(const lt_eval_result *r);

/* The run directory, or NULL with no_run_dir. */
const char *lt_trainer_run_dir(const lt_trainer *t);
/* Mean train loss of each epoch trained so far (n = epochs done). */
const double *lt_trainer_train_losses(const lt_trainer *t, int *n);
/* The results of the final test of lt_trainer_fit (NULL before). */
const lt_eval_result *lt_trainer_test_result(const lt_trainer *t);

/* Commands (core/cmd_train.c, core/cmd_test.c). */
int lt_cmd_train(int argc, char **argv);
void lt_cmd_train_usage(FILE *out);
int lt_cmd_test(int argc, char **argv);
void lt_cmd_test_usage(FILE *out);

#endif
