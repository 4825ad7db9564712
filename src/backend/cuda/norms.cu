// Normalisations over rows: one block per row (per sample and group for GroupNorm), mean
// first and the variance around it (a second read that hits L1/L2), f32 statistics.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernel_util.cuh"

namespace paradit::cuda {
namespace {

int threads_for(int64_t D) { return D >= 1024 ? 512 : D >= 256 ? 256 : D >= 64 ? 64 : 32; }

// mode 0: LayerNorm (weight, bias optional); mode 1: RMSNorm (weight optional);
// mode 2: LayerNorm without affine, then * (1 + scale[b]) + shift[b], rows of N per sample.
template <typename T>
__global__ void norm_kernel(const T* x, const float* weight, const float* bias, const float* scale,
                            const float* shift, T* y, int64_t D, int64_t N, float eps, int mode) {
  const int64_t row = blockIdx.x;
  const T* in = x + row * D;
  T* out = y + row * D;
  float mean = 0.f;
  if (mode != 1) {
    float sum = 0.f;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) sum += ld(in, i);
    mean = block_sum(sum) / static_cast<float>(D);
  }
  float sq = 0.f;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const float d = ld(in, i) - mean;
    sq += d * d;
  }
  const float r = rsqrtf(block_sum(sq) / static_cast<float>(D) + eps);
  if (mode == 2) {
    const int64_t b = row / N;
    const float* sc = scale + b * D;
    const float* sh = shift + b * D;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) st(out, i, (ld(in, i) - mean) * r * (1.f + sc[i]) + sh[i]);
    return;
  }
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    float v = (ld(in, i) - mean) * r;
    if (weight) v *= weight[i];
    if (bias) v += bias[i];
    st(out, i, v);
  }
}

// x [N, C, S]: block per (sample, group) over its C/G * S values; affine per channel.
template <typename T>
__global__ void group_norm_kernel(const T* x, const float* weight, const float* bias, T* y, int64_t C, int64_t S,
                                  int64_t G, float eps) {
  const int64_t n = blockIdx.x / G, g = blockIdx.x % G, cg = C / G, count = cg * S;
  const int64_t base = (n * C + g * cg) * S;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += ld(x, base + i);
  const float mean = block_sum(sum) / static_cast<float>(count);
  float sq = 0.f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const float d = ld(x, base + i) - mean;
    sq += d * d;
  }
  const float r = rsqrtf(block_sum(sq) / static_cast<float>(count) + eps);
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const int64_t c = g * cg + i / S;
    float v = (ld(x, base + i) - mean) * r;
    if (weight) v *= weight[c];
    if (bias) v += bias[c];
    st(y, base + i, v);
  }
}

// gated_add_kernel's sum (rounded to T, as it stores it), then norm_kernel's mode 2 over it:
// each thread reads back only the elements it wrote, so the row needs no extra barrier.
template <typename T>
__global__ void residual_norm_kernel(const T* x, const float* gate, const T* y, const float* scale,
                                     const float* shift, T* sum_out, T* y_out, int64_t D, int64_t N, float eps) {
  const int64_t row = blockIdx.x, b = row / N;
  const T* px = x + row * D;
  const T* py = y + row * D;
  T* ps = sum_out + row * D;
  T* out = y_out + row * D;
  const float* g = gate + b * D;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    st(ps, i, ld(px, i) + g[i] * ld(py, i));
    sum += ld(ps, i);
  }
  const float mean = block_sum(sum) / static_cast<float>(D);
  float sq = 0.f;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const float d = ld(ps, i) - mean;
    sq += d * d;
  }
  const float r = rsqrtf(block_sum(sq) / static_cast<float>(D) + eps);
  const float* sc = scale + b * D;
  const float* sh = shift + b * D;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) st(out, i, (ld(ps, i) - mean) * r * (1.f + sc[i]) + sh[i]);
}

template <typename T>
__global__ void softmax_kernel(const T* x, T* y, int64_t D) {
  const T* in = x + blockIdx.x * D;
  T* out = y + blockIdx.x * D;
  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) m = fmaxf(m, ld(in, i));
  m = block_max(m);
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) sum += __expf(ld(in, i) - m);
  const float inv = 1.f / block_sum(sum);
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) st(out, i, __expf(ld(in, i) - m) * inv);
}

const float* ptr(const Tensor* t) { return t ? t->data<float>() : nullptr; }

template <typename F>
void rows(const Tensor& x, const char* op, F launch) {
  const int64_t D = x.size(-1), R = x.numel() / D;
  PD_CHECK(R <= 0x7fffffff, "cuda ", op, ": ", R, " rows are too many for one grid");
  with_type(x.dtype(), op, [&](auto t) { launch(t, static_cast<unsigned>(R), threads_for(D), D); });
  check_launch(op);
}

}  // namespace

void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps, Tensor& y) {
  rows(x, "layer_norm", [&](auto t, unsigned R, int threads, int64_t D) {
    using T = decltype(t);
    norm_kernel<T><<<R, threads, 0, stream()>>>(x.data<T>(), ptr(weight), ptr(bias), nullptr, nullptr, y.data<T>(),
                                                D, 1, eps, 0);
  });
}

void rms_norm(const Tensor& x, const Tensor* weight, float eps, Tensor& y) {
  rows(x, "rms_norm", [&](auto t, unsigned R, int threads, int64_t D) {
    using T = decltype(t);
    norm_kernel<T><<<R, threads, 0, stream()>>>(x.data<T>(), ptr(weight), nullptr, nullptr, nullptr, y.data<T>(), D,
                                                1, eps, 1);
  });
}

void layer_norm_modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, float eps, Tensor& y) {
  rows(x, "layer_norm_modulate", [&](auto t, unsigned R, int threads, int64_t D) {
    using T = decltype(t);
    norm_kernel<T><<<R, threads, 0, stream()>>>(x.data<T>(), nullptr, nullptr, scale.data<float>(),
                                                shift.data<float>(), y.data<T>(), D, x.size(1), eps, 2);
  });
}

void gated_add_norm_modulate(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& scale,
                             const Tensor& shift, float eps, Tensor& sum, Tensor& normed) {
  rows(x, "gated_add_norm_modulate", [&](auto t, unsigned R, int threads, int64_t D) {
    using T = decltype(t);
    residual_norm_kernel<T><<<R, threads, 0, stream()>>>(x.data<T>(), gate.data<float>(), y.data<T>(),
                                                         scale.data<float>(), shift.data<float>(), sum.data<T>(),
                                                         normed.data<T>(), D, x.size(1), eps);
  });
}

void group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps, Tensor& y) {
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  with_type(x.dtype(), "group_norm", [&](auto t) {
    using T = decltype(t);
    group_norm_kernel<T><<<static_cast<unsigned>(N * groups), 512, 0, stream()>>>(x.data<T>(), ptr(weight), ptr(bias),
                                                                                  y.data<T>(), C, S, groups, eps);
  });
  check_launch("group_norm");
}

void softmax(const Tensor& x, Tensor& y) {
  rows(x, "softmax", [&](auto t, unsigned R, int threads, int64_t D) {
    using T = decltype(t);
    softmax_kernel<T><<<R, threads, 0, stream()>>>(x.data<T>(), y.data<T>(), D);
  });
}

}  // namespace paradit::cuda
