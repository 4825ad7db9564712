// Finding a FLUX.1 transformer's weights and config: a diffusers pipeline folder (uses
// transformer/), a transformer folder (config.json + shards), or an original single file
// (BFL's flux1-dev.safetensors layout, bf16 or float8_e4m3fn, optionally under
// model.diffusion_model.), whose config comes from `config_json` when given, else from its shapes.
#pragma once

#include <memory>
#include <string>

#include "io/weight_source.h"
#include "models/flux/config.h"

namespace paradit {

struct FluxWeights {
  std::shared_ptr<const WeightSource> source;  // tensors by diffusers name
  FluxConfig config;
  std::string layout;  // "diffusers" or "original single file"
  bool config_inferred = false;
};

// True when `path` holds a FLUX transformer (its config names FluxTransformer2DModel, or its
// tensors have single_transformer_blocks): model detection from the files, not the name.
bool is_flux_transformer(const std::string& path);
FluxWeights open_flux_weights(const std::string& path, const std::string& config_json = "");

}  // namespace paradit
