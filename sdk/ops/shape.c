/* TODO(owner): ops/shape */
#include "../internal.h"
