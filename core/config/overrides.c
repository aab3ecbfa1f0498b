/* CLI overrides: `key value` pairs applied to a config tree the way
 * luxonis-ml's _merge_overrides does (reference §2.9). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lt_config_free_labels(lt_override_labels *labels)
{
    if (!labels) return;
    for (int i = 0; i < labels->n; i++) free(labels->names[i]);
    free(labels->names);
    labels->names = NULL;
    labels->n = 0;
}

static char *add_label(lt_override_labels *labels, const char *key, const char *value)
{
    char **grown = realloc(labels->names, (size_t)(labels->n + 1) * sizeof *grown);
    if (!grown) return NULL;
    labels->names = grown;
    size_t size = strlen(key) + strlen(value) + 16;
    char *label = malloc(size);
    if (!label) return NULL;
    snprintf(label, size, "override '%s %s'", key, value);
    labels->names[labels->n++] = label;
    return label;
}

/* Non-negative decimal index, or -1. */
static long list_index(const char *seg)
{
    if (!*seg || strlen(seg) > 9) return -1;
    for (const char *p = seg; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    return strtol(seg, NULL, 10);
}

static bool is_index(const char *seg) { return list_index(seg) >= 0 || !strcmp(seg, "+"); }

static void set_file(lt_cfg *c, const char *file)
{
    c->file = file;
    for (int i = 0; i < c->n; i++) set_file(c->items[i], file);
}

/* The value as ast.literal_eval would read it: flow lists and maps,
 * quoted strings, Python's None, else a plain YAML scalar. */
static lt_cfg *parse_value(const char *text, const char *label)
{
    size_t len = strlen(text);
    lt_cfg *v = NULL;
    if (text[0] == '[' || text[0] == '{') {
        v = lt_cfg_parse_yaml(text, len, label);
        if (v && (v->type == LT_CFG_LIST || v->type == LT_CFG_MAP)) return v;
        lt_cfg_free(v); /* not valid flow YAML: it stays a string, as in the reference */
        v = lt_cfg_new_scalar(text, true);
    } else if (len >= 2 && (text[0] == '"' || text[0] == '\'') && text[len - 1] == text[0]) {
        char *inner = strndup(text + 1, len - 2);
        v = inner ? lt_cfg_new_scalar(inner, true) : NULL;
        free(inner);
    } else {
        v = lt_cfg_new_scalar(!strcmp(text, "None") ? "null" : text, false);
    }
    if (v) set_file(v, label);
    return v;
}

static int fail(const char *label, const char *fmt, const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    return lt_set_error("%s: %s", label, msg);
}

/* The container for segment `next` under a missing key: a list when it
 * is an index (the reference tries a list first). */
static lt_cfg *new_container(const char *next, const char *label)
{
    lt_cfg *c = lt_cfg_new(is_index(next) ? LT_CFG_LIST : LT_CFG_MAP);
    if (c) c->file = label;
    return c;
}

/* Puts value at `seg` of `parent` (a map or a list), replacing what is
 * there. Takes value. Returns the placed node or NULL. */
static lt_cfg *place(lt_cfg *parent, const char *seg, lt_cfg *value, const char *label, const char *path)
{
    if (parent->type == LT_CFG_MAP) {
        if (lt_cfg_set(parent, seg, value)) return NULL;
        return lt_cfg_peek(parent, seg);
    }
    long idx = list_index(seg);
    if (idx < 0 && strcmp(seg, "+")) {
        lt_cfg_free(value);
        fail(label, "%s: '%s' is not a list index or '+' (the parent is a list)", path, seg);
        return NULL;
    }
    if (idx >= 0 && idx < parent->n) {
        lt_cfg_free(parent->items[idx]);
        parent->items[idx] = value;
        return value;
    }
    /* "+" and any index past the end append, as in the reference. */
    if (lt_cfg_append(parent, value)) return NULL;
    return parent->items[parent->n - 1];
}

static lt_cfg *child(lt_cfg *parent, const char *seg)
{
    if (parent->type == LT_CFG_MAP) return lt_cfg_peek(parent, seg);
    long idx = list_index(seg);
    return idx >= 0 ? lt_cfg_at(parent, (int)idx) : NULL;
}

static int apply_one(lt_cfg *root, const char *key, const char *value, const char *label)
{
    char *path = strdup(key);
    if (!path) return lt_set_error("%s: out of memory", label);
    int rc = -1;
    lt_cfg *cur = root;
    char *seg = path;
    if (!*key) {
        fail(label, "empty key%s%s", "", "");
        goto out;
    }
    for (;;) {
        char *dot = strchr(seg, '.');
        if (dot) *dot = '\0';
        if (!*seg) {
            fail(label, "empty segment in key '%s'%s", key, "");
            goto out;
        }
        if (!dot) {
            lt_cfg *v = parse_value(value, label);
            if (v && place(cur, seg, v, label, path)) rc = 0;
            goto out;
        }
        lt_cfg *next = child(cur, seg);
        if (!next || lt_cfg_is_null(next)) {
            /* Missing (or null) keys are created on the way. */
            lt_cfg *made = new_container(dot + 1, label);
            if (!made || !(next = place(cur, seg, made, label, path))) goto out;
        } else if (next->type != LT_CFG_MAP && next->type != LT_CFG_LIST) {
            fail(label, "%s is a value ('%s'), not a map or a list", path, next->text);
            goto out;
        }
        cur = next;
        *dot = '.';
        seg = dot + 1;
    }
out:
    free(path);
    return rc;
}

int lt_config_apply_overrides(lt_cfg *root, const char *const *tokens, int n_tokens, lt_override_labels *labels)
{
    if (n_tokens <= 0) return 0;
    if (!root || root->type != LT_CFG_MAP) return lt_set_error("overrides: the config is not a map");
    if (n_tokens % 2)
        return lt_set_error("overrides: expected 'key value' pairs, but '%s' has no value", tokens[n_tokens - 1]);
    for (int i = 0; i < n_tokens; i += 2) {
        const char *label = add_label(labels, tokens[i], tokens[i + 1]);
        if (!label) return lt_set_error("overrides: out of memory");
        if (apply_one(root, tokens[i], tokens[i + 1], label)) return -1;
    }
    return 0;
}
