// Element-wise kernels: the strided copy (views, casts, permutes, concats), broadcasts,
// activations, the modulation and gated residual, the guidance combine, the Euler step, the
// rotary embedding and the embedding gather. Grid-stride loops, f32 arithmetic.
#include <vector>

#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernel_util.cuh"
#include "core/hashed_uniform.h"

namespace paradit::cuda {
namespace {

constexpr int kMaxDims = 8;
struct Strided {
  int ndim;
  int64_t size[kMaxDims], src[kMaxDims], dst[kMaxDims];
};

template <typename S, typename D>
__global__ void copy_strided_kernel(const S* src, D* dst, Strided d, int64_t total) {
  PD_GRID_STRIDE(i, total) {
    int64_t rem = i, so = 0, dof = 0;
    for (int k = d.ndim - 1; k >= 0; --k) {
      const int64_t idx = rem % d.size[k];
      rem /= d.size[k];
      so += idx * d.src[k];
      dof += idx * d.dst[k];
    }
    st(dst, dof, ld(src, so));
  }
}

template <typename A, typename B>
__global__ void binary_kernel(const A* a, const B* b, A* y, int64_t n, int64_t nb, int kind) {
  PD_GRID_STRIDE(i, n) {
    const float x = ld(a, i), z = ld(b, i % nb);
    st(y, i, kind == 0 ? x + z : x * z);
  }
}

template <typename T>
__global__ void activation_kernel(const T* x, T* y, int64_t n, int kind) {
  PD_GRID_STRIDE(i, n) {
    const float v = ld(x, i);
    float r;
    if (kind == 0) r = 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    else if (kind == 1) r = 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    else if (kind == 2) r = v / (1.f + __expf(-1.702f * v));
    else r = v / (1.f + __expf(-v));
    st(y, i, r);
  }
}

// y = x * (1 + scale[b]) + shift[b] over [B, N, D] (mode 0); out = x + gate[b] * y (mode 1).
template <typename T>
__global__ void modulate_kernel(const T* x, const float* scale, const float* shift, T* y, int64_t ND, int64_t D,
                                int64_t total) {
  PD_GRID_STRIDE(i, total) {
    const int64_t bd = (i / ND) * D + i % D;
    st(y, i, ld(x, i) * (1.f + scale[bd]) + shift[bd]);
  }
}

template <typename T>
__global__ void gated_add_kernel(const T* x, const float* gate, const T* y, T* out, int64_t ND, int64_t D,
                                 int64_t total) {
  PD_GRID_STRIDE(i, total) { st(out, i, ld(x, i) + gate[(i / ND) * D + i % D] * ld(y, i)); }
}

template <typename T>
__global__ void guidance_kernel(const T* u, const T* c, T* out, float scale, int64_t n) {
  PD_GRID_STRIDE(i, n) {
    const float uu = ld(u, i);
    st(out, i, uu + scale * (ld(c, i) - uu));
  }
}

template <typename T, typename V>
__global__ void euler_kernel(T* x, const V* v, float dt, int64_t n) {
  PD_GRID_STRIDE(i, n) { st(x, i, ld(x, i) + dt * ld(v, i)); }
}

template <typename T>
__global__ void hashed_uniform_kernel(T* out, uint64_t seed, float center, float scale, int64_t n) {
  PD_GRID_STRIDE(i, n) st(out, i, center + scale * hashed_uniform(seed, static_cast<uint64_t>(i)));
}

template <typename T>
__global__ void rope_kernel(T* x, const float* cos, const float* sin, int64_t N, int64_t D, int64_t pairs) {
  PD_GRID_STRIDE(p, pairs) {
    const int64_t e = p * 2, n = (e / D) % N, c = e % D;
    const float re = ld(x, e), im = ld(x, e + 1);
    st(x, e, re * cos[n * D + c] - im * sin[n * D + c]);
    st(x, e + 1, im * cos[n * D + c + 1] + re * sin[n * D + c + 1]);
  }
}

template <typename T>
__global__ void embedding_kernel(const T* table, const int64_t* ids, T* y, int64_t D, int64_t total) {
  PD_GRID_STRIDE(i, total) { y[i] = table[ids[i / D] * D + i % D]; }
}

}  // namespace

void copy_strided(const Shape& shape, const Shape& src_strides, const void* src, DType src_dtype,
                  const Shape& dst_strides, void* dst, DType dst_dtype) {
  // Merge dimensions that are contiguous in both, drop size-1 dimensions: fewer divisions.
  std::vector<int64_t> size, ss, ds;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!size.empty() && ss.back() == src_strides[i] * shape[i] && ds.back() == dst_strides[i] * shape[i]) {
      size.back() *= shape[i];
      ss.back() = src_strides[i];
      ds.back() = dst_strides[i];
      continue;
    }
    size.push_back(shape[i]);
    ss.push_back(src_strides[i]);
    ds.push_back(dst_strides[i]);
  }
  const int64_t total = shape_numel(shape);
  if (total == 0) return;
  if (size.empty()) {
    size = {1};
    ss = {0};
    ds = {0};
  }
  PD_CHECK(size.size() <= static_cast<size_t>(kMaxDims), "cuda copy_strided: ", shape_str(shape), " has more than ",
           kMaxDims, " non-mergeable dimensions");
  Strided d{};
  d.ndim = static_cast<int>(size.size());
  for (size_t i = 0; i < size.size(); ++i) {
    d.size[i] = size[i];
    d.src[i] = ss[i];
    d.dst[i] = ds[i];
  }
  with_type(src_dtype, "copy", [&](auto s) {
    using S = decltype(s);
    with_type(dst_dtype, "copy", [&](auto t) {
      using D = decltype(t);
      copy_strided_kernel<S, D><<<grid_for(total, 256), 256, 0, stream()>>>(static_cast<const S*>(src),
                                                                            static_cast<D*>(dst), d, total);
    }, true);
  }, true);
  check_launch("copy_strided");
}

void binary(const Tensor& a, const Tensor& b, int kind, Tensor& y) {
  with_type(a.dtype(), "binary", [&](auto ta) {
    using A = decltype(ta);
    with_type(b.dtype(), "binary", [&](auto tb) {
      using B = decltype(tb);
      binary_kernel<A, B><<<grid_for(a.numel(), 256), 256, 0, stream()>>>(a.data<A>(), b.data<B>(), y.data<A>(),
                                                                          a.numel(), b.numel(), kind);
    });
  });
  check_launch("binary");
}

void activation(const Tensor& x, int kind, Tensor& y) {
  with_type(x.dtype(), "activation", [&](auto t) {
    using T = decltype(t);
    activation_kernel<T><<<grid_for(x.numel(), 256), 256, 0, stream()>>>(x.data<T>(), y.data<T>(), x.numel(), kind);
  });
  check_launch("activation");
}

void modulate(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y) {
  const int64_t D = x.size(2);
  with_type(x.dtype(), "modulate", [&](auto t) {
    using T = decltype(t);
    modulate_kernel<T><<<grid_for(x.numel(), 256), 256, 0, stream()>>>(
        x.data<T>(), scale.data<float>(), shift.data<float>(), y.data<T>(), x.size(1) * D, D, x.numel());
  });
  check_launch("modulate");
}

void gated_add(const Tensor& x, const Tensor& gate, const Tensor& y, Tensor& out) {
  const int64_t D = x.size(2);
  with_type(x.dtype(), "gated_add", [&](auto t) {
    using T = decltype(t);
    gated_add_kernel<T><<<grid_for(x.numel(), 256), 256, 0, stream()>>>(
        x.data<T>(), gate.data<float>(), y.data<T>(), out.data<T>(), x.size(1) * D, D, x.numel());
  });
  check_launch("gated_add");
}

void guidance_combine(const Tensor& uncond, const Tensor& cond, float scale, Tensor& out) {
  with_type(cond.dtype(), "guidance_combine", [&](auto t) {
    using T = decltype(t);
    guidance_kernel<T><<<grid_for(cond.numel(), 256), 256, 0, stream()>>>(uncond.data<T>(), cond.data<T>(),
                                                                          out.data<T>(), scale, cond.numel());
  });
  check_launch("guidance_combine");
}

void euler_step(Tensor& latents, const Tensor& velocity, float dt) {
  with_type(latents.dtype(), "euler_step", [&](auto t) {
    using T = decltype(t);
    with_type(velocity.dtype(), "euler_step", [&](auto v) {
      using V = decltype(v);
      euler_kernel<T, V><<<grid_for(latents.numel(), 256), 256, 0, stream()>>>(latents.data<T>(), velocity.data<V>(),
                                                                               dt, latents.numel());
    });
  });
  check_launch("euler_step");
}

void fill_hashed_uniform(Tensor& out, uint64_t seed, float center, float scale) {
  with_type(out.dtype(), "fill_hashed_uniform", [&](auto t) {
    using T = decltype(t);
    hashed_uniform_kernel<T><<<grid_for(out.numel(), 256), 256, 0, stream()>>>(out.data<T>(), seed, center, scale,
                                                                               out.numel());
  });
  check_launch("fill_hashed_uniform");
}

void apply_rope(Tensor& x, const Tensor& cos, const Tensor& sin) {
  const int64_t pairs = x.numel() / 2;
  with_type(x.dtype(), "apply_rope", [&](auto t) {
    using T = decltype(t);
    rope_kernel<T><<<grid_for(pairs, 256), 256, 0, stream()>>>(x.data<T>(), cos.data<float>(), sin.data<float>(),
                                                               x.size(2), x.size(3), pairs);
  });
  check_launch("apply_rope");
}

void embedding(const Tensor& table, const std::vector<int64_t>& ids, Tensor& y) {
  if (ids.empty()) return;
  Tensor host = Tensor::empty({static_cast<int64_t>(ids.size())}, DType::I64);
  for (size_t i = 0; i < ids.size(); ++i) host.data<int64_t>()[i] = ids[i];
  const Tensor dev = host.to(Device::CUDA);
  const int64_t D = table.size(1), total = y.numel();
  with_type(table.dtype(), "embedding", [&](auto t) {
    using T = decltype(t);
    embedding_kernel<T><<<grid_for(total, 256), 256, 0, stream()>>>(table.data<T>(), dev.data<int64_t>(),
                                                                    y.data<T>(), D, total);
  }, true);
  check_launch("embedding");
}

}  // namespace paradit::cuda
