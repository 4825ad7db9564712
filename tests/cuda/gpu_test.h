// What the GPU tests share: they skip, naming the reason, where no GPU can be used (CI has
// none; the skip is reported, never counted as a pass by scripts/device-check.sh).
#pragma once

#include <gtest/gtest.h>

#include "backend/cuda/device.h"

#define REQUIRE_GPU()                                                                          \
  do {                                                                                         \
    if (::paradit::cuda::device_count() == 0) GTEST_SKIP() << ::paradit::cuda::unavailable_reason(); \
  } while (0)
