// libFuzzer target: arbitrary bytes parsed as schema.json. data_error is expected; crashes are not.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "b2bseg/storage/schema_json.hpp"

namespace {

/// Aborts (a finding) unless a schema that parsed holds what validation promises.
void check_invariants(const b2bseg::schema& s) {
  if (s.entities.empty()) __builtin_trap();
  std::size_t reverses = 0, named_reverses = 0;
  for (const b2bseg::entity_def& e : s.entities) {
    if (e.file.empty()) __builtin_trap();
    for (const b2bseg::link_def& l : e.links) {
      if (l.target >= s.entities.size() || s.entities[l.target].name != l.to) __builtin_trap();
      if (!l.reverse.empty()) ++named_reverses;
    }
    for (const b2bseg::reverse_def& r : e.reverses) {
      if (r.source >= s.entities.size()) __builtin_trap();
      const auto& links = s.entities[r.source].links;
      if (r.link >= links.size() || links[r.link].reverse != r.name) __builtin_trap();
      if (&s.entities[links[r.link].target] != &e) __builtin_trap();
      ++reverses;
    }
  }
  if (reverses != named_reverses) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  b2bseg::schema s;
  try {
    s = b2bseg::parse_schema(text, "fuzz.json");
  } catch (const b2bseg::data_error&) {
    return 0;  // rejected input: the expected outcome for most bytes
  }
  check_invariants(s);
  // A schema that parsed must pass validation again, with the same reverses.
  b2bseg::schema again = s;
  try {
    b2bseg::validate_schema(again, "fuzz");
  } catch (const b2bseg::data_error&) {
    __builtin_trap();
  }
  check_invariants(again);
  for (std::size_t i = 0; i < s.entities.size(); ++i)
    if (again.entities[i].reverses.size() != s.entities[i].reverses.size()) __builtin_trap();
  return 0;
}
