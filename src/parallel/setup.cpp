#include "parallel/setup.h"

#include <cstdio>

#include "core/error.h"
#include "parallel/device_communicator.h"
#include "parallel/mpi_communicator.h"

namespace paradit {
namespace {
bool g_setup_done = false;
}

bool parallel_setup_done() { return g_setup_done; }

std::unique_ptr<ParallelGroups> setup_parallel(ParallelOptions& o, const StepShape& shape) {
  device_profile(o.profile);  // an unknown profile is an error even without a mesh
  std::unique_ptr<Communicator> world = mpi_world();
  if (o.mesh.empty()) {
    PD_CHECK(world->size() == 1, "launched with ", world->size(), " ranks but no --mesh (for example --mesh 1x",
             world->size(), ")");
    PD_CHECK(o.parallel.empty() || o.parallel == "auto", "--parallel needs --mesh");
    PD_CHECK(o.ulysses == 1, "--ulysses needs --mesh");
    g_setup_done = true;
    return ParallelGroups::create(std::move(world), Mesh{1, 1}, ParallelConfig{});
  }
  const Mesh mesh = parse_mesh(o.mesh);
  PD_CHECK(mesh.size() == world->size(), "--mesh ", mesh.str(), " has ", mesh.size(), " ranks but ", world->size(),
           world->size() == 1 ? " process is running (start it with mpirun -np " : " were launched (mpirun -np ",
           mesh.size(), ")");
  ParallelConfig config;
  if (o.parallel.empty() || o.parallel == "auto") {
    StepShape planned = shape;
    if (o.profile != "cpu") planned.bytes_per_activation = 2;  // accelerators keep bf16 activations
    config = choose_config(mesh, planned, device_profile(o.profile));
    o.chosen_automatically = true;
  } else {
    config = parse_parallel_config(o.parallel);
  }
  PD_CHECK(o.ulysses >= 1, "--ulysses must be at least 1");
  config.ulysses = o.ulysses;
  validate(config, mesh);  // before the device transport's collective: a bad config fails on every rank
  DeviceTransport transport;
  world = device_world(std::move(world), o.device, &transport);
  o.transport = transport.name;
  o.transport_reason = transport.reason;
  auto groups = ParallelGroups::create(std::move(world), mesh, config);
  groups->automatic = o.chosen_automatically;
  if (o.transport != "local") groups->transport = str_cat(o.transport, " (", o.transport_reason, ")");
  g_setup_done = true;
  return groups;
}

std::string comm_table(const CommStats& stats) {
  std::string out;
  char line[160];
  for (const auto& [name, s] : stats.by_name()) {
    std::snprintf(line, sizeof line, "comm %-16s %8lld calls %12.3f MB %10.3f s\n", name.c_str(),
                  static_cast<long long>(s.calls), s.bytes / 1e6, s.seconds);
    out += line;
  }
  return out;
}

}  // namespace paradit
