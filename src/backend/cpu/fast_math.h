// Branch-free float exp that the compiler vectorises (libm's expf/tanhf are scalar calls and
// took a fifth of an SD3.5 step).
#pragma once

#include <bit>
#include <cstdint>

namespace paradit::cpu {

// e^x = 2^n e^r with n = round(x / ln2) and r = x - n ln2 (ln2 in two parts, Cody-Waite), then
// e^r by its Taylor series to r^Degree, times 2^n. Inputs are clamped to [-87.3, 88]: below, the
// result is the smallest normal float instead of underflowing to 0 (callers that need an exact
// 0 for -inf handle it); above, e^88.
template <int Degree>
inline float exp_taylor(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.f ? 88.f : x);
  // round to nearest even by adding and removing 1.5 * 2^23 (vectorises, unlike roundevenf)
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float factorial = 1.f;
  for (int k = 2; k <= Degree; ++k) factorial *= static_cast<float>(k);
  float p = 1.f / factorial;
  for (int k = Degree; k >= 1; --k) {  // Horner: coefficients 1/k!, unrolled by the compiler
    factorial /= static_cast<float>(k);
    p = p * r + 1.f / factorial;
  }
  const int32_t e = static_cast<int32_t>(n) + 127;
  return p * std::bit_cast<float>(static_cast<uint32_t>(e) << 23);
}

// To a few ulp (truncation < 2^-27 on |r| <= ln2/2).
inline float fast_exp(float x) { return exp_taylor<7>(x); }

// To about 4e-5 relative: plenty for a value rounded to bf16 (8 bits) next, at half the work.
inline float fast_exp_for_bf16(float x) { return exp_taylor<4>(x); }

inline float fast_max(float a, float b) { return a > b ? a : b; }

}  // namespace paradit::cpu
