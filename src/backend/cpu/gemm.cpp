// GEMM through oneDNN's matmul primitive: it picks the best kernel for the CPU (AVX-512,
// AVX512-BF16, AMX) at run time. See docs/perf.md for why oneDNN over OpenBLAS.
#include <algorithm>
#include <atomic>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/onednn.h"

namespace paradit::cpu {
namespace {

std::atomic<int64_t> packed_reorders{0};

// A matmul primitive for these layouts (w_md may be format_tag::any), with the epilogue as a
// post-op; it remembers the weights layout it was created for.
CachedPrimitive<dnnl::matmul> make_matmul(const dnnl::memory::desc& a_md, const dnnl::memory::desc& w_md,
                                          const dnnl::memory::desc* bias_md, const dnnl::memory::desc& c_md,
                                          Epilogue epilogue) {
  const auto desc = bias_md ? dnnl::matmul::desc(a_md, w_md, *bias_md, c_md) : dnnl::matmul::desc(a_md, w_md, c_md);
  dnnl::primitive_attr attr = user_scratchpad();
  if (epilogue != Epilogue::None) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, epilogue == Epilogue::GeluTanh ? dnnl::algorithm::eltwise_gelu_tanh
                                                           : dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  const dnnl::matmul::primitive_desc pd(desc, attr, onednn_engine());
  return CachedPrimitive<dnnl::matmul>{dnnl::matmul(pd), pd.scratchpad_desc(), pd.weights_desc()};
}

void execute_matmul(const CachedPrimitive<dnnl::matmul>& cached, const dnnl::memory::desc& a_md, const void* a,
                    const dnnl::memory::desc& w_md, const void* w, const dnnl::memory::desc& c_md, void* c,
                    const dnnl::memory::desc& bias_md, const Tensor* bias_f32) {
  auto& engine = onednn_engine();
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(a_md, engine, const_cast<void*>(a))},
      {DNNL_ARG_WEIGHTS, dnnl::memory(w_md, engine, const_cast<void*>(w))},
      {DNNL_ARG_DST, dnnl::memory(c_md, engine, c)},
      {DNNL_ARG_SCRATCHPAD, scratchpad_memory(cached.scratchpad)}};
  if (bias_f32) args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_md, engine, const_cast<void*>(bias_f32->raw())));
  cached.primitive.execute(onednn_stream(), args);
  onednn_stream().wait();
}

void reorder(const dnnl::memory::desc& from, const void* src, const dnnl::memory::desc& to, void* dst) {
  auto& engine = onednn_engine();
  dnnl::memory s(from, engine, const_cast<void*>(src)), d(to, engine, dst);
  dnnl::reorder(s, d).execute(onednn_stream(), s, d);
  onednn_stream().wait();
}

// Rows per widened chunk: the f32 copies of a's and c's rows are bounded by this many rows,
// and oneDNN's f32 kernel is as fast on ~1000 rows as on all of them.
constexpr int64_t kWidenedChunkRows = 1024;

// c = epilogue(a @ b + bias) for bf16 a and b, computed by oneDNN's f32 matmul: b reordered
// once per call into the f32 blocked layout that matmul picks (bf16 -> f32 is exact), a
// widened and c narrowed chunk by chunk. The copies are step temporaries (Tensor::empty), so
// a denoising step serves them from its workspace.
void matmul_widened(const Tensor& a, const dnnl::memory::desc& b_md, const void* b, const Tensor* bias_f32, Tensor& c,
                    Epilogue epilogue) {
  using dims = dnnl::memory::dims;
  using dt = dnnl::memory::data_type;
  const int64_t M = a.size(0), K = a.size(1), N = c.size(1);
  const int64_t chunks = (M + kWidenedChunkRows - 1) / kWidenedChunkRows;
  const int64_t rows = (M + chunks - 1) / chunks;  // equal chunks; the last may be shorter
  const dnnl::memory::desc bias_md(dims{1, N}, dt::f32, dims{N, 1});
  // The primitive for `r` rows on weights in `w_md`; key tag 3 = widened.
  auto primitive = [&](int64_t r, const dnnl::memory::desc& w_md) -> const CachedPrimitive<dnnl::matmul>& {
    const std::vector<int64_t> key = {r, N, K, /*widened*/ 3, bias_f32 != nullptr, static_cast<int64_t>(epilogue)};
    const dnnl::memory::desc a_md(dims{r, K}, dt::f32, dims{K, 1}), c_md(dims{r, N}, dt::f32, dims{N, 1});
    return cached_primitive<dnnl::matmul>(
        key, [&] { return make_matmul(a_md, w_md, bias_f32 ? &bias_md : nullptr, c_md, epilogue); });
  };
  const dnnl::memory::desc any_md(dims{K, N}, dt::f32, dnnl::memory::format_tag::any);
  const dnnl::memory::desc w32_md = primitive(rows, any_md).weights;
  Tensor w32 = Tensor::empty({static_cast<int64_t>(w32_md.get_size())}, DType::U8);
  reorder(b_md, b, w32_md, w32.raw());
  Tensor a32 = Tensor::empty({rows, K});
  Tensor c32 = c.dtype() == DType::F32 ? Tensor() : Tensor::empty({rows, N});
  for (int64_t m0 = 0; m0 < M; m0 += rows) {
    const int64_t r = std::min(rows, M - m0);
    const dnnl::memory::desc a16_md(dims{r, K}, dt::bf16, dims{K, 1}), a32_md(dims{r, K}, dt::f32, dims{K, 1});
    const dnnl::memory::desc c32_md(dims{r, N}, dt::f32, dims{N, 1});
    reorder(a16_md, static_cast<const uint16_t*>(a.raw()) + m0 * K, a32_md, a32.raw());
    // A shorter last chunk gets its own primitive, pinned to the same weights layout.
    const auto& p = r == rows ? primitive(rows, any_md) : primitive(r, w32_md);
    PD_CHECK(p.weights == w32_md, "matmul: oneDNN's f32 weights layout changed with the row count");
    void* c_rows = c.dtype() == DType::F32 ? static_cast<void*>(static_cast<float*>(c.raw()) + m0 * N) : c32.raw();
    execute_matmul(p, a32_md, a32.raw(), w32_md, w32.raw(), c32_md, c_rows, bias_md, bias_f32);
    if (c.dtype() == DType::BF16)
      reorder(c32_md, c32.raw(), dnnl::memory::desc(dims{r, N}, dt::bf16, dims{N, 1}),
              static_cast<uint16_t*>(c.raw()) + m0 * N);
  }
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, bool trans_b, const Tensor* bias_f32, Tensor& c, Epilogue epilogue) {
  matmul(a, b, trans_b, bias_f32, c, epilogue, best_bf16_gemm());
}

void matmul(const Tensor& a, const Tensor& b, bool trans_b, const Tensor* bias_f32, Tensor& c, Epilogue epilogue,
            Bf16Gemm method) {
  using dims = dnnl::memory::dims;
  const int64_t M = a.size(0), K = a.size(1), N = c.size(1);
  if (a.dtype() == DType::BF16 && b.dtype() == DType::BF16 && M >= kWidenedMinRows && method == Bf16Gemm::Widened) {
    const dnnl::memory::desc b_md(dims{K, N}, dnnl::memory::data_type::bf16, trans_b ? dims{1, K} : dims{N, 1});
    return matmul_widened(a, b_md, b.raw(), bias_f32, c, epilogue);
  }
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
  const auto& cached = cached_primitive<dnnl::matmul>(
      key, [&] { return make_matmul(a_md, b_md, bias_f32 ? &bias_md : nullptr, c_md, epilogue); });
  execute_matmul(cached, a_md, a.raw(), b_md, b.raw(), c_md, c.raw(), bias_md, bias_f32);
}

namespace {
// The weights' layout as oneDNN's matmul picks it for a [M, K] x [K, N] product (weights
// format_tag::any). Its blocking depends on N, K, the types and the ISA, not on M.
dnnl::memory::desc chosen_weights_layout(int64_t M, int64_t N, int64_t K, DType a_type, DType w_type, DType c_type) {
  using dims = dnnl::memory::dims;
  const dnnl::memory::desc a_md(dims{M, K}, onednn_type(a_type), dims{K, 1});
  const dnnl::memory::desc w_md(dims{K, N}, onednn_type(w_type), dnnl::memory::format_tag::any);
  const dnnl::memory::desc c_md(dims{M, N}, onednn_type(c_type), dims{N, 1});
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_md, c_md), onednn_engine());
  return pd.weights_desc();
}

dnnl::memory::desc plain_weights(int64_t N, int64_t K, DType w_type) {
  using dims = dnnl::memory::dims;
  return dnnl::memory::desc(dims{K, N}, onednn_type(w_type), dims{1, K});  // w [N, K] read as [K, N]
}

}  // namespace

Tensor pack_matmul_weight(const Tensor& w, std::shared_ptr<const void>& layout) {
  const int64_t N = w.size(0), K = w.size(1);
  // A bf16 weight meets bf16 activations; M = 1024 stands for any row count (see above).
  const auto desc = std::make_shared<dnnl::memory::desc>(chosen_weights_layout(1024, N, K, w.dtype(), w.dtype(), DType::F32));
  Tensor packed = Tensor::empty({static_cast<int64_t>(desc->get_size())}, DType::U8);
  reorder(plain_weights(N, K, w.dtype()), w.raw(), *desc, packed.raw());
  layout = desc;
  return packed;
}

void unpack_matmul_weight(const Tensor& packed, const void* layout, Tensor& w) {
  reorder(*static_cast<const dnnl::memory::desc*>(layout), packed.raw(), plain_weights(w.size(0), w.size(1), w.dtype()),
          w.raw());
}

int64_t packed_weight_reorders() { return packed_reorders.load(std::memory_order_relaxed); }

void matmul_packed(const Tensor& a, const Tensor& packed, const void* layout, int64_t N, DType w_type,
                   const Tensor* bias_f32, Tensor& c, Epilogue epilogue) {
  using dims = dnnl::memory::dims;
  const auto& w_md = *static_cast<const dnnl::memory::desc*>(layout);
  const int64_t M = a.size(0), K = a.size(1);
  const std::vector<int64_t> key = {M,
                                    N,
                                    K,
                                    static_cast<int64_t>(a.dtype()),
                                    static_cast<int64_t>(w_type),
                                    static_cast<int64_t>(c.dtype()),
                                    /*packed*/ 2,
                                    bias_f32 != nullptr,
                                    static_cast<int64_t>(epilogue)};
  const dnnl::memory::desc a_md(dims{M, K}, onednn_type(a.dtype()), dims{K, 1});
  const dnnl::memory::desc bias_md(dims{1, N}, dnnl::memory::data_type::f32, dims{N, 1});
  const dnnl::memory::desc c_md(dims{M, N}, onednn_type(c.dtype()), dims{N, 1});
  const dnnl::memory::desc any_md(dims{K, N}, onednn_type(w_type), dnnl::memory::format_tag::any);
  const auto& cached = cached_primitive<dnnl::matmul>(
      key, [&] { return make_matmul(a_md, any_md, bias_f32 ? &bias_md : nullptr, c_md, epilogue); });
  const void* weights = packed.raw();
  thread_local std::vector<char> converted;
  if (!(cached.weights == w_md)) {
    // This row count wants another blocking than the one packed at load (possible for very
    // small M): reorder into it for this call. Correct, only slower; the common shapes match.
    packed_reorders.fetch_add(1, std::memory_order_relaxed);
    converted.resize(cached.weights.get_size());
    reorder(w_md, packed.raw(), cached.weights, converted.data());
    weights = converted.data();
  }
  execute_matmul(cached, a_md, a.raw(), cached.weights, weights, c_md, c.raw(), bias_md, bias_f32);
}

}  // namespace paradit::cpu
