/* The command line shared by the config commands (see cli.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int lt_cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "ltrain %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'ltrain %s --help' for usage.\n", cmd);
    return LT_EXIT_USAGE;
}

bool lt_cli_is_file_arg(const char *s)
{
    const size_t n = strlen(s);
    struct stat st;
    if (s[0] == '-') return false;
    return (n > 12 && !strcmp(s + n - 12, ".safetensors")) || (stat(s, &st) == 0 && S_ISREG(st.st_mode));
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
    static const lt_cli_option plugin_path = {"--plugin-path", NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage(stdout);
            return -1;
        }
        const lt_cli_option *o = !strcmp(s, plugin_path.name) ? &plugin_path : find_option(opts, s);
        if (!o) {
            if (s[0] == '-' && s[1] == '-') return lt_cli_usage_error(cmd, "unknown option '%s'", s);
            c->overrides[c->n_overrides++] = s;
            continue;
        }
        if (o->flag) *o->flag = true;
        if (o->flag && o->value) { /* an optional FILE value */
            if (i + 1 < argc && lt_cli_is_file_arg(argv[i + 1])) *o->value = argv[++i];
            continue;
        }
        if (!o->value && o != &plugin_path) continue; /* a flag */
        if (i + 1 >= argc) return lt_cli_usage_error(cmd, "option '%s' needs a value", s);
        if (o == &plugin_path) {
            if (c->n_plugin_paths == LT_CLI_MAX_PATHS) return lt_cli_usage_error(cmd, "too many %s options", s);
            c->plugin_paths[c->n_plugin_paths++] = argv[++i];
        } else {
            *o->value = argv[++i];
        }
    }
    if (c->n_overrides % 2)
        return lt_cli_usage_error(cmd, "override '%s' has no value (overrides are KEY VALUE pairs)",
                                  c->overrides[c->n_overrides - 1]);
    return 0;
}

void lt_cli_print_config_warnings(const lt_config *cfg, FILE *err)
{
    for (int i = 0; i < cfg->n_warnings; i++) fprintf(err, "ltrain: warning: %s\n", cfg->warnings[i]);
}
