// From the command line's --mesh / --parallel / --ulysses to this rank's groups.
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"
#include "parallel/auto_config.h"
#include "parallel/groups.h"

namespace paradit {

struct ParallelOptions {
  std::string mesh;               // "RxC"; empty: one rank
  std::string parallel = "auto";  // the seed's tuple, or "auto"
  int ulysses = 1;                // Ulysses degree inside the sp group
  std::string profile = "cpu";    // the device profile `auto` costs configs with
  Device device = Device::CPU;    // where the activations live: a GPU's tensors may go through NCCL
  bool chosen_automatically = false;  // out: whether `auto` picked the config
  std::string transport = "local";    // out: how device tensors travel ("nccl", "staged", "local")
  std::string transport_reason;       // out: why
};

// Initialises MPI when launched by mpirun, checks the mesh against the world size and the
// config against the mesh (the same checks on every rank, so a bad config fails everywhere at
// once), and splits the groups. `shape` feeds `auto`.
std::unique_ptr<ParallelGroups> setup_parallel(ParallelOptions& options, const StepShape& shape);

// Whether the groups have been formed: errors before that are the same on every rank (so rank
// 0 alone reports them); errors after it may be one rank's own.
bool parallel_setup_done();

// "all_reduce  12 calls  3.1 MB  0.02 s" lines for --timings.
std::string comm_table(const CommStats& stats);

}  // namespace paradit
