// Linear, norms, GELU projections and FeedForward against the diffusers/torch modules.
#include <gtest/gtest.h>

#include "core/error.h"
#include "layers/feed_forward.h"
#include "layers/linear.h"
#include "layers/norms.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

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
