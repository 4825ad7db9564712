// The whole SD3 transformer against diffusers' SD3Transformer2DModel, for three tiny variants
// (SD3.5-Large-like, SD3.5-Medium-like with MMDiT-X blocks, SD3-like without qk norm), from the
// diffusers folder and from the original single-file layout, in f32 and bf16.
#include <gtest/gtest.h>

#include "core/error.h"
#include "models/mmdit/mmdit.h"
#include "models/mmdit/weights.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

std::string model_dir(const std::string& variant) {
  return std::string(PARADIT_FIXTURES_DIR) + "/models/" + variant;
}

Tensor run(const MMDiTWeights& w, const Fixture& io, DType compute) {
  const LoadContext ctx{w.source.get(), compute, std::nullopt};
  const MMDiT model = MMDiT::load(ctx, w.config);
  return model.forward(io.f32("in.hidden_states"), io.f32("in.encoder_hidden_states"), io.f32("in.pooled_projections"),
                       io.f32("in.timestep").to_f32_vector());
}

class MMDiTVariant : public ::testing::TestWithParam<const char*> {};

TEST_P(MMDiTVariant, DiffusersFolderF32) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_mmdit_weights(model_dir(v));  // a pipeline folder: uses transformer/
  EXPECT_FALSE(w.config_inferred);
  EXPECT_EQ(w.layout, "diffusers");
  EXPECT_MATCHES(v + " f32", run(w, io, DType::F32), io.f32("out.sample"));
}

TEST_P(MMDiTVariant, Bf16Path) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_mmdit_weights(model_dir(v) + "/transformer");
  EXPECT_TRUE(test::close_enough(v + " bf16", run(w, io, DType::BF16), io.f32("out.sample"), 0.999, 5e-2));
}

// The two parts a GPU captures as a graph (time_embedding, then forward_with_temb) give
// forward()'s numbers exactly.
TEST_P(MMDiTVariant, TimeEmbeddingAndBodyEqualTheForward) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_mmdit_weights(model_dir(v));
  const MMDiT model = MMDiT::load({w.source.get(), DType::F32, std::nullopt}, w.config);
  const Tensor temb = model.time_embedding(io.f32("in.timestep").to_f32_vector(), io.f32("in.pooled_projections"));
  const Tensor parts = model.forward_with_temb(io.f32("in.hidden_states"), io.f32("in.encoder_hidden_states"), temb);
  EXPECT_EQ(parts.to_f32_vector(), run(w, io, DType::F32).to_f32_vector());
}

// The adaLN projections of three steps made at once (the pipelines' table) give each step what
// a forward at that step's timesteps gives.
TEST_P(MMDiTVariant, ModulationTableMatchesPerStepForward) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_mmdit_weights(model_dir(v));
  const MMDiT model = MMDiT::load({w.source.get(), DType::F32, std::nullopt}, w.config);
  const Tensor x = io.f32("in.hidden_states"), ctx = io.f32("in.encoder_hidden_states");
  const Tensor pooled = io.f32("in.pooled_projections");
  const std::vector<float> t = io.f32("in.timestep").to_f32_vector();
  std::vector<float> early(t.size(), 980.f), late(t.size(), 20.f);
  ModulationTable table = model.modulation_table({early, t, late}, pooled);
  EXPECT_EQ(table.steps(), 3);
  for (const auto& [step, ts] : std::vector<std::pair<int, std::vector<float>>>{{1, t}, {0, early}, {2, late}}) {
    table.select(step);
    const Tensor got = model.forward_with_temb(x, ctx, Conditioning(Tensor(), &table));
    EXPECT_TRUE(test::close_enough(v + " table step " + std::to_string(step), got, model.forward(x, ctx, pooled, ts),
                                   0.999999, 1e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, MMDiTVariant, ::testing::Values("sd35_large_like", "sd35_medium_like", "sd3_like"));

class SingleFile : public ::testing::TestWithParam<const char*> {};

TEST_P(SingleFile, OriginalLayoutWithInferredConfig) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_mmdit_weights(model_dir(v) + "_single_file.safetensors");
  EXPECT_TRUE(w.config_inferred);
  EXPECT_EQ(w.layout, "original single file");
  const auto json = MMDiTConfig::from_json_file(model_dir(v) + "/transformer/config.json");
  EXPECT_EQ(w.config.describe(), json.describe());
  EXPECT_MATCHES(v + " single file f32", run(w, io, DType::F32), io.f32("out.sample"));
}

INSTANTIATE_TEST_SUITE_P(Tiny, SingleFile, ::testing::Values("sd35_large_like", "sd35_medium_like"));

TEST(MMDiT, UnsupportedSizesAndShapesAreErrors) {
  const auto w = open_mmdit_weights(model_dir("sd35_large_like"));
  const MMDiT model = MMDiT::load({w.source.get(), DType::F32, std::nullopt}, w.config);
  const Tensor ctx = Tensor::zeros({1, 5, 48}), pooled = Tensor::zeros({1, 32});
  auto message = [&](const Tensor& latent, const Tensor& c, const Tensor& p, std::vector<float> t) {
    try {
      model.forward(latent, c, p, t);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(Tensor::zeros({1, 16, 34, 8}), ctx, pooled, {1.f}).find("largest size"), std::string::npos);
  EXPECT_NE(message(Tensor::zeros({1, 16, 7, 8}), ctx, pooled, {1.f}).find("multiple"), std::string::npos);
  EXPECT_NE(message(Tensor::zeros({1, 4, 8, 8}), ctx, pooled, {1.f}).find("hidden_states"), std::string::npos);
  EXPECT_NE(message(Tensor::zeros({1, 16, 8, 8}), Tensor::zeros({1, 5, 40}), pooled, {1.f}).find("encoder_hidden"),
            std::string::npos);
  EXPECT_NE(message(Tensor::zeros({1, 16, 8, 8}), ctx, Tensor::zeros({1, 31}), {1.f}).find("pooled"),
            std::string::npos);
  EXPECT_NE(message(Tensor::zeros({1, 16, 8, 8}), ctx, pooled, {1.f, 2.f}).find("timesteps"), std::string::npos);
}

TEST(MMDiT, NotATransformerCheckpoint) {
  EXPECT_THROW(open_mmdit_weights(test::fixture_path("layers/linear")), Error);
}

TEST(MMDiT, PresetsAndFlops) {
  const auto large = MMDiTConfig::preset("sd3.5-large");
  EXPECT_EQ(large.inner_dim(), 2432);
  // sd35-facts.md: 62.3 TFLOP per step at 1024x1024 with batch 2 (linear 47.8 + attention 14.5).
  EXPECT_NEAR(mmdit_flops(large, 4096, 333, 2) / 1e12, 62.3, 1.0);
  EXPECT_THROW(MMDiTConfig::preset("sd4"), Error);
}

}  // namespace
}  // namespace paradit
