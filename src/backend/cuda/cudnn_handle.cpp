#define NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING
#include "backend/cuda/cudnn_handle.h"

#include <dlfcn.h>

#include <cudnn_frontend.h>

#include <cstdio>

#include "backend/cuda/stream.h"

namespace cudnn_frontend {
void* cudnn_dlhandle = nullptr;  // the frontend's calls go through this handle
}  // namespace cudnn_frontend

namespace paradit::cuda {

cudnnHandle_t cudnn_handle() {
  static const cudnnHandle_t handle = [] {
    namespace fe = cudnn_frontend;
    fe::cudnn_dlhandle = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_GLOBAL);
    if (!fe::cudnn_dlhandle) {
      std::fprintf(stderr, "paradit: no cuDNN (%s); attention and convolutions run on paradit's kernels\n", dlerror());
      return cudnnHandle_t{};
    }
    cudnnHandle_t h = nullptr;
    if (fe::detail::create_handle(&h) != CUDNN_STATUS_SUCCESS ||
        fe::detail::set_stream(h, stream()) != CUDNN_STATUS_SUCCESS) {
      std::fprintf(stderr, "paradit: cuDNN did not start; attention and convolutions run on paradit's kernels\n");
      return cudnnHandle_t{};
    }
    return h;
  }();
  return handle;
}

std::mutex& cudnn_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace paradit::cuda
