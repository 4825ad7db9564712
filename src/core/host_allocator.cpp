#include "core/host_allocator.h"

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace paradit {
namespace {

constexpr size_t kCachedFrom = 256 * 1024, kGranule = 64 * 1024;

struct Block {
  size_t size;
  void* p;
};

struct Cache {
  std::mutex mutex;
  std::vector<Block> blocks;  // oldest first
  HostCacheStats stats;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed during static destruction
  return *c;
}

size_t rounded(size_t bytes) {
  return bytes >= kCachedFrom ? (bytes + kGranule - 1) / kGranule * kGranule : (bytes + 63) / 64 * 64;
}

}  // namespace

void* host_map(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void host_unmap(void* p, size_t bytes) {
  if (p) munmap(p, bytes);
}

void* host_alloc(size_t bytes) {
  const size_t size = rounded(bytes);
  if (size == 0) return nullptr;
  if (size < kCachedFrom) return std::aligned_alloc(64, size);
  std::vector<void*> evicted;
  std::vector<size_t> evicted_sizes;
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    for (size_t i = c.blocks.size(); i-- > 0;) {  // the most recently freed block of this size
      if (c.blocks[i].size != size) continue;
      void* p = c.blocks[i].p;
      c.blocks.erase(c.blocks.begin() + static_cast<std::ptrdiff_t>(i));
      c.stats.cached_bytes -= size;
      ++c.stats.hits;
      return p;
    }
    ++c.stats.misses;
    size_t freed = 0;
    while (freed < size && !c.blocks.empty()) {
      freed += c.blocks.front().size;
      c.stats.cached_bytes -= c.blocks.front().size;
      evicted.push_back(c.blocks.front().p);
      evicted_sizes.push_back(c.blocks.front().size);
      c.blocks.erase(c.blocks.begin());
    }
  }
  for (size_t i = 0; i < evicted.size(); ++i) host_unmap(evicted[i], evicted_sizes[i]);
  return host_map(size);
}

void host_free(void* p, size_t bytes) {
  if (!p) return;
  const size_t size = rounded(bytes);
  if (size < kCachedFrom) return std::free(p);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.blocks.push_back({size, p});
  c.stats.cached_bytes += size;
}

void host_release_cached() {
  std::vector<Block> blocks;
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    blocks.swap(c.blocks);
    c.stats.cached_bytes = 0;
  }
  for (const Block& b : blocks) host_unmap(b.p, b.size);
}

HostCacheStats host_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

}  // namespace paradit
