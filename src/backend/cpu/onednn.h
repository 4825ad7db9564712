// Shared oneDNN plumbing for the CPU backend: one engine, a stream per thread, and a cache of
// primitives keyed by their shapes and types, because creating a primitive (JIT code
// generation) costs far more than running a small one.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace paradit::cpu {

dnnl::engine& onednn_engine();
dnnl::stream& onednn_stream();
dnnl::memory::data_type onednn_type(DType t);

template <typename Primitive, typename Make>
Primitive& cached_primitive(const std::vector<int64_t>& key, Make make) {
  static std::mutex mutex;
  static std::map<std::vector<int64_t>, Primitive> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make()).first;
  return it->second;
}

}  // namespace paradit::cpu
