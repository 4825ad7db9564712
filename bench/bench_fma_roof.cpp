// What this CPU's cores deliver in AVX-512 f32 FMAs: the roof of the widened bf16 route
// (backend/cpu/gemm_method.cpp) that no GEMM or attention kernel can pass.
//   1. peak: 24 independent FMA chains in registers per thread, no memory operands;
//   2. in-L1 block: a 14 x 32 register-blocked GEMM block (28 accumulators, one broadcast and
//      two vector loads per k, the shape a hand-written f32 kernel would use) on operands that
//      stay in L1, called over and over.
// Each runs on every OpenMP thread at once for about a second. Prints GFLOP/s per thread and
// TFLOP/s in all.
//
//   build/bench/bench_fma_roof [seconds=1]
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/cpu_features.h"
#include "core/threads.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PD_AVX512 __attribute__((target("avx512f")))

namespace {

constexpr int kChains = 24, kRows = 14, kCols = 32;

PD_AVX512 double peak_flop(long iters, float& sink) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(0.0001f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  for (float x : lanes) sink += x;
  return static_cast<double>(iters) * kChains * 32;
}

// c[14 x 32] += a[kc][14] . b[kc][32]
PD_AVX512 __attribute__((noinline)) void block(const float* a, const float* b, long kc, float* c) {
  __m512 acc[kRows][2];
#pragma GCC unroll 14
  for (int r = 0; r < kRows; ++r) {
    acc[r][0] = _mm512_loadu_ps(c + r * kCols);
    acc[r][1] = _mm512_loadu_ps(c + r * kCols + 16);
  }
  for (long k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b + k * kCols), b1 = _mm512_loadu_ps(b + k * kCols + 16);
#pragma GCC unroll 14
    for (int r = 0; r < kRows; ++r) {
      const __m512 av = _mm512_set1_ps(a[k * kRows + r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 14
  for (int r = 0; r < kRows; ++r) {
    _mm512_storeu_ps(c + r * kCols, acc[r][0]);
    _mm512_storeu_ps(c + r * kCols + 16, acc[r][1]);
  }
}

double block_flop(long calls, long kc) {
  std::vector<float> a(static_cast<size_t>(kRows * kc), 1e-3f), b(static_cast<size_t>(kCols * kc), 1e-3f),
      c(kRows * kCols, 0.f);
  for (long i = 0; i < calls; ++i) block(a.data(), b.data(), kc, c.data());
  return static_cast<double>(calls) * kRows * kCols * static_cast<double>(kc) * 2;
}

// Runs f(work) on every thread and returns the total flop per second.
template <typename F>
double on_all_threads(F f) {
  double flop = 0;
  const double t0 = omp_get_wtime();
#pragma omp parallel reduction(+ : flop)
  flop += f();
  return flop / (omp_get_wtime() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (!paradit::cpu_features().avx512f) {
    std::printf("no AVX-512 on this CPU: nothing to measure\n");
    return 0;
  }
  const int threads = paradit::num_threads();
  float sink = 0;
  // ~2.5 G FMA instructions a second per core: size the loops for `seconds`.
  const long iters = static_cast<long>(seconds * 2.5e9 / kChains);
  const double peak = on_all_threads([&] {
    float s = 0;
    const double f = peak_flop(iters, s);
#pragma omp atomic
    sink += s;
    return f;
  });
  std::printf("f32 FMA peak (registers only), %d threads: %.1f GFLOP/s a thread, %.3f TFLOP/s\n", threads,
              peak / threads / 1e9, peak / 1e12);
  for (long kc : {128L, 256L}) {
    const long calls = static_cast<long>(seconds * 5e9 / static_cast<double>(kRows * kCols * kc));
    const double rate = on_all_threads([&] { return block_flop(calls, kc); });
    std::printf("14x32 block from L1, k = %ld, %d threads: %.1f GFLOP/s a thread, %.3f TFLOP/s (%.0f%% of peak)\n",
                kc, threads, rate / threads / 1e9, rate / 1e12, 100 * rate / peak);
  }
  return sink == 12345.f ? 1 : 0;  // keeps the chains from being optimised away
}
#else
int main() {
  std::printf("bench_fma_roof measures AVX-512 FMAs: x86-64 only\n");
  return 0;
}
#endif
