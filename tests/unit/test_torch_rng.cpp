// --rng torch: torch.randn with a seeded CPU generator, bit for bit, for both of PyTorch's CPU
// normal kernels (the scalar one AVX-512 machines run, the AVX2 one) and the small-tensor path.
#include <gtest/gtest.h>

#include <cstring>

#include "core/torch_rng.h"
#include "support/fixture.h"

namespace paradit {
namespace {

void expect_bits_equal(const std::string& kernel_name, NormalKernel kernel) {
  test::Fixture f("rng/randn");
  int cases = 0;
  for (const auto& c : f.config()["cases"]) {
    const uint64_t seed = c[0].get<uint64_t>();
    int64_t n = 1;
    std::string shape;
    for (const auto& d : c[1]) {
      n *= d.get<int64_t>();
      shape += (shape.empty() ? "" : "x") + std::to_string(d.get<int64_t>());
    }
    const Tensor want = f.checkpoint().get(kernel_name + ".seed" + std::to_string(seed) + "_" + shape);
    std::vector<float> got(static_cast<size_t>(n));
    TorchGenerator(seed).randn(got.data(), n, kernel);
    int64_t differing = 0;
    for (int64_t i = 0; i < n; ++i)
      if (std::memcmp(&got[static_cast<size_t>(i)], want.data<float>() + i, 4) != 0) ++differing;
    std::printf("  [rng] %-8s seed %-14llu shape %-12s %lld of %lld values differ\n", kernel_name.c_str(),
                static_cast<unsigned long long>(seed), shape.c_str(), static_cast<long long>(differing),
                static_cast<long long>(n));
    EXPECT_EQ(differing, 0) << kernel_name << " seed " << seed << " shape " << shape;
    ++cases;
  }
  EXPECT_GE(cases, 6);
}

TEST(TorchRng, ScalarKernelBitExact) { expect_bits_equal("default", NormalKernel::Scalar); }
TEST(TorchRng, Avx2KernelBitExact) { expect_bits_equal("avx2", NormalKernel::Avx2); }

TEST(TorchRng, SameSeedSameStream) {
  std::vector<float> a(100), b(100);
  TorchGenerator(5).randn(a.data(), 100, NormalKernel::Scalar);
  TorchGenerator(5).randn(b.data(), 100, NormalKernel::Scalar);
  EXPECT_EQ(a, b);
  TorchGenerator(6).randn(b.data(), 100, NormalKernel::Scalar);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace paradit
