/* `ltrain plugins`: loads everything on the plugin search path and lists
 * what is registered, grouped by kind. Also home of the plugin set-up every
 * command shares (lt_cli_load_plugins). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tasks.h"

/* ------------------------------------------------------------------ */
/* Plugin set-up shared by the commands                                */
/* ------------------------------------------------------------------ */

/* The build tree's executable lives in <build>/core/ (core/meson.build),
 * next to <build>/plugins/ = LTRAIN_BUILDTREE_PLUGINSDIR. An installed
 * copy, even one installed under the build directory, lives elsewhere. */
bool lt_cli_running_from_build_tree(void)
{
    char exe[PATH_MAX], core_dir[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return false;
    *slash = '\0';

    snprintf(core_dir, sizeof core_dir, "%s", LTRAIN_BUILDTREE_PLUGINSDIR);
    slash = strrchr(core_dir, '/');
    if (!slash) return false;
    snprintf(slash, sizeof core_dir - (size_t)(slash - core_dir), "/core");
    char *real = realpath(core_dir, NULL);
    bool same = real && strcmp(real, exe) == 0;
    free(real);
    return same;
}

int lt_cli_load_plugins(lt_cli_plugins *p, const char *const *flag_paths, int n_flag_paths,
                        const char *const *config_paths, int n_config_paths)
{
    *p = (lt_cli_plugins){0};
    p->loader = lt_loader_new();
    p->registry = lt_registry_new();
    if (!p->loader || !p->registry || lt_register_builtin_tasks(p->registry) != 0) return -1;
    lt_loader_options o = {
        .flag_paths = flag_paths,
        .n_flag_paths = n_flag_paths,
        .config_paths = config_paths,
        .n_config_paths = n_config_paths,
        .include_builtin_dir = lt_cli_running_from_build_tree(),
    };
    return lt_loader_load_all(p->loader, p->registry, &o, &p->report);
}

void lt_cli_plugins_free(lt_cli_plugins *p)
{
    lt_registry_free(p->registry); /* before the loader unloads what it points into */
    lt_loader_free(p->loader);
    lt_load_report_free(&p->report);
    *p = (lt_cli_plugins){0};
}

void lt_cli_print_load_problems(const lt_cli_plugins *p, FILE *err)
{
    for (int i = 0; i < p->report.n_messages; i++) fprintf(err, "ltrain: %s\n", p->report.messages[i]);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static const struct {
    lt_desc_kind kind;
    const char *heading; /* text listing */
} kinds[] = {
    {LT_DESC_NODE, "Nodes"}, {LT_DESC_TASK, "Tasks"}, {LT_DESC_LOSS, "Losses"}, {LT_DESC_METRIC, "Metrics"},
    {LT_DESC_VISUALIZER, "Visualizers"},
};
enum { N_KINDS = sizeof kinds / sizeof kinds[0] };

static const char *role_name(lt_node_role role)
{
    switch (role) {
    case LT_NODE_BACKBONE: return "backbone";
    case LT_NODE_NECK: return "neck";
    case LT_NODE_HEAD: return "head";
    }
    return "?";
}

static const char *state_kind_name(lt_state_kind kind) { return kind == LT_STATE_LIST ? "list" : "tensor"; }

/* Metadata types in the order messages write them ("float|int"). */
static const struct {
    uint32_t bit;
    const char *name;
} meta_types[] = {{LT_META_FLOAT, "float"}, {LT_META_INT, "int"}, {LT_META_STR, "str"}, {LT_META_CATEGORY, "category"}};

static const char *file_shown(const lt_registry_entry *e) { return *e->file ? e->file : "(built in)"; }

/* The members every attached module shares, whatever its kind. */
typedef struct module_view {
    const char *const *supported_tasks;
    const char *node;
    const lt_arg_spec *args;
    const lt_state_spec *states;
} module_view;

static module_view module_of(const lt_desc_header *h)
{
    switch (h->kind) {
    case LT_DESC_LOSS: {
        const lt_loss_desc *d = (const lt_loss_desc *)h;
        return (module_view){d->supported_tasks, d->node, d->args, NULL};
    }
    case LT_DESC_METRIC: {
        const lt_metric_desc *d = (const lt_metric_desc *)h;
        return (module_view){d->supported_tasks, d->node, d->args, d->states};
    }
    case LT_DESC_VISUALIZER: {
        const lt_visualizer_desc *d = (const lt_visualizer_desc *)h;
        return (module_view){d->supported_tasks, d->node, d->args, NULL};
    }
    default: return (module_view){0};
    }
}

/* "a, b, c" into buf. */
static const char *joined(const char *const *items, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; items && items[i] && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", items[i]);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Consistency warnings                                                */
/* ------------------------------------------------------------------ */

/* Names that point at tasks nobody registered load fine (the task may come
 * from a plugin not installed here) but fail at model build: say so now. */
static void warn_unknown_tasks(const lt_registry *r, FILE *err)
{
    lt_task_info info;
    for (size_t i = 0; i < lt_registry_count(r); i++) {
        const lt_registry_entry *e = lt_registry_at(r, i);
        const lt_desc_header *h = e->desc;
        const char *single[2] = {NULL, NULL};
        const char *const *tasks = single;
        if (h->kind == LT_DESC_NODE)
            single[0] = ((const lt_node_desc *)h)->task;
        else if (h->kind == LT_DESC_TASK)
            single[0] = h->name;
        else
            tasks = module_of(h).supported_tasks;
        for (int k = 0; tasks && tasks[k]; k++)
            if (lt_task_resolve(r, tasks[k], &info) != 0)
                fprintf(err, "ltrain: warning: %s '%s' of plugin '%s' (%s): %s\n", lt_desc_kind_name(h->kind), h->name,
                        e->plugin, file_shown(e), lt_last_error());
    }
}

/* ------------------------------------------------------------------ */
/* Text listing                                                        */
/* ------------------------------------------------------------------ */

enum { MAX_COLS = 8 };

/* A table of strings, printed with aligned columns; a column that is empty
 * in every row is left out, an empty cell in a shown column prints "-". */
typedef struct table {
    int n_cols;
    const char *head[MAX_COLS];
    char **cells; /* n_rows * n_cols, owned */
    int n_rows, cap_rows;
} table;

static int table_add(table *t, const char *const *row)
{
    if (t->n_rows == t->cap_rows) {
        int cap = t->cap_rows ? 2 * t->cap_rows : 16;
        char **grown = realloc(t->cells, (size_t)cap * (size_t)t->n_cols * sizeof *grown);
        if (!grown) return lt_set_error("ltrain plugins: out of memory");
        t->cells = grown;
        t->cap_rows = cap;
    }
    char **cells = t->cells + (size_t)t->n_rows * (size_t)t->n_cols;
    for (int c = 0; c < t->n_cols; c++) {
        cells[c] = strdup(row[c] ? row[c] : "");
        if (!cells[c]) {
            while (c > 0) free(cells[--c]);
            return lt_set_error("ltrain plugins: out of memory");
        }
    }
    t->n_rows++;
    return 0;
}

static void table_free(table *t)
{
    for (size_t i = 0; i < (size_t)t->n_rows * (size_t)t->n_cols; i++) free(t->cells[i]);
    free(t->cells);
}

static void table_print(const table *t, FILE *out)
{
    int width[MAX_COLS] = {0}, last = -1;
    bool shown[MAX_COLS] = {false};
    for (int c = 0; c < t->n_cols; c++) {
        width[c] = (int)strlen(t->head[c]);
        for (int r = 0; r < t->n_rows; r++) {
            const char *s = t->cells[(size_t)r * (size_t)t->n_cols + (size_t)c];
            if (*s) shown[c] = true;
            if ((int)strlen(s) > width[c]) width[c] = (int)strlen(s);
        }
        if (shown[c]) last = c;
    }
    for (int r = -1; r < t->n_rows; r++) {
        fputs("  ", out);
        for (int c = 0; c <= last; c++) {
            if (!shown[c]) continue;
            const char *s = r < 0 ? t->head[c] : t->cells[(size_t)r * (size_t)t->n_cols + (size_t)c];
            if (!*s) s = "-";
            if (c == last)
                fprintf(out, "%s\n", s);
            else
                fprintf(out, "%-*s  ", width[c], s);
        }
    }
}

/* One row of a kind's table (columns as set up in list_kind). */
static int add_row(table *t, const lt_registry *r, const lt_registry_entry *e)
{
    const lt_desc_header *h = e->desc;
    char a[1024];
    const char *summary = h->summary ? h->summary : "";
    switch (h->kind) {
    case LT_DESC_NODE: {
        const lt_node_desc *d = (const lt_node_desc *)h;
        const char *row[] = {h->name, role_name(d->role), d->task, joined(d->variants, a, sizeof a),
                             e->plugin, file_shown(e), summary};
        return table_add(t, row);
    }
    case LT_DESC_TASK: {
        const lt_task_desc *d = (const lt_task_desc *)h;
        lt_task_info info;
        bool ok = lt_task_resolve(r, h->name, &info) == 0;
        snprintf(a, sizeof a, "%s", ok ? lt_task_labels_str(&info) : "(unresolved, see the warning)");
        const char *row[] = {h->name, a, ok ? info.main_output : "", d->extends, e->plugin, file_shown(e), summary};
        return table_add(t, row);
    }
    default: {
        module_view m = module_of(h);
        const char *row[] = {h->name, m.supported_tasks ? joined(m.supported_tasks, a, sizeof a) : "any", m.node,
                             e->plugin, file_shown(e), summary};
        return table_add(t, row);
    }
    }
}

static int list_kind(const lt_registry *r, int k, FILE *out)
{
    table t = {0};
    static const char *const node_cols[] = {"NAME", "ROLE", "TASK", "VARIANTS", "PLUGIN", "FILE", "SUMMARY"};
    static const char *const task_cols[] = {"NAME", "REQUIRED LABELS", "MAIN OUTPUT", "EXTENDS", "PLUGIN", "FILE",
                                            "SUMMARY"};
    static const char *const module_cols[] = {"NAME", "TASKS", "NODE", "PLUGIN", "FILE", "SUMMARY"};
    const char *const *cols = kinds[k].kind == LT_DESC_NODE   ? node_cols
                              : kinds[k].kind == LT_DESC_TASK ? task_cols
                                                              : module_cols;
    t.n_cols = kinds[k].kind == LT_DESC_NODE || kinds[k].kind == LT_DESC_TASK ? 7 : 6;
    for (int c = 0; c < t.n_cols; c++) t.head[c] = cols[c];

    int rc = 0;
    for (size_t i = 0; i < lt_registry_count(r) && rc == 0; i++) {
        const lt_registry_entry *e = lt_registry_at(r, i);
        if (e->desc->kind == kinds[k].kind) rc = add_row(&t, r, e);
    }
    if (rc == 0) {
        fprintf(out, "%s (%d):\n", kinds[k].heading, t.n_rows);
        if (t.n_rows) table_print(&t, out);
        else fprintf(out, "  (none)\n");
    }
    table_free(&t);
    return rc;
}

static int list_text(const lt_registry *r, FILE *out)
{
    for (int k = 0; k < N_KINDS; k++) {
        if (k) fputc('\n', out);
        if (list_kind(r, k, out) != 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* JSON listing                                                        */
/* ------------------------------------------------------------------ */

static void json_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void json_str_list(FILE *out, const char *const *items)
{
    if (!items) {
        fputs("null", out);
        return;
    }
    fputc('[', out);
    for (int i = 0; items[i]; i++) {
        if (i) fputs(", ", out);
        json_str(out, items[i]);
    }
    fputc(']', out);
}

static void json_labels(FILE *out, const lt_task_info *t)
{
    fputc('[', out);
    for (int i = 0; i < t->n_labels; i++) {
        const lt_label_spec *s = &t->labels[i];
        fputs(i ? ", {\"name\": " : "{\"name\": ", out);
        json_str(out, s->name);
        if (s->metadata_types) {
            fputs(", \"metadata_types\": [", out);
            for (size_t b = 0, n = 0; b < sizeof meta_types / sizeof meta_types[0]; b++)
                if (s->metadata_types & meta_types[b].bit)
                    fprintf(out, "%s\"%s\"", n++ ? ", " : "", meta_types[b].name);
            fputc(']', out);
        }
        fputc('}', out);
    }
    fputc(']', out);
}

static void json_node(FILE *out, const lt_node_desc *d)
{
    fprintf(out, ", \"role\": \"%s\", \"task\": ", role_name(d->role));
    json_str(out, d->task);
    fputs(", \"parser\": ", out);
    json_str(out, d->parser);
    fputs(", \"variants\": ", out);
    json_str_list(out, d->variants);
}

static void json_task(FILE *out, const lt_registry *r, const lt_task_desc *d)
{
    lt_task_info info;
    fputs(", \"extends\": ", out);
    json_str(out, d->extends);
    if (lt_task_resolve(r, d->header.name, &info) != 0) {
        fputs(", \"error\": ", out);
        json_str(out, lt_last_error());
        return;
    }
    fputs(", \"main_output\": ", out);
    json_str(out, info.main_output);
    fputs(", \"required_labels\": ", out);
    json_labels(out, &info);
}

static void json_module(FILE *out, const lt_desc_header *h)
{
    module_view m = module_of(h);
    fputs(", \"supported_tasks\": ", out);
    json_str_list(out, m.supported_tasks);
    fputs(", \"node\": ", out);
    json_str(out, m.node);
    fputs(", \"args\": [", out);
    for (int i = 0; m.args && m.args[i].name; i++) {
        fputs(i ? ", {\"name\": " : "{\"name\": ", out);
        json_str(out, m.args[i].name);
        fprintf(out, ", \"kind\": \"%s\", \"optional\": %s}", lt_arg_kind_name(m.args[i].kind),
                m.args[i].flags & LT_ARG_OPTIONAL ? "true" : "false");
    }
    fputc(']', out);
    if (h->kind != LT_DESC_METRIC) return;
    fputs(", \"states\": [", out);
    for (int i = 0; m.states && m.states[i].name; i++) {
        fputs(i ? ", {\"name\": " : "{\"name\": ", out);
        json_str(out, m.states[i].name);
        fprintf(out, ", \"kind\": \"%s\"}", state_kind_name(m.states[i].kind));
    }
    fputc(']', out);
}

static void list_json(const lt_cli_plugins *p, FILE *out)
{
    const lt_registry *r = p->registry;
    fprintf(out, "{\n  \"version\": \"%d.%d.%d\",\n  \"plugin_abi\": %u,\n", LT_VERSION_MAJOR, LT_VERSION_MINOR,
            LT_VERSION_PATCH, (unsigned)LT_PLUGIN_ABI_VERSION);
    fprintf(out, "  \"plugins_loaded\": %d,\n  \"plugins_failed\": %d,\n  \"shadowed\": %d,\n  \"entries\": [",
            p->report.n_loaded, p->report.n_failed, p->report.n_shadowed);
    int n = 0;
    for (int k = 0; k < N_KINDS; k++) {
        for (size_t i = 0; i < lt_registry_count(r); i++) {
            const lt_registry_entry *e = lt_registry_at(r, i);
            const lt_desc_header *h = e->desc;
            if (h->kind != kinds[k].kind) continue;
            fprintf(out, "%s\n    {\"kind\": \"%s\", \"name\": ", n++ ? "," : "", lt_desc_kind_name(kinds[k].kind));
            json_str(out, h->name);
            fputs(", \"plugin\": ", out);
            json_str(out, e->plugin);
            fputs(", \"file\": ", out);
            json_str(out, *e->file ? e->file : NULL);
            fputs(", \"summary\": ", out);
            json_str(out, h->summary);
            if (h->kind == LT_DESC_NODE)
                json_node(out, (const lt_node_desc *)h);
            else if (h->kind == LT_DESC_TASK)
                json_task(out, r, (const lt_task_desc *)h);
            else
                json_module(out, h);
            fputc('}', out);
        }
    }
    fputs("\n  ],\n  \"problems\": [", out);
    for (int i = 0; i < p->report.n_messages; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        json_str(out, p->report.messages[i]);
    }
    fputs(p->report.n_messages ? "\n  ]\n}\n" : "]\n}\n", out);
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

void lt_cmd_plugins_usage(FILE *out)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    fprintf(out,
            "Usage: ltrain plugins [--plugin-path PATH]... [--json]\n"
            "\n"
            "Loads every plugin ltrain can find and lists what it registers (nodes, tasks,\n"
            "losses, metrics, visualizers) with its tasks, plugin and file, grouped by kind.\n"
            "Problems loading a plugin are printed on stderr; everything else is still listed.\n"
            "\n"
            "Options:\n"
            "  --plugin-path PATH  search PATH first: a directory of *.so plugins, or one .so\n"
            "                      (repeatable; earlier ones win)\n"
            "  --json              print the listing as JSON\n"
            "  -h, --help          show this help\n"
            "\n"
            "Search path, first match wins (a later plugin registering the same name is\n"
            "reported as shadowed, and so is a later file with the same file name):\n"
            "  1. --plugin-path\n"
            "  2. $LTRAIN_PLUGIN_PATH, ':'-separated\n"
            "  3. the plugin paths of the config (train, test, infer)\n"
            "  4. %s/ltrain/plugins\n"
            "  5. %s (only when ltrain runs from its build tree)\n"
            "  6. %s\n",
            xdg && xdg[0] == '/' ? "$XDG_DATA_HOME" : "~/.local/share", LTRAIN_BUILDTREE_PLUGINSDIR,
            LTRAIN_PLUGINSDIR);
}

/* --plugin-path DIR, --plugin-path=DIR */
static const char *plugin_path_arg(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    static const char flag[] = "--plugin-path";
    if (strncmp(a, flag, sizeof flag - 1) != 0) return NULL;
    if (a[sizeof flag - 1] == '=') return a + sizeof flag;
    if (a[sizeof flag - 1] != '\0') return NULL;
    if (*i + 1 >= argc) return "";
    return argv[++*i];
}

int lt_cmd_plugins(int argc, char **argv)
{
    const char **paths = calloc((size_t)argc, sizeof *paths);
    if (!paths) {
        fprintf(stderr, "ltrain plugins: out of memory\n");
        return LT_EXIT_FAILURE;
    }
    int n_paths = 0, status = LT_EXIT_OK;
    bool json = false;
    for (int i = 1; i < argc && status == LT_EXIT_OK; i++) {
        const char *path = plugin_path_arg(argc, argv, &i);
        if (path && *path) {
            paths[n_paths++] = path;
        } else if (path) {
            fprintf(stderr, "ltrain plugins: --plugin-path needs a directory or a .so file\n");
            status = LT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            lt_cmd_plugins_usage(stdout);
            free(paths);
            return LT_EXIT_OK;
        } else {
            fprintf(stderr, "ltrain plugins: unknown argument '%s'\nRun 'ltrain plugins --help' for the options.\n",
                    argv[i]);
            status = LT_EXIT_USAGE;
        }
    }
    if (status != LT_EXIT_OK) {
        free(paths);
        return status;
    }

    lt_cli_plugins p;
    if (lt_cli_load_plugins(&p, paths, n_paths, NULL, 0) != 0) {
        fprintf(stderr, "ltrain plugins: %s\n", lt_last_error());
        status = LT_EXIT_FAILURE;
    } else {
        lt_cli_print_load_problems(&p, stderr);
        warn_unknown_tasks(p.registry, stderr);
        if (json)
            list_json(&p, stdout);
        else if (list_text(p.registry, stdout) != 0) {
            fprintf(stderr, "ltrain plugins: %s\n", lt_last_error());
            status = LT_EXIT_FAILURE;
        }
    }
    lt_cli_plugins_free(&p);
    free(paths);
    return status;
}
