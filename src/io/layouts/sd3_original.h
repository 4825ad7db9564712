// The original SD3 / SD3.5 single-file layout (sd3.5_large.safetensors and friends) seen
// under diffusers names: `model.diffusion_model.joint_blocks.N.x_block.attn.qkv.weight`
// becomes transformer_blocks.N.attn.to_q/to_k/to_v (zero-copy row views of the fused
// tensor), and the final adaLN's (shift, scale) halves are swapped into diffusers' (scale,
// shift) order. The mapping mirrors diffusers' convert_sd3_transformer_checkpoint_to_diffusers.
#pragma once

#include <optional>
#include <memory>
#include <string>

#include "io/layouts/remapped_layout.h"

namespace paradit {

class Sd3OriginalLayout : public RemappedLayout {
 public:
  // The key prefix under which `source` holds an original-layout MMDiT ("model.diffusion_model."
  // or ""), or nothing when it holds none.
  static std::optional<std::string> detect(const WeightSource& source);
  Sd3OriginalLayout(std::shared_ptr<const WeightSource> source, const std::string& prefix);

 private:
  void map_key(const std::string& key, int last_block);
};

}  // namespace paradit
