/* What the binding test modules saw in their last call: the test reads it
 * through dlsym(handle, "binding_probe") to check which value each
 * argument slot received. */
#ifndef LTRAIN_TEST_BINDING_PROBE_H
#define LTRAIN_TEST_BINDING_PROBE_H

#include <ltrain/plugin.h>

#define PROBE_MAX_ARGS 16

struct binding_probe {
    int calls;
    int n_args;
    const void *args[PROBE_MAX_ARGS]; /* arguments after the module handle, in order */
    const char *module, *node, *task; /* lt_module_name / node_name / task at the last call */
    /* ParamLoss */
    int64_t p_int;
    double p_float;
    bool p_bool;
    const char *p_str;
    int n_floats;
    double p_floats[4];
};

#endif
