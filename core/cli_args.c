/* The command line shared by the config commands (see cli.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int lt_cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "ltrain %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'ltrain %s --help' for usage.\n", cmd);
    return LT_EXIT_USAGE;
}

static const lt_cli_option *find_option(const lt_cli_option *opts, const char *s)
{
    for (const lt_cli_option *o = opts; o->name; o++)
        if (!strcmp(s, o->name) || (o->alias && !strcmp(s, o->alias))) return o;
    return NULL;
}

int lt_cli_parse(const char *cmd, int argc, char **argv, const lt_cli_option *opts, lt_cli_common *c,
                 void (*usage)(FILE *out))
{
    *c = (lt_cli_common){0};
    if (!(c->overrides = calloc((size_t)argc, sizeof *c->overrides)))
        return lt_cli_usage_error(cmd, "%s", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage(stdout);
            return -1;
        }
        const bool plugin_path = !strcmp(s, "--plugin-path");
        const lt_cli_option *opt = plugin_path ? NULL : find_option(opts, s);
        const char **slot = opt ? opt->value : NULL;
        if (opt && !slot) {
            *opt->flag = true;
        } else if (slot || plugin_path) {
            if (i + 1 >= argc) return lt_cli_usage_error(cmd, "option '%s' needs a value", s);
            if (plugin_path) {
                if (c->n_plugin_paths == LT_CLI_MAX_PATHS) return lt_cli_usage_error(cmd, "too many %s options", s);
                slot = &c->plugin_paths[c->n_plugin_paths++];
            }
            *slot = argv[++i];
        } else if (s[0] == '-' && s[1] == '-') {
            return lt_cli_usage_error(cmd, "unknown option '%s'", s);
        } else {
            c->overrides[c->n_overrides++] = s;
        }
    }
    if (c->n_overrides % 2)
        return lt_cli_usage_error(cmd, "override '%s' has no value (overrides are KEY VALUE pairs)",
                                  c->overrides[c->n_overrides - 1]);
    return 0;
}
