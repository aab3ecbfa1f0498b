/* TODO(owner): ops/reduce */
#include "../internal.h"
