/* ltrain SDK — configuration trees.
 *
 * A config value is a YAML-shaped tree: maps (ordered), lists and scalars.
 * Scalars keep their text and are typed on access (int, float, bool, string),
 * the way YAML 1.2's core schema reads them. Every value remembers where it
 * came from (file, line, column), so errors can say
 *     "configs/x.yaml:12:7: model.nodes[1].params.n_classes: expected an integer, got 'ten'".
 * Maps also remember which keys were read, so the reader can report keys
 * nobody used.
 *
 * Ownership: a tree is owned by its root; lt_cfg_free(root) frees it all.
 * Accessors return borrowed pointers valid while the root lives.
 *
 * Details: unquoted nulls (~, null, empty) parse to LT_CFG_NULL nodes that
 * keep their position; other scalars keep their text and are typed when
 * read, so lt_cfg_as_str accepts any non-null scalar ("2024" for 2024).
 * lt_cfg_set / lt_cfg_append free the value when they fail; given a NULL
 * value they return -1 keeping the earlier error. lt_cfg_get / lt_cfg_peek
 * never set an error. A clone copies the used marks. YAML merge keys (<<)
 * are ordinary keys, as in YAML 1.2.
 */
#ifndef LTRAIN_CFG_H
#define LTRAIN_CFG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lt_cfg_type { LT_CFG_NULL = 0, LT_CFG_SCALAR, LT_CFG_LIST, LT_CFG_MAP } lt_cfg_type;

typedef struct lt_cfg lt_cfg;
struct lt_cfg {
    lt_cfg_type type;
    char *text;         /* scalar text (NULL for other types) */
    bool quoted;        /* scalar was quoted in YAML: always a string */
    int n;              /* entries of a list or map */
    int cap;
    lt_cfg **items;     /* list items / map values */
    char **keys;        /* map keys */
    bool *used;         /* map: key was read */
    const char *file;   /* borrowed from the root's file name, may be NULL */
    int line, column;   /* 1-based; 0 when built in code */
    char *owned_file;   /* root only */
};

/* ---- building ---- */
LT_API lt_cfg *lt_cfg_new(lt_cfg_type type);
LT_API lt_cfg *lt_cfg_new_scalar(const char *text, bool quoted);
/* Appends to a list / sets a map key (replacing an existing value). Takes
 * ownership of value. */
LT_API int lt_cfg_append(lt_cfg *list, lt_cfg *value);
LT_API int lt_cfg_set(lt_cfg *map, const char *key, lt_cfg *value);
/* Removes key from a map (frees its value): 1 removed, 0 absent, -1 not a map. */
LT_API int lt_cfg_remove(lt_cfg *map, const char *key);
LT_API lt_cfg *lt_cfg_clone(const lt_cfg *c);
LT_API void lt_cfg_free(lt_cfg *c);

/* ---- reading ---- */
/* Map value by key (marks it used), or NULL. */
LT_API lt_cfg *lt_cfg_get(const lt_cfg *map, const char *key);
/* Map lookup without marking it used. */
LT_API lt_cfg *lt_cfg_peek(const lt_cfg *map, const char *key);
LT_API lt_cfg *lt_cfg_at(const lt_cfg *list, int i);
LT_API bool lt_cfg_is_null(const lt_cfg *c); /* NULL pointer, "~", "null", empty */

/* Typed scalar conversions; -1 with an error naming `what` (a dotted path
 * or key) and the location when the value has another type. */
LT_API int lt_cfg_as_int(const lt_cfg *c, const char *what, int64_t *out);
LT_API int lt_cfg_as_float(const lt_cfg *c, const char *what, double *out);
LT_API int lt_cfg_as_bool(const lt_cfg *c, const char *what, bool *out);
LT_API int lt_cfg_as_str(const lt_cfg *c, const char *what, const char **out);
/* True when the scalar reads as an int / a number (int or float) / a bool. */
LT_API bool lt_cfg_is_int(const lt_cfg *c);
LT_API bool lt_cfg_is_number(const lt_cfg *c);
LT_API bool lt_cfg_is_bool(const lt_cfg *c);

/* "file:line:col" of a value ("<config>" when unknown); step-independent
 * thread-local buffer. */
LT_API const char *lt_cfg_where(const lt_cfg *c);
LT_API const char *lt_cfg_type_name(lt_cfg_type type);

/* ---- YAML ---- */
/* Parses one YAML document (anchors and aliases resolved). NULL with an
 * error "file:line:col: message" on a syntax error. */
LT_API lt_cfg *lt_cfg_parse_yaml(const char *text, size_t len, const char *file_name);
LT_API lt_cfg *lt_cfg_load_yaml(const char *path);
/* Writes the tree as block YAML (strings quoted where needed so that it
 * reloads identically). Returns malloc'd text. */
LT_API char *lt_cfg_to_yaml(const lt_cfg *c);

#ifdef __cplusplus
}
#endif
#endif
