/* The `ltrain` command line: its subcommands and what they share.
 *
 * Adding a command (train, test, infer, ...): write core/cmd_<name>.c with
 * `int lt_cmd_<name>(int argc, char **argv)` and `void lt_cmd_<name>_usage(FILE *)`,
 * declare both below, add one row to the table in core/main.c and the file
 * to `cli_candidates` in core/meson.build. A command receives argv with
 * argv[0] = its own name and returns the process exit status (LT_EXIT_*).
 * Commands print; nothing below them does (errors travel as lt_last_error()).
 */
#ifndef LTRAIN_CORE_CLI_H
#define LTRAIN_CORE_CLI_H

#include <stdio.h>

#include "config/config.h"
#include "loader.h"
#include "registry.h"

enum {
    LT_EXIT_OK = 0,
    LT_EXIT_FAILURE = 1, /* the command ran and failed */
    LT_EXIT_USAGE = 2,   /* bad command line */
};

/* ---- commands ---- */
int lt_cmd_plugins(int argc, char **argv);
void lt_cmd_plugins_usage(FILE *out);
int lt_cmd_benchmark(int argc, char **argv);
void lt_cmd_benchmark_usage(FILE *out);

/* ---- plugins, as every command loads them ---- */

/* The registry every command works with, and the loader that owns the
 * plugins behind it. */
typedef struct lt_cli_plugins {
    lt_loader *loader;
    lt_registry *registry;
    lt_load_report report;
} lt_cli_plugins;

/* Registers the built-in tasks, then loads plugins from flag_paths, the
 * environment, config_paths, the user's directory, the build tree (when
 * this executable runs from it) and the installed pluginsdir. Load
 * problems are kept in p->report, not printed. 0, or -1 with an error when
 * nothing usable could be built (out of memory); free with
 * lt_cli_plugins_free either way. */
int lt_cli_load_plugins(lt_cli_plugins *p, const char *const *flag_paths, int n_flag_paths,
                        const char *const *config_paths, int n_config_paths);
void lt_cli_plugins_free(lt_cli_plugins *p);

/* Prints the config reader's warnings ("ltrain: warning: ..."), one per line. */
void lt_cli_print_config_warnings(const lt_config *cfg, FILE *err);

/* Prints every load problem of p->report on stderr, one per line. */
void lt_cli_print_load_problems(const lt_cli_plugins *p, FILE *err);

/* ---- the command line every config command shares ---- */

enum { LT_CLI_MAX_PATHS = 64 };

/* One option of a command:
 *   "--name VALUE":   value set, flag NULL: *value receives the argv string;
 *   "--name":         value NULL, flag set: *flag becomes true;
 *   "--name [FILE]":  value and flag set: *flag becomes true, and *value
 *                     receives the next argument when it is a file argument
 *                     (lt_cli_is_file_arg); otherwise it stays NULL and that
 *                     argument is parsed on its own (e.g. as an override KEY). */
typedef struct lt_cli_option {
    const char *name;  /* "--config" */
    const char *alias; /* "-c", or NULL */
    const char **value;
    bool *flag;
} lt_cli_option;

/* Whether s can be an optional FILE value: not an option, and naming an
 * existing file or a .safetensors checkpoint (which may not exist yet). */
bool lt_cli_is_file_arg(const char *s);

/* --plugin-path DIR (repeatable) and KEY VALUE overrides. */
typedef struct lt_cli_common {
    const char *plugin_paths[LT_CLI_MAX_PATHS];
    int n_plugin_paths;
    const char **overrides; /* key, value, ... (argv pointers; malloc'd array, free it) */
    int n_overrides;
} lt_cli_common;

/* Parses argv[1..] of `ltrain <cmd>`: --help/-h (usage on stdout, returns
 * -1), the options and flags of `opts` ({0}-terminated), --plugin-path and KEY VALUE
 * overrides (which must pair up). On a bad command line prints
 * "ltrain <cmd>: <problem>" and a hint on stderr and returns
 * LT_EXIT_USAGE; 0 otherwise. c->overrides must be freed in every case. */
int lt_cli_parse(const char *cmd, int argc, char **argv, const lt_cli_option *opts, lt_cli_common *c,
                 void (*usage)(FILE *out));
/* Prints "ltrain <cmd>: <fmt with arg>" and the --help hint; returns LT_EXIT_USAGE. */
int lt_cli_usage_error(const char *cmd, const char *fmt, const char *arg);

/* True when this executable is the one in ltrain's build tree (then its
 * freshly built plugins are on the search path, see core/loader.h). */
bool lt_cli_running_from_build_tree(void);

#endif
