// The step workspace (core/step_arena.h): the first step sizes it, later steps take every
// tensor that dies inside the step from one block at planned offsets, the values are those of
// the heap, and whatever leaves the plan (other sizes, a tensor kept past its planned life, a
// block tensor alive into the next step) falls back to the heap without corrupting anything.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/step_arena.h"
#include "core/tensor.h"

namespace paradit {
namespace {

Tensor filled(int64_t n, float v) {
  Tensor t = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = v + static_cast<float>(i % 7);
  return t;
}

float sum(const Tensor& t) {
  float s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t.data<float>()[i];
  return s;
}

// A step of temporaries with overlapping lifetimes; returns a result that outlives the step.
// `grow` changes one size (a step that leaves the plan); `keep`, when given, receives a
// temporary that the plan expected to die inside the step.
Tensor step(float x, int64_t grow = 0, Tensor* keep = nullptr) {
  Tensor a = filled(1000, x);
  Tensor b = filled(5000 + grow, x + 1);
  float acc = sum(a) + sum(b);
  {
    Tensor c = filled(3000, acc * 1e-4f);
    acc += sum(c);
    if (keep) *keep = c;
  }
  a = Tensor();  // a dies before d is born: d may take its bytes
  Tensor d = filled(800, acc * 1e-5f);
  Tensor e = filled(2000, sum(d) * 1e-3f);
  Tensor out = filled(16, sum(e) + sum(b));
  return out;
}

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

TEST(StepArena, LaterStepsComeFromThePlannedBlockWithTheHeapsValues) {
  if (!StepArena::enabled()) GTEST_SKIP() << "PARADIT_ARENA=0";
  StepArena arena;
  for (int i = 0; i < 4; ++i) {
    Tensor result;
    {
      StepArena::Step s(&arena);
      result = step(static_cast<float>(i));
    }
    EXPECT_EQ(values(result), values(step(static_cast<float>(i)))) << "step " << i;
  }
  const ArenaStats st = arena.stats();
  EXPECT_EQ(st.recordings, 1u);
  EXPECT_EQ(st.diverged, 0u);
  EXPECT_EQ(st.planned, 6u);           // a, b, c, d, e, out
  EXPECT_EQ(st.served, 3u * 5u);       // every temporary of the three replayed steps
  EXPECT_EQ(st.heap, 6u + 3u * 1u);    // the sizing run, then only the result of each step
  // The placement shares bytes between lifetimes that do not overlap: at most a, b and c are
  // alive together (9000 floats), far less than the 11800 floats of all five temporaries.
  EXPECT_GE(st.block_bytes, (1000u + 5000u + 3000u) * 4u);
  EXPECT_LT(st.block_bytes, (1000u + 5000u + 3000u + 800u + 2000u) * 4u);
}

TEST(StepArena, AStepThatLeavesThePlanFallsBackAndTheNextOneRecordsAgain) {
  if (!StepArena::enabled()) GTEST_SKIP() << "PARADIT_ARENA=0";
  StepArena arena;
  for (int i = 0; i < 5; ++i) {
    const int64_t grow = i == 2 ? 64 : 0;
    Tensor result;
    {
      StepArena::Step s(&arena);
      result = step(1.f, grow);
    }
    EXPECT_EQ(values(result), values(step(1.f, grow))) << "step " << i;
  }
  const ArenaStats st = arena.stats();
  EXPECT_EQ(st.diverged, 1u);
  EXPECT_EQ(st.recordings, 2u);  // the first step and the one after the divergence
}

TEST(StepArena, ATemporaryKeptPastItsPlannedLifeIsNeverOverwritten) {
  if (!StepArena::enabled()) GTEST_SKIP() << "PARADIT_ARENA=0";
  StepArena arena;
  {
    StepArena::Step s(&arena);
    step(0.f);
  }
  Tensor kept;
  Tensor result;
  {
    StepArena::Step s(&arena);
    result = step(2.f, 0, &kept);  // c stays alive: d and e, planned over it, must not land there
  }
  const std::vector<float> before = values(kept);
  Tensor reference_c;
  step(2.f, 0, &reference_c);
  EXPECT_EQ(before, values(reference_c));
  EXPECT_EQ(values(result), values(step(2.f)));
  // The next step must not reuse the block while `kept` lives in it.
  {
    StepArena::Step s(&arena);
    result = step(3.f);
  }
  EXPECT_EQ(values(kept), before);
  EXPECT_EQ(values(result), values(step(3.f)));
  EXPECT_GE(arena.stats().recordings, 2u);
}

TEST(StepArena, StepsDoNotNestAndANullArenaDoesNothing) {
  StepArena arena;
  StepArena::Step none(nullptr);
  if (!StepArena::enabled()) GTEST_SKIP() << "PARADIT_ARENA=0";
  StepArena::Step outer(&arena);
  StepArena inner_arena;
  EXPECT_THROW(StepArena::Step inner(&inner_arena), Error);
}

}  // namespace
}  // namespace paradit
