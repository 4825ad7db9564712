// AutoencoderKL's config (diffusers vae/config.json), with SD3's values as defaults.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/weight_source.h"

namespace paradit {

struct VaeConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  std::vector<int64_t> block_out_channels = {128, 256, 512, 512};
  int64_t layers_per_block = 2;
  int64_t latent_channels = 16;
  int64_t norm_num_groups = 32;
  float scaling_factor = 1.5305f;
  float shift_factor = 0.0609f;
  bool mid_block_add_attention = true;
  int64_t sample_size = 1024;  // the tile size of tiled decoding, in pixels

  void validate() const;
  int64_t downscale() const { return int64_t{1} << (block_out_channels.size() - 1); }
  static VaeConfig from_json_file(const std::string& path);
  // From the tensors of a diffusers-named source (single files ship no config). GroupNorm's
  // group count is not visible in the weights: 32, as in every SD VAE; scaling and shift are
  // SD3's when there are 16 latent channels.
  static VaeConfig infer(const WeightSource& weights);
};

}  // namespace paradit
