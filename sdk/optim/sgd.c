/* TODO(owner): optim/sgd */
#include "../internal.h"
