// Every CPU op against torch (tests/fixtures/ops), plus the errors bad arguments must give.
#include <gtest/gtest.h>

#include "backend/cpu/cpu_ops.h"
#include "core/error.h"
#include "ops/ops.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

TEST(Ops, Linear) {
  Fixture f("ops/linear");
  const Tensor x = f.f32("in.x"), w = f.f32("in.w"), b = f.f32("in.b");
  EXPECT_MATCHES("linear", ops::linear(x, w, &b), f.f32("out.y"));
  EXPECT_MATCHES("linear no bias", ops::linear(x, w), f.f32("out.y_nobias"));
  // A bf16 bias is accepted and widened.
  const Tensor b16 = f.checkpoint().get("in.b").to(DType::BF16);
  EXPECT_MATCHES("linear bf16 bias", ops::linear(x, w, &b16), f.f32("out.y"));
}

TEST(Ops, LinearBf16) {
  Fixture f("ops/linear");
  const Tensor x = f.f32("in.x").to(DType::BF16), w = f.f32("in.w").to(DType::BF16), b = f.f32("in.b");
  const Tensor y = ops::linear(x, w, &b);
  EXPECT_EQ(y.dtype(), DType::BF16);
  // bf16 inputs and output: about 3 significant digits.
  EXPECT_TRUE(test::close_enough("linear bf16", y.to(DType::F32), f.f32("out.y"), 0.9999, 2e-2));
}

TEST(Ops, LinearMixedF32InputBf16Weight) {
  Fixture f("ops/linear");
  const Tensor x = f.f32("in.x"), w = f.f32("in.w").to(DType::BF16), b = f.f32("in.b");
  const Tensor y = ops::linear(x, w, &b);
  EXPECT_EQ(y.dtype(), DType::F32);
  EXPECT_TRUE(test::close_enough("linear f32 x bf16 w", y, f.f32("out.y"), 0.9999, 1e-2));
}

// The fused forms of the bf16 path against torch's y (the fixture) through the exact ops:
// gelu(x w^T + b) with the GELU fused into the GEMM, and an f32 result from bf16 operands.
TEST(Ops, LinearGeluFusedAndOutputDtype) {
  Fixture f("ops/linear");
  const Tensor x = f.f32("in.x"), w = f.f32("in.w").to(DType::BF16), b = f.f32("in.b");
  const Tensor reference = f.f32("out.y");
  for (const bool tanh : {true, false}) {
    const Tensor fused = ops::linear_gelu(x, w, &b, tanh, DType::BF16);
    EXPECT_EQ(fused.dtype(), DType::BF16);
    EXPECT_TRUE(test::close_enough(tanh ? "linear + gelu(tanh) fused, bf16 out" : "linear + gelu(erf) fused, bf16 out",
                                   fused.to(DType::F32), ops::gelu(reference, tanh), 0.9999, 2e-2));
    const Tensor fused32 = ops::linear_gelu(x, w, &b, tanh, DType::F32);
    EXPECT_EQ(fused32.dtype(), DType::F32);
    EXPECT_TRUE(test::close_enough("linear + gelu fused, f32 out", fused32, ops::gelu(reference, tanh), 0.9999, 1e-2));
  }
  const Tensor y = ops::linear(x.to(DType::BF16), w, &b, DType::F32);
  EXPECT_EQ(y.dtype(), DType::F32);
  EXPECT_TRUE(test::close_enough("linear bf16 x bf16 w, f32 out", y, reference, 0.9999, 1e-2));
  EXPECT_THROW(ops::linear(x, w, &b, DType::F16), Error);
}

// bf16 products both ways the CPU backend runs them (bf16 pairs; widened to f32 FMAs), on every
// machine, against the f32 product of the same bf16-rounded operands (the products are exact in
// f32, so only summation order differs): row counts below the widened minimum, one chunk, equal
// chunks and a shorter last chunk; f32 and bf16 outputs; bias and a fused GELU.
TEST(Ops, Bf16ProductsWidenedOrNotGiveTheF32Product) {
  const int64_t N = 96, K = 160;
  auto filled = [](int64_t rows, int64_t cols, int mul, int mod) {
    Tensor t = Tensor::empty({rows, cols});
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data<float>()[i] = static_cast<float>((i * mul) % mod) / static_cast<float>(mod / 2) - 1.f;
    return t.to(DType::BF16);
  };
  const Tensor w = filled(N, K, 37, 101), bias = filled(1, N, 7, 23).to(DType::F32).reshape({N});
  for (const int64_t rows : {int64_t{5}, cpu::kWidenedMinRows, int64_t{1024}, int64_t{2048}, int64_t{2050}}) {
    const Tensor a = filled(rows, K, 13, 29);
    const Tensor exact = ops::linear(a.to(DType::F32), w.to(DType::F32), &bias);
    for (const auto method : {cpu::Bf16Gemm::Dot, cpu::Bf16Gemm::Widened}) {
      const std::string name = std::string(method == cpu::Bf16Gemm::Dot ? "dot " : "widened ") + std::to_string(rows);
      Tensor y32 = Tensor::empty({rows, N}), y16 = Tensor::empty({rows, N}, DType::BF16);
      Tensor g32 = Tensor::empty({rows, N});
      cpu::matmul(a, w, /*trans_b=*/true, &bias, y32, cpu::Epilogue::None, method);
      cpu::matmul(a, w, /*trans_b=*/true, &bias, y16, cpu::Epilogue::None, method);
      cpu::matmul(a, w, /*trans_b=*/true, &bias, g32, cpu::Epilogue::GeluTanh, method);
      EXPECT_TRUE(test::close_enough(name + " rows, f32 out", y32, exact, 0.9999999, 1e-5));
      // Rounding the output to bf16 is the only further error: half a bf16 ulp, 2^-9 relative.
      EXPECT_TRUE(test::close_enough(name + " rows, bf16 out", y16.to(DType::F32), exact, 0.99999, 4e-3));
      EXPECT_TRUE(test::close_enough(name + " rows, gelu", g32, ops::gelu(exact, true), 0.9999999, 1e-5));
      // b stored [K, N] (trans_b false) takes the same route.
      Tensor kn = Tensor::empty({rows, N});
      cpu::matmul(a, ops::permute(w, {1, 0}), /*trans_b=*/false, &bias, kn, cpu::Epilogue::None, method);
      EXPECT_TRUE(test::close_enough(name + " rows, b as [K, N]", kn, exact, 0.9999999, 1e-5));
    }
  }
}

// Weights packed at load into oneDNN's blocked layout: the same products as the plain weight
// (against torch's y too) for row counts that match the packed blocking and any that might not,
// a lossless round trip, and a checkpoint's pages released without losing its values.
TEST(Ops, PackedWeightsGiveThePlainProducts) {
  Fixture f("ops/linear");
  const Tensor x = f.f32("in.x"), w = f.f32("in.w").to(DType::BF16), b = f.f32("in.b");
  const ops::GemmWeight packed = ops::GemmWeight::pack(w);
  // Packed where this CPU multiplies bf16 pairs; plain where it widens them to f32.
  EXPECT_EQ(packed.packed(), cpu::best_bf16_gemm() == cpu::Bf16Gemm::Dot);
  EXPECT_EQ(packed.out_features(), w.size(0));
  EXPECT_EQ(packed.in_features(), w.size(1));
  EXPECT_EQ(packed.unpacked().to_f32_vector(), w.to_f32_vector());
  EXPECT_TRUE(test::close_enough("linear packed bf16 w", ops::linear(x, packed, &b, DType::F32), f.f32("out.y"), 0.9999,
                                 1e-2));
  for (const bool tanh : {true, false})
    EXPECT_TRUE(test::close_enough("linear + gelu packed", ops::linear_gelu(x, packed, &b, tanh, DType::F32),
                                   ops::linear_gelu(x, w, &b, tanh, DType::F32), 0.999999, 1e-5));
  // Larger shapes, many row counts: exactly the plain weight's result up to accumulation order.
  Tensor big = Tensor::empty({200, 192});
  for (int64_t i = 0; i < big.numel(); ++i) big.data<float>()[i] = static_cast<float>((i * 37) % 101) / 50.f - 1.f;
  const Tensor big16 = big.to(DType::BF16);
  const ops::GemmWeight big_packed = ops::GemmWeight::pack(big16);
  for (const int64_t rows : {1, 7, 64, 333, 2048}) {
    Tensor a = Tensor::empty({rows, 192});
    for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = static_cast<float>((i * 13) % 29) / 14.f - 1.f;
    const Tensor a16 = a.to(DType::BF16);
    EXPECT_TRUE(test::close_enough("packed " + std::to_string(rows) + " rows", ops::linear(a16, big_packed, nullptr, DType::F32),
                                   ops::linear(a16, big16, nullptr, DType::F32), 0.9999999, 1e-5));
  }
  EXPECT_EQ(big_packed.packed(), cpu::best_bf16_gemm() == cpu::Bf16Gemm::Dot);
  // f32 weights (the reference path) stay plain.
  EXPECT_FALSE(ops::GemmWeight::pack(big).packed());
  // A weight read from a file: packing releases its pages, and reading it again gives its values.
  const Tensor from_file = f.checkpoint().get("in.w");
  ASSERT_TRUE(from_file.file_backed());
  const std::vector<float> before = from_file.to_f32_vector();
  from_file.release_file_pages();
  EXPECT_EQ(from_file.to_f32_vector(), before);
  EXPECT_FALSE(from_file.to(DType::BF16).file_backed());
}

// The fused adaLN entry point equals the two passes it replaces; the sampling ops run as torch
// evaluates them.
TEST(Ops, FusedNormModulationAndSamplingOps) {
  Tensor x = Tensor::empty({2, 5, 24}), scale = Tensor::empty({2, 24}), shift = Tensor::empty({2, 24});
  for (Tensor* t : {&x, &scale, &shift})
    for (int64_t i = 0; i < t->numel(); ++i)
      t->data<float>()[i] = static_cast<float>((i * 37 + t->numel()) % 19) / 7.f - 1.3f;
  const Tensor two_pass = ops::modulate(ops::layer_norm(x, nullptr, nullptr, 1e-6f), scale, shift);
  EXPECT_TRUE(test::close_enough("layer_norm_modulate", ops::layer_norm_modulate(x, scale, shift, 1e-6f), two_pass,
                                 0.9999999, 1e-6));
  EXPECT_THROW(ops::layer_norm_modulate(x, shift.rows(0, 1), shift, 1e-6f), Error);
  // The gated residual fused with the next norm: the two passes it replaces.
  Tensor y = Tensor::empty({2, 5, 24}), gate = Tensor::empty({2, 24});
  for (Tensor* t : {&y, &gate})
    for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] = static_cast<float>((i * 53 + 7) % 23) / 9.f - 1.1f;
  const Tensor residual = ops::gated_add(x, gate, y);
  const auto fused = ops::gated_add_norm_modulate(x, gate, y, scale, shift, 1e-6f);
  EXPECT_TRUE(test::close_enough("gated_add_norm_modulate sum", fused.sum, residual, 0.9999999, 1e-6));
  EXPECT_TRUE(test::close_enough("gated_add_norm_modulate normed", fused.normed,
                                 ops::layer_norm_modulate(residual, scale, shift, 1e-6f), 0.9999999, 1e-6));
  EXPECT_THROW(ops::gated_add_norm_modulate(x, gate, y.rows(0, 1), scale, shift, 1e-6f), Error);
  EXPECT_THROW(ops::gated_add_norm_modulate(x, gate.rows(0, 1), y, scale, shift, 1e-6f), Error);
  const Tensor u = Tensor::from_vector({3}, {1.f, 2.f, -1.f}), c = Tensor::from_vector({3}, {2.f, 2.f, 1.f});
  EXPECT_EQ(ops::guidance_combine(u, c, 4.5f).to_f32_vector(), (std::vector<float>{5.5f, 2.f, 8.f}));
  EXPECT_THROW(ops::guidance_combine(u, x, 1.f), Error);
  Tensor latents = Tensor::from_vector({3}, {1.f, 2.f, 3.f});
  ops::euler_step(latents, Tensor::from_vector({3}, {1.f, -1.f, 0.5f}), 1.f, 0.75f);
  EXPECT_EQ(latents.to_f32_vector(), (std::vector<float>{0.75f, 2.25f, 2.875f}));
  EXPECT_THROW(ops::euler_step(latents, u.rows(0, 2), 1.f, 0.f), Error);
}

TEST(Ops, Matmul) {
  Fixture f("ops/matmul");
  const Tensor a = f.f32("in.a"), b = f.f32("in.b");
  EXPECT_MATCHES("matmul", ops::matmul(a, b), f.f32("out.y"));
  EXPECT_MATCHES("matmul trans_b", ops::matmul(a, ops::permute(b, {1, 0}), true), f.f32("out.y_bt"));
}

TEST(Ops, LayerNorm) {
  Fixture f("ops/layer_norm");
  const Tensor x = f.f32("in.x"), w = f.f32("in.w"), b = f.f32("in.b");
  EXPECT_MATCHES("layer_norm affine", ops::layer_norm(x, &w, &b, f.config()["eps_affine"]), f.f32("out.affine"));
  EXPECT_MATCHES("layer_norm plain", ops::layer_norm(x, nullptr, nullptr, f.config()["eps_plain"]),
                 f.f32("out.plain"));
}

TEST(Ops, RmsNorm) {
  Fixture f("ops/rms_norm");
  const Tensor x = f.f32("in.x"), w = f.f32("in.w");
  EXPECT_MATCHES("rms_norm", ops::rms_norm(x, &w, f.config()["eps"]), f.f32("out.y"));
  EXPECT_MATCHES("rms_norm plain", ops::rms_norm(x, nullptr, f.config()["eps"]), f.f32("out.plain"));
}

TEST(Ops, GroupNorm) {
  Fixture f("ops/group_norm");
  const Tensor x = f.f32("in.x"), w = f.f32("in.w"), b = f.f32("in.b");
  EXPECT_MATCHES("group_norm", ops::group_norm(x, f.config()["groups"], &w, &b, f.config()["eps"]), f.f32("out.y"));
  EXPECT_MATCHES("group_norm plain", ops::group_norm(x, f.config()["groups_plain"], nullptr, nullptr,
                                                     f.config()["eps_plain"]),
                 f.f32("out.plain"));
}

TEST(Ops, Activations) {
  Fixture f("ops/activations");
  const Tensor x = f.f32("in.x");
  EXPECT_MATCHES("gelu erf", ops::gelu(x), f.f32("out.gelu_erf"));
  EXPECT_MATCHES("gelu tanh", ops::gelu(x, true), f.f32("out.gelu_tanh"));
  EXPECT_MATCHES("quick_gelu", ops::quick_gelu(x), f.f32("out.quick_gelu"));
  EXPECT_MATCHES("silu", ops::silu(x), f.f32("out.silu"));
  EXPECT_MATCHES("softmax", ops::softmax(x), f.f32("out.softmax"));
}

TEST(Ops, Conv2d) {
  Fixture f("ops/conv2d");
  const Tensor x = f.f32("in.x"), w3 = f.f32("in.w3"), b3 = f.f32("in.b3"), w1 = f.f32("in.w1"), b1 = f.f32("in.b1");
  const Tensor xp = f.f32("in.xp"), wp = f.f32("in.wp"), bp = f.f32("in.bp"), ws = f.f32("in.ws");
  EXPECT_MATCHES("conv 3x3 pad 1", ops::conv2d(x, w3, &b3, ops::Conv2dParams::same(1)), f.f32("out.k3"));
  EXPECT_MATCHES("conv 1x1", ops::conv2d(x, w1, &b1, {}), f.f32("out.k1"));
  EXPECT_MATCHES("conv 2x2 stride 2", ops::conv2d(xp, wp, &bp, {2, 0, 0, 0, 0}), f.f32("out.patch"));
  EXPECT_MATCHES("conv 3x3 stride 2 pad (0,1)", ops::conv2d(x, ws, nullptr, {2, 0, 0, 1, 1}), f.f32("out.down"));
}

TEST(Ops, UpsampleAndEmbedding) {
  Fixture f("ops/resample");
  EXPECT_MATCHES("upsample nearest 2x", ops::upsample_nearest2x(f.f32("in.x")), f.f32("out.up"));
  const Tensor ids = f.checkpoint().get("in.ids");
  std::vector<int64_t> id_list(ids.data<int64_t>(), ids.data<int64_t>() + ids.numel());
  const Tensor table = f.checkpoint().get("in.table");  // bf16, gathered without conversion
  const Tensor rows = ops::embedding(table, id_list);
  EXPECT_EQ(rows.dtype(), DType::BF16);
  EXPECT_MATCHES("embedding", rows.to(DType::F32), f.f32("out.embed"));
}

TEST(Ops, ElementwiseAndLayout) {
  Fixture f("ops/elementwise");
  const Tensor x = f.f32("in.x"), row = f.f32("in.row"), other = f.f32("in.other");
  EXPECT_MATCHES("add", ops::add(x, other), f.f32("out.add"));
  EXPECT_MATCHES("add broadcast", ops::add(x, row), f.f32("out.add_row"));
  EXPECT_MATCHES("mul broadcast", ops::mul(x, row), f.f32("out.mul_row"));
  EXPECT_MATCHES("modulate", ops::modulate(x, f.f32("in.scale"), f.f32("in.shift")), f.f32("out.modulate"));
  EXPECT_MATCHES("gated_add", ops::gated_add(x, f.f32("in.scale"), other), f.f32("out.gated_add"));
  EXPECT_MATCHES("concat dim 1", ops::concat({x, other}, 1), f.f32("out.concat1"));
  const Tensor other3 = ops::split(other, {3, 7}, 2)[0];
  EXPECT_MATCHES("concat dim 2", ops::concat({x, other3}, -1), f.f32("out.concat2"));
  const auto parts = ops::split(x, {2, 3, 5}, 2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_MATCHES("split 0", parts[0], f.f32("out.split0"));
  EXPECT_MATCHES("split 1", parts[1], f.f32("out.split1"));
  EXPECT_MATCHES("split 2", parts[2], f.f32("out.split2"));
  EXPECT_MATCHES("permute 3-d", ops::permute(x, {2, 0, 1}), f.f32("out.permute"));
  const Tensor x4 = f.f32("in.x4");
  EXPECT_MATCHES("permute to channels-last", ops::permute(x4, {0, 2, 3, 1}), f.f32("out.permute4"));
  EXPECT_MATCHES("permute heads", ops::permute(x4, {0, 2, 1, 3}), f.f32("out.heads"));
  EXPECT_MATCHES("chunk", ops::chunk(x, 2, 2)[1], ops::split(x, {5, 5}, 2)[1]);
  // Layout ops move bytes, so they work on bf16 unchanged.
  EXPECT_MATCHES("permute bf16", ops::permute(x4.to(DType::BF16), {0, 2, 1, 3}).to(DType::F32),
                 f.f32("out.heads").to(DType::BF16).to(DType::F32));
}

TEST(Ops, BadArgumentsAreErrors) {
  const Tensor x = Tensor::zeros({2, 3, 8});
  EXPECT_THROW(ops::linear(x, Tensor::zeros({4, 7})), Error);
  EXPECT_THROW(ops::linear(x.to(DType::BF16), Tensor::zeros({4, 8})), Error);
  EXPECT_THROW(ops::matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})), Error);
  const Tensor w5 = Tensor::zeros({5});
  EXPECT_THROW(ops::layer_norm(x, &w5, nullptr, 1e-5f), Error);
  EXPECT_THROW(ops::group_norm(Tensor::zeros({1, 30, 2, 2}), 32, nullptr, nullptr, 1e-6f), Error);
  EXPECT_THROW(ops::add(x, Tensor::zeros({3})), Error);
  EXPECT_THROW(ops::modulate(x, Tensor::zeros({2, 7}), Tensor::zeros({2, 8})), Error);
  EXPECT_THROW(ops::concat({x, Tensor::zeros({2, 4, 7})}, 1), Error);
  EXPECT_THROW(ops::split(x, {1, 1}, 2), Error);
  EXPECT_THROW(ops::chunk(x, 3, 2), Error);
  EXPECT_THROW(ops::permute(x, {0, 0, 1}), Error);
  EXPECT_THROW(ops::permute(x, {0, 1}), Error);
  EXPECT_THROW(ops::conv2d(Tensor::zeros({1, 3, 2, 2}), Tensor::zeros({4, 3, 3, 3}), nullptr, {}), Error);
  EXPECT_THROW(ops::conv2d(Tensor::zeros({1, 3, 8, 8}), Tensor::zeros({4, 2, 3, 3}), nullptr, {}), Error);
  EXPECT_THROW(ops::embedding(Tensor::zeros({10, 4}), {3, 10}), Error);
  EXPECT_THROW(ops::upsample_nearest2x(x), Error);
  EXPECT_THROW(ops::gelu(Tensor::zeros({4}, DType::BF16)), Error);
  EXPECT_THROW(ops::concat({}, 0), Error);
}

// The benchmark weights' generator: deterministic, in its range, and refusing a (center, scale)
// for which a fused multiply-add would round differently from a multiply then an add.
TEST(Ops, HashedUniformFill) {
  Tensor a = Tensor::empty({1000}), b = Tensor::empty({1000});
  ops::fill_hashed_uniform(a, 42, 0.f, 0.07f);
  ops::fill_hashed_uniform(b, 42, 0.f, 0.07f);
  EXPECT_EQ(a.to_f32_vector(), b.to_f32_vector());
  float lo = 1, hi = -1;
  for (float v : a.to_f32_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_GE(lo, -0.035f);
  EXPECT_LT(hi, 0.035f);
  EXPECT_LT(lo, -0.03f);  // spread over the range, not stuck
  EXPECT_GT(hi, 0.03f);
  ops::fill_hashed_uniform(b, 43, 0.f, 0.07f);
  EXPECT_NE(a.to_f32_vector(), b.to_f32_vector());
  Tensor norm = Tensor::empty({64});
  ops::fill_hashed_uniform(norm, 7, 1.f, 0.125f);
  for (float v : norm.to_f32_vector()) EXPECT_TRUE(v >= 0.9375f && v < 1.0625f) << v;
  EXPECT_THROW(ops::fill_hashed_uniform(norm, 7, 1.f, 0.1f), Error);
  Tensor half = Tensor::empty({4}, DType::BF16);
  EXPECT_THROW(ops::fill_hashed_uniform(half, 7, 0.f, 0.07f), Error);  // the CPU writes F32
}

}  // namespace
}  // namespace paradit
