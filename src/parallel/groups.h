// One rank's view of the parallel run: the mesh, the config, where this rank sits, and a
// communicator for each group it belongs to (split from the world once, at start-up).
#pragma once

#include <memory>
#include <string>

#include "parallel/communicator.h"
#include "parallel/mesh.h"

namespace paradit {

struct ParallelGroups {
  Mesh mesh;
  ParallelConfig config;
  RankCoords coords;
  bool automatic = false;  // `--parallel auto` chose the config
  std::string transport;   // how GPU tensors travel between ranks, with why; empty on the CPU
  std::unique_ptr<Communicator> world;
  std::unique_ptr<Communicator> cfg;      // same sp and tp position, one rank per CFG branch
  std::unique_ptr<Communicator> sp;       // the sequence-parallel group
  std::unique_ptr<Communicator> tp;       // the tensor-parallel group
  std::unique_ptr<Communicator> ring;     // inside sp: ranks with the same Ulysses slot
  std::unique_ptr<Communicator> ulysses;  // inside sp: ranks with the same ring slot

  // Validates the config against the mesh and the mesh against the world, then splits.
  static std::unique_ptr<ParallelGroups> create(std::unique_ptr<Communicator> world, const Mesh& mesh,
                                                const ParallelConfig& config);
  // One rank, nothing split: the single-device run.
  static std::unique_ptr<ParallelGroups> single();
  // One shared instance of single(), for layers and models that hold no groups: their one
  // forward runs with it (every collective of a one-rank group is the identity).
  static ParallelGroups& one_rank();

  int rank() const { return world->rank(); }
  bool is_root() const { return world->rank() == 0; }
  bool trivial() const { return world->size() == 1; }
  CommStats& stats() { return world->stats(); }
  // "mesh 2x4, parallel ((2,1),(2,0),(2,1)) (auto), 8 ranks"
  std::string describe() const;
};

}  // namespace paradit
