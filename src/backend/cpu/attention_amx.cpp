// Attention's two products on AMX tiles (attention_tiles.h says what each computes). The packs
// attention_bf16.cpp makes for VDPBF16PS are already in AMX's pair-interleaved B layout, so the
// tiles load them as they are:
//   scores  tmm0/1 [16 rows x 16 keys] += q [16 rows x 32 dims] . keys [16 dim pairs x 16 keys x 2]
//   output  tmm4..7 [16 rows x 16 dims] += P [16 rows x 32 keys] . values [16 key pairs x 16 dims x 2]
// One tile configuration serves both (every tile 16 rows of 64 bytes): tmm0, tmm1 the scores,
// tmm2 the A operand, tmm3 the B operand, tmm4..7 64 output dimensions.
//
// The tile program is written once over a register file: the hardware's, and a software model
// of it (byte-for-byte tile loads and stores, TDPBF16PS's pair products accumulated in f32), so
// that the program's addressing is tested on every machine; the hardware runs it where the CPU
// has AMX and Linux grants the tile state.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "backend/cpu/attention_tiles.h"
#include "core/cpu_features.h"
#include "core/dtype.h"

namespace paradit::cpu {
namespace {

#define PD_AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

TileConfig make_config() {
  TileConfig c;
  for (int i = 0; i < 8; ++i) {
    c.colsb[i] = 64;
    c.rows[i] = 16;
  }
  return c;
}
const TileConfig kConfig = make_config();

// The tile instructions take their registers as immediates, hence one function per use.
struct HardwareTiles {
  PD_AMX_TARGET static void begin() { _tile_loadconfig(&kConfig); }
  PD_AMX_TARGET static void end() { _tile_release(); }
  PD_AMX_TARGET static void zero_scores() {
    _tile_zero(0);
    _tile_zero(1);
  }
  PD_AMX_TARGET static void load_a(const void* p, int64_t stride) { _tile_loadd(2, p, stride); }
  PD_AMX_TARGET static void load_b(const void* p, int64_t stride) { _tile_loadd(3, p, stride); }
  template <int S>
  PD_AMX_TARGET static void score() {
    if constexpr (S == 0) _tile_dpbf16ps(0, 2, 3);
    else _tile_dpbf16ps(1, 2, 3);
  }
  PD_AMX_TARGET static void store_scores(float* s, int64_t stride) {
    _tile_stored(0, s, stride);
    _tile_stored(1, s + 16, stride);
  }
  PD_AMX_TARGET static void load_out(const float* o, int64_t stride) {
    _tile_loadd(4, o, stride);
    _tile_loadd(5, o + 16, stride);
    _tile_loadd(6, o + 32, stride);
    _tile_loadd(7, o + 48, stride);
  }
  template <int C>
  PD_AMX_TARGET static void accumulate() {
    if constexpr (C == 0) _tile_dpbf16ps(4, 2, 3);
    else if constexpr (C == 1) _tile_dpbf16ps(5, 2, 3);
    else if constexpr (C == 2) _tile_dpbf16ps(6, 2, 3);
    else _tile_dpbf16ps(7, 2, 3);
  }
  PD_AMX_TARGET static void store_out(float* o, int64_t stride) {
    _tile_stored(4, o, stride);
    _tile_stored(5, o + 16, stride);
    _tile_stored(6, o + 32, stride);
    _tile_stored(7, o + 48, stride);
  }
};

// The same register file in memory, per thread.
struct EmulatedTiles {
  static constexpr int kRows = 16, kBytes = 64;
  static inline thread_local unsigned char reg[8][kRows * kBytes];

  static void begin() {}
  static void end() {}
  static void load(int t, const void* p, int64_t stride) {
    for (int r = 0; r < kRows; ++r) std::memcpy(reg[t] + r * kBytes, static_cast<const char*>(p) + r * stride, kBytes);
  }
  static void store(int t, void* p, int64_t stride) {
    for (int r = 0; r < kRows; ++r) std::memcpy(static_cast<char*>(p) + r * stride, reg[t] + r * kBytes, kBytes);
  }
  // TDPBF16PS: c[m][n] += a[m][2k] * b[k][2n] + a[m][2k+1] * b[k][2n+1] over k, in f32.
  static void dp(int c, int a, int b) {
    float cf[kRows][16];
    uint16_t af[kRows][32], bf[kRows][32];
    std::memcpy(cf, reg[c], sizeof cf);
    std::memcpy(af, reg[a], sizeof af);
    std::memcpy(bf, reg[b], sizeof bf);
    for (int m = 0; m < kRows; ++m)
      for (int k = 0; k < 16; ++k)
        for (int n = 0; n < 16; ++n) {
          cf[m][n] += bf16_to_f32(af[m][2 * k]) * bf16_to_f32(bf[k][2 * n]);
          cf[m][n] += bf16_to_f32(af[m][2 * k + 1]) * bf16_to_f32(bf[k][2 * n + 1]);
        }
    std::memcpy(reg[c], cf, sizeof cf);
  }
  static void zero_scores() {
    std::memset(reg[0], 0, sizeof reg[0]);
    std::memset(reg[1], 0, sizeof reg[1]);
  }
  static void load_a(const void* p, int64_t stride) { load(2, p, stride); }
  static void load_b(const void* p, int64_t stride) { load(3, p, stride); }
  template <int S>
  static void score() {
    dp(S, 2, 3);
  }
  static void store_scores(float* s, int64_t stride) {
    store(0, s, stride);
    store(1, s + 16, stride);
  }
  static void load_out(const float* o, int64_t stride) {
    for (int c = 0; c < 4; ++c) load(4 + c, o + 16 * c, stride);
  }
  template <int C>
  static void accumulate() {
    dp(4 + C, 2, 3);
  }
  static void store_out(float* o, int64_t stride) {
    for (int c = 0; c < 4; ++c) store(4 + c, o + 16 * c, stride);
  }
};

// s[r][0..32) = q[r] . keys for 16 rows: the two 16-key blocks, 32 dimensions a step (d % 32 == 0).
template <class Tiles>
PD_AMX_TARGET void qk_tile(const void* qv, int64_t d, const void* kv, float* s, int64_t lds) {
  constexpr int64_t kBf16 = 2, kF32 = 4;
  const auto* q = static_cast<const uint16_t*>(qv);
  const auto* kp = static_cast<const uint16_t*>(kv);
  Tiles::zero_scores();
  const uint16_t* k1 = kp + 16 * d;
  for (int64_t c = 0; c < d; c += 32) {
    Tiles::load_a(q + c, d * kBf16);
    Tiles::load_b(kp + c * 16, 64);  // dim pairs c/2 .. c/2 + 16 of the first block
    Tiles::template score<0>();
    Tiles::load_b(k1 + c * 16, 64);
    Tiles::template score<1>();
  }
  Tiles::store_scores(s, lds * kF32);
}

// o[r][c0..c0+64) += P[r] . values for 16 rows, 16 key pairs a step (pairs % 16 == 0).
template <class Tiles>
PD_AMX_TARGET void pv_tile(const void* pv, int64_t ldp, const void* vv, int64_t d, int64_t pairs, int64_t c0,
                           float* o, int64_t ldo) {
  constexpr int64_t kBf16 = 2, kF32 = 4;
  const auto* p = static_cast<const uint16_t*>(pv);
  const auto* vp = static_cast<const uint16_t*>(vv);
  Tiles::load_out(o + c0, ldo * kF32);
  for (int64_t m = 0; m < pairs; m += 16) {
    Tiles::load_a(p + 2 * m, ldp * kBf16);
    const uint16_t* vm = vp + m * 2 * d + 2 * c0;  // key pair m, dimensions c0 ..; pairs 2d apart
    Tiles::load_b(vm, 2 * d * kBf16);
    Tiles::template accumulate<0>();
    Tiles::load_b(vm + 32, 2 * d * kBf16);
    Tiles::template accumulate<1>();
    Tiles::load_b(vm + 64, 2 * d * kBf16);
    Tiles::template accumulate<2>();
    Tiles::load_b(vm + 96, 2 * d * kBf16);
    Tiles::template accumulate<3>();
  }
  Tiles::store_out(o + c0, ldo * kF32);
}

}  // namespace

AttentionTiles amx_attention_tiles(bool emulated) {
  AttentionTiles t{};
  t.qk_rows = t.pv_rows = 16;
  t.key_align = 32;
  if (emulated) {
    t.qk = qk_tile<EmulatedTiles>;
    t.pv = pv_tile<EmulatedTiles>;
    t.begin = EmulatedTiles::begin;
    t.end = EmulatedTiles::end;
  } else {
    t.qk = qk_tile<HardwareTiles>;
    t.pv = pv_tile<HardwareTiles>;
    t.begin = HardwareTiles::begin;
    t.end = HardwareTiles::end;
  }
  return t;
}

bool amx_tiles_usable() {
  static const bool usable = [] {
    if (!cpu_features().amx_bf16) return false;
    // Linux keeps the tile data state off until a process asks for it (arch_prctl).
    constexpr long kGetPermission = 0x1022, kRequestPermission = 0x1023;
    constexpr unsigned long kTileData = 18;
    if (syscall(SYS_arch_prctl, kRequestPermission, kTileData) != 0) return false;
    unsigned long granted = 0;
    return syscall(SYS_arch_prctl, kGetPermission, &granted) == 0 && (granted & (1ul << kTileData)) != 0;
  }();
  return usable;
}

}  // namespace paradit::cpu
