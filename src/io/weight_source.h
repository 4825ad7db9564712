// Where a model's tensors come from, by their diffusers names. A Checkpoint is one source; a
// remapping of another layout (the original SD3 single files, with fused qkv) is another.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace paradit {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool has(const std::string& name) const = 0;
  virtual Tensor get(const std::string& name) const = 0;  // throws naming the tensor
  virtual std::vector<std::string> names() const = 0;     // sorted
  // Where the tensor lives, for error messages: "file.safetensors: tensor 'x'".
  virtual std::string where(const std::string& name) const = 0;
  // Drops the resident pages of mapped files (views stay valid and fault back in on use).
  virtual void release_pages() const {}
  // True when get() returns views of read-only mapped files or fresh copies, never memory that
  // anything else reads: a loader that converts a tensor may then drop the source's pages.
  virtual bool pages_droppable() const { return false; }
};

}  // namespace paradit
