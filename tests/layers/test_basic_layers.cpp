// Linear, norms, GELU projections and FeedForward against the diffusers/torch modules.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "layers/feed_forward.h"
#include "layers/linear.h"
#include "layers/norms.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

// This process's resident file pages (RssFile), in bytes.
int64_t resident_file_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  int64_t kb = -1;
  while (status >> key)
    if (key == "RssFile:") {
      status >> kb;
      break;
    }
  return kb * 1024;
}

// Stacking q/k/v from a checkpoint: where the parts are not back to back in the file the stack
// is a copy, and the parts' mapped pages leave the resident set (SD3.5 Large kept 2.7 GB of them);
// where they are, the stack is a view over them, and their pages stay.
TEST(Layers, StackedCopyReleasesThePartsPages) {
  const auto dir = std::filesystem::temp_directory_path() / ("paradit_stacked_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const int64_t rows = 512, cols = 1024;  // 1 MiB a part in bf16
  auto part = [&](int seed) {
    Tensor t = Tensor::empty({rows, cols});
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>((i * 7 + seed) % 13) / 8.f;
    return t.to(DType::BF16);
  };
  const Tensor pad = Tensor::zeros({64}, DType::BF16);
  const std::string apart = (dir / "apart.safetensors").string(), together = (dir / "together.safetensors").string();
  save_safetensors(apart, {{"q", part(1)}, {"pad1", pad}, {"k", part(2)}, {"pad2", pad}, {"v", part(3)}});
  save_safetensors(together, {{"q", part(1)}, {"k", part(2)}, {"v", part(3)}});
  LoadContext ctx;
  ctx.compute = DType::BF16;
  ctx.pack_weights = false;
  for (const bool adjacent : {false, true}) {
    const Checkpoint ck = Checkpoint::open(adjacent ? together : apart);
    std::vector<Linear> parts;
    float sum = 0.f;
    for (const char* name : {"q", "k", "v"}) {
      const Tensor w = ck.get(name);
      ASSERT_TRUE(w.file_backed());
      sum += w.to(DType::F32).data<float>()[w.numel() - 1];  // every page read: resident
      parts.push_back(Linear::from(ctx, w, std::nullopt));
    }
    const int64_t before = resident_file_bytes();
    const Linear stacked = Linear::stacked(parts, /*pack=*/false);
    const int64_t released = before - resident_file_bytes();
    if (adjacent) EXPECT_LT(released, 1 << 20) << "a view must keep its pages";
    else EXPECT_GT(released, 5 * (1 << 19)) << "a copy releases the parts' 3 MiB";  // > 2.5 MiB
    // Either way the stack holds the parts' values.
    const Tensor x = part(4).rows(0, 3);
    const Tensor y = stacked.forward(x, DType::F32);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(y.slice(1, i * rows, (i + 1) * rows).contiguous().to_f32_vector(),
                parts[static_cast<size_t>(i)].forward(x, DType::F32).to_f32_vector());
    EXPECT_GT(sum, 0.f);
  }
  std::filesystem::remove_all(dir);
}

TEST(Layers, Linear) {
  Fixture f("layers/linear");
  const auto lin = Linear::load(f.context(), "", f.config()["in"], f.config()["out"]);
  EXPECT_MATCHES("nn.Linear", lin.forward(f.f32("in.x")), f.f32("out.y"));
}

TEST(Layers, LayerNorm) {
  Fixture f("layers/layer_norm");
  const float eps = f.config()["eps"];
  EXPECT_MATCHES("nn.LayerNorm", LayerNorm::load(f.context(), "", 64, eps, true).forward(f.f32("in.x")),
                 f.f32("out.y"));
  EXPECT_MATCHES("nn.LayerNorm no affine", LayerNorm::plain(eps).forward(f.f32("in.x")), f.f32("out.plain"));
}

TEST(Layers, RmsNorm) {
  Fixture f("layers/rms_norm");
  EXPECT_MATCHES("diffusers RMSNorm", RMSNorm::load(f.context(), "", 64, f.config()["eps"], true).forward(f.f32("in.x")),
                 f.f32("out.y"));
}

TEST(Layers, GroupNorm) {
  Fixture f("layers/group_norm");
  const auto gn = GroupNorm::load(f.context(), "", f.config()["groups"], f.config()["channels"], f.config()["eps"]);
  EXPECT_MATCHES("nn.GroupNorm", gn.forward(f.f32("in.x")), f.f32("out.y"));
}

TEST(Layers, GeluProjection) {
  for (const char* name : {"layers/gelu_none", "layers/gelu_tanh"}) {
    Fixture f(name);
    const bool tanh = std::string(name).find("tanh") != std::string::npos;
    const auto g = GeluProjection::load(f.context(), "", f.config()["in"], f.config()["out"], tanh);
    EXPECT_MATCHES(name, g.forward(f.f32("in.x")), f.f32("out.y"));
  }
}

TEST(Layers, FeedForward) {
  for (const char* act : {"gelu", "gelu-approximate"}) {
    Fixture f(std::string("layers/feed_forward_") + act);
    FeedForward::Config config;
    config.dim = f.config()["dim"];
    config.activation = act;
    EXPECT_MATCHES(std::string("FeedForward ") + act, FeedForward::load(f.context(), "", config).forward(f.f32("in.x")),
                   f.f32("out.y"));
  }
}

TEST(Layers, WrongWeightShapeNamesTheTensor) {
  Fixture f("layers/linear");
  try {
    Linear::load(f.context(), "", 48, 41);
    FAIL() << "expected a shape error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[40, 48]"), std::string::npos) << msg;
  }
  EXPECT_THROW(Linear::load(f.context(), "missing_prefix", 48, 40), Error);
  FeedForward::Config bad;
  bad.dim = 48;
  bad.activation = "swiglu";
  EXPECT_THROW(FeedForward::load(f.context(), "", bad), Error);
}

TEST(Layers, Bf16ComputeLoadsWeightsAsBf16) {
  Fixture f("layers/linear");
  const auto lin = Linear::load(f.context(DType::BF16), "", 48, 40);
  const Tensor y = lin.forward(f.f32("in.x").to(DType::BF16));
  EXPECT_TRUE(test::close_enough("nn.Linear bf16", y.to(DType::F32), f.f32("out.y"), 0.9999, 2e-2));
}

}  // namespace
}  // namespace paradit
