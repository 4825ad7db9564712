// A checkpoint: every tensor of one model, whether it lives in one .safetensors file, in
// shards listed by a *.safetensors.index.json, or in a directory holding either.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "io/weight_source.h"

namespace paradit {

class Checkpoint : public WeightSource {
 public:
  // `path`: a .safetensors file, a *.safetensors.index.json, or a directory with one of them.
  static Checkpoint open(const std::string& path);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const override { return where_.count(name) != 0; }
  Tensor get(const std::string& name) const override;  // fails naming the tensor and the checkpoint
  std::string where(const std::string& name) const override;
  const TensorRecord& record(const std::string& name) const;
  const std::string& file_of(const std::string& name) const;
  std::vector<std::string> names() const override;  // sorted
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
  bool pages_droppable() const override { return true; }
  void release_pages() const override {
    for (const auto& f : files_) f->release_pages();
  }

 private:
  void add_file(const std::string& file, const std::vector<std::string>* expected_names);
  std::string path_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;
};

}  // namespace paradit
