/* Plugin loader: search path, dlopen, ABI checks, descriptor validation. */
#ifndef LTRAIN_CORE_LOADER_H
#define LTRAIN_CORE_LOADER_H

#include "registry.h"

/* Where to look, highest priority first:
 *   1. flag_paths       (--plugin-path, repeatable)
 *   2. $LTRAIN_PLUGIN_PATH, split on ':' (empty entries ignored)
 *   3. config_paths     (the config's plugin paths)
 *   4. the user's directory: $XDG_DATA_HOME/ltrain/plugins or ~/.local/share/ltrain/plugins
 *   5. the build tree's plugins (LTRAIN_BUILDTREE_PLUGINSDIR), only with include_builtin_dir
 *   6. the installed pluginsdir (LTRAIN_PLUGINSDIR, compiled in), unless skip_installed
 * The build tree ranks with the shipped plugins it stands for: below
 * everything a user names, just above the installed copies, so a fresh
 * build is not shadowed by an older installation.
 *
 * Each directory is scanned for *.so in name order (other files are passed
 * over); a path that names a file is loaded directly. Paths from 1-3 that do
 * not exist are reported; directories 4-6 need not exist. Precedence:
 *   - a file reached twice (same canonical path) is loaded once, silently;
 *   - a file with the same name as an already loaded plugin is not loaded
 *     and is reported as shadowed (naming both files);
 *   - the first registration of a (kind, name) wins; a later one is
 *     reported as shadowed (naming both files) and the rest of its plugin
 *     still loads.
 *
 * A plugin is all or nothing: a missing entry symbol, a wrong plugin or
 * descriptor ABI version, a descriptor failing validation (NULL name or
 * required function, bad kind, size below its layout, bad argument or
 * state specs, ...) or two descriptors of the same kind and name skip the
 * whole file with ONE message "<file>: <symbol or descriptor>: <reason>;
 * plugin skipped", and loading goes on with the next file.
 *
 * The registry receives the loader's own copies of the descriptors, zero
 * filled past the plugin's `size`, so every member of the current layout
 * can be read whatever version of plugin.h the plugin was built with. */
typedef struct lt_loader_options {
    const char *const *flag_paths;
    int n_flag_paths;
    const char *const *config_paths;
    int n_config_paths;
    bool skip_env, skip_user, skip_installed; /* for tests */
    bool include_builtin_dir;                 /* also LTRAIN_BUILDTREE_PLUGINSDIR (step 5) */
} lt_loader_options;

/* One line per problem, each naming the file, the symbol and the reason.
 * Zero-initialise it; load calls add to it; free with lt_load_report_free. */
typedef struct lt_load_report {
    int n_loaded;      /* plugins loaded (at least one descriptor registered) */
    int n_failed;      /* plugins skipped as unusable */
    int n_shadowed;    /* descriptors, and whole files by name, shadowed by earlier ones */
    int n_messages;
    char **messages;
} lt_load_report;

typedef struct lt_loader lt_loader; /* owns dlopen handles and descriptor copies */

lt_loader *lt_loader_new(void);
/* dlcloses every plugin. Free registries built from it first. */
void lt_loader_free(lt_loader *l);

/* Loads every plugin on the search path into r (o == NULL: every default
 * place); never fails on a bad plugin (it is skipped and reported). rep
 * may be NULL. Returns 0, or -1 on out of memory. */
int lt_loader_load_all(lt_loader *l, lt_registry *r, const lt_loader_options *o, lt_load_report *rep);
/* Loads one file; 0 if loaded (or already loaded), -1 if skipped (reason in
 * rep, when given, and in lt_last_error()). */
int lt_loader_load_file(lt_loader *l, lt_registry *r, const char *path, lt_load_report *rep);

void lt_load_report_free(lt_load_report *rep);

#endif
