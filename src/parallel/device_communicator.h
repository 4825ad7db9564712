// The collectives of a run whose tensors live on a GPU. One communicator per group carries
// both kinds of traffic: host tensors (requests, cancels, the NCCL id) always go through the
// host communicator (MPI); device tensors go through the device's own library (NCCL) when every
// rank of the world has a GPU of its own, and otherwise are staged through host memory and MPI
// (ranks sharing one GPU: NCCL refuses two ranks on one device). PARADIT_COMM=staged forces the
// host path, PARADIT_COMM=nccl the device library.
#pragma once

#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace paradit {

// What a device's backend registers (the NCCL object, when the build has it): a communicator
// over the ranks of `bootstrap` on this process's current device, and a string naming that
// device uniquely across the machines of a run (host name and PCI bus id).
struct DeviceCollectives {
  std::unique_ptr<Communicator> (*make)(Communicator& bootstrap) = nullptr;
  std::string (*identity)() = nullptr;
};
void register_device_collectives(Device device, DeviceCollectives collectives);

// How device tensors travel between the ranks of `world` ("nccl", "staged", or "local" for a
// group of one or CPU tensors); decided collectively, the same on every rank.
struct DeviceTransport {
  std::string name = "local";
  std::string reason;  // why, for the log line
};

// Wraps the world for tensors on `device`. Groups split from the result keep its transport.
std::unique_ptr<Communicator> device_world(std::unique_ptr<Communicator> host_world, Device device,
                                           DeviceTransport* chosen = nullptr);

// The host-staged form over `host` (exposed for tests: any Communicator, any device).
std::unique_ptr<Communicator> staged_communicator(std::unique_ptr<Communicator> host,
                                                  std::unique_ptr<Communicator> device = nullptr);

}  // namespace paradit
