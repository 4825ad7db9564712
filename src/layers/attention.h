// diffusers' Attention module as SD3 uses it. Without a context it is plain self-attention
// (the MMDiT-X attn2). With one (added_kv_proj_dim set) it is joint attention: image and
// prompt tokens are projected separately, optionally RMS-normalised per head, attended
// together as [image; prompt], and split again (JointAttnProcessor2_0). FLUX's FluxAttention
// is the same module with the prompt first, rotary embeddings and, in single blocks, no to_out.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <utility>

#include "layers/parallel_linear.h"
#include "layers/norms.h"

namespace paradit {

class Attention {
 public:
  struct Config {
    int64_t query_dim = 0;
    int64_t heads = 0;
    int64_t head_dim = 64;
    int64_t out_dim = 0;            // 0: query_dim
    int64_t added_kv_proj_dim = 0;  // 0: no context stream
    bool context_pre_only = false;  // the last MMDiT block: no to_add_out
    std::string qk_norm;            // "" or "rms_norm"
    float eps = 1e-6f;
    bool causal = false;            // CLIP's text encoder masks future tokens
    // FLUX's FluxAttention: the prompt tokens come first ([prompt; image]), and pre_only (the
    // single-stream blocks) has no to_out: the attention output is returned as it is.
    bool context_first = false;
    bool pre_only = false;
    // FLUX's single blocks: the prompt is a second stream through the same to_q/k/v and qk norms
    // (no add_*_proj), so the two attend together without being concatenated.
    bool shared_projection = false;
    // Projection names: diffusers' to_q/to_k/to_v/to_out.0, or transformers' CLIP
    // q_proj/k_proj/v_proj/out_proj.
    enum class Naming { Diffusers, Clip } naming = Naming::Diffusers;
  };
  // Rotary tables ([S, head_dim], f32) over the attended sequence in attention order.
  struct Rotary {
    Tensor cos, sin;
  };
  struct Output {
    Tensor hidden;                 // [B, N, out_dim]; pre_only: [B, N, H*d] in the compute dtype
    std::optional<Tensor> context; // [B, M, ...] when a context was given; not projected
                                   // by to_add_out when context_pre_only
  };

  Attention() = default;
  static Attention load(const LoadContext& ctx, const std::string& prefix, const Config& config);
  // hidden [B, N, query_dim]; context [B, M, added_kv_proj_dim] or null.
  // In a parallel run hidden and context are this rank's rows: the image tokens are sharded
  // over sp x tp and the prompt tokens over tp (Megatron sequence parallelism), so the outputs
  // come back in the same layout. `image_tokens` and `prompt_tokens` are the true lengths (the
  // rest is padding).
  // `rope` rotates q and k after the qk norm: its rows cover the attended tokens in attention
  // order ([prompt; image] when context_first); in a parallel run, the prompt and this rank's
  // image rows.
  Output forward(const Tensor& hidden, const Tensor* context, int64_t image_tokens = -1, int64_t prompt_tokens = -1,
                 const Rotary* rope = nullptr) const;

 private:
  // [B, N, H, d] (a view) -> [B, H, N, d], then the per-head norm if there is one.
  Tensor to_heads(const Tensor& x, const std::optional<RMSNorm>& norm) const;
  // The fused projection of x in `out` dtype, as q, k, v views [B, N, H, d].
  std::array<Tensor, 3> project(const Linear& qkv, const Tensor& x, DType out) const;
  int64_t context_dim() const { return config_.shared_projection ? config_.query_dim : config_.added_kv_proj_dim; }
  Config config_;
  // Heads held by this rank: all of them on one rank; under tp (and Ulysses) a padded slice.
  int64_t local_heads_ = 0;
  ParallelGroups* parallel_ = nullptr;
  Linear qkv_, to_out_;  // qkv_: to_q, to_k, to_v stacked
  std::optional<Linear> add_qkv_, to_add_out_;
  std::optional<RMSNorm> norm_q_, norm_k_, norm_added_q_, norm_added_k_;
};

}  // namespace paradit
