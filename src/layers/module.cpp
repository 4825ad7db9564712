#include "layers/module.h"

#include "core/error.h"

namespace paradit {

Tensor load_tensor(const LoadContext& ctx, const std::string& name, const Shape& expected) {
  const Tensor t = ctx.checkpoint.get(name);
  PD_CHECK(t.shape() == expected, ctx.checkpoint.file_of(name), ": tensor '", name, "' has shape ",
           shape_str(t.shape()), " but the model expects ", shape_str(expected));
  PD_CHECK(dtype_is_float(t.dtype()), ctx.checkpoint.file_of(name), ": tensor '", name, "' has non-float dtype ",
           dtype_name(t.dtype()));
  return t.dtype() == ctx.compute ? t : t.to(ctx.compute);
}

std::optional<Tensor> load_optional(const LoadContext& ctx, const std::string& name, const Shape& expected) {
  if (!ctx.checkpoint.has(name)) return std::nullopt;
  return load_tensor(ctx, name, expected);
}

}  // namespace paradit
