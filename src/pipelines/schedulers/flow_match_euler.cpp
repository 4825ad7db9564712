#include "pipelines/schedulers/flow_match_euler.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace paradit {

FlowMatchEulerScheduler::FlowMatchEulerScheduler(int num_train_timesteps, double shift)
    : num_train_timesteps_(num_train_timesteps), shift_(shift) {
  PD_CHECK(num_train_timesteps > 0, "scheduler: num_train_timesteps must be positive");
  PD_CHECK(shift > 0 && std::isfinite(shift), "scheduler: shift must be a positive number");
}

FlowMatchEulerScheduler FlowMatchEulerScheduler::from_json_file(const std::string& path) try {
  const auto j = read_json_file(path);
  for (const char* flag : {"use_dynamic_shifting", "invert_sigmas", "use_karras_sigmas", "use_exponential_sigmas",
                           "use_beta_sigmas", "stochastic_sampling"})
    PD_CHECK(!j.value(flag, false), path, ": '", flag, "' is not supported (SD3 does not use it)");
  PD_CHECK(!j.contains("shift_terminal") || j["shift_terminal"].is_null(), path, ": 'shift_terminal' is not supported");
  return FlowMatchEulerScheduler(j.value("num_train_timesteps", 1000), j.value("shift", 1.0));
} catch (const nlohmann::json::exception& e) {
  json_type_error(path, e);
}

FlowMatchSchedule FlowMatchEulerScheduler::schedule(int steps) const {
  PD_CHECK(steps >= 1, "scheduler: steps must be at least 1");
  const float n = static_cast<float>(num_train_timesteps_);
  const float shift = static_cast<float>(shift_), shift_minus_1 = static_cast<float>(shift_ - 1.0);
  auto shifted = [&](float s) { return shift * s / (1.f + shift_minus_1 * s); };  // float32, as torch in __init__
  // __init__: the training sigmas run from shifted(1) down to shifted(1/N), in float32.
  const double sigma_max = shifted(n / n);
  const double sigma_min = shifted(1.f / n);
  // set_timesteps: np.linspace in float64 between the two in timestep units, shifted again in
  // float64, and only then rounded to float32.
  const double start = sigma_max * num_train_timesteps_, stop = sigma_min * num_train_timesteps_;
  FlowMatchSchedule out;
  const double step = steps > 1 ? (stop - start) / (steps - 1) : 0.0;
  for (int i = 0; i < steps; ++i) {
    const double t = (steps > 1 && i == steps - 1) ? stop : i * step + start;
    const double s = t / num_train_timesteps_;
    const float sigma = static_cast<float>(shift_ * s / (1 + (shift_ - 1) * s));
    out.sigmas.push_back(sigma);
    out.timesteps.push_back(sigma * n);
  }
  out.sigmas.push_back(0.f);
  return out;
}

void FlowMatchEulerScheduler::step(Tensor& latents, const Tensor& velocity, float sigma, float sigma_next) {
  PD_CHECK(latents.dtype() == DType::F32 && velocity.dtype() == DType::F32 && latents.shape() == velocity.shape(),
           "scheduler step: latents ", latents.describe(), " and velocity ", velocity.describe(), " differ");
  const float dt = sigma_next - sigma;
  float* x = latents.data<float>();
  const float* v = velocity.data<float>();
  for (int64_t i = 0; i < latents.numel(); ++i) x[i] = x[i] + dt * v[i];
}

}  // namespace paradit
