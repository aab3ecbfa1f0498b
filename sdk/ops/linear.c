/* TODO(owner): ops/linear */
#include "../internal.h"
