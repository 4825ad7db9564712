// safetensors reading and writing. The reader maps the file and validates the header as
// strictly as the reference implementation: JSON shape, known dtypes, offsets in range,
// contiguous and non-overlapping, and byte sizes that match the shapes. Any violation is one
// paradit::Error line naming the file and the tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/mapped_file.h"

namespace paradit {

struct TensorRecord {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<TensorRecord> tensors;  // sorted by offset
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // file offset of the data section
};

// Parses and validates the header of a safetensors file held in `bytes`. `label` names the
// file in error messages. Exposed on its own for the fuzz target.
SafetensorsHeader parse_safetensors_header(const char* bytes, size_t size, const std::string& label);

class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const TensorRecord& record(const std::string& name) const;
  // A view of the mapped bytes (a copy only when the data is misaligned for its dtype).
  Tensor get(const std::string& name) const;
  std::vector<std::string> names() const;  // in file order
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  void release_pages() const { file_->release_pages(); }

 private:
  std::shared_ptr<MappedFile> file_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes CPU tensors to `path` atomically: a temporary file beside it, then rename.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace paradit
