#include "support/pipeline_requests.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "core/step_arena.h"

namespace paradit::test {

GenerateRequest sd3_reference_request(const Fixture& f) {
  const auto& c = f.config();
  GenerateRequest r;
  r.prompt = c["prompt"];
  r.negative_prompt = c["negative_prompt"];
  r.width = c["width"];
  r.height = c["height"];
  r.steps = c["num_inference_steps"];
  r.guidance = c["guidance_scale"];
  r.seed = c["seed"];
  r.max_sequence_length = c["max_sequence_length"];
  return r;
}

GenerateRequest flux_reference_request(const Fixture& f, const std::string& run) {
  const auto& c = f.config();
  const auto& kw = c[run];
  GenerateRequest r;
  r.prompt = kw["prompt"];
  if (kw.contains("negative_prompt")) r.negative_prompt = kw["negative_prompt"];
  if (kw.contains("true_cfg_scale")) r.true_cfg = kw["true_cfg_scale"];
  r.guidance = kw["guidance_scale"];
  r.width = c["width"];
  r.height = c["height"];
  r.steps = c["steps"];
  r.seed = c["seed"];
  r.max_sequence_length = c["max_sequence_length"];
  return r;
}

void expect_workspace_served(const GenerateResult& result, int steps) {
  std::printf("  [workspace] %s\n", describe(result.workspace).c_str());
  if (!StepArena::enabled()) return;
  const ArenaStats& w = result.workspace;
  EXPECT_EQ(w.recordings, 1u) << "one sizing step";
  EXPECT_EQ(w.diverged, 0u) << "no step left the plan";
  EXPECT_GT(w.block_bytes, 0u);
  // Every step asked for the same tensors; the later ones took the planned ones from the block.
  EXPECT_EQ(w.served + w.heap, static_cast<size_t>(steps) * w.planned) << describe(w);
  if (steps > 1) {
    EXPECT_GT(w.served, 0u) << describe(w);
  }
}

}  // namespace paradit::test
