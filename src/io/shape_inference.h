// Helpers for inferring a model's config from its tensors' names and shapes, where a checkpoint
// ships no config: every size they return is positive and every index bounded, so the config
// code built on them cannot divide by zero or ask for absurd sizes.
#pragma once

#include <cstdint>
#include <string>

#include "io/weight_source.h"

namespace paradit {

// Dimension `d` of tensor `name`; fails naming the model, the tensor and its shape when the
// tensor is missing, has fewer dimensions or that dimension is 0.
int64_t inferred_dim(const WeightSource& w, const std::string& name, int64_t d, const char* model);

// The N of "blocks.N." in `name`, from its digits: at most 4 of them.
int64_t inferred_index(const std::string& digits, const std::string& name);

}  // namespace paradit
