// The FLUX.1 transformer against diffusers' FluxTransformer2DModel, for a tiny dev-like model
// (guidance embedding) and a tiny schnell-like one, batch 2 with two timesteps, from the
// diffusers folder, in f32 and bf16 (tools/fixtures/flux_fixtures.py writes them).
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "models/flux/flux.h"
#include "models/flux/rope.h"
#include "models/flux/weights.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

std::string model_dir(const std::string& variant) {
  return std::string(PARADIT_FIXTURES_DIR) + "/models/" + variant;
}

Tensor run(const FluxWeights& w, const Fixture& io, DType compute) {
  const LoadContext ctx{w.source.get(), compute, std::nullopt};
  const FluxTransformer model = FluxTransformer::load(ctx, w.config);
  std::vector<float> guidance;
  if (w.config.guidance_embeds) guidance = io.f32("in.guidance").to_f32_vector();
  return model.forward(io.f32("in.hidden_states"), io.f32("in.encoder_hidden_states"), io.f32("in.pooled_projections"),
                       io.f32("in.timestep").to_f32_vector(), io.f32("in.img_ids"), io.f32("in.txt_ids"),
                       w.config.guidance_embeds ? &guidance : nullptr);
}

class FluxVariant : public ::testing::TestWithParam<const char*> {};

TEST_P(FluxVariant, DiffusersFolderF32) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_flux_weights(model_dir(v));  // a pipeline folder: uses transformer/
  EXPECT_EQ(w.config.guidance_embeds, v == "flux_dev_like");
  EXPECT_TRUE(is_flux_transformer(model_dir(v)));
  EXPECT_MATCHES(v + " f32", run(w, io, DType::F32), io.f32("out.sample"));
}

TEST_P(FluxVariant, Bf16Path) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_flux_weights(model_dir(v) + "/transformer");
  EXPECT_TRUE(test::close_enough(v + " bf16", run(w, io, DType::BF16), io.f32("out.sample"), 0.999, 5e-2));
}

// The two parts a GPU captures as a graph (prepare, then forward_prepared) give forward()'s
// numbers exactly, against diffusers too.
TEST_P(FluxVariant, PreparedPartsEqualTheForward) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_flux_weights(model_dir(v));
  const FluxTransformer model = FluxTransformer::load({w.source.get(), DType::F32, std::nullopt}, w.config);
  std::vector<float> guidance;
  if (w.config.guidance_embeds) guidance = io.f32("in.guidance").to_f32_vector();
  const auto prepared = model.prepare(io.f32("in.pooled_projections"), io.f32("in.timestep").to_f32_vector(),
                                      io.f32("in.img_ids"), io.f32("in.txt_ids"),
                                      w.config.guidance_embeds ? &guidance : nullptr);
  const Tensor parts = model.forward_prepared(io.f32("in.hidden_states"), io.f32("in.encoder_hidden_states"), prepared);
  EXPECT_EQ(parts.to_f32_vector(), run(w, io, DType::F32).to_f32_vector());
  EXPECT_MATCHES(v + " prepared", parts, io.f32("out.sample"));
}

// The adaLN projections of three steps made at once (the pipeline's table) give each step what
// a forward at that step's timestep (and guidance) gives.
TEST_P(FluxVariant, ModulationTableMatchesPerStepForward) {
  const std::string v = GetParam();
  Fixture io("models/" + v + "_io");
  const auto w = open_flux_weights(model_dir(v));
  const FluxTransformer model = FluxTransformer::load({w.source.get(), DType::F32, std::nullopt}, w.config);
  const Tensor x = io.f32("in.hidden_states"), ctx = io.f32("in.encoder_hidden_states");
  const Tensor pooled = io.f32("in.pooled_projections"), img = io.f32("in.img_ids"), txt = io.f32("in.txt_ids");
  const std::vector<float> t = io.f32("in.timestep").to_f32_vector();
  std::vector<float> g;
  if (w.config.guidance_embeds) g = io.f32("in.guidance").to_f32_vector();
  const std::vector<float> early(t.size(), 0.98f), late(t.size(), 0.05f);
  const std::vector<float> g_late(t.size(), 7.f);
  const std::vector<std::vector<float>> gs = {g, g, g_late};
  const bool dev = w.config.guidance_embeds;
  ModulationTable table = model.modulation_table({early, t, late}, pooled, dev ? &gs : nullptr);
  FluxTransformer::Prepared prepared = model.prepare(pooled, t, img, txt, dev ? &g : nullptr);
  prepared.temb = Tensor();
  prepared.table = &table;
  const std::vector<std::vector<float>> ts = {early, t, late};
  for (int step : {1, 0, 2}) {
    table.select(step);
    const Tensor got = model.forward_prepared(x, ctx, prepared);
    const Tensor want = model.forward(x, ctx, pooled, ts[static_cast<size_t>(step)], img, txt,
                                      dev ? &gs[static_cast<size_t>(step)] : nullptr);
    EXPECT_TRUE(test::close_enough(v + " table step " + std::to_string(step), got, want, 0.999999, 1e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, FluxVariant, ::testing::Values("flux_dev_like", "flux_schnell_like"));

// BFL's single-file layout (fused qkv and linear1 as row views, the final (shift, scale) swap),
// under ComfyUI's model.diffusion_model. prefix: the same output as the folder, with the folder's
// config; and its float8_e4m3fn copy against diffusers run on the same fp8 values.
TEST(Flux, OriginalSingleFileEqualsTheFolder) {
  Fixture io("models/flux_dev_like_io");
  const std::string config = model_dir("flux_dev_like") + "/transformer/config.json";
  const auto folder = open_flux_weights(model_dir("flux_dev_like"));
  const auto single = open_flux_weights(model_dir("flux_dev_like") + "_bfl.safetensors", config);
  EXPECT_EQ(single.layout, "original single file");
  EXPECT_FALSE(single.config_inferred);
  EXPECT_TRUE(is_flux_transformer(model_dir("flux_dev_like") + "_bfl.safetensors"));
  // Every diffusers tensor is there, with the folder's values.
  EXPECT_EQ(single.source->names(), folder.source->names());
  for (const auto& name : folder.source->names())
    ASSERT_EQ(single.source->get(name).to_f32_vector(), folder.source->get(name).to_f32_vector()) << name;
  const Tensor expected = io.f32("out.sample");
  EXPECT_MATCHES("flux single file f32", run(single, io, DType::F32), expected);
  EXPECT_EQ(run(single, io, DType::F32).to_f32_vector(), run(folder, io, DType::F32).to_f32_vector());

  const auto fp8 = open_flux_weights(model_dir("flux_dev_like") + "_bfl_fp8.safetensors", config);
  EXPECT_EQ(fp8.source->get("transformer_blocks.0.attn.to_q.weight").dtype(), DType::F8_E4M3);
  EXPECT_MATCHES("flux fp8 single file f32", run(fp8, io, DType::F32), io.f32("out.sample_fp8"));
  EXPECT_TRUE(test::close_enough("flux fp8 single file bf16", run(fp8, io, DType::BF16), io.f32("out.sample_fp8"),
                                 0.999, 5e-2));

  // Without a config the shapes give everything but the rope axes, which a head size other
  // than FLUX.1's 128 cannot imply: one clear line.
  try {
    open_flux_weights(model_dir("flux_dev_like") + "_bfl.safetensors");
    FAIL() << "inferred rope axes for head size 16";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot infer axes_dims_rope for head size 16"), std::string::npos)
        << e.what();
  }
}

// The rotary tables at FLUX.1's real axes: angle pos * 10000^(-2j/dim) per axis, pairs equal.
TEST(Flux, RotaryTablesFollowTheAxes) {
  const Tensor ids = Tensor::from_vector({2, 3}, {0.f, 0.f, 0.f, 0.f, 3.f, 7.f});
  const RotaryTables t = flux_rotary_tables(ids, {16, 56, 56});
  ASSERT_EQ(t.cos.shape(), (Shape{2, 128}));
  for (int64_t c = 0; c < 128; ++c) {
    EXPECT_EQ(t.cos.item_f32(c), 1.f);  // position 0 on every axis
    EXPECT_EQ(t.sin.item_f32(c), 0.f);
  }
  // Row 1: axis 0 (dims 0..15) at 0, axis 1 (16..71) at 3, axis 2 (72..127) at 7.
  EXPECT_EQ(t.cos.item_f32(128 + 15), 1.f);
  EXPECT_FLOAT_EQ(t.cos.item_f32(128 + 16), std::cos(3.f));
  EXPECT_FLOAT_EQ(t.sin.item_f32(128 + 17), std::sin(3.f));
  EXPECT_FLOAT_EQ(t.cos.item_f32(128 + 16 + 2), static_cast<float>(std::cos(3.0 * std::pow(10000.0, -2.0 / 56))));
  EXPECT_FLOAT_EQ(t.sin.item_f32(128 + 72 + 54), static_cast<float>(std::sin(7.0 * std::pow(10000.0, -54.0 / 56))));
  const Tensor img = flux_image_ids(2, 3);
  EXPECT_EQ(img.to_f32_vector(), (std::vector<float>{0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 1, 0, 0, 1, 1, 0, 1, 2}));
}

TEST(Flux, BadInputsAndConfigsAreErrors) {
  Fixture io("models/flux_dev_like_io");
  const auto w = open_flux_weights(model_dir("flux_dev_like"));
  const FluxTransformer model = FluxTransformer::load({w.source.get(), DType::F32, std::nullopt}, w.config);
  const Tensor x = io.f32("in.hidden_states"), ctx = io.f32("in.encoder_hidden_states"),
               pooled = io.f32("in.pooled_projections"), img = io.f32("in.img_ids"), txt = io.f32("in.txt_ids");
  const std::vector<float> t = io.f32("in.timestep").to_f32_vector(), g = {3.5f, 3.5f};
  auto message = [&](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { model.forward(x, ctx, pooled, t, img, txt, nullptr); }).find("guidance"), std::string::npos);
  EXPECT_NE(message([&] { model.forward(x, ctx, pooled, t, img.rows(1, img.size(0)), txt, &g); }).find("img_ids"),
            std::string::npos);
  EXPECT_NE(message([&] { model.forward(x, ctx, pooled, {0.5f}, img, txt, &g); }).find("timesteps"), std::string::npos);
  EXPECT_NE(message([&] { model.forward(x.rows(0, 1), ctx, pooled, {0.5f}, img, txt, &g); })
                .find("encoder_hidden_states"),
            std::string::npos);
  const auto schnell = open_flux_weights(model_dir("flux_schnell_like"));
  const FluxTransformer s = FluxTransformer::load({schnell.source.get(), DType::F32, std::nullopt}, schnell.config);
  EXPECT_NE(message([&] { s.forward(x, ctx, pooled, t, img, txt, &g); }).find("no guidance embedding"),
            std::string::npos);

  FluxConfig c = FluxConfig::preset("flux.1-dev");
  EXPECT_TRUE(c.guidance_embeds);
  c.axes_dims_rope = {16, 56, 54};
  EXPECT_NE(message([&] { c.validate(); }).find("axes_dims_rope"), std::string::npos);
  EXPECT_THROW(FluxConfig::preset("flux.2"), Error);
  const std::string bad = testing::TempDir() + "/flux_bad_config.json";
  std::ofstream(bad) << R"({"num_layers": 2.5})";
  EXPECT_NE(message([&] { FluxConfig::from_json_file(bad); }).find("'num_layers' must be an integer"),
            std::string::npos);
  // An SD3 checkpoint is not taken for a FLUX one.
  EXPECT_FALSE(is_flux_transformer(model_dir("sd35_large_like")));
  EXPECT_NE(message([&] { open_flux_weights(model_dir("sd35_large_like")); }).find("not a FLUX transformer"),
            std::string::npos);
}

}  // namespace
}  // namespace paradit
