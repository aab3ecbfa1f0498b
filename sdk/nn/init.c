/* TODO(owner): nn/init */
#include "../internal.h"
