// Pointwise activations and the row softmax.
#include <cmath>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/fast_math.h"

namespace paradit::cpu {
namespace {

constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kSqrtTwoOverPi = 0.79788456080286536f;

template <typename F>
void pointwise(const Tensor& x, Tensor& y, F f) {
  const int64_t n = x.numel();
  const float* in = x.data<float>();
  float* out = y.data<float>();
#pragma omp parallel for simd if (n > 4096)
  for (int64_t i = 0; i < n; ++i) out[i] = f(in[i]);
}

}  // namespace

void activation(const Tensor& x, Act kind, Tensor& y) {
  switch (kind) {
    case Act::GeluErf:
      pointwise(x, y, [](float v) { return 0.5f * v * (1.f + std::erf(v * kSqrtHalf)); });
      return;
    case Act::GeluTanh:
      // 0.5 v (1 + tanh(u)) = v * sigmoid(2u): the same value without tanh's cancellation
      pointwise(x, y, [](float v) {
        const float u = kSqrtTwoOverPi * (v + 0.044715f * v * v * v);
        return v / (1.f + fast_exp(-2.f * u));
      });
      return;
    case Act::QuickGelu:
      pointwise(x, y, [](float v) { return v / (1.f + fast_exp(-1.702f * v)); });
      return;
    case Act::Silu:
      pointwise(x, y, [](float v) { return v / (1.f + fast_exp(-v)); });
      return;
  }
}

void softmax(const Tensor& x, Tensor& y) {
  const int64_t D = x.size(-1), rows = x.numel() / D;
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data<float>() + r * D;
    float* out = y.data<float>() + r * D;
    float m = -INFINITY;
    for (int64_t i = 0; i < D; ++i) m = fast_max(m, in[i]);
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < D; ++i) {
      out[i] = in[i] == -INFINITY ? 0.f : fast_exp(in[i] - m);
      sum += out[i];
    }
    const float inv = 1.f / sum;
    for (int64_t i = 0; i < D; ++i) out[i] *= inv;
  }
}

}  // namespace paradit::cpu
