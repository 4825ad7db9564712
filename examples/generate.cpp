// The smallest program that embeds paradit: load a pipeline, generate, save a PNG.
//
//   build/examples/example_generate tests/fixtures/tiny-sd35 "a red fox in the snow" fox.png
#include <cstdio>
#include <exception>

#include "paradit/paradit.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL_DIR PROMPT OUT.png\n", argv[0]);
    return 2;
  }
  try {
    paradit::api::LoadOptions options;
    options.model = argv[1];
    const auto pipeline = paradit::api::Pipeline::load(options);

    paradit::api::Request request;
    request.prompt = argv[2];
    request.width = request.height = 256;
    request.steps = 4;
    request.seed = 42;
    const auto result = pipeline->generate(request, [](const paradit::api::Progress& p) {
      std::fprintf(stderr, "step %d/%d\n", p.step, p.total);
    });
    result.image.save_png(argv[3]);
    std::printf("%s: %dx%d, %d steps\n", argv[3], result.image.width, result.image.height, result.steps);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
