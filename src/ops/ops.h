// The device-neutral op set. Each op validates shapes and dtypes here, once, then runs the
// backend of the tensors' device. Layers and models call only these functions.
//
// Layouts: row-major and contiguous. Images are NCHW. Attention takes [B, H, N, D].
// Dtypes: f32 everywhere; linear/matmul also take bf16 inputs with f32 accumulation.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace paradit::ops {

// ---- matrix products ----
// y[..., N] = x[..., K] @ w[N, K]^T (+ bias[N]): torch.nn.Linear's layout. The output has
// x's dtype; bias may be any float dtype. x and w are both f32, both bf16, or an f32 x with a
// bf16 w (x is rounded to bf16 for the product; accumulation and output stay f32).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias = nullptr);
// The same with the output in `out` dtype (f32 or bf16): a bf16 activation meeting a bf16
// weight can still give an f32 result.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias, DType out);
// gelu(x w^T + bias) in one pass (the GELU fused into the GEMM), written in `out` dtype: the
// bf16 path's MLP keeps its wide hidden activation in bf16 for the next GEMM.
Tensor linear_gelu(const Tensor& x, const Tensor& w, const Tensor* bias, bool tanh_approximation, DType out);
// A linear layer's weight [N, K] held as the backend multiplies it fastest. pack() reorders a
// bf16 weight on the CPU once, at load, into oneDNN's blocked bf16 layout (the plain bytes of a
// checkpoint are then released from memory) where the CPU multiplies bf16 pairs fastest; on
// CPUs whose f32 FMAs are faster (widened bf16 products, see backend/cpu/cpu_ops.h), for f32
// (the reference path) and elsewhere the weight stays the plain row-major tensor. Packing
// changes no result.
class GemmWeight {
 public:
  GemmWeight() = default;
  static GemmWeight plain(Tensor w);
  static GemmWeight pack(const Tensor& w);
  int64_t out_features() const { return shape_.empty() ? 0 : shape_[0]; }
  int64_t in_features() const { return shape_.empty() ? 0 : shape_[1]; }
  DType dtype() const { return dtype_; }
  bool packed() const { return layout_ != nullptr; }
  // The plain [N, K] tensor (a row-major copy when packed).
  Tensor unpacked() const;
  // Backend access: the bytes (the plain tensor, or the packed U8 buffer) and the packed layout.
  const Tensor& bytes() const { return bytes_; }
  const void* layout() const { return layout_.get(); }

 private:
  Tensor bytes_;
  Shape shape_;
  DType dtype_ = DType::F32;
  std::shared_ptr<const void> layout_;
};
// Products on packed weights that had to reorder them first because their row count wanted
// another blocking (correct, slower); benchmarks report it per step, expected 0.
int64_t packed_weight_reorders();
Tensor linear(const Tensor& x, const GemmWeight& w, const Tensor* bias, DType out);
Tensor linear_gelu(const Tensor& x, const GemmWeight& w, const Tensor* bias, bool tanh_approximation, DType out);

// c[M, N] = a[M, K] @ b, where b is [K, N], or [N, K] when trans_b.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_b = false);

// ---- normalisation (f32 statistics) ----
// Over the last dimension; weight/bias are optional ([D]).
Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps);
Tensor rms_norm(const Tensor& x, const Tensor* weight, float eps);
// x is [N, C, ...]; statistics per (sample, group); weight/bias are optional ([C]).
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps);

// ---- activations ----
enum class Activation { GeluErf, GeluTanh, QuickGelu, Silu };
Tensor activation(const Tensor& x, Activation kind);
inline Tensor gelu(const Tensor& x, bool tanh_approximation = false) {
  return activation(x, tanh_approximation ? Activation::GeluTanh : Activation::GeluErf);
}
inline Tensor silu(const Tensor& x) { return activation(x, Activation::Silu); }
inline Tensor quick_gelu(const Tensor& x) { return activation(x, Activation::QuickGelu); }
Tensor softmax(const Tensor& x);  // over the last dimension

// ---- attention ----
// softmax(q k^T * scale + bias) v for q [B, H, Nq, D], k and v [B, H, Nk, D]. Tiled with an
// online softmax: memory is O(block^2) per thread, never O(Nq * Nk). `causal` masks keys
// j > i. `bias` (T5's relative positions) is [H, Nq, Nk], shared by the batch. q, k, v are
// all f32 or all bf16 (the fast path: bf16 products, f32 softmax); the output is f32.
// `bf16_products` runs f32 inputs through the bf16 kernel too (rounded once, while packing).
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal = false,
                 const Tensor* bias = nullptr, bool bf16_products = false);
// FLUX's rotary embedding in place on x [B, H, N, D] (f32): each pair (2i, 2i+1) of row n turned
// by cos/sin [N, D] (apply_rotary_emb); joint_attention applies it itself where it can.
void apply_rope(Tensor& x, const Tensor& cos, const Tensor& sin);
// Whether the bf16 kernel runs natively here (AVX512-BF16) for this head size, so that
// bf16_products is worth asking for.
bool fast_bf16_attention(int64_t head_dim);
// The same over f32 inputs, also returning each query row's log-sum-exp of its scaled scores
// ([B, H, Nq]), so that results over separate key blocks can be merged exactly.
Tensor attention_lse(const Tensor& q, const Tensor& k, const Tensor& v, float scale, Tensor& lse);
// Folds the partial result (out_b, lse_b) over other keys into (out_a, lse_a), in place: the
// online-softmax merge that ring attention does after each block.
void attention_merge(Tensor& out_a, Tensor& lse_a, const Tensor& out_b, const Tensor& lse_b);

// One stream of joint attention. q, k, v are [B, N, H, D] views with any strides and D
// contiguous: for example slices of one fused q/k/v projection's output viewed as
// [B, N, 3, H, D], so nothing is permuted. q_norm / k_norm ([D], f32, optional) are the
// per-head RMSNorm weights applied to q and k first (SD3.5's and FLUX's qk norm).
// rope_cos / rope_sin ([N, D], f32, optional) rotate q and k after the norm, each pair of
// dimensions (2i, 2i+1) by its angle (FLUX's apply_rotary_emb): the stream's rows of the table.
struct AttentionStream {
  Tensor q, k, v;
  const Tensor* q_norm = nullptr;
  const Tensor* k_norm = nullptr;
  const Tensor* rope_cos = nullptr;
  const Tensor* rope_sin = nullptr;
};
// The streams' tokens attend together as if concatenated in stream order (SD3's
// [image; prompt]), with nothing concatenated: returns each stream's output as [B, N, H*D]
// in `out` dtype (F32 or BF16), ready for its output projection. q, k, v are all F32 or all
// BF16. With bf16_products (and bf16_attention_supports(D)) the bf16 kernel reads the views
// in place; otherwise the f32 kernel runs on contiguous f32 copies: the exact reference.
std::vector<Tensor> joint_attention(const std::vector<AttentionStream>& streams, float scale, float norm_eps,
                                    bool causal, DType out, bool bf16_products);

// ---- convolution and resampling ----
struct Conv2dParams {
  int64_t stride = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  static Conv2dParams same(int64_t pad, int64_t stride = 1) { return {stride, pad, pad, pad, pad}; }
};
// x [N, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout] optional.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& params);
Tensor upsample_nearest2x(const Tensor& x);  // [N, C, H, W] -> [N, C, 2H, 2W]
// Rows of `table` [V, D] picked by ids; the output keeps the table's dtype.
Tensor embedding(const Tensor& table, const std::vector<int64_t>& ids);

// ---- elementwise ----
// b's shape must equal a's, or be a suffix of it (broadcast over the leading dimensions).
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
// x [B, N, D] * (1 + scale[B, D]) + shift[B, D], the adaLN modulation.
Tensor modulate(const Tensor& x, const Tensor& scale, const Tensor& shift);
// x [B, N, D] + gate[B, D] * y [B, N, D], the gated residual of adaLN-Zero blocks.
Tensor gated_add(const Tensor& x, const Tensor& gate, const Tensor& y);
// LayerNorm over D without affine parameters, then the adaLN modulation, in one pass over x:
// layer_norm(x, eps) * (1 + scale[B, D]) + shift[B, D] for x [B, N, D] (f32), the same numbers
// as layer_norm followed by modulate.
Tensor layer_norm_modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, float eps);
// The gated residual and the next norm + modulation in one pass: sum = x + gate * y (as
// gated_add), normed = layer_norm_modulate(sum, scale, shift, eps); both returned. A block's
// attention residual feeds its feed-forward's norm this way.
struct ResidualAndNorm {
  Tensor sum, normed;
};
ResidualAndNorm gated_add_norm_modulate(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& scale,
                                        const Tensor& shift, float eps);

// ---- sampling (where the latents live) ----
// Classifier-free guidance: uncond + scale * (cond - uncond), in float32 as torch evaluates it.
Tensor guidance_combine(const Tensor& uncond, const Tensor& cond, float scale);
// The flow-match Euler step, in place: latents += (sigma_next - sigma) * velocity, in float32.
void euler_step(Tensor& latents, const Tensor& velocity, float sigma, float sigma_next);
// out[i] = center + scale * u(seed, i) (core/hashed_uniform.h): benchmark weights made where
// they live, with the same bits on every device. CPU: F32; GPU: F32 or BF16 (rounded to nearest
// even, as a conversion on the CPU rounds). scale must be a power of two unless center is 0.
void fill_hashed_uniform(Tensor& out, uint64_t seed, float center, float scale);

// ---- layout (any dtype) ----
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);
Tensor permute(const Tensor& x, const std::vector<int64_t>& order);

}  // namespace paradit::ops
