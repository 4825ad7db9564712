#include "io/layouts/sd3_original.h"

#include <algorithm>
#include <regex>

#include "core/error.h"

namespace paradit {
namespace {

const char* const kBlockProbe = "joint_blocks.0.x_block.attn.qkv.weight";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Per-block renames that need no slicing: original suffix -> diffusers suffix.
const std::map<std::string, std::string>& block_renames() {
  static const std::map<std::string, std::string> renames = {
      {"x_block.attn.ln_q.weight", "attn.norm_q.weight"},
      {"x_block.attn.ln_k.weight", "attn.norm_k.weight"},
      {"context_block.attn.ln_q.weight", "attn.norm_added_q.weight"},
      {"context_block.attn.ln_k.weight", "attn.norm_added_k.weight"},
      {"x_block.attn2.ln_q.weight", "attn2.norm_q.weight"},
      {"x_block.attn2.ln_k.weight", "attn2.norm_k.weight"},
      {"x_block.attn.proj", "attn.to_out.0"},
      {"context_block.attn.proj", "attn.to_add_out"},
      {"x_block.attn2.proj", "attn2.to_out.0"},
      {"x_block.adaLN_modulation.1", "norm1.linear"},
      {"context_block.adaLN_modulation.1", "norm1_context.linear"},
      {"x_block.mlp.fc1", "ff.net.0.proj"},
      {"x_block.mlp.fc2", "ff.net.2"},
      {"context_block.mlp.fc1", "ff_context.net.0.proj"},
      {"context_block.mlp.fc2", "ff_context.net.2"},
  };
  return renames;
}

const std::map<std::string, std::string>& global_renames() {
  static const std::map<std::string, std::string> renames = {
      {"pos_embed", "pos_embed.pos_embed"},
      {"x_embedder.proj.weight", "pos_embed.proj.weight"},
      {"x_embedder.proj.bias", "pos_embed.proj.bias"},
      {"t_embedder.mlp.0.weight", "time_text_embed.timestep_embedder.linear_1.weight"},
      {"t_embedder.mlp.0.bias", "time_text_embed.timestep_embedder.linear_1.bias"},
      {"t_embedder.mlp.2.weight", "time_text_embed.timestep_embedder.linear_2.weight"},
      {"t_embedder.mlp.2.bias", "time_text_embed.timestep_embedder.linear_2.bias"},
      {"y_embedder.mlp.0.weight", "time_text_embed.text_embedder.linear_1.weight"},
      {"y_embedder.mlp.0.bias", "time_text_embed.text_embedder.linear_1.bias"},
      {"y_embedder.mlp.2.weight", "time_text_embed.text_embedder.linear_2.weight"},
      {"y_embedder.mlp.2.bias", "time_text_embed.text_embedder.linear_2.bias"},
      {"context_embedder.weight", "context_embedder.weight"},
      {"context_embedder.bias", "context_embedder.bias"},
      {"final_layer.linear.weight", "proj_out.weight"},
      {"final_layer.linear.bias", "proj_out.bias"},
  };
  return renames;
}

}  // namespace

std::optional<std::string> Sd3OriginalLayout::detect(const WeightSource& source) {
  for (const std::string prefix : {"model.diffusion_model.", ""})
    if (source.has(prefix + kBlockProbe)) return prefix;
  return std::nullopt;
}

Sd3OriginalLayout::Sd3OriginalLayout(std::shared_ptr<const WeightSource> source, const std::string& prefix)
    : RemappedLayout(std::move(source), prefix, "original-layout checkpoint") {
  static const std::regex block_re(R"(joint_blocks\.(\d+)\..*)");
  int last_block = -1;
  std::smatch m;
  const auto keys = source_->names();
  for (const auto& key : keys) {
    if (!starts_with(key, prefix_)) continue;
    const std::string local = key.substr(prefix_.size());
    if (std::regex_match(local, m, block_re)) last_block = std::max(last_block, std::stoi(m[1]));
  }
  PD_CHECK(last_block >= 0, "no joint_blocks under '", prefix_, "': not an original-layout SD3 checkpoint");
  for (const auto& key : keys)
    if (starts_with(key, prefix_)) map_key(key, last_block);
}

void Sd3OriginalLayout::map_key(const std::string& key, int last_block) {
  const std::string local = key.substr(prefix_.size());
  if (auto it = global_renames().find(local); it != global_renames().end()) {
    direct(it->second, key);
    return;
  }
  for (const char* kind : {"weight", "bias"}) {
    if (local == std::string("final_layer.adaLN_modulation.1.") + kind) {
      swapped(std::string("norm_out.linear.") + kind, key);
      return;
    }
  }
  static const std::regex block_re(R"(joint_blocks\.(\d+)\.(.*))");
  std::smatch m;
  if (!std::regex_match(local, m, block_re)) return;  // not part of the MMDiT (e.g. the VAE)
  const int block = std::stoi(m[1]);
  const std::string rest = m[2];
  const std::string out = "transformer_blocks." + std::to_string(block) + ".";
  static const std::regex qkv_re(R"((x_block\.attn|context_block\.attn|x_block\.attn2)\.qkv\.(weight|bias))");
  if (std::regex_match(rest, m, qkv_re)) {
    const std::string which = m[1], kind = m[2];
    for (int part = 0; part < 3; ++part) {
      const char qkv = "qkv"[part];
      std::string name;
      if (which == "x_block.attn") name = str_cat("attn.to_", qkv);
      else if (which == "context_block.attn") name = str_cat("attn.add_", qkv, "_proj");
      else name = str_cat("attn2.to_", qkv);
      rows(out + name + "." + kind, key, 3, part, part + 1);
    }
    return;
  }
  for (const auto& [from, to] : block_renames()) {
    if (!starts_with(rest, from)) continue;
    const std::string tail = rest.substr(from.size());  // "", ".weight" or ".bias"
    const bool swap = block == last_block && from == "context_block.adaLN_modulation.1";
    if (swap) swapped(out + to + tail, key);
    else direct(out + to + tail, key);
    return;
  }
}

}  // namespace paradit
