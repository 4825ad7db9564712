// The whole tiny pipeline against diffusers' StableDiffusion3Pipeline: non-square 192x128,
// 4 steps, guidance 4.5, a negative prompt, seed 42 with a CPU generator. Every step's latents
// must match (PCC >= 0.9999) and the final image be within 2 levels per pixel.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>

#include "core/error.h"
#include "pipelines/sd35/pipeline.h"
#include "support/compare.h"
#include "support/fixture.h"
#include "support/pipeline_requests.h"

namespace paradit {
namespace {

const std::string kPipeline = std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35";

PipelineOptions tiny_pipeline(bool no_t5) {
  PipelineOptions o;
  o.model = kPipeline;
  o.no_t5 = no_t5;
  return o;
}

GenerateRequest reference_request(const test::Fixture& f) { return test::sd3_reference_request(f); }

void expect_matches_diffusers(DType dtype, double min_pcc, int max_levels,
                              const std::string& fixture = "pipeline/generate_io", const std::string& model = kPipeline) {
  test::Fixture f(fixture);
  PipelineOptions o;
  o.model = model;
  o.dtype = dtype;
  const auto pipe = Sd35Pipeline::load(o);
  const auto result = pipe.generate(reference_request(f), {}, nullptr, true);
  ASSERT_EQ(static_cast<int>(result.step_latents.size()), f.config()["num_inference_steps"].get<int>());
  test::expect_workspace_served(result, f.config()["num_inference_steps"].get<int>());
  for (size_t i = 0; i < result.step_latents.size(); ++i)
    EXPECT_TRUE(test::close_enough("latents after step " + std::to_string(i), result.step_latents[i],
                                   f.f32("out.latents_" + std::to_string(i)), min_pcc, 1.0));
  const Tensor want = f.checkpoint().get("out.image");  // [H, W, 3] uint8
  ASSERT_EQ(static_cast<int64_t>(result.image.pixels.size()), want.numel());
  int worst = 0;
  int64_t over = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const int d = std::abs(static_cast<int>(result.image.pixels[static_cast<size_t>(i)]) -
                           static_cast<int>(want.data<uint8_t>()[i]));
    worst = std::max(worst, d);
    if (d > max_levels) ++over;
  }
  std::printf("  [image] %s: max difference %d levels, %lld values over %d\n", dtype_name(dtype), worst,
              static_cast<long long>(over), max_levels);
  EXPECT_LE(worst, max_levels);
}

TEST(Generate, MatchesDiffusersF32) { expect_matches_diffusers(DType::F32, 0.9999, 2); }

// The bf16-GEMM path: the same run, with every linear layer's product in bf16.
TEST(Generate, Bf16PathStaysCloseToDiffusers) { expect_matches_diffusers(DType::BF16, 0.999, 6); }

// The bundled trained model (models/tiny-shapes: 4 latent channels, a 3-level VAE with 8 groups,
// T5 at 32 tokens) against diffusers at its defaults, 20 steps.
TEST(Generate, TrainedTinyShapesMatchesDiffusers) {
  expect_matches_diffusers(DType::F32, 0.9999, 2, "pipeline/tiny_shapes_io", std::string(PARADIT_SOURCE_DIR) + "/models/tiny-shapes");
}

TEST(Generate, InitialLatentsAreTorchRandn) {
  test::Fixture f("pipeline/generate_io");
  const auto pipe = Sd35Pipeline::load(tiny_pipeline(false));
  // Same run from the initial latents diffusers drew: identical results to the seeded run.
  GenerateRequest r = reference_request(f);
  r.steps = 1;
  const auto seeded = pipe.generate(r);
  r.init_latents = f.f32("in.initial_latents");
  r.seed = 999;  // ignored when latents are given
  const auto given = pipe.generate(r);
  EXPECT_EQ(seeded.image.pixels, given.image.pixels);
}

TEST(Generate, GuidanceOneSkipsTheUnconditionalPass) {
  const auto pipe = Sd35Pipeline::load(tiny_pipeline(true));
  GenerateRequest r;
  r.prompt = "a cat";
  r.width = 64;
  r.height = 64;
  r.steps = 2;
  r.guidance = 1.0;
  const auto a = pipe.generate(r);
  r.negative_prompt = "something else entirely";  // must not matter without guidance
  const auto b = pipe.generate(r);
  EXPECT_EQ(a.image.pixels, b.image.pixels);
  EXPECT_EQ(a.image.width, 64);
}

TEST(Generate, OriginalSingleFileGivesTheSameImage) {
  // sd3.5_large.safetensors-style: transformer (model.diffusion_model.*) and VAE
  // (first_stage_model.*) in one file with no config, text encoders given separately.
  const PipelineOptions folder = tiny_pipeline(true);
  PipelineOptions single = folder;
  single.model = std::string(PARADIT_FIXTURES_DIR) + "/models/tiny_sd35_single_file.safetensors";
  single.clip_l = kPipeline + "/text_encoder";
  single.clip_g = kPipeline + "/text_encoder_2";
  GenerateRequest r;
  r.prompt = "a lighthouse at dusk";
  r.negative_prompt = "blurry";
  r.width = 96;
  r.height = 64;
  r.steps = 3;
  r.guidance = 4.0;
  r.seed = 3;
  const auto a = Sd35Pipeline::load(folder).generate(r);
  const auto b = Sd35Pipeline::load(single).generate(r);
  EXPECT_EQ(a.image.pixels, b.image.pixels);
  EXPECT_EQ(Sd35Pipeline::load(single).vae_config().block_out_channels,
            Sd35Pipeline::load(folder).vae_config().block_out_channels);
}

// release_after_use frees the text encoders (reloaded for the next request), loads the
// transformer only once the prompt is encoded and drops it after denoising (so that T5 and the
// transformer's packed weights never share the memory); images must not change, request after
// request. Without it, load() loads the transformer and requests never reload anything.
TEST(Generate, ReleasingStagesChangesNoImage) {
  PipelineOptions keep = tiny_pipeline(false), release = keep;
  release.release_after_use = true;
  GenerateRequest r;
  r.prompt = "a lighthouse at dusk";
  r.width = 64;
  r.height = 64;
  r.steps = 2;
  r.seed = 11;
  auto loaded = [](const GenerateResult& result, const std::string& what) {
    bool found = false;
    for (const auto& e : result.timings.events()) found |= e.name == what;
    return found;
  };
  auto start = [](const GenerateResult& result, const std::string& what) {
    for (const auto& e : result.timings.events())
      if (e.name == what) return e.start_s;
    return -1.0;
  };
  const auto want = Sd35Pipeline::load(keep).generate(r);
  EXPECT_FALSE(loaded(want, "load_transformer")) << "kept stages load with the pipeline";
  EXPECT_FALSE(loaded(want, "load_text_encoders"));
  const auto pipe = Sd35Pipeline::load(release);
  for (int i = 0; i < 2; ++i) {
    const auto got = pipe.generate(r);
    EXPECT_EQ(got.image.pixels, want.image.pixels) << "request " << i;
    EXPECT_EQ(loaded(got, "load_text_encoders"), i > 0) << "the encoders are reloaded for every request after the first";
    EXPECT_TRUE(loaded(got, "load_transformer")) << "request " << i;
    EXPECT_GT(start(got, "load_transformer"), start(got, "clip_encoding")) << "the transformer loads after encoding";
  }
}

TEST(Generate, BadRequestsNameTheField) {
  const auto pipe = Sd35Pipeline::load(tiny_pipeline(true));
  auto message = [&](GenerateRequest r) {
    try {
      pipe.validate(r);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  GenerateRequest r;
  r.width = 100;
  EXPECT_NE(message(r).find("width"), std::string::npos);
  r = {};
  r.height = 4096;
  EXPECT_NE(message(r).find("largest"), std::string::npos);
  r = {};
  r.width = r.height = 64;
  r.steps = -3;
  EXPECT_NE(message(r).find("steps"), std::string::npos);
  r.steps = 2;
  r.guidance = 1e9;
  EXPECT_NE(message(r).find("guidance"), std::string::npos);
}

TEST(Generate, CancelStopsBetweenSteps) {
  const auto pipe = Sd35Pipeline::load(tiny_pipeline(true));
  GenerateRequest r;
  r.prompt = "a cat";
  r.width = r.height = 64;
  r.steps = 10;
  std::atomic<bool> cancel{false};
  int seen = 0;
  EXPECT_THROW(pipe.generate(r,
                             [&](const StepInfo& s) {
                               seen = s.step;
                               if (s.step == 3) cancel = true;
                             },
                             &cancel),
               CancelledError);
  EXPECT_EQ(seen, 3);
}

}  // namespace
}  // namespace paradit
