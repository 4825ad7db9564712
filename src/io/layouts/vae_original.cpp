#include "io/layouts/vae_original.h"

#include <regex>

#include "core/error.h"

namespace paradit {
namespace {

const char* const kProbe = "decoder.mid.block_1.norm1.weight";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string resnet_part(const std::string& rest) {
  return starts_with(rest, "nin_shortcut") ? "conv_shortcut" + rest.substr(12) : rest;
}

}  // namespace

std::optional<std::string> VaeOriginalLayout::detect(const WeightSource& source) {
  for (const std::string prefix : {"first_stage_model.", "vae.", ""})
    if (source.has(prefix + kProbe)) return prefix;
  return std::nullopt;
}

VaeOriginalLayout::VaeOriginalLayout(std::shared_ptr<const WeightSource> source, const std::string& prefix)
    : source_(std::move(source)) {
  static const std::regex up_re(R"(decoder\.up\.(\d+)\.(.*))");
  static const std::regex down_re(R"(encoder\.down\.(\d+)\.(.*))");
  static const std::regex block_re(R"(block\.(\d+)\.(.*))");
  static const std::regex mid_re(R"((encoder|decoder)\.mid\.(block_1|block_2|attn_1)\.(.*))");
  static const std::map<std::string, std::string> attn = {
      {"norm", "group_norm"}, {"q", "to_q"}, {"k", "to_k"}, {"v", "to_v"}, {"proj_out", "to_out.0"}};
  int up_blocks = 0;
  std::smatch m;
  std::vector<std::string> keys;
  for (const auto& k : source_->names())
    if (starts_with(k, prefix)) keys.push_back(k);
  for (const auto& k : keys) {
    const std::string local = k.substr(prefix.size());
    if (std::regex_match(local, m, up_re)) up_blocks = std::max(up_blocks, std::stoi(m[1]) + 1);
  }
  for (const auto& key : keys) {
    const std::string local = key.substr(prefix.size());
    std::smatch b;
    if (std::regex_match(local, m, down_re)) {
      const std::string rest = m[2], block = "encoder.down_blocks." + std::string(m[1]);
      if (std::regex_match(rest, b, block_re)) map_[block + ".resnets." + std::string(b[1]) + "." + resnet_part(b[2])] = {key};
      else if (starts_with(rest, "downsample.")) map_[block + ".downsamplers.0." + rest.substr(11)] = {key};
    } else if (std::regex_match(local, m, up_re)) {
      const std::string rest = m[2];
      const std::string block = "decoder.up_blocks." + std::to_string(up_blocks - 1 - std::stoi(m[1]));
      if (std::regex_match(rest, b, block_re)) map_[block + ".resnets." + std::string(b[1]) + "." + resnet_part(b[2])] = {key};
      else if (starts_with(rest, "upsample.")) map_[block + ".upsamplers.0." + rest.substr(9)] = {key};
    } else if (std::regex_match(local, m, mid_re)) {
      const std::string side = m[1], part = m[2], rest = m[3];
      if (part == "attn_1") {
        const auto dot = rest.find('.');
        const auto it = attn.find(rest.substr(0, dot));
        if (it == attn.end()) continue;
        const std::string kind = rest.substr(dot + 1);
        map_[side + ".mid_block.attentions.0." + it->second + "." + kind] = {key, kind == "weight" && it->first != "norm"};
      } else {
        map_[side + ".mid_block.resnets." + (part == "block_1" ? "0." : "1.") + resnet_part(rest)] = {key};
      }
    } else if (std::regex_match(local, m, std::regex(R"((encoder|decoder)\.norm_out\.(.*))"))) {
      map_[std::string(m[1]) + ".conv_norm_out." + std::string(m[2])] = {key};
    } else if (std::regex_match(local, m, std::regex(R"((encoder|decoder)\.(conv_in|conv_out)\.(.*))"))) {
      map_[local] = {key};
    }
  }
  PD_CHECK(!map_.empty(), "no VAE tensors under '", prefix, "'");
}

Tensor VaeOriginalLayout::get(const std::string& name) const {
  auto it = map_.find(name);
  PD_CHECK(it != map_.end(), "original-layout VAE has no tensor for '", name, "'");
  const Tensor t = source_->get(it->second.source);
  if (!it->second.squeeze) return t;
  PD_CHECK(t.dim() == 4 && t.size(2) == 1 && t.size(3) == 1, source_->where(it->second.source), " has shape ",
           shape_str(t.shape()), ", not a 1x1 convolution");
  return t.reshape({t.size(0), t.size(1)});
}

std::vector<std::string> VaeOriginalLayout::names() const {
  std::vector<std::string> out;
  for (const auto& [name, recipe] : map_) out.push_back(name);
  return out;
}

std::string VaeOriginalLayout::where(const std::string& name) const {
  auto it = map_.find(name);
  if (it == map_.end()) return str_cat("original-layout VAE: tensor '", name, "'");
  return str_cat(source_->where(it->second.source), " (as '", name, "')");
}

}  // namespace paradit
