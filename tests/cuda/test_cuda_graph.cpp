// A transformer step captured as one CUDA graph: its replays equal eager steps (to 1e-6 of the
// output's scale: the same kernels and GEMM algorithms, so normally bit for bit), also
// after new latents are copied into the captured input, and the memory the graph wrote stays
// its own while eager work runs between replays. Skips without a GPU.
#include <gtest/gtest.h>

#include <random>

#include "cuda/gpu_test.h"
#include "backend/cuda/graph.h"
#include "core/device_memory.h"
#include "models/flux/flux.h"
#include "models/flux/rope.h"
#include "models/flux/weights.h"
#include "models/mmdit/mmdit.h"
#include "models/mmdit/weights.h"
#include "ops/ops.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

Tensor random(const Shape& shape, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

TEST(CudaGraph, ReplaysEqualEagerSteps) {
  REQUIRE_GPU();
  const MMDiTWeights w = open_mmdit_weights(test::fixtures_dir() + "/models/sd35_medium_like");
  for (DType dtype : {DType::F32, DType::BF16}) {
    LoadContext ctx{w.source.get(), dtype, std::nullopt};
    ctx.device = Device::CUDA;
    const MMDiT model = MMDiT::load(ctx, w.config);
    const auto& c = w.config;
    const Tensor x = random({2, c.in_channels, 12, 20}, 1).to(Device::CUDA);
    const Tensor context = random({2, 7, c.joint_attention_dim}, 2).to(Device::CUDA);
    const Tensor pooled = random({2, c.pooled_projection_dim}, 3).to(Device::CUDA);
    const Tensor temb = model.time_embedding({500.f, 20.f}, pooled);
    const Tensor eager = model.forward_with_temb(x, context, temb).to(Device::CPU);
    Tensor out;
    cuda::StepGraph graph;
    graph.capture([&] { out = model.forward_with_temb(x, context, temb); });
    EXPECT_GT(graph.nodes(), 10u);
    graph.replay();
    EXPECT_TRUE(test::close_enough(std::string("graph replay ") + dtype_name(dtype), out.to(Device::CPU), eager,
                                   0.9999999, 1e-6));
    // New latents in place, eager work in between (it must not land in the graph's buffers).
    const Tensor fresh = random(x.shape(), 4);
    device_memory(Device::CUDA).copy_from_host(const_cast<void*>(x.raw()), fresh.raw(), fresh.nbytes());
    const Tensor eager2 = model.forward_with_temb(x, context, temb).to(Device::CPU);
    graph.replay();
    const Tensor noise = ops::add(x, x);  // eager allocations while the replay may still run
    EXPECT_TRUE(test::close_enough(std::string("graph replay on new latents ") + dtype_name(dtype), out.to(Device::CPU),
                                   eager2, 0.9999999, 1e-6));
    EXPECT_NE(eager2.to_f32_vector(), eager.to_f32_vector());
    (void)noise;
  }
}

// FLUX: the part after the embeddings and rotary tables, captured and replayed.
TEST(CudaGraph, FluxReplaysEqualEagerSteps) {
  REQUIRE_GPU();
  const FluxWeights w = open_flux_weights(test::fixtures_dir() + "/models/flux_dev_like");
  LoadContext ctx{w.source.get(), DType::BF16, std::nullopt};
  ctx.device = Device::CUDA;
  const FluxTransformer model = FluxTransformer::load(ctx, w.config);
  const auto& c = w.config;
  const int64_t side = 4, text = 5;
  const Tensor x = random({1, side * side, c.in_channels}, 5).to(Device::CUDA);
  const Tensor context = random({1, text, c.joint_attention_dim}, 6).to(Device::CUDA);
  const Tensor pooled = random({1, c.pooled_projection_dim}, 7).to(Device::CUDA);
  const std::vector<float> guidance = {3.5f};
  const auto prepared =
      model.prepare(pooled, {0.6f}, flux_image_ids(side, side), Tensor::zeros({text, 3}), &guidance);
  const Tensor eager = model.forward_prepared(x, context, prepared).to(Device::CPU);
  Tensor out;
  cuda::StepGraph graph;
  graph.capture([&] { out = model.forward_prepared(x, context, prepared); });
  graph.replay();
  EXPECT_TRUE(test::close_enough("FLUX graph replay", out.to(Device::CPU), eager, 0.9999999, 1e-6));
  // The same as the whole forward on the same inputs.
  EXPECT_TRUE(test::close_enough("FLUX prepared == forward", eager,
                                 model.forward(x, context, pooled, {0.6f}, flux_image_ids(side, side),
                                               Tensor::zeros({text, 3}), &guidance).to(Device::CPU),
                                 0.9999999, 1e-6));
}

}  // namespace
}  // namespace paradit
