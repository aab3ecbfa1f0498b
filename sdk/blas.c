/* The one place the SDK calls BLAS (a row-major sgemm), and the names of
 * the compute kernels in use. */
#include "internal.h"
#include "kernels/backend.h"

#include <cblas.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void lt__sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
               int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (m == 0 || n == 0) return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (blasint)m,
                (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

/* OpenBLAS 0.3.21 does not know recent CPUs (Sapphire/Emerald Rapids, Zen 4/5)
 * and falls back to its SSE3 "Prescott" kernels, 5-7x slower than its AVX2
 * ones. It picks its kernels once, when it is loaded, from
 * OPENBLAS_CORETYPE; so when that variable is unset and the pick is generic
 * on a CPU with AVX2, we set it and re-execute the program once. */
static const char *best_coretype(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2")) return "Haswell";
    return NULL;
}

int lt_blas_tune(char **argv)
{
    const char *picked = openblas_get_corename();
    const char *best = best_coretype();
    if (getenv("OPENBLAS_CORETYPE") || !best || !argv || !argv[0]) return 0;
    if (strcasecmp(picked, "prescott") && strcasecmp(picked, "core2") && strcasecmp(picked, "nehalem") &&
        strcasecmp(picked, "generic"))
        return 0;
    if (getenv("LTRAIN_BLAS_REEXEC")) return 0; /* already tried once */
    setenv("OPENBLAS_CORETYPE", best, 1);
    setenv("LTRAIN_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    return lt_set_error("OpenBLAS picked its generic %s kernels; re-running with OPENBLAS_CORETYPE=%s failed: %s",
                        picked, best, strerror(errno));
}

const char *lt_blas_kernels(void) { return openblas_get_corename(); }

const char *lt_conv_backend_name(void) { return lt__conv_backend_name(); }
