#include <cuda_bf16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"

namespace paradit::cuda {
namespace {

using bf16 = __nv_bfloat16;

__device__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum over a block of up to 1024 threads; every thread gets the result.
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) / 32;
  v = lane < warps ? partial[lane] : 0.f;
  return warp_sum(v);
}

// One block per row: mean, then variance around it (two passes over registers-cached values
// would need D known at compile time; the second read hits L1/L2).
__global__ void layer_norm_modulate_kernel(const bf16* x, const float* scale, const float* shift, bf16* y, int N,
                                           int D, float eps) {
  const int64_t row = blockIdx.x;
  const int b = static_cast<int>(row / N);
  const bf16* in = x + row * D;
  bf16* out = y + row * D;
  float sum = 0.f;
  for (int i = threadIdx.x; i < D; i += blockDim.x) sum += __bfloat162float(in[i]);
  const float mean = block_sum(sum) / static_cast<float>(D);
  float sq = 0.f;
  for (int i = threadIdx.x; i < D; i += blockDim.x) {
    const float d = __bfloat162float(in[i]) - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(block_sum(sq) / static_cast<float>(D) + eps);
  const float* sc = scale + static_cast<int64_t>(b) * D;
  const float* sh = shift + static_cast<int64_t>(b) * D;
  for (int i = threadIdx.x; i < D; i += blockDim.x)
    out[i] = __float2bfloat16((__bfloat162float(in[i]) - mean) * rstd * (1.f + sc[i]) + sh[i]);
}

__global__ void rms_norm_kernel(const bf16* x, const float* weight, bf16* y, int D, float eps) {
  const int64_t row = blockIdx.x;
  const bf16* in = x + row * D;
  float sq = 0.f;
  for (int i = threadIdx.x; i < D; i += blockDim.x) {
    const float v = __bfloat162float(in[i]);
    sq += v * v;
  }
  const float r = rsqrtf(block_sum(sq) / static_cast<float>(D) + eps);
  for (int i = threadIdx.x; i < D; i += blockDim.x)
    y[row * D + i] = __float2bfloat16(__bfloat162float(in[i]) * r * (weight ? weight[i] : 1.f));
}

__global__ void gelu_tanh_kernel(bf16* x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = __bfloat162float(x[i]);
    const float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
    x[i] = __float2bfloat16(0.5f * v * (1.f + tanhf(u)));
  }
}

__global__ void silu_kernel(bf16* x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = __bfloat162float(x[i]);
    x[i] = __float2bfloat16(v / (1.f + __expf(-v)));
  }
}

__global__ void gated_add_kernel(const bf16* x, const float* gate, const bf16* y, bf16* out, int64_t ND, int D,
                                 int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t b = i / ND;
    const int d = static_cast<int>(i % D);
    out[i] = __float2bfloat16(__bfloat162float(x[i]) + gate[b * D + d] * __bfloat162float(y[i]));
  }
}

constexpr int kHeadDim = 64, kQueries = 64, kKeys = 64;

// One thread per query row, 64 rows per block, key/value tiles of 64 rows staged in shared
// memory; the running max, sum and the 64-wide accumulator stay in registers. A correct
// baseline for the fused path (cuDNN's SDPA or a wgmma kernel replaces it for speed).
__global__ void attention_kernel(const bf16* q, const bf16* k, const bf16* v, bf16* out, float* lse, int Nq, int Nk,
                                 float scale) {
  __shared__ float ks[kKeys][kHeadDim + 1];
  __shared__ float vs[kKeys][kHeadDim + 1];
  const int64_t head = blockIdx.y;
  const int row = blockIdx.x * kQueries + threadIdx.x;
  const bool active = row < Nq;
  float qr[kHeadDim], acc[kHeadDim];
  const bf16* qp = q + (head * Nq + (active ? row : 0)) * kHeadDim;
  for (int c = 0; c < kHeadDim; ++c) {
    qr[c] = __bfloat162float(qp[c]) * scale;
    acc[c] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  for (int k0 = 0; k0 < Nk; k0 += kKeys) {
    const int tile = min(kKeys, Nk - k0);
    __syncthreads();
    for (int i = threadIdx.x; i < tile * kHeadDim; i += blockDim.x) {
      const int r = i / kHeadDim, c = i % kHeadDim;
      ks[r][c] = __bfloat162float(k[(head * Nk + k0 + r) * kHeadDim + c]);
      vs[r][c] = __bfloat162float(v[(head * Nk + k0 + r) * kHeadDim + c]);
    }
    __syncthreads();
    if (!active) continue;
    for (int j = 0; j < tile; ++j) {
      float s = 0.f;
      for (int c = 0; c < kHeadDim; ++c) s += qr[c] * ks[j][c];
      const float m_new = fmaxf(m, s);
      const float correction = __expf(m - m_new), p = __expf(s - m_new);
      l = l * correction + p;
      for (int c = 0; c < kHeadDim; ++c) acc[c] = acc[c] * correction + p * vs[j][c];
      m = m_new;
    }
  }
  if (!active) return;
  const float inv = 1.f / l;
  bf16* o = out + (head * Nq + row) * kHeadDim;
  for (int c = 0; c < kHeadDim; ++c) o[c] = __float2bfloat16(acc[c] * inv);
  if (lse) lse[head * Nq + row] = m + logf(l);
}

int grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<int>(blocks < 65535 * 16 ? blocks : 65535 * 16);
}

}  // namespace

void layer_norm_modulate(const void* x, const float* scale, const float* shift, void* y, int64_t B, int64_t N,
                         int64_t D, float eps, cudaStream_t stream) {
  layer_norm_modulate_kernel<<<static_cast<unsigned>(B * N), 256, 0, stream>>>(
      static_cast<const bf16*>(x), scale, shift, static_cast<bf16*>(y), static_cast<int>(N), static_cast<int>(D), eps);
  PD_CUDA_CHECK(cudaGetLastError());
}

void rms_norm(const void* x, const float* weight, void* y, int64_t rows, int64_t D, float eps, cudaStream_t stream) {
  rms_norm_kernel<<<static_cast<unsigned>(rows), D >= 256 ? 256 : 64, 0, stream>>>(
      static_cast<const bf16*>(x), weight, static_cast<bf16*>(y), static_cast<int>(D), eps);
  PD_CUDA_CHECK(cudaGetLastError());
}

void gelu_tanh(void* x, int64_t n, cudaStream_t stream) {
  gelu_tanh_kernel<<<grid_for(n, 256), 256, 0, stream>>>(static_cast<bf16*>(x), n);
  PD_CUDA_CHECK(cudaGetLastError());
}

void silu(void* x, int64_t n, cudaStream_t stream) {
  silu_kernel<<<grid_for(n, 256), 256, 0, stream>>>(static_cast<bf16*>(x), n);
  PD_CUDA_CHECK(cudaGetLastError());
}

void gated_add(const void* x, const float* gate, const void* y, void* out, int64_t B, int64_t N, int64_t D,
               cudaStream_t stream) {
  const int64_t total = B * N * D;
  gated_add_kernel<<<grid_for(total, 256), 256, 0, stream>>>(static_cast<const bf16*>(x), gate,
                                                            static_cast<const bf16*>(y), static_cast<bf16*>(out), N * D,
                                                            static_cast<int>(D), total);
  PD_CUDA_CHECK(cudaGetLastError());
}

void attention(const void* q, const void* k, const void* v, void* out, float* lse, int64_t BH, int64_t Nq,
               int64_t Nk, float scale, cudaStream_t stream) {
  PD_CHECK(Nk > 0 && Nq > 0 && BH > 0 && BH <= 65535, "cuda attention: bad shape");
  const dim3 grid(static_cast<unsigned>((Nq + kQueries - 1) / kQueries), static_cast<unsigned>(BH));
  attention_kernel<<<grid, kQueries, 0, stream>>>(static_cast<const bf16*>(q), static_cast<const bf16*>(k),
                                                  static_cast<const bf16*>(v), static_cast<bf16*>(out), lse,
                                                  static_cast<int>(Nq), static_cast<int>(Nk), scale);
  PD_CUDA_CHECK(cudaGetLastError());
}

}  // namespace paradit::cuda
