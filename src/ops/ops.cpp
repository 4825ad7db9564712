#include "ops/ops.h"

#include <cmath>

#include "backend/cpu/cpu_ops.h"
#include "core/error.h"

namespace paradit::ops {
namespace {

void check_cpu(const char* op, const Tensor& t) {
  PD_CHECK(t.device() == Device::CPU, op, ": tensors on ", device_name(t.device()),
           " are not supported by this build (CPU only)");
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
Tensor linear_with(const Tensor& x, const Tensor& w, const Tensor* bias, DType out, cpu::Epilogue epilogue) {
  check_cpu("linear", x);
  check_cpu("linear", w);
  PD_CHECK(x.dim() >= 1 && w.dim() == 2 && x.size(-1) == w.size(1), "linear: input ", x.describe(),
           " does not match weight ", w.describe(), " ([out, in])");
  const bool same = x.dtype() == w.dtype() && (x.dtype() == DType::F32 || x.dtype() == DType::BF16);
  const bool mixed = x.dtype() == DType::F32 && w.dtype() == DType::BF16;
  PD_CHECK(same || mixed, "linear: input ", x.describe(), " and weight ", w.describe(),
           " must be F32/F32, BF16/BF16 or F32 input with BF16 weight");
  PD_CHECK(out == DType::F32 || out == DType::BF16, "linear: output dtype must be F32 or BF16, got ", dtype_name(out));
  const int64_t K = w.size(1), N = w.size(0);
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
  cpu::matmul(a.reshape({-1, K}), w, /*trans_b=*/true, bias ? &bias32 : nullptr, y2, epilogue);
  return y;
}
}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  return linear_with(x, w, bias, x.dtype(), cpu::Epilogue::None);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias, DType out) {
  return linear_with(x, w, bias, out, cpu::Epilogue::None);
}

Tensor linear_gelu(const Tensor& x, const Tensor& w, const Tensor* bias, bool tanh_approximation, DType out) {
  return linear_with(x, w, bias, out, tanh_approximation ? cpu::Epilogue::GeluTanh : cpu::Epilogue::GeluErf);
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

}  // namespace paradit::ops
