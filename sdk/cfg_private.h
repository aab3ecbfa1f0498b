/* Private helpers shared by cfg.c (trees, typed reads) and cfg_yaml.c
 * (YAML reader and writer). Not installed. */
#ifndef LTRAIN_SDK_CFG_PRIVATE_H
#define LTRAIN_SDK_CFG_PRIVATE_H

#include <ltrain/cfg.h>

/* How a plain (unquoted) scalar's text reads under YAML 1.2's core schema. */
typedef enum lt__cfg_kind {
    LT__CFG_STRING = 0,
    LT__CFG_NULLISH, /* "", "~", null, Null, NULL */
    LT__CFG_BOOL,    /* true/True/TRUE, false/False/FALSE */
    LT__CFG_INT,     /* [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+ (in range or not) */
    LT__CFG_FLOAT,   /* 1.5, .5, 1., 1e-3, [-+]?.inf, .nan (and case variants) */
} lt__cfg_kind;

lt__cfg_kind lt__cfg_plain_kind(const char *text);

/* Kind of a scalar or null node: quoted scalars are strings, the NULL type
 * is LT__CFG_NULLISH. Lists and maps report LT__CFG_STRING (callers check
 * the type first). */
lt__cfg_kind lt__cfg_kind_of(const lt_cfg *c);

/* Appends value to a list (key NULL) or a new key to a map, without looking
 * for an existing key. -1 on allocation failure; value is NOT freed then. */
int lt__cfg_push(lt_cfg *parent, const char *key, lt_cfg *value);

/* Deep copy whose nodes keep c's file pointers, so it must live inside the
 * tree that owns those names (alias expansion). NULL with an error on
 * allocation failure. */
lt_cfg *lt__cfg_copy_in_tree(const lt_cfg *c);

#endif
