// CLIP-L, CLIP-G and T5 encoders against transformers, and SD3 prompt encoding against
// diffusers' StableDiffusion3Pipeline.encode_prompt, on the bundled tiny pipeline.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/prefixed_weights.h"
#include "models/clip/load.h"
#include "models/t5/load.h"
#include "pipelines/sd35/prompt_encoder.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;
using test::Fixture;

const std::string kPipeline = std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35/";

std::vector<std::vector<int32_t>> ids_of(const Tensor& t) {
  const Tensor i64 = t.dtype() == DType::I64 ? t : Tensor();
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(t.size(0)));
  for (int64_t b = 0; b < t.size(0); ++b)
    for (int64_t j = 0; j < t.size(1); ++j)
      out[static_cast<size_t>(b)].push_back(
          t.dtype() == DType::I64 ? static_cast<int32_t>(t.data<int64_t>()[b * t.size(1) + j])
                                  : t.data<int32_t>()[b * t.size(1) + j]);
  return out;
}

void expect_clip_matches(const std::string& key, const ClipTextModel& model, const Fixture& io, double pcc = 0.99999,
                         double rel = 1e-4) {
  const auto out = model.forward(ids_of(io.checkpoint().get("in." + key + ".input_ids")));
  EXPECT_TRUE(test::close_enough(key + " last_hidden_state", out.last_hidden_state,
                                 io.f32("out." + key + ".last_hidden_state"), pcc, rel));
  EXPECT_TRUE(test::close_enough(key + " hidden_states[-2]", out.hidden_states[out.hidden_states.size() - 2],
                                 io.f32("out." + key + ".penultimate_hidden_state"), pcc, rel));
  ASSERT_TRUE(out.text_embeds.has_value());
  EXPECT_TRUE(test::close_enough(key + " text_embeds", *out.text_embeds, io.f32("out." + key + ".text_embeds"), pcc, rel));
}

TEST(TextEncoders, ClipLAndGMatchTransformers) {
  Fixture io("pipeline/text_io");
  expect_clip_matches("clip_l", load_clip_text_model(kPipeline + "text_encoder", DType::F32).model, io);
  expect_clip_matches("clip_g", load_clip_text_model(kPipeline + "text_encoder_2", DType::F32).model, io);
}

TEST(TextEncoders, ClipBf16Path) {
  Fixture io("pipeline/text_io");
  expect_clip_matches("clip_g", load_clip_text_model(kPipeline + "text_encoder_2", DType::BF16).model, io, 0.999, 5e-2);
}

TEST(TextEncoders, ClipUnderACombinedCheckpointPrefix) {
  // SD3 checkpoints that bundle the text encoders keep CLIP-L under this prefix.
  const Checkpoint src = Checkpoint::open(kPipeline + "text_encoder");
  NamedTensors renamed;
  for (const auto& name : src.names()) renamed.emplace_back("text_encoders.clip_l.transformer." + name, src.get(name));
  renamed.emplace_back("model.diffusion_model.pos_embed", Tensor::zeros({1, 4, 2}));
  const std::string path = fs::temp_directory_path() / ("paradit_combined_" + std::to_string(::getpid()) + ".safetensors");
  save_safetensors(path, renamed);
  const auto weights = open_model_weights(path, "text_model.embeddings.token_embedding.weight", "CLIP");
  const auto config = ClipTextConfig::from_json_file(kPipeline + "text_encoder/config.json");
  expect_clip_matches("clip_l", ClipTextModel::load({weights.get(), DType::F32, std::nullopt}, config),
                      Fixture("pipeline/text_io"));
  fs::remove(path);
}

// A weight source of real-shaped, uninitialised tensors: enough to check config inference.
class ShapesOnly : public WeightSource {
 public:
  explicit ShapesOnly(std::map<std::string, Shape> shapes) : shapes_(std::move(shapes)) {}
  bool has(const std::string& n) const override { return shapes_.count(n) != 0; }
  Tensor get(const std::string& n) const override { return Tensor::empty(shapes_.at(n), DType::BF16); }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [n, s] : shapes_) out.push_back(n);
    return out;
  }
  std::string where(const std::string& n) const override { return n; }

 private:
  std::map<std::string, Shape> shapes_;
};

TEST(TextEncoders, InferRealClipConfigs) {
  for (const auto& [width, layers, act] : {std::tuple{768, 12, "quick_gelu"}, std::tuple{1280, 32, "gelu"}}) {
    std::map<std::string, Shape> s = {{"text_model.embeddings.token_embedding.weight", {49408, width}},
                                      {"text_model.embeddings.position_embedding.weight", {77, width}},
                                      {"text_model.encoder.layers.0.mlp.fc1.weight", {4 * width, width}},
                                      {"text_projection.weight", {width, width}}};
    s["text_model.encoder.layers." + std::to_string(layers - 1) + ".mlp.fc2.weight"] = {width, 4 * width};
    const auto c = ClipTextConfig::infer(ShapesOnly(s));
    EXPECT_EQ(c.num_hidden_layers, layers);
    EXPECT_EQ(c.num_attention_heads, width / 64);
    EXPECT_EQ(c.hidden_act, act);
    EXPECT_EQ(c.projection_dim, width);
    EXPECT_EQ(c.intermediate_size, 4 * width);
  }
}

TEST(TextEncoders, T5MatchesTransformers) {
  Fixture io("pipeline/text_io");
  const auto t5 = load_t5_encoder(kPipeline + "text_encoder_3", DType::F32);
  EXPECT_FALSE(t5.config_inferred);
  const Tensor out = t5.model.forward(ids_of(io.checkpoint().get("in.t5.input_ids")));
  EXPECT_MATCHES("t5 last_hidden_state", out, io.f32("out.t5.last_hidden_state"));
  const auto t5_bf16 = load_t5_encoder(kPipeline + "text_encoder_3", DType::BF16);
  EXPECT_TRUE(test::close_enough("t5 bf16", t5_bf16.model.forward(ids_of(io.checkpoint().get("in.t5.input_ids"))),
                                 io.f32("out.t5.last_hidden_state"), 0.999, 5e-2));
}

TEST(TextEncoders, RelativePositionBucketsMatchTransformers) {
  // transformers' _relative_position_bucket(bidirectional, 32 buckets, max_distance 128) for
  // relative positions -300..300.
  const Tensor want = Fixture("pipeline/text_io").checkpoint().get("out.t5.buckets");
  for (int64_t rel = -300; rel <= 300; ++rel)
    EXPECT_EQ(t5_relative_position_bucket(rel, 32, 128), want.data<int32_t>()[rel + 300]) << "relative position " << rel;
}

TEST(TextEncoders, T5ScaledFp8SingleFileWithInferredConfig) {
  // Emulates t5xxl_fp8_e4m3fn.safetensors: every matrix stored as e4m3 with a per-tensor scale.
  const Checkpoint src = Checkpoint::open(kPipeline + "text_encoder_3");
  NamedTensors tensors;
  for (const auto& name : src.names()) {
    Tensor t = src.get(name).to(DType::F32);
    const bool matrix = t.dim() == 2 && name.find("relative_attention_bias") == std::string::npos &&
                        name != "shared.weight" && name != "encoder.embed_tokens.weight";
    if (!matrix) {
      tensors.emplace_back(name, t.to(DType::BF16));
      continue;
    }
    float amax = 0;
    for (int64_t i = 0; i < t.numel(); ++i) amax = std::fmax(amax, std::fabs(t.data<float>()[i]));
    const float scale = amax / 448.f;
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] /= scale;
    tensors.emplace_back(name, t.to(DType::F8_E4M3));
    tensors.emplace_back(name.substr(0, name.size() - 7) + ".scale_weight", Tensor::from_vector({1}, {scale}));
  }
  const std::string path = fs::temp_directory_path() / ("paradit_t5fp8_" + std::to_string(::getpid()) + ".safetensors");
  save_safetensors(path, tensors);
  const auto t5 = load_t5_encoder(path, DType::BF16);
  EXPECT_TRUE(t5.config_inferred);
  EXPECT_EQ(t5.model.config().num_heads, 4);
  EXPECT_EQ(t5.model.config().d_kv, 16);
  Fixture io("pipeline/text_io");
  const Tensor out = t5.model.forward(ids_of(io.checkpoint().get("in.t5.input_ids")));
  // fp8 weights carry ~3 significant bits: the bar is correlation, not equality.
  EXPECT_TRUE(test::close_enough("t5 fp8 e4m3 scaled weights", out, io.f32("out.t5.last_hidden_state"), 0.99, 0.5));
  fs::remove(path);
}

TEST(TextEncoders, T5Fp16SingleFile) {
  // Emulates t5xxl_fp16.safetensors: every tensor stored as f16, no config beside it.
  const Checkpoint src = Checkpoint::open(kPipeline + "text_encoder_3");
  NamedTensors tensors;
  for (const auto& name : src.names()) tensors.emplace_back(name, src.get(name).to(DType::F16));
  const std::string path = fs::temp_directory_path() / ("paradit_t5f16_" + std::to_string(::getpid()) + ".safetensors");
  save_safetensors(path, tensors);
  const auto t5 = load_t5_encoder(path, DType::F32);
  EXPECT_TRUE(t5.config_inferred);
  Fixture io("pipeline/text_io");
  EXPECT_TRUE(test::close_enough("t5 from f16 weights", t5.model.forward(ids_of(io.checkpoint().get("in.t5.input_ids"))),
                                 io.f32("out.t5.last_hidden_state"), 0.9999, 1e-2));
  fs::remove(path);
}

TEST(PromptEncoding, MatchesDiffusersEncodePrompt) {
  Fixture io("pipeline/text_io");
  const auto enc = Sd3PromptEncoder::load(TextEncoderFiles::from_pipeline(kPipeline, true), DType::F32, 64);
  PromptRequest r;
  r.prompt = {"a red fox in the snow, 35mm photo"};
  auto pos = enc.encode(r);
  EXPECT_MATCHES("prompt_embeds", pos.prompt_embeds, io.f32("out.prompt_embeds"));
  EXPECT_MATCHES("pooled_prompt_embeds", pos.pooled, io.f32("out.pooled_prompt_embeds"));
  r.prompt = {"blurry, low quality"};
  auto neg = enc.encode(r);
  EXPECT_MATCHES("negative_prompt_embeds", neg.prompt_embeds, io.f32("out.negative_prompt_embeds"));
  EXPECT_MATCHES("negative_pooled_prompt_embeds", neg.pooled, io.f32("out.negative_pooled_prompt_embeds"));
}

TEST(PromptEncoding, SecondAndThirdPromptsClipSkipAndShortT5) {
  Fixture io("pipeline/text_io");
  const auto enc = Sd3PromptEncoder::load(TextEncoderFiles::from_pipeline(kPipeline, true), DType::F32, 64);
  PromptRequest r;
  r.prompt = {"a red fox in the snow, 35mm photo"};
  r.prompt_2 = {"東京の夜景 🐱 (((masterpiece))) — 4K"};
  r.prompt_3 = {"only for t5"};
  r.clip_skip = 1;
  r.max_sequence_length = 77;
  const auto pos = enc.encode(r);
  EXPECT_MATCHES("variant prompt_embeds", pos.prompt_embeds, io.f32("out.variant.prompt_embeds"));
  EXPECT_MATCHES("variant pooled", pos.pooled, io.f32("out.variant.pooled_prompt_embeds"));
  PromptRequest neg;  // diffusers' default negative: "" everywhere, no clip_skip
  neg.prompt = {""};
  neg.max_sequence_length = 77;
  const auto n = enc.encode(neg);
  EXPECT_MATCHES("variant negative_prompt_embeds", n.prompt_embeds, io.f32("out.variant.negative_prompt_embeds"));
  EXPECT_MATCHES("variant negative pooled", n.pooled, io.f32("out.variant.negative_pooled_prompt_embeds"));
}

TEST(PromptEncoding, WithoutT5IsZeros) {
  Fixture io("pipeline/text_io");
  const auto enc = Sd3PromptEncoder::load(TextEncoderFiles::from_pipeline(kPipeline, false), DType::F32, 64);
  EXPECT_FALSE(enc.has_t5());
  PromptRequest r;
  r.prompt = {"a red fox in the snow, 35mm photo"};
  const auto out = enc.encode(r);
  EXPECT_MATCHES("no-T5 prompt_embeds", out.prompt_embeds, io.f32("out.no_t5.prompt_embeds"));
  EXPECT_MATCHES("no-T5 pooled", out.pooled, io.f32("out.no_t5.pooled_prompt_embeds"));
}

TEST(PromptEncoding, BadRequestsAreErrors) {
  const auto enc = Sd3PromptEncoder::load(TextEncoderFiles::from_pipeline(kPipeline, false), DType::F32, 64);
  PromptRequest r;
  EXPECT_THROW(enc.encode(r), Error);
  r.prompt = {"a"};
  r.max_sequence_length = 0;
  EXPECT_THROW(enc.encode(r), Error);
  r.max_sequence_length = 256;
  r.clip_skip = 10;
  EXPECT_THROW(enc.encode(r), Error);
  EXPECT_THROW(load_clip_text_model(kPipeline + "text_encoder_3", DType::F32), Error);
  EXPECT_THROW(TextEncoderFiles::from_pipeline(std::string(PARADIT_FIXTURES_DIR) + "/ops", true), Error);
}

}  // namespace
}  // namespace paradit
