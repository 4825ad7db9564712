// A view of a WeightSource under a key prefix: the text encoder inside a checkpoint that holds
// several models ("text_encoders.clip_l.transformer.text_model...") seen as if it were alone.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "io/weight_source.h"

namespace paradit {

class PrefixedWeights : public WeightSource {
 public:
  PrefixedWeights(std::shared_ptr<const WeightSource> source, std::string prefix)
      : source_(std::move(source)), prefix_(std::move(prefix)) {}
  void release_pages() const override { source_->release_pages(); }
  bool pages_droppable() const override { return source_->pages_droppable(); }
  bool has(const std::string& name) const override { return source_->has(prefix_ + name); }
  Tensor get(const std::string& name) const override { return source_->get(prefix_ + name); }
  std::string where(const std::string& name) const override { return source_->where(prefix_ + name); }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& n : source_->names())
      if (n.compare(0, prefix_.size(), prefix_) == 0) out.push_back(n.substr(prefix_.size()));
    return out;
  }

 private:
  std::shared_ptr<const WeightSource> source_;
  std::string prefix_;
};

// The prefix under which `source` holds a tensor whose name ends with `suffix`, when exactly
// one prefix does; nothing otherwise.
std::optional<std::string> find_prefix(const WeightSource& source, const std::string& suffix);

// Opens the checkpoint at `path` (file, shard index or folder) and returns it seen from the
// one prefix that holds `probe`; fails naming `what` when there is none.
std::shared_ptr<const WeightSource> open_model_weights(const std::string& path, const std::string& probe,
                                                       const char* what);
// `path`/config.json when `path` is a folder holding one, else "".
std::string config_json_in(const std::string& path);

}  // namespace paradit
