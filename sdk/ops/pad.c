/* TODO(owner): ops/pad */
#include "../internal.h"
