// The configuration of an SD3 MMDiT (diffusers' SD3Transformer2DModel config), read from a
// config.json, inferred from tensor names and shapes when a single file ships none, or taken
// from a preset for benchmarks.
#pragma once

#include "parallel/auto_config.h"
#include <cstdint>
#include <string>
#include <vector>

#include "io/weight_source.h"

namespace paradit {

struct MMDiTConfig {
  int64_t patch_size = 2;
  int64_t in_channels = 16;
  int64_t out_channels = 16;
  int64_t num_layers = 0;
  int64_t attention_head_dim = 64;
  int64_t num_attention_heads = 0;
  int64_t joint_attention_dim = 4096;
  int64_t caption_projection_dim = 0;
  int64_t pooled_projection_dim = 2048;
  int64_t pos_embed_max_size = 0;
  int64_t sample_size = 128;  // the native latent size: diffusers' default image side is this x the VAE factor
  std::vector<int64_t> dual_attention_layers;  // blocks with the extra image-only attn2
  std::string qk_norm;                         // "" or "rms_norm"

  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }
  bool is_dual(int64_t block) const;
  // Fails with a clear message when the config cannot describe a model we can run.
  void validate() const;
  std::string describe() const;  // multi-line, for `paradit info`

  // diffusers' transformer/config.json.
  static MMDiTConfig from_json_file(const std::string& path);
  // From the tensors of a diffusers-named source (see io/layouts for other layouts).
  static MMDiTConfig infer(const WeightSource& weights);
  // "sd3.5-large", "sd3.5-medium", "sd3-medium": the released models' shapes.
  static MMDiTConfig preset(const std::string& name);
};

// FLOPs of one forward pass (multiply-add = 2) for `batch` samples of `image_tokens` patches
// and `prompt_tokens` prompt tokens: every linear layer plus the attention products.
double mmdit_flops(const MMDiTConfig& config, int64_t image_tokens, int64_t prompt_tokens, int64_t batch);

// What one step of this model moves and computes, for `--parallel auto` (f32 activations, as
// the CPU path keeps them).
StepShape mmdit_step_shape(const MMDiTConfig& config, int64_t latent_h, int64_t latent_w, int64_t prompt_tokens,
                           int64_t batch);

}  // namespace paradit
