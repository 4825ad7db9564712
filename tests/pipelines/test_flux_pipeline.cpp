// The tiny FLUX pipeline (tests/fixtures/tiny-flux, dev-like) against diffusers' FluxPipeline:
// 96x64, 4 steps, guidance 3.5 into the guidance embedding, seed 7 with a CPU generator, T5 at
// 32 tokens; and the same with true CFG (negative prompt, scale 2); and a schnell-like folder
// (tests/fixtures/tiny-flux-schnell: no guidance embedding, shift 1, no dynamic shift). The initial packed latents
// must equal diffusers', every step's latents match (PCC >= 0.9999 in f32) and the image be
// within 2 levels per value.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/torch_rng.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "paradit/paradit.h"
#include "pipelines/flux/pipeline.h"
#include "support/compare.h"
#include "support/fixture.h"
#include "support/pipeline_requests.h"

namespace paradit {
namespace {

const std::string kPipeline = std::string(PARADIT_FIXTURES_DIR) + "/tiny-flux";

GenerateRequest reference_request(const test::Fixture& f, const std::string& run) {
  return test::flux_reference_request(f, run);
}

void expect_matches(const std::string& run, DType dtype, double min_pcc, int max_levels) {
  const bool schnell = run == "schnell";
  test::Fixture f(schnell ? "pipeline/flux_schnell_pipeline_io" : "pipeline/flux_pipeline_io");
  PipelineOptions o;
  o.model = schnell ? kPipeline + "-schnell" : kPipeline;
  o.dtype = dtype;
  const auto pipe = FluxPipeline::load(o);
  EXPECT_EQ(pipe.defaults().name, schnell ? "flux.1-schnell" : "flux.1-dev");
  EXPECT_EQ(pipe.defaults().steps, schnell ? 4 : 28);
  const auto result = pipe.generate(reference_request(f, run), {}, nullptr, true);
  ASSERT_EQ(static_cast<int>(result.step_latents.size()), f.config()["steps"].get<int>());
  test::expect_workspace_served(result, f.config()["steps"].get<int>());
  for (size_t i = 0; i < result.step_latents.size(); ++i)
    EXPECT_TRUE(test::close_enough(run + " latents after step " + std::to_string(i), result.step_latents[i],
                                   f.f32("out." + run + ".latents_" + std::to_string(i)), min_pcc, 1.0));
  const Tensor want = f.f32("out." + run + ".image");  // [1, H, W, 3] floats in [0, 1]
  ASSERT_EQ(static_cast<int64_t>(result.image.pixels.size()), want.numel());
  int worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const int expected = static_cast<int>(std::nearbyint(want.data<float>()[i] * 255.f));
    worst = std::max(worst, std::abs(static_cast<int>(result.image.pixels[static_cast<size_t>(i)]) - expected));
  }
  std::printf("  [image] %s %s: max difference %d levels\n", run.c_str(), dtype_name(dtype), worst);
  EXPECT_LE(worst, max_levels);
}

TEST(FluxPipeline, DevMatchesDiffusersF32) { expect_matches("dev", DType::F32, 0.9999, 2); }
TEST(FluxPipeline, TrueCfgMatchesDiffusersF32) { expect_matches("true_cfg", DType::F32, 0.9999, 2); }
TEST(FluxPipeline, Bf16PathStaysCloseToDiffusers) { expect_matches("dev", DType::BF16, 0.999, 6); }
TEST(FluxPipeline, SchnellMatchesDiffusersF32) { expect_matches("schnell", DType::F32, 0.9999, 2); }

// The initial latents as diffusers draws them for this seed, packed 2x2; and pack/unpack invert.
TEST(FluxPipeline, InitialLatentsArePackedTorchRandn) {
  test::Fixture f("pipeline/flux_pipeline_io");
  Tensor raw = Tensor::empty({1, 16, 8, 12});
  TorchGenerator(f.config()["seed"].get<uint64_t>()).randn(raw.data<float>(), raw.numel());
  const Tensor packed = flux_pack_latents(raw);
  EXPECT_EQ(packed.to_f32_vector(), f.f32("out.initial_latents").to_f32_vector());
  EXPECT_EQ(flux_unpack_latents(packed, 8, 12).to_f32_vector(), raw.to_f32_vector());
  EXPECT_THROW(flux_pack_latents(Tensor::zeros({1, 16, 7, 12})), Error);
}

// BFL's single files in place of the folder's parts: the transformer (--transformer, its config
// from the folder) gives the same latents bit for bit; an ae.safetensors-layout VAE (the
// original layout, no prefix, no config) takes FLUX.1's latent factors and decodes as the folder's.
TEST(FluxPipeline, SingleFileTransformerAndVae) {
  test::Fixture f("pipeline/flux_pipeline_io");
  PipelineOptions o;
  o.model = kPipeline;
  o.dtype = DType::F32;
  GenerateRequest r = reference_request(f, "dev");
  r.steps = 2;
  const auto folder = FluxPipeline::load(o).generate(r, {}, nullptr, true);
  o.transformer = std::string(PARADIT_FIXTURES_DIR) + "/models/tiny_flux_transformer_bfl.safetensors";
  const auto single = FluxPipeline::load(o).generate(r, {}, nullptr, true);
  for (size_t i = 0; i < folder.step_latents.size(); ++i)
    EXPECT_EQ(single.step_latents[i].to_f32_vector(), folder.step_latents[i].to_f32_vector()) << "step " << i;
  EXPECT_EQ(single.image.pixels, folder.image.pixels);

  // ae.safetensors: tiny-sd35's VAE in the original layout, without the first_stage_model. prefix.
  const Checkpoint sd3 = Checkpoint::open(std::string(PARADIT_FIXTURES_DIR) + "/models/tiny_sd35_single_file.safetensors");
  NamedTensors ae;
  for (const auto& name : sd3.names())
    if (name.rfind("first_stage_model.", 0) == 0) ae.push_back({name.substr(18), sd3.get(name)});
  const std::string ae_path = testing::TempDir() + "/paradit_flux_ae.safetensors";
  save_safetensors(ae_path, ae);
  const auto vae = AutoencoderKL::load_from_single_file(ae_path, std::make_pair(kFluxVaeScaling, kFluxVaeShift));
  ASSERT_TRUE(vae.has_value());
  EXPECT_EQ(vae->config().scaling_factor, 0.3611f);
  EXPECT_EQ(vae->config().shift_factor, 0.1159f);
  const auto reference = AutoencoderKL::load_folder(kPipeline + "/vae");
  Tensor z = Tensor::empty({1, 16, 4, 6});
  TorchGenerator(3).randn(z.data<float>(), z.numel());
  EXPECT_MATCHES("ae.safetensors decode", vae->decode(z), reference.decode(z));
  o.vae = ae_path;
  EXPECT_EQ(FluxPipeline::load(o).generate(r).image.width, r.width);  // the pipeline takes the file
  std::remove(ae_path.c_str());
}

TEST(FluxPipeline, DetectionAndBadRequests) {
  EXPECT_TRUE(is_flux_pipeline(kPipeline));
  EXPECT_FALSE(is_flux_pipeline(std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35"));
  PipelineOptions o;
  o.model = kPipeline;
  const auto pipe = FluxPipeline::load(o);
  GenerateRequest r;
  r.prompt = "x";
  r.width = 72;  // not a multiple of 16
  r.height = 64;
  EXPECT_THROW(pipe.validate(r), Error);
  r.width = 64;
  r.true_cfg = -1;
  EXPECT_THROW(pipe.validate(r), Error);
  r.true_cfg = 1;
  r.max_sequence_length = 513;
  EXPECT_THROW(pipe.validate(r), Error);
  r.max_sequence_length = 0;
  EXPECT_NO_THROW(pipe.validate(r));
  o.no_t5 = true;
  EXPECT_THROW(FluxPipeline::load(o), Error);
}

// The PNG's parameters (AUTOMATIC1111's infotext) name FLUX's guidance as Forge does: the
// distilled guidance is not classifier-free guidance.
TEST(FluxPipeline, InfotextNamesTheDistilledGuidance) {
  api::LoadOptions o;
  o.model = kPipeline;
  o.dtype = "f32";
  const auto pipe = api::Pipeline::load(o);
  api::Request r;
  r.prompt = "a red circle";
  r.width = 64;
  r.height = 48;
  r.steps = 1;
  r.guidance = 4.5;
  r.seed = 3;
  const std::string text = pipe->generate(r).image.parameters;
  EXPECT_NE(text.find("CFG scale: 1, Distilled CFG Scale: 4.5"), std::string::npos) << text;
  r.negative_prompt = "blue";
  r.true_cfg = 2;
  const std::string with_cfg = pipe->generate(r).image.parameters;
  EXPECT_NE(with_cfg.find("CFG scale: 2, Distilled CFG Scale: 4.5"), std::string::npos) << with_cfg;
}

}  // namespace
}  // namespace paradit
