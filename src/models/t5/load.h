// Opening a T5 encoder wherever it lives: a transformers folder (config.json + shards), or a
// single file (t5xxl_fp16.safetensors, t5xxl_fp8_e4m3fn.safetensors with or without per-tensor
// scales, or inside a combined checkpoint), with the config inferred from the tensors.
#pragma once

#include <string>

#include "models/t5/t5_encoder.h"

namespace paradit {

struct LoadedT5 {
  T5Encoder model;
  bool config_inferred = false;
};

// `parallel`: load this rank's tensor-parallel slice (its tp group), or everything when null.
LoadedT5 load_t5_encoder(const std::string& path, DType compute, ParallelGroups* parallel = nullptr,
                         Device device = Device::CPU);

}  // namespace paradit
