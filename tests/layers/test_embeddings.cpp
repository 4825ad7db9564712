// PatchEmbed, the timestep + pooled-text embedding, and the adaptive layer norms.
#include <gtest/gtest.h>

#include "core/error.h"
#include "layers/ada_layer_norm.h"
#include "layers/embeddings.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

TEST(Embeddings, PatchEmbedCropsPositionTable) {
  Fixture f("layers/patch_embed");
  PatchEmbed::Config c;
  c.patch_size = f.config()["patch_size"];
  c.in_channels = f.config()["in_channels"];
  c.embed_dim = f.config()["embed_dim"];
  c.pos_embed_max_size = f.config()["pos_embed_max_size"];
  const auto pe = PatchEmbed::load(f.context(), "", c);
  EXPECT_MATCHES("PatchEmbed 4x7 patches (non-square)", pe.forward(f.f32("in.latent")), f.f32("out.y"));
  EXPECT_MATCHES("PatchEmbed full table", pe.forward(f.f32("in.square")), f.f32("out.square"));
  EXPECT_THROW(pe.forward(Tensor::zeros({1, 4, 26, 4})), Error);  // 13 patches > max 12
  EXPECT_THROW(pe.forward(Tensor::zeros({1, 4, 7, 8})), Error);   // not a multiple of the patch
  EXPECT_THROW(pe.forward(Tensor::zeros({1, 3, 8, 8})), Error);   // wrong channels
}

TEST(Embeddings, TimestepSinusoid) {
  Fixture f("layers/timestep_text_embed");
  const Tensor t = f.f32("in.timestep");
  EXPECT_MATCHES("Timesteps(256, flip_sin_to_cos)", timestep_sinusoid(t.to_f32_vector(), 256), f.f32("out.sinusoid"));
}

TEST(Embeddings, CombinedTimestepTextProj) {
  Fixture f("layers/timestep_text_embed");
  const auto emb =
      CombinedTimestepTextProjEmbeddings::load(f.context(), "", f.config()["embedding_dim"], f.config()["pooled_projection_dim"]);
  EXPECT_MATCHES("CombinedTimestepTextProjEmbeddings", emb.forward(f.f32("in.timestep").to_f32_vector(), f.f32("in.pooled")),
                 f.f32("out.y"));
  EXPECT_THROW(emb.forward({1.f}, f.f32("in.pooled")), Error);
}

TEST(AdaNorm, Zero) {
  Fixture f("layers/ada_layer_norm_zero");
  const auto ada = AdaLayerNormZero::load(f.context(), "", f.config()["dim"]);
  const auto out = ada.forward(f.f32("in.x"), f.f32("in.emb"));
  EXPECT_MATCHES("AdaLayerNormZero x", out.x, f.f32("out.x"));
  EXPECT_MATCHES("AdaLayerNormZero gate_msa", out.gate_msa, f.f32("out.gate_msa"));
  EXPECT_MATCHES("AdaLayerNormZero shift_mlp", out.shift_mlp, f.f32("out.shift_mlp"));
  EXPECT_MATCHES("AdaLayerNormZero scale_mlp", out.scale_mlp, f.f32("out.scale_mlp"));
  EXPECT_MATCHES("AdaLayerNormZero gate_mlp", out.gate_mlp, f.f32("out.gate_mlp"));
}

TEST(AdaNorm, Continuous) {
  Fixture f("layers/ada_layer_norm_continuous");
  const auto ada = AdaLayerNormContinuous::load(f.context(), "", f.config()["dim"], f.config()["conditioning_dim"]);
  EXPECT_MATCHES("AdaLayerNormContinuous", ada.forward(f.f32("in.x"), f.f32("in.cond")), f.f32("out.y"));
}

}  // namespace
}  // namespace paradit

namespace paradit {
namespace {

TEST(AdaNorm, ZeroX) {
  test::Fixture f("layers/ada_layer_norm_zero_x");
  const auto ada = AdaLayerNormZeroX::load(f.context(), "", f.config()["dim"]);
  const auto out = ada.forward(f.f32("in.x"), f.f32("in.emb"));
  EXPECT_MATCHES("SD35AdaLayerNormZeroX x", out.x, f.f32("out.x"));
  EXPECT_MATCHES("SD35AdaLayerNormZeroX gate_msa", out.gate_msa, f.f32("out.gate_msa"));
  EXPECT_MATCHES("SD35AdaLayerNormZeroX shift_mlp", out.shift_mlp, f.f32("out.shift_mlp"));
  EXPECT_MATCHES("SD35AdaLayerNormZeroX scale_mlp", out.scale_mlp, f.f32("out.scale_mlp"));
  EXPECT_MATCHES("SD35AdaLayerNormZeroX gate_mlp", out.gate_mlp, f.f32("out.gate_mlp"));
  EXPECT_MATCHES("SD35AdaLayerNormZeroX x2", out.x2, f.f32("out.x2"));
  EXPECT_MATCHES("SD35AdaLayerNormZeroX gate_msa2", out.gate_msa2, f.f32("out.gate_msa2"));
}

}  // namespace
}  // namespace paradit
