/* Parameter initialisation with torch.nn.init's formulas (see nn.h). The
 * random streams are ltrain's own (lt_rng), so values differ from PyTorch's
 * but follow the same distributions and bounds. */
#include "../internal.h"

#include <math.h>

static bool init_ok(const char *fn, const lt_tensor *t, const lt_rng *rng)
{
    if (!t || !rng) {
        lt_set_error("%s: %s is NULL", fn, !t ? "tensor" : "rng");
        return false;
    }
    if (t->dtype != LT_F32) {
        lt_set_error("%s: tensor %s %s must be float32, got %s", fn, t->name ? t->name : "", lt__shp(t),
                     lt_dtype_name(t->dtype));
        return false;
    }
    return true;
}

void lt_init_uniform(lt_tensor *t, lt_rng *rng, float low, float high)
{
    if (!init_ok("lt_init_uniform", t, rng)) return;
    float *d = lt_f32(t);
    const float span = high - low;
    for (int64_t i = 0; i < t->numel; i++) d[i] = low + span * lt_rng_uniform(rng);
}

void lt_init_normal(lt_tensor *t, lt_rng *rng, float mean, float std)
{
    if (!init_ok("lt_init_normal", t, rng)) return;
    float *d = lt_f32(t);
    for (int64_t i = 0; i < t->numel; i++) d[i] = mean + std * lt_rng_normal(rng);
}

/* receptive field = prod(size(2:)); PyTorch needs at least 2 dimensions. */
static bool fans(const char *fn, const lt_tensor *w, int64_t *fan_in, int64_t *fan_out)
{
    if (w->ndim < 2) {
        lt_set_error("%s: fan in and fan out can not be computed for tensor %s %s with fewer than 2 dimensions", fn,
                     w->name ? w->name : "", lt__shp(w));
        return false;
    }
    const int64_t receptive = lt__numel(w->ndim - 2, w->shape + 2);
    *fan_in = w->shape[1] * receptive;
    *fan_out = w->shape[0] * receptive;
    return true;
}

int64_t lt_fan_in(const lt_tensor *weight)
{
    int64_t in = 0, out = 0;
    if (!weight) return 0;
    fans("lt_fan_in", weight, &in, &out);
    return in;
}

void lt_init_kaiming_uniform(lt_tensor *t, lt_rng *rng, float a)
{
    int64_t fan_in, fan_out;
    if (!init_ok("lt_init_kaiming_uniform", t, rng) || !fans("lt_init_kaiming_uniform", t, &fan_in, &fan_out)) return;
    if (t->numel == 0) return; /* PyTorch: initialising a zero-element tensor is a no-op */
    const double gain = sqrt(2.0 / (1.0 + (double)a * (double)a));
    const double bound = sqrt(3.0) * gain / sqrt((double)fan_in);
    lt_init_uniform(t, rng, (float)-bound, (float)bound);
}

void lt_init_kaiming_normal_relu(lt_tensor *t, lt_rng *rng, bool fan_out)
{
    int64_t in, out;
    if (!init_ok("lt_init_kaiming_normal_relu", t, rng) || !fans("lt_init_kaiming_normal_relu", t, &in, &out))
        return;
    if (t->numel == 0) return;
    const double std = sqrt(2.0) / sqrt((double)(fan_out ? out : in));
    lt_init_normal(t, rng, 0.0f, (float)std);
}

void lt_init_constant(lt_tensor *t, float value)
{
    if (!t) {
        lt_set_error("lt_init_constant: tensor is NULL");
        return;
    }
    for (int64_t i = 0; i < t->numel; i++) switch (t->dtype) {
        case LT_F32: lt_f32(t)[i] = value; break;
        case LT_I32: lt_i32(t)[i] = (int32_t)value; break;
        case LT_U8: lt_u8(t)[i] = (uint8_t)value; break;
        case LT_I64: ((int64_t *)t->data)[i] = (int64_t)value; break;
        default: break;
        }
}
