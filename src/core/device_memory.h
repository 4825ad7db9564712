// Memory on each device behind one interface, so a tensor allocates and moves the same way on
// every device: the host allocator serves the CPU; the CUDA backend registers the GPU's when
// the build has it. A device with nothing registered fails with one line naming it.
#pragma once

#include <cstddef>
#include <vector>

#include "core/tensor.h"

namespace paradit {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // Never returns null: throws Error (out of memory, no device) instead.
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* p, size_t bytes) = 0;
  virtual void zero(void* p, size_t bytes) = 0;
  // Between this device and the host, and within this device.
  virtual void copy_from_host(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy_within(void* dst, const void* src, size_t bytes) = 0;
  // Within this device: every element of `shape` read at `src_strides` (elements) from `src`,
  // converted from `src_dtype` and written at `dst_strides` into `dst` as `dst_dtype`. Strided
  // views, dtype conversions, permutes, concats and broadcasts (a stride of 0) are all this.
  // The host does it in core; a device without it fails naming the copy.
  virtual void copy_strided(const Shape& shape, const Shape& src_strides, const void* src, DType src_dtype,
                            const Shape& dst_strides, void* dst, DType dst_dtype);
  // Waits until everything queued on this device has run (timings; the host is synchronous).
  virtual void synchronize() {}
  // The native stream the device's ops are queued on (a cudaStream_t for CUDA), so that a
  // communicator can order its own stream after it; null on the host.
  virtual void* native_stream() { return nullptr; }
  // Timing marks (core/op_profile.h): mark() notes where this device's queue stands now;
  // elapsed_ms() is the time between two marks, waiting until both have passed. The host's
  // marks are clock reads; a GPU's are events recorded on its stream.
  virtual size_t mark();
  virtual double elapsed_ms(size_t from, size_t to);
  virtual void clear_marks() { host_marks_.clear(); }
  // Two queues for independent work (a block's prompt-stream GEMMs beside its image-stream
  // ones): fork() starts the side queue after everything queued so far; on_side(true) sends
  // this thread's work to it, on_side(false) back to the main queue; join() makes the main
  // queue wait for the side's work. Memory released between fork and join returns to use only
  // after the join. The host runs everything in order and ignores all three.
  virtual void fork() {}
  virtual void on_side(bool) {}
  virtual void join() {}

 private:
  std::vector<double> host_marks_;
};

// The side queue around a region (DeviceMemory::fork): run() queues its work on the side
// queue, everything else stays on the main one, and the destructor (or join()) joins. Off
// unless PARADIT_TWO_STREAMS=1 and the device has queues; then run() just runs.
class SideQueue {
 public:
  explicit SideQueue(Device device);
  ~SideQueue() { join(); }
  SideQueue(const SideQueue&) = delete;
  SideQueue& operator=(const SideQueue&) = delete;
  template <typename F>
  void run(F&& work) {
    if (!memory_) return work();
    memory_->on_side(true);
    try {
      work();
    } catch (...) {
      memory_->on_side(false);
      throw;
    }
    memory_->on_side(false);
  }
  void join() {
    if (memory_) memory_->join();
    memory_ = nullptr;
  }

 private:
  DeviceMemory* memory_ = nullptr;
};

// `memory` must outlive every tensor on `device` (backends register a static instance).
void register_device_memory(Device device, DeviceMemory* memory);
DeviceMemory& device_memory(Device device);
bool has_device_memory(Device device);

}  // namespace paradit
