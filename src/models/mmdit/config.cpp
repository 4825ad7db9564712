#include "models/mmdit/config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "io/json_file.h"
#include "io/shape_inference.h"

namespace paradit {
namespace {

int64_t dim_of(const WeightSource& w, const std::string& name, int64_t d) {
  return inferred_dim(w, name, d, "MMDiT");
}

}  // namespace

bool MMDiTConfig::is_dual(int64_t block) const {
  return std::find(dual_attention_layers.begin(), dual_attention_layers.end(), block) != dual_attention_layers.end();
}

void MMDiTConfig::validate() const {
  PD_CHECK(patch_size > 0 && in_channels > 0 && out_channels > 0, "MMDiT config: bad patch size or channels");
  PD_CHECK(num_layers > 0 && num_attention_heads > 0 && attention_head_dim > 0, "MMDiT config: bad depth or heads");
  // Far above any released model, so nothing downstream multiplies its way into overflow.
  PD_CHECK(num_layers <= 1000 && num_attention_heads <= 1024 && attention_head_dim <= 1024 && patch_size <= 16 &&
               in_channels <= 1024 && out_channels <= 1024 && joint_attention_dim <= 65536 &&
               pooled_projection_dim <= 65536 && pos_embed_max_size <= 4096,
           "MMDiT config: a size is out of range");
  PD_CHECK(joint_attention_dim > 0 && pooled_projection_dim > 0 && pos_embed_max_size > 0,
           "MMDiT config: bad joint, pooled or pos_embed_max_size");
  PD_CHECK(caption_projection_dim == inner_dim(), "MMDiT config: caption_projection_dim ", caption_projection_dim,
           " must equal heads x head_dim = ", inner_dim());
  PD_CHECK(qk_norm.empty() || qk_norm == "rms_norm", "MMDiT config: unsupported qk_norm '", qk_norm, "'");
  for (int64_t b : dual_attention_layers)
    PD_CHECK(b >= 0 && b < num_layers, "MMDiT config: dual attention layer ", b, " is outside 0..", num_layers - 1);
}

std::string MMDiTConfig::describe() const {
  std::ostringstream out;
  out << "  num_layers " << num_layers << ", heads " << num_attention_heads << " x " << attention_head_dim
      << " (inner dim " << inner_dim() << ")\n"
      << "  patch_size " << patch_size << ", in/out channels " << in_channels << "/" << out_channels
      << ", pos_embed_max_size " << pos_embed_max_size << "\n"
      << "  joint_attention_dim " << joint_attention_dim << ", caption_projection_dim " << caption_projection_dim
      << ", pooled_projection_dim " << pooled_projection_dim << "\n"
      << "  qk_norm " << (qk_norm.empty() ? "none" : qk_norm) << ", dual_attention_layers ";
  if (dual_attention_layers.empty()) out << "none";
  for (size_t i = 0; i < dual_attention_layers.size(); ++i) out << (i ? "," : "") << dual_attention_layers[i];
  return out.str();
}

MMDiTConfig MMDiTConfig::from_json_file(const std::string& path) try {
  const auto j = read_json_file(path);
  MMDiTConfig c;
  auto get_int = [&](const char* key, int64_t& field) {
    if (!j.contains(key)) return;
    PD_CHECK(j[key].is_number_integer(), path, ": '", key, "' must be an integer");
    field = j[key].get<int64_t>();
  };
  get_int("patch_size", c.patch_size);
  get_int("in_channels", c.in_channels);
  c.out_channels = c.in_channels;
  if (j.contains("out_channels") && !j["out_channels"].is_null()) get_int("out_channels", c.out_channels);
  get_int("num_layers", c.num_layers);
  get_int("attention_head_dim", c.attention_head_dim);
  get_int("num_attention_heads", c.num_attention_heads);
  get_int("joint_attention_dim", c.joint_attention_dim);
  get_int("caption_projection_dim", c.caption_projection_dim);
  get_int("pooled_projection_dim", c.pooled_projection_dim);
  get_int("pos_embed_max_size", c.pos_embed_max_size);
  get_int("sample_size", c.sample_size);
  PD_CHECK(c.sample_size > 0 && c.sample_size <= 4096, path, ": 'sample_size' must be in 1..4096");
  if (j.contains("dual_attention_layers") && j["dual_attention_layers"].is_array())
    for (const auto& v : j["dual_attention_layers"]) {
      PD_CHECK(v.is_number_integer(), path, ": dual_attention_layers must hold integers");
      c.dual_attention_layers.push_back(v.get<int64_t>());
    }
  if (j.contains("qk_norm") && j["qk_norm"].is_string()) c.qk_norm = j["qk_norm"].get<std::string>();
  c.validate();
  return c;
} catch (const nlohmann::json::exception& e) {
  json_type_error(path, e);
}

MMDiTConfig MMDiTConfig::infer(const WeightSource& w) {
  MMDiTConfig c;
  const std::string proj = "pos_embed.proj.weight";  // [D, C, p, p]
  const int64_t D = dim_of(w, proj, 0);
  c.in_channels = dim_of(w, proj, 1);
  c.patch_size = dim_of(w, proj, 2);
  const int64_t table = dim_of(w, "pos_embed.pos_embed", 1);
  c.pos_embed_max_size = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(table))));
  PD_CHECK(c.pos_embed_max_size * c.pos_embed_max_size == table, "pos_embed.pos_embed holds ", table,
           " positions, not a square grid");
  c.joint_attention_dim = dim_of(w, "context_embedder.weight", 1);
  c.caption_projection_dim = dim_of(w, "context_embedder.weight", 0);
  c.pooled_projection_dim = dim_of(w, "time_text_embed.text_embedder.linear_1.weight", 1);
  const int64_t out_rows = dim_of(w, "proj_out.weight", 0);
  PD_CHECK(c.patch_size <= 16 && out_rows % (c.patch_size * c.patch_size) == 0, w.where("proj_out.weight"), ": ",
           out_rows, " rows, not a multiple of patch_size^2 = ", c.patch_size * c.patch_size);
  c.out_channels = out_rows / (c.patch_size * c.patch_size);
  static const std::regex block_re(R"(transformer_blocks\.(\d+)\.(.*))");
  std::smatch m;
  int64_t last = -1;
  for (const auto& name : w.names()) {
    if (!std::regex_match(name, m, block_re)) continue;
    const int64_t b = inferred_index(m[1], name);
    last = std::max(last, b);
    if (m[2] == "attn2.to_q.weight") c.dual_attention_layers.push_back(b);
  }
  std::sort(c.dual_attention_layers.begin(), c.dual_attention_layers.end());
  c.num_layers = last + 1;
  // With qk RMSNorm the per-head weight gives head_dim; without it (SD3 Medium) nothing in the
  // weights does, and every released SD3 model uses 64.
  if (w.has("transformer_blocks.0.attn.norm_q.weight")) {
    c.qk_norm = "rms_norm";
    c.attention_head_dim = dim_of(w, "transformer_blocks.0.attn.norm_q.weight", 0);
  } else {
    c.attention_head_dim = 64;
  }
  PD_CHECK(D % c.attention_head_dim == 0, "inner dim ", D, " is not a multiple of head_dim ", c.attention_head_dim);
  c.num_attention_heads = D / c.attention_head_dim;
  c.validate();
  return c;
}

MMDiTConfig MMDiTConfig::preset(const std::string& name) {
  MMDiTConfig c;
  if (name == "sd3.5-large") {
    c.num_layers = 38;
    c.num_attention_heads = 38;
    c.pos_embed_max_size = 192;
    c.qk_norm = "rms_norm";
  } else if (name == "sd3.5-medium") {
    c.num_layers = 24;
    c.num_attention_heads = 24;
    c.pos_embed_max_size = 384;
    c.qk_norm = "rms_norm";
    for (int64_t i = 0; i <= 12; ++i) c.dual_attention_layers.push_back(i);
  } else if (name == "sd3-medium") {
    c.num_layers = 24;
    c.num_attention_heads = 24;
    c.pos_embed_max_size = 192;
  } else {
    fail("unknown model config '", name, "' (known: sd3.5-large, sd3.5-medium, sd3-medium)");
  }
  c.caption_projection_dim = c.inner_dim();
  return c;
}

double mmdit_flops(const MMDiTConfig& c, int64_t image_tokens, int64_t prompt_tokens, int64_t batch) {
  const double D = static_cast<double>(c.inner_dim()), N = static_cast<double>(image_tokens),
               M = static_cast<double>(prompt_tokens);
  const double gemm = 2.0;  // flops per multiply-add
  double per_sample = gemm * M * static_cast<double>(c.joint_attention_dim) * D;  // context_embedder
  for (int64_t b = 0; b < c.num_layers; ++b) {
    const bool last = b == c.num_layers - 1;
    per_sample += gemm * N * D * (3 * D + D + 8 * D);                 // qkv, out, ff (4D up, 4D down)
    per_sample += gemm * M * D * (3 * D + (last ? 0 : D + 8 * D));    // context qkv (+ out, ff)
    per_sample += 2 * gemm * (N + M) * (N + M) * D;                   // QK^T and PV
    if (c.is_dual(b)) per_sample += gemm * N * D * 4 * D + 2 * gemm * N * N * D;  // attn2
  }
  per_sample += gemm * N * D * static_cast<double>(c.patch_size * c.patch_size * c.out_channels);
  return per_sample * static_cast<double>(batch);
}

StepShape mmdit_step_shape(const MMDiTConfig& c, int64_t latent_h, int64_t latent_w, int64_t prompt_tokens,
                           int64_t batch) {
  StepShape s;
  s.layers = c.num_layers;
  s.dim = c.inner_dim();
  s.heads = c.num_attention_heads;
  s.head_dim = c.attention_head_dim;
  s.image_tokens = (latent_h / c.patch_size) * (latent_w / c.patch_size);
  s.prompt_tokens = prompt_tokens;
  s.batch = batch;
  s.weight_params = 36.0 * static_cast<double>(s.dim * s.dim * s.layers) * 1.01;  // blocks + 1% outside
  s.bytes_per_weight = 2;
  s.bytes_per_activation = 4;
  s.out_per_token = c.patch_size * c.patch_size * c.out_channels;
  s.dual_layers = static_cast<int64_t>(c.dual_attention_layers.size());
  return s;
}

}  // namespace paradit
