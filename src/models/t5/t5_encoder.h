// T5EncoderModel (transformers) as SD3 uses T5-XXL: shared token embedding, pre-norm blocks
// with T5's RMS layer norm, unscaled attention plus a bucketed bidirectional relative-position
// bias computed once by block 0 and shared by all blocks, and the gated-GELU (tanh) FFN.
// Activations stay f32 even when weights are f16/bf16/fp8, which is how T5 avoids the fp16
// overflow that transformers has to clamp.
#pragma once

#include <string>
#include <vector>

#include "layers/linear.h"
#include "layers/parallel_linear.h"
#include "layers/norms.h"

namespace paradit {

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 4096;
  int64_t d_kv = 64;
  int64_t d_ff = 10240;
  int64_t num_layers = 24;
  int64_t num_heads = 64;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  float layer_norm_epsilon = 1e-6f;
  bool gated = true;  // feed_forward_proj "gated-gelu" (T5 v1.1); "relu" otherwise

  void validate() const;
  std::string describe() const;
  static T5Config from_json_file(const std::string& path);
  static T5Config infer(const WeightSource& weights);  // d_kv 64, as every released T5
  static T5Config t5_xxl();
};

// The bucket of each relative position (key - query) as transformers' _relative_position_bucket
// computes it with bidirectional=True.
int64_t t5_relative_position_bucket(int64_t relative_position, int64_t num_buckets, int64_t max_distance);

class T5Encoder {
 public:
  T5Encoder() = default;
  static T5Encoder load(const LoadContext& ctx, const T5Config& config);
  // ids: B rows of T ids -> last_hidden_state [B, T, d_model]
  Tensor forward(const std::vector<std::vector<int32_t>>& ids) const;
  const T5Config& config() const { return config_; }

 private:
  struct Block {
    RMSNorm attn_norm, ff_norm;
    Linear q, k, v, o;
    Linear wi_0, wi_1, wo;
  };
  Tensor position_bias(int64_t length) const;  // [local heads, T, T]
  T5Config config_;
  TpSplit heads_;                // the heads this rank holds (all of them without tp)
  Communicator* tp_ = nullptr;  // set under tensor parallelism
  Tensor embedding_;
  Tensor relative_attention_bias_;  // [buckets, heads]
  std::vector<Block> blocks_;
  RMSNorm final_norm_;
};

}  // namespace paradit
