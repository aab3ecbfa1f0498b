/* Registry, plugins and scratch directory of the core tests (core_fixture.h). */
#include "core_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "tasks.h"

#ifndef LT_BUILD_PLUGINS_DIR
#error "LT_BUILD_PLUGINS_DIR must be defined by the build"
#endif

fx_core fx_env;

void fx_core_setup(void)
{
    fx_core *f = &fx_env;
    f->reg = lt_registry_new();
    f->loader = lt_loader_new();
    ck_assert(f->reg && f->loader);
    ck_assert_int_eq(lt_register_builtin_tasks(f->reg), 0);
    static const char *const paths[] = {LT_BUILD_PLUGINS_DIR};
    const lt_loader_options o = {.flag_paths = paths, .n_flag_paths = 1, .skip_env = true, .skip_user = true,
                                 .skip_installed = true};
    ck_assert_int_eq(lt_loader_load_all(f->loader, f->reg, &o, NULL), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/ltrain_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
}

void fx_core_teardown(void)
{
    fx_core *f = &fx_env;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    ck_assert_int_eq(system(cmd), 0);
    lt_registry_free(f->reg);
    lt_loader_free(f->loader);
}
