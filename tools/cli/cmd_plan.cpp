// `paradit plan`: what `--parallel auto` would choose on a mesh, with the cost model's figures
// for every valid config (docs/parallel.md explains the model).
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "models/mmdit/config.h"
#include "parallel_options.h"

namespace paradit::cli {

int run_plan(int argc, char** argv) {
  const Args args(argc, argv, 2, {});
  args.allow_only({"mesh", "config", "size", "prompt-tokens", "batch", "profile", "parallel", "ulysses"});
  const Mesh mesh = parse_mesh(args.require("mesh"));
  const MMDiTConfig config = MMDiTConfig::preset(args.get("config", "sd3.5-large"));
  const int size = args.get_int("size", 1024);
  PD_CHECK(size > 0 && size % 16 == 0, "--size must be a positive multiple of 16");
  StepShape shape = mmdit_step_shape(config, size / 8, size / 8, args.get_int("prompt-tokens", 333), args.get_int("batch", 2));
  const std::string profile_name = args.get("profile", "cpu");
  const DeviceProfile device = device_profile(profile_name);
  if (profile_name != "cpu") shape.bytes_per_activation = 2;  // bf16 activations on accelerators
  std::vector<PlanCost> plans;
  if (args.has("parallel")) {  // one given config, for example to see a Ulysses degree's cost
    ParallelConfig c = parse_parallel_config(args.get("parallel"));
    c.ulysses = args.get_int("ulysses", 1);
    validate(c, mesh);
    plans.push_back(estimate(c, shape, device));
  } else {
    plans = rank_configs(mesh, shape, device);
  }
  std::printf("mesh %s, %s at %dx%d, batch %lld, profile %s (%.0f TFLOP/s, links %.0f/%.0f GB/s on axis 0/1, %.0f GB)\n",
              mesh.str().c_str(), args.get("config", "sd3.5-large").c_str(), size, size,
              static_cast<long long>(shape.batch), profile_name.c_str(), device.flops / 1e12,
              device.link_bytes_per_s[0] / 1e9, device.link_bytes_per_s[1] / 1e9, device.memory_bytes / 1e9);
  std::printf("%-24s %10s %10s %12s %10s %5s\n", "config", "step ms", "comm ms", "MB sent", "GB/rank", "fits");
  for (const auto& p : plans)
    std::printf("%-24s %10.1f %10.1f %12.1f %10.2f %5s\n", p.config.str().c_str(), p.total_s() * 1e3, p.comm_s * 1e3,
                p.comm_bytes / 1e6, p.memory_bytes / 1e9, p.fits ? "yes" : "no");
  if (!plans.empty() && !args.has("parallel")) std::printf("auto: %s\n", plans.front().config.str().c_str());
  return 0;
}

}  // namespace paradit::cli
