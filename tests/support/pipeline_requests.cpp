#include "support/pipeline_requests.h"

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

}  // namespace paradit::test
