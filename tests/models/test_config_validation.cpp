// Configs read from JSON or inferred from tensor shapes are validated before anything is
// allocated: degenerate shapes, absurd sizes, wrong JSON types and hostile nesting give one clear
// paradit::Error (exit 2 in the CLI), never a crash (SIGFPE), an internal error or a huge allocation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "core/error.h"
#include "models/clip/clip_text_model.h"
#include "models/mmdit/config.h"
#include "models/t5/t5_encoder.h"
#include "models/vae/config.h"
#include "pipelines/schedulers/flow_match_euler.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;

// Tensors of the given shapes, by name.
class ShapesOnly : public WeightSource {
 public:
  explicit ShapesOnly(std::map<std::string, Shape> shapes) : shapes_(std::move(shapes)) {}
  bool has(const std::string& name) const override { return shapes_.count(name) != 0; }
  Tensor get(const std::string& name) const override { return Tensor::zeros(shapes_.at(name)); }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : shapes_) out.push_back(k);
    return out;
  }
  std::string where(const std::string& name) const override { return "test: tensor '" + name + "'"; }

 private:
  std::map<std::string, Shape> shapes_;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::map<std::string, Shape> mmdit_shapes() {
  return {{"pos_embed.proj.weight", {64, 16, 2, 2}},
          {"pos_embed.pos_embed", {1, 1024, 64}},
          {"context_embedder.weight", {64, 128}},
          {"time_text_embed.text_embedder.linear_1.weight", {64, 40}},
          {"proj_out.weight", {64, 64}},
          {"transformer_blocks.0.attn.norm_q.weight", {16}},
          {"transformer_blocks.1.attn.to_q.weight", {64, 64}}};
}

TEST(ConfigValidation, MMDiTInferenceAcceptsASaneShapeSet) {
  const auto c = MMDiTConfig::infer(ShapesOnly(mmdit_shapes()));
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 4);
}

TEST(ConfigValidation, MMDiTDegenerateShapesAreErrorsNotCrashes) {
  auto with = [](const std::string& name, const Shape& shape) {
    auto s = mmdit_shapes();
    s[name] = shape;
    return error_of([&] { MMDiTConfig::infer(ShapesOnly(s)); });
  };
  EXPECT_NE(with("pos_embed.proj.weight", {64, 16, 0, 0}).find("unexpected shape"), std::string::npos);
  EXPECT_NE(with("transformer_blocks.0.attn.norm_q.weight", {0}).find("unexpected shape"), std::string::npos);
  EXPECT_NE(with("proj_out.weight", {6, 64}).find("not a multiple of patch"), std::string::npos);
  EXPECT_NE(with("transformer_blocks.99999999999999999999.attn.to_q.weight", {64, 64}).find("out of range"),
            std::string::npos);
  EXPECT_NE(with("transformer_blocks.5000.attn.to_q.weight", {64, 64}).find("out of range"), std::string::npos);
}

TEST(ConfigValidation, T5InferenceWithZeroHeadsIsAnError) {
  std::map<std::string, Shape> s = {{"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", {32, 0}},
                                    {"encoder.block.0.layer.0.SelfAttention.q.weight", {64, 64}},
                                    {"encoder.block.0.layer.1.DenseReluDense.wi_0.weight", {96, 64}},
                                    {"shared.weight", {100, 64}}};
  EXPECT_NE(error_of([&] { T5Config::infer(ShapesOnly(s)); }).find("unexpected shape"), std::string::npos);
  s["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = {32, 5};
  EXPECT_NE(error_of([&] { T5Config::infer(ShapesOnly(s)); }).find("do not split into 5 heads"), std::string::npos);
  s["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = {32};
  EXPECT_NE(error_of([&] { T5Config::infer(ShapesOnly(s)); }).find("unexpected shape"), std::string::npos);
}

TEST(ConfigValidation, ClipAndVaeInferenceWithMissingDimensionsAreErrors) {
  std::map<std::string, Shape> clip = {{"text_model.embeddings.token_embedding.weight", {100}},
                                       {"text_model.embeddings.position_embedding.weight", {77, 64}},
                                       {"text_model.encoder.layers.0.mlp.fc1.weight", {128, 64}}};
  EXPECT_NE(error_of([&] { ClipTextConfig::infer(ShapesOnly(clip)); }).find("unexpected shape"), std::string::npos);
  std::map<std::string, Shape> vae = {{"decoder.conv_in.weight", {64, 0, 3, 3}}, {"decoder.conv_out.weight", {3, 64, 3, 3}}};
  EXPECT_NE(error_of([&] { VaeConfig::infer(ShapesOnly(vae)); }).find("unexpected shape"), std::string::npos);
}

class JsonConfigs : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    const fs::path dir = fs::temp_directory_path() / ("paradit_cfg_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string path = (dir / ("config" + std::to_string(n_++) + ".json")).string();
    std::ofstream(path) << text;
    return path;
  }
  void TearDown() override { fs::remove_all(fs::temp_directory_path() / ("paradit_cfg_" + std::to_string(::getpid()))); }
  int n_ = 0;
};

TEST_F(JsonConfigs, WrongTypesNameTheFile) {
  const std::string vae = write(R"({"block_out_channels": "wide", "latent_channels": 4})");
  EXPECT_NE(error_of([&] { VaeConfig::from_json_file(vae); }).find(vae + ": 'block_out_channels' must be a list"),
            std::string::npos);
  // Found by fuzz_config_json: a float in the list (3.7e91 overflowed the integer conversion).
  for (const char* number : {"3777777777777777777777777777777777777777777777777777777777777777777777777777777777777773",
                             "32.5"}) {
    const std::string floats = write(std::string(R"({"block_out_channels": [32, )") + number + "]}");
    EXPECT_NE(error_of([&] { VaeConfig::from_json_file(floats); }).find("'block_out_channels' must hold integers"),
              std::string::npos);
  }
  const std::string vae2 = write(R"({"mid_block_add_attention": "yes"})");
  EXPECT_NE(error_of([&] { VaeConfig::from_json_file(vae2); }).find(vae2), std::string::npos);
  const std::string t5 = write(R"({"layer_norm_epsilon": "tiny", "feed_forward_proj": 3})");
  EXPECT_NE(error_of([&] { T5Config::from_json_file(t5); }).find(t5), std::string::npos);
  const std::string sched = write(R"({"shift": "three"})");
  EXPECT_NE(error_of([&] { FlowMatchEulerScheduler::from_json_file(sched); }).find(sched), std::string::npos);
  const std::string mmdit = write(R"({"num_layers": "24"})");
  EXPECT_NE(error_of([&] { MMDiTConfig::from_json_file(mmdit); }).find("'num_layers' must be an integer"),
            std::string::npos);
}

TEST_F(JsonConfigs, AbsurdSizesAreRefused) {
  const std::string vae = write(R"({"block_out_channels": [8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8], "norm_num_groups": 8})");
  EXPECT_NE(error_of([&] { VaeConfig::from_json_file(vae); }).find("VAE config: bad sizes"), std::string::npos);
  const std::string mmdit = write(
      R"({"num_layers": 1000000, "num_attention_heads": 4, "attention_head_dim": 16, "caption_projection_dim": 64,
          "pos_embed_max_size": 32, "joint_attention_dim": 64, "pooled_projection_dim": 40})");
  EXPECT_NE(error_of([&] { MMDiTConfig::from_json_file(mmdit); }).find("out of range"), std::string::npos);
}

TEST_F(JsonConfigs, HostileNestingIsRefusedBeforeParsing) {
  const std::string deep = write("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}");
  EXPECT_NE(error_of([&] { VaeConfig::from_json_file(deep); }).find("nested deeper than"), std::string::npos);
}

}  // namespace
}  // namespace paradit
