#include "parallel_options.h"

#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "parallel/mpi_communicator.h"

namespace paradit::cli {

void set_comm_timeout_option(const Args& args) {
  if (!args.has("comm-timeout")) return;
  const std::string v = args.get("comm-timeout");
  char* end = nullptr;
  const double s = std::strtod(v.c_str(), &end);
  // Finite and at most a week: 'inf' or 'nan' would turn the hang guard off.
  PD_CHECK(!v.empty() && *end == '\0' && std::isfinite(s) && s > 0 && s <= 7 * 86400,
           "--comm-timeout needs a positive number of seconds (at most 604800), got '", v, "'");
  set_comm_timeout(s);
}

std::string parallel_option(const Args& args) {
  PD_CHECK(!args.has("parallel") || !args.get("parallel").empty(),
           "--parallel is empty: give a tuple \"((cfg,axis),(sp,axis),(tp,axis))\" or auto");
  return args.get("parallel", "auto");
}

std::unique_ptr<ParallelGroups> parallel_groups(const Args& args, const StepShape& shape, Device device) {
  set_comm_timeout_option(args);
  ParallelOptions o;
  o.mesh = args.get("mesh");
  o.parallel = parallel_option(args);
  o.ulysses = args.get_int("ulysses", 1);
  o.profile = args.get("profile", "cpu");
  o.device = device;
  auto groups = setup_parallel(o, shape);
  if (o.chosen_automatically && groups->is_root())
    std::fprintf(stderr, "parallel: auto chose %s on mesh %s\n", groups->config.str().c_str(),
                 groups->mesh.str().c_str());
  if (!groups->transport.empty() && groups->is_root())
    std::fprintf(stderr, "parallel: GPU collectives %s\n", groups->transport.c_str());
  return groups;
}


}  // namespace paradit::cli
