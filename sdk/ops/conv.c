/* TODO(owner): ops/conv */
#include "../internal.h"
