#include "core/torch_rng.h"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/cpu_features.h"

// This file must not contract a*b+c into FMAs: PyTorch's kernels round every step.
#pragma GCC optimize("fp-contract=off")

namespace paradit {
namespace {

constexpr double kPi = 3.14159265358979323846;

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }
float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// The kernels' constants are double literals rounded to float; F() rounds them the same way.
constexpr float F(double v) { return static_cast<float>(v); }

// Cephes single-precision natural log, step for step as PyTorch's AVX2 kernel computes it. The
// compiler fuses that kernel's multiply-then-add pairs into FMAs (the first multiply in
// program order that feeds an add), so exactly those are FMAs here too.
float cephes_logf(float x) {
  const bool invalid = !(x > 0.f);
  x = std::fmax(x, from_bits(0x00800000u));  // cut off denormals
  const int32_t e_int = static_cast<int32_t>(bits(x) >> 23) - 0x7f;
  x = from_bits((bits(x) & ~0x7f800000u) | bits(0.5f));
  float e = static_cast<float>(e_int) + 1.f;
  const bool small = x < F(0.707106781186547524);
  const float tmp = small ? x : 0.f;
  x = x - 1.f;
  e = e - (small ? 1.f : 0.f);
  x = x + tmp;
  const float z = x * x;
  float y = F(7.0376836292E-2);
  for (double c : {-1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1, -1.6668057665E-1,
                   2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1})
    y = std::fma(y, x, F(c));
  y = y * x;
  y = std::fma(y, z, e * F(-2.12194440e-4));
  y = std::fma(-z, 0.5f, y);
  x = x + y;
  x = std::fma(e, F(0.693359375), x);
  return invalid ? std::nanf("") : x;
}

// Cephes single-precision sine and cosine together, as the AVX2 kernel's sincos.
void cephes_sincosf(float x, float* s, float* c) {
  uint32_t sign_sin = bits(x) & 0x80000000u;
  x = std::fabs(x);
  float y = x * F(1.27323954473516);  // 4 / pi
  int32_t j = static_cast<int32_t>(y);
  j = (j + 1) & ~1;
  y = static_cast<float>(j);
  const uint32_t swap_sin = static_cast<uint32_t>(j & 4) << 29;
  const bool poly_first = (j & 2) == 0;
  x = std::fma(y, F(-0.78515625), x);
  x = std::fma(y, F(-2.4187564849853515625e-4), x);
  x = std::fma(y, F(-3.77489497744594108e-8), x);
  const uint32_t sign_cos = static_cast<uint32_t>(~(j - 2) & 4) << 29;
  sign_sin ^= swap_sin;
  const float z = x * x;
  float p = F(2.443315711809948E-005);
  p = std::fma(p, z, F(-1.388731625493765E-003));
  p = std::fma(p, z, F(4.166664568298827E-002));
  p = p * z;
  p = std::fma(p, z, -(z * 0.5f));
  p = p + 1.f;
  float q = F(-1.9515295891E-4);
  q = std::fma(q, z, F(8.3321608736E-3));
  q = std::fma(q, z, F(-1.6666654611E-1));
  q = q * z;
  q = std::fma(q, x, x);
  // The first polynomial is the cosine near 0, the second the sine; the mask picks.
  const float sin_from_q = poly_first ? q : 0.f, sin_from_p = poly_first ? 0.f : p;
  const float cos_q = q - sin_from_q, cos_p = p - sin_from_p;
  *s = from_bits(bits(sin_from_p + sin_from_q) ^ sign_sin);
  *c = from_bits(bits(cos_p + cos_q) ^ sign_cos);
}

void box_muller_16_scalar(float* d) {
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1 - d[j];
    const float u2 = d[j + 8];
    const float radius = std::sqrt(-2 * std::log(u1));
    const float theta = static_cast<float>(2.0f * kPi * u2);
    d[j] = radius * std::cos(theta) * 1.f + 0.f;
    d[j + 8] = radius * std::sin(theta) * 1.f + 0.f;
  }
}

void box_muller_16_avx2(float* d) {
  const float two_pi = static_cast<float>(2.0f * kPi);
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.f - d[j];
    const float u2 = d[j + 8];
    const float radius = std::sqrt(-2.f * cephes_logf(u1));
    float s, c;
    cephes_sincosf(two_pi * u2, &s, &c);
    d[j] = std::fma(radius * c, 1.f, 0.f);
    d[j + 8] = std::fma(radius * s, 1.f, 0.f);
  }
}

}  // namespace

NormalKernel torch_normal_kernel() {
  // PyTorch's AVX2 and AVX-512 kernels both run the AVX2 Box-Muller (measured with torch
  // 2.15: ATEN_CPU_CAPABILITY=avx2 and =avx512 give the same bits); only the portable
  // "default" kernel uses libm.
  if (const char* cap = std::getenv("ATEN_CPU_CAPABILITY"); cap && *cap && std::string(cap) == "default")
    return NormalKernel::Scalar;
  if (cpu_features().avx2 && cpu_features().fma) return NormalKernel::Avx2;
  return NormalKernel::Scalar;
}

uint64_t TorchGenerator::random64() {
  const uint64_t hi = random();
  const uint64_t lo = random();
  return (hi << 32) | lo;
}

float TorchGenerator::uniform_float() {
  const uint32_t v = random() & ((1u << 24) - 1);
  return static_cast<float>(static_cast<double>(v) * (1.0 / (1u << 24)));
}

double TorchGenerator::uniform_double() {
  const uint64_t v = random64() & ((uint64_t{1} << 53) - 1);
  return static_cast<double>(v) * (1.0 / static_cast<double>(uint64_t{1} << 53));
}

double TorchGenerator::normal_double() {
  if (next_double_normal_) {
    const double v = *next_double_normal_;
    next_double_normal_.reset();
    return v;
  }
  const double u1 = uniform_double();
  const double u2 = uniform_double();
  const double r = std::sqrt(-2.0 * std::log1p(-u2));
  const double theta = 2.0 * kPi * u1;
  next_double_normal_ = r * std::sin(theta);
  return r * std::cos(theta);
}

void TorchGenerator::randn(float* out, int64_t n, NormalKernel kernel) {
  if (n < 16) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(normal_double());
    return;
  }
  if (kernel == NormalKernel::Auto) kernel = torch_normal_kernel();
  auto fill16 = kernel == NormalKernel::Avx2 ? box_muller_16_avx2 : box_muller_16_scalar;
  for (int64_t i = 0; i < n; ++i) out[i] = uniform_float();
  for (int64_t i = 0; i + 16 <= n; i += 16) fill16(out + i);
  if (n % 16 != 0) {
    // PyTorch redraws the last 16 values and transforms them again.
    float* tail = out + n - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform_float();
    fill16(tail);
  }
}

}  // namespace paradit
