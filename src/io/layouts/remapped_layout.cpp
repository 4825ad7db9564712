#include "io/layouts/remapped_layout.h"

#include <algorithm>

#include "core/error.h"

namespace paradit {

Tensor RemappedLayout::get(const std::string& name) const {
  auto it = map_.find(name);
  PD_CHECK(it != map_.end(), what_, " has no tensor for '", name, "'");
  const Recipe& r = it->second;
  const Tensor t = source_->get(r.source);
  if (r.kind == Recipe::Kind::Direct) return t;
  const int64_t units = r.kind == Recipe::Kind::SwapHalves ? 2 : r.units;
  PD_CHECK(t.dim() >= 1 && t.size(0) % units == 0, source_->where(r.source), " with shape ", shape_str(t.shape()),
           " does not split into ", units, " equal parts");
  const int64_t n = t.size(0) / units;
  if (r.kind == Recipe::Kind::Rows) return t.rows(r.begin * n, r.end * n);
  const Tensor first = t.rows(0, n), second = t.rows(n, 2 * n);
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  const size_t half = second.nbytes();
  std::copy_n(static_cast<const char*>(second.raw()), half, static_cast<char*>(out.raw()));
  std::copy_n(static_cast<const char*>(first.raw()), half, static_cast<char*>(out.raw()) + half);
  return out;
}

std::vector<std::string> RemappedLayout::names() const {
  std::vector<std::string> out;
  for (const auto& [name, recipe] : map_) out.push_back(name);
  return out;
}

std::string RemappedLayout::where(const std::string& name) const {
  auto it = map_.find(name);
  if (it == map_.end()) return str_cat(what_, ": tensor '", name, "'");
  return str_cat(source_->where(it->second.source), " (as '", name, "')");
}

}  // namespace paradit
