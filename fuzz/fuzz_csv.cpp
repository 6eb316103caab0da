// libFuzzer target: arbitrary bytes through the CSV reader, in one chunk and in several.
//
// Besides crashes (with sanitizers), it checks the splitting contract: reading the chunks of
// split(n) in order gives the records of reading one chunk, and, on a malformed file, the same
// first error. Every field also goes through the value parsers, and the UTF-8 check in windows
// and small blocks must find the error of the whole text.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/parse.hpp"
#include "b2bseg/load/csv.hpp"

namespace {

struct outcome {
  std::vector<std::vector<std::string>> records;
  std::vector<std::size_t> lines;
  std::string error;
};

outcome read_in_chunks(const b2bseg::csv_file& f, std::size_t n) {
  outcome o;
  std::vector<std::string_view> fields;
  try {
    for (const b2bseg::csv_chunk& c : f.split(n)) {
      b2bseg::csv_record_reader reader(f, c);
      while (reader.next(fields)) {
        o.records.emplace_back(fields.begin(), fields.end());
        o.lines.push_back(reader.line());
        for (std::size_t i = 0; i < fields.size(); ++i) {
          std::int64_t iv;
          double dv;
          bool bv;
          b2bseg::timestamp_us tv;
          b2bseg::parse_int64(fields[i], iv);
          b2bseg::parse_double(fields[i], dv);
          b2bseg::parse_bool(fields[i], bv);
          if (b2bseg::parse_timestamp(fields[i], tv)) {
            // format_timestamp must round-trip, within years 0000-9999 (an offset can move a
            // time just outside them).
            const std::string s = b2bseg::format_timestamp(tv);
            b2bseg::timestamp_us back;
            if (s.size() > 4 && s[4] == '-' && (!b2bseg::parse_timestamp(s, back) || back != tv))
              std::abort();
          }
          if (reader.column(i) == 0 || reader.field_line(i) < reader.line()) std::abort();
        }
      }
    }
  } catch (const b2bseg::data_error& e) {
    o.error = e.what();
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk count; the rest is the file.
  const std::size_t chunks = 2 + data[0] % 15;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  // UTF-8 validation in windows taken in order (what open_lean does) and in small parallel
  // blocks finds the error of the whole text, one byte at a time.
  {
    namespace d = b2bseg::detail;
    const std::size_t whole = d::utf8_first_error(text.data(), text.size(), text.size() + 1);
    const std::size_t window = 1 + data[0] % 7, block = 1 + data[0] % 5;
    std::size_t got = d::npos;
    for (std::size_t w = 0; w < text.size() && got == d::npos; w += window)
      got = d::utf8_first_error_in(text.data(), text.size(), w, std::min(text.size(), w + window),
                                   block);
    if (got != whole || d::utf8_first_error(text.data(), text.size(), block) != whole) std::abort();
  }
  try {
    const b2bseg::csv_file f = b2bseg::csv_file::from_string(std::move(text), "fuzz.csv");
    const outcome one = read_in_chunks(f, 1);
    const outcome many = read_in_chunks(f, chunks);
    if (one.records != many.records || one.lines != many.lines || one.error != many.error)
      std::abort();
    // Every header name resolves to its first column, or names its repetition; messages never
    // carry a control byte (they are escaped).
    for (std::size_t i = 0; i < f.header().size(); ++i) {
      const std::string& name = f.header()[i];
      if (f.find_column(name) < 0 || static_cast<std::size_t>(f.find_column(name)) > i)
        std::abort();
      try {
        if (f.require_column(name) != static_cast<std::size_t>(f.find_column(name))) std::abort();
      } catch (const b2bseg::data_error& e) {
        for (const char c : std::string_view(e.what()))
          if (static_cast<unsigned char>(c) < 0x20) std::abort();
      }
    }
  } catch (const b2bseg::data_error&) {
    // Malformed input is expected.
  }
  return 0;
}
