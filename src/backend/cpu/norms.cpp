// Layer, RMS and group normalisation in f32 with two-pass statistics.
#include <cmath>

#include "backend/cpu/cpu_ops.h"

namespace paradit::cpu {
namespace {

// A row's mean and 1 / sqrt(variance + eps), two-pass, as torch's LayerNorm computes them in f32.
inline void row_stats(const float* in, int64_t D, float eps, float* mean, float* inv) {
  float sum = 0.f;
  for (int64_t i = 0; i < D; ++i) sum += in[i];
  *mean = sum / static_cast<float>(D);
  float sq = 0.f;
  for (int64_t i = 0; i < D; ++i) sq += (in[i] - *mean) * (in[i] - *mean);
  *inv = 1.f / std::sqrt(sq / static_cast<float>(D) + eps);
}

}  // namespace

void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps, Tensor& y) {
  const int64_t D = x.size(-1), rows = x.numel() / D;
  const float* w = weight ? weight->data<float>() : nullptr;
  const float* b = bias ? bias->data<float>() : nullptr;
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data<float>() + r * D;
    float* out = y.data<float>() + r * D;
    float mean, inv;
    row_stats(in, D, eps, &mean, &inv);
    for (int64_t i = 0; i < D; ++i) {
      float v = (in[i] - mean) * inv;
      if (w) v *= w[i];
      if (b) v += b[i];
      out[i] = v;
    }
  }
}

void rms_norm(const Tensor& x, const Tensor* weight, float eps, Tensor& y) {
  const int64_t D = x.size(-1), rows = x.numel() / D;
  const float* w = weight ? weight->data<float>() : nullptr;
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data<float>() + r * D;
    float* out = y.data<float>() + r * D;
    float sq = 0.f;
    for (int64_t i = 0; i < D; ++i) sq += in[i] * in[i];
    const float inv = 1.f / std::sqrt(sq / static_cast<float>(D) + eps);
    for (int64_t i = 0; i < D; ++i) out[i] = w ? in[i] * inv * w[i] : in[i] * inv;
  }
}

void group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps, Tensor& y) {
  const int64_t N = x.size(0), C = x.size(1), spatial = x.numel() / (N * C);
  const int64_t per_group = C / groups, count = per_group * spatial;
  const float* w = weight ? weight->data<float>() : nullptr;
  const float* b = bias ? bias->data<float>() : nullptr;
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t base = (n * C + g * per_group) * spatial;
      const float* in = x.data<float>() + base;
      float* out = y.data<float>() + base;
      double sum = 0.0;
      for (int64_t i = 0; i < count; ++i) sum += in[i];
      const double mean = sum / static_cast<double>(count);
      double sq = 0.0;
      for (int64_t i = 0; i < count; ++i) sq += (in[i] - mean) * (in[i] - mean);
      const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(count) + eps));
      const float m = static_cast<float>(mean);
      for (int64_t c = 0; c < per_group; ++c) {
        const int64_t ch = g * per_group + c;
        const float scale = w ? w[ch] * inv : inv;
        const float shift = (b ? b[ch] : 0.f) - m * scale;
        const float* pi = in + c * spatial;
        float* po = out + c * spatial;
        for (int64_t i = 0; i < spatial; ++i) po[i] = pi[i] * scale + shift;
      }
    }
  }
}

// layer_norm (no affine) and modulate fused: the same expressions, in the same order.
void layer_norm_modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, float eps, Tensor& y) {
  const int64_t N = x.size(1), D = x.size(2), rows = x.numel() / D;
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data<float>() + r * D;
    const float* sc = scale.data<float>() + (r / N) * D;  // the row's sample
    const float* sh = shift.data<float>() + (r / N) * D;
    float* out = y.data<float>() + r * D;
    float mean, inv;
    row_stats(in, D, eps, &mean, &inv);
    for (int64_t i = 0; i < D; ++i) {
      const float normed = (in[i] - mean) * inv;
      out[i] = normed * (1.f + sc[i]) + sh[i];
    }
  }
}

// gated_add's row, then layer_norm_modulate's over it while the row is in cache.
void gated_add_norm_modulate(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& scale,
                             const Tensor& shift, float eps, Tensor& sum, Tensor& normed) {
  const int64_t N = x.size(1), D = x.size(2), rows = x.numel() / D;
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / N;  // the row's sample
    const float* px = x.data<float>() + r * D;
    const float* py = y.data<float>() + r * D;
    const float* g = gate.data<float>() + b * D;
    const float* sc = scale.data<float>() + b * D;
    const float* sh = shift.data<float>() + b * D;
    float* ps = sum.data<float>() + r * D;
    float* out = normed.data<float>() + r * D;
#pragma omp simd
    for (int64_t i = 0; i < D; ++i) ps[i] = px[i] + g[i] * py[i];
    float mean, inv;
    row_stats(ps, D, eps, &mean, &inv);
    for (int64_t i = 0; i < D; ++i) {
      const float n = (ps[i] - mean) * inv;
      out[i] = n * (1.f + sc[i]) + sh[i];
    }
  }
}

}  // namespace paradit::cpu
