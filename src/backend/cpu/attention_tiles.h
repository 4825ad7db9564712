// The tile functions the bf16 flash-attention kernel (attention_bf16.cpp) runs its two products
// with, one set per instruction set. Both products read the packs attention_bf16.cpp makes:
//   keys   [nk_pad / 16][d / 2][16 keys][2 dims]   (VDPBF16PS's and AMX's pair-interleaved B)
//   values [nk_pad / 2][d / 16][16 dims][2 keys]
// qk: s[r][0..32) = q[r] . keys (32 of them: two packed blocks) for r < qk_rows;
// pv: o[r][c0..c0+64) += sum over key pairs m < pairs of P[r][2m..2m+1] . V-pack[m][c0..c0+64)
//     for r < pv_rows (pairs a multiple of key_align / 2);
// begin / end: per thread, around a run of tile calls (the AMX tile configuration).
#pragma once

#include <cstdint>

namespace paradit::cpu {

// The AVX-512 and portable tiles' sizes: qk rows x 32 keys, pv rows x kPvDims output dims.
constexpr int64_t kQkRows = 8, kPvRows = 4, kPvDims = 64;

// Where f32_operands is set (the FMA tiles), every operand holds the same bf16-rounded values
// as f32 instead: q and P as f32 rows, keys as [nk_pad / 16][d][16 keys], values as plain
// [nk_pad][d], so that each product is one FMA with no pair to split.
struct AttentionTiles {
  void (*qk)(const void* q, int64_t d, const void* kp, float* s, int64_t lds);
  void (*pv)(const void* p, int64_t ldp, const void* vp, int64_t d, int64_t pairs, int64_t c0, float* o,
             int64_t ldo);
  float (*exp_row)(const float* row, int64_t n, float m, void* p);
  int64_t qk_rows, pv_rows;
  int64_t key_align;  // probabilities are zero-padded to a multiple of this many keys
  void (*begin)() = nullptr;
  void (*end)() = nullptr;
  bool f32_operands = false;
  // row[j] = row[j] * scale (+ bias[j]) for j < n, returning the largest; null: a portable loop.
  float (*scale_max)(float* row, int64_t n, float scale, const float* bias) = nullptr;
};

// AVX-512 (attention_avx512.cpp): VDPBF16PS tiles (needs AVX512-BF16), and FMA tiles on f32
// operands (AVX-512F); both with AVX-512 exp_row and scale_max.
AttentionTiles avx512_bf16_attention_tiles();
AttentionTiles avx512_fma_attention_tiles();

// AMX (attention_amx.cpp): 16 rows a tile, keys in blocks of 32. `emulated`: the same tile
// program on a software model of the tile registers (any CPU; for tests). exp_row is left for
// the caller. amx_tiles_usable(): the CPU has AMX-BF16 and Linux granted this process the
// tile state (asked once).
AttentionTiles amx_attention_tiles(bool emulated);
bool amx_tiles_usable();

}  // namespace paradit::cpu
