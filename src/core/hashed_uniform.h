// Deterministic random values for benchmark weights, the same on every device: element i of a
// tensor with seed s is center + scale * u, u = splitmix64(s + i * golden ratio) mapped to
// [-0.5, 0.5) in 24 bits. u is exact in f32; the callers pick (center, scale) so that the
// product is exact (a power-of-two scale) or the center is zero, so a fused multiply-add and
// a separate multiply and add round the same: the CPU and the GPU produce identical bits.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define PD_HOST_DEVICE __host__ __device__
#else
#define PD_HOST_DEVICE
#endif

namespace paradit {

PD_HOST_DEVICE inline float hashed_uniform(uint64_t seed, uint64_t i) {
  uint64_t z = seed + i * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.f / 16777216.f) - 0.5f;
}

}  // namespace paradit
