// libFuzzer target: arbitrary bytes read as one HTTP request to `serve` (SPEC 7), handed to
// `service::handle` as the HTTP layer hands it over: the first byte picks the method, then the
// target up to a newline, the Authorization header up to a newline, and the body. Every answer
// has a known status; every JSON answer parses as JSON; a 200 to a change batch took the next
// number and every other answer left the number as it was.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "b2bseg/b2bseg.hpp"
#include "b2bseg/serve/service.hpp"
#include "small_graph.hpp"

namespace {

b2bseg::service& svc() {
  static b2bseg::service* s = [] {
    auto g = std::make_shared<const b2bseg::graph>(fuzz_support::small_graph());
    auto f = std::make_shared<const b2bseg::bound_file>(b2bseg::compile_segments(
        "segment big on account where employees > 5 or customer\n"
        "segment scored on person where score >= 5 and account.in_segment(\"big\")\n"
        "segment active on person where events.any(type = \"t\" and at within last 30 days)\n"
        "segment top1 on person where top(1, by score desc, per account)\n",
        g->schema(), "fuzz.seg"));
    b2bseg::serve_options o;
    o.as_of = 1767225600000000;  // 2026-01-01
    o.threads = 1;
    o.token = "t0k";
    o.history_bytes = 4096;
    return new b2bseg::service(g, f, o);
  }();
  return *s;
}

bool known_status(int s) {
  return s == 200 || s == 400 || s == 401 || s == 404 || s == 405 || s == 410 || s == 503;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const char* methods[] = {"GET", "POST", "HEAD", "DELETE"};
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const char* method = methods[data[0] % 4];
  auto take_line = [&in]() {
    const std::size_t nl = in.find('\n');
    std::string_view l = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    return l;
  };
  const std::string_view target = take_line();
  const std::string_view auth = take_line();
  b2bseg::service& s = svc();
  const std::uint64_t before = s.seq();
  const b2bseg::serve_reply r = s.handle({method, target, auth, in});
  if (!known_status(r.status)) std::abort();
  if (r.content_type == "application/json") {
    static simdjson::dom::parser parser;
    simdjson::padded_string body(r.body);
    if (parser.parse(body).error()) std::abort();
  }
  const std::uint64_t after = s.seq();
  const bool batch = std::string_view(method) == "POST" && r.status == 200 &&
                     r.body.find("\"applied\": 0,") == std::string::npos;
  if (after != before + (batch ? 1 : 0)) std::abort();
  return 0;
}
