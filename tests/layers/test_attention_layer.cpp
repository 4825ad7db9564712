// diffusers Attention with JointAttnProcessor2_0, in the four forms SD3 models use.
#include <gtest/gtest.h>

#include "core/error.h"
#include "layers/attention.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

Attention::Config config_of(const Fixture& f) {
  Attention::Config c;
  c.query_dim = f.config()["query_dim"];
  c.heads = f.config()["heads"];
  c.head_dim = f.config()["head_dim"];
  c.added_kv_proj_dim = f.config()["added_kv_proj_dim"];
  c.context_pre_only = f.config()["context_pre_only"];
  c.qk_norm = f.config()["qk_norm"];
  return c;
}

class JointAttention : public ::testing::TestWithParam<const char*> {};

TEST_P(JointAttention, MatchesDiffusers) {
  Fixture f(std::string("layers/") + GetParam());
  const auto attn = Attention::load(f.context(), "", config_of(f));
  const Tensor context = f.f32("in.context");
  const auto out = attn.forward(f.f32("in.x"), &context);
  EXPECT_MATCHES(std::string(GetParam()) + " image", out.hidden, f.f32("out.y"));
  ASSERT_TRUE(out.context.has_value());
  EXPECT_MATCHES(std::string(GetParam()) + " prompt", *out.context, f.f32("out.context"));
}

INSTANTIATE_TEST_SUITE_P(Sd3Forms, JointAttention,
                         ::testing::Values("attention_joint_rms", "attention_joint", "attention_joint_pre_only"));

TEST(SelfAttention, MatchesDiffusersAttn2) {
  Fixture f("layers/attention_self_rms");
  const auto attn = Attention::load(f.context(), "", config_of(f));
  const auto out = attn.forward(f.f32("in.x"), nullptr);
  EXPECT_MATCHES("attention_self_rms", out.hidden, f.f32("out.y"));
  EXPECT_FALSE(out.context.has_value());
}

TEST(SelfAttention, BadInputsAreErrors) {
  Fixture f("layers/attention_self_rms");
  const auto attn = Attention::load(f.context(), "", config_of(f));
  const Tensor ctx = Tensor::zeros({2, 3, 64});
  EXPECT_THROW(attn.forward(f.f32("in.x"), &ctx), Error);  // no added projections
  EXPECT_THROW(attn.forward(Tensor::zeros({2, 5, 32}), nullptr), Error);
  auto c = config_of(f);
  c.qk_norm = "layer_norm";
  EXPECT_THROW(Attention::load(f.context(), "", c), Error);
  c = config_of(f);
  c.added_kv_proj_dim = 64;  // the checkpoint has no add_q_proj
  EXPECT_THROW(Attention::load(f.context(), "", c), Error);
}

}  // namespace
}  // namespace paradit
