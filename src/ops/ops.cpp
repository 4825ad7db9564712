#include "ops/ops.h"

#include <cmath>

#include "backend/cpu/cpu_ops.h"
#include "core/error.h"

namespace paradit::ops {
namespace {

// Each op runs the backend of its tensors' device. The CPU table holds every op; the CUDA
// table is still empty (the GPU ops are wired in by the GPU work), so an op meeting a CUDA
// tensor says which op and which device, instead of reading device memory from the host.
void check_cpu(const char* op, const Tensor& t) {
  PD_CHECK(t.device() == Device::CPU, "ops::", op, " has no ", device_name(t.device()),
           " implementation yet: only the CPU runs it (move the tensor with to(Device::CPU))");
  PD_CHECK(t.is_contiguous(), op, ": ", t.describe(), " is a strided view; this op takes contiguous tensors");
}

void check_f32(const char* op, const Tensor& t, const char* what) {
  check_cpu(op, t);
  PD_CHECK(t.dtype() == DType::F32, op, ": ", what, " must be F32, got ", t.describe());
}

void check_vector(const char* op, const Tensor* t, int64_t n, const char* what) {
  if (!t) return;
  check_f32(op, *t, what);
  PD_CHECK(t->dim() == 1 && t->size(0) == n, op, ": ", what, " must be [", n, "], got ", t->describe());
}

bool is_suffix(const Shape& small, const Shape& big) {
  if (small.size() > big.size()) return false;
  return std::equal(small.begin(), small.end(), big.end() - static_cast<std::ptrdiff_t>(small.size()));
}

Tensor bias_as_f32(const Tensor* bias) { return bias->dtype() == DType::F32 ? *bias : bias->to(DType::F32); }

}  // namespace

namespace {
Tensor linear_with(const Tensor& x, const GemmWeight& w, const Tensor* bias, DType out, cpu::Epilogue epilogue) {
  check_cpu("linear", x);
  if (!w.packed()) check_cpu("linear", w.bytes());
  PD_CHECK(x.dim() >= 1 && w.out_features() > 0 && x.size(-1) == w.in_features(), "linear: input ", x.describe(),
           " does not match weight ", dtype_name(w.dtype()), "[", w.out_features(), ", ", w.in_features(),
           "] ([out, in])");
  const bool same = x.dtype() == w.dtype() && (x.dtype() == DType::F32 || x.dtype() == DType::BF16);
  const bool mixed = x.dtype() == DType::F32 && w.dtype() == DType::BF16;
  PD_CHECK(same || mixed, "linear: input ", x.describe(), " and weight ", dtype_name(w.dtype()),
           " must be F32/F32, BF16/BF16 or F32 input with BF16 weight");
  PD_CHECK(out == DType::F32 || out == DType::BF16, "linear: output dtype must be F32 or BF16, got ", dtype_name(out));
  const int64_t K = w.in_features(), N = w.out_features();
  Tensor bias32;
  if (bias) {
    PD_CHECK(bias->dim() == 1 && bias->size(0) == N, "linear: bias ", bias->describe(), " must be [", N, "]");
    bias32 = bias_as_f32(bias);
  }
  Shape out_shape = x.shape();
  out_shape.back() = N;
  // Mixed precision: an f32 activation meets a bf16 weight in a bf16 GEMM with f32
  // accumulation and an f32 result, as torch autocast does.
  const Tensor a = mixed ? x.to(DType::BF16) : x;
  Tensor y = Tensor::empty(out_shape, out);
  Tensor y2 = y.reshape({-1, N});
  if (w.packed())
    cpu::matmul_packed(a.reshape({-1, K}), w.bytes(), w.layout(), N, w.dtype(), bias ? &bias32 : nullptr, y2,
                       epilogue);
  else
    cpu::matmul(a.reshape({-1, K}), w.bytes(), /*trans_b=*/true, bias ? &bias32 : nullptr, y2, epilogue);
  return y;
}
}  // namespace

GemmWeight GemmWeight::plain(Tensor w) {
  PD_CHECK(w.dim() == 2, "GemmWeight: a weight must be [out, in], got ", w.describe());
  GemmWeight g;
  g.shape_ = w.shape();
  g.dtype_ = w.dtype();
  g.bytes_ = std::move(w);
  return g;
}

GemmWeight GemmWeight::pack(const Tensor& w) {
  GemmWeight g = plain(w);
  if (w.device() != Device::CPU || w.dtype() != DType::BF16 || w.numel() == 0) return g;
  check_cpu("GemmWeight::pack", w);
  g.bytes_ = cpu::pack_matmul_weight(w, g.layout_);
  w.release_file_pages();  // the checkpoint's bytes were copied: no need to keep them resident
  return g;
}

int64_t packed_weight_reorders() { return cpu::packed_weight_reorders(); }

Tensor GemmWeight::unpacked() const {
  if (!packed()) return bytes_;
  Tensor w = Tensor::empty(shape_, dtype_);
  cpu::unpack_matmul_weight(bytes_, layout_.get(), w);
  return w;
}

Tensor linear(const Tensor& x, const GemmWeight& w, const Tensor* bias, DType out) {
  return linear_with(x, w, bias, out, cpu::Epilogue::None);
}

Tensor linear_gelu(const Tensor& x, const GemmWeight& w, const Tensor* bias, bool tanh_approximation, DType out) {
  return linear_with(x, w, bias, out, tanh_approximation ? cpu::Epilogue::GeluTanh : cpu::Epilogue::GeluErf);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  return linear_with(x, GemmWeight::plain(w), bias, x.dtype(), cpu::Epilogue::None);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias, DType out) {
  return linear_with(x, GemmWeight::plain(w), bias, out, cpu::Epilogue::None);
}

Tensor linear_gelu(const Tensor& x, const Tensor& w, const Tensor* bias, bool tanh_approximation, DType out) {
  return linear_with(x, GemmWeight::plain(w), bias, out,
                     tanh_approximation ? cpu::Epilogue::GeluTanh : cpu::Epilogue::GeluErf);
}

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_b) {
  check_cpu("matmul", a);
  check_cpu("matmul", b);
  PD_CHECK(a.dim() == 2 && b.dim() == 2, "matmul: expects 2-d tensors, got ", a.describe(), " and ", b.describe());
  const int64_t K = a.size(1), N = trans_b ? b.size(0) : b.size(1);
  PD_CHECK((trans_b ? b.size(1) : b.size(0)) == K, "matmul: inner dimensions differ: ", a.describe(), " and ",
           b.describe(), trans_b ? " (transposed)" : "");
  PD_CHECK(a.dtype() == b.dtype() && (a.dtype() == DType::F32 || a.dtype() == DType::BF16),
           "matmul: operands must both be F32 or both BF16");
  Tensor c = Tensor::empty({a.size(0), N}, a.dtype());
  cpu::matmul(a, b, trans_b, nullptr, c);
  return c;
}

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
  check_f32("layer_norm", x, "input");
  PD_CHECK(x.dim() >= 1 && x.size(-1) > 0, "layer_norm: empty last dimension in ", x.describe());
  check_vector("layer_norm", weight, x.size(-1), "weight");
  check_vector("layer_norm", bias, x.size(-1), "bias");
  Tensor y = Tensor::empty(x.shape());
  cpu::layer_norm(x, weight, bias, eps, y);
  return y;
}

Tensor rms_norm(const Tensor& x, const Tensor* weight, float eps) {
  check_f32("rms_norm", x, "input");
  PD_CHECK(x.dim() >= 1 && x.size(-1) > 0, "rms_norm: empty last dimension in ", x.describe());
  check_vector("rms_norm", weight, x.size(-1), "weight");
  Tensor y = Tensor::empty(x.shape());
  cpu::rms_norm(x, weight, eps, y);
  return y;
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps) {
  check_f32("group_norm", x, "input");
  PD_CHECK(x.dim() >= 2 && x.numel() > 0, "group_norm: expects a non-empty [N, C, ...] tensor, got ", x.describe());
  PD_CHECK(groups > 0 && x.size(1) % groups == 0, "group_norm: ", x.size(1), " channels do not split into ", groups,
           " groups");
  check_vector("group_norm", weight, x.size(1), "weight");
  check_vector("group_norm", bias, x.size(1), "bias");
  Tensor y = Tensor::empty(x.shape());
  cpu::group_norm(x, groups, weight, bias, eps, y);
  return y;
}

Tensor activation(const Tensor& x, Activation kind) {
  check_f32("activation", x, "input");
  Tensor y = Tensor::empty(x.shape());
  cpu::activation(x, static_cast<cpu::Act>(kind), y);
  return y;
}

Tensor softmax(const Tensor& x) {
  check_f32("softmax", x, "input");
  PD_CHECK(x.dim() >= 1 && x.size(-1) > 0, "softmax: empty last dimension in ", x.describe());
  Tensor y = Tensor::empty(x.shape());
  cpu::softmax(x, y);
  return y;
}

namespace {
void check_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, const Tensor* bias) {
  check_cpu("attention", q);
  check_cpu("attention", k);
  check_cpu("attention", v);
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
    check_f32("attention", *bias, "bias");
    PD_CHECK(bias->shape() == (Shape{q.size(1), q.size(2), k.size(2)}), "attention: bias ", bias->describe(),
             " must be [", q.size(1), ", ", q.size(2), ", ", k.size(2), "]");
  }
}
}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* bias,
                 bool bf16_products) {
  check_attention(q, k, v, scale, bias);
  Tensor out = Tensor::empty(q.shape());  // f32 for either input type
  if (bf16_products && q.dtype() == DType::F32 && cpu::bf16_attention_supports(q.size(3)))
    cpu::attention_bf16(q, k, v, scale, causal, bias, out, cpu::best_bf16_attention_kernel());
  else
    cpu::attention(q, k, v, scale, causal, bias, out);
  return out;
}

std::vector<Tensor> joint_attention(const std::vector<AttentionStream>& streams, float scale, float norm_eps,
                                    bool causal, DType out_dtype, bool bf16_products) {
  PD_CHECK(!streams.empty(), "joint_attention: no streams");
  PD_CHECK(std::isfinite(scale), "joint_attention: scale must be finite");
  PD_CHECK(out_dtype == DType::F32 || out_dtype == DType::BF16, "joint_attention: output dtype must be F32 or BF16");
  const Tensor& q0 = streams[0].q;
  PD_CHECK(q0.dim() == 4, "joint_attention: q must be [B, N, H, D], got ", q0.describe());
  const int64_t B = q0.size(0), H = q0.size(2), D = q0.size(3);
  int64_t total = 0;
  for (const auto& s : streams) {
    for (const Tensor* t : {&s.q, &s.k, &s.v}) {
      PD_CHECK(t->device() == Device::CPU, "ops::joint_attention has no ", device_name(t->device()),
               " implementation yet: only the CPU runs it (move the tensor with to(Device::CPU))");
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
        check_f32("joint_attention", *t, "rotary table");
        PD_CHECK(t->shape() == (Shape{s.q.size(1), D}), "joint_attention: rotary table ", t->describe(), " must be [",
                 s.q.size(1), ", ", D, "]");
      }
    }
    total += s.k.size(1);
  }
  PD_CHECK(total > 0, "joint_attention: no keys");
  std::vector<Tensor> outs;
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
  check_f32("apply_rope", x, "x");
  check_f32("apply_rope", cos, "cos");
  check_f32("apply_rope", sin, "sin");
  PD_CHECK(x.dim() == 4 && x.size(3) % 2 == 0, "apply_rope: x must be [B, H, N, D] with even D, got ", x.describe());
  const Shape table = {x.size(2), x.size(3)};
  PD_CHECK(cos.shape() == table && sin.shape() == table, "apply_rope: tables ", cos.describe(), " must be ",
           shape_str(table));
  cpu::apply_rope(x, cos, sin);
}

bool fast_bf16_attention(int64_t head_dim) {
  return cpu::best_bf16_attention_kernel() == cpu::Bf16AttentionKernel::Avx512Bf16 &&
         cpu::bf16_attention_supports(head_dim);
}

Tensor attention_lse(const Tensor& q, const Tensor& k, const Tensor& v, float scale, Tensor& lse) {
  check_attention(q, k, v, scale, nullptr);
  check_f32("attention_lse", q, "q");
  Tensor out = Tensor::empty(q.shape());
  lse = Tensor::empty({q.size(0), q.size(1), q.size(2)});
  cpu::attention(q, k, v, scale, false, nullptr, out, &lse);
  return out;
}

void attention_merge(Tensor& out_a, Tensor& lse_a, const Tensor& out_b, const Tensor& lse_b) {
  check_f32("attention_merge", out_a, "out_a");
  check_f32("attention_merge", out_b, "out_b");
  check_f32("attention_merge", lse_a, "lse_a");
  check_f32("attention_merge", lse_b, "lse_b");
  PD_CHECK(out_a.shape() == out_b.shape() && lse_a.shape() == lse_b.shape() && out_a.dim() == lse_a.dim() + 1 &&
               lse_a.numel() * out_a.size(-1) == out_a.numel(),
           "attention_merge: ", out_a.describe(), "/", lse_a.describe(), " with ", out_b.describe(), "/",
           lse_b.describe());
  cpu::attention_merge(out_a, lse_a, out_b, lse_b);
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) {
  check_f32("conv2d", x, "input");
  check_f32("conv2d", w, "weight");
  PD_CHECK(x.dim() == 4 && w.dim() == 4 && x.size(1) == w.size(1), "conv2d: input ", x.describe(),
           " does not match weight ", w.describe(), " ([Cout, Cin, kh, kw])");
  check_vector("conv2d", bias, w.size(0), "bias");
  PD_CHECK(p.stride >= 1 && p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0,
           "conv2d: stride must be >= 1 and padding >= 0");
  const int64_t h = x.size(2) + p.pad_top + p.pad_bottom - w.size(2);
  const int64_t wd = x.size(3) + p.pad_left + p.pad_right - w.size(3);
  PD_CHECK(h >= 0 && wd >= 0, "conv2d: kernel ", w.describe(), " is larger than the padded input ", x.describe());
  Tensor y = Tensor::empty({x.size(0), w.size(0), h / p.stride + 1, wd / p.stride + 1});
  const int64_t pads[4] = {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right};
  cpu::conv2d(x, w, bias, p.stride, pads, y);
  return y;
}

Tensor upsample_nearest2x(const Tensor& x) {
  check_f32("upsample_nearest2x", x, "input");
  PD_CHECK(x.dim() == 4, "upsample_nearest2x: expects [N, C, H, W], got ", x.describe());
  Tensor y = Tensor::empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)});
  cpu::upsample_nearest2x(x, y);
  return y;
}

Tensor embedding(const Tensor& table, const std::vector<int64_t>& ids) {
  check_cpu("embedding", table);
  PD_CHECK(table.dim() == 2, "embedding: table must be [V, D], got ", table.describe());
  for (int64_t id : ids)
    PD_CHECK(id >= 0 && id < table.size(0), "embedding: id ", id, " out of range for a vocabulary of ", table.size(0));
  Tensor y = Tensor::empty({static_cast<int64_t>(ids.size()), table.size(1)}, table.dtype());
  cpu::embedding(table, ids, y);
  return y;
}

static Tensor binary(const char* op, const Tensor& a, const Tensor& b, cpu::Binary kind) {
  check_f32(op, a, "a");
  check_f32(op, b, "b");
  PD_CHECK(is_suffix(b.shape(), a.shape()) && (b.numel() > 0 || a.numel() == 0), op, ": cannot broadcast ",
           b.describe(), " to ", a.describe());
  Tensor y = Tensor::empty(a.shape());
  if (a.numel()) cpu::binary(a, b, kind, y);
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary("add", a, b, cpu::Binary::Add); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", a, b, cpu::Binary::Mul); }

Tensor modulate(const Tensor& x, const Tensor& scale, const Tensor& shift) {
  check_f32("modulate", x, "x");
  check_f32("modulate", scale, "scale");
  check_f32("modulate", shift, "shift");
  PD_CHECK(x.dim() == 3, "modulate: x must be [B, N, D], got ", x.describe());
  const Shape bd = {x.size(0), x.size(2)};
  PD_CHECK(scale.shape() == bd && shift.shape() == bd, "modulate: scale ", scale.describe(), " and shift ",
           shift.describe(), " must be ", shape_str(bd));
  Tensor y = Tensor::empty(x.shape());
  cpu::modulate(x, scale, shift, y);
  return y;
}

Tensor gated_add(const Tensor& x, const Tensor& gate, const Tensor& y) {
  check_f32("gated_add", x, "x");
  check_f32("gated_add", gate, "gate");
  check_f32("gated_add", y, "y");
  PD_CHECK(x.dim() == 3 && y.shape() == x.shape(), "gated_add: x ", x.describe(), " and y ", y.describe(),
           " must be the same [B, N, D]");
  PD_CHECK(gate.shape() == (Shape{x.size(0), x.size(2)}), "gated_add: gate ", gate.describe(), " must be [",
           x.size(0), ", ", x.size(2), "]");
  Tensor out = Tensor::empty(x.shape());
  cpu::gated_add(x, gate, y, out);
  return out;
}

Tensor layer_norm_modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, float eps) {
  check_f32("layer_norm_modulate", x, "x");
  check_f32("layer_norm_modulate", scale, "scale");
  check_f32("layer_norm_modulate", shift, "shift");
  PD_CHECK(x.dim() == 3 && x.size(2) > 0, "layer_norm_modulate: x must be [B, N, D], got ", x.describe());
  const Shape bd = {x.size(0), x.size(2)};
  PD_CHECK(scale.shape() == bd && shift.shape() == bd, "layer_norm_modulate: scale ", scale.describe(), " and shift ",
           shift.describe(), " must be ", shape_str(bd));
  Tensor y = Tensor::empty(x.shape());
  cpu::layer_norm_modulate(x, scale, shift, eps, y);
  return y;
}

Tensor guidance_combine(const Tensor& uncond, const Tensor& cond, float scale) {
  check_f32("guidance_combine", uncond, "uncond");
  check_f32("guidance_combine", cond, "cond");
  PD_CHECK(uncond.shape() == cond.shape(), "guidance_combine: ", uncond.describe(), " and ", cond.describe(),
           " differ");
  PD_CHECK(std::isfinite(scale), "guidance_combine: the scale must be finite");
  Tensor out = Tensor::empty(cond.shape());
  cpu::guidance_combine(uncond, cond, scale, out);
  return out;
}

void euler_step(Tensor& latents, const Tensor& velocity, float sigma, float sigma_next) {
  check_f32("euler_step", latents, "latents");
  check_f32("euler_step", velocity, "velocity");
  PD_CHECK(latents.shape() == velocity.shape(), "euler_step: latents ", latents.describe(), " and velocity ",
           velocity.describe(), " differ");
  cpu::euler_step(latents, velocity, sigma_next - sigma);
}

}  // namespace paradit::ops
