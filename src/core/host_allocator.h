// Host memory for tensors. Small blocks come from the C heap. Blocks of 256 KiB and more are
// kept when freed and handed out again for the same (64 KiB-rounded) size: a denoising step
// allocates the same activation sizes block after block, and fresh large blocks cost the kernel
// a page fault and a page clear per 4 KiB (a sixth of a bf16 step before this cache).
// Large blocks are mapped from the system and unmapped when released, so that what the cache
// gives back leaves the resident set (glibc would keep blocks below its adaptive mmap threshold,
// up to 32 MiB, in its heaps: seen as 100 MB more peak RSS under the step workspace).
// The cache never raises the peak: an allocation that finds no block of its size first returns
// at least its own size of cached blocks (oldest first) to the system, so live plus cached bytes
// stay at or below the highest live total seen.
#pragma once

#include <cstddef>

namespace paradit {

void* host_alloc(size_t bytes);            // 64-byte aligned; nullptr when out of memory
void host_free(void* p, size_t bytes);     // `bytes` as passed to host_alloc
void host_release_cached();                // returns every cached block to the system
void* host_map(size_t bytes);              // page-aligned pages from the system; nullptr on failure
void host_unmap(void* p, size_t bytes);    // gives host_map's pages back

struct HostCacheStats {
  size_t cached_bytes = 0, hits = 0, misses = 0;
};
HostCacheStats host_cache_stats();

}  // namespace paradit
