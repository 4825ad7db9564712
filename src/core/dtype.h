// Element types: the compute types (f32, bf16, f16), the fp8 storage types, and the integer
// types that real checkpoints carry (CLIP's int64 position_ids), plus scalar conversions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace paradit {

enum class DType : uint8_t {
  F32,
  BF16,
  F16,
  F8_E4M3,  // e4m3fn: no infinities, 0x7f/0xff are NaN, max 448
  F8_E5M2,  // IEEE-like: infinities and NaNs
  F64,
  I64,
  I32,
  I16,
  I8,
  U8,
  BOOL,
};

size_t dtype_size(DType t);
// Name as safetensors writes it ("F32", "BF16", "F8_E4M3", ...).
const char* dtype_name(DType t);
// Parses a safetensors dtype string; returns false when unknown.
bool dtype_from_name(std::string_view name, DType* out);
bool dtype_is_float(DType t);

// Scalar conversions. f32 -> narrow types round to nearest, ties to even.
float bf16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_f16(float v);
float fp8_e4m3_to_f32(uint8_t v);
float fp8_e5m2_to_f32(uint8_t v);
// e4m3fn has no infinity: out-of-range values and infinities saturate to +-448, as torch's
// casts do. e5m2 overflows to infinity, or to +-57344 when `saturate` (what a quantizer wants).
uint8_t f32_to_fp8_e4m3(float v);
uint8_t f32_to_fp8_e5m2(float v, bool saturate = false);

// Bulk conversion of n elements between any two float dtypes (and from integers to floats).
void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n);

}  // namespace paradit
