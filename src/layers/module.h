// What every layer needs to load itself: the checkpoint, the dtype it computes in, and a way
// to fetch a tensor by name with its shape checked, so a wrong or mismatched checkpoint fails
// with the tensor's name instead of computing garbage.
#pragma once

#include <optional>
#include <string>

#include "core/tensor.h"
#include "io/checkpoint.h"

namespace paradit {

struct LoadContext {
  const Checkpoint& checkpoint;
  DType compute = DType::F32;  // weights are converted to this once, at load
};

// Fetches `name`, checks it has `expected` shape, converts it to the compute dtype.
Tensor load_tensor(const LoadContext& ctx, const std::string& name, const Shape& expected);
// As load_tensor, but returns nothing when the checkpoint lacks the tensor.
std::optional<Tensor> load_optional(const LoadContext& ctx, const std::string& name, const Shape& expected);

inline std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace paradit
