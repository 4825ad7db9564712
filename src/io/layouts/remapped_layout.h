// The common part of the original single-file layouts seen under diffusers names: a map from
// each diffusers name to a recipe over one source tensor (the tensor itself, a range of its
// rows as a zero-copy view, or its two halves swapped), and the lookups every layout shares.
// A layout fills the map in its constructor.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "io/weight_source.h"

namespace paradit {

class RemappedLayout : public WeightSource {
 public:
  bool has(const std::string& name) const override { return map_.count(name) != 0; }
  Tensor get(const std::string& name) const override;
  std::vector<std::string> names() const override;
  std::string where(const std::string& name) const override;
  void release_pages() const override { source_->release_pages(); }
  bool pages_droppable() const override { return source_->pages_droppable(); }

 protected:
  struct Recipe {
    enum class Kind { Direct, Rows, SwapHalves } kind = Kind::Direct;
    std::string source;
    // Rows: the source's rows split into `units` equal units; this tensor is units [begin, end).
    int64_t units = 1, begin = 0, end = 1;
  };
  RemappedLayout(std::shared_ptr<const WeightSource> source, std::string prefix, std::string what)
      : source_(std::move(source)), prefix_(std::move(prefix)), what_(std::move(what)) {}
  void direct(const std::string& name, const std::string& key) { map_[name] = {Recipe::Kind::Direct, key}; }
  void rows(const std::string& name, const std::string& key, int64_t units, int64_t begin, int64_t end) {
    map_[name] = {Recipe::Kind::Rows, key, units, begin, end};
  }
  // (shift, scale) -> (scale, shift): the original final adaLN's order into diffusers'.
  void swapped(const std::string& name, const std::string& key) { map_[name] = {Recipe::Kind::SwapHalves, key}; }

  std::shared_ptr<const WeightSource> source_;
  std::string prefix_;
  std::string what_;  // "original-layout SD3 checkpoint", for messages
  std::map<std::string, Recipe> map_;
};

}  // namespace paradit
