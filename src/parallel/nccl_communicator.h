// Communicator over NCCL for tensors in GPU memory (Tensor::borrow(..., Device::CUDA)). The
// ranks are launched and bootstrapped by MPI: rank 0 makes the NCCL id and the MPI world
// broadcasts it, as TensorRT-LLM does. Every call waits for its stream against the same
// deadline as the MPI path and aborts the communicator (and the job) when a peer is gone.
// Built only with the CUDA backend.
#pragma once

#include <memory>

#include "parallel/communicator.h"

namespace paradit {

// Forms an NCCL communicator over the ranks of `bootstrap` (an MPI communicator, or the group
// of one), on the current CUDA device.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap);

}  // namespace paradit
