// libFuzzer target: arbitrary bytes read as a destinations file (SPEC 6) against a fixed schema
// and segments file. Every outcome is either a checked list of destinations or a compile_error
// whose diagnostics lie inside the text; field expressions come out bound over the segments'
// entity.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "b2bseg/activate/destinations.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace {

const b2bseg::schema& fuzz_schema() {
  static const b2bseg::schema s = b2bseg::parse_schema(R"J({
  "entities": {
    "account": {
      "file": "account.csv", "key": "account_id",
      "attributes": { "name": "string", "domain": "string", "employees": "int",
                      "tags": "string[]", "created_at": "timestamp" },
      "links": { "parent": { "column": "parent_id", "to": "account", "reverse": "subsidiaries" } }
    },
    "person": {
      "file": "person.csv", "key": "person_id",
      "attributes": { "email": "string", "first_name": "string", "last_name": "string",
                      "score": "float", "opted_in": "bool" },
      "links": { "account": { "column": "account_id", "to": "account", "reverse": "people" } }
    },
    "event": {
      "file": "event.csv",
      "attributes": { "type": "string", "timestamp": "timestamp", "value": "int" },
      "links": { "person": { "column": "person_id", "to": "person", "reverse": "events" } }
    }
  }
})J",
                                                       "fuzz_schema.json");
  return s;
}

const b2bseg::bound_file& fuzz_segments() {
  static const b2bseg::bound_file f = b2bseg::compile_segments(
      "segment big on account where employees > 100\n"
      "segment vps on person where score > 1\n"
      "segment fans on person where events.count() > 2\n",
      fuzz_schema(), "fuzz.seg");
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  try {
    const auto dests = b2bseg::parse_destinations(text, fuzz_schema(), fuzz_segments(), "d.json");
    for (const auto& d : dests) {
      if (d.segments.empty() || d.segments.size() != d.segment_names.size() ||
          d.entity == b2bseg::no_entity)
        __builtin_trap();
      for (const auto& f : d.fields)
        if (f.field.context != d.entity || f.column.empty()) __builtin_trap();
    }
  } catch (const b2bseg::compile_error& e) {
    if (e.diagnostics().empty()) __builtin_trap();
    for (const auto& d : e.diagnostics())
      if (d.line == 0 || d.line > lines || d.column == 0 || d.message.empty()) __builtin_trap();
  }
  return 0;
}
