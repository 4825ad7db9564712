#include "ops/ops.h"

#include <cmath>

#include "core/op_profile.h"
#include "ops/checks.h"

namespace paradit::ops {
using namespace detail;

namespace {
Tensor linear_on_gpu(const Tensor& x, const Tensor& w, const Tensor* bias, DType out, cpu::Epilogue epilogue);

Tensor linear_with(const Tensor& x, const GemmWeight& w, const Tensor* bias, DType out, cpu::Epilogue epilogue) {
  const OpScope profile(OpKind::Gemm, x.device());
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
#ifdef PARADIT_HAVE_CUDA
  const Tensor a = x.dtype() == w.dtype() ? x : x.to(w.dtype());
  Tensor y2 = y.reshape({-1, N});
  cuda::gemm(a.reshape({-1, K}), w, /*trans_w=*/true, bias, y2,
             epilogue == cpu::Epilogue::None       ? cuda::Epilogue::None
             : epilogue == cpu::Epilogue::GeluTanh ? cuda::Epilogue::GeluTanh
                                                   : cuda::Epilogue::GeluErf);
  return y;
#else
  (void)K, (void)epilogue;
  fail("this build of paradit has no CUDA backend");
#endif
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
  // Widened bf16 products reorder the plain weight into f32 per call (cpu::Bf16Gemm).
  if (w.device() != Device::CPU || w.dtype() != DType::BF16 || w.numel() == 0 ||
      cpu::best_bf16_gemm() == cpu::Bf16Gemm::Widened)
    return g;
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
  const OpScope profile(OpKind::Gemm, dev);
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
// A convolution as one GEMM on the device: the padded input's patches gathered by a strided
// view ([N, Ho, Wo, C, kh, kw], a patchify needs no padding and reads each value once), times
// the weight [Cout, C*kh*kw]^T, permuted back to NCHW. Correct everywhere; the columns cost
// kh*kw times the input's memory; the fallback where cuDNN is absent or declines.
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
  const OpScope profile(OpKind::Gemm, dev);
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
  if (dev != Device::CPU) {
#ifdef PARADIT_HAVE_CUDA
    // cuDNN where it takes the case (the weight in the activations' dtype), else one GEMM.
    Tensor y = Tensor::empty({x.size(0), w.size(0), h / p.stride + 1, wd / p.stride + 1}, x.dtype(), dev);
    if (w.dtype() == x.dtype() &&
        cuda::conv2d(x, w, bias, {p.stride, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right}, y))
      return y;
#endif
    return conv2d_as_gemm(x, w, bias, p, h / p.stride + 1, wd / p.stride + 1);
  }
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

ResidualAndNorm gated_add_norm_modulate(const Tensor& x, const Tensor& gate, const Tensor& y, const Tensor& scale,
                                        const Tensor& shift, float eps) {
  const Device dev = device_of("gated_add_norm_modulate", {&x, &gate, &y, &scale, &shift});
  check_activation("gated_add_norm_modulate", x, "x");
  PD_CHECK(x.dim() == 3 && x.size(2) > 0 && y.shape() == x.shape() && y.dtype() == x.dtype(),
           "gated_add_norm_modulate: x ", x.describe(), " and y ", y.describe(), " must be the same [B, N, D]");
  PD_CHECK(y.is_contiguous(), "gated_add_norm_modulate: y ", y.describe(), " is a strided view");
  const Shape bd = {x.size(0), x.size(2)};
  check_rows("gated_add_norm_modulate", gate, bd, "gate");
  check_rows("gated_add_norm_modulate", scale, bd, "scale");
  check_rows("gated_add_norm_modulate", shift, bd, "shift");
  ResidualAndNorm r{Tensor::empty(x.shape(), x.dtype(), dev), Tensor::empty(x.shape(), x.dtype(), dev)};
  if (x.numel() == 0) return r;
  if (dev == Device::CUDA) PD_ON_CUDA(cuda::gated_add_norm_modulate(x, gate, y, scale, shift, eps, r.sum, r.normed));
  else cpu::gated_add_norm_modulate(x, gate, y, scale, shift, eps, r.sum, r.normed);
  return r;
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

void fill_hashed_uniform(Tensor& out, uint64_t seed, float center, float scale) {
  PD_CHECK(out.is_contiguous(), "fill_hashed_uniform: ", out.describe(), " is a strided view");
  PD_CHECK(out.dtype() == DType::F32 || (out.dtype() == DType::BF16 && out.device() == Device::CUDA),
           "fill_hashed_uniform: ", out.describe(), " on ", device_name(out.device()), " (F32; BF16 on the GPU)");
  int exponent = 0;
  PD_CHECK(center == 0.f || std::frexp(scale, &exponent) == 0.5f, "fill_hashed_uniform: scale ", scale,
           " is not a power of two and the center is not zero (the devices would round differently)");
  if (out.numel() == 0) return;
  if (out.device() == Device::CUDA) PD_ON_CUDA(cuda::fill_hashed_uniform(out, seed, center, scale));
  else cpu::fill_hashed_uniform(out, seed, center, scale);
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
