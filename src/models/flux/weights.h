// Finding a FLUX.1 transformer's weights and config: a diffusers pipeline folder (uses
// transformer/) or a transformer folder (config.json + shards).
#pragma once

#include <memory>
#include <string>

#include "io/weight_source.h"
#include "models/flux/config.h"

namespace paradit {

struct FluxWeights {
  std::shared_ptr<const WeightSource> source;  // tensors by diffusers name
  FluxConfig config;
};

// True when `path` holds a FLUX transformer (its config names FluxTransformer2DModel, or its
// tensors have single_transformer_blocks): model detection from the files, not the name.
bool is_flux_transformer(const std::string& path);
FluxWeights open_flux_weights(const std::string& path);

}  // namespace paradit
