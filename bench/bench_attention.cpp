// The attention kernel alone at an SD3.5 shape: batch 2 x 24 heads, N joint tokens, d = 64.
// Prints time and TFLOP/s (4 N^2 d per head) for the f32 and bf16 kernels.
//
//   build/bench/bench_attention [N=1357] [heads=48] [reps=3]
#include <cstdio>
#include <cstdlib>
#include <random>

#include "core/tensor.h"
#include "core/threads.h"
#include "core/timer.h"
#include "ops/ops.h"

using namespace paradit;

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1357;
  const int64_t heads = argc > 2 ? std::atoll(argv[2]) : 48;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  std::mt19937 gen(1);
  std::normal_distribution<float> dist;
  auto make = [&] {
    Tensor t = Tensor::empty({1, heads, n, 64});
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
    return t;
  };
  const Tensor q = make(), k = make(), v = make();
  const double flop = 4.0 * static_cast<double>(n) * static_cast<double>(n) * 64 * static_cast<double>(heads);
  for (DType t : {DType::F32, DType::BF16}) {
    const Tensor qq = q.to(t), kk = k.to(t), vv = v.to(t);
    ops::attention(qq, kk, vv, 0.125f);
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      Timer timer;
      ops::attention(qq, kk, vv, 0.125f);
      best = std::min(best, timer.seconds());
    }
    std::printf("attention %s, %lld heads x N=%lld x d=64, %d threads: %.1f ms, %.3f TFLOP/s\n", dtype_name(t),
                static_cast<long long>(heads), static_cast<long long>(n), num_threads(), best * 1e3, flop / best / 1e12);
  }
  return 0;
}
