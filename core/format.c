#include "format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

char *lt_format(const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, aq);
    va_end(aq);
    if (!s) lt_set_error("out of memory");
    return s;
}
