/* The trainer: a model, its data, optimizer and scheduler built from a
 * resolved config (core/config/config.h), trained epoch by epoch the way
 * luxonis-train's Lightning module does, with a run directory laid out as
 * the reference's (§9):
 *
 *   <tracker.save_directory>/<N>-<run_name>/
 *     training_config.yaml           the resolved config
 *     min_val_loss/<model>_loss=0.1234_07.safetensors               top-k by val/loss
 *     best_val_metric/<model>_<node>_<Metric>=0.9500_loss=0.1234_07.safetensors  top-k by main metric
 *     last.safetensors               after every epoch and on an interrupt, for resume
 *
 * A checkpoint holds the model's tensors under their PyTorch names, the
 * optimizer state under "optimizer.", and metadata: epoch, model, config
 * (the resolved YAML), scheduler (its state as YAML), step and loss_sum
 * (batches of the next epoch already trained, and their summed loss: non-zero
 * only after an interrupt) and early_stopping ("min|max best wait", or empty).
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
#include "data/data.h"
#include "registry.h"

typedef struct lt_trainer_options {
    const lt_registry *registry; /* plugins (must outlive the trainer) */
    const char *weights;         /* checkpoint to start from; NULL: model.weights */
    bool no_run_dir;             /* evaluation only: create no run directory */
    FILE *log;                   /* one line per epoch; NULL: silent */
    bool resume;                 /* weights is a resume checkpoint: also load the optimizer,
                                    scheduler, epoch and step (as trainer.resume_training) */
    int64_t stop_after_steps;    /* test hook: act as if interrupted after this many training
                                    batches of lt_trainer_fit (0: never) */
} lt_trainer_options;

typedef struct lt_trainer lt_trainer;

/* Opens the datasets, builds the model, optimizer and scheduler, loads the
 * weights and, unless no_run_dir, creates the run directory and writes
 * training_config.yaml. `cfg` must outlive the trainer. */
lt_trainer *lt_trainer_new(const lt_config *cfg, const lt_trainer_options *o);
void lt_trainer_free(lt_trainer *t);

/* Trains trainer.epochs epochs (from the resumed epoch), validating every
 * validation_interval epochs and after the last, then tests on
 * TestOnTrainEnd's view when that callback is active (smart_cfg_auto_populate
 * adds it). 0 or -1.
 *
 * Callbacks acted on: EarlyStopping {monitor: val/loss, mode: min|max,
 * patience: 3, min_delta: 0, verbose: false} (Lightning's rule, checked after
 * each validation; monitor is any validation result name, e.g.
 * "val/metric/<node>/<metric>"), TestOnTrainEnd {view: test}.
 * Freezing: a node with freezing.active gets no updates before epoch
 * unfreeze_after (int, or float fraction of epochs; absent: never);
 * lr_after_unfreeze is not applied (one param group) and is warned about.
 *
 * Interrupts: when lt_trainer_request_stop was called (SIGINT/SIGTERM after
 * lt_trainer_handle_signals), the current step (up to the next optimizer
 * step under gradient accumulation) finishes, last.safetensors is written
 * with the epoch and the batches done in it, and fit returns 0 with
 * lt_trainer_interrupted() true and no test. Resuming from it (options.resume)
 * skips those batches; the batch order depends only on (seed, epoch) and the
 * dropout masks on (seed, epoch, batch), so the resumed run ends with the
 * same weights bit for bit as an uninterrupted one (same thread count). */
int lt_trainer_fit(lt_trainer *t);

/* Installs SIGINT/SIGTERM handlers calling lt_trainer_request_stop; a second
 * signal gets the default action (ends the process). */
void lt_trainer_handle_signals(void);
/* Asks every running fit to stop cleanly (async-signal-safe). */
void lt_trainer_request_stop(int signal_number);
/* Whether the last fit stopped on an interrupt / on EarlyStopping. */
bool lt_trainer_interrupted(const lt_trainer *t);
bool lt_trainer_stopped_early(const lt_trainer *t);
/* <run>/last.safetensors (written after every epoch and on interrupt), or
 * NULL before fit. */
const char *lt_trainer_resume_checkpoint(const lt_trainer *t);
/* The newest run under tracker.save_directory with this config's
 * training_config.yaml and a last.safetensors: its path (malloc'd), or NULL
 * with an error. */
char *lt_trainer_find_resume(const lt_config *cfg);

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

/* ---- the pieces, for commands that drive steps themselves (ltrain benchmark) ---- */

/* Borrowed; they live as long as the trainer. Ops on the model run in the
 * trainer's context: make it current (lt_ctx_use) first. */
lt_model *lt_trainer_model(lt_trainer *t);
lt_ctx *lt_trainer_ctx(lt_trainer *t);
lt_optimizer *lt_trainer_optimizer(lt_trainer *t);
/* Classes of the training view, and the preprocessing (image size, channels). */
int lt_trainer_n_classes(const lt_trainer *t);
const lt_preprocess *lt_trainer_preprocess(const lt_trainer *t);

/* The training step fit runs, on a prepared batch (images [B,C,H,W],
 * labels as the losses read them), in the trainer's current context:
 * train-mode forward, weighted loss, backward of loss/accumulate.
 * *loss_value gets the unscaled loss; a non-finite loss is an error naming
 * batch_index. The step arena is the caller's to reset afterwards. */
int lt_trainer_forward_backward(lt_trainer *t, lt_tensor *images, const lt_labels *labels, int64_t accumulate,
                                int64_t batch_index, double *loss_value);
/* What fit does after the gradients of a (possibly accumulated) batch:
 * gradient clipping (trainer.gradient_clip_val), optimizer step, zero_grad,
 * and a scheduler step when the scheduler steps per batch. 0 or -1. */
int lt_trainer_optimizer_step(lt_trainer *t);

/* Commands (core/cmd_train.c, core/cmd_test.c). */
int lt_cmd_train(int argc, char **argv);
void lt_cmd_train_usage(FILE *out);
int lt_cmd_test(int argc, char **argv);
void lt_cmd_test_usage(FILE *out);

#endif
