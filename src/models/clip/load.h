// Opening a CLIP text encoder wherever it lives: a transformers folder (config.json +
// model.safetensors), or a single file (clip_l.safetensors, clip_g.safetensors, or inside a
// combined checkpoint under "text_encoders.clip_*"), with the config inferred from the tensors.
#pragma once

#include <string>

#include "models/clip/clip_text_model.h"

namespace paradit {

struct LoadedClip {
  ClipTextModel model;
  bool config_inferred = false;
};

// `device`: where the weights go (uploaded once, at load).
LoadedClip load_clip_text_model(const std::string& path, DType compute, Device device = Device::CPU);

}  // namespace paradit
