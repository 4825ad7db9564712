// PNG files through libpng: 8-bit RGB, with tEXt chunks for the generation parameters (as
// AUTOMATIC1111 and ComfyUI write them under the key "parameters"). Written to a temporary
// file and renamed, so a reader never sees half an image.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace paradit {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3, row-major
  std::map<std::string, std::string> text;
};

void write_png(const std::string& path, const RgbImage& image);
std::vector<uint8_t> encode_png(const RgbImage& image);  // the file's bytes, for HTTP
RgbImage read_png(const std::string& path);              // 8-bit RGB(A) files

}  // namespace paradit
