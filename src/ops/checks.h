// What every op file of src/ops shares: the checks that run before a backend is called, and
// the dispatch to the CUDA table (present only in a build with the CUDA backend).
#pragma once

#include <initializer_list>

#include "backend/cpu/cpu_ops.h"
#include "core/device_memory.h"
#include "core/error.h"
#include "core/tensor.h"
#ifdef PARADIT_HAVE_CUDA
#include "backend/cuda/cuda_ops.h"
#define PD_ON_CUDA(stmt) stmt
#else
#define PD_ON_CUDA(stmt) ::paradit::fail("this build of paradit has no CUDA backend")
#endif

namespace paradit::ops::detail {

// Each op runs the backend of its tensors' device. The CPU table holds every op; the CUDA
// table (backend/cuda/cuda_ops.h) holds the ops the models' forwards use, in F32 and BF16. An
// op the GPU lacks says which op and which device, instead of reading device memory from the
// host.
inline void check_cpu(const char* op, const Tensor& t) {
  PD_CHECK(t.device() == Device::CPU, "ops::", op, " has no ", device_name(t.device()),
           " implementation yet: only the CPU runs it (move the tensor with to(Device::CPU))");
  PD_CHECK(t.is_contiguous(), op, ": ", t.describe(), " is a strided view; this op takes contiguous tensors");
}

inline void check_f32(const char* op, const Tensor& t, const char* what) {
  check_cpu(op, t);
  PD_CHECK(t.dtype() == DType::F32, op, ": ", what, " must be F32, got ", t.describe());
}

// The device an op runs on: that of its tensors (null entries skipped), which must agree and
// be contiguous. Without the CUDA backend a CUDA tensor cannot exist, but say so anyway.
inline Device device_of(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t) continue;
    if (!first) first = t;
    PD_CHECK(t->device() == first->device(), op, ": ", first->describe(), " is on ", device_name(first->device()),
             " but ", t->describe(), " is on ", device_name(t->device()));
    PD_CHECK(t->is_contiguous(), op, ": ", t->describe(), " is a strided view; this op takes contiguous tensors");
  }
  return first ? first->device() : Device::CPU;
}

// An activation: F32 on the CPU (the bf16 CPU path converts inside the fused ops); F32 or
// BF16 on the GPU.
inline void check_activation(const char* op, const Tensor& t, const char* what) {
  if (t.device() == Device::CPU) return check_f32(op, t, what);
  PD_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16, op, ": ", what, " must be F32 or BF16, got ",
           t.describe());
}

inline void check_vector(const char* op, const Tensor* t, int64_t n, const char* what) {
  if (!t) return;
  PD_CHECK(t->dtype() == DType::F32, op, ": ", what, " must be F32, got ", t->describe());
  PD_CHECK(t->dim() == 1 && t->size(0) == n, op, ": ", what, " must be [", n, "], got ", t->describe());
}

// A per-sample row vector [B, D] (modulation, gate): F32 on the op's device.
inline void check_rows(const char* op, const Tensor& t, const Shape& bd, const char* what) {
  PD_CHECK(t.dtype() == DType::F32 && t.shape() == bd, op, ": ", what, " ", t.describe(), " must be F32",
           shape_str(bd));
}

inline bool is_suffix(const Shape& small, const Shape& big) {
  if (small.size() > big.size()) return false;
  return std::equal(small.begin(), small.end(), big.end() - static_cast<std::ptrdiff_t>(small.size()));
}

inline Tensor bias_as_f32(const Tensor* bias) { return bias->dtype() == DType::F32 ? *bias : bias->to(DType::F32); }


}  // namespace paradit::ops::detail
