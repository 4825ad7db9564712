// The bundled trained model (models/tiny-shapes, tools/train_tiny) draws what the prompt asks
// for: "a {colour} {shape} on a {colour} background". The check is the one in
// tools/train_tiny/shapes.py: the mean of the centre 10% x 10% box is nearest (RGB, among the 8
// colours) to the shape's colour, and the mean of each 12% x 12% corner box to the background's.
// Every request leaves size, steps and guidance to the model's own defaults.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "pipelines/sd35/pipeline.h"

namespace paradit {
namespace {

const std::string kModel = std::string(PARADIT_SOURCE_DIR) + "/models/tiny-shapes";

struct Colour {
  const char* name;
  std::array<double, 3> rgb;
};
const Colour kColours[] = {{"red", {230, 25, 25}},     {"green", {30, 180, 60}},   {"blue", {30, 60, 220}},
                           {"yellow", {240, 220, 30}}, {"orange", {245, 140, 20}}, {"purple", {140, 50, 180}},
                           {"white", {245, 245, 245}}, {"black", {15, 15, 15}}};

std::string nearest(const std::array<double, 3>& rgb) {
  const Colour* best = nullptr;
  double best_d = 1e300;
  for (const auto& c : kColours) {
    double d = 0;
    for (int k = 0; k < 3; ++k) d += (c.rgb[k] - rgb[k]) * (c.rgb[k] - rgb[k]);
    if (d < best_d) best_d = d, best = &c;
  }
  return best->name;
}

// The mean colour of the box at (x0, y0) (fractions of the side) of side `frac`, as shapes.box_mean.
std::array<double, 3> box_mean(const RgbImage& img, double x0, double y0, double frac) {
  const int bw = std::max(1, static_cast<int>(std::lround(img.width * frac)));
  const int bh = std::max(1, static_cast<int>(std::lround(img.height * frac)));
  const int x = std::clamp(static_cast<int>(std::lround(x0 * img.width)), 0, img.width - bw);
  const int y = std::clamp(static_cast<int>(std::lround(y0 * img.height)), 0, img.height - bh);
  std::array<double, 3> sum{};
  for (int r = y; r < y + bh; ++r)
    for (int c = x; c < x + bw; ++c)
      for (int k = 0; k < 3; ++k) sum[k] += img.pixels[static_cast<size_t>((r * img.width + c) * 3 + k)];
  for (auto& s : sum) s /= bw * bh;
  return sum;
}

struct Check {
  bool ok = false;
  std::string found;  // "centre red, corners blue blue blue blue"
};

Check colour_check(const RgbImage& img, const std::string& fg, const std::string& bg) {
  Check out;
  const std::string centre = nearest(box_mean(img, 0.45, 0.45, 0.10));
  out.ok = centre == fg;
  out.found = "centre " + centre + ", corners";
  for (auto [x, y] : {std::pair{0.0, 0.0}, {0.88, 0.0}, {0.0, 0.88}, {0.88, 0.88}}) {
    const std::string corner = nearest(box_mean(img, x, y, 0.12));
    out.ok = out.ok && corner == bg;
    out.found += " " + corner;
  }
  return out;
}

struct Prompt {
  std::string fg, shape, bg;
  bool held_out;
  std::string text() const { return "a " + fg + " " + shape + " on a " + bg + " background"; }
};

// Six of the held-out combinations (shapes.held_out()) and six trained ones.
const std::vector<Prompt> kPrompts = {
    {"red", "circle", "yellow", true},     {"red", "square", "purple", true},
    {"green", "square", "orange", true},   {"blue", "triangle", "purple", true},
    {"yellow", "circle", "white", true},   {"black", "square", "blue", true},
    {"red", "triangle", "blue", false},    {"white", "circle", "black", false},
    {"orange", "square", "green", false},  {"purple", "triangle", "yellow", false},
    {"black", "circle", "white", false},   {"blue", "square", "red", false},
};

Sd35Pipeline load(DType dtype) {
  PipelineOptions o;
  o.model = kModel;
  o.dtype = dtype;
  return Sd35Pipeline::load(o);
}

void expect_follows_prompts(DType dtype) {
  const auto pipe = load(dtype);
  int passed = 0;
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    const Prompt& p = kPrompts[i];
    GenerateRequest r;  // size, steps, guidance and T5 length: the model's defaults
    r.prompt = p.text();
    r.seed = 100 + i;
    const auto result = pipe.generate(r);
    const Check c = colour_check(result.image, p.fg, p.bg);
    std::printf("%s %-45s %s%s\n", c.ok ? "ok  " : "FAIL", p.text().c_str(), c.found.c_str(),
                p.held_out ? "  (held out)" : "");
    EXPECT_TRUE(c.ok) << p.text() << ": " << c.found;
    passed += c.ok;
  }
  std::printf("%d/%zu prompts pass the colour check\n", passed, kPrompts.size());
}

// All 168 combinations, seeded as tools/train_tiny/train.py's check through diffusers (seed 1000
// + the combination's index), so the two rates can be compared. The documented rate
// (docs/tiny-shapes.md) is the floor.
constexpr int kMinimumOf168 = 164;

void expect_all_combinations(DType dtype) {
  const auto pipe = load(dtype);
  const char* shapes[] = {"circle", "square", "triangle"};
  int index = 0, passed = 0;
  std::string failed;
  for (const auto& fg : kColours)
    for (const char* shape : shapes)
      for (const auto& bg : kColours) {
        if (&fg == &bg) continue;
        const Prompt p{fg.name, shape, bg.name, false};
        GenerateRequest r;
        r.prompt = p.text();
        r.seed = static_cast<uint64_t>(1000 + index++);
        const Check c = colour_check(pipe.generate(r).image, p.fg, p.bg);
        passed += c.ok;
        if (!c.ok) failed += "  " + p.text() + ": " + c.found + "\n";
      }
  std::printf("%s: %d/%d combinations pass the colour check\n%s", dtype_name(dtype), passed, index, failed.c_str());
  EXPECT_EQ(index, 168);
  EXPECT_GE(passed, kMinimumOf168);
}

TEST(TinyShapes, AllCombinationsF32) { expect_all_combinations(DType::F32); }

TEST(TinyShapes, AllCombinationsBf16) { expect_all_combinations(DType::BF16); }

TEST(TinyShapes, UsesTheFolderDefaults) {
  const auto pipe = load(DType::F32);
  EXPECT_EQ(pipe.defaults().width, 64);
  EXPECT_EQ(pipe.defaults().height, 64);
  EXPECT_EQ(pipe.defaults().steps, 20);
  EXPECT_DOUBLE_EQ(pipe.defaults().guidance, 4.0);
  EXPECT_EQ(pipe.defaults().max_sequence_length, 32);
  GenerateRequest r;
  r.prompt = "a red circle on a blue background";
  const auto result = pipe.generate(r);
  EXPECT_EQ(result.image.width, 64);
  EXPECT_EQ(result.image.height, 64);
  EXPECT_EQ(result.steps, 20);
  EXPECT_DOUBLE_EQ(result.guidance, 4.0);
}

TEST(TinyShapes, FollowsPromptsF32) { expect_follows_prompts(DType::F32); }

TEST(TinyShapes, FollowsPromptsBf16) { expect_follows_prompts(DType::BF16); }

TEST(TinyShapes, ColourCheckFailsOnAWrongPicture) {
  // The check itself: a red square on blue passes as such and fails as anything else.
  RgbImage img;
  img.width = img.height = 64;
  img.pixels.resize(64 * 64 * 3);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const bool inside = x >= 16 && x < 48 && y >= 16 && y < 48;
      const auto& rgb = inside ? kColours[0].rgb : kColours[2].rgb;
      for (int k = 0; k < 3; ++k) img.pixels[static_cast<size_t>((y * 64 + x) * 3 + k)] = static_cast<uint8_t>(rgb[k]);
    }
  EXPECT_TRUE(colour_check(img, "red", "blue").ok);
  EXPECT_FALSE(colour_check(img, "blue", "red").ok);
  EXPECT_FALSE(colour_check(img, "red", "purple").ok);
  EXPECT_FALSE(colour_check(img, "orange", "blue").ok);
}

}  // namespace
}  // namespace paradit
