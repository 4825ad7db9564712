// Attention on the GPU: a flash-style kernel of ours (online softmax, f32 scores and
// accumulators, O(tile) memory) for every case the models have (head size 64, 128 and the
// VAE's 512; causal; T5's bias; the log-sum-exp ring attention merges with), reading q, k, v
// through strides; the merge of two partial results; and joint attention, which packs each
// stream's q, k, v (qk RMSNorm and rotary embedding applied on the way) into one buffer per
// operand and writes each stream's output in its [B, N, H*D] layout.
//
// The kernel: a block of WARPS warps takes WARPS consecutive query rows of one (batch, head);
// the block stages KT keys and values in shared memory; in a warp, lane l scores key l of the
// tile against the warp's query (kept in shared memory, pre-scaled), the warp takes the tile's
// max and sum with shuffles, and each lane accumulates D/32 output dimensions.
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/kernel_util.cuh"
#ifdef PARADIT_HAVE_CUDNN
#include "backend/cuda/sdpa_cudnn.h"
#endif

namespace paradit::cuda {
namespace {

struct AttnParams {
  const void *q, *k, *v;
  void* out;
  const float* bias;
  float* lse;
  int64_t qs[3], ks[3], vs[3], os[3];  // element strides of (batch, head, row)
  int nq, nk, heads;
  float scale;
  bool causal;
};

template <typename T, typename O, int D, int KT, int WARPS>
__global__ void __launch_bounds__(WARPS * 32) attention_kernel(AttnParams p) {
  static_assert(D % 32 == 0 && KT <= 32, "head size a multiple of 32, at most 32 keys a tile");
  constexpr int PER_LANE = D / 32;
  __shared__ float kt[KT][D + 1];
  __shared__ float vt[KT][D + 1];
  __shared__ float qsm[WARPS][D];
  __shared__ float psm[WARPS][KT];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t b = blockIdx.z, h = blockIdx.y;
  const int r0 = blockIdx.x * WARPS, row = r0 + warp;
  const bool active = row < p.nq;
  const T* q = static_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1];
  const T* k = static_cast<const T*>(p.k) + b * p.ks[0] + h * p.ks[1];
  const T* v = static_cast<const T*>(p.v) + b * p.vs[0] + h * p.vs[1];
  if (active)
    for (int c = lane; c < D; c += 32) qsm[warp][c] = ld(q, row * p.qs[2] + c) * p.scale;
  float acc[PER_LANE];
#pragma unroll
  for (int j = 0; j < PER_LANE; ++j) acc[j] = 0.f;
  float m = -INFINITY, l = 0.f;
  const int key_end = p.causal ? min(p.nk, r0 + WARPS) : p.nk;
  const float* bias = p.bias && active ? p.bias + (h * p.nq + row) * static_cast<int64_t>(p.nk) : nullptr;
  for (int k0 = 0; k0 < key_end; k0 += KT) {
    __syncthreads();
    for (int i = threadIdx.x; i < KT * D; i += blockDim.x) {
      const int r = i / D, c = i % D, key = k0 + r;
      kt[r][c] = key < p.nk ? ld(k, key * p.ks[2] + c) : 0.f;
      vt[r][c] = key < p.nk ? ld(v, key * p.vs[2] + c) : 0.f;
    }
    __syncthreads();
    if (!active) continue;
    const int key = k0 + lane;
    float s = -INFINITY;
    if (lane < KT && key < p.nk && !(p.causal && key > row)) {
      s = 0.f;
#pragma unroll 8
      for (int c = 0; c < D; ++c) s += qsm[warp][c] * kt[lane][c];
      if (bias) s += bias[key];
    }
    const float m_new = fmaxf(m, warp_max(s));
    if (m_new == -INFINITY) continue;  // every key so far masked
    const float prob = s == -INFINITY ? 0.f : __expf(s - m_new);
    const float correction = __expf(m - m_new);
    l = l * correction + warp_sum(prob);
    if (lane < KT) psm[warp][lane] = prob;
    __syncwarp();
#pragma unroll
    for (int j = 0; j < PER_LANE; ++j) {
      float a = acc[j] * correction;
      for (int t = 0; t < KT; ++t) a += psm[warp][t] * vt[t][lane + 32 * j];
      acc[j] = a;
    }
    __syncwarp();
    m = m_new;
  }
  if (!active) return;
  const float inv = l > 0.f ? 1.f / l : 0.f;
  O* out = static_cast<O*>(p.out) + b * p.os[0] + h * p.os[1] + row * p.os[2];
#pragma unroll
  for (int j = 0; j < PER_LANE; ++j) st(out, lane + 32 * j, acc[j] * inv);
  if (p.lse && lane == 0) p.lse[(b * p.heads + h) * p.nq + row] = l > 0.f ? m + logf(l) : -INFINITY;
}

template <typename T, typename O, int D, int KT, int WARPS>
void launch(const AttnParams& p, int64_t B) {
  const dim3 grid(static_cast<unsigned>((p.nq + WARPS - 1) / WARPS), static_cast<unsigned>(p.heads),
                  static_cast<unsigned>(B));
  attention_kernel<T, O, D, KT, WARPS><<<grid, WARPS * 32, 0, stream()>>>(p);
}

template <typename T, typename O>
void launch_for_head_size(const AttnParams& p, int64_t B, int64_t D) {
  if (D == 64) launch<T, O, 64, 32, 8>(p, B);
  else if (D == 128) launch<T, O, 128, 32, 8>(p, B);
  else launch<T, O, 512, 8, 4>(p, B);
}

// (out_a, lse_a) <- merge with (out_b, lse_b), one thread per row.
__global__ void merge_kernel(float* out_a, float* lse_a, const float* out_b, const float* lse_b, int64_t rows,
                             int64_t D) {
  PD_GRID_STRIDE(r, rows) {
    const float la = lse_a[r], lb = lse_b[r], m = fmaxf(la, lb);
    if (m == -INFINITY) continue;
    const float wa = __expf(la - m), wb = __expf(lb - m), inv = 1.f / (wa + wb);
    for (int64_t c = 0; c < D; ++c)
      out_a[r * D + c] = (wa * out_a[r * D + c] + wb * out_b[r * D + c]) * inv;
    lse_a[r] = m + logf(wa + wb);
  }
}

// One warp per (b, n, h) row of D values: RMSNorm (when norm), rotary (when cos), written to
// dst [B, H, total, D] at row offset + n.
template <typename T>
__global__ void pack_kernel(const T* src, int64_t sb, int64_t sn, int64_t sh, const float* norm, const float* cos,
                            const float* sin, T* dst, int64_t B, int N, int H, int total, int offset, int D, float eps) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= B * N * H) return;
  const int h = static_cast<int>(row % H), n = static_cast<int>((row / H) % N);
  const int64_t b = row / (static_cast<int64_t>(H) * N);
  const T* in = src + b * sb + n * sn + h * sh;
  T* out = dst + ((b * H + h) * total + offset + n) * D;
  float re[8], im[8];
  float sq = 0.f;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const int pair = lane + 32 * j;
    re[j] = im[j] = 0.f;
    if (2 * pair < D) {
      re[j] = ld(in, 2 * pair);
      im[j] = ld(in, 2 * pair + 1);
      sq += re[j] * re[j] + im[j] * im[j];
    }
  }
  const float r = norm ? rsqrtf(warp_sum(sq) / static_cast<float>(D) + eps) : 1.f;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const int c = 2 * (lane + 32 * j);
    if (c >= D) continue;
    float x0 = re[j] * r, x1 = im[j] * r;
    if (norm) {
      x0 *= norm[c];
      x1 *= norm[c + 1];
    }
    if (cos) {
      const float* cr = cos + static_cast<int64_t>(n) * D;
      const float* sr = sin + static_cast<int64_t>(n) * D;
      const float y0 = x0 * cr[c] - x1 * sr[c], y1 = x1 * cr[c + 1] + x0 * sr[c + 1];
      x0 = y0;
      x1 = y1;
    }
    st(out, c, x0);
    st(out, c + 1, x1);
  }
}

void strides_of(const Tensor& t, int64_t* s) {
  s[0] = t.stride(0);
  s[1] = t.stride(1);
  s[2] = t.stride(2);
}

void run_attention(const AttnParams& p, DType in, DType out, int64_t B, int64_t D) {
  with_type(in, "attention", [&](auto ti) {
    using T = decltype(ti);
    with_type(out, "attention", [&](auto to) {
      using O = decltype(to);
      launch_for_head_size<T, O>(p, B, D);
    });
  });
  check_launch("attention");
}

}  // namespace

bool attention_supports(int64_t head_dim) { return head_dim == 64 || head_dim == 128 || head_dim == 512; }

void attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* bias,
               Tensor& out, Tensor* lse) {
  const int64_t B = q.size(0), H = q.size(1), D = q.size(3);
  PD_CHECK(attention_supports(D), "cuda attention: head size ", D, " is not supported (64, 128 or 512)");
  PD_CHECK(H <= 65535 && B <= 65535 && q.size(2) < (1ll << 31) && k.size(2) < (1ll << 31),
           "cuda attention: ", q.describe(), " is too large for one grid");
#ifdef PARADIT_HAVE_CUDNN
  // cuDNN's fused kernel where it applies (bf16 in, no bias, no log-sum-exp); an f32 output
  // is written through a bf16 buffer.
  if (!bias && !lse && q.dtype() == DType::BF16 && cudnn_sdpa_available()) {
    if (out.dtype() == DType::BF16) {
      if (cudnn_sdpa(q, k, v, scale, causal, out)) return;
    } else {
      Tensor staged = Tensor::empty(out.shape(), DType::BF16, Device::CUDA);
      if (cudnn_sdpa(q, k, v, scale, causal, staged)) {
        copy_strided(out.shape(), staged.strides(), staged.raw(), DType::BF16, out.strides(), out.raw(), out.dtype());
        return;
      }
    }
  }
#endif
  AttnParams p{};
  p.q = q.raw();
  p.k = k.raw();
  p.v = v.raw();
  p.out = out.raw();
  p.bias = bias ? bias->data<float>() : nullptr;
  p.lse = lse ? lse->data<float>() : nullptr;
  // q, k, v, out are [B, H, N, D]: strides of dimensions 0, 1, 2.
  strides_of(q, p.qs);
  strides_of(k, p.ks);
  strides_of(v, p.vs);
  strides_of(out, p.os);
  p.nq = static_cast<int>(q.size(2));
  p.nk = static_cast<int>(k.size(2));
  p.heads = static_cast<int>(H);
  p.scale = scale;
  p.causal = causal;
  run_attention(p, q.dtype(), out.dtype(), B, D);
}

void attention_merge(Tensor& out_a, Tensor& lse_a, const Tensor& out_b, const Tensor& lse_b) {
  const int64_t rows = lse_a.numel(), D = out_a.size(-1);
  merge_kernel<<<grid_for(rows, 128), 128, 0, stream()>>>(out_a.data<float>(), lse_a.data<float>(),
                                                          out_b.data<float>(), lse_b.data<float>(), rows, D);
  check_launch("attention_merge");
}

void joint_attention(const std::vector<JointStream>& streams, float scale, float norm_eps, bool causal,
                     std::vector<Tensor>& outs) {
  const Tensor& q0 = *streams[0].q;
  const int64_t B = q0.size(0), H = q0.size(2), D = q0.size(3);
  PD_CHECK(attention_supports(D) && D <= 512, "cuda joint_attention: head size ", D, " is not supported");
  int64_t total_q = 0, total_k = 0;
  for (const auto& s : streams) {
    total_q += s.q->size(1);
    total_k += s.k->size(1);
  }
  const DType dt = q0.dtype();
  Tensor q = Tensor::empty({B, H, total_q, D}, dt, Device::CUDA);
  Tensor k = Tensor::empty({B, H, total_k, D}, dt, Device::CUDA);
  Tensor v = Tensor::empty({B, H, total_k, D}, dt, Device::CUDA);
  int64_t off_q = 0, off_k = 0;
  for (const auto& s : streams) {
    auto pack = [&](const Tensor& src, const Tensor* norm, bool rope, Tensor& dst, int64_t total, int64_t offset) {
      const int64_t n = src.size(1), rows = B * n * H;
      if (rows == 0) return;
      with_type(dt, "joint_attention", [&](auto t) {
        using T = decltype(t);
        pack_kernel<T><<<grid_for(rows, 8), 256, 0, stream()>>>(
            src.data<T>(), src.stride(0), src.stride(1), src.stride(2), norm ? norm->data<float>() : nullptr,
            rope && s.rope_cos ? s.rope_cos->data<float>() : nullptr,
            rope && s.rope_sin ? s.rope_sin->data<float>() : nullptr, dst.data<T>(), B, static_cast<int>(n),
            static_cast<int>(H), static_cast<int>(total), static_cast<int>(offset), static_cast<int>(D), norm_eps);
      });
      check_launch("joint_attention packing");
    };
    pack(*s.q, s.q_norm, true, q, total_q, off_q);
    pack(*s.k, s.k_norm, true, k, total_k, off_k);
    pack(*s.v, nullptr, false, v, total_k, off_k);
    off_q += s.q->size(1);
    off_k += s.k->size(1);
  }
  // One stream writes its output in place; several write one [B, total, H*D] buffer whose row
  // ranges are then copied out (a strided copy per stream).
  const DType out_dtype = outs[0].dtype();
  Tensor joint = streams.size() == 1 ? outs[0] : Tensor::empty({B, total_q, H * D}, out_dtype, Device::CUDA);
  Tensor joint_heads = joint.unflatten(2, {H, D}).permuted({0, 2, 1, 3});  // [B, H, total, D] view
  attention(q, k, v, scale, causal, nullptr, joint_heads, nullptr);
  if (streams.size() == 1) return;
  int64_t off = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    const int64_t n = streams[i].q->size(1);
    const Tensor part = joint.slice(1, off, off + n);
    copy_strided(part.shape(), part.strides(), part.raw(), out_dtype, outs[i].strides(), outs[i].raw(), out_dtype);
    off += n;
  }
}

}  // namespace paradit::cuda
