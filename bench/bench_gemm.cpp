// GEMM throughput on this CPU: oneDNN (f32, bf16) as paradit calls it, beside OpenBLAS sgemm
// when it is installed. Default shape: one SD3.5 Large projection at 1024x1024
// (M = 4429 joint tokens, N = K = 2432). Prints figures; it passes or fails nothing.
//
//   build/bench/bench_gemm [M N K] [reps]
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>

#include "core/step_arena.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "core/timer.h"
#include "backend/cpu/cpu_ops.h"
#include "ops/ops.h"
#include <oneapi/dnnl/dnnl.hpp>
#ifdef PARADIT_HAVE_OPENBLAS
#include <cblas.h>
#endif

using namespace paradit;

namespace {

Tensor random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  Tensor t = Tensor::empty({rows, cols});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

// Best-of-reps seconds for fn, after one warm-up call.
double time_best(int reps, const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    Timer t;
    fn();
    best = std::min(best, t.seconds());
  }
  return best;
}

// The same, each call one step of a step workspace (core/step_arena.h), as the pipelines run
// their GEMMs: the warm-up call sizes it, so temporaries cost no page faults after it.
double time_best_in_steps(int reps, const std::function<void()>& fn) {
  StepArena arena;
  return time_best(reps, [&] {
    const StepArena::Step step(&arena);
    fn();
  });
}

void report(const char* name, int64_t M, int64_t N, int64_t K, double seconds) {
  const double tflops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) / seconds / 1e12;
  std::printf("%-36s %9.2f ms %8.3f TFLOP/s\n", name, seconds * 1e3, tflops);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t M = argc > 3 ? std::atoll(argv[1]) : 4429;
  const int64_t N = argc > 3 ? std::atoll(argv[2]) : 2432;
  const int64_t K = argc > 3 ? std::atoll(argv[3]) : 2432;
  const int reps = argc > 4 ? std::atoi(argv[4]) : (argc == 2 ? std::atoi(argv[1]) : 5);
  std::printf("GEMM C[%lld x %lld] = A[%lld x %lld] B^T, threads %d, best of %d\n", static_cast<long long>(M),
              static_cast<long long>(N), static_cast<long long>(M), static_cast<long long>(K), num_threads(), reps);
  const Tensor a = random_matrix(M, K, 1), w = random_matrix(N, K, 2);
  report("oneDNN f32 (ops::linear)", M, N, K, time_best(reps, [&] { ops::linear(a, w); }));
  const Tensor w_kn = ops::permute(w, {1, 0});
  report("oneDNN f32, B stored [K, N]", M, N, K, time_best(reps, [&] { ops::matmul(a, w_kn); }));
  const Tensor a16 = a.to(DType::BF16), w16 = w.to(DType::BF16);
  std::printf("bf16 GEMM method (ops::linear): %s\n", cpu::bf16_gemm_description().c_str());
  report("bf16 -> bf16 (ops::linear)", M, N, K, time_best(reps, [&] { ops::linear(a16, w16); }));
  report("bf16 -> f32 (ops::linear)", M, N, K, time_best(reps, [&] { ops::linear(a16, w16, nullptr, DType::F32); }));
  const ops::GemmWeight w_load = ops::GemmWeight::pack(w16);
  report("bf16 -> bf16 (ops::linear, weight as loaded)", M, N, K,
         time_best(reps, [&] { ops::linear(a16, w_load, nullptr, DType::BF16); }));
  report("  the same in a step workspace", M, N, K,
         time_best_in_steps(reps, [&] { ops::linear(a16, w_load, nullptr, DType::BF16); }));
  {
    // oneDNN's matmul called directly, with the weights plain or reordered once into the layout
    // it picks (format_tag::any): what prepacking weights at load buys. In f32 on prepacked
    // weights it is what widened bf16 products run on, before their conversions.
    using dims = dnnl::memory::dims;
    using dt = dnnl::memory::data_type;
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const dnnl::memory::desc c_md(dims{M, N}, dt::f32, dims{N, 1});
    auto direct = [&](const char* name, dt type, const Tensor& a_in, const Tensor& w_in, bool packed) {
      const dnnl::memory::desc a_md(dims{M, K}, type, dims{K, 1});
      const dnnl::memory::desc w_plain(dims{K, N}, type, dims{1, K});
      const dnnl::memory::desc w_any(dims{K, N}, type, dnnl::memory::format_tag::any);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, packed ? w_any : w_plain, c_md), engine);
      dnnl::memory wm(pd.weights_desc(), engine);
      dnnl::memory src_w(w_plain, engine, const_cast<void*>(w_in.raw()));
      dnnl::reorder(src_w, wm).execute(stream, src_w, wm);
      Tensor c = Tensor::empty({M, N});
      dnnl::matmul mm(pd);
      dnnl::memory am(a_md, engine, const_cast<void*>(a_in.raw())), cm(c_md, engine, c.raw());
      report(name, M, N, K, time_best(reps, [&] {
               mm.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, cm}});
               stream.wait();
             }));
    };
    direct("oneDNN f32, weights prepacked", dt::f32, a, w, true);
    direct("oneDNN bf16 -> f32, plain weights", dt::bf16, a16, w16, false);
    direct("oneDNN bf16 -> f32, weights prepacked", dt::bf16, a16, w16, true);
  }
#ifdef PARADIT_HAVE_OPENBLAS
  Tensor c = Tensor::empty({M, N});
  report("OpenBLAS cblas_sgemm f32", M, N, K, time_best(reps, [&] {
           cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N),
                       static_cast<int>(K), 1.f, a.data<float>(), static_cast<int>(K), w.data<float>(),
                       static_cast<int>(K), 0.f, c.data<float>(), static_cast<int>(N));
         }));
#else
  std::printf("OpenBLAS: not found at build time (apt-get install libopenblas-dev)\n");
#endif
  return 0;
}
