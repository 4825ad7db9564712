// The tiny pipelines with every model on the GPU (--device cuda):
// every step's latents and the image against diffusers (the fixtures the CPU tests use, with
// the CPU tests' bars), and the GPU image against the CPU image of the same dtype. Skips
// without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda/gpu_test.h"
#include "pipelines/flux/pipeline.h"
#include "pipelines/sd35/pipeline.h"
#include "support/compare.h"
#include "support/fixture.h"
#include "support/pipeline_requests.h"

namespace paradit {
namespace {


int max_level_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  int worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// The step latents against the fixture's, and the image: reference pixels given as uint8.
void expect_run(const std::string& what, const GenerateResult& gpu, const GenerateResult& cpu, const test::Fixture& f,
                const std::function<std::string(size_t)>& latent_name, const std::vector<uint8_t>& want_image,
                double min_pcc, int max_levels) {
  ASSERT_FALSE(gpu.step_latents.empty());
  for (size_t i = 0; i < gpu.step_latents.size(); ++i)
    EXPECT_TRUE(test::close_enough(what + " GPU latents after step " + std::to_string(i), gpu.step_latents[i],
                                   f.f32(latent_name(i)), min_pcc, 1.0));
  const int vs_diffusers = max_level_difference(gpu.image.pixels, want_image);
  const int vs_cpu = max_level_difference(gpu.image.pixels, cpu.image.pixels);
  std::printf("  [image] %s on the GPU: %d levels from diffusers, %d from the CPU\n", what.c_str(), vs_diffusers, vs_cpu);
  EXPECT_LE(vs_diffusers, max_levels);
  EXPECT_LE(vs_cpu, 3);
}

TEST(CudaPipeline, TinySd35MatchesDiffusersAndTheCpu) {
  REQUIRE_GPU();
  const test::Fixture f("pipeline/generate_io");
  const Tensor want = f.checkpoint().get("out.image");  // [H, W, 3] uint8
  const std::vector<uint8_t> want_image(want.data<uint8_t>(), want.data<uint8_t>() + want.numel());
  for (DType dtype : {DType::F32, DType::BF16}) {
    PipelineOptions o;
    o.model = test::fixtures_dir() + "/tiny-sd35";
    o.dtype = dtype;
    const auto cpu = Sd35Pipeline::load(o).generate(test::sd3_reference_request(f), {}, nullptr, true);
    o.device = Device::CUDA;
    const auto gpu = Sd35Pipeline::load(o).generate(test::sd3_reference_request(f), {}, nullptr, true);
    expect_run(std::string("tiny-sd35 ") + dtype_name(dtype), gpu, cpu, f,
               [](size_t i) { return "out.latents_" + std::to_string(i); }, want_image,
               dtype == DType::F32 ? 0.9999 : 0.999, dtype == DType::F32 ? 2 : 6);
  }
}

TEST(CudaPipeline, TinyFluxMatchesDiffusersAndTheCpu) {
  REQUIRE_GPU();
  for (const std::string run : {"dev", "true_cfg", "schnell"}) {
    const bool schnell = run == "schnell";
    const test::Fixture f(schnell ? "pipeline/flux_schnell_pipeline_io" : "pipeline/flux_pipeline_io");
    const Tensor want = f.f32("out." + run + ".image");  // [1, H, W, 3] floats in [0, 1]
    std::vector<uint8_t> want_image;
    for (int64_t i = 0; i < want.numel(); ++i)
      want_image.push_back(static_cast<uint8_t>(std::nearbyint(want.data<float>()[i] * 255.f)));
    for (DType dtype : {DType::F32, DType::BF16}) {
      if (run != "dev" && dtype == DType::BF16) continue;
      PipelineOptions o;
      o.model = test::fixtures_dir() + (schnell ? "/tiny-flux-schnell" : "/tiny-flux");
      o.dtype = dtype;
      const auto cpu = FluxPipeline::load(o).generate(test::flux_reference_request(f, run), {}, nullptr, true);
      o.device = Device::CUDA;
      const auto gpu = FluxPipeline::load(o).generate(test::flux_reference_request(f, run), {}, nullptr, true);
      expect_run("tiny-flux " + run + " " + dtype_name(dtype), gpu, cpu, f,
                 [&](size_t i) { return "out." + run + ".latents_" + std::to_string(i); }, want_image,
                 dtype == DType::F32 ? 0.9999 : 0.999, dtype == DType::F32 ? 2 : 6);
    }
  }
}

}  // namespace
}  // namespace paradit
