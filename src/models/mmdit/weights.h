// Finding an SD3 transformer's weights and config wherever a user points: a diffusers
// pipeline folder (uses transformer/), a transformer folder (config.json + shards), a
// diffusers-named .safetensors, or an original single file (model.diffusion_model.*), whose
// config is inferred from the tensors.
#pragma once

#include <memory>
#include <string>

#include "models/mmdit/config.h"

namespace paradit {

struct MMDiTWeights {
  std::shared_ptr<const WeightSource> source;  // tensors by diffusers name
  MMDiTConfig config;
  std::string layout;  // "diffusers" or "original single file"
  bool config_inferred = false;
};

MMDiTWeights open_mmdit_weights(const std::string& path);

}  // namespace paradit
