/* TODO(owner): ops/binary */
#include "../internal.h"
