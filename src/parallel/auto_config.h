// `--parallel auto`: choose the config for a mesh the way the seed's pipeline does, with a small
// cost model: per-rank compute (what each axis divides, and what it replicates: sp replicates
// the prompt stream, tp pads heads), plus the bytes each rank sends per step over the link
// bandwidth, subject to the weights and activations fitting in a rank's memory.
#pragma once

#include <string>
#include <vector>

#include "parallel/mesh.h"

namespace paradit {

// What one denoising step of the transformer moves and computes.
struct StepShape {
  int64_t layers = 38, dim = 2432, heads = 38, head_dim = 64;
  int64_t dual_layers = 0;         // MMDiT-X blocks (SD3.5 Medium): one more image attention
  int64_t image_tokens = 4096, prompt_tokens = 333;
  int64_t batch = 2;               // [uncond; cond]
  double weight_params = 8.1e9;    // of which almost all sit in the blocks
  double bytes_per_weight = 2, bytes_per_activation = 2;
  int64_t out_per_token = 64;      // patch^2 * out_channels: what the final gathers move
};

struct DeviceProfile {
  std::string name;
  double flops = 0;           // sustained dense matmul rate of one rank
  double link_bytes_per_s[2] = {0, 0};  // per rank, along mesh axis 0 and axis 1
  double memory_bytes = 0;    // usable by one rank
};
DeviceProfile device_profile(const std::string& name);  // "wormhole", "h100", "cpu"

struct PlanCost {
  ParallelConfig config;
  double compute_s = 0, comm_s = 0, memory_bytes = 0, comm_bytes = 0;
  bool fits = false;
  double total_s() const { return compute_s + comm_s; }
};

PlanCost estimate(const ParallelConfig& config, const StepShape& shape, const DeviceProfile& device);
// Every valid config on the mesh (Ulysses degree 1), best first: fitting ones by total time,
// ties broken towards tp on axis 1 (consecutive ranks: the closest links), then sp on axis 0.
std::vector<PlanCost> rank_configs(const Mesh& mesh, const StepShape& shape, const DeviceProfile& device);
ParallelConfig choose_config(const Mesh& mesh, const StepShape& shape, const DeviceProfile& device);

}  // namespace paradit
