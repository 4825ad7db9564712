// What every layer needs to load itself: where the weights come from, the dtype its matrix
// products run in, and checked fetches, so a wrong or mismatched checkpoint fails with the
// tensor's name instead of computing garbage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/tensor.h"
#include "io/weight_source.h"

namespace paradit {

struct LoadContext {
  // The weights by diffusers name; null with `random_seed` set builds random weights of the
  // expected shapes instead (benchmarks of real-shaped models without the files).
  const WeightSource* weights = nullptr;
  // The dtype of linear-layer weights and so of the GEMMs (f32: the reference; bf16: the fast
  // path, f32 accumulation). Everything else (norms, biases, convs, tables) is kept in f32.
  DType compute = DType::F32;
  std::optional<uint64_t> random_seed;
};

// Fetches `name` as f32, checking its shape is `expected`.
Tensor load_tensor(const LoadContext& ctx, const std::string& name, const Shape& expected);
// As load_tensor, but in the context's compute dtype: for GEMM weights.
Tensor load_matrix(const LoadContext& ctx, const std::string& name, const Shape& expected);
// As load_tensor, but nothing when the weights lack the tensor.
std::optional<Tensor> load_optional(const LoadContext& ctx, const std::string& name, const Shape& expected);
bool has_tensor(const LoadContext& ctx, const std::string& name);

inline std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace paradit
