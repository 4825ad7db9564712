#include "layers/modulation_table.h"

#include "core/device_memory.h"
#include "core/error.h"

namespace paradit {

void ModulationTable::add(const void* layer, const Tensor& projection) {
  PD_CHECK(steps_ == 0, "ModulationTable: add after finish");
  PD_CHECK(projection.dim() == 2 && projection.is_contiguous(), "ModulationTable: projection ", projection.describe(),
           " must be a contiguous [rows, width]");
  PD_CHECK(slots_.count(layer) == 0, "ModulationTable: a layer added twice");
  slots_[layer] = {};
  pending_.emplace_back(layer, projection);
}

void ModulationTable::finish(int64_t steps, int64_t batch) {
  PD_CHECK(steps > 0 && batch > 0 && !pending_.empty(), "ModulationTable: nothing to pack");
  const Tensor& first = pending_.front().second;
  int64_t total = 0;
  for (auto& [layer, p] : pending_) {
    PD_CHECK(p.size(0) == steps * batch && p.dtype() == first.dtype() && p.device() == first.device(),
             "ModulationTable: projection ", p.describe(), " is not ", steps, " steps x ", batch, " rows");
    slots_[layer] = {total, p.size(1)};
    total += batch * p.size(1);
  }
  all_ = Tensor::empty({steps, total}, first.dtype(), first.device());
  DeviceMemory& memory = device_memory(first.device());
  for (auto& [layer, p] : pending_) {
    const Slot& s = slots_[layer];
    const Tensor src = p.reshape({steps, batch * s.width});
    const Tensor dst = all_.slice(1, s.offset, s.offset + batch * s.width);
    memory.copy_strided(src.shape(), src.strides(), src.raw(), src.dtype(), dst.strides(),
                        const_cast<void*>(dst.raw()), dst.dtype());
  }
  pending_.clear();
  current_ = Tensor::empty({total}, first.dtype(), first.device());
  steps_ = steps;
  batch_ = batch;
}

void ModulationTable::select(int64_t step) {
  PD_CHECK(ready() && step >= 0 && step < steps_, "ModulationTable: step ", step, " of ", steps_);
  const Tensor row = all_.select(0, step);
  device_memory(all_.device()).copy_within(current_.raw(), row.raw(), row.nbytes());
  selected_ = step;
}

Tensor ModulationTable::get(const void* layer) const {
  PD_CHECK(selected_ >= 0, "ModulationTable: no step selected");
  const auto it = slots_.find(layer);
  PD_CHECK(it != slots_.end(), "ModulationTable: a norm without a precomputed projection");
  const Slot& s = it->second;
  return current_.slice(0, s.offset, s.offset + batch_ * s.width).reshape({batch_, s.width});
}

}  // namespace paradit
