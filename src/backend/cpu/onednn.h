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

// Primitives are cached process-wide and may run on any thread (the server's worker is not the
// thread that created them), so each uses a scratchpad we own ("user" mode) instead of
// oneDNN's per-thread one, which dies with the thread that created the primitive.
dnnl::primitive_attr user_scratchpad();
// This thread's scratch buffer of at least `bytes`, as oneDNN memory.
dnnl::memory scratchpad_memory(const dnnl::memory::desc& desc);

template <typename Primitive>
struct CachedPrimitive {
  Primitive primitive;
  dnnl::memory::desc scratchpad;
  dnnl::memory::desc weights = {};  // the weights layout it was created for, where that was chosen
};

template <typename Primitive, typename Make>
CachedPrimitive<Primitive>& cached_primitive(const std::vector<int64_t>& key, Make make) {
  static std::mutex mutex;
  static std::map<std::vector<int64_t>, CachedPrimitive<Primitive>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make()).first;
  return it->second;
}

}  // namespace paradit::cpu
