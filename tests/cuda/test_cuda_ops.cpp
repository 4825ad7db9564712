// The CUDA backend against the CPU reference, op by op. Every test needs a GPU and skips with
// the reason when there is none (this runs in CI, which has no GPU: the backend must compile
// and link there, and these tests then report themselves skipped, never passed).
//
// bf16 tolerances, stated per op: GEMMs and attention PCC >= 0.9999 against the CPU computing
// from the same bf16-rounded inputs (the products differ only in summation order); norms and
// elementwise ops max-abs <= 2 bf16 ulps of the output (outputs are rounded to bf16 once).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/cuda/arena.h"
#include "backend/cuda/device.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/kernels.h"
#include "core/error.h"
#include "ops/ops.h"
#include "support/compare.h"
#ifdef PARADIT_HAVE_NCCL
#include "parallel/nccl_communicator.h"
#endif

namespace paradit {
namespace {

#define REQUIRE_GPU()                                                      \
  do {                                                                     \
    if (cuda::device_count() == 0) GTEST_SKIP() << cuda::unavailable_reason(); \
  } while (0)

Tensor random(const Shape& shape, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.f, scale);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

// The same values rounded to bf16 and back, so the CPU reference sees what the GPU sees.
Tensor bf16_rounded(const Tensor& t) { return t.to(DType::BF16).to(DType::F32); }

cuda::DeviceBuffer upload(const Tensor& t) {
  cuda::DeviceBuffer b(t.nbytes());
  b.upload(t.raw(), t.nbytes());
  return b;
}

Tensor download(const cuda::DeviceBuffer& b, const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  b.download(t.raw(), t.nbytes());
  return t.to(DType::F32);
}

TEST(Cuda, DeviceReport) {
  const int n = cuda::device_count();
  if (n == 0) GTEST_SKIP() << cuda::unavailable_reason();
  for (int i = 0; i < n; ++i) std::printf("GPU %d: %s\n", i, cuda::describe_device(i).c_str());
}

// Device tensors: allocated through the registered GPU memory, copied there and back bit for
// bit, zeroed on the device; strided host views are made contiguous on the way.
TEST(Cuda, TensorsMoveToTheGpuAndBack) {
  ASSERT_TRUE(cuda::device_memory_registered());
  REQUIRE_GPU();
  const Tensor host = random({3, 5, 7}, 1.f, 4).to(DType::BF16);
  const Tensor gpu = host.to(Device::CUDA);
  EXPECT_EQ(gpu.device(), Device::CUDA);
  EXPECT_EQ(gpu.to(Device::CPU).to_f32_vector(), host.to_f32_vector());
  const Tensor view = host.permuted({2, 0, 1});
  EXPECT_EQ(view.to(Device::CUDA).to(Device::CPU).to_f32_vector(), view.contiguous().to_f32_vector());
  EXPECT_EQ(Tensor::zeros({1000}, DType::F32, Device::CUDA).to(Device::CPU).to_f32_vector(),
            std::vector<float>(1000, 0.f));
}

TEST(Cuda, LinearWithEpiloguesMatchesCpu) {
  REQUIRE_GPU();
  const int64_t M = 77, N = 96, K = 160;
  const Tensor x = bf16_rounded(random({M, K}, 1.f, 1)), w = bf16_rounded(random({N, K}, 0.05f, 2));
  const Tensor bias = bf16_rounded(random({N}, 0.1f, 3));
  const auto dx = upload(x.to(DType::BF16)), dw = upload(w.to(DType::BF16)), db = upload(bias.to(DType::BF16));
  cuda::DeviceBuffer dy(static_cast<size_t>(M * N) * 4);
  cuda::LtGemm gemm;
  gemm.linear(dx.data(), dw.data(), db.data(), dy.data(), true, M, N, K, cuda::Epilogue::Bias);
  EXPECT_TRUE(test::close_enough("cuBLASLt linear + bias", download(dy, {M, N}, DType::F32), ops::linear(x, w, &bias),
                                 0.9999, 1e-2));
  gemm.linear(dx.data(), dw.data(), db.data(), dy.data(), true, M, N, K, cuda::Epilogue::BiasGelu);
  EXPECT_TRUE(test::close_enough("cuBLASLt linear + bias + GELU(tanh)", download(dy, {M, N}, DType::F32),
                                 ops::gelu(ops::linear(x, w, &bias), true), 0.9999, 1e-2));
}

TEST(Cuda, LayerNormModulateMatchesCpu) {
  REQUIRE_GPU();
  const int64_t B = 2, N = 33, D = 2432;
  const Tensor x = bf16_rounded(random({B, N, D}, 1.f, 4));
  const Tensor scale = random({B, D}, 0.2f, 5), shift = random({B, D}, 0.2f, 6);
  const auto dx = upload(x.to(DType::BF16)), ds = upload(scale), dh = upload(shift);
  cuda::DeviceBuffer dy(x.numel() * 2);
  cuda::layer_norm_modulate(dx.data(), static_cast<const float*>(ds.data()), static_cast<const float*>(dh.data()),
                            dy.data(), B, N, D, 1e-6f, nullptr);
  const Tensor want = ops::modulate(ops::layer_norm(x, nullptr, nullptr, 1e-6f), scale, shift);
  EXPECT_TRUE(test::close_enough("layer_norm + modulate", download(dy, {B, N, D}, DType::BF16), want, 0.9999, 2e-2));
}

TEST(Cuda, RmsNormMatchesCpu) {
  REQUIRE_GPU();
  const int64_t rows = 4 * 38 * 17, D = 64;
  const Tensor x = bf16_rounded(random({rows, D}, 1.f, 7)), w = random({D}, 0.3f, 8);
  const auto dx = upload(x.to(DType::BF16)), dw = upload(w);
  cuda::DeviceBuffer dy(x.numel() * 2);
  cuda::rms_norm(dx.data(), static_cast<const float*>(dw.data()), dy.data(), rows, D, 1e-6f, nullptr);
  EXPECT_TRUE(test::close_enough("rms_norm", download(dy, {rows, D}, DType::BF16), ops::rms_norm(x, &w, 1e-6f), 0.9999,
                                 2e-2));
}

TEST(Cuda, ElementwiseMatchCpu) {
  REQUIRE_GPU();
  const int64_t B = 2, N = 50, D = 96;
  const Tensor x = bf16_rounded(random({B, N, D}, 2.f, 9)), y = bf16_rounded(random({B, N, D}, 1.f, 10));
  const Tensor gate = random({B, D}, 0.5f, 11);
  auto dx = upload(x.to(DType::BF16));
  cuda::gelu_tanh(dx.data(), x.numel(), nullptr);
  EXPECT_TRUE(test::close_enough("gelu tanh", download(dx, x.shape(), DType::BF16), ops::gelu(x, true), 0.9999, 1e-2));
  dx = upload(x.to(DType::BF16));
  cuda::silu(dx.data(), x.numel(), nullptr);
  EXPECT_TRUE(test::close_enough("silu", download(dx, x.shape(), DType::BF16), ops::silu(x), 0.9999, 1e-2));
  dx = upload(x.to(DType::BF16));
  const auto dy = upload(y.to(DType::BF16)), dg = upload(gate);
  cuda::gated_add(dx.data(), static_cast<const float*>(dg.data()), dy.data(), dx.data(), B, N, D, nullptr);
  EXPECT_TRUE(test::close_enough("gated add", download(dx, x.shape(), DType::BF16), ops::gated_add(x, gate, y), 0.9999,
                                 1e-2));
}

TEST(Cuda, AttentionMatchesCpu) {
  REQUIRE_GPU();
  const int64_t B = 2, H = 3, Nq = 100, Nk = 133, d = 64;
  const Tensor q = bf16_rounded(random({B, H, Nq, d}, 1.f, 12)), k = bf16_rounded(random({B, H, Nk, d}, 1.f, 13));
  const Tensor v = bf16_rounded(random({B, H, Nk, d}, 1.f, 14));
  const auto dq = upload(q.to(DType::BF16)), dk = upload(k.to(DType::BF16)), dv = upload(v.to(DType::BF16));
  cuda::DeviceBuffer dout(q.numel() * 2), dlse(static_cast<size_t>(B * H * Nq) * 4);
  const float scale = 0.125f;
  cuda::attention(dq.data(), dk.data(), dv.data(), dout.data(), static_cast<float*>(dlse.data()), B * H, Nq, Nk, scale,
                  nullptr);
  Tensor lse;
  const Tensor want = ops::attention_lse(q, k, v, scale, lse);
  EXPECT_TRUE(test::close_enough("attention", download(dout, q.shape(), DType::BF16), want, 0.9999, 2e-2));
  EXPECT_TRUE(test::close_enough("attention log-sum-exp", download(dlse, {B, H, Nq}, DType::F32), lse, 0.99999, 1e-4));
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
  auto buffer = upload(x);
  Tensor view = Tensor::borrow({1000}, DType::F32, buffer.data(), nullptr, Device::CUDA);
  nccl->all_reduce(view);
  EXPECT_TRUE(test::close_enough("nccl all_reduce over one rank", download(buffer, {1000}, DType::F32), x, 1.0, 0.0));
  EXPECT_EQ(nccl->stats().by_name().at("all_reduce").calls, 1);
}
#endif

}  // namespace
}  // namespace paradit
