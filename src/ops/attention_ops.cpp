// Attention ops: plain, joint (streams over strided views, qk norm and rope applied while
// packing), the rotary embedding, and the log-sum-exp form with its merge for ring attention.
#include <cmath>

#include "core/op_profile.h"
#include "ops/checks.h"
#include "ops/ops.h"

namespace paradit::ops {
using namespace detail;
namespace {
#ifdef PARADIT_HAVE_CUDA
using joint_stream_t = cuda::JointStream;
#else
struct joint_stream_t {
  const Tensor *q, *k, *v, *q_norm, *k_norm, *rope_cos, *rope_sin;
};
#endif
}  // namespace

namespace {
Device check_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, const Tensor* bias) {
  const Device dev = device_of("attention", {&q, &k, &v, bias});
  PD_CHECK((q.dtype() == DType::F32 || q.dtype() == DType::BF16) && k.dtype() == q.dtype() && v.dtype() == q.dtype(),
           "attention: q, k, v must all be F32 or all BF16, got ", q.describe(), ", ", k.describe(), ", ",
           v.describe());
  PD_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention: q, k, v must be [B, H, N, D]");
  PD_CHECK(k.shape() == v.shape(), "attention: k ", k.describe(), " and v ", v.describe(), " differ");
  PD_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3), "attention: q ",
           q.describe(), " does not match k ", k.describe());
  PD_CHECK(k.size(2) > 0, "attention: no keys");
  PD_CHECK(std::isfinite(scale), "attention: scale must be finite");
  if (bias) {
    PD_CHECK(bias->dtype() == DType::F32, "attention: bias must be F32, got ", bias->describe());
    PD_CHECK(bias->shape() == (Shape{q.size(1), q.size(2), k.size(2)}), "attention: bias ", bias->describe(),
             " must be [", q.size(1), ", ", q.size(2), ", ", k.size(2), "]");
  }
  if (dev == Device::CUDA)
    PD_ON_CUDA(PD_CHECK(cuda::attention_supports(q.size(3)), "ops::attention on cuda: head size ", q.size(3),
                        " is not supported (64, 128 or 512)"));
  return dev;
}
}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* bias,
                 bool bf16_products) {
  const Device dev = check_attention(q, k, v, scale, bias);
  const OpScope profile(OpKind::Attention, dev);
  Tensor out = Tensor::empty(q.shape(), DType::F32, dev);  // f32 for either input type
  if (dev == Device::CUDA) {
    PD_ON_CUDA(cuda::attention(q, k, v, scale, causal, bias, out, nullptr));
    return out;
  }
  if (bf16_products && q.dtype() == DType::F32 && cpu::bf16_attention_supports(q.size(3)))
    cpu::attention_bf16(q, k, v, scale, causal, bias, out, cpu::best_bf16_attention_kernel());
  else
    cpu::attention(q, k, v, scale, causal, bias, out);
  return out;
}

std::vector<Tensor> joint_attention(const std::vector<AttentionStream>& streams, float scale, float norm_eps,
                                    bool causal, DType out_dtype, bool bf16_products) {
  PD_CHECK(!streams.empty(), "joint_attention: no streams");
  const OpScope profile(OpKind::Attention, streams[0].q.device());
  PD_CHECK(std::isfinite(scale), "joint_attention: scale must be finite");
  PD_CHECK(out_dtype == DType::F32 || out_dtype == DType::BF16, "joint_attention: output dtype must be F32 or BF16");
  const Tensor& q0 = streams[0].q;
  PD_CHECK(q0.dim() == 4, "joint_attention: q must be [B, N, H, D], got ", q0.describe());
  const int64_t B = q0.size(0), H = q0.size(2), D = q0.size(3);
  int64_t total = 0;
  const Device dev = q0.device();
  for (const auto& s : streams) {
    for (const Tensor* t : {&s.q, &s.k, &s.v, s.q_norm, s.k_norm, s.rope_cos, s.rope_sin})
      PD_CHECK(!t || t->device() == dev, "joint_attention: ", t->describe(), " is on ", device_name(t->device()),
               " and q on ", device_name(dev));
    for (const Tensor* t : {&s.q, &s.k, &s.v}) {
      PD_CHECK(t->dtype() == q0.dtype() && (t->dtype() == DType::F32 || t->dtype() == DType::BF16),
               "joint_attention: q, k, v must all be F32 or all BF16, got ", q0.describe(), " and ", t->describe());
      PD_CHECK(t->dim() == 4 && t->size(0) == B && t->size(1) == (t == &s.q ? s.q.size(1) : s.k.size(1)) &&
                   t->size(2) == H && t->size(3) == D,
               "joint_attention: ", t->describe(), " does not match q ", s.q.describe(), " ([B, N, H, D])");
      PD_CHECK(t->stride(3) == 1, "joint_attention: the head dimension of ", t->describe(), " must be contiguous");
    }
    for (const Tensor* w : {s.q_norm, s.k_norm}) check_vector("joint_attention", w, D, "qk norm weight");
    PD_CHECK(!s.rope_cos == !s.rope_sin, "joint_attention: rotary cos and sin come together");
    if (s.rope_cos) {
      PD_CHECK(D % 2 == 0 && s.k.size(1) == s.q.size(1), "joint_attention: rotary embedding needs an even head size "
               "and as many keys as queries");
      for (const Tensor* t : {s.rope_cos, s.rope_sin}) {
        PD_CHECK(t->dtype() == DType::F32 && t->is_contiguous(), "joint_attention: rotary table ", t->describe(),
                 " must be contiguous F32");
        PD_CHECK(t->shape() == (Shape{s.q.size(1), D}), "joint_attention: rotary table ", t->describe(), " must be [",
                 s.q.size(1), ", ", D, "]");
      }
    }
    total += s.k.size(1);
  }
  PD_CHECK(total > 0, "joint_attention: no keys");
  std::vector<Tensor> outs;
  if (dev == Device::CUDA) {
    PD_CHECK(D <= 512 && D % 2 == 0, "ops::joint_attention on cuda: head size ", D, " is not supported");
    std::vector<joint_stream_t> gpu;
    for (const auto& s : streams) {
      outs.push_back(Tensor::empty({B, s.q.size(1), H * D}, out_dtype, dev));
      gpu.push_back({&s.q, &s.k, &s.v, s.q_norm, s.k_norm, s.rope_cos, s.rope_sin});
    }
    PD_ON_CUDA(cuda::joint_attention(gpu, scale, norm_eps, causal, outs));
    return outs;
  }
  if (bf16_products && cpu::bf16_attention_supports(D)) {
    for (const auto& s : streams) outs.push_back(Tensor::empty({B, s.q.size(1), H * D}, out_dtype));
    std::vector<cpu::AttentionRows> rows;
    for (size_t i = 0; i < streams.size(); ++i) {
      const auto& s = streams[i];
      cpu::AttentionRows r;
      r.q = s.q.raw();
      r.k = s.k.raw();
      r.v = s.v.raw();
      r.out = outs[i].raw();
      r.n = s.q.size(1);
      r.n_kv = s.k.size(1);
      const Tensor* in[3] = {&s.q, &s.k, &s.v};
      int64_t* st[3] = {r.q_stride, r.k_stride, r.v_stride};
      for (int j = 0; j < 3; ++j) {
        st[j][0] = in[j]->stride(0);
        st[j][1] = in[j]->stride(1);
        st[j][2] = in[j]->stride(2);
      }
      r.out_stride[0] = r.n * H * D;
      r.out_stride[1] = H * D;
      r.out_stride[2] = D;
      r.q_norm = s.q_norm ? s.q_norm->data<float>() : nullptr;
      r.k_norm = s.k_norm ? s.k_norm->data<float>() : nullptr;
      r.rope_cos = s.rope_cos ? s.rope_cos->data<float>() : nullptr;
      r.rope_sin = s.rope_sin ? s.rope_sin->data<float>() : nullptr;
      rows.push_back(r);
    }
    cpu::attention_bf16_rows(rows, B, H, D, q0.dtype(), out_dtype, scale, causal, nullptr, norm_eps,
                             cpu::best_bf16_attention_kernel());
    return outs;
  }
  // The reference: [B, H, N, D] f32 copies, normalised, rotated, concatenated, the f32 kernel, split.
  auto heads = [&](const Tensor& x, const Tensor* norm, const AttentionStream* rope) {
    Tensor t = x.permuted({0, 2, 1, 3}).to(DType::F32);
    if (norm) t = rms_norm(t, norm, norm_eps);
    if (rope && rope->rope_cos) apply_rope(t, *rope->rope_cos, *rope->rope_sin);
    return t;
  };
  std::vector<Tensor> q, k, v;
  std::vector<int64_t> sizes;
  for (const auto& s : streams) {
    q.push_back(heads(s.q, s.q_norm, &s));
    k.push_back(heads(s.k, s.k_norm, &s));
    v.push_back(heads(s.v, nullptr, nullptr));
    sizes.push_back(s.q.size(1));
  }
  const bool one = streams.size() == 1;
  const Tensor attended = attention(one ? q[0] : concat(q, 2), one ? k[0] : concat(k, 2), one ? v[0] : concat(v, 2),
                                    scale, causal);
  const auto parts = one ? std::vector<Tensor>{attended} : split(attended, sizes, 2);
  for (size_t i = 0; i < streams.size(); ++i) {
    const Tensor merged = permute(parts[i], {0, 2, 1, 3}).reshape({B, sizes[i], H * D});
    outs.push_back(out_dtype == DType::F32 ? merged : merged.to(out_dtype));
  }
  return outs;
}

void apply_rope(Tensor& x, const Tensor& cos, const Tensor& sin) {
  const Device dev = device_of("apply_rope", {&x, &cos, &sin});
  check_activation("apply_rope", x, "x");
  PD_CHECK(cos.dtype() == DType::F32 && sin.dtype() == DType::F32, "apply_rope: the tables must be F32");
  PD_CHECK(x.dim() == 4 && x.size(3) % 2 == 0, "apply_rope: x must be [B, H, N, D] with even D, got ", x.describe());
  const Shape table = {x.size(2), x.size(3)};
  PD_CHECK(cos.shape() == table && sin.shape() == table, "apply_rope: tables ", cos.describe(), " must be ",
           shape_str(table));
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::apply_rope(x, cos, sin));
  else cpu::apply_rope(x, cos, sin);
}

bool fast_bf16_attention(int64_t head_dim) {
  return cpu::best_bf16_attention_kernel() != cpu::Bf16AttentionKernel::Portable &&
         cpu::bf16_attention_supports(head_dim);
}

Tensor attention_lse(const Tensor& q, const Tensor& k, const Tensor& v, float scale, Tensor& lse) {
  const Device dev = check_attention(q, k, v, scale, nullptr);
  const OpScope profile(OpKind::Attention, dev);
  PD_CHECK(q.dtype() == DType::F32, "attention_lse: q must be F32, got ", q.describe());
  Tensor out = Tensor::empty(q.shape(), DType::F32, dev);
  lse = Tensor::empty({q.size(0), q.size(1), q.size(2)}, DType::F32, dev);
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::attention(q, k, v, scale, false, nullptr, out, &lse));
  else cpu::attention(q, k, v, scale, false, nullptr, out, &lse);
  return out;
}

void attention_merge(Tensor& out_a, Tensor& lse_a, const Tensor& out_b, const Tensor& lse_b) {
  const Device dev = device_of("attention_merge", {&out_a, &lse_a, &out_b, &lse_b});
  for (const Tensor* t : std::initializer_list<const Tensor*>{&out_a, &lse_a, &out_b, &lse_b})
    PD_CHECK(t->dtype() == DType::F32, "attention_merge: ", t->describe(), " must be F32");
  PD_CHECK(out_a.shape() == out_b.shape() && lse_a.shape() == lse_b.shape() && out_a.dim() == lse_a.dim() + 1 &&
               lse_a.numel() * out_a.size(-1) == out_a.numel(),
           "attention_merge: ", out_a.describe(), "/", lse_a.describe(), " with ", out_b.describe(), "/",
           lse_b.describe());
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::attention_merge(out_a, lse_a, out_b, lse_b));
  else cpu::attention_merge(out_a, lse_a, out_b, lse_b);
}

}  // namespace paradit::ops
