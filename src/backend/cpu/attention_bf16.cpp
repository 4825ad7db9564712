// Flash attention with bf16 products on the CPU. Each head's keys and values are packed once
// into the pair-interleaved layouts that VDPBF16PS multiplies (two bf16 products summed into
// each f32 lane); each task then owns 128 query rows of one head and walks the keys 256 at a
// time with an online softmax in f32:
//   scores  S[r, 16 keys]  += (q[r, 2p], q[r, 2p+1]) . K-pack[block][p]   (8 rows x 32 keys a tile)
//   output  O[r, 16 dims]  += (P[r, 2m], P[r, 2m+1]) . V-pack[m][dims]    (4 rows x 64 dims a tile)
// The probabilities are rounded to bf16 for the second product and their row sums taken from
// the rounded values, so that the normalisation matches what was multiplied (as PyTorch's bf16
// SDPA does). With AVX512-BF16 the tiles run on it; on cores whose f32 FMAs outrun VDPBF16PS
// (best_bf16_gemm), FMA tiles compute the same products from the same bf16-rounded values held
// as f32 (pack_head<T, float>); elsewhere a portable loop computes them from the bf16 packs (widened
// to f32, f32 FMAs), so every machine can test it.
#include <immintrin.h>

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
constexpr int64_t kQkRows = 8, kPvRows = 4, kPvDims = 64;
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
  for (int64_t c = 0; c < d; ++c) dst[c] = widen(src[c]);
  if (norm) {
    float sq = 0.f;
    for (int64_t c = 0; c < d; ++c) sq += dst[c] * dst[c];
    const float inv = 1.f / std::sqrt(sq / static_cast<float>(d) + eps);
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

int32_t pair_at(const uint16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// ---- the AVX512-BF16 tiles ----
#define PD_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define PD_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

// The accumulator blocks of the AVX-512 tiles: kQkRows x 32 scores; kPvRows x 64 output dims.
PD_AVX512_TARGET inline void store_scores(const __m512 (&acc)[kQkRows][2], float* s, int64_t lds) {
  for (int64_t r = 0; r < kQkRows; ++r) {
    _mm512_storeu_ps(s + r * lds, acc[r][0]);
    _mm512_storeu_ps(s + r * lds + 16, acc[r][1]);
  }
}
PD_AVX512_TARGET inline void load_out(__m512 (&acc)[kPvRows][4], const float* o, int64_t ldo, int64_t c0) {
  for (int64_t r = 0; r < kPvRows; ++r)
    for (int64_t c = 0; c < 4; ++c) acc[r][c] = _mm512_loadu_ps(o + r * ldo + c0 + c * 16);
}
PD_AVX512_TARGET inline void store_out(const __m512 (&acc)[kPvRows][4], float* o, int64_t ldo, int64_t c0) {
  for (int64_t r = 0; r < kPvRows; ++r)
    for (int64_t c = 0; c < 4; ++c) _mm512_storeu_ps(o + r * ldo + c0 + c * 16, acc[r][c]);
}

// s[r][0..32) = q[r] . keys [32 of them, two packed blocks] for r < kQkRows.
PD_BF16_TARGET void qk_tile_avx512(const void* qv, int64_t d, const void* kv, float* s, int64_t lds) {
  const auto* q = static_cast<const uint16_t*>(qv);
  const auto* kp = static_cast<const uint16_t*>(kv);
  __m512 acc[kQkRows][2];
  for (auto& a : acc) a[0] = a[1] = _mm512_setzero_ps();
  const uint16_t* k0 = kp;
  const uint16_t* k1 = kp + 16 * d;
  for (int64_t p = 0; p < d / 2; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(k0 + p * 32);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(k1 + p * 32);
    for (int64_t r = 0; r < kQkRows; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(pair_at(q + r * d + 2 * p));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
    }
  }
  store_scores(acc, s, lds);
}

// o[r][c0..c0+64) += sum over key pairs m < pairs of P[r][2m..2m+1] . V-pack[m][c0..c0+64).
PD_BF16_TARGET void pv_tile_avx512(const void* pv, int64_t ldp, const void* vv, int64_t d, int64_t pairs,
                                   int64_t c0, float* o, int64_t ldo) {
  const auto* p = static_cast<const uint16_t*>(pv);
  const auto* vp = static_cast<const uint16_t*>(vv);
  __m512 acc[kPvRows][4];
  load_out(acc, o, ldo, c0);
  for (int64_t m = 0; m < pairs; ++m) {
    const uint16_t* vm = vp + m * 2 * d + (c0 / 16) * 32;
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(vm);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(vm + 32);
    const __m512bh b2 = (__m512bh)_mm512_loadu_si512(vm + 64);
    const __m512bh b3 = (__m512bh)_mm512_loadu_si512(vm + 96);
    for (int64_t r = 0; r < kPvRows; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(pair_at(p + r * ldp + 2 * m));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], a, b2);
      acc[r][3] = _mm512_dpbf16_ps(acc[r][3], a, b3);
    }
  }
  store_out(acc, o, ldo, c0);
}

// GCC 12 warns inside its own AVX-512 headers (the "undefined" source operands of the
// zero-masking intrinsics); nothing here reads an uninitialised value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// exp(row[j] - m) for the 16 lanes j of mask k: the series of fast_exp_for_bf16 (fast_math.h);
// exactly 0 where row[j] is -inf and outside k.
PD_AVX512_TARGET inline __m512 exp_lanes(const float* row, __mmask16 k, float m) {
  const __m512 vm = _mm512_set1_ps(m), lowest = _mm512_set1_ps(-87.3f), minus_inf = _mm512_set1_ps(-INFINITY);
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f), ln2_hi = _mm512_set1_ps(0.693359375f),
               ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
  const __m512 c4 = _mm512_set1_ps(1.f / 24.f), c3 = _mm512_set1_ps(1.f / 6.f), c2 = _mm512_set1_ps(0.5f),
               one = _mm512_set1_ps(1.f);
  const __m512 raw = _mm512_maskz_loadu_ps(k, row);
  const __mmask16 live = _mm512_mask_cmp_ps_mask(k, raw, minus_inf, _CMP_NEQ_OQ);
  const __m512 x = _mm512_max_ps(_mm512_sub_ps(raw, vm), lowest);
  const __m512 t = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_fnmadd_ps(t, ln2_lo, _mm512_fnmadd_ps(t, ln2_hi, x));
  __m512 poly = _mm512_fmadd_ps(c4, r, c3);
  poly = _mm512_fmadd_ps(poly, r, c2);
  poly = _mm512_fmadd_ps(poly, r, one);
  poly = _mm512_fmadd_ps(poly, r, one);
  return _mm512_maskz_mov_ps(live, _mm512_scalef_ps(poly, t));
}

// p[j] = bf16(exp(row[j] - m)) for j < n (exactly 0 where row[j] is -inf); returns the sum of
// the rounded values.
PD_BF16_TARGET float exp_row_avx512(const float* row, int64_t n, float m, void* pv) {
  auto* p = static_cast<uint16_t*>(pv);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - j)) - 1);
    const __m512 e = exp_lanes(row + j, k, m);
    const __m256i b = (__m256i)_mm512_cvtneps_pbh(e);
    _mm256_mask_storeu_epi16(p + j, k, b);
    sum = _mm512_add_ps(sum, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16)));
  }
  return _mm512_reduce_add_ps(sum);
}

// ---- the same products as f32 FMAs on widened bf16 ----
// For cores that issue two FMAs a cycle but VDPBF16PS every other cycle (best_bf16_gemm). The
// operands are the bf16-rounded values held as f32 (pack_head<T, float>), so each product is one FMA
// with its B operand straight from memory: nothing to split or convert in the loop.

PD_AVX512_TARGET void qk_tile_fma(const void* qv, int64_t d, const void* kv, float* s, int64_t lds) {
  const auto* q = static_cast<const float*>(qv);
  const float* k0 = static_cast<const float*>(kv);  // [d][16 keys], then the next 16 keys
  const float* k1 = k0 + 16 * d;
  __m512 acc[kQkRows][2];
  for (auto& a : acc) a[0] = a[1] = _mm512_setzero_ps();
  for (int64_t c = 0; c < d; ++c) {
    const __m512 b0 = _mm512_loadu_ps(k0 + c * 16), b1 = _mm512_loadu_ps(k1 + c * 16);
    for (int64_t r = 0; r < kQkRows; ++r) {
      const __m512 a = _mm512_set1_ps(q[r * d + c]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  store_scores(acc, s, lds);
}

PD_AVX512_TARGET void pv_tile_fma(const void* pv, int64_t ldp, const void* vv, int64_t d, int64_t pairs,
                                  int64_t c0, float* o, int64_t ldo) {
  const auto* p = static_cast<const float*>(pv);
  const auto* v = static_cast<const float*>(vv);  // [keys][d]
  __m512 acc[kPvRows][4];
  load_out(acc, o, ldo, c0);
  for (int64_t j = 0; j < 2 * pairs; ++j) {
    const float* vj = v + j * d + c0;
    const __m512 b0 = _mm512_loadu_ps(vj), b1 = _mm512_loadu_ps(vj + 16), b2 = _mm512_loadu_ps(vj + 32),
                 b3 = _mm512_loadu_ps(vj + 48);
    for (int64_t r = 0; r < kPvRows; ++r) {
      const __m512 a = _mm512_set1_ps(p[r * ldp + j]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(a, b3, acc[r][3]);
    }
  }
  store_out(acc, o, ldo, c0);
}

// The scores' scale (and bias) and their maximum, 16 lanes at a time (the portable build's own
// loop is SSE-wide, and this pass runs over every score).
PD_AVX512_TARGET float scale_max_avx512(float* row, int64_t n, float scale, const float* bias) {
  const __m512 vs = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - j)) - 1);
    __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), vs);
    if (bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(k, bias + j));
    _mm512_mask_storeu_ps(row + j, k, x);
    vmax = _mm512_mask_max_ps(vmax, k, vmax, x);
  }
  return _mm512_reduce_max_ps(vmax);
}

// exp_row_avx512's series with the probabilities rounded to bf16 (nearest even, in integer
// arithmetic) and written back as f32.
PD_AVX512_TARGET float exp_row_fma(const float* row, int64_t n, float m, void* pv) {
  auto* p = static_cast<float*>(pv);
  const __m512i half = _mm512_set1_epi32(0x7fff), lsb = _mm512_set1_epi32(1),
                top = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - j)) - 1);
    const __m512i e = _mm512_castps_si512(exp_lanes(row + j, k, m));
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(e, 16), lsb);
    const __m512 rounded =
        _mm512_castsi512_ps(_mm512_and_si512(_mm512_add_epi32(e, _mm512_add_epi32(half, odd)), top));
    _mm512_mask_storeu_ps(p + j, k, rounded);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, rounded));
  }
  return _mm512_reduce_add_ps(sum);
}
#pragma GCC diagnostic pop

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
    case Bf16AttentionKernel::Avx512Bf16:
      return {qk_tile_avx512, pv_tile_avx512, exp_row_avx512, kQkRows, kPvRows, 2, nullptr, nullptr, false,
              scale_max_avx512};
    case Bf16AttentionKernel::Avx512Fma:
      return {qk_tile_fma, pv_tile_fma, exp_row_fma, kQkRows, kPvRows, 2, nullptr, nullptr, /*f32_operands=*/true,
              scale_max_avx512};
    case Bf16AttentionKernel::Amx: {
      AttentionTiles t = amx_attention_tiles(false);
      t.exp_row = exp_row_avx512;  // every AMX CPU has AVX512-BF16
      t.scale_max = scale_max_avx512;
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
struct Scratch {
  std::vector<float> q, p;
  std::vector<float> s, o, row_max, row_sum;
  explicit Scratch(int64_t d)
      : q(static_cast<size_t>(kQueryBlock * d)), p(static_cast<size_t>(kQueryBlock * kKeyChunk)),
        s(static_cast<size_t>(kQueryBlock * kKeyChunk)), o(static_cast<size_t>(kQueryBlock * d)),
        row_max(kQueryBlock), row_sum(kQueryBlock) {}
};

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
    Scratch scratch(d);
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
