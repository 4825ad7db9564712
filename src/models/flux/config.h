// The configuration of a FLUX.1 transformer (diffusers' FluxTransformer2DModel config), read
// from a config.json or taken from a preset for benchmarks.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "io/weight_source.h"
#include "parallel/auto_config.h"

namespace paradit {

struct FluxConfig {
  int64_t patch_size = 1;
  int64_t in_channels = 64;   // 16 latent channels packed 2 x 2
  int64_t out_channels = 64;  // config.json's null means in_channels
  int64_t num_layers = 19;         // double-stream blocks
  int64_t num_single_layers = 38;  // single-stream blocks
  int64_t attention_head_dim = 128;
  int64_t num_attention_heads = 24;
  int64_t joint_attention_dim = 4096;
  int64_t pooled_projection_dim = 768;
  bool guidance_embeds = false;  // FLUX.1 [dev]: a guidance embedding; [schnell]: none
  std::array<int64_t, 3> axes_dims_rope = {16, 56, 56};

  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }
  int64_t mlp_hidden_dim() const { return 4 * inner_dim(); }
  // Fails with a clear message when the config cannot describe a model we can run.
  void validate() const;
  std::string describe() const;  // multi-line, for `paradit info`

  static FluxConfig from_json_file(const std::string& path);
  // From the tensors of a diffusers-named source (the BFL layout maps onto it). The rope axes
  // are FLUX.1's (16, 56, 56) for head size 128; other head sizes need the config.json.
  static FluxConfig infer(const WeightSource& weights);
  // "flux.1-dev", "flux.1-schnell": the released models' shapes.
  static FluxConfig preset(const std::string& name);
};

// FLOPs of one forward pass (multiply-add = 2) for `batch` samples of `image_tokens` packed
// latent tokens and `text_tokens` T5 tokens: every linear layer plus the attention products.
double flux_flops(const FluxConfig& config, int64_t image_tokens, int64_t text_tokens, int64_t batch);

// What one step moves and computes, for `--parallel auto`: the cost model's block (q, k, v, out
// and a 4x MLP per token) fits both FLUX block kinds, so every block counts as one layer.
// latent_h, latent_w: the VAE latent (packed 2x2 into tokens); batch 1 (2 with true CFG).
StepShape flux_step_shape(const FluxConfig& config, int64_t latent_h, int64_t latent_w, int64_t text_tokens,
                          int64_t batch);

}  // namespace paradit
