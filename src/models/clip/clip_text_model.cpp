#include "models/clip/clip_text_model.h"

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "io/json_file.h"
#include "io/shape_inference.h"
#include "ops/ops.h"

namespace paradit {

void ClipTextConfig::validate() const {
  PD_CHECK(vocab_size > 0 && hidden_size > 0 && num_hidden_layers > 0 && num_attention_heads > 0 &&
               hidden_size % num_attention_heads == 0 && max_position_embeddings > 0 && intermediate_size > 0,
           "CLIP config: bad sizes");
  PD_CHECK(vocab_size <= 10'000'000 && hidden_size <= 65536 && num_hidden_layers <= 1000 && num_attention_heads <= 1024 &&
               max_position_embeddings <= 65536 && intermediate_size <= 262144,
           "CLIP config: a size is out of range");
  PD_CHECK(hidden_act == "quick_gelu" || hidden_act == "gelu", "CLIP config: unsupported hidden_act '", hidden_act,
           "'");
}

std::string ClipTextConfig::describe() const {
  std::ostringstream out;
  out << "  layers " << num_hidden_layers << ", hidden " << hidden_size << ", heads " << num_attention_heads
      << ", mlp " << intermediate_size << " (" << hidden_act << "), projection " << projection_dim << ", vocab "
      << vocab_size << ", positions " << max_position_embeddings;
  return out.str();
}

ClipTextConfig ClipTextConfig::from_json_file(const std::string& path) try {
  const auto j = read_json_file(path);
  const auto& t = j.contains("text_config") && j["text_config"].is_object() ? j["text_config"] : j;
  ClipTextConfig c;
  auto get = [&](const char* key, int64_t& field) {
    if (t.contains(key) && t[key].is_number_integer()) field = t[key].get<int64_t>();
  };
  get("vocab_size", c.vocab_size);
  get("hidden_size", c.hidden_size);
  get("intermediate_size", c.intermediate_size);
  get("num_hidden_layers", c.num_hidden_layers);
  get("num_attention_heads", c.num_attention_heads);
  get("max_position_embeddings", c.max_position_embeddings);
  get("projection_dim", c.projection_dim);
  get("eos_token_id", c.eos_token_id);
  if (t.contains("hidden_act") && t["hidden_act"].is_string()) c.hidden_act = t["hidden_act"].get<std::string>();
  if (t.contains("layer_norm_eps") && t["layer_norm_eps"].is_number()) c.layer_norm_eps = t["layer_norm_eps"].get<float>();
  c.validate();
  return c;
} catch (const nlohmann::json::exception& e) {
  json_type_error(path, e);
}

ClipTextConfig ClipTextConfig::infer(const WeightSource& w) {
  auto dim = [&](const std::string& name, int64_t d) { return inferred_dim(w, name, d, "CLIP"); };
  ClipTextConfig c;
  c.vocab_size = dim("text_model.embeddings.token_embedding.weight", 0);
  c.hidden_size = dim("text_model.embeddings.token_embedding.weight", 1);
  c.max_position_embeddings = dim("text_model.embeddings.position_embedding.weight", 0);
  c.intermediate_size = dim("text_model.encoder.layers.0.mlp.fc1.weight", 0);
  static const std::regex layer_re(R"(text_model\.encoder\.layers\.(\d+)\..*)");
  std::smatch m;
  int64_t last = -1;
  for (const auto& name : w.names())
    if (std::regex_match(name, m, layer_re)) last = std::max<int64_t>(last, inferred_index(m[1], name));
  c.num_hidden_layers = last + 1;
  c.num_attention_heads = c.hidden_size / 64;
  c.hidden_act = c.hidden_size == 768 ? "quick_gelu" : "gelu";
  if (w.has("text_projection.weight")) c.projection_dim = dim("text_projection.weight", 0);
  c.validate();
  return c;
}

ClipTextModel ClipTextModel::load(const LoadContext& ctx, const ClipTextConfig& config) {
  config.validate();
  ClipTextModel m;
  m.config_ = config;
  const int64_t D = config.hidden_size;
  m.token_embedding_ = load_tensor(ctx, "text_model.embeddings.token_embedding.weight", {config.vocab_size, D});
  m.position_embedding_ =
      load_tensor(ctx, "text_model.embeddings.position_embedding.weight", {config.max_position_embeddings, D});
  Attention::Config attn;
  attn.query_dim = D;
  attn.heads = config.num_attention_heads;
  attn.head_dim = D / config.num_attention_heads;
  attn.causal = true;
  attn.naming = Attention::Config::Naming::Clip;
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string p = "text_model.encoder.layers." + std::to_string(i) + ".";
    Layer l;
    l.norm1 = LayerNorm::load(ctx, p + "layer_norm1", D, config.layer_norm_eps, true);
    l.norm2 = LayerNorm::load(ctx, p + "layer_norm2", D, config.layer_norm_eps, true);
    l.attn = Attention::load(ctx, p + "self_attn", attn);
    l.fc1 = Linear::load(ctx, p + "mlp.fc1", D, config.intermediate_size);
    l.fc2 = Linear::load(ctx, p + "mlp.fc2", config.intermediate_size, D);
    m.layers_.push_back(std::move(l));
  }
  m.final_norm_ = LayerNorm::load(ctx, "text_model.final_layer_norm", D, config.layer_norm_eps, true);
  if (config.projection_dim > 0)
    m.projection_ = Linear::load(ctx, "text_projection", D, config.projection_dim, /*bias=*/false);
  return m;
}

ClipTextModel::Output ClipTextModel::forward(const std::vector<std::vector<int32_t>>& ids) const {
  PD_CHECK(!ids.empty(), "CLIP: empty batch");
  const int64_t B = static_cast<int64_t>(ids.size()), T = static_cast<int64_t>(ids[0].size()), D = config_.hidden_size;
  PD_CHECK(T > 0 && T <= config_.max_position_embeddings, "CLIP: sequence length ", T, " outside 1..",
           config_.max_position_embeddings);
  std::vector<int64_t> flat;
  for (const auto& row : ids) {
    PD_CHECK(static_cast<int64_t>(row.size()) == T, "CLIP: all sequences in a batch must have the same length");
    for (int32_t id : row) {
      PD_CHECK(id >= 0 && id < config_.vocab_size, "CLIP: token id ", id, " outside the vocabulary of ",
               config_.vocab_size);
      flat.push_back(id);
    }
  }
  const Tensor positions = position_embedding_.rows(0, T);
  Tensor x = ops::add(ops::embedding(token_embedding_, flat).reshape({B, T, D}), positions);
  Output out;
  out.hidden_states.push_back(x);
  const auto act = config_.hidden_act == "quick_gelu" ? ops::Activation::QuickGelu : ops::Activation::GeluErf;
  for (const Layer& l : layers_) {
    x = ops::add(x, l.attn.forward(l.norm1.forward(x), nullptr).hidden);
    x = ops::add(x, l.fc2.forward(ops::activation(l.fc1.forward(l.norm2.forward(x)), act)));
    out.hidden_states.push_back(x);
  }
  out.last_hidden_state = final_norm_.forward(x);
  // Pool at the end-of-text token: the legacy configs (eos_token_id 2) take argmax(ids), the
  // newer ones the first occurrence of eos_token_id.
  std::vector<Tensor> pooled_rows;  // views of the chosen rows, gathered on the activations' device
  for (int64_t b = 0; b < B; ++b) {
    const auto& row = ids[static_cast<size_t>(b)];
    int64_t pos = 0;
    if (config_.eos_token_id == 2) {
      for (int64_t t = 1; t < T; ++t)
        if (row[static_cast<size_t>(t)] > row[static_cast<size_t>(pos)]) pos = t;
    } else {
      while (pos < T && row[static_cast<size_t>(pos)] != config_.eos_token_id) ++pos;
      if (pos == T) pos = 0;  // argmax of an all-false mask is 0, as in transformers
    }
    pooled_rows.push_back(out.last_hidden_state.select(0, b).slice(0, pos, pos + 1).contiguous());
  }
  out.pooled = ops::concat(pooled_rows, 0).reshape({B, D});
  if (projection_) out.text_embeds = projection_->forward(out.pooled);
  return out;
}

}  // namespace paradit
