#include "ops/ops.h"

#include <cmath>

#include "backend/cpu/cpu_ops.h"
#include "core/device_memory.h"
#include "core/error.h"
#ifdef PARADIT_HAVE_CUDA
#include "backend/cuda/cuda_ops.h"
#define PD_ON_CUDA(stmt) stmt
#else
#define PD_ON_CUDA(stmt) ::paradit::fail("this build of paradit has no CUDA backend")
#endif

namespace paradit::ops {
namespace {
#ifdef PARADIT_HAVE_CUDA
using joint_stream_t = cuda::JointStream;
#else
struct joint_stream_t {
  const Tensor *q, *k, *v, *q_norm, *k_norm, *rope_cos, *rope_sin;
};
#endif

// Each op runs the backend of its tensors' device. The CPU table holds every op; the CUDA
// table (backend/cuda/cuda_ops.h) holds the ops the models' forwards use, in F32 and BF16. An
// op the GPU lacks says which op and which device, instead of reading device memory from the
// host.
void check_cpu(const char* op, const Tensor& t) {
  PD_CHECK(t.device() == Device::CPU, "ops::", op, " has no ", device_name(t.device()),
           " implementation yet: only the CPU runs it (move the tensor with to(Device::CPU))");
  PD_CHECK(t.is_contiguous(), op, ": ", t.describe(), " is a strided view; this op takes contiguous tensors");
}

void check_f32(const char* op, const Tensor& t, const char* what) {
  check_cpu(op, t);
  PD_CHECK(t.dtype() == DType::F32, op, ": ", what, " must be F32, got ", t.describe());
}

// The device an op runs on: that of its tensors (null entries skipped), which must agree and
// be contiguous. Without the CUDA backend a CUDA tensor cannot exist, but say so anyway.
Device device_of(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t) continue;
    if (!first) first = t;
    PD_CHECK(t->device() == first->device(), op, ": ", first->describe(), " is on ", device_name(first->device()),
             " but ", t->describe(), " is on ", device_name(t->device()));
    PD_CHECK(t->is_contiguous(), op, ": ", t->describe(), " is a strided view; this op takes contiguous tensors");
  }
  return first ? first->device() : Device::CPU;
}

// An activation: F32 on the CPU (the bf16 CPU path converts inside the fused ops); F32 or
// BF16 on the GPU.
void check_activation(const char* op, const Tensor& t, const char* what) {
  if (t.device() == Device::CPU) return check_f32(op, t, what);
  PD_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16, op, ": ", what, " must be F32 or BF16, got ",
           t.describe());
}

void check_vector(const char* op, const Tensor* t, int64_t n, const char* what) {
  if (!t) return;
  PD_CHECK(t->dtype() == DType::F32, op, ": ", what, " must be F32, got ", t->describe());
  PD_CHECK(t->dim() == 1 && t->size(0) == n, op, ": ", what, " must be [", n, "], got ", t->describe());
}

// A per-sample row vector [B, D] (modulation, gate): F32 on the op's device.
void check_rows(const char* op, const Tensor& t, const Shape& bd, const char* what) {
  PD_CHECK(t.dtype() == DType::F32 && t.shape() == bd, op, ": ", what, " ", t.describe(), " must be F32",
           shape_str(bd));
}

bool is_suffix(const Shape& small, const Shape& big) {
  if (small.size() > big.size()) return false;
  return std::equal(small.begin(), small.end(), big.end() - static_cast<std::ptrdiff_t>(small.size()));
}

Tensor bias_as_f32(const Tensor* bias) { return bias->dtype() == DType::F32 ? *bias : bias->to(DType::F32); }

}  // namespace

namespace {
Tensor linear_on_gpu(const Tensor& x, const Tensor& w, const Tensor* bias, DType out, cpu::Epilogue epilogue);

Tensor linear_with(const Tensor& x, const GemmWeight& w, const Tensor* bias, DType out, cpu::Epilogue epilogue) {
  if (device_of("linear", {&x, w.packed() ? nullptr : &w.bytes(), bias}) == Device::CUDA) {
    PD_CHECK(!w.packed(), "linear: a weight packed for the CPU met a GPU input");
    return linear_on_gpu(x, w.bytes(), bias, out, epilogue);
  }
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

// The GPU: x and w both BF16, or both F32 (the reference); an F32 x meeting a BF16 weight is
// rounded to BF16 on the device first, as on the CPU. The output in `out` dtype.
Tensor linear_on_gpu(const Tensor& x, const Tensor& w, const Tensor* bias, DType out, cpu::Epilogue epilogue) {
  PD_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input ", x.describe(),
           " does not match weight ", w.describe(), " ([out, in])");
  PD_CHECK((x.dtype() == DType::F32 || x.dtype() == DType::BF16) && (w.dtype() == DType::F32 || w.dtype() == DType::BF16),
           "linear: input ", x.describe(), " and weight ", w.describe(), " must be F32 or BF16");
  PD_CHECK(x.dtype() == w.dtype() || (x.dtype() == DType::F32 && w.dtype() == DType::BF16), "linear: input ",
           x.describe(), " and weight ", w.describe(), " must be F32/F32, BF16/BF16 or F32 input with BF16 weight");
  PD_CHECK(out == DType::F32 || out == DType::BF16, "linear: output dtype must be F32 or BF16, got ", dtype_name(out));
  const int64_t K = w.size(1), N = w.size(0);
  if (bias) {
    PD_CHECK(bias->dim() == 1 && bias->size(0) == N, "linear: bias ", bias->describe(), " must be [", N, "]");
    PD_CHECK(bias->device() == x.device(), "linear: bias ", bias->describe(), " is on another device");
  }
  Shape out_shape = x.shape();
  out_shape.back() = N;
  Tensor y = Tensor::empty(out_shape, out, x.device());
  if (y.numel() == 0) return y;
  const Tensor a = x.dtype() == w.dtype() ? x : x.to(w.dtype());
  Tensor y2 = y.reshape({-1, N});
  PD_ON_CUDA(cuda::gemm(a.reshape({-1, K}), w, /*trans_w=*/true, bias, y2,
                        epilogue == cpu::Epilogue::None       ? cuda::Epilogue::None
                        : epilogue == cpu::Epilogue::GeluTanh ? cuda::Epilogue::GeluTanh
                                                              : cuda::Epilogue::GeluErf));
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
  const Device dev = device_of("matmul", {&a, &b});
  PD_CHECK(a.dim() == 2 && b.dim() == 2, "matmul: expects 2-d tensors, got ", a.describe(), " and ", b.describe());
  const int64_t K = a.size(1), N = trans_b ? b.size(0) : b.size(1);
  PD_CHECK((trans_b ? b.size(1) : b.size(0)) == K, "matmul: inner dimensions differ: ", a.describe(), " and ",
           b.describe(), trans_b ? " (transposed)" : "");
  PD_CHECK(a.dtype() == b.dtype() && (a.dtype() == DType::F32 || a.dtype() == DType::BF16),
           "matmul: operands must both be F32 or both BF16");
  Tensor c = Tensor::empty({a.size(0), N}, a.dtype(), dev);
  if (c.numel() == 0) return c;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::gemm(a, b, trans_b, nullptr, c, cuda::Epilogue::None));
  else cpu::matmul(a, b, trans_b, nullptr, c);
  return c;
}

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
  const Device dev = device_of("layer_norm", {&x, weight, bias});
  check_activation("layer_norm", x, "input");
  PD_CHECK(x.dim() >= 1 && x.size(-1) > 0, "layer_norm: empty last dimension in ", x.describe());
  check_vector("layer_norm", weight, x.size(-1), "weight");
  check_vector("layer_norm", bias, x.size(-1), "bias");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  if (x.numel() == 0) return y;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::layer_norm(x, weight, bias, eps, y));
  else cpu::layer_norm(x, weight, bias, eps, y);
  return y;
}

Tensor rms_norm(const Tensor& x, const Tensor* weight, float eps) {
  const Device dev = device_of("rms_norm", {&x, weight});
  check_activation("rms_norm", x, "input");
  PD_CHECK(x.dim() >= 1 && x.size(-1) > 0, "rms_norm: empty last dimension in ", x.describe());
  check_vector("rms_norm", weight, x.size(-1), "weight");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  if (x.numel() == 0) return y;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::rms_norm(x, weight, eps, y));
  else cpu::rms_norm(x, weight, eps, y);
  return y;
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps) {
  const Device dev = device_of("group_norm", {&x, weight, bias});
  check_activation("group_norm", x, "input");
  PD_CHECK(x.dim() >= 2 && x.numel() > 0, "group_norm: expects a non-empty [N, C, ...] tensor, got ", x.describe());
  PD_CHECK(groups > 0 && x.size(1) % groups == 0, "group_norm: ", x.size(1), " channels do not split into ", groups,
           " groups");
  check_vector("group_norm", weight, x.size(1), "weight");
  check_vector("group_norm", bias, x.size(1), "bias");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::group_norm(x, groups, weight, bias, eps, y));
  else cpu::group_norm(x, groups, weight, bias, eps, y);
  return y;
}

Tensor activation(const Tensor& x, Activation kind) {
  const Device dev = device_of("activation", {&x});
  check_activation("activation", x, "input");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  if (x.numel() == 0) return y;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::activation(x, static_cast<int>(kind), y));
  else cpu::activation(x, static_cast<cpu::Act>(kind), y);
  return y;
}

Tensor softmax(const Tensor& x) {
  const Device dev = device_of("softmax", {&x});
  check_activation("softmax", x, "input");
  PD_CHECK(x.dim() >= 1 && x.size(-1) > 0, "softmax: empty last dimension in ", x.describe());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  if (x.numel() == 0) return y;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::softmax(x, y));
  else cpu::softmax(x, y);
  return y;
}

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
  return cpu::best_bf16_attention_kernel() == cpu::Bf16AttentionKernel::Avx512Bf16 &&
         cpu::bf16_attention_supports(head_dim);
}

Tensor attention_lse(const Tensor& q, const Tensor& k, const Tensor& v, float scale, Tensor& lse) {
  const Device dev = check_attention(q, k, v, scale, nullptr);
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

namespace {
// A convolution as one GEMM on the device: the padded input's patches gathered by a strided
// view ([N, Ho, Wo, C, kh, kw], a patchify needs no padding and reads each value once), times
// the weight [Cout, C*kh*kw]^T, permuted back to NCHW. Correct everywhere; the columns cost
// kh*kw times the input's memory (cuDNN's convolution is the faster path still to come).
Tensor conv2d_as_gemm(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p, int64_t ho,
                      int64_t wo) {
  const int64_t N = x.size(0), C = x.size(1), kh = w.size(2), kw = w.size(3), Cout = w.size(0);
  Tensor padded = x;
  if (p.pad_top || p.pad_left || p.pad_bottom || p.pad_right) {
    padded = Tensor::zeros({N, C, x.size(2) + p.pad_top + p.pad_bottom, x.size(3) + p.pad_left + p.pad_right},
                           x.dtype(), x.device());
    const Tensor inner = padded.slice(2, p.pad_top, p.pad_top + x.size(2)).slice(3, p.pad_left, p.pad_left + x.size(3));
    device_memory(x.device()).copy_strided(x.shape(), x.strides(), x.raw(), x.dtype(), inner.strides(),
                                           const_cast<void*>(inner.raw()), x.dtype());
  }
  const Shape& s = padded.strides();
  const Shape col_shape = {N, ho, wo, C, kh, kw};
  const Shape col_strides = {s[0], p.stride * s[2], p.stride * s[3], s[1], s[2], s[3]};
  Tensor cols = Tensor::empty(col_shape, x.dtype(), x.device());
  device_memory(x.device()).copy_strided(col_shape, col_strides, padded.raw(), x.dtype(), cols.strides(), cols.raw(),
                                         x.dtype());
  const Tensor w2 = (w.dtype() == x.dtype() ? w : w.to(x.dtype())).reshape({Cout, C * kh * kw});
  const Tensor y = linear(cols.reshape({N * ho * wo, C * kh * kw}), w2, bias);  // [N*Ho*Wo, Cout]
  return permute(y.reshape({N, ho, wo, Cout}), {0, 3, 1, 2});
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) {
  const Device dev = device_of("conv2d", {&x, &w, bias});
  check_activation("conv2d", x, "input");
  if (dev == Device::CPU) check_f32("conv2d", w, "weight");
  PD_CHECK(x.dim() == 4 && w.dim() == 4 && x.size(1) == w.size(1), "conv2d: input ", x.describe(),
           " does not match weight ", w.describe(), " ([Cout, Cin, kh, kw])");
  check_vector("conv2d", bias, w.size(0), "bias");
  PD_CHECK(p.stride >= 1 && p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0,
           "conv2d: stride must be >= 1 and padding >= 0");
  const int64_t h = x.size(2) + p.pad_top + p.pad_bottom - w.size(2);
  const int64_t wd = x.size(3) + p.pad_left + p.pad_right - w.size(3);
  PD_CHECK(h >= 0 && wd >= 0, "conv2d: kernel ", w.describe(), " is larger than the padded input ", x.describe());
  if (dev != Device::CPU) return conv2d_as_gemm(x, w, bias, p, h / p.stride + 1, wd / p.stride + 1);
  Tensor y = Tensor::empty({x.size(0), w.size(0), h / p.stride + 1, wd / p.stride + 1});
  const int64_t pads[4] = {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right};
  cpu::conv2d(x, w, bias, p.stride, pads, y);
  return y;
}

Tensor upsample_nearest2x(const Tensor& x) {
  const Device dev = device_of("upsample_nearest2x", {&x});
  check_activation("upsample_nearest2x", x, "input");
  PD_CHECK(x.dim() == 4, "upsample_nearest2x: expects [N, C, H, W], got ", x.describe());
  if (dev != Device::CPU) {  // y viewed as [N, C, H, 2, W, 2] filled from x broadcast over the 2s
    Tensor y = Tensor::empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)}, x.dtype(), dev);
    const Shape shape = {x.size(0), x.size(1), x.size(2), 2, x.size(3), 2};
    const Shape src = {x.stride(0), x.stride(1), x.stride(2), 0, x.stride(3), 0};
    const Shape dst = {y.stride(0), y.stride(1), 2 * y.stride(2), y.stride(2), 2, 1};
    device_memory(dev).copy_strided(shape, src, x.raw(), x.dtype(), dst, y.raw(), y.dtype());
    return y;
  }
  Tensor y = Tensor::empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)});
  cpu::upsample_nearest2x(x, y);
  return y;
}

Tensor embedding(const Tensor& table, const std::vector<int64_t>& ids) {
  const Device dev = device_of("embedding", {&table});
  PD_CHECK(table.dim() == 2, "embedding: table must be [V, D], got ", table.describe());
  for (int64_t id : ids)
    PD_CHECK(id >= 0 && id < table.size(0), "embedding: id ", id, " out of range for a vocabulary of ", table.size(0));
  Tensor y = Tensor::empty({static_cast<int64_t>(ids.size()), table.size(1)}, table.dtype(), dev);
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::embedding(table, ids, y));
  else cpu::embedding(table, ids, y);
  return y;
}

static Tensor binary(const char* op, const Tensor& a, const Tensor& b, cpu::Binary kind) {
  const Device dev = device_of(op, {&a, &b});
  check_activation(op, a, "a");
  check_activation(op, b, "b");
  PD_CHECK(is_suffix(b.shape(), a.shape()) && (b.numel() > 0 || a.numel() == 0), op, ": cannot broadcast ",
           b.describe(), " to ", a.describe());
  Tensor y = Tensor::empty(a.shape(), a.dtype(), dev);
  if (a.numel() == 0) return y;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::binary(a, b, static_cast<int>(kind), y));
  else cpu::binary(a, b, kind, y);
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary("add", a, b, cpu::Binary::Add); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", a, b, cpu::Binary::Mul); }

Tensor modulate(const Tensor& x, const Tensor& scale, const Tensor& shift) {
  const Device dev = device_of("modulate", {&x, &scale, &shift});
  check_activation("modulate", x, "x");
  PD_CHECK(x.dim() == 3, "modulate: x must be [B, N, D], got ", x.describe());
  const Shape bd = {x.size(0), x.size(2)};
  check_rows("modulate", scale, bd, "scale");
  check_rows("modulate", shift, bd, "shift");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  if (x.numel() == 0) return y;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::modulate(x, scale, shift, y));
  else cpu::modulate(x, scale, shift, y);
  return y;
}

Tensor gated_add(const Tensor& x, const Tensor& gate, const Tensor& y) {
  const Device dev = device_of("gated_add", {&x, &gate, &y});
  check_activation("gated_add", x, "x");
  PD_CHECK(x.dim() == 3 && y.shape() == x.shape() && y.dtype() == x.dtype(), "gated_add: x ", x.describe(), " and y ",
           y.describe(), " must be the same [B, N, D]");
  check_rows("gated_add", gate, {x.size(0), x.size(2)}, "gate");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), dev);
  if (x.numel() == 0) return out;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::gated_add(x, gate, y, out));
  else cpu::gated_add(x, gate, y, out);
  return out;
}

Tensor layer_norm_modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, float eps) {
  const Device dev = device_of("layer_norm_modulate", {&x, &scale, &shift});
  check_activation("layer_norm_modulate", x, "x");
  PD_CHECK(x.dim() == 3 && x.size(2) > 0, "layer_norm_modulate: x must be [B, N, D], got ", x.describe());
  const Shape bd = {x.size(0), x.size(2)};
  check_rows("layer_norm_modulate", scale, bd, "scale");
  check_rows("layer_norm_modulate", shift, bd, "shift");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  if (x.numel() == 0) return y;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::layer_norm_modulate(x, scale, shift, eps, y));
  else cpu::layer_norm_modulate(x, scale, shift, eps, y);
  return y;
}

Tensor guidance_combine(const Tensor& uncond, const Tensor& cond, float scale) {
  const Device dev = device_of("guidance_combine", {&uncond, &cond});
  check_activation("guidance_combine", uncond, "uncond");
  PD_CHECK(uncond.shape() == cond.shape() && uncond.dtype() == cond.dtype(), "guidance_combine: ", uncond.describe(),
           " and ", cond.describe(), " differ");
  PD_CHECK(std::isfinite(scale), "guidance_combine: the scale must be finite");
  Tensor out = Tensor::empty(cond.shape(), cond.dtype(), dev);
  if (out.numel() == 0) return out;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::guidance_combine(uncond, cond, scale, out));
  else cpu::guidance_combine(uncond, cond, scale, out);
  return out;
}

void euler_step(Tensor& latents, const Tensor& velocity, float sigma, float sigma_next) {
  const Device dev = device_of("euler_step", {&latents, &velocity});
  check_activation("euler_step", latents, "latents");
  check_activation("euler_step", velocity, "velocity");
  PD_CHECK(latents.shape() == velocity.shape(), "euler_step: latents ", latents.describe(), " and velocity ",
           velocity.describe(), " differ");
  if (latents.numel() == 0) return;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::euler_step(latents, velocity, sigma_next - sigma));
  else cpu::euler_step(latents, velocity, sigma_next - sigma);
}

}  // namespace paradit::ops
