#include <gtest/gtest.h>

#include "core/error.h"
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
