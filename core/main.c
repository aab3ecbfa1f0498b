/* `ltrain`: dispatches to a subcommand (see core/cli.h to add one). */
#include <stdio.h>
#include <string.h>

#include <ltrain/plugin.h>

#include "cli.h"
#include "trainer.h"
#include "visualize.h"

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *out);
} command;

/* One row per subcommand, in the order `ltrain --help` lists them. */
static const command commands[] = {
    {"plugins", "list the nodes, tasks, losses, metrics and visualizers plugins provide", lt_cmd_plugins,
     lt_cmd_plugins_usage},
    {"train", "train a model from a config", lt_cmd_train, lt_cmd_train_usage},
    {"test", "evaluate a model on the test (or val) view", lt_cmd_test, lt_cmd_test_usage},
    {"infer", "draw a model's predictions on images with its visualizers", lt_cmd_infer, lt_cmd_infer_usage},
    {"inspect", "print the resolved config and model graph, draw augmented samples", lt_cmd_inspect,
     lt_cmd_inspect_usage},
    {"benchmark", "time training or inference steps of a config on synthetic input", lt_cmd_benchmark,
     lt_cmd_benchmark_usage},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out)
{
    fprintf(out, "Usage: ltrain <command> [options]\n"
                 "       ltrain --help | --version\n"
                 "\n"
                 "Commands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n"
                 "Run 'ltrain <command> --help' for the options of a command.\n");
}

static void version(void)
{
    printf("ltrain %d.%d.%d (plugin ABI %u)\n", LT_VERSION_MAJOR, LT_VERSION_MINOR, LT_VERSION_PATCH,
           (unsigned)LT_PLUGIN_ABI_VERSION);
}

static const command *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* "unknown command 'plugin' (did you mean 'plugins'?)" */
static int unknown_command(const char *name)
{
    const command *best = NULL;
    int best_d = 3; /* suggest within two edits */
    for (int i = 0; i < N_COMMANDS; i++) {
        int d = lt_edit_distance(name, commands[i].name);
        if (d < best_d) {
            best_d = d;
            best = &commands[i];
        }
    }
    if (best)
        fprintf(stderr, "ltrain: unknown command '%s' (did you mean '%s'?)\n", name, best->name);
    else
        fprintf(stderr, "ltrain: unknown command '%s'\n", name);
    fprintf(stderr, "Run 'ltrain --help' for the list of commands.\n");
    return LT_EXIT_USAGE;
}

/* `ltrain help [command]` */
static int help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return LT_EXIT_OK;
    }
    const command *c = find_command(argv[1]);
    if (!c) return unknown_command(argv[1]);
    c->usage(stdout);
    return LT_EXIT_OK;
}

int main(int argc, char **argv)
{
    lt_blas_tune(argv); /* re-runs once with tuned OpenBLAS kernels on CPUs it does not know */
    if (argc < 2) {
        usage(stderr);
        return LT_EXIT_USAGE;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        usage(stdout);
        return LT_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
        version();
        return LT_EXIT_OK;
    }
    if (strcmp(arg, "help") == 0) return help(argc - 1, argv + 1);
    if (arg[0] == '-') {
        fprintf(stderr, "ltrain: unknown option '%s' (options follow the command: ltrain <command> [options])\n", arg);
        return LT_EXIT_USAGE;
    }
    const command *c = find_command(arg);
    if (!c) return unknown_command(arg);
    return c->run(argc - 1, argv + 1);
}
