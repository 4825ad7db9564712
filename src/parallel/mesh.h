// The logical device mesh and the seed's parallel config tuple
// ((cfg_factor, cfg_axis), (sp_factor, sp_axis), (tp_factor, tp_axis)).
//
// Rank r sits at (row, col) = (r / cols, r % cols). Each factor lives on one mesh axis; on an
// axis that holds several factors they nest with cfg outermost and tp innermost, so a tp group
// is always the closest ranks (the fastest links on a real machine). Every axis must be used
// exactly: the product of the factors on an axis equals that axis's size.
#pragma once

#include <array>
#include <string>

namespace paradit {

struct Mesh {
  int rows = 1, cols = 1;
  int size() const { return rows * cols; }
  int axis_size(int axis) const { return axis == 0 ? rows : cols; }
  std::string str() const;  // "2x4"
};

// "RxC" (also "R,C"); a clear error for anything else.
Mesh parse_mesh(const std::string& text);

struct ParallelConfig {
  struct Axis {
    int factor = 1, axis = 0;
  };
  Axis cfg, sp, tp;
  // Inside the sp group: how many ranks trade heads for sequence by all-to-all (Ulysses); the
  // rest of the group runs ring attention. 1: pure ring; sp: pure Ulysses; between: USP.
  int ulysses = 1;
  int world() const { return cfg.factor * sp.factor * tp.factor; }
  int ring() const { return sp.factor / ulysses; }
  std::string str() const;  // "((2,1),(2,0),(2,1))", plus " ulysses=U" when U > 1
};

// Parses the seed's tuple; whitespace is free, the brackets and commas are not.
ParallelConfig parse_parallel_config(const std::string& text);

// Throws a message naming the rule that fails: factors positive, axes 0 or 1, cfg 1 or 2
// (there are two CFG branches), each factor dividing its axis, the factors on each axis
// multiplying to its size, and the Ulysses degree dividing sp.
void validate(const ParallelConfig& config, const Mesh& mesh);

// Where a rank sits in each group.
struct RankCoords {
  int cfg = 0, sp = 0, tp = 0;
  int ring = 0, ulysses = 0;  // sp = ring * ulysses_degree + ulysses
};
RankCoords rank_coords(const ParallelConfig& config, const Mesh& mesh, int rank);

}  // namespace paradit
