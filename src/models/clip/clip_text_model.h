// CLIPTextModelWithProjection (transformers), as SD3 uses it for CLIP-L and CLIP-G: token +
// position embeddings, pre-norm causal transformer layers, the final layer norm, the pooled
// state at the end-of-text token, and the text projection. Every layer's output is kept,
// because SD3 conditions on hidden_states[-2] (or further back with clip_skip).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "layers/attention.h"
#include "layers/linear.h"
#include "layers/norms.h"

namespace paradit {

struct ClipTextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t max_position_embeddings = 77;
  int64_t projection_dim = 0;  // 0: no text_projection
  std::string hidden_act = "quick_gelu";
  float layer_norm_eps = 1e-5f;
  int64_t eos_token_id = 2;  // 2 is the legacy value: pool at argmax(ids)

  void validate() const;
  std::string describe() const;
  static ClipTextConfig from_json_file(const std::string& path);
  // From tensor shapes (single files ship no config). hidden_act: quick_gelu for the 768-wide
  // OpenAI CLIP-L, gelu otherwise (OpenCLIP bigG), as the released SD3 configs say.
  static ClipTextConfig infer(const WeightSource& weights);
};

class ClipTextModel {
 public:
  struct Output {
    std::vector<Tensor> hidden_states;  // embeddings, then each layer: num_layers + 1 of [B, T, D]
    Tensor last_hidden_state;           // after the final layer norm
    Tensor pooled;                      // [B, D] at the end-of-text token
    std::optional<Tensor> text_embeds;  // [B, projection_dim]
  };
  ClipTextModel() = default;
  static ClipTextModel load(const LoadContext& ctx, const ClipTextConfig& config);
  // ids: B rows of T token ids each (T <= max_position_embeddings).
  Output forward(const std::vector<std::vector<int32_t>>& ids) const;
  const ClipTextConfig& config() const { return config_; }

 private:
  struct Layer {
    LayerNorm norm1, norm2;
    Attention attn;
    Linear fc1, fc2;
  };
  ClipTextConfig config_;
  Tensor token_embedding_, position_embedding_;
  std::vector<Layer> layers_;
  LayerNorm final_norm_;
  std::optional<Linear> projection_;
};

}  // namespace paradit
