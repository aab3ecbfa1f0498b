/* Test support for the core tests that build models from configs
 * (test_trainer.c, test_visualize.c): a registry with the built-in tasks
 * and every plugin of the build tree (LT_BUILD_PLUGINS_DIR only: no
 * environment, user or installed plugins), and a scratch directory that
 * teardown removes.
 *
 *   tcase_add_checked_fixture(tc, fx_core_setup, fx_core_teardown);
 *   ... lt_trainer_new(cfg, &(lt_trainer_options){.registry = fx_env.reg}) ...
 */
#ifndef LTRAIN_TEST_CORE_FIXTURE_H
#define LTRAIN_TEST_CORE_FIXTURE_H

#include "loader.h"
#include "registry.h"

typedef struct fx_core {
    lt_registry *reg;
    lt_loader *loader;
    char dir[256]; /* /tmp/ltrain_test_XXXXXX, created */
} fx_core;

/* The fixture of the running test (valid between setup and teardown). */
extern fx_core fx_env;

void fx_core_setup(void);
void fx_core_teardown(void);

#endif
