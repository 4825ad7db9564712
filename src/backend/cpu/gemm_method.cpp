// Which arithmetic runs a bf16 GEMM fastest on this CPU. AMX tiles beat everything. Without
// them the choice is between VDPBF16PS (bf16 pairs, 64 flops an instruction) and widening the
// operands exactly to f32 for FMAs (32 flops an instruction): which wins depends on how many
// of each the core issues per cycle, which CPUID does not say (a Sapphire/Emerald Rapids core
// issues one VDPBF16PS every other cycle but two FMAs a cycle; Zen 4 the other way round). So
// the first call times both instruction streams for a fraction of a millisecond and keeps the
// faster.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/attention_tiles.h"
#include "backend/cpu/cpu_ops.h"
#include "core/cpu_features.h"
#include "core/error.h"

namespace paradit::cpu {
namespace {

#define PD_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

constexpr int kChains = 24;         // independent accumulators: enough to hide either latency
constexpr int64_t kRounds = 2000;   // x 24 instructions, ~50k instructions a stream
constexpr int kTries = 5;           // best of, against a noisy neighbour

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Flops a second of one core issuing VDPBF16PS (Dot: 64 flops each) or f32 FMAs (32 flops
// each: 16 lanes x multiply-add) back to back.
template <bool Dot>
PD_BF16_TARGET double flops_per_second() {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.f);
  const __m512 fa = _mm512_set1_ps(1.0f), fb = _mm512_set1_ps(0.0078125f);
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3c00);
  double best = 1e30;
  for (int t = 0; t < kTries; ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t r = 0; r < kRounds; ++r) {
#pragma GCC unroll 24
      for (int i = 0; i < kChains; ++i) {
        if constexpr (Dot) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
        else acc[i] = _mm512_fmadd_ps(fa, fb, acc[i]);
      }
    }
    best = std::min(best, seconds_since(t0));
  }
  float sink = 0.f, lanes[16];
  for (int i = 0; i < kChains; ++i) {
    _mm512_storeu_ps(lanes, acc[i]);
    sink += lanes[0];
  }
  const double keep = sink == 12345.f ? 1.0 : 0.0;  // the sums stay live, so the loop stays
  return (Dot ? 64.0 : 32.0) * kChains * kRounds / best + keep;
}

struct Choice {
  Bf16Gemm method = Bf16Gemm::Dot;
  double dot_over_fma = 0.0;  // measured flop-rate ratio; 0 when not measured
};

Choice choose() {
  if (const char* forced = std::getenv("PARADIT_BF16_GEMM")) {
    if (std::strcmp(forced, "dot") == 0) return {Bf16Gemm::Dot, 0.0};
    if (std::strcmp(forced, "widened") == 0) return {Bf16Gemm::Widened, 0.0};
    fail("PARADIT_BF16_GEMM must be 'dot' or 'widened', got '", forced, "'");
  }
  const char* amx = std::getenv("PARADIT_AMX");
  const bool amx_allowed = !(amx && std::strcmp(amx, "0") == 0);
  if (amx_allowed && amx_tiles_usable()) return {Bf16Gemm::Dot, 0.0};  // oneDNN runs it on the tiles
  // Without VDPBF16PS a bf16 product would be emulated; f32 FMAs are the native arithmetic.
  if (!cpu_features().avx512_bf16) return {Bf16Gemm::Widened, 0.0};
  const double ratio = flops_per_second<true>() / flops_per_second<false>();
  // Widening costs a pass over each operand (about 5-10% of a large GEMM): keep the dot
  // product unless the FMAs are clearly faster.
  return {ratio < 0.8 ? Bf16Gemm::Widened : Bf16Gemm::Dot, ratio};
}

const Choice& choice() {
  static const Choice c = choose();
  return c;
}

}  // namespace

Bf16Gemm best_bf16_gemm() { return choice().method; }

std::string bf16_gemm_description() {
  const Choice& c = choice();
  std::string s = c.method == Bf16Gemm::Dot ? (amx_tiles_usable() ? "bf16 products (AMX or AVX512-BF16)" : "bf16 products")
                                            : "f32 FMAs on widened bf16";
  if (c.dot_over_fma > 0.0) {
    char ratio[64];
    std::snprintf(ratio, sizeof ratio, ", VDPBF16PS/FMA flop rate %.2f", c.dot_over_fma);
    s += ratio;
  } else if (std::getenv("PARADIT_BF16_GEMM")) {
    s += ", set by PARADIT_BF16_GEMM";
  }
  return s;
}

}  // namespace paradit::cpu
