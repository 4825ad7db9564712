#include "io/shape_inference.h"

#include "core/error.h"

namespace paradit {

int64_t inferred_dim(const WeightSource& w, const std::string& name, int64_t d, const char* model) {
  PD_CHECK(w.has(name), "cannot infer the ", model, " config: missing tensor '", name, "'");
  const Tensor t = w.get(name);
  PD_CHECK(d < t.dim() && t.size(d) > 0, w.where(name), " has unexpected shape ", shape_str(t.shape()),
           " for the ", model, " config");
  return t.size(d);
}

int64_t inferred_index(const std::string& digits, const std::string& name) {
  PD_CHECK(!digits.empty() && digits.size() <= 4, "cannot infer the config: the block index in '", name,
           "' is out of range");
  return std::stoll(digits);
}

}  // namespace paradit
