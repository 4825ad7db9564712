// diffusers' FlowMatchEulerDiscreteScheduler as SD3 configures it (1000 train timesteps,
// shift 3.0, no dynamic shifting) and as FLUX.1 does (FluxPipeline's sigmas linspace(1, 1/N, N),
// shifted by mu from the image sequence length when the config has use_dynamic_shifting): the
// timestep and sigma tables, computed with the same float32/float64 arithmetic so they match
// diffusers exactly, and the Euler step.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace paradit {

struct FlowMatchSchedule {
  std::vector<float> timesteps;  // N values, what the transformer is given
  std::vector<float> sigmas;     // N + 1 values, ending in 0
};

class FlowMatchEulerScheduler {
 public:
  FlowMatchEulerScheduler() = default;
  FlowMatchEulerScheduler(int num_train_timesteps, double shift);
  // scheduler/scheduler_config.json of a diffusers pipeline; unsupported options are errors.
  static FlowMatchEulerScheduler from_json_file(const std::string& path);

  // SD3's tables (StableDiffusion3Pipeline: the scheduler's own timesteps).
  FlowMatchSchedule schedule(int num_inference_steps) const;
  // FluxPipeline's tables for an image of `image_seq_len` packed latent tokens.
  FlowMatchSchedule flux_schedule(int num_inference_steps, int64_t image_seq_len) const;
  // FluxPipeline's calculate_shift with this config's base/max shift and sequence lengths.
  double mu(int64_t image_seq_len) const;
  bool dynamic_shifting() const { return dynamic_; }
  // latents <- latents + (sigma_next - sigma) * velocity, in float32.
  static void step(Tensor& latents, const Tensor& velocity, float sigma, float sigma_next);

  double shift() const { return shift_; }

 private:
  int num_train_timesteps_ = 1000;
  double shift_ = 3.0;
  bool dynamic_ = false;
  bool exponential_ = true;  // time_shift_type: exponential (FLUX.1) or linear
  double base_shift_ = 0.5, max_shift_ = 1.15;
  int64_t base_seq_len_ = 256, max_seq_len_ = 4096;
};

}  // namespace paradit
