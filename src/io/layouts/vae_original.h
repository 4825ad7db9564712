// The original (LDM / SAI) layout of the SD3 VAE, as single files carry it under
// `first_stage_model.`: encoder.down.N.block.M, mid.attn_1 with 1x1-conv q/k/v, decoder.up.N
// counted from the bottom. Seen under diffusers' AutoencoderKL names, mirroring diffusers'
// convert_ldm_vae_checkpoint; the attention's [C, C, 1, 1] weights become [C, C] views.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "io/weight_source.h"

namespace paradit {

class VaeOriginalLayout : public WeightSource {
 public:
  // The prefix under which `source` holds an original-layout VAE, if it does.
  static std::optional<std::string> detect(const WeightSource& source);
  VaeOriginalLayout(std::shared_ptr<const WeightSource> source, const std::string& prefix);

  bool has(const std::string& name) const override { return map_.count(name) != 0; }
  Tensor get(const std::string& name) const override;
  std::vector<std::string> names() const override;
  std::string where(const std::string& name) const override;
  bool pages_droppable() const override { return source_->pages_droppable(); }

 private:
  struct Recipe {
    std::string source;
    bool squeeze = false;  // [C, C, 1, 1] conv weight -> [C, C] linear weight
  };
  std::shared_ptr<const WeightSource> source_;
  std::map<std::string, Recipe> map_;
};

}  // namespace paradit
