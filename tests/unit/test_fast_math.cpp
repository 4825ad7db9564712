// The vectorisable exp the CPU kernels use instead of libm: within a few ulp of expf over the
// range the kernels feed it, and exact at the edges they rely on.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/fast_math.h"

namespace paradit {
namespace {

TEST(FastMath, ExpWithinFourUlp) {
  double worst = 0;
  for (float x = -87.f; x <= 88.f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    const double rel = std::fabs(cpu::fast_exp(x) - want) / want;
    worst = std::fmax(worst, rel);
  }
  std::printf("  [fast_exp] worst relative error %.3e (float ulp is 1.19e-07)\n", worst);
  EXPECT_LT(worst, 4 * 1.19e-7);
}

TEST(FastMath, ExpEdges) {
  EXPECT_EQ(cpu::fast_exp(0.f), 1.f);
  EXPECT_TRUE(std::isfinite(cpu::fast_exp(1e6f)));
  EXPECT_LE(cpu::fast_exp(-1e6f), 1.3e-38f);  // clamped at exp(-87.3), the smallest normal range
  EXPECT_GE(cpu::fast_exp(-1e6f), 0.f);
  EXPECT_EQ(cpu::fast_max(-INFINITY, 3.f), 3.f);
}

}  // namespace
}  // namespace paradit
