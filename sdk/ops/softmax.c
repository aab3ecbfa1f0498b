/* TODO(owner): ops/softmax */
#include "../internal.h"
