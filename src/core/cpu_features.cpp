#include "core/cpu_features.h"

#include <cpuid.h>

#include <cstdint>

namespace paradit {
namespace {

uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12);
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm = (xcr0 & 0x6) == 0x6;          // SSE and AVX state
  const bool zmm = ymm && (xcr0 & 0xe0) == 0xe0;  // opmask, upper ZMM, ZMM16-31
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = ymm && (b & (1u << 5));
  f.fma = ymm && fma;
  f.avx512f = zmm && (b & (1u << 16));
  const bool tiles = (xcr0 & (uint64_t{3} << 17)) == (uint64_t{3} << 17);  // XTILECFG and XTILEDATA state
  f.amx_bf16 = tiles && (d & (1u << 22)) && (d & (1u << 24));                // AMX-BF16 and AMX-TILE
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  if (a >= 1 && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512_bf16 = f.avx512f && (a1 & (1u << 5));
  return f;
}

}  // namespace

std::string CpuFeatures::summary() const {
  std::string s;
  for (auto [on, name] : {std::pair{avx2, "avx2"}, {fma, "fma"}, {avx512f, "avx512f"}, {avx512_bf16, "avx512_bf16"},
                          {amx_bf16, "amx_bf16"}})
    if (on) s += (s.empty() ? "" : " ") + std::string(name);
  return s.empty() ? "none" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace paradit
