#include "core/dtype.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace paradit {
namespace {

uint32_t float_bits(float f) { return std::bit_cast<uint32_t>(f); }
float bits_float(uint32_t u) { return std::bit_cast<float>(u); }

// Decodes a small IEEE-style float with `exp_bits`/`man_bits`. `ieee_specials` says whether
// an all-ones exponent means inf/NaN (f16, e5m2) or is an ordinary binade (e4m3fn).
float decode_small_float(uint32_t v, int exp_bits, int man_bits, bool ieee_specials) {
  const uint32_t sign = (v >> (exp_bits + man_bits)) & 1u;
  const uint32_t exp = (v >> man_bits) & ((1u << exp_bits) - 1);
  const uint32_t man = v & ((1u << man_bits) - 1);
  const int bias = (1 << (exp_bits - 1)) - 1;
  float mag;
  const uint32_t exp_max = (1u << exp_bits) - 1;
  if (ieee_specials && exp == exp_max) {
    mag = man ? NAN : INFINITY;
  } else if (!ieee_specials && exp == exp_max && man == (1u << man_bits) - 1) {
    mag = NAN;
  } else if (exp == 0) {
    mag = std::ldexp(static_cast<float>(man), 1 - bias - man_bits);
  } else {
    mag = std::ldexp(static_cast<float>(man | (1u << man_bits)), static_cast<int>(exp) - bias - man_bits);
  }
  return sign ? -mag : mag;
}

// Encodes a finite, non-negative f32 bit pattern into a small float with round to nearest
// even. Returns the encoding without a sign; the caller checks it against the format's max.
uint32_t encode_small_magnitude(uint32_t mag, int exp_bits, int man_bits) {
  const int exp32 = static_cast<int>(mag >> 23) - 127;
  if ((mag >> 23) == 0) return 0;  // f32 subnormals are far below every target's range
  const uint32_t mant24 = (mag & 0x7fffffu) | 0x800000u;
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int min_normal_exp = 1 - bias;
  int shift = 23 - man_bits;
  if (exp32 < min_normal_exp) shift += min_normal_exp - exp32;
  if (shift > 25) return 0;
  uint32_t q = mant24 >> shift;
  const uint32_t rem = mant24 & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  if (exp32 < min_normal_exp) return q;  // subnormal; q == 1<<man_bits is the min normal
  int exp = exp32;
  if (q == (2u << man_bits)) {
    q >>= 1;
    ++exp;
  }
  return (static_cast<uint32_t>(exp + bias) << man_bits) | (q & ((1u << man_bits) - 1));
}

std::array<float, 256> make_fp8_table(int exp_bits, int man_bits, bool ieee_specials) {
  std::array<float, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) table[i] = decode_small_float(i, exp_bits, man_bits, ieee_specials);
  return table;
}

const std::array<float, 256>& e4m3_table() {
  static const auto table = make_fp8_table(4, 3, false);
  return table;
}

const std::array<float, 256>& e5m2_table() {
  static const auto table = make_fp8_table(5, 2, true);
  return table;
}

struct DTypeInfo {
  DType type;
  const char* name;
  size_t size;
  bool is_float;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "F32", 4, true},      {DType::BF16, "BF16", 2, true},
    {DType::F16, "F16", 2, true},      {DType::F8_E4M3, "F8_E4M3", 1, true},
    {DType::F8_E5M2, "F8_E5M2", 1, true}, {DType::F64, "F64", 8, true},
    {DType::I64, "I64", 8, false},     {DType::I32, "I32", 4, false},
    {DType::I16, "I16", 2, false},     {DType::I8, "I8", 1, false},
    {DType::U8, "U8", 1, false},       {DType::BOOL, "BOOL", 1, false},
};

const DTypeInfo& info(DType t) {
  for (const auto& i : kDTypes)
    if (i.type == t) return i;
  fail("internal: unknown dtype ", static_cast<int>(t));
}

float load_as_f32(const void* src, DType t, size_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(src)[i];
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(src)[i]);
    case DType::F8_E4M3: return fp8_e4m3_to_f32(static_cast<const uint8_t*>(src)[i]);
    case DType::F8_E5M2: return fp8_e5m2_to_f32(static_cast<const uint8_t*>(src)[i]);
    case DType::F64: return static_cast<float>(static_cast<const double*>(src)[i]);
    case DType::I64: return static_cast<float>(static_cast<const int64_t*>(src)[i]);
    case DType::I32: return static_cast<float>(static_cast<const int32_t*>(src)[i]);
    case DType::I16: return static_cast<float>(static_cast<const int16_t*>(src)[i]);
    case DType::I8: return static_cast<float>(static_cast<const int8_t*>(src)[i]);
    case DType::U8:
    case DType::BOOL: return static_cast<float>(static_cast<const uint8_t*>(src)[i]);
  }
  fail("internal: unknown dtype");
}

void store_from_f32(float v, void* dst, DType t, size_t i) {
  switch (t) {
    case DType::F32: static_cast<float*>(dst)[i] = v; return;
    case DType::BF16: static_cast<uint16_t*>(dst)[i] = f32_to_bf16(v); return;
    case DType::F16: static_cast<uint16_t*>(dst)[i] = f32_to_f16(v); return;
    case DType::F8_E4M3: static_cast<uint8_t*>(dst)[i] = f32_to_fp8_e4m3(v); return;
    case DType::F8_E5M2: static_cast<uint8_t*>(dst)[i] = f32_to_fp8_e5m2(v); return;
    case DType::F64: static_cast<double*>(dst)[i] = v; return;
    default: fail("cannot convert to ", dtype_name(t), ": integer outputs are not supported");
  }
}

}  // namespace

size_t dtype_size(DType t) { return info(t).size; }
const char* dtype_name(DType t) { return info(t).name; }
bool dtype_is_float(DType t) { return info(t).is_float; }

bool dtype_from_name(std::string_view name, DType* out) {
  for (const auto& i : kDTypes) {
    if (name == i.name) {
      *out = i.type;
      return true;
    }
  }
  return false;
}

float bf16_to_f32(uint16_t v) { return bits_float(static_cast<uint32_t>(v) << 16); }

uint16_t f32_to_bf16(float v) {
  const uint32_t u = float_bits(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN, as torch writes it
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float f16_to_f32(uint16_t v) { return decode_small_float(v, 5, 10, true); }

uint16_t f32_to_f16(float v) {
  const uint32_t u = float_bits(v);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u) return sign | 0x7e00;
  if (mag == 0x7f800000u) return sign | 0x7c00;
  const uint32_t enc = encode_small_magnitude(mag, 5, 10);
  return static_cast<uint16_t>(sign | (enc >= 0x7c00 ? 0x7c00 : enc));
}

float fp8_e4m3_to_f32(uint8_t v) { return e4m3_table()[v]; }
float fp8_e5m2_to_f32(uint8_t v) { return e5m2_table()[v]; }

uint8_t f32_to_fp8_e4m3(float v) {
  const uint32_t u = float_bits(v);
  const uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80u);
  const uint32_t mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u) return sign | 0x7f;
  const uint32_t enc = mag == 0x7f800000u ? 0x7f : encode_small_magnitude(mag, 4, 3);
  if (enc > 0x7e) return sign | 0x7e;
  return static_cast<uint8_t>(sign | enc);
}

uint8_t f32_to_fp8_e5m2(float v, bool saturate) {
  const uint32_t u = float_bits(v);
  const uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80u);
  const uint32_t mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u) return sign | 0x7f;
  if (mag == 0x7f800000u) return sign | 0x7c;
  const uint32_t enc = encode_small_magnitude(mag, 5, 2);
  if (enc >= 0x7c) return sign | (saturate ? 0x7b : 0x7c);
  return static_cast<uint8_t>(sign | enc);
}

void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n) {
  if (src_type == dst_type) {
    std::memcpy(dst, src, n * dtype_size(src_type));
    return;
  }
  const auto count = static_cast<int64_t>(n);
  if (src_type == DType::BF16 && dst_type == DType::F32) {
    const auto* s = static_cast<const uint16_t*>(src);
    auto* d = static_cast<uint32_t*>(dst);
#pragma omp parallel for simd if (count > (1 << 16))
    for (int64_t i = 0; i < count; ++i) d[i] = static_cast<uint32_t>(s[i]) << 16;
    return;
  }
  if (src_type == DType::F32 && dst_type == DType::BF16) {
    const auto* s = static_cast<const float*>(src);
    auto* d = static_cast<uint16_t*>(dst);
    // f32_to_bf16 inlined, branch-free so that it vectorises (a tenth of a bf16 step was
    // spent in the scalar call converting activations for the GEMMs).
#pragma omp parallel for simd if (count > (1 << 16))
    for (int64_t i = 0; i < count; ++i) {
      const uint32_t u = std::bit_cast<uint32_t>(s[i]);
      const auto rounded = static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
      d[i] = (u & 0x7fffffffu) > 0x7f800000u ? uint16_t{0x7fc0} : rounded;
    }
    return;
  }
  PD_CHECK(dtype_is_float(dst_type), "cannot convert to ", dtype_name(dst_type),
           ": integer outputs are not supported");
#pragma omp parallel for if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) store_from_f32(load_as_f32(src, src_type, i), dst, dst_type, i);
}

}  // namespace paradit
