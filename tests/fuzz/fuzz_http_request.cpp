// libFuzzer target: any bytes a client sends. The connection gate's head check decides first;
// a complete request's body then goes through the JSON parser and every API's field parser, and
// its headers through the request guard. Everything must end in a decision or a BadRequest,
// never a crash, a hang or an unbounded allocation (ASan and UBSan watch).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "server/connection_gate.h"
#include "server/http_server.h"
#include "server/requests.h"

namespace {

std::string header(const std::string& head, const std::string& name) {
  const auto at = head.find("\n" + name + ":");
  if (at == std::string::npos) return "";
  const auto end = head.find('\n', at + 1);
  return head.substr(at + name.size() + 2, end == std::string::npos ? std::string::npos : end - at - name.size() - 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paradit::server;
  const std::string received(reinterpret_cast<const char*>(data), size);
  GateLimits limits;
  limits.max_body_bytes = 64 * 1024;
  const HeadCheck head = check_head(received, limits);
  if (head.kind == HeadCheck::Refuse && (head.status < 400 || head.status > 599 || head.reason.empty()))
    __builtin_trap();
  if (head.kind != HeadCheck::Complete) return 0;
  if (head.head_bytes > received.size() || head.body_bytes > limits.max_body_bytes) __builtin_trap();

  const std::string head_text = received.substr(0, head.head_bytes);
  Guard guard;
  guard.api_key = "k";
  guard.cors_origins = {"https://app.example"};
  std::string why;
  const int status = guard.check("/v1/jobs", header(head_text, "Host"), header(head_text, "Origin"),
                                 header(head_text, "Authorization"), &why);
  if (status != 0 && status != 401 && status != 403) __builtin_trap();

  const std::string body = received.substr(head.head_bytes, head.body_bytes);
  Limits api_limits;
  try {
    const auto json = parse_body(body);
    try {
      parse_openai(json, api_limits);
    } catch (const BadRequest&) {
    }
    try {
      parse_a1111(json, api_limits);
    } catch (const BadRequest&) {
    }
    try {
      parse_job(json, api_limits);
    } catch (const BadRequest&) {
    }
  } catch (const BadRequest&) {
  }
  return 0;
}
