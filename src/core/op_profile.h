// Where a step's time goes, by kind of op: the GEMMs (linear, matmul, convolution), the
// attention (with the joint attention's packing, qk norm and rotary embedding) and the rest.
// `bench transformer --breakdown` runs one step under profile_ops(): ops open an OpScope, which
// marks the device's queue before and after the op (clock reads on the host, events on the
// GPU's stream, see DeviceMemory::mark), so a GPU step stays asynchronous while profiled. Only
// the outermost scope counts (a convolution that runs as a GEMM is one GEMM). The marks cost a
// little time of their own, so the profiled step is a little slower than an unprofiled one.
#pragma once

#include <cstdint>
#include <functional>

#include "core/tensor.h"

namespace paradit {

enum class OpKind : uint8_t { Gemm, Attention };

struct OpBreakdown {
  double total_ms = 0, gemm_ms = 0, attention_ms = 0;
  int64_t gemm_calls = 0, attention_calls = 0;
  double rest_ms() const { return total_ms - gemm_ms - attention_ms; }
};

// Runs `step` once with its ops on `device` timed by kind.
OpBreakdown profile_ops(Device device, const std::function<void()>& step);

class OpScope {
 public:
  OpScope(OpKind kind, Device device);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  OpKind kind_;
  bool counted_ = false, outer_ = false;
  size_t start_ = 0;
};

}  // namespace paradit
