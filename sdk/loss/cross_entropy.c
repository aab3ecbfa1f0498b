/* TODO(owner): loss/cross_entropy */
#include "../internal.h"
