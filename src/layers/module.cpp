#include "layers/module.h"

#include <cmath>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <functional>

#include "core/error.h"
#include "ops/ops.h"

namespace paradit {
// Deterministic per-name random values, N(0, 0.02)-like (uniform with that spread), cheap
// enough to fill billions of elements: a splitmix64 stream per element index
// (ops::fill_hashed_uniform), made on `device` with the same bits everywhere, so a GPU's
// benchmark weights never cross the bus.
Tensor random_tensor(uint64_t seed, const std::string& name, const Shape& shape, DType dtype, Device device) {
  // Norm weights near one (1 +- 1/16), everything else small: keeps activations finite through
  // deep stacks.
  const bool is_norm = name.find("norm") != std::string::npos && shape.size() == 1;
  const bool direct = device != Device::CPU || dtype == DType::F32;  // the GPU writes bf16 itself
  Tensor t = Tensor::empty(shape, direct ? dtype : DType::F32, device);
  ops::fill_hashed_uniform(t, seed ^ std::hash<std::string>{}(name), is_norm ? 1.f : 0.f, is_norm ? 0.125f : 0.07f);
  return t.dtype() == dtype ? t : t.to(dtype);
}

namespace {

// After a converted copy is made, the source's pages (a mapped file's, usually) are dropped:
// otherwise loading f16 T5-XXL as bf16 holds both, 19 GB. Only whole pages inside the tensor
// are touched; file pages come back from the page cache if anything reads them again, and a
// heap source is a temporary that nobody reads again.
void drop_pages(const Tensor& source) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(source.raw()) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(source.raw()) + source.nbytes()) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// Indices [begin, end) of `t` along shard.dim, zero-padded to shard.padded, in t's own dtype
// (so a rank converts only its part of a large matrix).
Tensor slice_padded(const Tensor& t, const Shard& shard) {
  PD_CHECK(shard.dim >= 0 && shard.dim < t.dim() && shard.begin >= 0 && shard.begin <= shard.end &&
               shard.end <= t.size(shard.dim) && shard.padded >= shard.end - shard.begin,
           "internal: bad shard of ", t.describe());
  Shape shape = t.shape();
  shape[static_cast<size_t>(shard.dim)] = shard.padded;
  Tensor out = Tensor::zeros(shape, t.dtype());
  int64_t outer = 1, inner = static_cast<int64_t>(dtype_size(t.dtype()));
  for (int d = 0; d < shard.dim; ++d) outer *= t.size(d);
  for (int64_t d = shard.dim + 1; d < t.dim(); ++d) inner *= t.size(d);
  const int64_t n = t.size(shard.dim), count = (shard.end - shard.begin) * inner;
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(static_cast<char*>(out.raw()) + o * shard.padded * inner,
                static_cast<const char*>(t.raw()) + (o * n + shard.begin) * inner, static_cast<size_t>(count));
  return out;
}

Tensor fetch_host(const LoadContext& ctx, const std::string& name, const Shape& expected, DType dtype,
                  const Shard* shard);

Tensor fetch(const LoadContext& ctx, const std::string& name, const Shape& expected, DType dtype,
             const Shard* shard = nullptr) {
  if (!ctx.weights && !ctx.record && !shard && ctx.device != Device::CPU && ctx.random_seed)
    return random_tensor(*ctx.random_seed, name, expected, dtype, ctx.device);  // made on the device
  Tensor t = fetch_host(ctx, name, expected, dtype, shard);
  if (ctx.device == Device::CPU || ctx.record) return t;
  Tensor on_device = t.to(ctx.device);
  if (ctx.weights && ctx.weights->pages_droppable()) drop_pages(t);
  return on_device;
}

Tensor fetch_host(const LoadContext& ctx, const std::string& name, const Shape& expected, DType dtype,
                  const Shard* shard) {
  if (ctx.record) {  // a dry run: note what the model asks for
    ctx.record->emplace_back(name, expected);
    // Never written, so fresh pages stay unbacked: a dry run of SD3.5 Large costs no memory.
    return Tensor::empty(expected, dtype);
  }
  if (!ctx.weights) {
    PD_CHECK(ctx.random_seed.has_value(), "internal: LoadContext has neither weights nor a random seed");
    if (!shard) return random_tensor(*ctx.random_seed, name, expected, dtype);
    // The full tensor's values, so every parallel config sees the single-rank model.
    const Tensor part = slice_padded(random_tensor(*ctx.random_seed, name, expected, DType::F32), *shard);
    return dtype == DType::F32 ? part : part.to(dtype);
  }
  Tensor t = ctx.weights->get(name);
  PD_CHECK(t.shape() == expected, ctx.weights->where(name), " has shape ", shape_str(t.shape()),
           " but the model expects ", shape_str(expected));
  PD_CHECK(dtype_is_float(t.dtype()), ctx.weights->where(name), " has non-float dtype ", dtype_name(t.dtype()));
  if (shard) t = slice_padded(t, *shard);
  const bool fp8 = t.dtype() == DType::F8_E4M3 || t.dtype() == DType::F8_E5M2;
  const std::string suffix = ".weight";
  if (fp8 && name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    // "scaled fp8" checkpoints keep a per-tensor scale beside each weight: w = fp8 * scale.
    const std::string scale_name = name.substr(0, name.size() - suffix.size()) + ".scale_weight";
    if (ctx.weights->has(scale_name)) {
      const Tensor scale = ctx.weights->get(scale_name).to(DType::F32);
      PD_CHECK(scale.numel() == 1, ctx.weights->where(scale_name), " must hold one value");
      Tensor w = t.to(DType::F32);
      const float s = scale.data<float>()[0];
      for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] *= s;
      return dtype == DType::F32 ? w : w.to(dtype);
    }
  }
  if (t.dtype() == dtype) return t;
  Tensor converted = t.to(dtype);
  if (ctx.weights->pages_droppable()) drop_pages(t);
  return converted;
}

}  // namespace

Tensor load_tensor(const LoadContext& ctx, const std::string& name, const Shape& expected) {
  return fetch(ctx, name, expected, DType::F32);
}

Tensor load_matrix(const LoadContext& ctx, const std::string& name, const Shape& expected) {
  return fetch(ctx, name, expected, ctx.compute);
}

bool has_tensor(const LoadContext& ctx, const std::string& name) { return !ctx.weights || ctx.weights->has(name); }

Tensor load_tensor_shard(const LoadContext& ctx, const std::string& name, const Shape& expected, const Shard& shard) {
  return fetch(ctx, name, expected, DType::F32, &shard);
}

Tensor load_matrix_shard(const LoadContext& ctx, const std::string& name, const Shape& expected, const Shard& shard) {
  return fetch(ctx, name, expected, ctx.compute, &shard);
}

std::optional<Tensor> load_optional(const LoadContext& ctx, const std::string& name, const Shape& expected) {
  if (!has_tensor(ctx, name)) return std::nullopt;
  return load_tensor(ctx, name, expected);
}

}  // namespace paradit
