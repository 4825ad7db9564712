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

struct AttentionTiles {
  void (*qk)(const uint16_t* q, int64_t d, const uint16_t* kp, float* s, int64_t lds);
  void (*pv)(const uint16_t* p, int64_t ldp, const uint16_t* vp, int64_t d, int64_t pairs, int64_t c0, float* o,
             int64_t ldo);
  float (*exp_row)(const float* row, int64_t n, float m, uint16_t* p);
  int64_t qk_rows, pv_rows;
  int64_t key_align;  // probabilities are zero-padded to a multiple of this many keys
  void (*begin)() = nullptr;
  void (*end)() = nullptr;
};

// AMX (attention_amx.cpp): 16 rows a tile, keys in blocks of 32. `emulated`: the same tile
// program on a software model of the tile registers (any CPU; for tests). exp_row is left for
// the caller. amx_tiles_usable(): the CPU has AMX-BF16 and Linux granted this process the
// tile state (asked once).
AttentionTiles amx_attention_tiles(bool emulated);
bool amx_tiles_usable();

}  // namespace paradit::cpu
