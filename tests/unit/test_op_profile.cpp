// The op profile behind `bench transformer --breakdown`: GEMMs and attention are counted once
// each (a convolution is one GEMM, not also the matmul inside it), other ops are the rest, and
// the parts never exceed the whole.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/op_profile.h"
#include "ops/ops.h"

namespace paradit {
namespace {

Tensor filled(const Shape& shape, float v) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v * static_cast<float>(i % 7 - 3);
  return t;
}

TEST(OpProfile, CountsGemmsAndAttentionOnceEach) {
  const Tensor x = filled({64, 128}, 0.01f), w = filled({256, 128}, 0.02f);
  const Tensor q = filled({1, 2, 32, 16}, 0.1f);
  const Tensor image = filled({1, 8, 6, 6}, 0.1f), kernel = filled({4, 8, 3, 3}, 0.05f);
  const ops::Conv2dParams conv = ops::Conv2dParams::same(1);
  const OpBreakdown b = profile_ops(Device::CPU, [&] {
    (void)ops::linear(x, w);
    (void)ops::matmul(x, w, /*trans_b=*/true);
    (void)ops::conv2d(image, kernel, nullptr, conv);
    (void)ops::attention(q, q, q, 0.25f);
    (void)ops::softmax(x);  // the rest
  });
  EXPECT_EQ(b.gemm_calls, 3);
  EXPECT_EQ(b.attention_calls, 1);
  EXPECT_GT(b.total_ms, 0);
  EXPECT_GE(b.gemm_ms, 0);
  EXPECT_GE(b.attention_ms, 0);
  EXPECT_LE(b.gemm_ms + b.attention_ms, b.total_ms + 1e-9);
  EXPECT_GE(b.rest_ms(), -1e-9);
}

TEST(OpProfile, IsOffOutsideAProfileAndRefusesNesting) {
  const Tensor x = filled({8, 8}, 0.1f);
  (void)ops::linear(x, x);  // no profile: nothing recorded, nothing fails
  EXPECT_THROW(profile_ops(Device::CPU, [] { profile_ops(Device::CPU, [] {}); }), Error);
  const OpBreakdown after = profile_ops(Device::CPU, [&] { (void)ops::linear(x, x); });
  EXPECT_EQ(after.gemm_calls, 1);  // the failed nesting left no state behind
}

}  // namespace
}  // namespace paradit
