/* ltrain SDK — umbrella header. Plugins include this one file. */
#ifndef LTRAIN_H
#define LTRAIN_H

#include "common.h"
#include "tensor.h"
#include "context.h"
#include "autograd.h"
#include "ops.h"
#include "loss.h"
#include "rng.h"
#include "nn.h"
#include "optim.h"
#include "safetensors.h"
#include "sched.h"
#include "draw.h"
#include "profile.h"

#endif
