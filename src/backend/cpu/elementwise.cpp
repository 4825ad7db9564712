// Elementwise arithmetic with suffix broadcasting, and the adaLN modulation.
#include "backend/cpu/cpu_ops.h"
#include "core/hashed_uniform.h"

namespace paradit::cpu {

void binary(const Tensor& a, const Tensor& b, Binary op, Tensor& y) {
  const int64_t inner = b.numel(), outer = a.numel() / inner;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* py = y.data<float>();
#pragma omp parallel for if (a.numel() > 16384)
  for (int64_t o = 0; o < outer; ++o) {
    const float* ra = pa + o * inner;
    float* ry = py + o * inner;
    if (op == Binary::Add) {
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) ry[i] = ra[i] + pb[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) ry[i] = ra[i] * pb[i];
    }
  }
}

void apply_rope(Tensor& x, const Tensor& cos, const Tensor& sin) {
  const int64_t BH = x.size(0) * x.size(1), N = x.size(2), D = x.size(3);
  const float* c = cos.data<float>();
  const float* s = sin.data<float>();
#pragma omp parallel for collapse(2)
  for (int64_t h = 0; h < BH; ++h) {
    for (int64_t n = 0; n < N; ++n) {
      float* row = x.data<float>() + (h * N + n) * D;
      const float* cr = c + n * D;
      const float* sr = s + n * D;
      for (int64_t i = 0; i < D; i += 2) {
        const float re = row[i], im = row[i + 1];
        row[i] = re * cr[i] - im * sr[i];
        row[i + 1] = im * cr[i + 1] + re * sr[i + 1];
      }
    }
  }
}

void modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y) {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2);
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t n = 0; n < N; ++n) {
      const float* in = x.data<float>() + (b * N + n) * D;
      const float* sc = scale.data<float>() + b * D;
      const float* sh = shift.data<float>() + b * D;
      float* out = y.data<float>() + (b * N + n) * D;
#pragma omp simd
      for (int64_t i = 0; i < D; ++i) out[i] = in[i] * (1.f + sc[i]) + sh[i];
    }
  }
}

void gated_add(const Tensor& x, const Tensor& gate, const Tensor& y, Tensor& out) {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2);
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t n = 0; n < N; ++n) {
      const int64_t row = (b * N + n) * D;
      const float* g = gate.data<float>() + b * D;
      const float* px = x.data<float>() + row;
      const float* py = y.data<float>() + row;
      float* po = out.data<float>() + row;
#pragma omp simd
      for (int64_t i = 0; i < D; ++i) po[i] = px[i] + g[i] * py[i];
    }
  }
}

void guidance_combine(const Tensor& uncond, const Tensor& cond, float scale, Tensor& out) {
  const float* u = uncond.data<float>();
  const float* c = cond.data<float>();
  float* o = out.data<float>();
  const int64_t n = out.numel();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) o[i] = u[i] + scale * (c[i] - u[i]);
}

void euler_step(Tensor& latents, const Tensor& velocity, float dt) {
  float* x = latents.data<float>();
  const float* v = velocity.data<float>();
  const int64_t n = latents.numel();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] + dt * v[i];
}

void fill_hashed_uniform(Tensor& out, uint64_t seed, float center, float scale) {
  float* p = out.data<float>();
  const int64_t n = out.numel();
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) p[i] = center + scale * hashed_uniform(seed, static_cast<uint64_t>(i));
}

}  // namespace paradit::cpu
