// The AVX-512 tile sets of the bf16 flash-attention kernel (attention_bf16.cpp): VDPBF16PS on
// the pair-interleaved bf16 packs, and f32 FMAs on the same bf16-rounded values held as f32
// (for cores that issue two FMAs a cycle but VDPBF16PS every other cycle; best_bf16_gemm).
// Both carry the AVX-512 exp and scale/max passes over the scores. Layouts: attention_tiles.h.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "backend/cpu/attention_tiles.h"

namespace paradit::cpu {
namespace {

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

}  // namespace

AttentionTiles avx512_bf16_attention_tiles() {
  return {qk_tile_avx512, pv_tile_avx512, exp_row_avx512, kQkRows, kPvRows, 2, nullptr, nullptr, false,
          scale_max_avx512};
}

AttentionTiles avx512_fma_attention_tiles() {
  return {qk_tile_fma, pv_tile_fma, exp_row_fma, kQkRows, kPvRows, 2, nullptr, nullptr, /*f32_operands=*/true,
          scale_max_avx512};
}

}  // namespace paradit::cpu
