// What every layer needs to load itself: where the weights come from, the dtype its matrix
// products run in, and checked fetches, so a wrong or mismatched checkpoint fails with the
// tensor's name instead of computing garbage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/weight_source.h"
#include "parallel/groups.h"

namespace paradit {

struct LoadContext {
  // The weights by diffusers name; null with `random_seed` set builds random weights of the
  // expected shapes instead (benchmarks of real-shaped models without the files).
  const WeightSource* weights = nullptr;
  // The dtype of linear-layer weights and so of the GEMMs (f32: the reference; bf16: the fast
  // path, f32 accumulation). Everything else (norms, biases, convs, tables) is kept in f32.
  DType compute = DType::F32;
  std::optional<uint64_t> random_seed;
  // Set for a multi-rank run: the layers that split their weights (attention heads, the
  // feed-forward's inner dimension, adaLN's outputs) load only this rank's part and
  // communicate through these groups. Null or single-rank: the plain layers.
  ParallelGroups* parallel = nullptr;
  // Linear layers keep bf16 weights in the GEMM's fastest layout (ops::GemmWeight::pack).
  // Cleared while loading parts that are stacked into one weight first (the fused q/k/v).
  bool pack_weights = true;
  // Set: nothing is read; every tensor the model asks for is appended here (name, full shape)
  // and comes back uninitialised. Writers of real-shaped random checkpoints use it.
  std::vector<std::pair<std::string, Shape>>* record = nullptr;
  // Where the weights live: every tensor is uploaded there once, at load, after the dtype
  // conversion (the GPU receives the compute dtype, never f32 copies of bf16 matrices).
  Device device = Device::CPU;
};

// The values random-weight models use (and random checkpoints hold): deterministic per name,
// made on `device` with the same bits as on the CPU.
Tensor random_tensor(uint64_t seed, const std::string& name, const Shape& shape, DType dtype,
                     Device device = Device::CPU);

// A part of a weight along one dimension: indices [begin, end), zero-padded to `padded` so
// every rank's part has the same shape (SD3.5 Large's 38 heads over tp=4 become 4 x 10).
struct Shard {
  int dim = 0;
  int64_t begin = 0, end = 0, padded = 0;
};

// True when `ctx` describes a run of more than one rank.
inline bool is_parallel(const LoadContext& ctx) { return ctx.parallel && !ctx.parallel->trivial(); }

// Fetches `name` as f32, checking its shape is `expected`.
Tensor load_tensor(const LoadContext& ctx, const std::string& name, const Shape& expected);
// As load_tensor, but in the context's compute dtype: for GEMM weights.
Tensor load_matrix(const LoadContext& ctx, const std::string& name, const Shape& expected);
// As load_tensor, but nothing when the weights lack the tensor.
std::optional<Tensor> load_optional(const LoadContext& ctx, const std::string& name, const Shape& expected);
bool has_tensor(const LoadContext& ctx, const std::string& name);
// load_tensor / load_matrix of one shard of the tensor (`expected` is the full shape).
Tensor load_tensor_shard(const LoadContext& ctx, const std::string& name, const Shape& expected, const Shard& shard);
Tensor load_matrix_shard(const LoadContext& ctx, const std::string& name, const Shape& expected, const Shard& shard);

inline std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace paradit
