/* Registry of plugin descriptors by kind and name. */
#ifndef LTRAIN_CORE_REGISTRY_H
#define LTRAIN_CORE_REGISTRY_H

#include <ltrain/plugin.h>

typedef struct lt_registry lt_registry;

typedef struct lt_registry_entry {
    const lt_desc_header *desc; /* borrowed from the plugin (or core, for built-in tasks) */
    const char *plugin;         /* plugin name ("core" for built-ins) */
    const char *file;           /* path of the .so ("" for core) */
} lt_registry_entry;

lt_registry *lt_registry_new(void);
/* Frees the registry; does not unload plugins (the loader owns handles). */
void lt_registry_free(lt_registry *r);

/* Adds a descriptor (borrowed; plugin and file are copied). Fails (-1,
 * error naming both files) when the same kind and name are already
 * registered: the caller decides whether that is a shadowed duplicate
 * (search-path order) or an error. Entries keep registration order. */
int lt_registry_add(lt_registry *r, const lt_desc_header *desc, const char *plugin, const char *file);

/* Entry of that kind and name, or NULL (no error set). */
const lt_registry_entry *lt_registry_find(const lt_registry *r, lt_desc_kind kind, const char *name);
/* Like find, but on a miss sets an error naming `context` (e.g.
 * "configs/x.yaml:7:11: model.nodes[0].losses[0]"; NULL for none), the kind
 * and the name, with up to three close matches of the same kind, closest
 * first: "unknown loss 'BCELoss' (did you mean 'BCEWithLogitsLoss'?)". A
 * match is close within an edit distance of a third of the longer name (at
 * least 2), or when one name contains the other, or when they share a
 * prefix of three characters, all ignoring case. */
const lt_registry_entry *lt_registry_lookup(const lt_registry *r, lt_desc_kind kind, const char *name,
                                            const char *context);

size_t lt_registry_count(const lt_registry *r);
const lt_registry_entry *lt_registry_at(const lt_registry *r, size_t i);

/* Edit distance used for "did you mean": insertions, deletions,
 * substitutions and adjacent transpositions, ignoring case. */
int lt_edit_distance(const char *a, const char *b);

#endif
