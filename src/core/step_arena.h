// The workspace of a repeated step: one host block, planned from the step's own allocations.
//
// A denoising step asks for the same tensors in the same order every time. The first step
// under an arena is its sizing run: its tensors come from the heap while the arena notes each
// allocation's size and lifetime. At the end of that step the arena places every tensor that
// died inside the step at a fixed offset (largest first, at the lowest offset free for its whole
// lifetime) and allocates one block of the placement's size. From then on each allocation of a
// step is served at its planned offset: no heap call inside a step.
//
// Safety: a replayed allocation is served from the block only if its size is the planned one
// and every tensor planned at overlapping bytes earlier in the step has been freed; otherwise
// it, and the rest of the step, come from the heap, and the next step records a new plan.
// Tensors that outlived the sizing step (the step's result, a kept copy) are planned on the
// heap. A tensor of the block still alive when the next step starts makes that step record a
// new plan in a new block; the old block lives until its last tensor dies.
//
// Host tensors only, allocated on the thread that opened the Step (kernel worker threads use
// the heap). The GPU's step has the same property from its captured graph's private pool.
// PARADIT_ARENA=0 turns every arena off (the heap serves everything, as before).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace paradit {

struct ArenaStats {
  size_t block_bytes = 0;  // the current plan's block
  size_t planned = 0;      // allocations in the current plan (block and heap)
  size_t served = 0;       // allocations served from a block, over the arena's life
  size_t heap = 0;         // allocations inside steps served by the heap (sizing runs included)
  size_t recordings = 0;   // sizing runs (the first step, and one after each divergence)
  size_t diverged = 0;     // replayed steps that fell back to the heap part of the way
};

// "step workspace: 135.7 MiB, 2188 tensors from it, ..." (empty before any step ran).
std::string describe(const ArenaStats& stats);

class StepArena {
 public:
  StepArena();
  ~StepArena();
  StepArena(const StepArena&) = delete;
  StepArena& operator=(const StepArena&) = delete;

  // One step: while it lives, host tensors this thread allocates come from the arena. Steps
  // do not nest; a null arena (or PARADIT_ARENA=0) makes a Step that does nothing.
  class Step {
   public:
    explicit Step(StepArena* arena);
    ~Step();
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;

   private:
    StepArena* arena_ = nullptr;
  };

  ArenaStats stats() const;
  static bool enabled();  // PARADIT_ARENA is not "0"

  struct State;

 private:
  void begin();
  void end();
  std::shared_ptr<State> state_;
  ArenaStats totals_;  // over replaced states
};

// Used by Tensor::empty: the arena open on this thread, if any, serves `bytes` and returns the
// owner that gives them back (data in *data); null owner when no arena is open.
std::shared_ptr<const void> arena_allocate(size_t bytes, void** data);

}  // namespace paradit
