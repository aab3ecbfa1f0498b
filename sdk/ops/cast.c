/* TODO(owner): ops/cast */
#include "../internal.h"
