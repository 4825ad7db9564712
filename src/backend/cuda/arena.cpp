#include "backend/cuda/arena.h"

#include <algorithm>
#include <utility>

#include "backend/cuda/cuda_check.h"

namespace paradit::cuda {

DeviceArena::DeviceArena(size_t bytes) : capacity_(bytes) {
  void* p = nullptr;
  PD_CUDA_CHECK(cudaMalloc(&p, bytes));
  base_ = static_cast<char*>(p);
}

DeviceArena::~DeviceArena() { cudaFree(base_); }

void* DeviceArena::allocate(size_t bytes) {
  const size_t start = (used_ + 255) / 256 * 256;
  PD_CHECK(start + bytes <= capacity_, "device arena: ", bytes, " bytes requested with ", capacity_ - used_,
           " of ", capacity_, " left");
  used_ = start + bytes;
  peak_ = std::max(peak_, used_);
  return base_ + start;
}

DeviceBuffer::DeviceBuffer(size_t bytes) : size_(bytes) { PD_CUDA_CHECK(cudaMalloc(&data_, bytes)); }

DeviceBuffer::~DeviceBuffer() {
  if (data_) cudaFree(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes) {
  PD_CHECK(bytes <= size_, "upload: ", bytes, " bytes into a buffer of ", size_);
  PD_CUDA_CHECK(cudaMemcpy(data_, host, bytes, cudaMemcpyHostToDevice));
}

void DeviceBuffer::download(void* host, size_t bytes) const {
  PD_CHECK(bytes <= size_, "download: ", bytes, " bytes from a buffer of ", size_);
  PD_CUDA_CHECK(cudaMemcpy(host, data_, bytes, cudaMemcpyDeviceToHost));
}

}  // namespace paradit::cuda
