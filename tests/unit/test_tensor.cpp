#include <gtest/gtest.h>

#include <cctype>
#include <functional>

#include "core/device_memory.h"
#include "core/error.h"
#include "ops/ops.h"
#include "core/tensor.h"

namespace paradit {
namespace {

TEST(Tensor, OwnsAlignedMemory) {
  Tensor t = Tensor::zeros({3, 5}, DType::BF16);
  EXPECT_EQ(t.numel(), 15);
  EXPECT_EQ(t.nbytes(), 30u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_EQ(t.describe(), "BF16[3, 5]");
}

TEST(Tensor, ReshapeAndRowsAreViews) {
  Tensor t = Tensor::from_vector({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.raw(), t.raw());
  Tensor row = t.rows(1, 2);
  EXPECT_EQ(row.item_f32(0), 3.f);
  row.data<float>()[0] = 42.f;
  EXPECT_EQ(t.item_f32(3), 42.f);
}

// Strided views: slices of a fused [B, N, 3, H, D] buffer, per-head transposes, and the
// copies made only when asked for.
TEST(Tensor, StridedViewsShareBytesAndCopyOnlyWhenAsked) {
  std::vector<float> values(2 * 4 * 6);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  const Tensor t = Tensor::from_vector({2, 4, 6}, values);  // [B, N, 3 * H * D] with H = 1, D = 2
  const Tensor fused = t.unflatten(2, {3, -1, 2});          // [2, 4, 3, 1, 2]
  EXPECT_EQ(fused.shape(), (Shape{2, 4, 3, 1, 2}));
  EXPECT_EQ(fused.strides(), (Shape{24, 6, 2, 2, 1}));
  const Tensor k = fused.select(2, 1);  // [2, 4, 1, 2]: the middle third of every row
  EXPECT_EQ(k.shape(), (Shape{2, 4, 1, 2}));
  EXPECT_FALSE(k.is_contiguous());
  EXPECT_EQ(k.raw(), static_cast<const float*>(t.raw()) + 2);
  EXPECT_EQ(k.item_f32(0), 2.f);
  EXPECT_EQ(k.item_f32(3), 9.f);   // token 1, element 1
  EXPECT_EQ(k.item_f32(15), 45.f); // batch 1, token 3, element 1
  const Tensor heads = k.permuted({0, 2, 1, 3});  // [B, H, N, D]
  EXPECT_EQ(heads.shape(), (Shape{2, 1, 4, 2}));
  const Tensor dense = heads.contiguous();
  EXPECT_TRUE(dense.is_contiguous());
  EXPECT_NE(dense.raw(), heads.raw());
  const std::vector<float> expected = {2, 3, 8, 9, 14, 15, 20, 21, 26, 27, 32, 33, 38, 39, 44, 45};
  EXPECT_EQ(dense.to_f32_vector(), expected);
  EXPECT_EQ(heads.to_f32_vector(), expected);
  EXPECT_EQ(heads.to(DType::BF16).to_f32_vector(), expected);
  EXPECT_EQ(t.contiguous().raw(), t.raw());  // already contiguous: no copy
  const Tensor cols = t.slice(2, 4, 6);
  EXPECT_EQ(cols.shape(), (Shape{2, 4, 2}));
  EXPECT_EQ(cols.item_f32(2), 10.f);
  // A strided view cannot be reshaped in place, and the contiguous-only ops say so.
  EXPECT_THROW(k.reshape({-1}), Error);
  try {
    ops::add(k, k);
    FAIL() << "a strided view reached a contiguous-only op";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("strided view"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ops::permute(k, {0, 2, 1, 3}).to_f32_vector(), expected);  // permute gathers from a view
  EXPECT_THROW(t.slice(2, 5, 7), Error);
  EXPECT_THROW(t.select(3, 0), Error);
  EXPECT_THROW(t.unflatten(2, {4, -1}), Error);
  EXPECT_THROW(t.permuted({0, 0, 1}), Error);
}

// Memory per device: the CPU's through the same interface, another device's from its backend
// (or one clear line when the build or the machine has none), and ops that meet a tensor on a
// device whose op table lacks them name the op and the device.
TEST(Tensor, DeviceMemoryAndDispatchErrors) {
  const Tensor z = Tensor::zeros({3, 2}, DType::BF16, Device::CPU);
  EXPECT_EQ(z.to_f32_vector(), std::vector<float>(6, 0.f));
  EXPECT_EQ(z.to(Device::CPU).raw(), z.raw());  // already there: no copy
  EXPECT_TRUE(has_device_memory(Device::CPU));
  bool gpu_present = false;
  if (!has_device_memory(Device::CUDA)) {
    try {
      Tensor::empty({4}, DType::F32, Device::CUDA);
      FAIL() << "allocated on a device this build lacks";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
    }
  } else {
    // Built with CUDA: on a machine without a GPU the allocation fails with the driver's reason.
    try {
      const Tensor t = Tensor::from_vector({3}, {1.f, 2.f, 3.f}).to(Device::CUDA);
      EXPECT_EQ(t.device(), Device::CUDA);
      EXPECT_EQ(t.to(Device::CPU).to_f32_vector(), (std::vector<float>{1.f, 2.f, 3.f}));
      std::printf("  [device] a GPU is present: the round trip ran\n");
      gpu_present = true;
    } catch (const Error& e) {
      std::printf("  [device] no GPU here: %s\n", e.what());
      EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
    }
  }
  // A tensor that claims to live on the GPU (host bytes, never read). Mixed devices are refused
  // naming the op and both devices; an op on it alone goes to the CUDA table, which here fails
  // in one line (no CUDA backend in this build, or no GPU: the driver's reason) before any
  // kernel could read the host bytes.
  std::vector<float> host(4, 1.f);
  const Tensor fake = Tensor::borrow({2, 2}, DType::F32, host.data(), nullptr, Device::CUDA);
  try {
    ops::linear(fake, Tensor::zeros({2, 2}));
    FAIL() << "a CUDA input met a CPU weight";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("linear"), std::string::npos) << what;
    EXPECT_NE(what.find("cuda"), std::string::npos) << what;
    EXPECT_NE(what.find("cpu"), std::string::npos) << what;
  }
  for (const auto& run : std::vector<std::pair<std::string, std::function<void()>>>{
           {"ops::layer_norm", [&] { ops::layer_norm(fake, nullptr, nullptr, 1e-5f); }},
           {"ops::permute", [&] { ops::permute(fake, {1, 0}); }},
           {"to(BF16)", [&] { (void)fake.to(DType::BF16); }}}) {
    if (gpu_present) break;  // a real GPU would run them on the borrowed host pointer
    try {
      run.second();
      FAIL() << run.first << " ran on a CUDA tensor";
    } catch (const Error& e) {
      std::string what = e.what();
      for (char& c : what) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_NE(what.find("cuda"), std::string::npos) << run.first << ": " << e.what();
    }
  }
}

TEST(Tensor, ConversionCopies) {
  Tensor t = Tensor::from_vector({3}, {1.f, -2.5f, 1e-3f});
  Tensor b = t.to(DType::BF16);
  EXPECT_NE(b.raw(), t.raw());
  EXPECT_EQ(b.item_f32(1), -2.5f);
  EXPECT_NEAR(b.item_f32(2), 1e-3f, 1e-5f);
}

TEST(Tensor, BadShapesAreErrors) {
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_THROW(t.reshape({4, 2}), Error);
  EXPECT_THROW(t.reshape({-1, -1}), Error);
  EXPECT_THROW(t.rows(1, 3), Error);
  EXPECT_THROW(t.size(2), Error);
  EXPECT_THROW(Tensor::zeros({-1}), Error);
  EXPECT_THROW(Tensor::from_vector({2}, {1.f}), Error);
  EXPECT_THROW(t.item_f32(6), Error);
}

TEST(Tensor, ConvertingToIntegerIsAnError) {
  Tensor t = Tensor::zeros({4});
  EXPECT_THROW(t.to(DType::I64), Error);
}

}  // namespace
}  // namespace paradit
