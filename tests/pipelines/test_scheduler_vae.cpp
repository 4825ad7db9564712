// The flow-matching scheduler's tables against diffusers for many step counts, and the VAE
// (decode, tiled decode, encode) against diffusers' AutoencoderKL.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "models/vae/autoencoder_kl.h"
#include "pipelines/schedulers/flow_match_euler.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

const std::string kPipeline = std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35/";

TEST(Scheduler, TablesMatchDiffusersExactly) {
  test::Fixture f("pipeline/schedules");
  const auto s = FlowMatchEulerScheduler::from_json_file(kPipeline + "scheduler/scheduler_config.json");
  EXPECT_EQ(s.shift(), 3.0);
  for (const auto& n : f.config()["steps"]) {
    const int steps = n.get<int>();
    const auto sched = s.schedule(steps);
    const Tensor t = f.checkpoint().get("timesteps_" + std::to_string(steps));
    const Tensor sig = f.checkpoint().get("sigmas_" + std::to_string(steps));
    ASSERT_EQ(static_cast<int64_t>(sched.timesteps.size()), t.numel());
    ASSERT_EQ(static_cast<int64_t>(sched.sigmas.size()), sig.numel());
    EXPECT_EQ(std::memcmp(sched.timesteps.data(), t.raw(), t.nbytes()), 0) << steps << " steps: timesteps differ";
    EXPECT_EQ(std::memcmp(sched.sigmas.data(), sig.raw(), sig.nbytes()), 0) << steps << " steps: sigmas differ";
  }
  EXPECT_THROW(s.schedule(0), Error);
}

// FLUX.1-dev (dynamic shift from the image sequence length) and schnell (shift 1) against
// FluxPipeline + diffusers' scheduler, bit for bit, for 1 to 50 steps and 60 to 6000 tokens.
TEST(Scheduler, FluxTablesMatchDiffusersExactly) {
  test::Fixture f("pipeline/flux_schedules");
  const std::string dir = std::string(PARADIT_FIXTURES_DIR) + "/pipeline/";
  const auto dev = FlowMatchEulerScheduler::from_json_file(dir + "flux_scheduler_dev/scheduler_config.json");
  const auto schnell = FlowMatchEulerScheduler::from_json_file(dir + "flux_scheduler_schnell/scheduler_config.json");
  EXPECT_TRUE(dev.dynamic_shifting());
  EXPECT_FALSE(schnell.dynamic_shifting());
  EXPECT_DOUBLE_EQ(dev.mu(256), 0.5);
  EXPECT_DOUBLE_EQ(dev.mu(4096), 1.15);
  int cases = 0;
  for (const auto& c : f.config()["cases"]) {
    const std::string key = c.get<std::string>();
    const auto under = key.find('_'), second = key.find('_', under + 1);
    const int steps = std::stoi(key.substr(under + 1, second - under - 1));
    const int64_t seq = std::stoll(key.substr(second + 1));
    const auto sched = (key.rfind("dev", 0) == 0 ? dev : schnell).flux_schedule(steps, seq);
    const Tensor t = f.checkpoint().get("timesteps_" + key), sig = f.checkpoint().get("sigmas_" + key);
    ASSERT_EQ(static_cast<int64_t>(sched.timesteps.size()), t.numel()) << key;
    ASSERT_EQ(static_cast<int64_t>(sched.sigmas.size()), sig.numel()) << key;
    EXPECT_EQ(std::memcmp(sched.timesteps.data(), t.raw(), t.nbytes()), 0) << key << ": timesteps differ";
    EXPECT_EQ(std::memcmp(sched.sigmas.data(), sig.raw(), sig.nbytes()), 0) << key << ": sigmas differ";
    ++cases;
  }
  EXPECT_EQ(cases, 32);
  EXPECT_THROW(dev.schedule(28), Error);  // SD3's tables from a dynamic-shift config: an error
  EXPECT_THROW(dev.flux_schedule(0, 1024), Error);
}

TEST(Scheduler, EulerStep) {
  Tensor x = Tensor::from_vector({3}, {1.f, 2.f, 3.f});
  FlowMatchEulerScheduler::step(x, Tensor::from_vector({3}, {1.f, -1.f, 0.5f}), 1.f, 0.75f);
  EXPECT_EQ(x.to_f32_vector(), (std::vector<float>{0.75f, 2.25f, 2.875f}));
}

TEST(Vae, DecodeTiledDecodeAndEncodeMatchDiffusers) {
  test::Fixture io("pipeline/vae_io");
  const auto vae = AutoencoderKL::load_folder(kPipeline + "vae");
  EXPECT_TRUE(vae.has_encoder());
  const Tensor z = io.f32("in.z");
  EXPECT_MATCHES("vae decode", vae.decode(z), io.f32("out.decoded"));
  EXPECT_MATCHES("vae tiled decode (6 tiles)", vae.decode_tiled(z), io.f32("out.tiled"));
  EXPECT_MATCHES("vae encode (mode)", vae.encode_mean(io.f32("in.image")), io.f32("out.mean"));
  EXPECT_THROW(vae.decode(Tensor::zeros({1, 4, 8, 8})), Error);
  EXPECT_THROW(vae.encode_mean(Tensor::zeros({1, 3, 60, 64})), Error);
}

TEST(Vae, RoundsToBytesLikeDiffusers) {
  // (x * 0.5 + 0.5).clamp(0, 1) * 255, rounded half to even: 0.5 * 255 = 127.5 -> 128.
  const Tensor img = Tensor::from_vector({1, 3, 1, 2}, {-2.f, 1.f, 0.f, 2.f, -1.f, 1.f / 255.f});
  const auto rgb = to_rgb8(img)[0];
  EXPECT_EQ(rgb, (std::vector<uint8_t>{0, 128, 0, 255, 255, 128}));
}

}  // namespace
}  // namespace paradit
