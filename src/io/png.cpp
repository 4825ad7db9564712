#include "io/png.h"

#include <png.h>

#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "io/atomic_file.h"

namespace paradit {
namespace {

void check_image(const RgbImage& image) {
  PD_CHECK(image.width > 0 && image.height > 0 &&
               image.pixels.size() == static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3,
           "PNG: ", image.width, "x", image.height, " image has ", image.pixels.size(), " bytes of pixels");
}

void png_error_to_exception(png_structp, png_const_charp message) { throw Error(std::string("libpng: ") + message); }
void png_warning_ignored(png_structp, png_const_charp) {}

void append_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

void flush_nothing(png_structp) {}

}  // namespace

std::vector<uint8_t> encode_png(const RgbImage& image) {
  check_image(image);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_error_to_exception, png_warning_ignored);
  PD_CHECK(png != nullptr, "libpng: cannot create a writer");
  png_infop info = png_create_info_struct(png);
  std::vector<uint8_t> out;
  try {
    PD_CHECK(info != nullptr, "libpng: cannot create the image info");
    png_set_write_fn(png, &out, append_bytes, flush_nothing);
    png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    std::vector<png_text> texts;
    for (const auto& [key, value] : image.text) {
      png_text t{};
      t.compression = PNG_TEXT_COMPRESSION_NONE;
      t.key = const_cast<char*>(key.c_str());
      t.text = const_cast<char*>(value.c_str());
      t.text_length = value.size();
      texts.push_back(t);
    }
    if (!texts.empty()) png_set_text(png, info, texts.data(), static_cast<int>(texts.size()));
    png_write_info(png, info);
    for (int y = 0; y < image.height; ++y)
      png_write_row(png, const_cast<png_bytep>(image.pixels.data() + static_cast<size_t>(y) * image.width * 3));
    png_write_end(png, nullptr);
  } catch (...) {
    png_destroy_write_struct(&png, &info);
    throw;
  }
  png_destroy_write_struct(&png, &info);
  return out;
}

void write_png(const std::string& path, const RgbImage& image) {
  const std::vector<uint8_t> bytes = encode_png(image);
  write_file_atomic(path, bytes.data(), bytes.size());
}

RgbImage read_png(const std::string& path) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  PD_CHECK(png_image_begin_read_from_file(&img, path.c_str()), path, ": not a readable PNG: ", img.message);
  img.format = PNG_FORMAT_RGB;
  RgbImage out;
  out.width = static_cast<int>(img.width);
  out.height = static_cast<int>(img.height);
  out.pixels.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out.pixels.data(), 0, nullptr)) {
    const std::string message = img.message;
    png_image_free(&img);
    fail(path, ": corrupt PNG: ", message);
  }
  return out;
}

}  // namespace paradit
