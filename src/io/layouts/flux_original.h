// The original FLUX.1 single-file layout (Black Forest Labs' flux1-dev.safetensors,
// flux1-schnell.safetensors, and ComfyUI's copies under `model.diffusion_model.`, also in
// float8_e4m3fn) seen under diffusers names: double_blocks.N.{img,txt}_attn.qkv become
// transformer_blocks.N.attn.to_q/k/v and add_q/k/v_proj, single_blocks.N.linear1 becomes
// single_transformer_blocks.N.attn.to_q/k/v and proj_mlp (all zero-copy row views), and the
// final adaLN's (shift, scale) halves are swapped into diffusers' (scale, shift) order. The
// mapping mirrors diffusers' convert_flux_transformer_checkpoint_to_diffusers.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "io/layouts/remapped_layout.h"

namespace paradit {

class FluxOriginalLayout : public RemappedLayout {
 public:
  // The key prefix under which `source` holds a BFL-layout FLUX transformer
  // ("model.diffusion_model." or ""), or nothing when it holds none.
  static std::optional<std::string> detect(const WeightSource& source);
  FluxOriginalLayout(std::shared_ptr<const WeightSource> source, const std::string& prefix);

 private:
  void map_key(const std::string& key);
};

}  // namespace paradit
