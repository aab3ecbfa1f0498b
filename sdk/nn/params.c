/* TODO(owner): nn/params */
#include "../internal.h"
