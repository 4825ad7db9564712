// The GPU op table against the CPU reference, op by op, through the same ops:: calls the
// models make (the inputs moved with to(Device::CUDA)). Every test needs a GPU and skips with
// the reason when there is none (CI has no GPU: the backend must compile and link there, and
// these tests then report themselves skipped, never passed).
//
// Tolerances, per op and dtype (the CPU computing from the same bf16-rounded inputs):
// - F32 on the GPU is the reference path: relative error <= 1e-5 for element-wise ops and
//   norms, <= 1e-4 for GEMMs and attention (summation order; no TF32).
// - BF16: outputs are rounded to bf16 once, so PCC >= 0.9999 and relative error <= 1e-2;
//   GEMMs and attention PCC >= 0.9999, relative error <= 2e-2.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "backend/cuda/arena.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/device.h"
#include "cuda/gpu_test.h"
#include "core/error.h"
#include "layers/module.h"
#include "ops/ops.h"
#include "support/compare.h"
#ifdef PARADIT_HAVE_NCCL
#include "parallel/nccl_communicator.h"
#endif

namespace paradit {
namespace {


Tensor random(const Shape& shape, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.f, scale);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

// The same values rounded to bf16 and back, so the CPU reference sees what the GPU sees.
Tensor bf16_rounded(const Tensor& t) { return t.to(DType::BF16).to(DType::F32); }
Tensor gpu(const Tensor& t, DType dtype = DType::F32) { return t.to(dtype).to(Device::CUDA); }
Tensor host(const Tensor& t) {
  EXPECT_EQ(t.device(), Device::CUDA) << "the result did not stay on the GPU";
  return t.to(Device::CPU).to(DType::F32);
}

// f32 on the GPU against the CPU, then the same op on bf16 inputs.
template <typename Op>
void both_dtypes(const char* name, const std::vector<Tensor>& inputs, Op op, double f32_rel = 1e-5,
                 double bf16_rel = 1e-2) {
  std::vector<Tensor> cpu32, gpu32, cpu16, gpu16;
  for (const Tensor& t : inputs) {
    cpu32.push_back(t);
    gpu32.push_back(gpu(t));
    cpu16.push_back(bf16_rounded(t));
    gpu16.push_back(gpu(t, DType::BF16));
  }
  EXPECT_TRUE(test::close_enough(std::string(name) + " f32", host(op(gpu32)), op(cpu32), 0.999999, f32_rel));
  EXPECT_TRUE(test::close_enough(std::string(name) + " bf16", host(op(gpu16)), op(cpu16), 0.9999, bf16_rel));
}

TEST(Cuda, DeviceReport) {
  const int n = cuda::device_count();
  if (n == 0) GTEST_SKIP() << cuda::unavailable_reason();
  for (int i = 0; i < n; ++i) std::printf("GPU %d: %s\n", i, cuda::describe_device(i).c_str());
}

// Benchmark weights made on the GPU have the CPU's bits (f32, and bf16 rounded the same way).
TEST(Cuda, RandomWeightsEqualTheCpus) {
  REQUIRE_GPU();
  for (const char* name : {"transformer_blocks.0.attn.to_q.weight", "transformer_blocks.0.norm2.weight"})
    for (DType dtype : {DType::F32, DType::BF16}) {
      const Shape shape = std::string(name).find("norm") != std::string::npos ? Shape{4099} : Shape{257, 129};
      const Tensor cpu = random_tensor(1234, name, shape, dtype);
      const Tensor gpu = random_tensor(1234, name, shape, dtype, Device::CUDA);
      ASSERT_EQ(gpu.device(), Device::CUDA);
      ASSERT_EQ(gpu.dtype(), dtype);
      const Tensor back = gpu.to(Device::CPU);
      EXPECT_EQ(std::memcmp(back.raw(), cpu.raw(), cpu.nbytes()), 0) << name << " " << dtype_name(dtype);
    }
}

// Device tensors: allocated through the registered GPU memory, copied there and back bit for
// bit, zeroed on the device; strided views, dtype casts, permutes, concats, splits and the
// nearest upsampling run on the device and equal the CPU's exactly.
TEST(Cuda, TensorsMoveAndReshapeOnTheGpu) {
  ASSERT_TRUE(cuda::device_memory_registered());
  REQUIRE_GPU();
  const Tensor host_bf16 = random({3, 5, 7}, 1.f, 4).to(DType::BF16);
  const Tensor g = host_bf16.to(Device::CUDA);
  EXPECT_EQ(g.device(), Device::CUDA);
  EXPECT_EQ(g.to(Device::CPU).to_f32_vector(), host_bf16.to_f32_vector());
  const Tensor view = host_bf16.permuted({2, 0, 1});
  EXPECT_EQ(view.to(Device::CUDA).to(Device::CPU).to_f32_vector(), view.contiguous().to_f32_vector());
  EXPECT_EQ(Tensor::zeros({1000}, DType::F32, Device::CUDA).to(Device::CPU).to_f32_vector(),
            std::vector<float>(1000, 0.f));
  const Tensor x = random({2, 6, 4, 10}, 1.f, 5);
  const Tensor gx = gpu(x);
  EXPECT_EQ(gx.to(DType::BF16).to(Device::CPU).to_f32_vector(), x.to(DType::BF16).to_f32_vector()) << "f32 -> bf16";
  EXPECT_EQ(gx.permuted({0, 2, 1, 3}).contiguous().to(Device::CPU).to_f32_vector(),
            x.permuted({0, 2, 1, 3}).contiguous().to_f32_vector());
  EXPECT_EQ(ops::permute(gx, {3, 1, 0, 2}).to(Device::CPU).to_f32_vector(), ops::permute(x, {3, 1, 0, 2}).to_f32_vector());
  const Tensor y = random({2, 3, 4, 10}, 1.f, 6);
  EXPECT_EQ(ops::concat({gx, gpu(y)}, 1).to(Device::CPU).to_f32_vector(), ops::concat({x, y}, 1).to_f32_vector());
  const auto parts = ops::split(gx, {1, 3, 2}, 1), want = ops::split(x, {1, 3, 2}, 1);
  for (size_t i = 0; i < parts.size(); ++i)
    EXPECT_EQ(parts[i].to(Device::CPU).to_f32_vector(), want[i].to_f32_vector()) << "split part " << i;
  EXPECT_EQ(ops::upsample_nearest2x(gx).to(Device::CPU).to_f32_vector(), ops::upsample_nearest2x(x).to_f32_vector());
  const Tensor table = random({50, 16}, 1.f, 7);
  EXPECT_EQ(ops::embedding(gpu(table), {3, 0, 49, 3}).to(Device::CPU).to_f32_vector(),
            ops::embedding(table, {3, 0, 49, 3}).to_f32_vector());
}

TEST(Cuda, LinearAndMatmulMatchCpu) {
  REQUIRE_GPU();
  const int64_t M = 77, N = 96, K = 160;
  const Tensor x = random({M, K}, 1.f, 1), w = random({N, K}, 0.05f, 2), bias = random({N}, 0.1f, 3);
  // f32 / f32: the reference GEMM, f32 arithmetic.
  EXPECT_TRUE(test::close_enough("linear f32", host(ops::linear(gpu(x), gpu(w))), ops::linear(x, w), 0.999999, 1e-4));
  const Tensor gb = gpu(bias);
  EXPECT_TRUE(test::close_enough("linear f32 + bias", host(ops::linear(gpu(x), gpu(w), &gb)), ops::linear(x, w, &bias),
                                 0.999999, 1e-4));
  // bf16 inputs, f32 and bf16 outputs, the epilogues.
  const Tensor xr = bf16_rounded(x), wr = bf16_rounded(w);
  const Tensor gx = gpu(x, DType::BF16), gw = gpu(w, DType::BF16);
  EXPECT_TRUE(test::close_enough("linear bf16 -> f32 + bias", host(ops::linear(gx, gw, &gb, DType::F32)),
                                 ops::linear(xr, wr, &bias), 0.9999, 1e-3));
  EXPECT_TRUE(test::close_enough("linear bf16 -> bf16 + bias", host(ops::linear(gx, gw, &gb, DType::BF16)),
                                 ops::linear(xr, wr, &bias), 0.9999, 1e-2));
  EXPECT_TRUE(test::close_enough("linear f32 x, bf16 w (rounded on the GPU)", host(ops::linear(gpu(x), gw, &gb, DType::F32)),
                                 ops::linear(xr, wr, &bias), 0.9999, 1e-3));
  for (bool tanh_gelu : {true, false})
    EXPECT_TRUE(test::close_enough(tanh_gelu ? "linear + GELU(tanh) epilogue" : "linear + GELU(erf)",
                                   host(ops::linear_gelu(gx, gw, &gb, tanh_gelu, DType::BF16)),
                                   ops::gelu(ops::linear(xr, wr, &bias), tanh_gelu), 0.9999, 2e-2));
  const Tensor b = random({K, N}, 0.1f, 8);
  EXPECT_TRUE(test::close_enough("matmul f32", host(ops::matmul(gpu(x), gpu(b))), ops::matmul(x, b), 0.999999, 1e-4));
  EXPECT_TRUE(test::close_enough("matmul f32 trans_b", host(ops::matmul(gpu(x), gpu(w), true)), ops::matmul(x, w, true),
                                 0.999999, 1e-4));
  // The same shape again reuses the tuned plan and gives the same bytes.
  EXPECT_EQ(ops::linear(gx, gw, &gb, DType::F32).to(Device::CPU).to_f32_vector(),
            ops::linear(gx, gw, &gb, DType::F32).to(Device::CPU).to_f32_vector());
}

TEST(Cuda, NormsMatchCpu) {
  REQUIRE_GPU();
  const Tensor x = random({2, 33, 2432}, 1.f, 4), w = random({2432}, 0.3f, 5), b = random({2432}, 0.3f, 6);
  const Tensor gw = w.to(Device::CUDA), gb = b.to(Device::CUDA);
  both_dtypes("layer_norm", {x}, [&](const std::vector<Tensor>& in) {
    const bool g = in[0].device() == Device::CUDA;
    return ops::layer_norm(in[0], g ? &gw : &w, g ? &gb : &b, 1e-6f);
  });
  both_dtypes("layer_norm without affine", {x}, [](const std::vector<Tensor>& in) {
    return ops::layer_norm(in[0], nullptr, nullptr, 1e-6f);
  });
  const Tensor heads = random({4 * 38 * 17, 64}, 1.f, 7), hw = random({64}, 0.3f, 8);
  const Tensor ghw = hw.to(Device::CUDA);
  both_dtypes("rms_norm", {heads}, [&](const std::vector<Tensor>& in) {
    return ops::rms_norm(in[0], in[0].device() == Device::CUDA ? &ghw : &hw, 1e-6f);
  });
  const Tensor scale = random({2, 2432}, 0.2f, 9), shift = random({2, 2432}, 0.2f, 10);
  const Tensor gs = scale.to(Device::CUDA), gh = shift.to(Device::CUDA);
  both_dtypes("layer_norm_modulate", {x}, [&](const std::vector<Tensor>& in) {
    const bool g = in[0].device() == Device::CUDA;
    return ops::layer_norm_modulate(in[0], g ? gs : scale, g ? gh : shift, 1e-6f);
  });
  const Tensor ry = random(x.shape(), 1.f, 15), rgate = random({2, 2432}, 0.5f, 16);
  const Tensor grgate = rgate.to(Device::CUDA);
  for (int part = 0; part < 2; ++part)
    both_dtypes(part ? "gated_add_norm_modulate normed" : "gated_add_norm_modulate sum", {x, ry},
                [&](const std::vector<Tensor>& in) {
                  const bool g = in[0].device() == Device::CUDA;
                  auto r = ops::gated_add_norm_modulate(in[0], g ? grgate : rgate, in[1], g ? gs : scale,
                                                        g ? gh : shift, 1e-6f);
                  return part ? r.normed : r.sum;
                });
  both_dtypes("modulate", {x}, [&](const std::vector<Tensor>& in) {
    const bool g = in[0].device() == Device::CUDA;
    return ops::modulate(in[0], g ? gs : scale, g ? gh : shift);
  });
  const Tensor img = random({2, 64, 6, 5}, 1.f, 11), cw = random({64}, 0.3f, 12), cb = random({64}, 0.3f, 13);
  const Tensor gcw = cw.to(Device::CUDA), gcb = cb.to(Device::CUDA);
  both_dtypes("group_norm", {img}, [&](const std::vector<Tensor>& in) {
    const bool g = in[0].device() == Device::CUDA;
    return ops::group_norm(in[0], 32, g ? &gcw : &cw, g ? &gcb : &cb, 1e-6f);
  });
  both_dtypes("softmax", {random({7, 333}, 3.f, 14)}, [](const std::vector<Tensor>& in) { return ops::softmax(in[0]); });
}

TEST(Cuda, ElementwiseMatchCpu) {
  REQUIRE_GPU();
  const Tensor x = random({2, 50, 96}, 2.f, 9), y = random({2, 50, 96}, 1.f, 10), gate = random({2, 96}, 0.5f, 11);
  for (auto kind : {ops::Activation::GeluErf, ops::Activation::GeluTanh, ops::Activation::QuickGelu,
                    ops::Activation::Silu})
    both_dtypes("activation", {x}, [&](const std::vector<Tensor>& in) { return ops::activation(in[0], kind); });
  const Tensor ggate = gate.to(Device::CUDA);
  both_dtypes("gated_add", {x, y}, [&](const std::vector<Tensor>& in) {
    return ops::gated_add(in[0], in[0].device() == Device::CUDA ? ggate : gate, in[1]);
  });
  both_dtypes("add", {x, y}, [](const std::vector<Tensor>& in) { return ops::add(in[0], in[1]); });
  both_dtypes("mul broadcast", {x, random({96}, 1.f, 12)}, [](const std::vector<Tensor>& in) {
    return ops::mul(in[0], in[1]);
  });
  both_dtypes("guidance_combine", {x, y}, [](const std::vector<Tensor>& in) {
    return ops::guidance_combine(in[0], in[1], 4.5f);
  });
  both_dtypes("euler_step", {x, y}, [](const std::vector<Tensor>& in) {
    Tensor latents = in[0].to(in[0].dtype());
    ops::euler_step(latents, in[1], 0.8f, 0.65f);
    return latents;
  });
  const Tensor cos = random({50, 96}, 1.f, 13), sin = random({50, 96}, 1.f, 14);
  const Tensor gcos = cos.to(Device::CUDA), gsin = sin.to(Device::CUDA);
  both_dtypes("apply_rope", {random({2, 3, 50, 96}, 1.f, 15)}, [&](const std::vector<Tensor>& in) {
    Tensor t = in[0].to(in[0].dtype());
    const bool g = t.device() == Device::CUDA;
    ops::apply_rope(t, g ? gcos : cos, g ? gsin : sin);
    return t;
  });
}

// Every head size the models have, causal (CLIP), a bias (T5), log-sum-exp and the merge
// (ring attention), f32 and bf16.
TEST(Cuda, AttentionMatchesCpu) {
  REQUIRE_GPU();
  for (int64_t d : {64, 128, 512}) {
    const int64_t B = 2, H = d == 512 ? 1 : 3, Nq = 100, Nk = 133;
    const Tensor q = random({B, H, Nq, d}, 1.f, 12), k = random({B, H, Nk, d}, 1.f, 13), v = random({B, H, Nk, d}, 1.f, 14);
    const float scale = 1.f / std::sqrt(static_cast<float>(d));
    const std::string tag = "attention d=" + std::to_string(d);
    both_dtypes(tag.c_str(), {q, k, v}, [&](const std::vector<Tensor>& in) {
      return ops::attention(in[0], in[1], in[2], scale);
    }, 1e-4, 2e-2);
  }
  const Tensor q = random({2, 4, 77, 64}, 1.f, 15), k = random({2, 4, 77, 64}, 1.f, 16), v = random({2, 4, 77, 64}, 1.f, 17);
  const Tensor bias = random({4, 77, 77}, 1.f, 18), gbias = bias.to(Device::CUDA);
  both_dtypes("attention causal", {q, k, v}, [](const std::vector<Tensor>& in) {
    return ops::attention(in[0], in[1], in[2], 0.125f, true);
  }, 1e-4, 2e-2);
  both_dtypes("attention + bias", {q, k, v}, [&](const std::vector<Tensor>& in) {
    return ops::attention(in[0], in[1], in[2], 1.f, false, in[0].device() == Device::CUDA ? &gbias : &bias);
  }, 1e-4, 2e-2);
  // Two key blocks merged equal one attention over both.
  const Tensor k2 = random({2, 4, 50, 64}, 1.f, 19), v2 = random({2, 4, 50, 64}, 1.f, 20);
  Tensor lse_a, lse_b, want_lse_a, want_lse_b;
  Tensor a = ops::attention_lse(gpu(q), gpu(k), gpu(v), 0.125f, lse_a);
  const Tensor b = ops::attention_lse(gpu(q), gpu(k2), gpu(v2), 0.125f, lse_b);
  Tensor want_a = ops::attention_lse(q, k, v, 0.125f, want_lse_a);
  EXPECT_TRUE(test::close_enough("attention log-sum-exp", host(lse_a), want_lse_a, 0.999999, 1e-5));
  const Tensor want_b = ops::attention_lse(q, k2, v2, 0.125f, want_lse_b);
  ops::attention_merge(a, lse_a, b, lse_b);
  ops::attention_merge(want_a, want_lse_a, want_b, want_lse_b);
  EXPECT_TRUE(test::close_enough("attention_merge", host(a), want_a, 0.999999, 1e-4));
  EXPECT_TRUE(test::close_enough("attention_merge lse", host(lse_a), want_lse_a, 0.999999, 1e-5));
}

// SD3's and FLUX's joint attention over strided views of one fused q/k/v projection per
// stream, with the qk RMSNorm and (FLUX) the rotary embedding applied while packing, against
// the CPU's f32 reference path.
TEST(Cuda, JointAttentionMatchesCpu) {
  REQUIRE_GPU();
  for (int64_t d : {64, 128}) {
    const int64_t B = 2, H = 3, Ni = 70, Nt = 13;
    const Tensor img = random({B, Ni, 3 * H * d}, 1.f, 21), txt = random({B, Nt, 3 * H * d}, 1.f, 22);
    const Tensor qn = random({d}, 0.5f, 23), kn = random({d}, 0.5f, 24);
    const Tensor cos = random({Nt + Ni, d}, 1.f, 25), sin = random({Nt + Ni, d}, 1.f, 26);
    for (bool rope : {false, true}) {
      auto run = [&](const Tensor& i3, const Tensor& t3, DType out) {
        const Device dev = i3.device();
        static Tensor norms[2], tables[4];
        norms[0] = qn.to(dev);
        norms[1] = kn.to(dev);
        tables[0] = cos.rows(0, Nt).contiguous().to(dev);
        tables[1] = sin.rows(0, Nt).contiguous().to(dev);
        tables[2] = cos.rows(Nt, Nt + Ni).contiguous().to(dev);
        tables[3] = sin.rows(Nt, Nt + Ni).contiguous().to(dev);
        std::vector<ops::AttentionStream> streams;
        for (int s = 0; s < 2; ++s) {  // FLUX's order: prompt first
          const Tensor fused = (s == 0 ? t3 : i3).unflatten(2, {3, H, d});
          ops::AttentionStream st{fused.select(2, 0), fused.select(2, 1), fused.select(2, 2), &norms[0], &norms[1]};
          if (rope) {
            st.rope_cos = &tables[2 * s];
            st.rope_sin = &tables[2 * s + 1];
          }
          streams.push_back(st);
        }
        return ops::joint_attention(streams, 1.f / std::sqrt(static_cast<float>(d)), 1e-6f, false, out, false);
      };
      const auto want = run(img, txt, DType::F32);
      const auto got32 = run(gpu(img), gpu(txt), DType::F32);
      const auto got16 = run(gpu(img, DType::BF16), gpu(txt, DType::BF16), DType::BF16);
      const auto want16 = run(bf16_rounded(img), bf16_rounded(txt), DType::F32);
      for (size_t s = 0; s < 2; ++s) {
        const std::string tag = "joint attention d=" + std::to_string(d) + (rope ? " rope" : "") + " stream " +
                                std::to_string(s);
        EXPECT_TRUE(test::close_enough(tag + " f32", host(got32[s]), want[s], 0.999999, 1e-4));
        EXPECT_TRUE(test::close_enough(tag + " bf16", host(got16[s]), want16[s], 0.9999, 2e-2));
      }
    }
  }
}

TEST(Cuda, OpsRefuseMixedDevices) {
  REQUIRE_GPU();
  const Tensor x = random({2, 3, 8}, 1.f, 30);
  try {
    ops::add(gpu(x), x);
    FAIL() << "a CPU and a GPU tensor were added";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::conv2d(gpu(random({1, 4, 8, 8}, 1.f, 31)), random({4, 4, 3, 3}, 1.f, 32), nullptr, {}), Error);
}

// The convolutions the models have: the VAE's 3x3 (padding 1), its stride-2 downsampling with
// asymmetric padding, 1x1, and the transformer's patchify (kernel = stride = 2).
TEST(Cuda, Conv2dMatchesCpu) {
  REQUIRE_GPU();
  const Tensor x = random({2, 8, 13, 10}, 1.f, 33), bias = random({6}, 0.1f, 34);
  const Tensor gbias = bias.to(Device::CUDA);
  struct Case {
    int64_t k;
    ops::Conv2dParams p;
  };
  for (const Case& c : {Case{3, ops::Conv2dParams::same(1)}, Case{3, {2, 0, 0, 1, 1}}, Case{1, {}}, Case{2, {2, 0, 0, 0, 0}}}) {
    const Tensor w = random({6, 8, c.k, c.k}, 0.2f, 35 + static_cast<uint32_t>(c.k));
    const Tensor gw = w.to(Device::CUDA), gw16 = gw.to(DType::BF16);
    const std::string tag = "conv2d k=" + std::to_string(c.k) + " stride " + std::to_string(c.p.stride);
    // An F32 weight with bf16 activations takes the GEMM; a bf16 weight takes cuDNN in bf16.
    both_dtypes(tag.c_str(), {x}, [&](const std::vector<Tensor>& in) {
      const bool g = in[0].device() == Device::CUDA;
      return ops::conv2d(in[0], g ? gw : w, g ? &gbias : &bias, c.p);
    }, 1e-4, 2e-2);
    both_dtypes((tag + " bf16 weight").c_str(), {x}, [&](const std::vector<Tensor>& in) {
      const bool g = in[0].device() == Device::CUDA;
      return ops::conv2d(in[0], g ? (in[0].dtype() == DType::BF16 ? gw16 : gw) : w, g ? &gbias : &bias, c.p);
    }, 1e-4, 2e-2);
  }
}

// Where the machine has cuDNN, convolutions go through it (not silently through the GEMM).
TEST(Cuda, Conv2dRunsOnCudnnWhereItCan) {
  REQUIRE_GPU();
  const char* off = std::getenv("PARADIT_CUDNN_CONV");
  if (cuda::attention_backend().find("cuDNN") == std::string::npos || (off && std::string(off) == "0"))
    GTEST_SKIP() << "no cuDNN here: " << cuda::attention_backend();
  const Tensor x = random({1, 8, 16, 16}, 1.f, 40).to(Device::CUDA), w = random({4, 8, 3, 3}, 0.2f, 41).to(Device::CUDA);
  for (DType dt : {DType::F32, DType::BF16}) {
    Tensor y = Tensor::empty({1, 4, 16, 16}, dt, Device::CUDA);
    EXPECT_TRUE(cuda::conv2d(x.to(dt), w.to(dt), nullptr, {1, 1, 1, 1, 1}, y)) << dtype_name(dt);
  }
}

TEST(Cuda, ArenaBumpsAndResets) {
  REQUIRE_GPU();
  cuda::DeviceArena arena(1 << 20);
  void* a = arena.allocate(100);
  void* b = arena.allocate(100);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) - reinterpret_cast<uintptr_t>(a), 256u);
  EXPECT_THROW(arena.allocate(2 << 20), Error);
  arena.reset();
  EXPECT_EQ(arena.allocate(1), a);
  EXPECT_GE(arena.peak(), 356u);
}

#ifdef PARADIT_HAVE_NCCL
TEST(Cuda, NcclOneRankAllReduce) {
  REQUIRE_GPU();
  LocalCommunicator bootstrap;
  auto nccl = make_nccl_communicator(bootstrap);
  const Tensor x = random({1000}, 1.f, 15);
  Tensor buffer = x.to(Device::CUDA);
  nccl->all_reduce(buffer);
  EXPECT_TRUE(test::close_enough("nccl all_reduce over one rank", host(buffer), x, 1.0, 0.0));
  EXPECT_EQ(nccl->stats().by_name().at("all_reduce").calls, 1);
}
#endif

}  // namespace
}  // namespace paradit
