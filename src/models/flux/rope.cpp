#include "models/flux/rope.h"

#include <cmath>

#include "core/error.h"

namespace paradit {

RotaryTables flux_rotary_tables(const Tensor& ids, const std::array<int64_t, 3>& axes, double theta) {
  PD_CHECK(ids.dim() == 2 && ids.size(1) == 3, "FLUX rotary embedding: ids ", ids.describe(), " must be [S, 3]");
  const Tensor pos = ids.to(DType::F32);
  const int64_t S = pos.size(0);
  int64_t D = 0;
  for (int64_t a : axes) D += a;
  RotaryTables t{Tensor::empty({S, D}), Tensor::empty({S, D})};
  float* c = t.cos.data<float>();
  float* s = t.sin.data<float>();
  for (int64_t i = 0; i < S; ++i) {
    int64_t offset = 0;
    for (int axis = 0; axis < 3; ++axis) {
      const int64_t dim = axes[static_cast<size_t>(axis)];
      // As diffusers: positions in f32, frequencies and angles in f64, rounded to f32 at the end.
      const double p = static_cast<double>(pos.data<float>()[i * 3 + axis]);
      for (int64_t j = 0; j < dim / 2; ++j) {
        const double freq = 1.0 / std::pow(theta, static_cast<double>(2 * j) / static_cast<double>(dim));
        const double angle = p * freq;
        const float cv = static_cast<float>(std::cos(angle)), sv = static_cast<float>(std::sin(angle));
        c[i * D + offset + 2 * j] = c[i * D + offset + 2 * j + 1] = cv;
        s[i * D + offset + 2 * j] = s[i * D + offset + 2 * j + 1] = sv;
      }
      offset += dim;
    }
  }
  return t;
}

Tensor flux_image_ids(int64_t rows, int64_t cols) {
  PD_CHECK(rows > 0 && cols > 0, "FLUX image ids: empty latent");
  Tensor ids = Tensor::zeros({rows * cols, 3});
  float* p = ids.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      p[(r * cols + c) * 3 + 1] = static_cast<float>(r);
      p[(r * cols + c) * 3 + 2] = static_cast<float>(c);
    }
  return ids;
}

}  // namespace paradit
