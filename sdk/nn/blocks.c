/* TODO(owner): nn/blocks */
#include "../internal.h"
