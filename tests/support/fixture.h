/* Test support: PyTorch reference fixtures and finite-difference checks.
 *
 * A fixture file (tests/fixtures/<group>.json, written by
 * tests/reference/gen_fixtures.py) holds cases:
 *   {"name": "...", "op": "...", "params": {...},
 *    "inputs":  {"x": {"shape": [..], "dtype": "f32", "data": [..], "requires_grad": true}, ...},
 *    "outputs": {"out": {...}, ...},          expected forward results
 *    "grad_outputs": {"out": {...}, ...},     upstream gradients fed to backward
 *    "grads":   {"x": {...}, ...},            expected input gradients
 *    "rtol": 1e-5, "atol": 1e-6}
 * A test runs a case through a runner that builds the op from fx_in() /
 * fx_param_*() and returns the main output ("out"); extra outputs are
 * registered with fx_out(). fx_run_group() then compares outputs and,
 * after backward with the recorded upstream gradients, the gradients. */
#ifndef LTRAIN_TEST_FIXTURE_H
#define LTRAIN_TEST_FIXTURE_H

#include <ltrain/ltrain.h>

typedef struct fx_case fx_case;

/* Builds the op for one case; returns the output named "out" (or NULL on an
 * expected error: then the case must say "expect_error"). */
typedef lt_tensor *(*fx_runner)(fx_case *c);

typedef struct fx_op {
    const char *op;  /* the case's "op" field */
    fx_runner run;
} fx_op;

/* Input tensor `name` as a step tensor (requires grad as the fixture says). */
lt_tensor *fx_in(fx_case *c, const char *name);
/* True when the case has an input of that name. */
bool fx_has(fx_case *c, const char *name);
/* Parameters with defaults when absent. */
double fx_param_f(fx_case *c, const char *key, double def);
int64_t fx_param_i(fx_case *c, const char *key, int64_t def);
bool fx_param_b(fx_case *c, const char *key, bool def);
/* Integer list parameter; returns its length (<= max) or 0 when absent. A
 * plain integer is broadcast to `max` entries. */
int fx_param_ints(fx_case *c, const char *key, int64_t *out, int max);
const char *fx_param_s(fx_case *c, const char *key, const char *def);
/* Registers an extra output (compared with outputs[name]; gets
 * grad_outputs[name] in backward when present). */
void fx_out(fx_case *c, const char *name, lt_tensor *t);

/* Runs every case of tests/fixtures/<group>.json whose op is in the table;
 * fails (ck_assert) on any mismatch, on a case whose op has no runner, and
 * on a table entry no case exercises. Returns the number of cases run. */
int fx_run_group(const char *group, const fx_op *ops, int n_ops);

/* ---- finite differences ---- */

/* Builds the op from n leaf inputs. */
typedef lt_tensor *(*fx_fn)(lt_tensor **inputs, void *user);

/* Compares backward's gradients of every float input (fill LT_F32 inputs as
 * you like; they are used as given) with central differences of
 * f = sum(out * R) for a random R, on up to `samples` elements per input.
 * eps: step; tol: |num - ana| <= tol * (1 + |num|). ck_asserts on mismatch
 * with the op name, input index and element. */
void fx_gradcheck(const char *what, fx_fn fn, void *user, lt_tensor **inputs, int n, float eps, float tol,
                  int samples);

/* Fills an owned float tensor with U(lo, hi) from seed. */
void fx_fill_uniform(lt_tensor *t, uint64_t seed, float lo, float hi);

/* ---- formula weights (tests/reference/resnet_reference.py) ---- */

/* Sets every float parameter of the store, in order, to resnet_reference.py's
 * value(name, p, j, shape) (p counts float entries: num_batches_tracked is
 * skipped as the script's entries() does), so a model whose store follows
 * the torch state_dict order holds the same weights as the script's. */
void fx_formula_weights(lt_params *params);
/* Fills a float tensor with resnet_reference.py's input_value(i). */
void fx_formula_input(lt_tensor *x);

/* Runs a Check suite (CK_NORMAL output) and returns main()'s exit status. */
#include <check.h>
int fx_run_suite(Suite *s);

#endif
