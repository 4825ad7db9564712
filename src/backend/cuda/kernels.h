// The CUDA kernels of the op set (bf16 activations, f32 arithmetic). Every launch takes a
// stream so a whole step can be captured in a CUDA graph. Pointers are device pointers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace paradit::cuda {

// y[b, n, :] = LayerNorm(x[b, n, :]) * (1 + scale[b, :]) + shift[b, :] (no affine, eps), the
// adaLN modulation fused into the norm: x, y bf16 [B, N, D]; scale, shift f32 [B, D].
void layer_norm_modulate(const void* x, const float* scale, const float* shift, void* y, int64_t B, int64_t N,
                         int64_t D, float eps, cudaStream_t stream);
// y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension (qk-norm); bf16 rows of D.
void rms_norm(const void* x, const float* weight, void* y, int64_t rows, int64_t D, float eps, cudaStream_t stream);
// In place on bf16: tanh-approximated GELU, or SiLU.
void gelu_tanh(void* x, int64_t n, cudaStream_t stream);
void silu(void* x, int64_t n, cudaStream_t stream);
// out = x + gate[b, :] * y over [B, N, D]; x, y, out bf16 (out may alias x); gate f32 [B, D].
void gated_add(const void* x, const float* gate, const void* y, void* out, int64_t B, int64_t N, int64_t D,
               cudaStream_t stream);
// softmax(q k^T * scale) v with an online softmax: q [BH, Nq, 64], k, v [BH, Nk, 64], out
// [BH, Nq, 64], all bf16; f32 scores and accumulators. Optionally each row's log-sum-exp
// (f32 [BH, Nq]) for ring attention's merge.
void attention(const void* q, const void* k, const void* v, void* out, float* lse, int64_t BH, int64_t Nq,
               int64_t Nk, float scale, cudaStream_t stream);

}  // namespace paradit::cuda
