/* TODO(owner): ops/select */
#include "../internal.h"
