// GEMM through oneDNN's matmul primitive: it picks the best kernel for the CPU (AVX-512,
// AVX512-BF16, AMX) at run time. See docs/perf.md for why oneDNN over OpenBLAS.
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/onednn.h"

namespace paradit::cpu {

void matmul(const Tensor& a, const Tensor& b, bool trans_b, const Tensor* bias_f32, Tensor& c, Epilogue epilogue) {
  using dims = dnnl::memory::dims;
  const int64_t M = a.size(0), K = a.size(1), N = c.size(1);
  const std::vector<int64_t> key = {M,
                                    N,
                                    K,
                                    static_cast<int64_t>(a.dtype()),
                                    static_cast<int64_t>(b.dtype()),
                                    static_cast<int64_t>(c.dtype()),
                                    trans_b,
                                    bias_f32 != nullptr,
                                    static_cast<int64_t>(epilogue)};
  const dnnl::memory::desc a_md(dims{M, K}, onednn_type(a.dtype()), dims{K, 1});
  const dnnl::memory::desc b_md(dims{K, N}, onednn_type(b.dtype()), trans_b ? dims{1, K} : dims{N, 1});
  const dnnl::memory::desc bias_md(dims{1, N}, dnnl::memory::data_type::f32, dims{N, 1});
  const dnnl::memory::desc c_md(dims{M, N}, onednn_type(c.dtype()), dims{N, 1});
  auto& cached = cached_primitive<dnnl::matmul>(key, [&] {
    const auto desc = bias_f32 ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md);
    dnnl::primitive_attr attr = user_scratchpad();
    if (epilogue != Epilogue::None) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, epilogue == Epilogue::GeluTanh ? dnnl::algorithm::eltwise_gelu_tanh
                                                             : dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(desc, attr, onednn_engine());
    return CachedPrimitive<dnnl::matmul>{dnnl::matmul(pd), pd.scratchpad_desc()};
  });
  auto& engine = onednn_engine();
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(a_md, engine, const_cast<void*>(a.raw()))},
      {DNNL_ARG_WEIGHTS, dnnl::memory(b_md, engine, const_cast<void*>(b.raw()))},
      {DNNL_ARG_DST, dnnl::memory(c_md, engine, c.raw())},
      {DNNL_ARG_SCRATCHPAD, scratchpad_memory(cached.scratchpad)}};
  if (bias_f32) args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_md, engine, const_cast<void*>(bias_f32->raw())));
  cached.primitive.execute(onednn_stream(), args);
  onednn_stream().wait();
}

}  // namespace paradit::cpu
