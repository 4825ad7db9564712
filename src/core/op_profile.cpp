#include "core/op_profile.h"

#include <vector>

#include "core/device_memory.h"
#include "core/error.h"

namespace paradit {
namespace {

struct Span {
  OpKind kind;
  size_t from, to;
};

struct ProfileState {
  bool on = false;
  Device device = Device::CPU;
  int depth = 0;
  std::vector<Span> spans;
};

ProfileState& state() {
  static ProfileState s;
  return s;
}

}  // namespace

OpScope::OpScope(OpKind kind, Device device) : kind_(kind) {
  ProfileState& s = state();
  if (!s.on || device != s.device) return;
  counted_ = true;
  if (s.depth++ == 0) {
    outer_ = true;
    start_ = device_memory(device).mark();
  }
}

OpScope::~OpScope() {
  if (!counted_) return;
  ProfileState& s = state();
  --s.depth;
  if (!outer_) return;
  try {
    s.spans.push_back({kind_, start_, device_memory(s.device).mark()});
  } catch (...) {  // a failing device: the op's own error is the one to report
  }
}

OpBreakdown profile_ops(Device device, const std::function<void()>& step) {
  ProfileState& s = state();
  PD_CHECK(!s.on, "profile_ops: a profile is already running");
  DeviceMemory& memory = device_memory(device);
  memory.synchronize();
  memory.clear_marks();
  s.spans.clear();
  s.depth = 0;
  s.device = device;
  s.on = true;
  size_t begin = 0, end = 0;
  try {
    begin = memory.mark();
    step();
    end = memory.mark();
  } catch (...) {
    s.on = false;
    throw;
  }
  s.on = false;
  OpBreakdown b;
  b.total_ms = memory.elapsed_ms(begin, end);
  for (const Span& span : s.spans) {
    const double ms = memory.elapsed_ms(span.from, span.to);
    if (span.kind == OpKind::Gemm) {
      b.gemm_ms += ms;
      ++b.gemm_calls;
    } else {
      b.attention_ms += ms;
      ++b.attention_calls;
    }
  }
  memory.clear_marks();
  return b;
}

}  // namespace paradit
