// FLUX's rotary position embedding (diffusers' FluxPosEmbed, theta 10000): each of the three id
// axes (index, row, column) rotates its own slice of the head dimension, axes_dims_rope[i]
// dimensions wide; each pair of dimensions (2j, 2j+1) turns by pos * theta^(-2j / dim).
#pragma once

#include <array>

#include "core/tensor.h"

namespace paradit {

struct RotaryTables {
  Tensor cos, sin;  // [S, sum(axes)] f32, each frequency repeated for its pair
};

// ids [S, 3] (f32 positions: the text ids then the image ids, as the model concatenates them).
RotaryTables flux_rotary_tables(const Tensor& ids, const std::array<int64_t, 3>& axes, double theta = 10000.0);

// The image ids of a packed latent of rows x cols tokens: (0, row, col), as FluxPipeline makes them.
Tensor flux_image_ids(int64_t rows, int64_t cols);

}  // namespace paradit
