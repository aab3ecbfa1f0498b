/* Weights into a built model (core/weights.h): the node `weights` param and
 * model files, both through lt_state_dict_load with name maps. */
#define _POSIX_C_SOURCE 200809L

#include "weights.h"

#include "format.h"

#include <stdlib.h>
#include <string.h>

enum { NAME_SIZE = 1024 };

static bool is_optimizer_entry(const char *name) { return !strncmp(name, "optimizer.", 10); }

/* "a, b, c and 4 more" of the names (optimizer entries left out). */
static size_t name_list(char *out, size_t size, char *const *names, size_t n)
{
    enum { SHOWN = 4 };
    size_t count = 0, used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (is_optimizer_entry(names[i])) continue;
        if (count++ < SHOWN && used < size)
            used += (size_t)snprintf(out + used, size - used, "%s'%s'", count > 1 ? ", " : "", names[i]);
    }
    if (count > SHOWN && used < size) snprintf(out + used, size - used, " and %zu more", count - SHOWN);
    return count;
}

/* What a load left out: an error when strict, a note on the log otherwise. */
static int check_report(const lt_state_dict_report *rep, const char *path, const char *target,
                        const lt_weights_options *o)
{
    char missing[600], unused[600];
    const size_t n_missing = name_list(missing, sizeof missing, rep->missing, rep->n_missing);
    const size_t n_unused = name_list(unused, sizeof unused, rep->unexpected, rep->n_unexpected);
    if (n_missing == 0 && n_unused == 0) return 0;
    if (o->strict)
        return lt_set_error("weights '%s' do not match %s: %zu missing from the file (%s), %zu in the file unused "
                            "(%s); set trainer.strict_weights_loading false to load the matching ones",
                            path, target, n_missing, missing, n_unused, unused);
    if (o->log && n_unused)
        fprintf(o->log, "weights '%s' -> %s: %zu tensor%s not used: %s\n", path, target, n_unused,
                n_unused == 1 ? "" : "s", unused);
    if (o->log && n_missing)
        fprintf(o->log, "weights '%s' -> %s: %zu tensor%s not in the file, left as they were: %s\n", path,
                target, n_missing, n_missing == 1 ? "" : "s", missing);
    return 0;
}

/* A file whose tensors all miss is a naming mistake, never a partial load. */
static int check_loaded(const lt_state_dict_report *rep, const lt_safetensors *f, const char *target,
                        const char *hint)
{
    if (rep->n_loaded > 0) return 0;
    const char *first = NULL;
    for (size_t i = 0; i < lt_safetensors_count(f) && !first; i++)
        if (!is_optimizer_entry(lt_safetensors_at(f, i)->name)) first = lt_safetensors_at(f, i)->name;
    if (!first) return 0; /* nothing to load */
    return lt_set_error("weights '%s': none of its tensors matches %s (the file has '%s', %s)",
                        lt_safetensors_path(f), target, first, hint);
}

/* ---------------- node files ---------------- */

/* "node 'x': params.weights: <the current error>". */
static int node_error(const char *id)
{
    char last[1024];
    snprintf(last, sizeof last, "%s", lt_last_error());
    return lt_set_error("node '%s': params.weights: %s", id, last);
}

static int load_node(lt_model *m, int i, const char *path, const lt_weights_options *o)
{
    const char *id = lt_model_node_identifier(m, i);
    char prefix[NAME_SIZE], target[NAME_SIZE + 16], hint[2 * NAME_SIZE];
    snprintf(prefix, sizeof prefix, "%s.", id);
    snprintf(target, sizeof target, "node '%s'", id);
    lt_safetensors *f = lt_safetensors_load(path);
    if (!f) return node_error(id);
    const lt_name_map map = {"", prefix};
    const lt_state_dict_options so = {.strict = false, .maps = &map, .n_maps = 1, .scope = prefix};
    lt_state_dict_report rep = {0};
    int rc = lt_state_dict_load(lt_model_params(m), f, &so, &rep);
    if (rc) {
        node_error(id);
    } else {
        const char *example = rep.n_missing ? rep.missing[0] + strlen(prefix) : "";
        snprintf(hint, sizeof hint, "the node's names are its own state_dict's, e.g. '%s'", example);
        rc = check_loaded(&rep, f, target, hint) || check_report(&rep, path, target, o) ? -1 : 0;
    }
    lt_state_dict_report_free(&rep);
    lt_safetensors_free(f);
    return rc;
}

int lt_model_load_node_weights(lt_model *m, const lt_weights_options *o)
{
    for (int i = 0; i < lt_model_n_nodes(m); i++) {
        const char *path = lt_model_node_weights(m, i);
        if (path && load_node(m, i, path, o)) return -1;
    }
    return 0;
}

/* ---------------- model files ---------------- */

/* "nodes.<id>.module.<name>" or "nodes.<id>.<name>" (luxonis-train) as
 * "<id>.<name>", or NULL when no node has that identifier. */
static char *from_luxonis(lt_model *m, const char *name)
{
    const char *rest = name + strlen("nodes.");
    for (int i = 0; i < lt_model_n_nodes(m); i++) {
        const char *id = lt_model_node_identifier(m, i);
        const size_t len = strlen(id);
        if (strncmp(rest, id, len) || rest[len] != '.') continue;
        const char *inner = rest + len + 1;
        if (!strncmp(inner, "module.", 7)) {
            char *stripped = lt_format("%s.%s", id, inner + 7);
            if (!stripped || lt_params_find(lt_model_params(m), stripped)) return stripped;
            free(stripped);
        }
        return lt_format("%s.%s", id, inner);
    }
    return NULL;
}

/* The model name a file name loads into (malloc'd; itself when it matches
 * nothing, so that it is reported unused), or NULL with an error when two
 * nodes have it. */
static char *model_name(lt_model *m, const lt_safetensors *f, const char *name)
{
    lt_params *p = lt_model_params(m);
    if (is_optimizer_entry(name) || lt_params_find(p, name)) return lt_format("%s", name);
    if (!strncmp(name, "nodes.", 6)) {
        char *mapped = from_luxonis(m, name);
        if (mapped) return mapped;
    }
    char *found = NULL;
    for (int i = 0; i < lt_model_n_nodes(m); i++) {
        char *candidate = lt_format("%s.%s", lt_model_node_identifier(m, i), name);
        if (!candidate) break;
        if (!lt_params_find(p, candidate)) {
            free(candidate);
        } else if (found) {
            lt_set_error("weights '%s': tensor '%s' could be '%s' or '%s'; name it with its node prefix",
                         lt_safetensors_path(f), name, found, candidate);
            free(found);
            free(candidate);
            return NULL;
        } else {
            found = candidate;
        }
    }
    return found ? found : lt_format("%s", name);
}

/* Longest first: a name then meets its own rule before any rule that is a
 * prefix of it (lt_state_dict_load applies the first matching rule). */
static int longer_first(const void *a, const void *b)
{
    const size_t la = strlen(((const lt_name_map *)a)->from), lb = strlen(((const lt_name_map *)b)->from);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

int lt_model_load_weights(lt_model *m, const lt_safetensors *f, const lt_weights_options *o)
{
    const size_t n = lt_safetensors_count(f);
    lt_name_map *maps = calloc(n ? n : 1, sizeof *maps);
    if (!maps) return lt_set_error("weights: out of memory");
    int rc = 0;
    size_t k = 0;
    for (; k < n && rc == 0; k++) {
        maps[k].from = lt_safetensors_at(f, k)->name;
        if (!(maps[k].to = model_name(m, f, maps[k].from))) rc = -1;
    }
    lt_state_dict_report rep = {0};
    if (rc == 0) {
        qsort(maps, n, sizeof *maps, longer_first);
        const lt_state_dict_options so = {.strict = false, .maps = maps, .n_maps = n};
        rc = lt_state_dict_load(lt_model_params(m), f, &so, &rep);
    }
    if (rc == 0)
        rc = check_loaded(&rep, f, "the model",
                          "expected the model's names '<node>.<name>', 'nodes.<node>.<name>' or a node's own names") ||
                     check_report(&rep, lt_safetensors_path(f), "the model", o)
                 ? -1
                 : 0;
    lt_state_dict_report_free(&rep);
    for (size_t i = 0; i < n; i++) free((char *)maps[i].to);
    free(maps);
    return rc;
}

int lt_model_load_weights_file(lt_model *m, const char *path, const lt_weights_options *o)
{
    lt_safetensors *f = lt_safetensors_load(path);
    if (!f) return -1;
    const int rc = lt_model_load_weights(m, f, o);
    lt_safetensors_free(f);
    return rc;
}
