#include "models/t5/t5_encoder.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "io/json_file.h"
#include "io/shape_inference.h"
#include "ops/ops.h"

namespace paradit {

void T5Config::validate() const {
  PD_CHECK(vocab_size > 0 && d_model > 0 && d_kv > 0 && d_ff > 0 && num_layers > 0 && num_heads > 0 &&
               relative_attention_num_buckets > 1 && relative_attention_max_distance > 0,
           "T5 config: bad sizes");
  PD_CHECK(vocab_size <= 10'000'000 && d_model <= 65536 && d_kv <= 4096 && d_ff <= 262144 && num_layers <= 1000 &&
               num_heads <= 1024 && relative_attention_num_buckets <= 4096 &&
               relative_attention_max_distance <= 1'000'000,
           "T5 config: a size is out of range");
}

std::string T5Config::describe() const {
  std::ostringstream out;
  out << "  layers " << num_layers << ", d_model " << d_model << ", heads " << num_heads << " x " << d_kv << ", d_ff "
      << d_ff << (gated ? " (gated-gelu)" : " (relu)") << ", vocab " << vocab_size << ", buckets "
      << relative_attention_num_buckets << "/" << relative_attention_max_distance;
  return out.str();
}

T5Config T5Config::from_json_file(const std::string& path) try {
  const auto j = read_json_file(path);
  T5Config c;
  auto get = [&](const char* key, int64_t& field) {
    if (j.contains(key) && j[key].is_number_integer()) field = j[key].get<int64_t>();
  };
  get("vocab_size", c.vocab_size);
  get("d_model", c.d_model);
  get("d_kv", c.d_kv);
  get("d_ff", c.d_ff);
  get("num_layers", c.num_layers);
  get("num_heads", c.num_heads);
  get("relative_attention_num_buckets", c.relative_attention_num_buckets);
  get("relative_attention_max_distance", c.relative_attention_max_distance);
  if (j.contains("layer_norm_epsilon") && j["layer_norm_epsilon"].is_number())
    c.layer_norm_epsilon = j["layer_norm_epsilon"].get<float>();
  const std::string ff = j.value("feed_forward_proj", "relu");
  PD_CHECK(ff == "gated-gelu" || ff == "relu", path, ": unsupported feed_forward_proj '", ff, "'");
  c.gated = ff == "gated-gelu";
  PD_CHECK(c.gated, path, ": only gated-gelu T5 (v1.1, as SD3 uses) is supported");
  c.validate();
  return c;
} catch (const nlohmann::json::exception& e) {
  json_type_error(path, e);
}

T5Config T5Config::infer(const WeightSource& w) {
  auto dim = [&](const std::string& name, int64_t d) { return inferred_dim(w, name, d, "T5"); };
  T5Config c;
  const std::string bias = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
  c.relative_attention_num_buckets = dim(bias, 0);
  c.num_heads = dim(bias, 1);
  const std::string q = "encoder.block.0.layer.0.SelfAttention.q.weight";
  c.d_model = dim(q, 1);
  PD_CHECK(dim(q, 0) % c.num_heads == 0, w.where(q), ": ", dim(q, 0), " rows do not split into ", c.num_heads,
           " heads");
  c.d_kv = dim(q, 0) / c.num_heads;
  c.d_ff = dim("encoder.block.0.layer.1.DenseReluDense.wi_0.weight", 0);
  c.vocab_size = w.has("shared.weight") ? dim("shared.weight", 0) : dim("encoder.embed_tokens.weight", 0);
  static const std::regex block_re(R"(encoder\.block\.(\d+)\..*)");
  std::smatch m;
  int64_t last = -1;
  for (const auto& name : w.names())
    if (std::regex_match(name, m, block_re)) last = std::max<int64_t>(last, inferred_index(m[1], name));
  c.num_layers = last + 1;
  c.validate();
  return c;
}

T5Config T5Config::t5_xxl() { return T5Config{}; }

int64_t t5_relative_position_bucket(int64_t relative_position, int64_t num_buckets, int64_t max_distance) {
  num_buckets /= 2;
  int64_t bucket = relative_position > 0 ? num_buckets : 0;
  const int64_t n = std::abs(relative_position);
  const int64_t max_exact = num_buckets / 2;
  if (n < max_exact) return bucket + n;
  // float32 arithmetic and truncation, as torch computes it
  const float scaled = std::log(static_cast<float>(n) / static_cast<float>(max_exact)) /
                       static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact))) *
                       static_cast<float>(num_buckets - max_exact);
  const int64_t large = std::min<int64_t>(max_exact + static_cast<int64_t>(scaled), num_buckets - 1);
  return bucket + large;
}

T5Encoder T5Encoder::load(const LoadContext& ctx, const T5Config& config) {
  config.validate();
  T5Encoder e;
  e.config_ = config;
  const int64_t D = config.d_model, inner = config.num_heads * config.d_kv;
  const std::string embed = has_tensor(ctx, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
  e.embedding_ = load_tensor(ctx, embed, {config.vocab_size, D});
  e.relative_attention_bias_ = load_tensor(ctx, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                           {config.relative_attention_num_buckets, config.num_heads});
  // Under tp each rank holds a slice of the heads (zero-padded to equal slices) and of d_ff;
  // o and wo give partial sums, added over the tp group. No bias anywhere in T5.
  TpSplit heads{0, config.num_heads, config.num_heads}, ff{0, config.d_ff, config.d_ff};
  if (is_parallel(ctx) && ctx.parallel->tp->size() > 1) {
    e.tp_ = ctx.parallel->tp.get();
    heads = tp_split(config.num_heads, e.tp_->size(), e.tp_->rank());
    ff = tp_split(config.d_ff, e.tp_->size(), e.tp_->rank());
  }
  e.heads_ = heads;
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const std::string p = "encoder.block." + std::to_string(i) + ".layer.";
    Block b;
    b.attn_norm = RMSNorm::load(ctx, p + "0.layer_norm", D, config.layer_norm_epsilon, true);
    auto column = [&](const std::string& name, int64_t out, int64_t unit, const TpSplit& s) {
      return e.tp_ ? Linear::load_shard(ctx, p + name, D, out, {0, s.begin * unit, s.end * unit, s.per_rank * unit}, false)
                   : Linear::load(ctx, p + name, D, out, false);
    };
    auto row = [&](const std::string& name, int64_t in, int64_t unit, const TpSplit& s) {
      return e.tp_ ? Linear::load_shard(ctx, p + name, in, D, {1, s.begin * unit, s.end * unit, s.per_rank * unit}, false)
                   : Linear::load(ctx, p + name, in, D, false);
    };
    b.q = column("0.SelfAttention.q", inner, config.d_kv, heads);
    b.k = column("0.SelfAttention.k", inner, config.d_kv, heads);
    b.v = column("0.SelfAttention.v", inner, config.d_kv, heads);
    b.o = row("0.SelfAttention.o", inner, config.d_kv, heads);
    b.ff_norm = RMSNorm::load(ctx, p + "1.layer_norm", D, config.layer_norm_epsilon, true);
    b.wi_0 = column("1.DenseReluDense.wi_0", config.d_ff, 1, ff);
    b.wi_1 = column("1.DenseReluDense.wi_1", config.d_ff, 1, ff);
    b.wo = row("1.DenseReluDense.wo", config.d_ff, 1, ff);
    e.blocks_.push_back(std::move(b));
  }
  e.final_norm_ = RMSNorm::load(ctx, "encoder.final_layer_norm", D, config.layer_norm_epsilon, true);
  return e;
}

Tensor T5Encoder::position_bias(int64_t T) const {
  // This rank's heads; padded heads (zero q, k, v) get a zero bias.
  const int64_t H = config_.num_heads, local = heads_.per_rank;
  Tensor bias = Tensor::zeros({local, T, T});
  const Tensor host_table = relative_attention_bias_.to(Device::CPU);  // small: [buckets, H]
  const float* table = host_table.data<float>();
  for (int64_t q = 0; q < T; ++q)
    for (int64_t k = 0; k < T; ++k) {
      const int64_t bucket = t5_relative_position_bucket(k - q, config_.relative_attention_num_buckets,
                                                         config_.relative_attention_max_distance);
      for (int64_t h = heads_.begin; h < heads_.end; ++h)
        bias.data<float>()[((h - heads_.begin) * T + q) * T + k] = table[bucket * H + h];
    }
  return bias.to(relative_attention_bias_.device());
}

Tensor T5Encoder::forward(const std::vector<std::vector<int32_t>>& ids) const {
  PD_CHECK(!ids.empty() && !ids[0].empty(), "T5: empty input");
  const int64_t B = static_cast<int64_t>(ids.size()), T = static_cast<int64_t>(ids[0].size());
  const int64_t D = config_.d_model, H = heads_.per_rank, dk = config_.d_kv;
  std::vector<int64_t> flat;
  for (const auto& row : ids) {
    PD_CHECK(static_cast<int64_t>(row.size()) == T, "T5: all sequences in a batch must have the same length");
    for (int32_t id : row) {
      PD_CHECK(id >= 0 && id < config_.vocab_size, "T5: token id ", id, " outside the vocabulary of ",
               config_.vocab_size);
      flat.push_back(id);
    }
  }
  Tensor x = ops::embedding(embedding_, flat).reshape({B, T, D});
  const Tensor bias = position_bias(T);
  auto heads = [&](const Tensor& t) { return ops::permute(t.reshape({B, T, H, dk}), {0, 2, 1, 3}); };
  for (const Block& b : blocks_) {
    const Tensor h = b.attn_norm.forward(x);
    const Tensor attended = ops::attention(heads(b.q.forward(h)), heads(b.k.forward(h)), heads(b.v.forward(h)), 1.f,
                                           false, &bias);
    x = ops::add(x, sum_partials(tp_, b.o.forward(ops::permute(attended, {0, 2, 1, 3}).reshape({B, T, H * dk}))));
    const Tensor f = b.ff_norm.forward(x);
    x = ops::add(x, sum_partials(tp_, b.wo.forward(ops::mul(ops::gelu(b.wi_0.forward(f), true), b.wi_1.forward(f)))));
  }
  return final_norm_.forward(x);
}

}  // namespace paradit
