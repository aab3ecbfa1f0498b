/* Plugin loader: walks the search path, dlopens each plugin, checks its
 * ABI, validates every descriptor and registers what passes.
 *
 * A plugin is all-or-nothing: one bad descriptor skips the whole file with
 * one message (file, symbol or descriptor, reason), so a half-registered
 * plugin never hides a mistake. The loader keeps its own zero-padded copy of
 * every descriptor, so the rest of the core may read every member of the
 * current layout even from a plugin built against an older (shorter) one. */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef LTRAIN_PLUGINSDIR
#error "core/meson.build defines LTRAIN_PLUGINSDIR"
#endif
#ifndef LTRAIN_BUILDTREE_PLUGINSDIR
#error "core/meson.build defines LTRAIN_BUILDTREE_PLUGINSDIR"
#endif

/* One plugin kept loaded. */
typedef struct loaded_plugin {
    void *handle;
    char *path;       /* as found on the search path */
    char *real;       /* canonical path: the same file reached twice loads once */
    void **copies;    /* our copies of its registered descriptors */
    int n_copies;
} loaded_plugin;

struct lt_loader {
    loaded_plugin *plugins;
    int n, cap;
    char **seen; /* canonical paths of every file tried */
    int n_seen, cap_seen;
};

typedef enum { LOAD_OK, LOAD_SKIPPED, LOAD_NO_MEMORY } load_status;

/* Longest NULL- or {0}-terminated array the loader will walk: a missing
 * terminator is reported instead of read past forever. */
enum { LIST_MAX = 1024, NAME_MAX_LEN = 128 };

/* ------------------------------------------------------------------ */
/* Report                                                              */
/* ------------------------------------------------------------------ */

static load_status report_add(lt_load_report *rep, const char *msg)
{
    char *copy = strdup(msg);
    char **grown = copy ? realloc(rep->messages, (size_t)(rep->n_messages + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        lt_set_error("plugin loader: out of memory");
        return LOAD_NO_MEMORY;
    }
    rep->messages = grown;
    rep->messages[rep->n_messages++] = copy;
    return LOAD_OK;
}

static load_status vreport(lt_load_report *rep, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (report_add(rep, msg) != LOAD_OK) return LOAD_NO_MEMORY;
    lt_set_error("%s", msg);
    return LOAD_OK;
}

/* Records one problem (also as the thread's error) that skips nothing. */
static load_status report(lt_load_report *rep, const char *fmt, ...) LT_PRINTF(2, 3);
static load_status report(lt_load_report *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    load_status s = vreport(rep, fmt, ap);
    va_end(ap);
    return s;
}

/* Records why a plugin file is skipped: LOAD_SKIPPED (or out of memory). */
static load_status skip(lt_load_report *rep, const char *fmt, ...) LT_PRINTF(2, 3);
static load_status skip(lt_load_report *rep, const char *fmt, ...)
{
    rep->n_failed++;
    va_list ap;
    va_start(ap, fmt);
    load_status s = vreport(rep, fmt, ap);
    va_end(ap);
    return s == LOAD_OK ? LOAD_SKIPPED : s;
}

void lt_load_report_free(lt_load_report *rep)
{
    if (!rep) return;
    for (int i = 0; i < rep->n_messages; i++) free(rep->messages[i]);
    free(rep->messages);
    *rep = (lt_load_report){0};
}

/* ------------------------------------------------------------------ */
/* Descriptor validation                                               */
/* ------------------------------------------------------------------ */

/* End of a member: what a plugin's `size` must cover for it to exist. */
#define MEMBER_END(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* The ABI-1 layouts, pinned: when a member is appended to a descriptor,
 * these stay as they are and the new member is read only when `size`
 * covers it. */
static const size_t v1_size[LT_DESC_KIND_COUNT] = {
    [LT_DESC_NODE] = MEMBER_END(lt_node_desc, custom_head_config),
    [LT_DESC_TASK] = MEMBER_END(lt_task_desc, required_labels),
    [LT_DESC_LOSS] = MEMBER_END(lt_loss_desc, run),
    [LT_DESC_METRIC] = MEMBER_END(lt_metric_desc, run_update),
    [LT_DESC_VISUALIZER] = MEMBER_END(lt_visualizer_desc, run),
};
/* The layouts this core reads (copies are this size). */
static const size_t full_size[LT_DESC_KIND_COUNT] = {
    [LT_DESC_NODE] = sizeof(lt_node_desc),     [LT_DESC_TASK] = sizeof(lt_task_desc),
    [LT_DESC_LOSS] = sizeof(lt_loss_desc),     [LT_DESC_METRIC] = sizeof(lt_metric_desc),
    [LT_DESC_VISUALIZER] = sizeof(lt_visualizer_desc),
};
#define PLUGIN_INFO_V1_SIZE MEMBER_END(lt_plugin_info, descriptors)

/* Why a check failed; filled by CHECK. */
typedef struct check_ctx {
    char why[512];
} check_ctx;

/* The one checking macro: on a false condition, record the reason and
 * reject the descriptor (or plugin table) being checked. */
#define CHECK(ctx, cond, ...)                                   \
    do {                                                        \
        if (!(cond)) {                                          \
            snprintf((ctx)->why, sizeof (ctx)->why, __VA_ARGS__); \
            return false;                                       \
        }                                                       \
    } while (0)

/* Registry names appear in YAML, log keys ("val/metric/<node>/<name>") and
 * file names: a letter or '_', then letters, digits, '_', '-' or '.'. */
static bool valid_name(const char *s)
{
    if (!s || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) return false;
    size_t n = 0;
    for (; s[n] && n <= NAME_MAX_LEN; n++) {
        char c = s[n];
        bool ok = c == '_' || c == '-' || c == '.' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return n <= NAME_MAX_LEN;
}

static const char *shown(const char *s) { return s ? s : "(null)"; }

/* Validates a NULL-terminated string list (variants, supported_tasks). */
static bool check_str_list(check_ctx *c, const char *what, const char *const *list)
{
    int n = 0;
    for (; n < LIST_MAX && list[n]; n++) CHECK(c, *list[n], "%s[%d] is empty", what, n);
    CHECK(c, n < LIST_MAX, "%s has no NULL terminator within %d entries", what, LIST_MAX);
    CHECK(c, n > 0, "%s is an empty list (leave it NULL instead)", what);
    return true;
}

static bool check_node(check_ctx *c, const lt_node_desc *d)
{
    CHECK(c, d->role >= LT_NODE_BACKBONE && d->role <= LT_NODE_HEAD,
          "role is %d, expected LT_NODE_BACKBONE, LT_NODE_NECK or LT_NODE_HEAD", (int)d->role);
    CHECK(c, d->forward, "forward is NULL");
    CHECK(c, d->state_size == 0 || d->init, "init is NULL but state_size is %zu (init must set the state up)",
          d->state_size);
    CHECK(c, d->input_kind >= LT_VALUE_NONE && d->input_kind <= LT_VALUE_LIST, "input_kind %d is not an lt_value_kind",
          (int)d->input_kind);
    CHECK(c, d->output_kind >= LT_VALUE_NONE && d->output_kind <= LT_VALUE_LIST,
          "output_kind %d is not an lt_value_kind", (int)d->output_kind);
    CHECK(c, d->attach_index.kind >= LT_ATTACH_UNSET && d->attach_index.kind <= LT_ATTACH_EVERY,
          "attach_index.kind %d is not an lt_attach_kind", (int)d->attach_index.kind);
    CHECK(c, d->attach_index.kind != LT_ATTACH_SLICE || d->attach_index.step != 0, "attach_index slice step is 0");
    CHECK(c, !d->task || valid_name(d->task), "task '%s' is not a valid task name", shown(d->task));
    if (d->variants && !check_str_list(c, "variants", d->variants)) return false;
    return true;
}

static bool same_label(const lt_label_spec *a, const lt_label_spec *b)
{
    return (a->metadata_types != 0) == (b->metadata_types != 0) && strcmp(a->name, b->name) == 0;
}

static bool check_task(check_ctx *c, const lt_task_desc *d)
{
    const uint32_t all_types = LT_META_STR | LT_META_INT | LT_META_FLOAT | LT_META_CATEGORY;
    CHECK(c, d->required_labels,
          "required_labels is NULL (end the list with {0}; it may be empty when `extends` is set)");
    int n = 0;
    for (const lt_label_spec *s = d->required_labels; n < LIST_MAX && s->name; s++, n++) {
        CHECK(c, valid_name(s->name), "required_labels[%d] name '%s' is not a valid label name", n, s->name);
        CHECK(c, (s->metadata_types & ~all_types) == 0, "required_labels[%d] ('%s') has unknown metadata types 0x%x", n,
              s->name, (unsigned)s->metadata_types);
        for (int k = 0; k < n; k++)
            CHECK(c, !same_label(&d->required_labels[k], s), "required_labels lists '%s' twice", s->name);
    }
    CHECK(c, n < LIST_MAX, "required_labels has no {0} terminator within %d entries", LIST_MAX);
    CHECK(c, !d->main_output || *d->main_output, "main_output is empty (leave it NULL for the default)");
    CHECK(c, !d->extends || valid_name(d->extends), "extends '%s' is not a valid task name", shown(d->extends));
    CHECK(c, !d->extends || strcmp(d->extends, d->header.name) != 0, "the task extends itself");
    return true;
}

static bool is_canvas_name(const char *name)
{
    return strcmp(name, "prediction_canvas") == 0 || strcmp(name, "target_canvas") == 0;
}

static bool check_args(check_ctx *c, lt_desc_kind kind, const lt_arg_spec *args)
{
    int n = 0;
    for (const lt_arg_spec *a = args; n < LIST_MAX && a->name; a++, n++) {
        CHECK(c, valid_name(a->name), "args[%d] name '%s' is not a valid argument name", n, a->name);
        CHECK(c, a->kind >= LT_ARG_TENSOR && a->kind <= LT_ARG_CANVAS,
              "args[%d] ('%s') has kind %d, not an lt_arg_kind", n, a->name, (int)a->kind);
        CHECK(c, a->kind != LT_ARG_CANVAS || kind == LT_DESC_VISUALIZER,
              "args[%d] ('%s') is LT_ARG_CANVAS, which only visualizers take", n, a->name);
        CHECK(c, kind != LT_DESC_VISUALIZER || !is_canvas_name(a->name),
              "args[%d] is '%s', which is passed implicitly before the declared arguments (do not list it)", n,
              a->name);
        CHECK(c, (a->flags & ~(uint32_t)LT_ARG_OPTIONAL) == 0, "args[%d] ('%s') has unknown flags 0x%x", n, a->name,
              (unsigned)a->flags);
        for (int k = 0; k < n; k++) CHECK(c, strcmp(args[k].name, a->name) != 0, "args lists '%s' twice", a->name);
    }
    CHECK(c, n < LIST_MAX, "args has no {0} terminator within %d entries", LIST_MAX);
    return true;
}

/* Members every attached module shares (LT_MODULE_COMMON). */
static bool check_module_common(check_ctx *c, lt_desc_kind kind, const char *const *supported_tasks, const char *node,
                                const lt_arg_spec *args, lt_generic_fn fn, const char *fn_name)
{
    if (supported_tasks) {
        if (!check_str_list(c, "supported_tasks", supported_tasks)) return false;
        for (int i = 0; supported_tasks[i]; i++)
            CHECK(c, valid_name(supported_tasks[i]), "supported_tasks[%d] '%s' is not a valid task name", i,
                  supported_tasks[i]);
    }
    CHECK(c, !node || valid_name(node), "node '%s' is not a valid node name", shown(node));
    CHECK(c, !fn || args, "%s is set but args is NULL (declare its arguments; {0} when it takes none)", fn_name);
    return !args || check_args(c, kind, args);
}

static bool check_states(check_ctx *c, const lt_state_spec *states)
{
    int n = 0;
    for (const lt_state_spec *s = states; n < LIST_MAX && s->name; s++, n++) {
        CHECK(c, valid_name(s->name), "states[%d] name '%s' is not a valid state name", n, s->name);
        CHECK(c, s->kind == LT_STATE_TENSOR || s->kind == LT_STATE_LIST, "states[%d] ('%s') has kind %d", n, s->name,
              (int)s->kind);
        CHECK(c, s->reduce >= LT_REDUCE_DEFAULT && s->reduce <= LT_REDUCE_CAT,
              "states[%d] ('%s') has reduce %d, not an lt_state_reduce", n, s->name, (int)s->reduce);
        if (s->kind == LT_STATE_TENSOR) {
            CHECK(c, s->ndim >= 0 && s->ndim <= 4, "states[%d] ('%s') has ndim %d (0..4)", n, s->name, s->ndim);
            for (int k = 0; k < s->ndim; k++)
                CHECK(c, s->shape[k] > 0 || s->shape[k] == -1,
                      "states[%d] ('%s') has shape[%d] = %lld (positive, or -1 for n_classes)", n, s->name, k,
                      (long long)s->shape[k]);
        }
        for (int k = 0; k < n; k++) CHECK(c, strcmp(states[k].name, s->name) != 0, "states lists '%s' twice", s->name);
    }
    CHECK(c, n < LIST_MAX, "states has no {0} terminator within %d entries", LIST_MAX);
    return true;
}

static bool check_loss(check_ctx *c, const lt_loss_desc *d)
{
    CHECK(c, d->forward || d->run, "forward and run are both NULL (set forward, or run for raw access)");
    return check_module_common(c, LT_DESC_LOSS, d->supported_tasks, d->node, d->args, d->forward, "forward");
}

static bool check_metric(check_ctx *c, const lt_metric_desc *d)
{
    CHECK(c, d->update || d->run_update, "update and run_update are both NULL (set update, or run_update)");
    CHECK(c, d->compute, "compute is NULL");
    if (d->states && !check_states(c, d->states)) return false;
    return check_module_common(c, LT_DESC_METRIC, d->supported_tasks, d->node, d->args, d->update, "update");
}

static bool check_visualizer(check_ctx *c, const lt_visualizer_desc *d)
{
    CHECK(c, d->forward || d->run, "forward and run are both NULL (set forward, or run for raw access)");
    return check_module_common(c, LT_DESC_VISUALIZER, d->supported_tasks, d->node, d->args, d->forward, "forward");
}

/* The header, in the order the ABI demands: version first, then size, and
 * only then anything else. */
static bool check_header(check_ctx *c, const lt_desc_header *h)
{
    CHECK(c, h->abi_version == LT_PLUGIN_ABI_VERSION,
          "descriptor ABI version %u, but this ltrain expects %u (rebuild the plugin against this ltrain's headers)",
          (unsigned)h->abi_version, (unsigned)LT_PLUGIN_ABI_VERSION);
    CHECK(c, h->size >= sizeof(lt_desc_header), "size %u is smaller than lt_desc_header (%zu)", (unsigned)h->size,
          sizeof(lt_desc_header));
    CHECK(c, h->kind > 0 && h->kind < LT_DESC_KIND_COUNT, "kind %d is not an lt_desc_kind (%d..%d)", (int)h->kind,
          (int)LT_DESC_NODE, (int)LT_DESC_KIND_COUNT - 1);
    CHECK(c, h->size >= v1_size[h->kind], "size %u is smaller than the %s descriptor layout of ABI %u (%zu)",
          (unsigned)h->size, lt_desc_kind_name(h->kind), (unsigned)LT_PLUGIN_ABI_VERSION, v1_size[h->kind]);
    CHECK(c, h->name, "name is NULL");
    CHECK(c, valid_name(h->name),
          "name '%s' is not a valid name (a letter or '_', then letters, digits, '_', '-' or '.'; at most %d)",
          h->name, NAME_MAX_LEN);
    return true;
}

static bool check_desc(check_ctx *c, const lt_desc_header *h)
{
    if (!check_header(c, h)) return false;
    switch (h->kind) {
    case LT_DESC_NODE: return check_node(c, (const lt_node_desc *)h);
    case LT_DESC_TASK: return check_task(c, (const lt_task_desc *)h);
    case LT_DESC_LOSS: return check_loss(c, (const lt_loss_desc *)h);
    case LT_DESC_METRIC: return check_metric(c, (const lt_metric_desc *)h);
    case LT_DESC_VISUALIZER: return check_visualizer(c, (const lt_visualizer_desc *)h);
    default: return false; /* excluded by check_header */
    }
}

/* "descriptors[2] (loss 'Foo')", naming only what may be read: nothing
 * past the index when the descriptor's ABI or size is wrong. */
static const char *desc_label(const lt_desc_header *h, int i, char *buf, size_t size)
{
    bool readable = h->abi_version == LT_PLUGIN_ABI_VERSION && h->size >= sizeof(lt_desc_header) && h->kind > 0 &&
                    h->kind < LT_DESC_KIND_COUNT && h->name;
    if (readable)
        snprintf(buf, size, "descriptors[%d] (%s '%.*s')", i, lt_desc_kind_name(h->kind), NAME_MAX_LEN, h->name);
    else
        snprintf(buf, size, "descriptors[%d]", i);
    return buf;
}

/* Checks the plugin table itself; counts its descriptors into *n_desc. */
static bool check_plugin_info(check_ctx *c, const lt_plugin_info *info, int *n_desc)
{
    CHECK(c, info, "returned NULL");
    CHECK(c, info->abi_version == LT_PLUGIN_ABI_VERSION,
          "plugin ABI version %u, but this ltrain expects %u (rebuild the plugin against this ltrain's headers)",
          (unsigned)info->abi_version, (unsigned)LT_PLUGIN_ABI_VERSION);
    CHECK(c, info->size >= PLUGIN_INFO_V1_SIZE, "lt_plugin_info size %u is smaller than the ABI %u layout (%zu)",
          (unsigned)info->size, (unsigned)LT_PLUGIN_ABI_VERSION, (size_t)PLUGIN_INFO_V1_SIZE);
    CHECK(c, info->name && valid_name(info->name), "plugin name '%s' is missing or not a valid name",
          shown(info->name));
    CHECK(c, info->descriptors, "descriptors is NULL");
    int n = 0;
    while (n < LIST_MAX && info->descriptors[n]) n++;
    CHECK(c, n < LIST_MAX, "descriptors has no NULL terminator within %d entries", LIST_MAX);
    CHECK(c, n > 0, "the plugin declares no descriptors");
    *n_desc = n;
    return true;
}

/* ------------------------------------------------------------------ */
/* Loading one file                                                    */
/* ------------------------------------------------------------------ */

lt_loader *lt_loader_new(void)
{
    lt_loader *l = calloc(1, sizeof *l);
    if (!l) lt_set_error("plugin loader: out of memory");
    return l;
}

static void free_copies(void **copies, int n)
{
    for (int i = 0; i < n; i++) free(copies[i]);
    free(copies);
}

void lt_loader_free(lt_loader *l)
{
    if (!l) return;
    for (int i = l->n - 1; i >= 0; i--) {
        loaded_plugin *p = &l->plugins[i];
        dlclose(p->handle);
        free_copies(p->copies, p->n_copies);
        free(p->path);
        free(p->real);
    }
    for (int i = 0; i < l->n_seen; i++) free(l->seen[i]);
    free(l->seen);
    free(l->plugins);
    free(l);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* dlerror() text without the leading "<path>: " that repeats our prefix. */
static const char *dl_reason(const char *real)
{
    const char *e = dlerror();
    if (!e) return "unknown dynamic loader error";
    size_t n = strlen(real);
    if (strncmp(e, real, n) == 0 && e[n] == ':' && e[n + 1] == ' ') return e + n + 2;
    return e;
}

/* The entry symbol, only if this very object defines it (dlsym on a handle
 * also searches the plugin's dependencies). */
static void *own_entry_symbol(void *handle)
{
    dlerror();
    void *sym = dlsym(handle, LT_PLUGIN_ENTRY_SYMBOL);
    if (!sym) return NULL;
    struct link_map *map = NULL;
    Dl_info where;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map || !dladdr(sym, &where) || !where.dli_fname) return sym;
    return strcmp(where.dli_fname, map->l_name) == 0 ? sym : NULL;
}

/* Copies a validated descriptor into loader memory, zero-filled past the
 * plugin's size. */
static lt_desc_header *copy_desc(const lt_desc_header *h)
{
    size_t full = full_size[h->kind];
    lt_desc_header *copy = calloc(1, full);
    if (copy) memcpy(copy, h, h->size < full ? h->size : full);
    return copy;
}

/* Index of the loaded plugin whose file name is base, or -1. */
static int find_loaded(const lt_loader *l, const char *base)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(base_name(l->plugins[i].real), base) == 0) return i;
    return -1;
}

/* Validates the table and every descriptor; false with the reason (naming
 * the symbol and descriptor) in why. */
static bool validate_plugin(const lt_plugin_info *info, int *n_desc, char *why, size_t size)
{
    check_ctx c;
    if (!check_plugin_info(&c, info, n_desc)) {
        snprintf(why, size, "%s(): %s", LT_PLUGIN_ENTRY_SYMBOL, c.why);
        return false;
    }
    char label[256];
    for (int i = 0; i < *n_desc; i++) {
        const lt_desc_header *h = info->descriptors[i];
        if (!check_desc(&c, h)) {
            snprintf(why, size, "%s(): %s: %s", LT_PLUGIN_ENTRY_SYMBOL, desc_label(h, i, label, sizeof label), c.why);
            return false;
        }
        for (int k = 0; k < i; k++) {
            const lt_desc_header *o = info->descriptors[k];
            if (o->kind != h->kind || strcmp(o->name, h->name) != 0) continue;
            snprintf(why, size, "%s(): descriptors[%d] and descriptors[%d] are both %s '%s' (duplicate name)",
                     LT_PLUGIN_ENTRY_SYMBOL, k, i, lt_desc_kind_name(h->kind), h->name);
            return false;
        }
    }
    return true;
}

static load_status keep_plugin(lt_loader *l, void *handle, const char *path, const char *real, void **copies,
                               int n_copies)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        loaded_plugin *grown = realloc(l->plugins, (size_t)cap * sizeof *grown);
        if (!grown) return LOAD_NO_MEMORY;
        l->plugins = grown;
        l->cap = cap;
    }
    char *path_copy = strdup(path), *real_copy = strdup(real);
    if (!path_copy || !real_copy) {
        free(path_copy);
        free(real_copy);
        return LOAD_NO_MEMORY;
    }
    l->plugins[l->n++] = (loaded_plugin){handle, path_copy, real_copy, copies, n_copies};
    return LOAD_OK;
}

/* Registers the validated descriptors; a name already taken by an earlier
 * plugin is reported as shadowed and the earlier one kept. */
static load_status register_all(lt_registry *r, const lt_plugin_info *info, int n_desc, const char *path,
                                lt_load_report *rep, void **copies, int *n_copies)
{
    for (int i = 0; i < n_desc; i++) {
        const lt_desc_header *h = info->descriptors[i];
        const lt_registry_entry *old = lt_registry_find(r, h->kind, h->name);
        if (old) {
            rep->n_shadowed++;
            if (report(rep, "%s: %s '%s' is shadowed by the one of plugin '%s' (%s), which comes first; using that one",
                       path, lt_desc_kind_name(h->kind), h->name, old->plugin, *old->file ? old->file : "built in") != LOAD_OK)
                return LOAD_NO_MEMORY;
            continue;
        }
        lt_desc_header *copy = copy_desc(h);
        if (!copy) return LOAD_NO_MEMORY;
        copies[(*n_copies)++] = copy;
        if (lt_registry_add(r, copy, info->name, path) != 0) return LOAD_NO_MEMORY;
    }
    return LOAD_OK;
}

/* Remembers that real was tried, so a file reached twice (a directory
 * listed in two places) is loaded or reported once. */
static load_status mark_seen(lt_loader *l, const char *real)
{
    if (l->n_seen == l->cap_seen) {
        int cap = l->cap_seen ? 2 * l->cap_seen : 32;
        char **grown = realloc(l->seen, (size_t)cap * sizeof *grown);
        if (!grown) return LOAD_NO_MEMORY;
        l->seen = grown;
        l->cap_seen = cap;
    }
    if (!(l->seen[l->n_seen] = strdup(real))) return LOAD_NO_MEMORY;
    l->n_seen++;
    return LOAD_OK;
}

static bool was_seen(const lt_loader *l, const char *real)
{
    for (int i = 0; i < l->n_seen; i++)
        if (strcmp(l->seen[i], real) == 0) return true;
    return false;
}

/* dlopen, entry symbol, table and descriptor checks: LOAD_OK with the
 * handle and its validated table, else LOAD_SKIPPED (reported; *handle is
 * set when dlopen succeeded) or LOAD_NO_MEMORY. */
static load_status open_plugin(const char *path, const char *real, lt_load_report *rep, void **handle,
                               const lt_plugin_info **info, int *n_desc)
{
    *handle = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!*handle) return skip(rep, "%s: dlopen failed: %s; plugin skipped", path, dl_reason(real));
    void *sym = own_entry_symbol(*handle);
    if (!sym)
        return skip(rep,
                    "%s: no symbol '%s' (not an ltrain plugin? end its source with LT_PLUGIN(...)); "
                    "plugin skipped",
                    path, LT_PLUGIN_ENTRY_SYMBOL);
    lt_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, as POSIX dlsym allows */
    *info = entry();
    char why[1024];
    if (!validate_plugin(*info, n_desc, why, sizeof why)) return skip(rep, "%s: %s; plugin skipped", path, why);
    return LOAD_OK;
}

static load_status load_file(lt_loader *l, lt_registry *r, const char *path, lt_load_report *rep)
{
    char *real = realpath(path, NULL);
    if (!real) return skip(rep, "%s: cannot open: %s; plugin skipped", path, strerror(errno));
    if (was_seen(l, real)) { /* reported the first time, if it had to be */
        bool loaded = false;
        for (int i = 0; i < l->n && !loaded; i++) loaded = strcmp(l->plugins[i].real, real) == 0;
        if (!loaded) lt_set_error("%s: tried earlier on the search path and not loaded", path);
        free(real);
        return loaded ? LOAD_OK : LOAD_SKIPPED;
    }
    load_status status = mark_seen(l, real);
    int earlier = status == LOAD_OK ? find_loaded(l, base_name(real)) : -1;
    if (earlier >= 0) {
        rep->n_shadowed++;
        status = report(rep, "%s: shadowed by %s (same file name, earlier on the search path); not loaded", path,
                        l->plugins[earlier].path);
        free(real);
        return status == LOAD_OK ? LOAD_SKIPPED : status;
    }

    void *handle = NULL, **copies = NULL;
    const lt_plugin_info *info = NULL;
    int n_desc = 0, n_copies = 0;
    if (status == LOAD_OK) status = open_plugin(path, real, rep, &handle, &info, &n_desc);
    if (status == LOAD_OK && !(copies = calloc((size_t)n_desc, sizeof *copies))) status = LOAD_NO_MEMORY;
    if (status == LOAD_OK) status = register_all(r, info, n_desc, path, rep, copies, &n_copies);
    if (status == LOAD_OK && n_copies == 0) { /* everything shadowed: keep nothing of it */
        lt_set_error("%s: every descriptor is shadowed by an earlier plugin; not loaded", path);
        status = LOAD_SKIPPED;
    }
    if (status == LOAD_OK) status = keep_plugin(l, handle, path, real, copies, n_copies);
    free(real);
    if (status == LOAD_OK) {
        rep->n_loaded++;
        return LOAD_OK;
    }
    if (status == LOAD_NO_MEMORY) lt_set_error("plugin loader: out of memory loading %s", path);
    /* Descriptors already registered must outlive the registry: on out of
     * memory after registering some, the plugin is deliberately leaked. */
    if (n_copies == 0) {
        free_copies(copies, 0);
        if (handle) dlclose(handle);
    }
    return status;
}

int lt_loader_load_file(lt_loader *l, lt_registry *r, const char *path, lt_load_report *rep)
{
    lt_load_report scratch = {0};
    load_status s = load_file(l, r, path, rep ? rep : &scratch);
    lt_load_report_free(&scratch); /* the reason stays in lt_last_error() */
    return s == LOAD_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* The search path                                                     */
/* ------------------------------------------------------------------ */

static bool ends_with_so(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Full paths of the *.so regular files in dir, sorted by name. Other
 * files (READMEs, libfoo.so.1 symlinks, hidden files) are not plugins and
 * are passed over silently. */
static load_status list_plugins(DIR *d, const char *dir, char ***out, size_t *n_out)
{
    char **paths = NULL;
    size_t n = 0, cap = 0;
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !ends_with_so(e->d_name)) continue;
        if (n == cap) {
            char **grown = realloc(paths, (cap = cap ? 2 * cap : 32) * sizeof *grown);
            if (!grown) goto no_memory;
            paths = grown;
        }
        size_t len = strlen(dir) + strlen(sep) + strlen(e->d_name) + 1;
        char *p = malloc(len);
        if (!p) goto no_memory;
        snprintf(p, len, "%s%s%s", dir, sep, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        paths[n++] = p;
    }
    if (n > 1) qsort(paths, n, sizeof *paths, by_name);
    *out = paths;
    *n_out = n;
    return LOAD_OK;
no_memory:
    while (n > 0) free(paths[--n]);
    free(paths);
    return LOAD_NO_MEMORY;
}

/* Loads every plugin of dir in name order. */
static load_status load_dir(lt_loader *l, lt_registry *r, const char *dir, lt_load_report *rep)
{
    DIR *d = opendir(dir);
    if (!d) return report(rep, "%s: cannot read plugin directory: %s", dir, strerror(errno));
    char **paths = NULL;
    size_t n = 0;
    load_status status = list_plugins(d, dir, &paths, &n);
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        if (status != LOAD_NO_MEMORY && load_file(l, r, paths[i], rep) == LOAD_NO_MEMORY) status = LOAD_NO_MEMORY;
        free(paths[i]);
    }
    free(paths);
    return status;
}

/* One entry of the search path: a directory (scanned) or a .so (loaded).
 * Explicitly requested paths that do not exist are reported; the default
 * directories (user, build tree, installed) need not exist. */
static load_status load_path(lt_loader *l, lt_registry *r, const char *path, const char *source, bool explicit_path,
                             lt_load_report *rep)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (!explicit_path) return LOAD_OK;
        return report(rep, "%s: plugin path from %s does not exist", path, source);
    }
    if (S_ISDIR(st.st_mode)) return load_dir(l, r, path, rep);
    return load_file(l, r, path, rep) == LOAD_NO_MEMORY ? LOAD_NO_MEMORY : LOAD_OK;
}

/* $LTRAIN_PLUGIN_PATH, split on ':' (empty entries ignored). */
static load_status load_env_paths(lt_loader *l, lt_registry *r, lt_load_report *rep)
{
    const char *env = getenv("LTRAIN_PLUGIN_PATH");
    if (!env || !*env) return LOAD_OK;
    char *copy = strdup(env);
    if (!copy) return LOAD_NO_MEMORY;
    load_status status = LOAD_OK;
    for (char *save = NULL, *p = strtok_r(copy, ":", &save); p && status == LOAD_OK; p = strtok_r(NULL, ":", &save))
        status = load_path(l, r, p, "LTRAIN_PLUGIN_PATH", true, rep);
    free(copy);
    return status;
}

/* $XDG_DATA_HOME/ltrain/plugins, or ~/.local/share/ltrain/plugins (the XDG
 * base-directory rules: a relative XDG_DATA_HOME is ignored). */
static load_status load_user_dir(lt_loader *l, lt_registry *r, lt_load_report *rep)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/ltrain/plugins", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/share/ltrain/plugins", home);
    else
        return LOAD_OK;
    return load_path(l, r, dir, "the user plugin directory", false, rep);
}

int lt_loader_load_all(lt_loader *l, lt_registry *r, const lt_loader_options *o, lt_load_report *rep)
{
    static const lt_loader_options defaults = {0};
    lt_load_report scratch = {0};
    if (!o) o = &defaults;
    if (!rep) rep = &scratch;
    load_status s = LOAD_OK;
    for (int i = 0; s == LOAD_OK && i < o->n_flag_paths; i++)
        s = load_path(l, r, o->flag_paths[i], "--plugin-path", true, rep);
    if (s == LOAD_OK && !o->skip_env) s = load_env_paths(l, r, rep);
    for (int i = 0; s == LOAD_OK && i < o->n_config_paths; i++)
        s = load_path(l, r, o->config_paths[i], "the config's plugin paths", true, rep);
    if (s == LOAD_OK && !o->skip_user) s = load_user_dir(l, r, rep);
    if (s == LOAD_OK && o->include_builtin_dir)
        s = load_path(l, r, LTRAIN_BUILDTREE_PLUGINSDIR, "the build tree", false, rep);
    if (s == LOAD_OK && !o->skip_installed) s = load_path(l, r, LTRAIN_PLUGINSDIR, "the installed plugins", false, rep);
    lt_load_report_free(&scratch);
    if (s == LOAD_NO_MEMORY) return lt_set_error("plugin loader: out of memory");
    return 0;
}
