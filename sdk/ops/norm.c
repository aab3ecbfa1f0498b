/* TODO(owner): ops/norm */
#include "../internal.h"
