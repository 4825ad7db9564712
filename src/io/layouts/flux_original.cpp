#include "io/layouts/flux_original.h"

#include <regex>

#include "core/error.h"

namespace paradit {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

const std::map<std::string, std::string>& global_renames() {
  static const std::map<std::string, std::string> renames = {
      {"img_in", "x_embedder"},
      {"txt_in", "context_embedder"},
      {"time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"},
      {"time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"},
      {"vector_in.in_layer", "time_text_embed.text_embedder.linear_1"},
      {"vector_in.out_layer", "time_text_embed.text_embedder.linear_2"},
      {"guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"},
      {"guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"},
      {"final_layer.linear", "proj_out"},
  };
  return renames;
}

const std::map<std::string, std::string>& double_renames() {
  static const std::map<std::string, std::string> renames = {
      {"img_mod.lin", "norm1.linear"},
      {"txt_mod.lin", "norm1_context.linear"},
      {"img_attn.proj", "attn.to_out.0"},
      {"txt_attn.proj", "attn.to_add_out"},
      {"img_attn.norm.query_norm.scale", "attn.norm_q.weight"},
      {"img_attn.norm.key_norm.scale", "attn.norm_k.weight"},
      {"txt_attn.norm.query_norm.scale", "attn.norm_added_q.weight"},
      {"txt_attn.norm.key_norm.scale", "attn.norm_added_k.weight"},
      {"img_mlp.0", "ff.net.0.proj"},
      {"img_mlp.2", "ff.net.2"},
      {"txt_mlp.0", "ff_context.net.0.proj"},
      {"txt_mlp.2", "ff_context.net.2"},
  };
  return renames;
}

const std::map<std::string, std::string>& single_renames() {
  static const std::map<std::string, std::string> renames = {
      {"modulation.lin", "norm.linear"},
      {"linear2", "proj_out"},
      {"norm.query_norm.scale", "attn.norm_q.weight"},
      {"norm.key_norm.scale", "attn.norm_k.weight"},
  };
  return renames;
}

// `rest` is `from` itself (a full name) or `from` + ".weight"/".bias": the diffusers name.
std::optional<std::string> renamed(const std::string& rest, const std::map<std::string, std::string>& renames) {
  for (const auto& [from, to] : renames) {
    if (rest == from) return to;
    if (starts_with(rest, from + ".")) {
      const std::string tail = rest.substr(from.size());
      if (tail == ".weight" || tail == ".bias") return to + tail;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> FluxOriginalLayout::detect(const WeightSource& source) {
  for (const std::string prefix : {"model.diffusion_model.", ""})
    if (source.has(prefix + "double_blocks.0.img_attn.qkv.weight") || source.has(prefix + "single_blocks.0.linear1.weight"))
      return prefix;
  return std::nullopt;
}

FluxOriginalLayout::FluxOriginalLayout(std::shared_ptr<const WeightSource> source, const std::string& prefix)
    : RemappedLayout(std::move(source), prefix, "original-layout FLUX checkpoint") {
  for (const auto& key : source_->names())
    if (starts_with(key, prefix_)) map_key(key);
  PD_CHECK(map_.count("x_embedder.weight"), "no img_in.weight under '", prefix_,
           "': not an original-layout FLUX checkpoint");
}

void FluxOriginalLayout::map_key(const std::string& key) {
  const std::string local = key.substr(prefix_.size());
  if (auto to = renamed(local, global_renames())) {
    direct(*to, key);
    return;
  }
  for (const char* kind : {"weight", "bias"}) {
    if (local == std::string("final_layer.adaLN_modulation.1.") + kind) {
      swapped(std::string("norm_out.linear.") + kind, key);
      return;
    }
  }
  static const std::regex block_re(R"((double|single)_blocks\.(\d{1,4})\.(.*))");
  std::smatch m;
  if (!std::regex_match(local, m, block_re)) return;  // not part of the transformer
  const bool dbl = m[1] == "double";
  const std::string index = m[2], rest = m[3];
  const std::string out = (dbl ? "transformer_blocks." : "single_transformer_blocks.") + index + ".";
  static const std::regex fused_re(R"((img_attn\.qkv|txt_attn\.qkv|linear1)\.(weight|bias))");
  if (std::regex_match(rest, m, fused_re)) {
    const std::string which = m[1], kind = m[2];
    const bool linear1 = which == "linear1";
    if (linear1 == dbl) return;  // linear1 belongs to single blocks, qkv to double blocks
    static const char* const img[] = {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"};
    static const char* const txt[] = {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"};
    // qkv: three equal parts; linear1: q, k, v of D rows each and the MLP's 4D rows (7D in all).
    for (int part = 0; part < (linear1 ? 4 : 3); ++part) {
      const std::string name = which == "txt_attn.qkv" ? txt[part] : img[part];
      rows(out + name + "." + kind, key, linear1 ? 7 : 3, part, linear1 && part == 3 ? 7 : part + 1);
    }
    return;
  }
  if (auto to = renamed(rest, dbl ? double_renames() : single_renames())) direct(out + *to, key);
}

}  // namespace paradit
