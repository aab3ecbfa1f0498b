/* TODO(owner): kernels/conv_im2col */
#include "../internal.h"
