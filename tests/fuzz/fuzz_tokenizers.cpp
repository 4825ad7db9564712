// libFuzzer target: any bytes as a prompt, through both tokenizers (the bundled CLIP BPE and the
// T5 Unigram of the tiny fixture). Each must return at most max_length ids, all inside its
// vocabulary, in time linear in the prompt, or throw paradit::Error (invalid UTF-8 is replaced,
// not refused, so in practice it always returns).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "text/clip_tokenizer.h"
#include "text/t5_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto clip = paradit::text::ClipTokenizer::bundled("<|endoftext|>");
  static const auto t5 = paradit::text::T5Tokenizer::from_folder(PARADIT_FIXTURES_DIR "/tiny-sd35/tokenizer_3");
  const std::string prompt(reinterpret_cast<const char*>(data), size);
  try {
    const auto ids = clip.encode(prompt, 77);
    if (ids.size() != 77) __builtin_trap();
    for (const int32_t id : ids)
      if (id < 0 || id > 49407) __builtin_trap();
  } catch (const paradit::Error&) {
  }
  try {
    const auto ids = t5.encode(prompt, 256);
    if (ids.size() > 256) __builtin_trap();
    for (const int32_t id : ids)
      if (id < 0) __builtin_trap();
  } catch (const paradit::Error&) {
  }
  return 0;
}
