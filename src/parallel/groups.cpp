#include "parallel/groups.h"

#include "core/error.h"

namespace paradit {

std::unique_ptr<ParallelGroups> ParallelGroups::create(std::unique_ptr<Communicator> world, const Mesh& mesh,
                                                       const ParallelConfig& config) {
  PD_CHECK(mesh.size() == world->size(), "--mesh ", mesh.str(), " has ", mesh.size(), " ranks but ", world->size(),
           " were launched (mpirun -np ", mesh.size(), ")");
  validate(config, mesh);
  auto g = std::make_unique<ParallelGroups>();
  g->mesh = mesh;
  g->config = config;
  g->coords = rank_coords(config, mesh, world->rank());
  const auto& c = g->coords;
  const int sp_n = config.sp.factor, tp_n = config.tp.factor;
  const int ring_n = config.ring(), uly_n = config.ulysses;
  g->tp = world->split(c.cfg * sp_n + c.sp, c.tp);
  g->sp = world->split(c.cfg * tp_n + c.tp, c.sp);
  g->cfg = world->split(c.sp * tp_n + c.tp, c.cfg);
  g->ring = world->split((c.cfg * tp_n + c.tp) * uly_n + c.ulysses, c.ring);
  g->ulysses = world->split((c.cfg * tp_n + c.tp) * ring_n + c.ring, c.ulysses);
  g->world = std::move(world);
  return g;
}

std::string ParallelGroups::describe() const {
  return str_cat("mesh ", mesh.str(), ", parallel ", config.str(), automatic ? " (auto)" : "", ", ", world->size(),
                 " ranks", transport.empty() ? "" : ", GPU collectives " + transport);
}

std::unique_ptr<ParallelGroups> ParallelGroups::single() {
  return create(std::make_unique<LocalCommunicator>(), Mesh{1, 1}, ParallelConfig{});
}

ParallelGroups& ParallelGroups::one_rank() {
  static ParallelGroups* groups = single().release();  // never destroyed: used until exit
  return *groups;
}

}  // namespace paradit
