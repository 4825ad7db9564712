#include "models/vae/config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"
#include "io/shape_inference.h"

namespace paradit {

void VaeConfig::validate() const {
  // Bounded well above any released VAE, so a hostile config cannot ask for absurd sizes or shift
  // the downscale factor out of range.
  PD_CHECK(!block_out_channels.empty() && block_out_channels.size() <= 8 && layers_per_block > 0 &&
               layers_per_block <= 16 && latent_channels > 0 && latent_channels <= 1024 && norm_num_groups > 0 &&
               in_channels > 0 && in_channels <= 64 && out_channels > 0 && out_channels <= 64,
           "VAE config: bad sizes");
  for (int64_t c : block_out_channels)
    PD_CHECK(c > 0 && c <= 16384 && c % norm_num_groups == 0, "VAE config: ", c, " channels do not split into ", norm_num_groups,
             " groups");
  PD_CHECK(scaling_factor != 0.f && std::isfinite(scaling_factor) && std::isfinite(shift_factor),
           "VAE config: scaling_factor must be finite and not 0, shift_factor finite");
}

VaeConfig VaeConfig::from_json_file(const std::string& path) try {
  const auto j = read_json_file(path);
  VaeConfig c;
  auto get = [&](const char* key, int64_t& field) {
    if (j.contains(key) && j[key].is_number_integer()) field = j[key].get<int64_t>();
  };
  get("in_channels", c.in_channels);
  get("out_channels", c.out_channels);
  get("layers_per_block", c.layers_per_block);
  get("latent_channels", c.latent_channels);
  get("norm_num_groups", c.norm_num_groups);
  get("sample_size", c.sample_size);
  if (j.contains("block_out_channels")) {
    // Checked element by element: a float there (even a huge one) is an error, not a conversion.
    PD_CHECK(j["block_out_channels"].is_array(), path, ": 'block_out_channels' must be a list of integers");
    c.block_out_channels.clear();
    for (const auto& v : j["block_out_channels"]) {
      PD_CHECK(v.is_number_integer(), path, ": 'block_out_channels' must hold integers");
      c.block_out_channels.push_back(v.get<int64_t>());
    }
  }
  if (j.contains("scaling_factor") && j["scaling_factor"].is_number()) c.scaling_factor = j["scaling_factor"].get<float>();
  c.shift_factor = j.contains("shift_factor") && j["shift_factor"].is_number() ? j["shift_factor"].get<float>() : 0.f;
  c.mid_block_add_attention = j.value("mid_block_add_attention", true);
  PD_CHECK(!j.value("use_quant_conv", false) && !j.value("use_post_quant_conv", false), path,
           ": quant convs are not supported (SD3's VAE has none)");
  for (const auto& t : j.value("down_block_types", std::vector<std::string>{}))
    PD_CHECK(t == "DownEncoderBlock2D", path, ": unsupported down block '", t, "'");
  for (const auto& t : j.value("up_block_types", std::vector<std::string>{}))
    PD_CHECK(t == "UpDecoderBlock2D", path, ": unsupported up block '", t, "'");
  c.validate();
  return c;
} catch (const nlohmann::json::exception& e) {
  json_type_error(path, e);
}

VaeConfig VaeConfig::infer(const WeightSource& w) {
  auto dim = [&](const std::string& name, int64_t d) { return inferred_dim(w, name, d, "VAE"); };
  VaeConfig c;
  c.latent_channels = dim("decoder.conv_in.weight", 1);
  c.out_channels = dim("decoder.conv_out.weight", 0);
  c.block_out_channels.clear();
  for (int i = 0; i <= 8 && w.has("decoder.up_blocks." + std::to_string(i) + ".resnets.0.conv1.weight"); ++i)
    c.block_out_channels.insert(c.block_out_channels.begin(),
                                dim("decoder.up_blocks." + std::to_string(i) + ".resnets.0.conv2.weight", 0));
  int64_t resnets = 0;
  while (resnets <= 16 && w.has("decoder.up_blocks.0.resnets." + std::to_string(resnets) + ".conv1.weight")) ++resnets;
  c.layers_per_block = resnets - 1;
  if (w.has("encoder.conv_in.weight")) c.in_channels = dim("encoder.conv_in.weight", 1);
  c.mid_block_add_attention = w.has("decoder.mid_block.attentions.0.to_q.weight");
  if (c.latent_channels != 16) {  // not SD3's VAE: no known scaling; leave latents as they are
    c.scaling_factor = 1.f;
    c.shift_factor = 0.f;
  }
  c.validate();
  return c;
}

}  // namespace paradit
