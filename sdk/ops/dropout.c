/* TODO(owner): ops/dropout */
#include "../internal.h"
