// Convolution through oneDNN (plain NCHW / OIHW layouts), nearest upsampling and embedding
// gathers.
#include <cstring>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/onednn.h"

namespace paradit::cpu {

void conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int64_t stride, const int64_t pads[4], Tensor& y) {
  using dims = dnnl::memory::dims;
  using tag = dnnl::memory::format_tag;
  const auto f32 = dnnl::memory::data_type::f32;
  const dims src_dims = x.shape(), wei_dims = w.shape(), dst_dims = y.shape();
  const dnnl::memory::desc src_md(src_dims, f32, tag::nchw);
  const dnnl::memory::desc wei_md(wei_dims, f32, tag::oihw);
  const dnnl::memory::desc bias_md(dims{w.size(0)}, f32, tag::x);
  const dnnl::memory::desc dst_md(dst_dims, f32, tag::nchw);
  const dims strides{stride, stride}, pad_l{pads[0], pads[1]}, pad_r{pads[2], pads[3]};
  std::vector<int64_t> key = src_dims;
  key.insert(key.end(), wei_dims.begin(), wei_dims.end());
  key.insert(key.end(), {stride, pads[0], pads[1], pads[2], pads[3], bias != nullptr});
  auto& cached = cached_primitive<dnnl::convolution_forward>(key, [&] {
    const auto desc =
        bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               src_md, wei_md, bias_md, dst_md, strides, pad_l, pad_r)
             : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               src_md, wei_md, dst_md, strides, pad_l, pad_r);
    const dnnl::convolution_forward::primitive_desc pd(desc, user_scratchpad(), onednn_engine());
    return CachedPrimitive<dnnl::convolution_forward>{dnnl::convolution_forward(pd), pd.scratchpad_desc()};
  });
  auto& engine = onednn_engine();
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(src_md, engine, const_cast<void*>(x.raw()))},
      {DNNL_ARG_WEIGHTS, dnnl::memory(wei_md, engine, const_cast<void*>(w.raw()))},
      {DNNL_ARG_DST, dnnl::memory(dst_md, engine, y.raw())},
      {DNNL_ARG_SCRATCHPAD, scratchpad_memory(cached.scratchpad)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_md, engine, const_cast<void*>(bias->raw())));
  cached.primitive.execute(onednn_stream(), args);
  onednn_stream().wait();
}

void upsample_nearest2x(const Tensor& x, Tensor& y) {
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  const float* src = x.data<float>();
  float* dst = y.data<float>();
#pragma omp parallel for collapse(2)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t h = 0; h < 2 * H; ++h) {
      const float* in = src + (p * H + h / 2) * W;
      float* out = dst + (p * 2 * H + h) * 2 * W;
      for (int64_t w = 0; w < 2 * W; ++w) out[w] = in[w / 2];
    }
  }
}

void embedding(const Tensor& table, const std::vector<int64_t>& ids, Tensor& y) {
  const size_t row_bytes = static_cast<size_t>(table.size(1)) * dtype_size(table.dtype());
  const char* src = static_cast<const char*>(table.raw());
  char* dst = static_cast<char*>(y.raw());
  for (size_t i = 0; i < ids.size(); ++i)
    std::memcpy(dst + i * row_bytes, src + static_cast<size_t>(ids[i]) * row_bytes, row_bytes);
}

}  // namespace paradit::cpu
