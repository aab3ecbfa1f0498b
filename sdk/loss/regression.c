/* TODO(owner): loss/regression */
#include "../internal.h"
