// Flash attention with bf16 products on the CPU. Each head's keys and values are packed once
// into the pair-interleaved layouts that VDPBF16PS multiplies (two bf16 products summed into
// each f32 lane); each task then owns 128 query rows of one head and walks the keys 256 at a
// time with an online softmax in f32:
//   scores  S[r, 16 keys]  += (q[r, 2p], q[r, 2p+1]) . K-pack[block][p]   (8 rows x 32 keys a tile)
//   output  O[r, 16 dims]  += (P[r, 2m], P[r, 2m+1]) . V-pack[m][dims]    (4 rows x 64 dims a tile)
// The probabilities are rounded to bf16 for the second product and their row sums taken from
// the rounded values, so that the normalisation matches what was multiplied (as PyTorch's bf16
// SDPA does). With AVX512-BF16 the tiles run on it (attention_avx512.cpp); on cores whose f32
// FMAs outrun VDPBF16PS (best_bf16_gemm), FMA tiles compute the same products from the same
// bf16-rounded values held as f32 (pack_head<T, float>); elsewhere a portable loop computes
// them from the bf16 packs (widened to f32, f32 FMAs), so every machine can test it.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backend/cpu/attention_tiles.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/fast_math.h"
#include "core/cpu_features.h"
#include "core/dtype.h"

namespace paradit::cpu {
namespace {

constexpr int64_t kQueryBlock = 128;
constexpr int64_t kKeyChunk = 256;  // a multiple of 32
constexpr int64_t kMaxHeadDim = 512;

// Round to nearest even, inline so the loops vectorise (f32_to_bf16 also maps NaN to torch's NaN;
// attention inputs here are finite, and the probabilities lie in [0, 1]).
inline uint16_t round_bf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float widen_bf16(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }
inline float widen(float x) { return x; }
inline float widen(uint16_t b) { return widen_bf16(b); }
inline void store(float* p, float x) { *p = x; }
inline void store(uint16_t* p, float x) { *p = round_bf16(x); }

// Where global query row i (of the streams' rows, in order) lives: the stream and its local row.
int64_t locate(const std::vector<AttentionRows>& streams, int64_t& i) {
  size_t s = 0;
  while (s + 1 < streams.size() && i >= streams[s].n) i -= streams[s++].n;
  return static_cast<int64_t>(s);
}
// The same for key rows.
int64_t locate_key(const std::vector<AttentionRows>& streams, int64_t& j) {
  size_t s = 0;
  while (s + 1 < streams.size() && j >= streams[s].n_kv) j -= streams[s++].n_kv;
  return static_cast<int64_t>(s);
}

template <typename T>
const T* row_at(const void* base, const int64_t stride[3], int64_t b, int64_t i, int64_t h) {
  return static_cast<const T*>(base) + b * stride[0] + i * stride[1] + h * stride[2];
}

// One input row as f32, RMS-normalised with `norm` ([d]) when given, as rms_norm computes it,
// then rotated by the rotary row (cos, sin: [d]) when given, as apply_rope does.
template <typename T>
void row_to_f32(const T* src, const float* norm, float eps, int64_t d, float* dst, const float* cos = nullptr,
                const float* sin = nullptr) {
#pragma omp simd
  for (int64_t c = 0; c < d; ++c) dst[c] = widen(src[c]);
  if (norm) {
    // In vector lanes (rms_norm sums in order; the difference is far below the bf16 rounding
    // that follows). The in-order sum was a chain of d dependent adds per row.
    float sq = 0.f;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < d; ++c) sq += dst[c] * dst[c];
    const float inv = 1.f / std::sqrt(sq / static_cast<float>(d) + eps);
#pragma omp simd
    for (int64_t c = 0; c < d; ++c) dst[c] = dst[c] * inv * norm[c];
  }
  if (cos) {
    for (int64_t c = 0; c < d; c += 2) {
      const float re = dst[c], im = dst[c + 1];
      dst[c] = re * cos[c] - im * sin[c];
      dst[c + 1] = im * cos[c + 1] + re * sin[c + 1];
    }
  }
}
const float* table_row(const float* table, int64_t row, int64_t d) { return table ? table + row * d : nullptr; }

// One head's keys and values, bf16-rounded, rows from the streams in order, padding zeros.
// E = uint16_t (the bf16 tiles): keys [nk_pad / 16][d / 2][16 keys][2 dims], values
// [nk_pad / 2][d / 16][16 dims][2 keys]. E = float (the FMA tiles, the same values held as f32):
// keys [nk_pad / 16][d][16 keys], values [nk_pad][d].
template <typename T, typename E>
void pack_head(const std::vector<AttentionRows>& streams, int64_t b, int64_t h, int64_t nk, int64_t nk_pad, int64_t d,
               float eps, E* kp, E* vp) {
  std::fill(kp, kp + nk_pad * d, E{0});
  std::fill(vp, vp + nk_pad * d, E{0});
  float row[kMaxHeadDim];
  for (int64_t j = 0; j < nk; ++j) {
    int64_t local = j;
    const AttentionRows& s = streams[static_cast<size_t>(locate_key(streams, local))];
    row_to_f32(row_at<T>(s.k, s.k_stride, b, local, h), s.k_norm, eps, d, row, table_row(s.rope_cos, local, d),
               table_row(s.rope_sin, local, d));
    const T* v = row_at<T>(s.v, s.v_stride, b, local, h);
    if constexpr (std::is_same_v<E, float>) {
      float* kb = kp + (j / 16) * 16 * d + (j % 16);
      for (int64_t c = 0; c < d; ++c) kb[c * 16] = widen_bf16(round_bf16(row[c]));
      float* vb = vp + j * d;
#pragma omp simd
      for (int64_t c = 0; c < d; ++c) vb[c] = widen_bf16(round_bf16(widen(v[c])));
    } else {
      uint16_t* kb = kp + (j / 16) * 16 * d + (j % 16) * 2;
      for (int64_t p = 0; p < d / 2; ++p) {
        kb[p * 32] = round_bf16(row[2 * p]);
        kb[p * 32 + 1] = round_bf16(row[2 * p + 1]);
      }
      uint16_t* vb = vp + (j / 2) * 2 * d + (j % 2);
#pragma omp simd
      for (int64_t c = 0; c < d; ++c) vb[2 * c] = round_bf16(widen(v[c]));
    }
  }
}

// ---- the same products, portably ----
void qk_tile_portable(const void* qv, int64_t d, const void* kv, float* s, int64_t lds) {
  const auto* q = static_cast<const uint16_t*>(qv);
  const auto* kp = static_cast<const uint16_t*>(kv);
  for (int64_t r = 0; r < kQkRows; ++r)
    for (int64_t j = 0; j < 32; ++j) {
      const uint16_t* kb = kp + (j / 16) * 16 * d + (j % 16) * 2;
      float acc = 0.f;
      for (int64_t p = 0; p < d / 2; ++p)
        acc += bf16_to_f32(q[r * d + 2 * p]) * bf16_to_f32(kb[p * 32]) +
               bf16_to_f32(q[r * d + 2 * p + 1]) * bf16_to_f32(kb[p * 32 + 1]);
      s[r * lds + j] = acc;
    }
}

void pv_tile_portable(const void* pv, int64_t ldp, const void* vv, int64_t d, int64_t pairs, int64_t c0,
                      float* o, int64_t ldo) {
  const auto* p = static_cast<const uint16_t*>(pv);
  const auto* vp = static_cast<const uint16_t*>(vv);
  for (int64_t r = 0; r < kPvRows; ++r)
    for (int64_t m = 0; m < pairs; ++m) {
      const float p0 = bf16_to_f32(p[r * ldp + 2 * m]), p1 = bf16_to_f32(p[r * ldp + 2 * m + 1]);
      const uint16_t* vm = vp + m * 2 * d;
      for (int64_t c = c0; c < c0 + kPvDims; ++c) {
        const uint16_t* pair = vm + (c / 16) * 32 + (c % 16) * 2;
        o[r * ldo + c] += p0 * bf16_to_f32(pair[0]) + p1 * bf16_to_f32(pair[1]);
      }
    }
}

float scale_max_portable(float* row, int64_t n, float scale, const float* bias) {
  float block_max = -INFINITY;
  if (bias) {
#pragma omp simd reduction(max : block_max)
    for (int64_t j = 0; j < n; ++j) {
      row[j] = row[j] * scale + bias[j];
      block_max = fast_max(block_max, row[j]);
    }
  } else {
#pragma omp simd reduction(max : block_max)
    for (int64_t j = 0; j < n; ++j) {
      row[j] = row[j] * scale;
      block_max = fast_max(block_max, row[j]);
    }
  }
  return block_max;
}

float exp_row_portable(const float* row, int64_t n, float m, void* pv) {
  auto* p = static_cast<uint16_t*>(pv);
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) {
    // a key masked by the bias (-inf) must give exactly 0, which the clamped exp alone would not
    const uint16_t e = row[j] == -INFINITY ? uint16_t{0} : round_bf16(fast_exp_for_bf16(row[j] - m));
    p[j] = e;
    sum += widen_bf16(e);
  }
  return sum;
}

AttentionTiles tiles_for(Bf16AttentionKernel kernel) {
  switch (kernel) {
    case Bf16AttentionKernel::Portable:
      return {qk_tile_portable, pv_tile_portable, exp_row_portable, kQkRows, kPvRows, 2};
    case Bf16AttentionKernel::Avx512Bf16: return avx512_bf16_attention_tiles();
    case Bf16AttentionKernel::Avx512Fma: return avx512_fma_attention_tiles();
    case Bf16AttentionKernel::Amx: {
      AttentionTiles t = amx_attention_tiles(false);
      const AttentionTiles avx512 = avx512_bf16_attention_tiles();  // every AMX CPU has AVX512-BF16
      t.exp_row = avx512.exp_row;
      t.scale_max = avx512.scale_max;
      return t;
    }
    case Bf16AttentionKernel::AmxEmulated: {
      AttentionTiles t = amx_attention_tiles(true);
      t.exp_row = exp_row_portable;
      return t;
    }
  }
  return {qk_tile_portable, pv_tile_portable, exp_row_portable, kQkRows, kPvRows, 2};
}

// q and p hold bf16 values, as uint16_t or (f32 operands) as float: 4 bytes an element either
// way, so one buffer serves both.
// Each thread keeps its own across calls (about 330 KiB at d = 64): a call allocates none, so
// the worker threads do not churn their heaps call after call.
struct Scratch {
  std::vector<float> q, p;
  std::vector<float> s, o, row_max, row_sum;
  void size_for(int64_t d) {
    q.resize(static_cast<size_t>(kQueryBlock * d));
    p.resize(static_cast<size_t>(kQueryBlock * kKeyChunk));
    s.resize(static_cast<size_t>(kQueryBlock * kKeyChunk));
    o.resize(static_cast<size_t>(kQueryBlock * d));
    row_max.resize(kQueryBlock);
    row_sum.resize(kQueryBlock);
  }
};
Scratch& thread_scratch(int64_t d) {
  thread_local Scratch scratch;
  scratch.size_for(d);
  return scratch;
}

// Element `i` of a pack (bf16, or f32 for f32 operands).
const void* pack_at(const AttentionTiles& t, const void* pack, int64_t i) {
  return static_cast<const char*>(pack) + i * (t.f32_operands ? 4 : 2);
}

// Row i of a q or P buffer holding `stride` elements a row, as the tiles take it.
const void* operand_row(const AttentionTiles& t, const std::vector<float>& buf, int64_t i, int64_t stride) {
  return t.f32_operands ? static_cast<const void*>(buf.data() + i * stride)
                        : static_cast<const void*>(reinterpret_cast<const uint16_t*>(buf.data()) + i * stride);
}
void* operand_row(const AttentionTiles& t, std::vector<float>& buf, int64_t i, int64_t stride) {
  return const_cast<void*>(operand_row(t, static_cast<const std::vector<float>&>(buf), i, stride));
}
// Zeros for elements [from, to) of an operand row.
void zero_operands(const AttentionTiles& t, void* row, int64_t from, int64_t to) {
  if (to <= from) return;
  const size_t bytes = t.f32_operands ? sizeof(float) : sizeof(uint16_t);
  std::memset(static_cast<char*>(row) + static_cast<size_t>(from) * bytes, 0, static_cast<size_t>(to - from) * bytes);
}

// Query rows [q0, q0 + rows) (global rows over the streams) of batch b, head h; kp/vp: the
// head's packs; bias: the head's [nq, nk] or null.
template <typename T, typename O>
void attend_rows(const AttentionTiles& t, const std::vector<AttentionRows>& streams, int64_t b, int64_t h, const void* kp,
                 const void* vp, const float* bias, int64_t q0, int64_t rows, int64_t nk, int64_t d, float scale,
                 bool causal, float eps, Scratch& s) {
  // The block's queries in bf16; rows past `rows` stay zero so whole tiles can run.
  std::fill(s.q.begin(), s.q.end(), 0.f);
  float row_f32[kMaxHeadDim];
  for (int64_t i = 0; i < rows; ++i) {
    int64_t local = q0 + i;
    const AttentionRows& st = streams[static_cast<size_t>(locate(streams, local))];
    row_to_f32(row_at<T>(st.q, st.q_stride, b, local, h), st.q_norm, eps, d, row_f32,
               table_row(st.rope_cos, local, d), table_row(st.rope_sin, local, d));
    if (t.f32_operands) {
      float* dst = s.q.data() + i * d;
#pragma omp simd
      for (int64_t c = 0; c < d; ++c) dst[c] = widen_bf16(round_bf16(row_f32[c]));
    } else {
      uint16_t* dst = static_cast<uint16_t*>(operand_row(t, s.q, i, d));
#pragma omp simd
      for (int64_t c = 0; c < d; ++c) dst[c] = round_bf16(row_f32[c]);
    }
  }
  std::fill(s.o.begin(), s.o.end(), 0.f);
  std::fill(s.row_max.begin(), s.row_max.end(), -INFINITY);
  std::fill(s.row_sum.begin(), s.row_sum.end(), 0.f);
  const int64_t qk_tiles = (rows + t.qk_rows - 1) / t.qk_rows, pv_tiles = (rows + t.pv_rows - 1) / t.pv_rows;
  const auto scale_max = t.scale_max ? t.scale_max : scale_max_portable;
  const int64_t key_end = causal ? std::min(nk, q0 + rows) : nk;
  for (int64_t c0 = 0; c0 < key_end; c0 += kKeyChunk) {
    const int64_t valid = std::min(kKeyChunk, key_end - c0);
    const int64_t key_pairs32 = (valid + 31) / 32;
    for (int64_t rt = 0; rt < qk_tiles; ++rt)
      for (int64_t kb = 0; kb < key_pairs32; ++kb)
        t.qk(operand_row(t, s.q, rt * t.qk_rows, d), d, pack_at(t, kp, (c0 + kb * 32) * d),
             s.s.data() + rt * t.qk_rows * kKeyChunk + kb * 32, kKeyChunk);
    // The online softmax, in f32; probabilities go to bf16 for the second product.
    const int64_t padded = (valid + t.key_align - 1) / t.key_align * t.key_align;  // within the pack's padding
    for (int64_t i = 0; i < pv_tiles * t.pv_rows; ++i) {
      void* p = operand_row(t, s.p, i, kKeyChunk);
      if (i >= rows) {
        zero_operands(t, p, 0, padded);
        continue;
      }
      float* row = s.s.data() + i * kKeyChunk;
      const float* bb = bias ? bias + (q0 + i) * nk + c0 : nullptr;
      const int64_t limit = causal ? std::min(valid, q0 + i + 1 - c0) : valid;  // keys this row may see
      const float block_max = limit > 0 ? scale_max(row, limit, scale, bb) : -INFINITY;
      const float new_max = fast_max(s.row_max[i], block_max);
      if (limit <= 0 || new_max == -INFINITY) {
        zero_operands(t, p, 0, padded);
        continue;
      }
      const float correction = s.row_max[i] == -INFINITY ? 0.f : fast_exp(s.row_max[i] - new_max);
      const float sum = t.exp_row(row, limit, new_max, p);
      zero_operands(t, p, limit, padded);
      s.row_sum[i] = s.row_sum[i] * correction + sum;
      s.row_max[i] = new_max;
      if (correction != 1.f) {
        float* o = s.o.data() + i * d;
        for (int64_t c = 0; c < d; ++c) o[c] *= correction;
      }
    }
    for (int64_t rt = 0; rt < pv_tiles; ++rt)
      for (int64_t c = 0; c < d; c += kPvDims)
        t.pv(operand_row(t, s.p, rt * t.pv_rows, kKeyChunk), kKeyChunk, pack_at(t, vp, c0 * d), d, padded / 2, c,
             s.o.data() + rt * t.pv_rows * d, d);
  }
  for (int64_t i = 0; i < rows; ++i) {
    const float inv = s.row_sum[i] > 0.f ? 1.f / s.row_sum[i] : 0.f;
    const float* o = s.o.data() + i * d;
    int64_t local = q0 + i;
    const AttentionRows& st = streams[static_cast<size_t>(locate(streams, local))];
    O* dst = static_cast<O*>(st.out) + b * st.out_stride[0] + local * st.out_stride[1] + h * st.out_stride[2];
    for (int64_t c = 0; c < d; ++c) store(dst + c, o[c] * inv);
  }
}

template <typename T, typename O>
void run(const AttentionTiles& t, const std::vector<AttentionRows>& streams, int64_t batch, int64_t heads, int64_t d,
         float scale, bool causal, const Tensor* bias, float eps) {
  int64_t n = 0, nk = 0;
  for (const auto& s : streams) {
    n += s.n;
    nk += s.n_kv;
  }
  const int64_t nk_pad = (nk + 31) / 32 * 32, q_blocks = (n + kQueryBlock - 1) / kQueryBlock;
  const int64_t all_heads = batch * heads;
  // The packs are step temporaries: a denoising step serves them from its workspace.
  const int64_t head_elems = nk_pad * d, bytes = all_heads * head_elems * (t.f32_operands ? 4 : 2);
  Tensor kpack = Tensor::empty({bytes}, DType::U8), vpack = Tensor::empty({bytes}, DType::U8);
  const void* kp = kpack.raw();
  const void* vp = vpack.raw();
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < all_heads; ++bh) {
      if (t.f32_operands)
        pack_head<T, float>(streams, bh / heads, bh % heads, nk, nk_pad, d, eps,
                            static_cast<float*>(kpack.raw()) + bh * head_elems,
                            static_cast<float*>(vpack.raw()) + bh * head_elems);
      else
        pack_head<T, uint16_t>(streams, bh / heads, bh % heads, nk, nk_pad, d, eps,
                               static_cast<uint16_t*>(kpack.raw()) + bh * head_elems,
                               static_cast<uint16_t*>(vpack.raw()) + bh * head_elems);
    }
    Scratch& scratch = thread_scratch(d);
    if (t.begin) t.begin();
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t bh = 0; bh < all_heads; ++bh)
      for (int64_t qb = 0; qb < q_blocks; ++qb) {
        const int64_t q0 = qb * kQueryBlock;
        attend_rows<T, O>(t, streams, bh / heads, bh % heads, pack_at(t, kp, bh * head_elems),
                          pack_at(t, vp, bh * head_elems),
                          bias ? bias->data<float>() + (bh % heads) * n * nk : nullptr, q0,
                          std::min(kQueryBlock, n - q0), nk, d, scale, causal, eps, scratch);
      }
    if (t.end) t.end();
  }
}

}  // namespace

Bf16AttentionKernel best_bf16_attention_kernel() {
  static const Bf16AttentionKernel best = [] {
    const char* amx = std::getenv("PARADIT_AMX");
    const bool amx_allowed = !(amx && std::strcmp(amx, "0") == 0);
    if (cpu_features().avx512_bf16 && amx_allowed && amx_tiles_usable()) return Bf16AttentionKernel::Amx;
    // The GEMM's measured choice between bf16 pairs and widened FMAs holds for these tiles too.
    if (cpu_features().avx512f && best_bf16_gemm() == Bf16Gemm::Widened) return Bf16AttentionKernel::Avx512Fma;
    return cpu_features().avx512_bf16 ? Bf16AttentionKernel::Avx512Bf16 : Bf16AttentionKernel::Portable;
  }();
  return best;
}

const char* bf16_attention_kernel_name(Bf16AttentionKernel kernel) {
  switch (kernel) {
    case Bf16AttentionKernel::Avx512Bf16: return "avx512-bf16";
    case Bf16AttentionKernel::Portable: return "portable";
    case Bf16AttentionKernel::Avx512Fma: return "avx512-fma (bf16 widened)";
    case Bf16AttentionKernel::Amx: return "amx";
    case Bf16AttentionKernel::AmxEmulated: return "amx-emulated";
  }
  return "?";
}

bool bf16_attention_supports(int64_t head_dim) {
  return head_dim > 0 && head_dim % kPvDims == 0 && head_dim <= kMaxHeadDim;
}

void attention_bf16_rows(const std::vector<AttentionRows>& streams, int64_t batch, int64_t heads, int64_t d, DType in,
                         DType out, float scale, bool causal, const Tensor* bias, float norm_eps,
                         Bf16AttentionKernel kernel) {
  const AttentionTiles t = tiles_for(kernel);
  const bool bf16_in = in == DType::BF16, bf16_out = out == DType::BF16;
  if (bf16_in && bf16_out) return run<uint16_t, uint16_t>(t, streams, batch, heads, d, scale, causal, bias, norm_eps);
  if (bf16_in) return run<uint16_t, float>(t, streams, batch, heads, d, scale, causal, bias, norm_eps);
  if (bf16_out) return run<float, uint16_t>(t, streams, batch, heads, d, scale, causal, bias, norm_eps);
  run<float, float>(t, streams, batch, heads, d, scale, causal, bias, norm_eps);
}

void attention_bf16(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* bias,
                    Tensor& out, Bf16AttentionKernel kernel) {
  // [B, H, N, D] tensors as one stream of rows: batch stride H*N*D, token stride D, head stride N*D.
  const int64_t B = q.size(0), H = q.size(1), N = q.size(2), NK = k.size(2), D = q.size(3);
  AttentionRows rows;
  rows.q = q.raw();
  rows.k = k.raw();
  rows.v = v.raw();
  rows.out = out.raw();
  rows.n = N;
  rows.n_kv = NK;
  for (int64_t* st : {rows.q_stride, rows.out_stride}) {
    st[0] = H * N * D;
    st[1] = D;
    st[2] = N * D;
  }
  for (int64_t* st : {rows.k_stride, rows.v_stride}) {
    st[0] = H * NK * D;
    st[1] = D;
    st[2] = NK * D;
  }
  attention_bf16_rows({rows}, B, H, D, q.dtype(), out.dtype(), scale, causal, bias, 0.f, kernel);
}

}  // namespace paradit::cpu
