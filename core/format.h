/* printf into a fresh string, for the core's messages and paths. */
#ifndef LTRAIN_CORE_FORMAT_H
#define LTRAIN_CORE_FORMAT_H

#include <ltrain/common.h>

/* The formatted text (malloc'd; free it), or NULL with "out of memory". */
char *lt_format(const char *fmt, ...) LT_PRINTF(1, 2);

#endif
