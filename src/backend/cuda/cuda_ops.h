// The CUDA implementation of the op set, on tensors in GPU memory (src/ops validates shapes and
// dtypes and allocates outputs, then calls these). Activations may be F32 or BF16: the
// arithmetic is f32 in registers either way, so the f32 GPU path is a reference for the bf16
// one. Per-row vectors (norm weights, modulation, gates, rotary tables) are F32. Every launch
// runs on stream() (stream.h), asynchronously: a host read synchronises.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace paradit::cuda {

// Tensor memory (device_memory.cpp): whether it is linked and registered, and returning the
// cached blocks to the driver.
bool device_memory_registered();
void empty_memory_cache();

// Every element of `shape` read at `src_strides` from src (F32, BF16 or F16), converted and
// written at `dst_strides` into dst (F32, BF16 or F16). Views, permutes, concats, casts.
void copy_strided(const Shape& shape, const Shape& src_strides, const void* src, DType src_dtype,
                  const Shape& dst_strides, void* dst, DType dst_dtype);

// y[M, N] = epilogue(x[M, K] @ (w[N, K]^T if trans_w else w[K, N]) + bias[N]) through cuBLASLt:
// x, w both BF16 (f32 accumulation) or both F32 (f32 arithmetic, no TF32); y F32 or BF16;
// bias F32 (converted to y's type for the epilogue, as cuBLASLt requires). One plan per shape,
// its algorithm chosen once by timing the heuristic's best candidates.
enum class Epilogue { None, GeluTanh, GeluErf };

// A convolution through cuDNN (conv_cudnn.h says which cases): y [N, K, Ho, Wo] preallocated.
// Returns false, having done nothing, where cuDNN is absent or declines; src/ops then runs it
// as one GEMM over a strided patch view.
struct ConvGeometry {
  int64_t stride = 1, pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};
bool conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvGeometry& g, Tensor& y);
void gemm(const Tensor& x, const Tensor& w, bool trans_w, const Tensor* bias, Tensor& y, Epilogue epilogue);

void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps, Tensor& y);
void rms_norm(const Tensor& x, const Tensor* weight, float eps, Tensor& y);
void group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps, Tensor& y);
// kind: 0 GELU (erf), 1 GELU (tanh), 2 QuickGELU, 3 SiLU (ops::Activation's order).
void activation(const Tensor& x, int kind, Tensor& y);
void softmax(const Tensor& x, Tensor& y);
// y = a op b[i % b.numel()] (b broadcast over a's leading dimensions); kind 0 add, 1 mul.
void binary(const Tensor& a, const Tensor& b, int kind, Tensor& y);
void modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y);
void gated_add(const Tensor& x, const Tensor& gate, const Tensor& y, Tensor& out);
void layer_norm_modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, float eps, Tensor& y);
void gated_add_norm_modulate(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& scale,
                             const Tensor& shift, float eps, Tensor& sum, Tensor& normed);
void guidance_combine(const Tensor& uncond, const Tensor& cond, float scale, Tensor& out);
void euler_step(Tensor& latents, const Tensor& velocity, float dt);
void fill_hashed_uniform(Tensor& out, uint64_t seed, float center, float scale);  // F32 or BF16
void apply_rope(Tensor& x, const Tensor& cos, const Tensor& sin);
void embedding(const Tensor& table, const std::vector<int64_t>& ids, Tensor& y);

// softmax(q k^T * scale + bias) v: q [B, H, Nq, D], k, v [B, H, Nk, D], views with any strides
// and D contiguous, all F32 or all BF16; out [B, H, Nq, D] (any strides, D contiguous) F32 or
// BF16; bias F32 [H, Nq, Nk] or null; lse F32 [B, H, Nq] or null; causal masks keys j > i.
// D is 64, 128 or 512 (SD3/CLIP/T5, FLUX, the VAE's one head).
bool attention_supports(int64_t head_dim);
void attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* bias,
               Tensor& out, Tensor* lse);
void attention_merge(Tensor& out_a, Tensor& lse_a, const Tensor& out_b, const Tensor& lse_b);

// Joint attention over streams ([B, N, H, D] strided views of q, k, v, D contiguous): each
// stream's q and k are RMS-normalised with its weight and rotated by its tables while packing
// into one [B, H, sum N, D] buffer per operand; one attention; outs[i] [B, N_i, H*D].
struct JointStream {
  const Tensor* q = nullptr;
  const Tensor* k = nullptr;
  const Tensor* v = nullptr;
  const Tensor* q_norm = nullptr;
  const Tensor* k_norm = nullptr;
  const Tensor* rope_cos = nullptr;
  const Tensor* rope_sin = nullptr;
};
void joint_attention(const std::vector<JointStream>& streams, float scale, float norm_eps, bool causal,
                     std::vector<Tensor>& outs);

}  // namespace paradit::cuda
