#include "pipelines/schedulers/flow_match_euler.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"
#include "ops/ops.h"

namespace paradit {

FlowMatchEulerScheduler::FlowMatchEulerScheduler(int num_train_timesteps, double shift)
    : num_train_timesteps_(num_train_timesteps), shift_(shift) {
  PD_CHECK(num_train_timesteps > 0, "scheduler: num_train_timesteps must be positive");
  PD_CHECK(shift > 0 && std::isfinite(shift), "scheduler: shift must be a positive number");
}

FlowMatchEulerScheduler FlowMatchEulerScheduler::from_json_file(const std::string& path) try {
  const auto j = read_json_file(path);
  for (const char* flag : {"invert_sigmas", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                           "stochastic_sampling"})
    PD_CHECK(!j.value(flag, false), path, ": '", flag, "' is not supported (SD3 and FLUX.1 do not use it)");
  PD_CHECK(!j.contains("shift_terminal") || j["shift_terminal"].is_null(), path, ": 'shift_terminal' is not supported");
  FlowMatchEulerScheduler s(j.value("num_train_timesteps", 1000), j.value("shift", 1.0));
  s.dynamic_ = j.value("use_dynamic_shifting", false);
  const std::string type = j.value("time_shift_type", std::string("exponential"));
  PD_CHECK(type == "exponential" || type == "linear", path, ": unknown time_shift_type '", type, "'");
  s.exponential_ = type == "exponential";
  s.base_shift_ = j.value("base_shift", 0.5);
  s.max_shift_ = j.value("max_shift", 1.15);
  s.base_seq_len_ = j.value("base_image_seq_len", int64_t{256});
  s.max_seq_len_ = j.value("max_image_seq_len", int64_t{4096});
  PD_CHECK(std::isfinite(s.base_shift_) && std::isfinite(s.max_shift_) && s.max_seq_len_ != s.base_seq_len_, path,
           ": base/max shift must be finite and base/max image sequence lengths differ");
  return s;
} catch (const nlohmann::json::exception& e) {
  json_type_error(path, e);
}

FlowMatchSchedule FlowMatchEulerScheduler::schedule(int steps) const {
  PD_CHECK(steps >= 1, "scheduler: steps must be at least 1");
  PD_CHECK(!dynamic_, "scheduler: this config shifts by image size (use_dynamic_shifting): a FLUX schedule");
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

double FlowMatchEulerScheduler::mu(int64_t image_seq_len) const {
  // Python floats: double throughout.
  const double m = (max_shift_ - base_shift_) / static_cast<double>(max_seq_len_ - base_seq_len_);
  const double b = base_shift_ - m * static_cast<double>(base_seq_len_);
  return static_cast<double>(image_seq_len) * m + b;
}

FlowMatchSchedule FlowMatchEulerScheduler::flux_schedule(int steps, int64_t image_seq_len) const {
  PD_CHECK(steps >= 1, "scheduler: steps must be at least 1");
  PD_CHECK(image_seq_len >= 1, "scheduler: empty image");
  // FluxPipeline: np.linspace(1.0, 1 / N, N) in float64, then set_timesteps takes them as float32.
  const double start = 1.0, stop = 1.0 / steps, step = steps > 1 ? (stop - start) / (steps - 1) : 0.0;
  const float n = static_cast<float>(num_train_timesteps_);
  FlowMatchSchedule out;
  // NumPy float32 arrays with Python float scalars stay float32 (the scalars are rounded first).
  const float e = static_cast<float>(std::exp(mu(image_seq_len)));
  const float m = static_cast<float>(mu(image_seq_len));
  const float shift = static_cast<float>(shift_), shift_minus_1 = static_cast<float>(shift_ - 1.0);
  for (int i = 0; i < steps; ++i) {
    const float t = static_cast<float>((steps > 1 && i == steps - 1) ? stop : i * step + start);
    float sigma;
    if (dynamic_) sigma = exponential_ ? e / (e + (1.f / t - 1.f)) : m / (m + (1.f / t - 1.f));
    else sigma = shift * t / (1.f + shift_minus_1 * t);
    out.sigmas.push_back(sigma);
    out.timesteps.push_back(sigma * n);
  }
  out.sigmas.push_back(0.f);
  return out;
}

void FlowMatchEulerScheduler::step(Tensor& latents, const Tensor& velocity, float sigma, float sigma_next) {
  ops::euler_step(latents, velocity, sigma, sigma_next);
}

}  // namespace paradit
