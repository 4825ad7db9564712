// `paradit tokenize --model PATH --text T`: the ids of the three SD3 tokenizers, as JSON.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "text/clip_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace paradit::cli {
namespace fs = std::filesystem;

int run_tokenize(int argc, char** argv) {
  const Args args(argc, argv, 2, {});
  args.allow_only({"model", "text", "text-file", "max-sequence-length"});
  const std::string text = args.text_or_file("text", true);
  const std::string model = args.get("model");
  std::error_code ec;
  auto folder = [&](const char* name) {
    const fs::path p = fs::path(model) / name;
    return !model.empty() && fs::is_directory(p, ec) ? p.string() : std::string();
  };
  const std::string tl = folder("tokenizer"), tg = folder("tokenizer_2"), t5 = folder("tokenizer_3");
  const auto clip_l = tl.empty() ? text::ClipTokenizer::bundled("<|endoftext|>") : text::ClipTokenizer::from_folder(tl);
  const auto clip_g = tg.empty() ? text::ClipTokenizer::bundled("!") : text::ClipTokenizer::from_folder(tg);
  nlohmann::json out = {{"clip_l", clip_l.encode(text)}, {"clip_g", clip_g.encode(text)}};
  if (!t5.empty())
    out["t5"] = text::T5Tokenizer::from_folder(t5).encode(text, args.get_int("max-sequence-length", 256));
  else
    out["t5"] = nullptr;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace paradit::cli
