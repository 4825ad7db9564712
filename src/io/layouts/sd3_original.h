// The original SD3 / SD3.5 single-file layout (sd3.5_large.safetensors and friends) seen
// under diffusers names: `model.diffusion_model.joint_blocks.N.x_block.attn.qkv.weight`
// becomes transformer_blocks.N.attn.to_q/to_k/to_v (zero-copy row views of the fused
// tensor), and the final adaLN's (shift, scale) halves are swapped into diffusers' (scale,
// shift) order. The mapping mirrors diffusers' convert_sd3_transformer_checkpoint_to_diffusers.
#pragma once

#include <map>
#include <optional>
#include <memory>
#include <string>

#include "io/weight_source.h"

namespace paradit {

class Sd3OriginalLayout : public WeightSource {
 public:
  // The key prefix under which `source` holds an original-layout MMDiT ("model.diffusion_model."
  // or ""), or nothing when it holds none.
  static std::optional<std::string> detect(const WeightSource& source);
  Sd3OriginalLayout(std::shared_ptr<const WeightSource> source, const std::string& prefix);

  bool has(const std::string& name) const override { return map_.count(name) != 0; }
  Tensor get(const std::string& name) const override;
  std::vector<std::string> names() const override;
  std::string where(const std::string& name) const override;
  void release_pages() const override { source_->release_pages(); }
  bool pages_droppable() const override { return source_->pages_droppable(); }

 private:
  enum class Kind { Direct, Chunk, SwapHalves };
  struct Recipe {
    std::string source;
    Kind kind = Kind::Direct;
    int part = 0;  // for Chunk: which third of a fused qkv
  };
  void map_key(const std::string& key, int last_block);
  std::shared_ptr<const WeightSource> source_;
  std::string prefix_;
  std::map<std::string, Recipe> map_;
};

}  // namespace paradit
