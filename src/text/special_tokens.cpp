#include "text/special_tokens.h"

namespace paradit::text {

std::vector<Segment> SpecialTokens::split(const std::string& text) const {
  std::vector<Segment> out;
  size_t plain_start = 0, i = 0;
  while (i < text.size()) {
    size_t best_len = 0;
    int32_t best_id = -1;
    for (const auto& [content, id] : tokens_)
      if (content.size() > best_len && text.compare(i, content.size(), content) == 0) {
        best_len = content.size();
        best_id = id;
      }
    if (best_len == 0) {
      ++i;
      continue;
    }
    if (i > plain_start) out.push_back({text.substr(plain_start, i - plain_start), -1});
    out.push_back({"", best_id});
    i += best_len;
    plain_start = i;
  }
  if (plain_start < text.size()) out.push_back({text.substr(plain_start), -1});
  return out;
}

}  // namespace paradit::text
