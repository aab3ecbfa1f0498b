/* TODO(owner): ops/pool */
#include "../internal.h"
