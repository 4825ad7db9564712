// The stream every paradit launch and copy on the GPU runs on: one non-blocking stream per
// process (created on first use, on the current device), never the legacy default stream, so
// that a whole step can be captured as a CUDA graph and NCCL's stream can be ordered after it
// with an event. Host reads (Tensor::to(Device::CPU)) synchronise this stream.
#pragma once

#include <cuda_runtime.h>

namespace paradit::cuda {

cudaStream_t stream();
// The two streams behind stream(): the main one, and a side one for work independent of the
// main stream's (DeviceMemory::fork/on_side/join order them with events). use_side_stream(true)
// points this thread's stream() at the side stream until use_side_stream(false).
cudaStream_t main_stream();
cudaStream_t side_stream();
void use_side_stream(bool on);
bool on_side_stream();
void synchronize();              // waits for everything queued on stream()
bool capturing();                // stream() is being captured into a graph
// Chooses the GPU of a process: local rank r of a node uses GPU r % device_count(), so ranks
// sharing a node spread over its GPUs (several ranks share a GPU when there are fewer GPUs).
// Call before the first allocation; every thread binds to it when it first asks for stream().
// Returns the device chosen.
int select_device_for_local_rank(int local_rank);

}  // namespace paradit::cuda
