// The CPU backend: the reference implementation of every op. Callers (src/ops) have already
// validated shapes and dtypes, and allocated the outputs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace paradit::cpu {

// c[M, N] = epilogue(a[M, K] @ (b[N, K]^T if trans_b else b[K, N]) + bias[N]); oneDNN matmul,
// the epilogue fused as a post-op, c in f32 or bf16.
enum class Epilogue { None, GeluTanh, GeluErf };
void matmul(const Tensor& a, const Tensor& b, bool trans_b, const Tensor* bias_f32, Tensor& c,
            Epilogue epilogue = Epilogue::None);

// How a product of bf16 operands runs (gemm_method.cpp): as bf16 products (VDPBF16PS or AMX
// tiles, through oneDNN's bf16 matmul on weights packed at load), or Widened: the operands
// converted exactly to f32 per call and multiplied with f32 FMAs, on CPUs that issue those
// faster than VDPBF16PS. Widened products with fewer than kWidenedMinRows rows still take the
// bf16 route (they are bound by reading the weights, and widening them would cost more). Both
// accumulate in f32; results differ only by summation order. PARADIT_BF16_GEMM=dot|widened
// forces one.
enum class Bf16Gemm { Dot, Widened };
constexpr int64_t kWidenedMinRows = 128;
Bf16Gemm best_bf16_gemm();
std::string bf16_gemm_description();  // for `paradit version`: the method and why
// matmul above with bf16 operands run by `method` (tests compare the two).
void matmul(const Tensor& a, const Tensor& b, bool trans_b, const Tensor* bias_f32, Tensor& c, Epilogue epilogue,
            Bf16Gemm method);

// Weights in the layout oneDNN's matmul runs fastest (its blocked format for w's types), made
// once at load: pack_matmul_weight reorders w [N, K] and returns the bytes, `layout` receiving
// the opaque layout that matmul_packed and unpack_matmul_weight read.
Tensor pack_matmul_weight(const Tensor& w, std::shared_ptr<const void>& layout);
void unpack_matmul_weight(const Tensor& packed, const void* layout, Tensor& w);
// How many packed products so far had to reorder their weights (a row count whose blocking
// differs from the packed one); benchmarks print it, since each such call is slower.
int64_t packed_weight_reorders();
// c = epilogue(a @ w^T + bias) with w packed ([N, K] of type w_type).
void matmul_packed(const Tensor& a, const Tensor& packed, const void* layout, int64_t N, DType w_type,
                   const Tensor* bias_f32, Tensor& c, Epilogue epilogue = Epilogue::None);

void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps, Tensor& y);
void rms_norm(const Tensor& x, const Tensor* weight, float eps, Tensor& y);
void group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps, Tensor& y);

enum class Act { GeluErf, GeluTanh, QuickGelu, Silu };
void activation(const Tensor& x, Act kind, Tensor& y);
void softmax(const Tensor& x, Tensor& y);

// bias: [H, Nq, Nk] or null; lse (f32 inputs only): [B, H, Nq] or null.
void attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* bias,
               Tensor& out, Tensor* lse = nullptr);
void attention_merge(Tensor& out_a, Tensor& lse_a, const Tensor& out_b, const Tensor& lse_b);
// Attention with bf16 products and an f32 softmax (attention_bf16.cpp) on f32 or bf16 inputs;
// the head size must pass bf16_attention_supports. The AVX512-BF16 kernel needs that ISA, the
// AMX one AMX-BF16 tiles granted by the OS (attention_amx.cpp), the FMA one AVX-512F (the same
// bf16 products as f32 FMAs on widened operands); best_bf16_attention_kernel says which this
// CPU runs fastest (AMX; else the FMA kernel where best_bf16_gemm widens, else AVX512-BF16;
// else portable; PARADIT_AMX=0 leaves AMX out). The portable kernel and the emulated AMX tile
// program run anywhere (tests).
enum class Bf16AttentionKernel { Avx512Bf16, Portable, Amx, AmxEmulated, Avx512Fma };
Bf16AttentionKernel best_bf16_attention_kernel();
const char* bf16_attention_kernel_name(Bf16AttentionKernel kernel);
bool bf16_attention_supports(int64_t head_dim);
void attention_bf16(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* bias,
                    Tensor& out, Bf16AttentionKernel kernel);
// The same kernel over strided rows. Each stream's q, k, v and out are [B, N, H, D] arrays given
// by a base pointer and element strides for (batch, token, head), D contiguous; the streams'
// tokens attend together as if concatenated in order (joint attention without a concat).
// q_norm / k_norm ([D], f32) apply a per-head RMSNorm (eps norm_eps) to q and k first. Inputs
// are all `in` (F32 or BF16), outputs `out`; bias is [H, Nq, Nk] over the concatenated tokens.
struct AttentionRows {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  int64_t n = 0;     // query (and output) rows
  int64_t n_kv = 0;  // key and value rows
  int64_t q_stride[3] = {}, k_stride[3] = {}, v_stride[3] = {}, out_stride[3] = {};
  const float* q_norm = nullptr;
  const float* k_norm = nullptr;
  // [n, D] rotary tables for this stream's rows (q and k alike, so n_kv == n), applied after the norm.
  const float* rope_cos = nullptr;
  const float* rope_sin = nullptr;
};
void attention_bf16_rows(const std::vector<AttentionRows>& streams, int64_t batch, int64_t heads, int64_t d, DType in,
                         DType out, float scale, bool causal, const Tensor* bias, float norm_eps,
                         Bf16AttentionKernel kernel);

void conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int64_t stride, const int64_t pads[4], Tensor& y);
void upsample_nearest2x(const Tensor& x, Tensor& y);
void embedding(const Tensor& table, const std::vector<int64_t>& ids, Tensor& y);

enum class Binary { Add, Mul };
void binary(const Tensor& a, const Tensor& b, Binary op, Tensor& y);
// x [B, H, N, D] f32 in place: each pair (2i, 2i+1) of row n rotated by cos/sin [N, D].
void apply_rope(Tensor& x, const Tensor& cos, const Tensor& sin);
void modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y);
void gated_add(const Tensor& x, const Tensor& gate, const Tensor& y, Tensor& out);
void layer_norm_modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, float eps, Tensor& y);
void gated_add_norm_modulate(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& scale,
                             const Tensor& shift, float eps, Tensor& sum, Tensor& normed);
void guidance_combine(const Tensor& uncond, const Tensor& cond, float scale, Tensor& out);
void euler_step(Tensor& latents, const Tensor& velocity, float dt);
void fill_hashed_uniform(Tensor& out, uint64_t seed, float center, float scale);  // F32

// Copies `src` (viewed as [outer, src_inner]) into dst (viewed as [outer, dst_inner]) at
// column byte offset `dst_offset`; the building block of concat and split.
void copy_strided_rows(const Tensor& src, int64_t outer, size_t src_row_bytes, Tensor& dst, size_t dst_row_bytes,
                       size_t dst_offset_bytes, size_t src_offset_bytes, size_t bytes_per_row);
void permute(const Tensor& x, const std::vector<int64_t>& order, Tensor& y);

}  // namespace paradit::cpu
