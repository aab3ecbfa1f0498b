/* TODO(owner): ops/conv_transpose */
#include "../internal.h"
