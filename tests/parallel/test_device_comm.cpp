// The GPU half of the parallel code, on machines without a GPU: a stand-in device whose memory
// is host memory (registered in place of the CUDA backend's for each test) runs the host-staged
// communicator and the token layouts (shard, gather, reduce-scatter) exactly as a GPU run calls
// them, and the results must equal the CPU path's bit for bit. The real GPU runs (several ranks
// sharing one GPU, against one rank) are in test_parallel_runs.cpp and skip without a GPU.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/device_memory.h"
#include "core/error.h"
#include "parallel/device_communicator.h"
#include "parallel/token_shard.h"

namespace paradit {
namespace {

// Host memory that calls itself the GPU; counts the crossings so tests see the staging.
class StandInDevice final : public DeviceMemory {
 public:
  int uploads = 0, downloads = 0;
  void* allocate(size_t bytes) override { return bytes ? std::aligned_alloc(64, (bytes + 63) / 64 * 64) : nullptr; }
  void release(void* p, size_t) override { std::free(p); }
  void zero(void* p, size_t bytes) override {
    if (bytes) std::memset(p, 0, bytes);
  }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    ++uploads;
    std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    ++downloads;
    std::memcpy(dst, src, bytes);
  }
  void copy_within(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_strided(const Shape& shape, const Shape& ss, const void* s, DType st, const Shape& ds, void* d,
                    DType dt) override {
    device_memory(Device::CPU).copy_strided(shape, ss, s, st, ds, d, dt);
  }
};

class DeviceCommTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = has_device_memory(Device::CUDA) ? &device_memory(Device::CUDA) : nullptr;
    register_device_memory(Device::CUDA, &device_);
  }
  void TearDown() override { register_device_memory(Device::CUDA, previous_); }
  StandInDevice device_;
  DeviceMemory* previous_ = nullptr;
};

Tensor ramp(const Shape& shape, float start = 0.f) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i) * 0.5f;
  return Tensor::from_vector(shape, v);
}

std::vector<float> values(const Tensor& t) { return t.to(Device::CPU).to_f32_vector(); }

TEST_F(DeviceCommTest, StagedCollectivesGoThroughTheHostAndLandOnTheDevice) {
  auto comm = staged_communicator(std::make_unique<LocalCommunicator>());
  const Tensor host = ramp({2, 3, 4});
  const Tensor in = host.to(Device::CUDA);
  Tensor out = Tensor::empty(in.shape(), in.dtype(), Device::CUDA);
  const int up = device_.uploads, down = device_.downloads;
  comm->all_gather(in, out);
  EXPECT_EQ(device_.downloads - down, 1);
  EXPECT_EQ(device_.uploads - up, 1);
  EXPECT_EQ(out.device(), Device::CUDA);
  EXPECT_EQ(values(out), host.to_f32_vector());
  Tensor a2a = Tensor::empty(in.shape(), in.dtype(), Device::CUDA);
  comm->all_to_all(in, a2a);
  EXPECT_EQ(values(a2a), host.to_f32_vector());
  Tensor rs = Tensor::empty(in.shape(), DType::F32, Device::CUDA);
  comm->reduce_scatter(in, rs);
  EXPECT_EQ(values(rs), host.to_f32_vector());
  Tensor inout = host.to(Device::CUDA);
  comm->all_reduce(inout);
  comm->broadcast(inout, 0, false);
  EXPECT_EQ(values(inout), host.to_f32_vector());
  Tensor recv = Tensor::zeros(in.shape(), in.dtype(), Device::CUDA);
  auto pending = comm->start_send_recv(in, 0, recv, 0);
  pending->wait();
  EXPECT_EQ(values(recv), host.to_f32_vector());
  // Host tensors never touch the device.
  Tensor host_out = Tensor::empty(host.shape());
  const int before = device_.uploads + device_.downloads;
  comm->all_gather(host, host_out);
  EXPECT_EQ(device_.uploads + device_.downloads, before);
  EXPECT_EQ(host_out.to_f32_vector(), host.to_f32_vector());
  // Groups split from it keep staging.
  auto sub = comm->split(0, 0);
  Tensor sub_out = Tensor::empty(in.shape(), in.dtype(), Device::CUDA);
  sub->all_gather(in, sub_out);
  EXPECT_EQ(values(sub_out), host.to_f32_vector());
}

TEST_F(DeviceCommTest, MixedDevicesAndStridedViewsAreRefusedByName) {
  auto comm = staged_communicator(std::make_unique<LocalCommunicator>());
  const Tensor on_device = ramp({4, 4}).to(Device::CUDA);
  Tensor on_host = Tensor::empty({4, 4});
  try {
    comm->all_gather(on_device, on_host);
    FAIL() << "a mixed all_gather was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("all_gather"), std::string::npos) << e.what();
  }
  Tensor out = Tensor::empty({4, 2}, DType::F32, Device::CUDA);
  EXPECT_THROW(comm->all_gather(on_device.slice(1, 0, 2), out), Error);
}

TEST_F(DeviceCommTest, TheGroupOfOneCopiesOnTheDevice) {
  LocalCommunicator one;
  const Tensor host = ramp({3, 5});
  Tensor out = Tensor::empty({3, 5}, DType::F32, Device::CUDA);
  one.all_gather(host.to(Device::CUDA), out);
  EXPECT_EQ(values(out), host.to_f32_vector());
}

TEST_F(DeviceCommTest, TokenLayoutsOnTheDeviceEqualTheCpu) {
  auto comm = staged_communicator(std::make_unique<LocalCommunicator>());
  LocalCommunicator cpu_comm;
  const Tensor x = ramp({2, 7, 3}, 1.f);
  for (int64_t parts : {1, 2, 3, 4, 8}) {
    for (int64_t index = 0; index < parts; ++index) {
      const Tensor cpu = shard_tokens(x, index, parts);
      const Tensor dev = shard_tokens(x.to(Device::CUDA), index, parts);
      ASSERT_EQ(dev.device(), Device::CUDA);
      ASSERT_EQ(dev.shape(), cpu.shape());
      EXPECT_EQ(values(dev), cpu.to_f32_vector()) << parts << " parts, shard " << index;
    }
  }
  // One rank's gather trims the padding the shard added.
  const Tensor cpu = gather_tokens(cpu_comm, shard_tokens(ramp({2, 5, 3}), 0, 1), 5);
  const Tensor dev = gather_tokens(*comm, shard_tokens(ramp({2, 5, 3}).to(Device::CUDA), 0, 1), 5);
  EXPECT_EQ(values(dev), cpu.to_f32_vector());
  const Tensor batch = gather_batch(*comm, x.to(Device::CUDA));
  EXPECT_EQ(batch.device(), Device::CUDA);
  EXPECT_EQ(values(batch), x.to_f32_vector());
}

TEST(HostStridedCopy, WritesIntoAStridedView) {
  // A [2, 3] block written into columns 1..3 of a zeroed [2, 5], read from a transposed source.
  const Tensor src = Tensor::from_vector({3, 2}, {1, 2, 3, 4, 5, 6}).permuted({1, 0});  // [[1,3,5],[2,4,6]]
  Tensor dst = Tensor::zeros({2, 5});
  const Tensor view = dst.slice(1, 1, 4);
  device_memory(Device::CPU).copy_strided(src.shape(), src.strides(), src.raw(), src.dtype(), view.strides(),
                                          const_cast<void*>(view.raw()), DType::F32);
  EXPECT_EQ(dst.to_f32_vector(), (std::vector<float>{0, 1, 3, 5, 0, 0, 2, 4, 6, 0}));
}

}  // namespace
}  // namespace paradit
