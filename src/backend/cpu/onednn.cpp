#include "backend/cpu/onednn.h"

namespace paradit::cpu {

dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& onednn_stream() {
  thread_local dnnl::stream stream(onednn_engine());
  return stream;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::memory scratchpad_memory(const dnnl::memory::desc& desc) {
  thread_local std::vector<char> buffer;
  const size_t bytes = desc.get_size();
  if (buffer.size() < bytes) buffer.resize(bytes);
  return dnnl::memory(desc, onednn_engine(), buffer.data());
}

dnnl::memory::data_type onednn_type(DType t) {
  switch (t) {
    case DType::F32: return dnnl::memory::data_type::f32;
    case DType::BF16: return dnnl::memory::data_type::bf16;
    case DType::F16: return dnnl::memory::data_type::f16;
    default: fail("oneDNN: unsupported dtype ", dtype_name(t));
  }
}

}  // namespace paradit::cpu
