// What a DiT block's adaptive norms read. Each adaLN layer projects the time (and text)
// embedding: linear(silu(temb)), a [B, D] x [D, k*D] product whose weights (SD3.5 Large: 5.4 GB
// of bf16 over its blocks) are read again every step for a few rows. The projections of all
// the steps of an image depend only on the timesteps and the pooled prompt, so a pipeline makes
// them before the loop, one GEMM per layer over steps x batch rows, into a ModulationTable;
// each step then copies its slab into a buffer at a fixed address (which a captured CUDA graph
// reads) and the norms take their rows from it.
#pragma once

#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace paradit {

class ModulationTable {
 public:
  // While filling: `layer` made `projection` [steps * batch, width] (step-major rows).
  void add(const void* layer, const Tensor& projection);
  // Packs what was added into one [steps, total] tensor on the projections' device.
  void finish(int64_t steps, int64_t batch);
  bool ready() const { return steps_ > 0; }
  int64_t steps() const { return steps_; }
  // Copies step `step`'s projections into the fixed buffer (a copy on the device's queue).
  void select(int64_t step);
  // The selected step's projection of `layer`: [batch, width], a contiguous view.
  Tensor get(const void* layer) const;

 private:
  struct Slot {
    int64_t offset = 0, width = 0;
  };
  std::vector<std::pair<const void*, Tensor>> pending_;
  std::unordered_map<const void*, Slot> slots_;
  Tensor all_;      // [steps, total]
  Tensor current_;  // [total]
  int64_t steps_ = 0, batch_ = 0, selected_ = -1;
};

// The conditioning passed down a transformer's blocks: the embedding, and the table of
// precomputed projections when the caller made one (then the embedding is not read).
struct Conditioning {
  Conditioning(const Tensor& embedding) : temb(embedding) {}  // NOLINT: a plain embedding converts implicitly
  Conditioning(const Tensor& embedding, const ModulationTable* projections)
      : temb(embedding), table(projections) {}
  Tensor temb;
  const ModulationTable* table = nullptr;
};

}  // namespace paradit
