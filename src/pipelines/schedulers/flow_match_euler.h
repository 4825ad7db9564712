// diffusers' FlowMatchEulerDiscreteScheduler as SD3 configures it (1000 train timesteps,
// shift 3.0, no dynamic shifting): the timestep and sigma tables for any step count, computed
// with the same float32/float64 arithmetic so they match diffusers exactly, and the Euler step.
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

  FlowMatchSchedule schedule(int num_inference_steps) const;
  // latents <- latents + (sigma_next - sigma) * velocity, in float32.
  static void step(Tensor& latents, const Tensor& velocity, float sigma, float sigma_next);

  double shift() const { return shift_; }

 private:
  int num_train_timesteps_ = 1000;
  double shift_ = 3.0;
};

}  // namespace paradit
