// The tiled attention kernel: against torch's SDPA, and at SD3.5 Large's joint sequence
// length (4429) without ever holding an N x N matrix.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "backend/cpu/attention_tiles.h"
#include "backend/cpu/cpu_ops.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "ops/ops.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

using test::Fixture;

TEST(Attention, MatchesTorchSdpa) {
  Fixture f("ops/attention");
  const Tensor q = f.f32("in.q"), k = f.f32("in.k"), v = f.f32("in.v");
  EXPECT_MATCHES("attention 77 x 160", ops::attention(q, k, v, 1.f / std::sqrt(64.f)), f.f32("out.y"));
  EXPECT_MATCHES("attention scale 0.3", ops::attention(q, k, v, 0.3f), f.f32("out.scaled"));
}

// Ring attention's building blocks: attention over key blocks, merged by log-sum-exp, equals
// attention over all keys (torch's SDPA), whatever the split and the order of the blocks.
TEST(Attention, BlocksMergedByLogSumExpMatchTorch) {
  Fixture f("ops/attention");
  const Tensor q = f.f32("in.q"), k = f.f32("in.k"), v = f.f32("in.v");
  const float scale = 1.f / std::sqrt(64.f);
  const int64_t nk = k.size(2);
  for (const std::vector<int64_t>& sizes : {std::vector<int64_t>{nk}, {1, nk - 1}, {37, 50, nk - 87}}) {
    const auto ks = ops::split(k, sizes, 2), vs = ops::split(v, sizes, 2);
    for (bool reversed : {false, true}) {
      Tensor out, lse;
      for (size_t j = 0; j < ks.size(); ++j) {
        const size_t i = reversed ? ks.size() - 1 - j : j;
        Tensor block_lse;
        Tensor block = ops::attention_lse(q, ks[i], vs[i], scale, block_lse);
        if (j == 0) {
          out = block;
          lse = block_lse;
        } else {
          ops::attention_merge(out, lse, block, block_lse);
        }
      }
      EXPECT_MATCHES("attention over " + std::to_string(sizes.size()) + " merged blocks", out, f.f32("out.y"));
    }
  }
  // The log-sum-exp itself: log(sum_j exp(scale q.k_j)) for one row, computed directly.
  Tensor lse;
  ops::attention_lse(q, k, v, scale, lse);
  double m = -1e30, sum = 0;
  std::vector<double> s(static_cast<size_t>(nk));
  for (int64_t j = 0; j < nk; ++j) {
    double dot = 0;
    for (int64_t c = 0; c < q.size(3); ++c) dot += double(q.data<float>()[c]) * k.data<float>()[j * k.size(3) + c];
    s[static_cast<size_t>(j)] = dot * scale;
    m = std::max(m, s[static_cast<size_t>(j)]);
  }
  for (double x : s) sum += std::exp(x - m);
  EXPECT_NEAR(lse.data<float>()[0], m + std::log(sum), 1e-4);
}

TEST(Attention, AdditiveBiasMatchesTorch) {
  Fixture f("ops/attention");
  const Tensor bias = f.f32("in.bias");
  EXPECT_MATCHES("attention + bias, scale 1",
                 ops::attention(f.f32("in.q"), f.f32("in.k"), f.f32("in.v"), 1.f, false, &bias), f.f32("out.biased"));
  const Tensor wrong = Tensor::zeros({3, 77, 159});
  EXPECT_THROW(ops::attention(f.f32("in.q"), f.f32("in.k"), f.f32("in.v"), 1.f, false, &wrong), Error);
}

TEST(Attention, CausalMatchesTorch) {
  Fixture f("ops/attention");
  EXPECT_MATCHES("attention causal",
                 ops::attention(f.f32("in.qc"), f.f32("in.kc"), f.f32("in.vc"), 1.f / std::sqrt(32.f), true),
                 f.f32("out.causal"));
}

TEST(Attention, Bf16PathMatchesTorch) {
  // bf16 q, k, v (the model's fast path): products in bf16 with f32 accumulation.
  Fixture f("ops/attention");
  auto b16 = [&](const char* name) { return f.f32(name).to(DType::BF16); };
  const Tensor bias = f.f32("in.bias");
  EXPECT_TRUE(test::close_enough("attention bf16", ops::attention(b16("in.q"), b16("in.k"), b16("in.v"), 0.125f),
                                 f.f32("out.y"), 0.999, 3e-2));
  EXPECT_TRUE(test::close_enough("attention bf16 causal",
                                 ops::attention(b16("in.qc"), b16("in.kc"), b16("in.vc"), 1.f / std::sqrt(32.f), true),
                                 f.f32("out.causal"), 0.999, 3e-2));
  EXPECT_TRUE(test::close_enough("attention bf16 + bias",
                                 ops::attention(b16("in.q"), b16("in.k"), b16("in.v"), 1.f, false, &bias),
                                 f.f32("out.biased"), 0.999, 3e-2));
  EXPECT_THROW(ops::attention(b16("in.q"), f.f32("in.k"), b16("in.v"), 1.f), Error);
}

Tensor random_tensor(const Shape& shape, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

// Exact softmax attention for one query row, in double.
std::vector<double> reference_row(const Tensor& q, const Tensor& k, const Tensor& v, int64_t head, int64_t row,
                                  double scale) {
  const int64_t n = k.size(2), d = q.size(3);
  const float* qp = q.data<float>() + (head * q.size(2) + row) * d;
  std::vector<double> s(static_cast<size_t>(n));
  double m = -INFINITY;
  for (int64_t j = 0; j < n; ++j) {
    const float* kp = k.data<float>() + (head * n + j) * d;
    double dot = 0;
    for (int64_t c = 0; c < d; ++c) dot += static_cast<double>(qp[c]) * kp[c];
    s[static_cast<size_t>(j)] = dot * scale;
    m = std::fmax(m, s[static_cast<size_t>(j)]);
  }
  double sum = 0;
  for (double& e : s) sum += (e = std::exp(e - m));
  std::vector<double> out(static_cast<size_t>(d), 0.0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < d; ++c)
      out[static_cast<size_t>(c)] += s[static_cast<size_t>(j)] / sum * v.data<float>()[(head * n + j) * d + c];
  return out;
}

// Every bf16 kernel this CPU can run: the portable one and the AMX tile program on its software
// registers everywhere, AVX512-BF16, the FMA kernel (AVX-512F) and AMX where the CPU has them.
std::vector<cpu::Bf16AttentionKernel> bf16_kernels_here() {
  std::vector<cpu::Bf16AttentionKernel> kernels = {cpu::Bf16AttentionKernel::Portable,
                                                   cpu::Bf16AttentionKernel::AmxEmulated};
  if (cpu_features().avx512_bf16) kernels.push_back(cpu::Bf16AttentionKernel::Avx512Bf16);
  if (cpu_features().avx512f) kernels.push_back(cpu::Bf16AttentionKernel::Avx512Fma);
  if (cpu_features().avx512_bf16 && cpu::amx_tiles_usable()) kernels.push_back(cpu::Bf16AttentionKernel::Amx);
  static bool told = false;
  if (!told) {
    told = true;
    std::printf("  [bf16 attention] this CPU (%s) runs:", cpu_features().summary().c_str());
    for (auto k : kernels) std::printf(" %s", cpu::bf16_attention_kernel_name(k));
    std::printf("\n");
  }
  return kernels;
}

// The bf16 kernels (backend/cpu/attention_bf16.cpp) against the f32 kernel on the same
// bf16-rounded inputs, so that only the probabilities' rounding and the summation order differ:
// odd sizes (query rows past a tile, keys past a pair and a chunk), causal masks, a bias with
// masked keys, a fully masked row, a head of 128, f32 and bf16 inputs.
TEST(Attention, Bf16KernelsMatchTheF32Kernel) {
  struct Case {
    Shape q, k;
    bool causal, bias;
  };
  const Case cases[] = {{{2, 3, 77, 64}, {2, 3, 77, 64}, true, false},  {{1, 2, 130, 64}, {1, 2, 45, 64}, false, true},
                        {{1, 1, 300, 128}, {1, 1, 300, 128}, false, false}, {{1, 2, 1, 64}, {1, 2, 33, 64}, false, false},
                        {{2, 2, 65, 64}, {2, 2, 517, 64}, false, true},    {{1, 1, 260, 64}, {1, 1, 260, 64}, true, true}};
  const std::vector<cpu::Bf16AttentionKernel> kernels = bf16_kernels_here();
  uint32_t seed = 10;
  for (const Case& c : cases) {
    const Tensor q = random_tensor(c.q, seed++).to(DType::BF16), k = random_tensor(c.k, seed++).to(DType::BF16),
                 v = random_tensor(c.k, seed++).to(DType::BF16);
    Tensor bias;
    if (c.bias) {
      bias = random_tensor({c.q[1], c.q[2], c.k[2]}, seed++);
      for (int64_t i = 0; i < bias.numel(); i += 7) bias.data<float>()[i] = -INFINITY;  // masked keys
      for (int64_t j = 0; j < c.k[2]; ++j) bias.data<float>()[j] = -INFINITY;          // a fully masked row
    }
    const float scale = 1.f / std::sqrt(static_cast<float>(c.q[3]));
    const Tensor* b = c.bias ? &bias : nullptr;
    Tensor expected = Tensor::empty(c.q);
    cpu::attention(q.to(DType::F32), k.to(DType::F32), v.to(DType::F32), scale, c.causal, b, expected);
    const std::string name = "bf16 attention " + shape_str(c.q) + " x " + std::to_string(c.k[2]) + " keys" +
                             (c.causal ? " causal" : "") + (c.bias ? " bias" : "");
    std::vector<Tensor> results;
    std::vector<bool> tile_order;  // AMX's tiles sum the products in another order
    for (const auto kernel : kernels)
      for (const DType input : {DType::BF16, DType::F32}) {
        Tensor out = Tensor::empty(c.q);
        cpu::attention_bf16(q.to(input), k.to(input), v.to(input), scale, c.causal, b, out, kernel);
        EXPECT_TRUE(test::close_enough(name + " " + cpu::bf16_attention_kernel_name(kernel) +
                                           (input == DType::F32 ? " (f32 in)" : ""),
                                       out, expected, 0.9999, 1e-2));
        if (c.bias) {  // the fully masked row is zeros, as in the f32 kernel
          for (int64_t x = 0; x < c.q[3]; ++x) ASSERT_EQ(out.data<float>()[x], 0.f);
        }
        results.push_back(out);
        tile_order.push_back(kernel == cpu::Bf16AttentionKernel::Amx || kernel == cpu::Bf16AttentionKernel::AmxEmulated ||
                             kernel == cpu::Bf16AttentionKernel::Avx512Fma);
      }
    // Every kernel and input type computes the same products. Kernels that sum them in the
    // portable kernel's order agree to f32 rounding; the AMX tile program and the FMA kernel
    // (each product of a pair added on its own) sum in another order,
    // and a score that moves by an f32 ulp can move its bf16-rounded probability by a bf16 ulp
    // (seen: 3e-5 relative on the head of 128), still 100x inside the bf16 bound above.
    for (size_t i = 0; i < results.size(); ++i)
      EXPECT_TRUE(test::close_enough(name + " kernels agree", results[i], results[0], 0.999999,
                                     tile_order[i] ? 2e-4 : 1e-5));
  }
  // The op: f32 inputs with bf16 products.
  const Tensor q = random_tensor({1, 2, 100, 64}, 1), k = random_tensor({1, 2, 90, 64}, 2),
               v = random_tensor({1, 2, 90, 64}, 3);
  EXPECT_TRUE(test::close_enough("ops::attention bf16 products", ops::attention(q, k, v, 0.125f, false, nullptr, true),
                                 ops::attention(q, k, v, 0.125f), 0.9999, 1e-2));
}

// The AMX kernel on the hardware tiles (the same tile program runs on emulated registers in the
// tests above on every CPU): against the f32 kernel, and against the emulated registers, which
// must compute the same products.
TEST(Attention, AmxKernelOnTheHardwareMatchesTheF32Kernel) {
  if (!cpu_features().amx_bf16)
    GTEST_SKIP() << "this CPU has no AMX-BF16 (" << cpu_features().summary()
                 << "): the AMX tile program ran on emulated registers only";
  if (!cpu_features().avx512_bf16 || !cpu::amx_tiles_usable())
    GTEST_SKIP() << "the CPU has AMX-BF16, but Linux did not grant this process the tile state (arch_prctl)";
  uint32_t seed = 500;
  for (const int64_t d : {64, 128}) {
    const Shape qs = {2, 2, 150, d}, ks = {2, 2, 333, d};
    const Tensor q = random_tensor(qs, seed++).to(DType::BF16), k = random_tensor(ks, seed++).to(DType::BF16),
                 v = random_tensor(ks, seed++).to(DType::BF16);
    const float scale = 1.f / std::sqrt(static_cast<float>(d));
    Tensor expected = Tensor::empty(qs), hw = Tensor::empty(qs), emulated = Tensor::empty(qs);
    cpu::attention(q.to(DType::F32), k.to(DType::F32), v.to(DType::F32), scale, false, nullptr, expected);
    cpu::attention_bf16(q, k, v, scale, false, nullptr, hw, cpu::Bf16AttentionKernel::Amx);
    cpu::attention_bf16(q, k, v, scale, false, nullptr, emulated, cpu::Bf16AttentionKernel::AmxEmulated);
    const std::string name = "AMX attention d=" + std::to_string(d);
    EXPECT_TRUE(test::close_enough(name + " vs f32", hw, expected, 0.9999, 1e-2));
    // The hardware's summation order inside a tile is its own: the same bound as between kernels.
    EXPECT_TRUE(test::close_enough(name + " vs emulated tiles", hw, emulated, 0.999999, 2e-4));
  }
  const char* off = std::getenv("PARADIT_AMX");
  if (!(off && std::string(off) == "0")) {
    EXPECT_EQ(cpu::best_bf16_attention_kernel(), cpu::Bf16AttentionKernel::Amx);
  }
}

// Joint attention over views of fused q/k/v projections (no permute, no concat), with the
// per-head qk RMSNorm and the rotary embedding inside: the reference path equals the
// concatenated computation exactly,
// and the bf16 kernels (every one this CPU has, bf16 or f32 views in, bf16 or f32 out) agree
// with it to bf16 precision.
TEST(Attention, JointOverStridedViewsMatchesTheConcatenatedReference) {
  struct Case {
    int64_t B, H, D, N, M;
    bool causal;
  };
  const std::vector<cpu::Bf16AttentionKernel> kernels = bf16_kernels_here();
  uint32_t seed = 100;
  for (const Case& c : {Case{2, 3, 64, 70, 23, false}, Case{1, 2, 128, 41, 0, true}, Case{1, 1, 64, 5, 300, false}}) {
    const float scale = 1.f / std::sqrt(static_cast<float>(c.D)), eps = 1e-6f;
    const Tensor img = random_tensor({c.B, c.N, 3 * c.H * c.D}, seed++);
    const Tensor txt = random_tensor({c.B, c.M, 3 * c.H * c.D}, seed++);
    std::vector<Tensor> norms;
    for (int i = 0; i < 4; ++i) norms.push_back(random_tensor({c.D}, seed++));
    const bool joint = c.M > 0;
    // Rotary tables (FLUX's rope) on the first two cases: one angle per pair of dimensions.
    const bool rotary = c.M != 300;
    auto table = [&](int64_t n, float phase, bool sine) {
      Tensor t = Tensor::empty({n, c.D});
      for (int64_t r = 0; r < n; ++r)
        for (int64_t d = 0; d < c.D; ++d) {
          const float angle = phase + 0.37f * static_cast<float>(r) * std::pow(0.8f, static_cast<float>(d / 2));
          t.data<float>()[r * c.D + d] = sine ? std::sin(angle) : std::cos(angle);
        }
      return t;
    };
    const Tensor img_cos = table(c.N, 0.f, false), img_sin = table(c.N, 0.f, true);
    const Tensor txt_cos = table(c.M, 1.f, false), txt_sin = table(c.M, 1.f, true);
    auto streams_of = [&](const Tensor& a, const Tensor& b) {
      std::vector<ops::AttentionStream> s;
      const Tensor fa = a.unflatten(2, {3, c.H, c.D}), fb = b.unflatten(2, {3, c.H, c.D});
      s.push_back({fa.select(2, 0), fa.select(2, 1), fa.select(2, 2), &norms[0], &norms[1],
                   rotary ? &img_cos : nullptr, rotary ? &img_sin : nullptr});
      if (joint)
        s.push_back({fb.select(2, 0), fb.select(2, 1), fb.select(2, 2), &norms[2], &norms[3],
                     rotary ? &txt_cos : nullptr, rotary ? &txt_sin : nullptr});
      return s;
    };
    // The computation as the layer used to do it: permute, normalise, rotate, concatenate,
    // attend, split (the rotation written out here as apply_rotary_emb does it).
    auto heads = [&](const Tensor& x, int part, const Tensor* norm, const Tensor* cos, const Tensor* sin) {
      const Tensor h = ops::permute(x.reshape({c.B, x.size(1), 3, c.H, c.D}), {2, 0, 3, 1, 4}).rows(part, part + 1);
      Tensor t = h.reshape({c.B, c.H, x.size(1), c.D});
      if (norm) t = ops::rms_norm(t, norm, eps);
      if (rotary && cos) {
        t = t.clone();
        const int64_t n = x.size(1);
        for (int64_t bh = 0; bh < c.B * c.H; ++bh)
          for (int64_t r = 0; r < n; ++r)
            for (int64_t d = 0; d < c.D; d += 2) {
              float* row = t.data<float>() + (bh * n + r) * c.D;
              const float re = row[d], im = row[d + 1];
              row[d] = re * cos->data<float>()[r * c.D + d] - im * sin->data<float>()[r * c.D + d];
              row[d + 1] = im * cos->data<float>()[r * c.D + d + 1] + re * sin->data<float>()[r * c.D + d + 1];
            }
      }
      return t;
    };
    Tensor q = heads(img, 0, &norms[0], &img_cos, &img_sin), k = heads(img, 1, &norms[1], &img_cos, &img_sin),
           v = heads(img, 2, nullptr, nullptr, nullptr);
    if (joint) {
      q = ops::concat({q, heads(txt, 0, &norms[2], &txt_cos, &txt_sin)}, 2);
      k = ops::concat({k, heads(txt, 1, &norms[3], &txt_cos, &txt_sin)}, 2);
      v = ops::concat({v, heads(txt, 2, nullptr, nullptr, nullptr)}, 2);
    }
    const Tensor all = ops::permute(ops::attention(q, k, v, scale, c.causal), {0, 2, 1, 3})
                           .reshape({c.B, c.N + c.M, c.H * c.D});
    const std::vector<Tensor> expected =
        joint ? ops::split(all, {c.N, c.M}, 1) : std::vector<Tensor>{all};
    const std::string name = "joint attention H=" + std::to_string(c.H) + " D=" + std::to_string(c.D) + " N=" +
                             std::to_string(c.N) + " M=" + std::to_string(c.M) + (c.causal ? " causal" : "") +
                             (rotary ? " rope" : "");
    const auto reference = ops::joint_attention(streams_of(img, txt), scale, eps, c.causal, DType::F32, false);
    ASSERT_EQ(reference.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
      EXPECT_TRUE(test::close_enough(name + " reference", reference[i], expected[i], 0.9999999, 1e-6));
    for (const auto kernel : kernels)
      for (const DType in : {DType::F32, DType::BF16})
        for (const DType out : {DType::F32, DType::BF16}) {
          const Tensor a = img.to(in), b = txt.to(in);
          const auto streams = streams_of(a, b);
          std::vector<cpu::AttentionRows> rows;
          std::vector<Tensor> outs;
          for (const auto& s : streams) {
            outs.push_back(Tensor::empty({c.B, s.q.size(1), c.H * c.D}, out));
            cpu::AttentionRows r;
            r.q = s.q.raw();
            r.k = s.k.raw();
            r.v = s.v.raw();
            r.out = outs.back().raw();
            r.n = r.n_kv = s.q.size(1);
            for (int d = 0; d < 3; ++d) {
              r.q_stride[d] = s.q.stride(d);
              r.k_stride[d] = s.k.stride(d);
              r.v_stride[d] = s.v.stride(d);
            }
            r.out_stride[0] = r.n * c.H * c.D;
            r.out_stride[1] = c.H * c.D;
            r.out_stride[2] = c.D;
            r.q_norm = s.q_norm->data<float>();
            r.k_norm = s.k_norm->data<float>();
            r.rope_cos = s.rope_cos ? s.rope_cos->data<float>() : nullptr;
            r.rope_sin = s.rope_sin ? s.rope_sin->data<float>() : nullptr;
            rows.push_back(r);
          }
          cpu::attention_bf16_rows(rows, c.B, c.H, c.D, in, out, scale, c.causal, nullptr, eps, kernel);
          for (size_t i = 0; i < expected.size(); ++i)
            EXPECT_TRUE(test::close_enough(name + " " + cpu::bf16_attention_kernel_name(kernel) +
                                               " in " + dtype_name(in) + " out " + dtype_name(out) + " stream " +
                                               std::to_string(i),
                                           outs[i].to(DType::F32), expected[i], 0.9999, 2e-2));
        }
    // The op itself, on its fast path where this CPU has one.
    const auto fast = ops::joint_attention(streams_of(img.to(DType::BF16), txt.to(DType::BF16)), scale, eps, c.causal,
                                           DType::BF16, true);
    for (size_t i = 0; i < expected.size(); ++i)
      EXPECT_TRUE(test::close_enough(name + " op bf16", fast[i].to(DType::F32), expected[i], 0.9999, 2e-2));
  }
  // Bad arguments name the problem.
  const Tensor x = random_tensor({1, 4, 2, 64}, 1);
  EXPECT_THROW(ops::joint_attention({}, 1.f, 1e-6f, false, DType::F32, false), Error);
  EXPECT_THROW(ops::joint_attention({{x, x, x.to(DType::BF16)}}, 1.f, 1e-6f, false, DType::F32, false), Error);
  EXPECT_THROW(ops::joint_attention({{x.permuted({0, 1, 3, 2}), x, x}}, 1.f, 1e-6f, false, DType::F32, false), Error);
  EXPECT_THROW(ops::joint_attention({{x, x, x}}, 1.f, 1e-6f, false, DType::F16, false), Error);
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

TEST(Attention, JointSequenceOfSd35LargeFitsWithoutNxN) {
  const int64_t n = 4429, d = 64, heads = 2;
  const Tensor q = random_tensor({1, heads, n, d}, 1), k = random_tensor({1, heads, n, d}, 2),
               v = random_tensor({1, heads, n, d}, 3);
  const long before = peak_rss_kb();
  const Tensor out = ops::attention(q, k, v, 0.125f);
  const long grown_mb = (peak_rss_kb() - before) / 1024;
  // One N x N f32 score matrix per head would be 78 MB; the kernel needs only its output
  // (2.3 MB) and a few hundred KB of scratch per thread.
  std::printf("  [memory] attention N=%ld: peak RSS grew %ld MB\n", static_cast<long>(n), grown_mb);
  EXPECT_LT(grown_mb, 40);
  double worst = 0;
  for (int64_t head : {0, 1})
    for (int64_t row : {int64_t{0}, int64_t{63}, int64_t{64}, int64_t{2000}, n - 1}) {
      const auto want = reference_row(q, k, v, head, row, 0.125);
      for (int64_t c = 0; c < d; ++c)
        worst = std::fmax(worst, std::fabs(want[static_cast<size_t>(c)] -
                                           out.data<float>()[(head * n + row) * d + c]));
    }
  std::printf("  [compare] attention N=4429 sampled rows max_abs=%.3e\n", worst);
  EXPECT_LT(worst, 1e-4);
}

TEST(Attention, BadShapesAreErrors) {
  const Tensor q = Tensor::zeros({1, 2, 5, 8});
  EXPECT_THROW(ops::attention(q, Tensor::zeros({1, 2, 5, 4}), Tensor::zeros({1, 2, 5, 4}), 1.f), Error);
  EXPECT_THROW(ops::attention(q, Tensor::zeros({1, 2, 6, 8}), Tensor::zeros({1, 2, 5, 8}), 1.f), Error);
  EXPECT_THROW(ops::attention(q, Tensor::zeros({1, 2, 0, 8}), Tensor::zeros({1, 2, 0, 8}), 1.f), Error);
  EXPECT_THROW(ops::attention(q.reshape({2, 5, 8}), q, q, 1.f), Error);
}

}  // namespace
}  // namespace paradit
