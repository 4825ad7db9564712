// Comparing our tensors with the reference: Pearson correlation (PCC), max-abs error and
// max-abs error relative to the reference's largest magnitude. Every comparison is printed,
// so a passing run still shows how close it was.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/tensor.h"

namespace paradit::test {

struct Closeness {
  double pcc = 0;
  double max_abs = 0;
  double rel = 0;  // max_abs / max |expected|
  bool shapes_match = false;
};

Closeness compare(const Tensor& actual, const Tensor& expected);

// Passes when shapes match, pcc >= min_pcc and rel <= max_rel. Prints the figures either way.
::testing::AssertionResult close_enough(const std::string& what, const Tensor& actual, const Tensor& expected,
                                        double min_pcc = 0.99999, double max_rel = 1e-4);

}  // namespace paradit::test

// The f32 reference bar of the foundation issue: PCC >= 0.99999 and relative error <= 1e-4.
#define EXPECT_MATCHES(what, actual, expected) \
  EXPECT_TRUE(::paradit::test::close_enough(what, actual, expected))
