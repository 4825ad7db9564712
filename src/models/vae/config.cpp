#include "models/vae/config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace paradit {

void VaeConfig::validate() const {
  PD_CHECK(!block_out_channels.empty() && layers_per_block > 0 && latent_channels > 0 && norm_num_groups > 0,
           "VAE config: bad sizes");
  for (int64_t c : block_out_channels)
    PD_CHECK(c > 0 && c % norm_num_groups == 0, "VAE config: ", c, " channels do not split into ", norm_num_groups,
             " groups");
  PD_CHECK(scaling_factor != 0.f, "VAE config: scaling_factor must not be 0");
}

VaeConfig VaeConfig::from_json_file(const std::string& path) {
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
  if (j.contains("block_out_channels")) c.block_out_channels = j["block_out_channels"].get<std::vector<int64_t>>();
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
}

VaeConfig VaeConfig::infer(const WeightSource& w) {
  auto shape = [&](const std::string& name) {
    PD_CHECK(w.has(name), "cannot infer the VAE config: missing tensor '", name, "'");
    return w.get(name).shape();
  };
  VaeConfig c;
  c.latent_channels = shape("decoder.conv_in.weight").at(1);
  c.out_channels = shape("decoder.conv_out.weight").at(0);
  c.block_out_channels.clear();
  for (int i = 0; w.has("decoder.up_blocks." + std::to_string(i) + ".resnets.0.conv1.weight"); ++i)
    c.block_out_channels.insert(c.block_out_channels.begin(),
                                shape("decoder.up_blocks." + std::to_string(i) + ".resnets.0.conv2.weight").at(0));
  int64_t resnets = 0;
  while (w.has("decoder.up_blocks.0.resnets." + std::to_string(resnets) + ".conv1.weight")) ++resnets;
  c.layers_per_block = resnets - 1;
  if (w.has("encoder.conv_in.weight")) c.in_channels = shape("encoder.conv_in.weight").at(1);
  c.mid_block_add_attention = w.has("decoder.mid_block.attentions.0.to_q.weight");
  if (c.latent_channels != 16) {  // not SD3's VAE: no known scaling; leave latents as they are
    c.scaling_factor = 1.f;
    c.shift_factor = 0.f;
  }
  c.validate();
  return c;
}

}  // namespace paradit
