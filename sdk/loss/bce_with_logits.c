/* TODO(owner): loss/bce_with_logits */
#include "../internal.h"
