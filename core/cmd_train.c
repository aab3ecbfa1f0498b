/* `ltrain train` and `ltrain test`: a config, plugins and the trainer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "trainer.h"

/* What both commands read from the command line. */
typedef struct run_args {
    const char *config, *weights, *view;
    bool json;
    bool verbose;            /* --verbose: list the defaults applied */
    bool resume;             /* --resume given */
    const char *resume_ckpt; /* its CKPT, or NULL: the newest run's last.safetensors */
    lt_cli_common common;
} run_args;

/* -1: help printed; LT_EXIT_USAGE on a bad command line; 0 otherwise. */
static int parse_args(int argc, char **argv, bool is_test, run_args *a, void (*usage)(FILE *))
{
    const char *cmd = argv[0];
    const lt_cli_option train_opts[] = {
        {.name = "--config", .alias = "-c", .value = &a->config},
        {.name = "--weights", .value = &a->weights},
        {.name = "--verbose", .alias = "-v", .flag = &a->verbose},
        {.name = "--resume", .value = &a->resume_ckpt, .flag = &a->resume},
        {0},
    };
    const lt_cli_option test_opts[] = {
        {.name = "--config", .alias = "-c", .value = &a->config},
        {.name = "--weights", .value = &a->weights},
        {.name = "--verbose", .alias = "-v", .flag = &a->verbose},
        {.name = "--view", .value = &a->view},
        {.name = "--json", .flag = &a->json},
        {0},
    };
    const int rc = lt_cli_parse(cmd, argc, argv, is_test ? test_opts : train_opts, &a->common, usage);
    if (rc) return rc;
    if (!a->config) return lt_cli_usage_error(cmd, "%s", "--config FILE is required");
    if (a->resume && a->weights)
        return lt_cli_usage_error(cmd, "%s",
                                  "--resume and --weights exclude each other (--resume CKPT names the checkpoint)");
    if (a->view && strcmp(a->view, "val") && strcmp(a->view, "test") && strcmp(a->view, "train"))
        return lt_cli_usage_error(cmd, "--view must be train, val or test, not '%s'", a->view);
    return 0;
}

/* Shell's 128 + SIGINT: the run stopped on request, resumable. */
enum { EXIT_INTERRUPTED = 130 };

/* Prints an argument quoted for a POSIX shell where it needs it. */
static void put_shell_word(const char *s, FILE *out)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == strlen(s)) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

/* Writes the command that continues an interrupted run: this one, with
 * --resume naming the checkpoint just written. */
static void write_resume_hint(int argc, char **argv, const char *ckpt, FILE *out)
{
    fprintf(out, "ltrain %s: interrupted; the training state is in %s\nResume with:\n  ltrain", argv[0], ckpt);
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) {
            if (i + 1 < argc && lt_cli_is_file_arg(argv[i + 1])) i++;
            continue;
        }
        fputc(' ', out);
        put_shell_word(argv[i], out);
    }
    fputs(" --resume ", out);
    put_shell_word(ckpt, out);
    fputc('\n', out);
}

/* The resume hint on stderr and in the run's log. */
static void print_resume_hint(int argc, char **argv, lt_trainer *t)
{
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    if (!mem) {
        write_resume_hint(argc, argv, lt_trainer_resume_checkpoint(t), stderr);
        return;
    }
    write_resume_hint(argc, argv, lt_trainer_resume_checkpoint(t), mem);
    fclose(mem);
    lt_run_log_line(lt_trainer_run_log(t), LT_LOG_WARNING, "%s", text);
    fputs(text, stderr);
    free(text);
}

/* The command line's lines that precede the trainer's, into its log. */
static void log_start(lt_trainer *t, const run_args *a, const lt_config *cfg)
{
    lt_run_log *log = lt_trainer_run_log(t);
    if (!log) return;
    lt_trainer_log(t, LT_LOG_INFO, "config: %s", a->config);
    for (int i = 0; i < cfg->n_warnings; i++) lt_run_log_line(log, LT_LOG_WARNING, "%s", cfg->warnings[i]);
}

/* Loads config and plugins, builds the trainer, runs `body`. */
static int run(int argc, char **argv, bool is_test, void (*usage)(FILE *),
               int (*body)(lt_trainer *, const run_args *))
{
    run_args a = {0};
    int rc = parse_args(argc, argv, is_test, &a, usage);
    if (rc) {
        free(a.common.overrides);
        return rc < 0 ? LT_EXIT_OK : rc;
    }
    rc = LT_EXIT_FAILURE;
    lt_cli_plugins plugins;
    lt_trainer *t = NULL;
    lt_config *cfg = lt_config_load(a.config, a.common.overrides, a.common.n_overrides);
    if (!cfg) {
        fprintf(stderr, "ltrain %s: %s\n", argv[0], lt_last_error());
        free(a.common.overrides);
        return LT_EXIT_FAILURE;
    }
    lt_cli_print_config_warnings(cfg, stderr);
    if (a.verbose) /* stderr, so that test --json stays clean on stdout */
        for (int i = 0; i < cfg->n_defaults; i++) fprintf(stderr, "ltrain: default: %s\n", cfg->defaults[i]);
    if (lt_cli_load_plugins(&plugins, a.common.plugin_paths, a.common.n_plugin_paths, NULL, 0) == 0) {
        lt_cli_print_load_problems(&plugins, stderr);
        char *found = a.resume && !a.resume_ckpt ? lt_trainer_find_resume(cfg) : NULL;
        const char *weights = a.resume ? (a.resume_ckpt ? a.resume_ckpt : found) : a.weights;
        const lt_trainer_options o = {.registry = plugins.registry, .weights = weights, .no_run_dir = is_test,
                                      .log = is_test ? NULL : stdout, .resume = a.resume};
        if (!a.resume || weights) t = lt_trainer_new(cfg, &o);
        if (t) {
            log_start(t, &a, cfg);
            if (!is_test) lt_trainer_handle_signals();
            const int body_rc = body(t, &a);
            if (body_rc == 0) rc = LT_EXIT_OK;
            if (body_rc == 0 && !is_test && lt_trainer_interrupted(t)) {
                print_resume_hint(argc, argv, t);
                rc = EXIT_INTERRUPTED;
            }
        }
        free(found);
    }
    if (rc != LT_EXIT_OK && rc != EXIT_INTERRUPTED) {
        if (t) lt_run_log_line(lt_trainer_run_log(t), LT_LOG_ERROR, "%s", lt_last_error());
        fprintf(stderr, "ltrain %s: %s\n", argv[0], lt_last_error());
    }
    lt_trainer_free(t);
    lt_cli_plugins_free(&plugins);
    lt_config_free(cfg);
    free(a.common.overrides);
    return rc;
}

static int train_body(lt_trainer *t, const run_args *a)
{
    (void)a;
    return lt_trainer_fit(t);
}

static int test_body(lt_trainer *t, const run_args *a)
{
    lt_eval_result r;
    if (lt_trainer_evaluate(t, a->view ? a->view : "test", &r)) return -1;
    if (a->json) {
        char *json = lt_eval_result_json(&r);
        if (json) puts(json);
        free(json);
    } else {
        for (int i = 0; i < r.n; i++) printf("%-40s %.6g\n", r.names[i], r.values[i]);
    }
    lt_eval_result_free(&r);
    return 0;
}

int lt_cmd_train(int argc, char **argv) { return run(argc, argv, false, lt_cmd_train_usage, train_body); }

int lt_cmd_test(int argc, char **argv) { return run(argc, argv, true, lt_cmd_test_usage, test_body); }

void lt_cmd_train_usage(FILE *out)
{
    fprintf(out,
            "Usage: ltrain train --config FILE [--plugin-path DIR]... [--weights CKPT | --resume [CKPT]]\n"
            "                    [KEY VALUE]...\n"
            "\n"
            "Trains the model a luxonis-train style config describes, validating every\n"
            "trainer.validation_interval epochs and testing at the end. Writes\n"
            "<tracker.save_directory>/<N>-<run_name>/ with training_config.yaml,\n"
            "min_val_loss/ and best_val_metric/ checkpoints and last.safetensors.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE     the config (YAML)\n"
            "  --plugin-path DIR     also load plugins from DIR (repeatable; before the defaults)\n"
            "  --weights CKPT        start from these weights (.safetensors); with\n"
            "                        trainer.resume_training true also the optimizer,\n"
            "                        scheduler and epoch\n"
            "  --resume [CKPT]       continue an interrupted run from CKPT (default: the\n"
            "                        newest run of this config's last.safetensors) at the\n"
            "                        epoch and batch it stopped at\n"
            "  -v, --verbose         list every default the config reader applied\n"
            "  KEY VALUE             config overrides, e.g. trainer.epochs 5\n"
            "  -h, --help            this help\n"
            "\n"
            "Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes\n"
            "<run>/last.safetensors and prints the command that resumes (exit status\n"
            "130); a second one ends the process at once. EarlyStopping and\n"
            "TestOnTrainEnd in trainer.callbacks are honoured.\n");
}

void lt_cmd_test_usage(FILE *out)
{
    fprintf(out,
            "Usage: ltrain test --config FILE [--weights CKPT] [--view val|test] [--json]\n"
            "                   [--plugin-path DIR]... [KEY VALUE]...\n"
            "\n"
            "Evaluates a model on a view of the config's dataset (eval mode, no gradients)\n"
            "and prints the loss and every metric under the reference's names:\n"
            "test/loss, test/metric/<node>/<metric>.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE     the config (YAML)\n"
            "  --weights CKPT        weights to evaluate (default: model.weights)\n"
            "  --view VIEW           val or test (default test; train also works)\n"
            "  --json                print one JSON object\n"
            "  --plugin-path DIR     also load plugins from DIR (repeatable)\n"
            "  -v, --verbose         list every default the config reader applied\n"
            "  KEY VALUE             config overrides\n"
            "  -h, --help            this help\n");
}
