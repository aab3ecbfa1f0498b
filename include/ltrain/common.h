/* ltrain SDK — common definitions: export macro, errors, threads.
 *
 * Error convention (used by every SDK function):
 *   - Functions returning a pointer return NULL on failure.
 *   - Functions returning int return 0 on success and -1 on failure.
 *   - On failure a message is stored for the calling thread; read it with
 *     lt_last_error().  The message names the operation and the offending
 *     values (shapes, dtypes, names), e.g.
 *       "conv2d: input [2,3,8,8] has 3 channels but weight [4,2,3,3] with groups=1 expects 2".
 *   - Ops given a NULL input return NULL without overwriting the first message,
 *     so a forward function can chain ops and check once at the end.
 */
#ifndef LTRAIN_COMMON_H
#define LTRAIN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LTRAIN_BUILDING_SDK)
#define LT_API __attribute__((visibility("default")))
#else
#define LT_API
#endif

#define LT_VERSION_MAJOR 0
#define LT_VERSION_MINOR 1
#define LT_VERSION_PATCH 0

#if defined(__GNUC__)
#define LT_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define LT_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define LT_PRINTF(fmt_idx, arg_idx)
#define LT_WARN_UNUSED
#endif

/* The last error message of the calling thread ("" when none). Borrowed:
 * valid until the next SDK call on this thread that sets an error. */
LT_API const char *lt_last_error(void);

/* Clears the calling thread's error message. */
LT_API void lt_clear_error(void);

/* Sets the calling thread's error message (printf-style) and returns -1, so
 * plugin code can write `return lt_set_error("myhead: bad n_classes %d", n);`.
 * The previous message is replaced. */
LT_API int lt_set_error(const char *fmt, ...) LT_PRINTF(1, 2);

/* Number of threads used by every parallel kernel (OpenMP and OpenBLAS).
 * Default: all online cores. n <= 0 restores the default. Not thread-safe
 * against concurrently running ops: set it before a step. */
LT_API void lt_set_num_threads(int n);
LT_API int lt_get_num_threads(void);

/* Call first in main(): when OpenBLAS did not recognise the CPU and fell
 * back to generic kernels (OpenBLAS 0.3.21 on recent Intel/AMD CPUs) and
 * OPENBLAS_CORETYPE is unset, sets it to the best kernels the CPU supports
 * and re-executes the program with the same argv (once). Returns 0 when
 * nothing needed doing; -1 if the re-exec failed (the program can go on). */
LT_API int lt_blas_tune(char **argv);
/* Name of the OpenBLAS kernels in use ("SkylakeX", "Haswell", ...). */
LT_API const char *lt_blas_kernels(void);
/* Name of the convolution backend in use ("im2col", ...; see
 * LTRAIN_CONV_BACKEND). */
LT_API const char *lt_conv_backend_name(void);

#ifdef __cplusplus
}
#endif
#endif
