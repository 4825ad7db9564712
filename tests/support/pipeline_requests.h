// The generate requests the pipeline fixtures were made with (tools/fixtures writes each run's
// arguments into the fixture's config), shared by the CPU and GPU pipeline tests.
#pragma once

#include <string>

#include "pipelines/sd35/pipeline.h"
#include "support/fixture.h"

namespace paradit::test {

// pipeline/generate_io and the other SD3 pipeline fixtures.
GenerateRequest sd3_reference_request(const Fixture& f);
// pipeline/flux_pipeline_io and flux_schnell_pipeline_io; `run`: "dev", "true_cfg", "schnell".
GenerateRequest flux_reference_request(const Fixture& f, const std::string& run);
// A host run of `steps` steps took every step after the first from one workspace plan
// (core/step_arena.h), unless PARADIT_ARENA=0.
void expect_workspace_served(const GenerateResult& result, int steps);

}  // namespace paradit::test
