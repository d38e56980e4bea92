/*
 * vmath.h - branch-free exp, expm1, log1p and erfc for the ranges the kernels need.
 *
 * Every argument an activation or loss passes to an exponential is <= 0 (sigmoid and
 * softplus use e^-|z|, tanh expm1(-2|z|), elu expm1(min(z, 0)), softmax e^(z - max),
 * gelu e^(-z^2/2) and erfc), and every log1p argument lies in [0, 1]. Restricting the
 * domain keeps these functions short and free of branches, so that gcc vectorises the
 * loops that call them at whatever ISA the including file is compiled for (see
 * activations_loops.inc); libm's versions are scalar calls and stop vectorisation.
 *
 * Method (textbook, as in fdlibm): x = n ln2 + r with |r| <= ln2/2, ln2 split in a high
 * part whose product with n is exact and a low part; e^r by its Taylor polynomial in
 * Horner form (degree 13 for double: truncation < 4e-18; degree 8 for float), and 2^n
 * built in the exponent bits. n is read from the low mantissa bits of x/ln2 + 1.5*2^52
 * (round-to-nearest without a float-to-int conversion, which AVX2 lacks for double).
 * log1p(y) = k ln2 + log(m) + c/u with u = 1 + y = 2^k m, m in [sqrt(1/2), sqrt(2)],
 * c the rounding error of 1 + y, and log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172.
 * erfc (for GELU's normal CDF, double only) from two Chebyshev series, below.
 *
 * Accuracy: a few ulp over the whole domain (erfc: < 4e-15 relative). Results below
 * the smallest normal number are flushed to zero (exp) or to -1 (expm1): e^x below
 * 2.2e-308 (double) or 1.2e-38 (float). Only static inline functions (and their
 * constant tables) here: each file that includes this header gets its own copy,
 * compiled for that file's ISA. NaN in gives NaN out.
 */
#ifndef FASTNN_VMATH_H
#define FASTNN_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Bit casts that compile to register moves (and vectorise). */
static inline uint64_t fnn_bits_f64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double fnn_from_bits_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
static inline uint32_t fnn_bits_f32(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float fnn_from_bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* a*b + c: one fused rounding where the file's ISA has FMA, else two roundings. */
#ifdef __FMA__
#define FNN_MADD_F64(a, b, c) __builtin_fma((a), (b), (c))
#define FNN_MADD_F32(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define FNN_MADD_F64(a, b, c) ((a) * (b) + (c))
#define FNN_MADD_F32(a, b, c) ((a) * (b) + (c))
#endif

/* ------------------------------------------------------------------ double */

#define FNN_LN2_HI_F64 6.93147180369123816490e-01   /* 32 significant bits */
#define FNN_LN2_LO_F64 1.90821492927058770002e-10
#define FNN_INV_LN2_F64 1.44269504088896338700e+00
#define FNN_SHIFT_F64 6755399441055744.0            /* 1.5 * 2^52 */
#define FNN_EXP_MIN_F64 (-708.3)                    /* e^x normal above this */

/* Reduction shared by exp and expm1: returns r, stores 2^n. Needs x in [MIN, 0]. */
static inline double fnn_reduce_f64(double x, double *scale)
{
    double kd = x * FNN_INV_LN2_F64 + FNN_SHIFT_F64;
    double n = kd - FNN_SHIFT_F64;
    *scale = fnn_from_bits_f64((fnn_bits_f64(kd) + 1023u) << 52);
    return (x - n * FNN_LN2_HI_F64) - n * FNN_LN2_LO_F64;
}

/* e^r - 1 - r for |r| <= ln2/2, Taylor to degree 13. */
static inline double fnn_expm1_tail_f64(double r)
{
    double p = 1.0 / 6227020800.0;                 /* 1/13! */
    p = FNN_MADD_F64(p, r, 1.0 / 479001600.0);
    p = FNN_MADD_F64(p, r, 1.0 / 39916800.0);
    p = FNN_MADD_F64(p, r, 1.0 / 3628800.0);
    p = FNN_MADD_F64(p, r, 1.0 / 362880.0);
    p = FNN_MADD_F64(p, r, 1.0 / 40320.0);
    p = FNN_MADD_F64(p, r, 1.0 / 5040.0);
    p = FNN_MADD_F64(p, r, 1.0 / 720.0);
    p = FNN_MADD_F64(p, r, 1.0 / 120.0);
    p = FNN_MADD_F64(p, r, 1.0 / 24.0);
    p = FNN_MADD_F64(p, r, 1.0 / 6.0);
    p = FNN_MADD_F64(p, r, 0.5);
    return p * r * r;
}

/* e^x for x <= 0. */
static inline double fnn_exp_neg_f64(double x)
{
    double xc = x < FNN_EXP_MIN_F64 ? FNN_EXP_MIN_F64 : x;
    double scale;
    double r = fnn_reduce_f64(xc, &scale);
    double e = scale * (1.0 + (r + fnn_expm1_tail_f64(r)));
    return x < FNN_EXP_MIN_F64 ? 0.0 : e;
}

/* e^x - 1 for x <= 0, accurate near 0: 2^n (e^r - 1) + (2^n - 1), exact 0 at n = 0. */
static inline double fnn_expm1_neg_f64(double x)
{
    double xc = x < FNN_EXP_MIN_F64 ? FNN_EXP_MIN_F64 : x;
    double scale;
    double r = fnn_reduce_f64(xc, &scale);
    double e = scale * (r + fnn_expm1_tail_f64(r)) + (scale - 1.0);
    return x < FNN_EXP_MIN_F64 ? -1.0 : e;
}

/* log(1 + y) for y in [0, 1]. */
static inline double fnn_log1p_unit_f64(double y)
{
    double u = 1.0 + y;
    double c = y - (u - 1.0);                      /* what 1 + y lost, exactly */
    int big = u > 1.41421356237309504880;
    double m = big ? 0.5 * u : u;
    double k = big ? 1.0 : 0.0;
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double p = 1.0 / 23;                           /* 2 atanh(s) = 2s sum s^2j/(2j+1) */
    p = FNN_MADD_F64(p, s2, 1.0 / 21);
    p = FNN_MADD_F64(p, s2, 1.0 / 19);
    p = FNN_MADD_F64(p, s2, 1.0 / 17);
    p = FNN_MADD_F64(p, s2, 1.0 / 15);
    p = FNN_MADD_F64(p, s2, 1.0 / 13);
    p = FNN_MADD_F64(p, s2, 1.0 / 11);
    p = FNN_MADD_F64(p, s2, 1.0 / 9);
    p = FNN_MADD_F64(p, s2, 1.0 / 7);
    p = FNN_MADD_F64(p, s2, 1.0 / 5);
    p = FNN_MADD_F64(p, s2, 1.0 / 3);
    double log_m = 2.0 * s + 2.0 * s * (s2 * p);
    return k * FNN_LN2_HI_F64 + (log_m + (k * FNN_LN2_LO_F64 + c / u));
}

/* erfc(x) for x >= 0, from two Chebyshev series evaluated by Clenshaw's recurrence
 * (coefficients and their check: tools/erfc_coefficients.py):
 *   x < 1:      1 - x h(x^2),       h(s) = erf(sqrt s) / sqrt s  on s in [0, 1]
 *   1 <= x < 6: e^(-x^2) g(1/x) / x, g(t) = x e^(x^2) erfc(x)   on t in [1/6, 1]
 *   x >= 6:     0 (erfc(6) = 2.2e-17: erf rounds to 1 there).
 * Relative error below 4e-15 on [0, 6) (most of it from rounding x^2 inside e^(-x^2)).
 * Both series are evaluated for every element and one is selected: no branches. */
static const double fnn_erfc_small[13] = {
    0.9754769393826541,     -0.14226120510371365,   0.010035582187599796,
    -0.0005768764699767485, 2.741993125219606e-05,  -1.1043175507344507e-06,
    3.8488755420345036e-08, -1.1808582533875466e-09, 3.2334215826050907e-11,
    -7.991015947004549e-13, 1.7990725113961456e-14, -3.718635487818682e-16,
    7.103599003627703e-18,
};
static const double fnn_erfc_large[25] = {
    0.49471361578208073,    -0.06627963187965226,   -0.0022764645742360114,
    0.001717245128146866,   -0.00032014496358247316, 2.6743225983670515e-05,
    3.968695744344053e-06,  -2.2059099609177132e-06, 5.18822760986672e-07,
    -6.999918836906682e-08, -9.071270087834273e-10, 3.81951552192842e-09,
    -1.3416438565181666e-09, 2.9478922180326285e-10, -3.786760799973967e-11,
    -2.1671472562095174e-12, 3.112229282355579e-12, -1.1363842129729438e-12,
    2.773985531666567e-13,  -4.459066392405864e-14, 1.0732847617555235e-15,
    2.4790846992137104e-15, -1.1601226123958656e-15, 3.4680438202576634e-16,
    -7.575882307201767e-17,
};

/* sum_k c[k] T_k(u) for u in [-1, 1] (Clenshaw), fully unrolled so that the loops
 * around it vectorise. */
#define FNN_CLENSHAW_F64(c, count, u, out)                                              \
    do {                                                                                \
        double b1_ = 0, b2_ = 0, u2_ = 2 * (u);                                         \
        _Pragma("GCC unroll 32")                                                        \
        for (int k_ = (count) - 1; k_ >= 1; k_--) {                                     \
            double b0_ = FNN_MADD_F64(u2_, b1_, (c)[k_] - b2_);                         \
            b2_ = b1_;                                                                  \
            b1_ = b0_;                                                                  \
        }                                                                               \
        (out) = FNN_MADD_F64((u), b1_, (c)[0] - b2_);                                   \
    } while (0)

static inline double fnn_erfc_pos_f64(double x)
{
    double near, far;
    FNN_CLENSHAW_F64(fnn_erfc_small, 13, 2 * (x * x) - 1, near);
    near = 1.0 - x * near;
    double xl = x < 1 ? 1.0 : x > 6 ? 6.0 : x;     /* keep the unused lanes in range */
    double t = 1.0 / xl;
    FNN_CLENSHAW_F64(fnn_erfc_large, 25, 2.4 * t - 1.4, far); /* [1/6, 1] -> [-1, 1] */
    far = fnn_exp_neg_f64(-(xl * xl)) * far * t;
    return x < 1 ? near : x < 6 ? far : 0.0;
}

/* The standard normal CDF Phi(z) = erfc(-z / sqrt 2) / 2, accurate in both tails (no
 * 1 + erf cancellation for z << 0). */
static inline double fnn_normal_cdf_f64(double z)
{
    double c = fnn_erfc_pos_f64(fabs(z) * 0.70710678118654752440);
    return z < 0 ? 0.5 * c : 1.0 - 0.5 * c;
}

/* ------------------------------------------------------------------ float */

#define FNN_LN2_HI_F32 0.693145751953125f           /* 16 significant bits */
#define FNN_LN2_LO_F32 1.428606765330187045e-06f
#define FNN_INV_LN2_F32 1.44269504088896341f
#define FNN_SHIFT_F32 12582912.0f                   /* 1.5 * 2^23 */
#define FNN_EXP_MIN_F32 (-87.3f)

static inline float fnn_reduce_f32(float x, float *scale)
{
    float kd = x * FNN_INV_LN2_F32 + FNN_SHIFT_F32;
    float n = kd - FNN_SHIFT_F32;
    *scale = fnn_from_bits_f32((fnn_bits_f32(kd) + 127u) << 23);
    return (x - n * FNN_LN2_HI_F32) - n * FNN_LN2_LO_F32;
}

/* e^r - 1 - r for |r| <= ln2/2, Taylor to degree 8 (truncation < 2e-10). */
static inline float fnn_expm1_tail_f32(float r)
{
    float p = 1.0f / 40320;
    p = FNN_MADD_F32(p, r, 1.0f / 5040);
    p = FNN_MADD_F32(p, r, 1.0f / 720);
    p = FNN_MADD_F32(p, r, 1.0f / 120);
    p = FNN_MADD_F32(p, r, 1.0f / 24);
    p = FNN_MADD_F32(p, r, 1.0f / 6);
    p = FNN_MADD_F32(p, r, 0.5f);
    return p * r * r;
}

static inline float fnn_exp_neg_f32(float x)
{
    float xc = x < FNN_EXP_MIN_F32 ? FNN_EXP_MIN_F32 : x;
    float scale;
    float r = fnn_reduce_f32(xc, &scale);
    float e = scale * (1.0f + (r + fnn_expm1_tail_f32(r)));
    return x < FNN_EXP_MIN_F32 ? 0.0f : e;
}

static inline float fnn_expm1_neg_f32(float x)
{
    float xc = x < FNN_EXP_MIN_F32 ? FNN_EXP_MIN_F32 : x;
    float scale;
    float r = fnn_reduce_f32(xc, &scale);
    float e = scale * (r + fnn_expm1_tail_f32(r)) + (scale - 1.0f);
    return x < FNN_EXP_MIN_F32 ? -1.0f : e;
}

static inline float fnn_log1p_unit_f32(float y)
{
    float u = 1.0f + y;
    float c = y - (u - 1.0f);
    int big = u > 1.41421356f;
    float m = big ? 0.5f * u : u;
    float k = big ? 1.0f : 0.0f;
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float p = 1.0f / 13;
    p = FNN_MADD_F32(p, s2, 1.0f / 11);
    p = FNN_MADD_F32(p, s2, 1.0f / 9);
    p = FNN_MADD_F32(p, s2, 1.0f / 7);
    p = FNN_MADD_F32(p, s2, 1.0f / 5);
    p = FNN_MADD_F32(p, s2, 1.0f / 3);
    float log_m = 2.0f * s + 2.0f * s * (s2 * p);
    return k * FNN_LN2_HI_F32 + (log_m + (k * FNN_LN2_LO_F32 + c / u));
}

#endif /* FASTNN_VMATH_H */
