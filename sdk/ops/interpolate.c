/* TODO(owner): ops/interpolate */
#include "../internal.h"
