// The host allocator's cache (core/host_allocator.h): large blocks are reused for the same
// size, a miss first returns cached blocks so live plus cached bytes never grow past the peak,
// small blocks bypass it, and tensors see 64-byte aligned memory either way.
#include <gtest/gtest.h>

#include <cstdint>

#include "core/host_allocator.h"
#include "core/tensor.h"

namespace paradit {
namespace {

TEST(HostAllocator, ReusesLargeBlocksWithoutRaisingThePeak) {
  host_release_cached();
  const auto start = host_cache_stats();
  EXPECT_EQ(start.cached_bytes, 0u);

  void* a = host_alloc(1 << 20);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  host_free(a, 1 << 20);
  EXPECT_EQ(host_cache_stats().cached_bytes, size_t{1} << 20);
  void* again = host_alloc((1 << 20) - 100);  // rounds to the same 64 KiB granule
  EXPECT_EQ(again, a);
  EXPECT_EQ(host_cache_stats().hits, start.hits + 1);
  EXPECT_EQ(host_cache_stats().cached_bytes, 0u);
  host_free(again, (1 << 20) - 100);

  // A size the cache does not hold: the cached megabyte goes back first.
  void* b = host_alloc(3 << 20);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(host_cache_stats().cached_bytes, 0u);
  host_free(b, 3 << 20);

  // Small blocks are never cached.
  void* s = host_alloc(1000);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s) % 64, 0u);
  host_free(s, 1000);
  EXPECT_EQ(host_cache_stats().cached_bytes, size_t{3} << 20);

  host_release_cached();
  EXPECT_EQ(host_cache_stats().cached_bytes, 0u);
}

TEST(HostAllocator, TensorsUseIt) {
  host_release_cached();
  const void* first;
  {
    Tensor t = Tensor::empty({512, 1024});  // 2 MiB
    first = t.raw();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
  }
  EXPECT_EQ(host_cache_stats().cached_bytes, size_t{2} << 20);
  Tensor u = Tensor::zeros({1024, 512});
  EXPECT_EQ(u.raw(), first);  // the same block, cleared by zeros()
  EXPECT_EQ(u.item_f32(12345), 0.f);
  host_release_cached();
}

}  // namespace
}  // namespace paradit
