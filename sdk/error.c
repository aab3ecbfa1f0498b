/* Thread-local error messages (see common.h). */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *lt_last_error(void) { return last_error; }

void lt_clear_error(void) { last_error[0] = '\0'; }

int lt_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

int lt__fail(const char *op, const char *fmt, ...)
{
    int len = snprintf(last_error, sizeof last_error, "%s: ", op);
    if (len < 0 || (size_t)len >= sizeof last_error) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + len, sizeof last_error - (size_t)len, fmt, ap);
    va_end(ap);
    return -1;
}

const char *lt__shape_dims(int ndim, const int64_t *shape)
{
    static _Thread_local char bufs[8][128];
    static _Thread_local unsigned next;
    char *buf = bufs[next++ % 8];
    size_t len = 0;
    buf[len++] = '[';
    for (int i = 0; i < ndim && len < sizeof bufs[0] - 24; i++)
        len += (size_t)snprintf(buf + len, sizeof bufs[0] - len, i ? ",%lld" : "%lld", (long long)shape[i]);
    snprintf(buf + len, sizeof bufs[0] - len, "]");
    return buf;
}

const char *lt__shp(const lt_tensor *t) { return t ? lt__shape_dims(t->ndim, t->shape) : "(null)"; }

bool lt__check_dtype(const char *op, const char *arg, const lt_tensor *t, lt_dtype want)
{
    if (t->dtype == want) return true;
    lt__fail(op, "%s %s must be %s, got %s", arg, lt__shp(t), lt_dtype_name(want), lt_dtype_name(t->dtype));
    return false;
}

bool lt__check_ndim(const char *op, const char *arg, const lt_tensor *t, int ndim)
{
    if (t->ndim == ndim) return true;
    lt__fail(op, "%s must have %d dimensions, got %s", arg, ndim, lt__shp(t));
    return false;
}

bool lt__norm_dim(const char *op, int ndim, int dim, int *out)
{
    int lim = ndim > 0 ? ndim : 1;
    if (dim < -lim || dim >= lim) {
        lt__fail(op, "dim %d out of range for a tensor of %d dimensions", dim, ndim);
        return false;
    }
    *out = dim < 0 ? dim + lim : dim;
    return true;
}
