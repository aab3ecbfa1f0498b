/* TODO(owner): ops/slice_concat */
#include "../internal.h"
