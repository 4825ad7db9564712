// dtype conversions against torch's own casts, bit for bit (tests/fixtures/dtypes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

// Compares our encoding of every f32 value with the bytes torch wrote. NaNs must stay NaNs.
template <typename Bits, typename Encode, typename Decode>
void expect_encoding_matches(const char* label, const Tensor& src, const Tensor& expected, Encode encode,
                             Decode decode) {
  const float* in = src.data<float>();
  const Bits* want = expected.data<Bits>();
  int mismatches = 0;
  for (int64_t i = 0; i < src.numel(); ++i) {
    const Bits got = encode(in[i]);
    const bool both_nan = std::isnan(decode(got)) && std::isnan(decode(want[i]));
    if (got != want[i] && !both_nan && ++mismatches <= 5)
      ADD_FAILURE() << label << ": " << in[i] << " encodes to 0x" << std::hex << +got << ", torch gives 0x" << +want[i];
  }
  EXPECT_EQ(mismatches, 0) << label;
}

TEST(DType, EncodingMatchesTorch) {
  Fixture f("dtypes/conversions");
  const Tensor src = f.checkpoint().get("f32");
  expect_encoding_matches<uint16_t>("bf16", src, f.checkpoint().get("bf16"), [](float v) { return f32_to_bf16(v); },
                                    bf16_to_f32);
  expect_encoding_matches<uint16_t>("f16", src, f.checkpoint().get("f16"), [](float v) { return f32_to_f16(v); },
                                    f16_to_f32);
  expect_encoding_matches<uint8_t>("e4m3", src, f.checkpoint().get("e4m3"),
                                   [](float v) { return f32_to_fp8_e4m3(v); }, fp8_e4m3_to_f32);
  expect_encoding_matches<uint8_t>("e5m2", src, f.checkpoint().get("e5m2"),
                                   [](float v) { return f32_to_fp8_e5m2(v); }, fp8_e5m2_to_f32);
}

void expect_decoding_matches(const char* label, const Tensor& decoded_by_torch, int bits,
                             float (*decode)(uint32_t)) {
  const float* want = decoded_by_torch.data<float>();
  ASSERT_EQ(decoded_by_torch.numel(), int64_t{1} << bits);
  int mismatches = 0;
  for (uint32_t i = 0; i < (1u << bits); ++i) {
    const float got = decode(i);
    const bool same = std::isnan(got) ? std::isnan(want[i]) : std::memcmp(&got, &want[i], 4) == 0;
    if (!same && ++mismatches <= 5) ADD_FAILURE() << label << ": 0x" << std::hex << i << " decodes to " << got;
  }
  EXPECT_EQ(mismatches, 0) << label;
}

TEST(DType, EveryNarrowPatternDecodesAsTorch) {
  Fixture f("dtypes/conversions");
  expect_decoding_matches("e4m3", f.checkpoint().get("every_e4m3"), 8,
                          [](uint32_t v) { return fp8_e4m3_to_f32(static_cast<uint8_t>(v)); });
  expect_decoding_matches("e5m2", f.checkpoint().get("every_e5m2"), 8,
                          [](uint32_t v) { return fp8_e5m2_to_f32(static_cast<uint8_t>(v)); });
  expect_decoding_matches("f16", f.checkpoint().get("every_f16"), 16,
                          [](uint32_t v) { return f16_to_f32(static_cast<uint16_t>(v)); });
}

TEST(DType, BulkConvertAgreesWithScalar) {
  Fixture f("dtypes/conversions");
  const Tensor src = f.checkpoint().get("f32");
  for (DType t : {DType::BF16, DType::F16, DType::F8_E4M3, DType::F8_E5M2}) {
    const Tensor narrow = src.to(t);
    const Tensor& torch = f.checkpoint().get(t == DType::BF16 ? "bf16" : t == DType::F16 ? "f16"
                                                               : t == DType::F8_E4M3 ? "e4m3" : "e5m2");
    const Tensor back = narrow.to(DType::F32), torch_back = torch.to(DType::F32);
    for (int64_t i = 0; i < src.numel(); ++i) {
      const float a = back.data<float>()[i], b = torch_back.data<float>()[i];
      ASSERT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << dtype_name(t) << " element " << i;
    }
  }
}

TEST(DType, SaturatingFp8) {
  EXPECT_EQ(f32_to_fp8_e4m3(1000.f), 0x7e);
  EXPECT_EQ(f32_to_fp8_e4m3(-INFINITY), 0xfe);
  EXPECT_EQ(f32_to_fp8_e5m2(1e6f, true), 0x7b);
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.f);
  EXPECT_EQ(fp8_e5m2_to_f32(0x7b), 57344.f);
}

TEST(DType, NamesRoundTrip) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::F8_E4M3, DType::F8_E5M2, DType::I64, DType::BOOL}) {
    DType parsed;
    ASSERT_TRUE(dtype_from_name(dtype_name(t), &parsed));
    EXPECT_EQ(parsed, t);
  }
  DType ignored;
  EXPECT_FALSE(dtype_from_name("F4", &ignored));
  EXPECT_FALSE(dtype_from_name("f32", &ignored));
}

}  // namespace
}  // namespace paradit
