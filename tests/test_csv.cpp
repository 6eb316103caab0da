// Tests of the CSV reader: RFC 4180 parsing, errors with positions, UTF-8, quote-aware splitting.
#include "b2bseg/load/csv.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace b2bseg {
namespace {

using records = std::vector<std::vector<std::string>>;

struct read_result {
  records recs;
  std::vector<std::size_t> lines;
  std::string error;  // empty: no error
};

/// Reads the chunks of split(n) in order, stopping at the first error, as a loader that reports
/// the lowest-numbered chunk's error does; with `copies`, each chunk from its copy_chunk.
read_result read_chunks(const csv_file& f, std::size_t n, bool copies = false) {
  read_result r;
  std::vector<std::string_view> fields;
  chunk_buffer buf;
  try {
    for (const csv_chunk& whole : f.split(n)) {
      const csv_chunk c = copies ? f.copy_chunk(whole, buf) : whole;
      csv_record_reader reader(f, c);
      while (reader.next(fields)) {
        r.recs.emplace_back(fields.begin(), fields.end());
        r.lines.push_back(reader.line());
      }
    }
  } catch (const data_error& e) {
    r.error = e.what();
  }
  return r;
}

csv_file make(std::string text) {
  return csv_file::from_string(std::move(text), "t.csv");
}

records body_of(std::string text) {
  const read_result r = read_chunks(make(std::move(text)), 1);
  EXPECT_EQ(r.error, "");
  return r.recs;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const data_error& e) {
    return e.what();
  }
  return "no error";
}

std::string read_error(std::string text) {
  return error_of([&] {
    const csv_file f = make(std::move(text));
    const read_result r = read_chunks(f, 1);
    if (!r.error.empty()) throw data_error(r.error);
  });
}

TEST(CsvFile, HeaderBodyAndLines) {
  const csv_file f = make("id,name,age\n1,Ann,30\n2,Bob,41\n");
  EXPECT_EQ(f.name(), "t.csv");
  EXPECT_EQ(f.header(), (std::vector<std::string>{"id", "name", "age"}));
  EXPECT_EQ(f.find_column("name"), 1);
  EXPECT_EQ(f.find_column("age"), 2);
  EXPECT_EQ(f.find_column("Name"), -1);
  EXPECT_EQ(f.find_column(""), -1);
  EXPECT_EQ(f.body_first_line(), 2u);
  EXPECT_EQ(f.body(), "1,Ann,30\n2,Bob,41");
  EXPECT_EQ(f.body_size(), 17u);
  const read_result r = read_chunks(f, 1);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.recs, (records{{"1", "Ann", "30"}, {"2", "Bob", "41"}}));
  EXPECT_EQ(r.lines, (std::vector<std::size_t>{2, 3}));
}

TEST(CsvFile, HeaderInAnyOrderQuotedAndWithBom) {
  const csv_file f = make("\xEF\xBB\xBF\"age\",name,\"i,d\"\n30,Ann,1\n");
  EXPECT_EQ(f.header(), (std::vector<std::string>{"age", "name", "i,d"}));
  EXPECT_EQ(f.find_column("age"), 0);
  EXPECT_EQ(f.find_column("i,d"), 2);
  EXPECT_EQ(read_chunks(f, 1).recs, (records{{"30", "Ann", "1"}}));
  // A BOM only counts at the very start; columns on line 1 do not count it.
  EXPECT_EQ(error_of([] {
              make(
                  "\xEF\xBB\xBF"
                  "a,,b\n");
            }),
            "t.csv:1:3: empty column name in header");
}

TEST(CsvFile, HeaderWithQuotedNewline) {
  const csv_file f = make("\"first\nname\",b\nx,y\nz,w\n");
  EXPECT_EQ(f.header(), (std::vector<std::string>{"first\nname", "b"}));
  EXPECT_EQ(f.body_first_line(), 3u);
  EXPECT_EQ(read_chunks(f, 1).lines, (std::vector<std::size_t>{3, 4}));
  EXPECT_EQ(read_chunks(f, 2).lines, (std::vector<std::size_t>{3, 4}));
}

TEST(CsvFile, HeaderErrors) {
  // A repeated name is an error only for a column that is read (see require_column).
  EXPECT_EQ(error_of([] { make("a,b,a\n1,2,3\n").require_column("a"); }),
            "t.csv:1:5: duplicate column name 'a' in header");
  EXPECT_EQ(error_of([] { make("a,b,a\n1,2,3\n").require_column("b"); }), "no error");
  EXPECT_EQ(error_of([] { make("a,b,a\n1,2,3\n").require_column("c"); }),
            "t.csv:1: column 'c' named in the schema is missing from the header");
  EXPECT_EQ(error_of([] { make("a,,b\n"); }), "t.csv:1:3: empty column name in header");
  EXPECT_EQ(error_of([] { make("a,b,\n"); }), "t.csv:1:5: empty column name in header");
  EXPECT_EQ(error_of([] { make("\na,b\n"); }), "t.csv:1:1: empty column name in header");
  EXPECT_EQ(error_of([] { make("a,\"b\n"); }), "t.csv:1:3: unterminated quoted field");
  EXPECT_EQ(error_of([] { make("a,b\"c\n"); }), "t.csv:1:4: quote inside unquoted field");
}

TEST(CsvFile, WideHeadersIndexInLinearTime) {
  // 100,000 columns, every name twice: the duplicate check compared every pair (12 s).
  std::string header;
  for (int i = 0; i < 200000; ++i) {
    header += i ? ",c" : "c";
    header += std::to_string(i % 100000);
  }
  const csv_file f = make(header + "\n");
  EXPECT_EQ(f.header().size(), 200000u);
  EXPECT_EQ(f.find_column("c99999"), 99999);
  EXPECT_EQ(error_of([&] { f.require_column("c5"); }),
            "t.csv:1:" + std::to_string(header.find(",c5,", header.find(",c5,") + 1) + 2) +
                ": duplicate column name 'c5' in header");
}

TEST(CsvFile, HeaderOnly) {
  for (const char* text : {"a,b", "a,b\n", "a,b\r\n", "a,b\n\n\n"}) {
    const csv_file f = make(text);
    EXPECT_EQ(f.header().size(), 2u);
    EXPECT_EQ(f.body_size(), 0u);
    const auto chunks = f.split(4);
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(chunks[0].begin, chunks[0].end);
    EXPECT_TRUE(read_chunks(f, 4).recs.empty());
  }
}

TEST(CsvFile, EmptyFile) {
  EXPECT_EQ(error_of([] { make(""); }), "t.csv: file is empty");
  EXPECT_EQ(error_of([] { make("\xEF\xBB\xBF"); }), "t.csv: file is empty");
  EXPECT_EQ(error_of([] { make("\n\r\n\n"); }), "t.csv: file is empty");
}

TEST(CsvRecords, QuotedFields) {
  EXPECT_EQ(body_of("a,b\n\"x,y\",\"z\"\n"), (records{{"x,y", "z"}}));
  EXPECT_EQ(body_of("a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n"), (records{{"say \"hi\"", "\""}}));
  EXPECT_EQ(body_of("a,b\n\"\",\"\"\n"), (records{{"", ""}}));
  EXPECT_EQ(body_of("a,b\n\"\"\"\"\"\",x\n"), (records{{"\"\"", "x"}}));
  EXPECT_EQ(body_of("a,b\nplain,\"quoted\"\n\"quoted\",plain\n"),
            (records{{"plain", "quoted"}, {"quoted", "plain"}}));
  EXPECT_EQ(body_of("a,b\n\"\"\"lead\",\"trail\"\"\"\n"), (records{{"\"lead", "trail\""}}));
}

TEST(CsvRecords, QuotedNewlinesAndLineNumbers) {
  const csv_file f = make("a,b\n\"line1\nline2\",x\n\"crlf\r\nend\",\"\n\n\"\nlast,row\n");
  const read_result r = read_chunks(f, 1);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.recs, (records{{"line1\nline2", "x"}, {"crlf\r\nend", "\n\n"}, {"last", "row"}}));
  EXPECT_EQ(r.lines, (std::vector<std::size_t>{2, 4, 8}));
}

TEST(CsvRecords, CrlfLineEnds) {
  EXPECT_EQ(body_of("a,b\r\n1,2\r\n3,\r\n\"q\",\"r\"\r\n"),
            (records{{"1", "2"}, {"3", ""}, {"q", "r"}}));
  // A lone CR is data of an unquoted field, not a line end.
  EXPECT_EQ(body_of("a,b\n1\r2,3\n"), (records{{"1\r2", "3"}}));
  EXPECT_EQ(body_of("a\n\"x\"\r\n"), (records{{"x"}}));
}

TEST(CsvRecords, MissingFinalNewlineAndTrailingBlankLines) {
  EXPECT_EQ(body_of("a,b\n1,2\n3,4"), (records{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(body_of("a,b\n1,2\n\"3\",\"4\""), (records{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(body_of("a,b\n1,2\n\n\n"), (records{{"1", "2"}}));
  EXPECT_EQ(body_of("a,b\r\n1,2\r\n\r\n\r\n"), (records{{"1", "2"}}));
  EXPECT_EQ(body_of("a,b\n1,\n"), (records{{"1", ""}}));
  EXPECT_EQ(body_of("a,b\n1,"), (records{{"1", ""}}));
}

TEST(CsvRecords, EmptyFields) {
  EXPECT_EQ(body_of("a,b,c\n,,\n1,,\n,,3\n,2,\n"),
            (records{{"", "", ""}, {"1", "", ""}, {"", "", "3"}, {"", "2", ""}}));
  EXPECT_EQ(body_of("a,b,c\n\"\",,\"\"\n"), (records{{"", "", ""}}));
}

TEST(CsvRecords, BlankLineInTheMiddle) {
  // Several columns: a blank line is a record with one field.
  EXPECT_EQ(read_error("a,b\n1,2\n\n3,4\n"), "t.csv:3:1: expected 2 fields, found 1");
  EXPECT_EQ(read_error("a,b\r\n1,2\r\n\r\n3,4\r\n"), "t.csv:3:1: expected 2 fields, found 1");
  // One column: a blank line is an empty value; blank lines at the very end are ignored.
  EXPECT_EQ(body_of("a\n1\n\n2\n\n"), (records{{"1"}, {""}, {"2"}}));
  EXPECT_EQ(body_of("a\n1\n\"\"\n"), (records{{"1"}, {""}}));
}

TEST(CsvRecords, FieldCountErrors) {
  EXPECT_EQ(read_error("a,b\n1,2,3\n"), "t.csv:2:5: expected 2 fields, found 3");
  EXPECT_EQ(read_error("a,b\n1,2\n1\n"), "t.csv:3:2: expected 2 fields, found 1");
  EXPECT_EQ(read_error("a,b,c,d,e,f,g\n1,2,3,4,5,6\n"), "t.csv:2:12: expected 7 fields, found 6");
  EXPECT_EQ(read_error("a\n1,2\n"), "t.csv:2:3: expected 1 field, found 2");
  EXPECT_EQ(read_error("a,b\n1,2\n\"x\ny\",2,3\n"), "t.csv:4:6: expected 2 fields, found 3");
  EXPECT_EQ(read_error("a,b\n1,2\r\n1\r\n"), "t.csv:3:2: expected 2 fields, found 1");
  EXPECT_EQ(read_error("a,b\n\"1\"\n"), "t.csv:2:4: expected 2 fields, found 1");
  const csv_file f = make("a,b\n1,2\n3,4,5\n");
  try {
    read_chunks(f, 1);
    std::vector<std::string_view> fields;
    csv_record_reader r(f, f.split(1)[0]);
    r.next(fields);
    r.next(fields);
    FAIL() << "no error";
  } catch (const data_error& e) {
    EXPECT_EQ(e.file(), "t.csv");
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.column(), 5u);
  }
}

TEST(CsvRecords, QuoteErrors) {
  EXPECT_EQ(read_error("a,b\n1,\"bc\n"), "t.csv:2:3: unterminated quoted field");
  EXPECT_EQ(read_error("a,b\n1,2\n\"x\n\n"), "t.csv:3:1: unterminated quoted field");
  EXPECT_EQ(read_error("a,b\n1,\"b\"\"\n"), "t.csv:2:3: unterminated quoted field");
  EXPECT_EQ(read_error("a,b\n1,b\"c\n"), "t.csv:2:4: quote inside unquoted field");
  EXPECT_EQ(read_error("a,b\n x\",1\n"), "t.csv:2:3: quote inside unquoted field");
  EXPECT_EQ(read_error("a,b\n \"x\",1\n"), "t.csv:2:2: quote inside unquoted field");
  EXPECT_EQ(read_error("a,b\n\"ab\"c,d\n"), "t.csv:2:5: unexpected character after closing quote");
  EXPECT_EQ(read_error("a,b\n1,\"x\ny\" \n"),
            "t.csv:3:3: unexpected character after closing quote");
  EXPECT_EQ(read_error("a,b\n\"x\"\r2,3\n"), "t.csv:2:4: unexpected character after closing quote");
}

TEST(CsvRecords, ColumnsAndFieldLines) {
  const csv_file f = make("a,b,c\nxx,\"y\nyy\",zzz\n");
  csv_record_reader r(f, f.split(1)[0]);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(r.next(fields));
  EXPECT_EQ(r.line(), 2u);
  EXPECT_EQ(r.column(0), 1u);
  EXPECT_EQ(r.column(1), 4u);
  EXPECT_EQ(r.column(2), 5u);
  EXPECT_EQ(r.field_line(0), 2u);
  EXPECT_EQ(r.field_line(1), 2u);
  EXPECT_EQ(r.field_line(2), 3u);
  EXPECT_EQ(r.column(3), 0u);
  EXPECT_EQ(r.field_line(3), 0u);
  EXPECT_FALSE(r.next(fields));

  const csv_file g = make("a,b,c\n1,22,333\n\"x\",yy,\"z\"\"\"\n,,\n");
  csv_record_reader q(g, g.split(1)[0]);
  ASSERT_TRUE(q.next(fields));
  EXPECT_EQ(q.line(), 2u);
  EXPECT_EQ((std::vector<std::size_t>{q.column(0), q.column(1), q.column(2)}),
            (std::vector<std::size_t>{1, 3, 6}));
  ASSERT_TRUE(q.next(fields));
  EXPECT_EQ(q.line(), 3u);
  EXPECT_EQ((std::vector<std::size_t>{q.column(0), q.column(1), q.column(2)}),
            (std::vector<std::size_t>{1, 5, 8}));
  EXPECT_EQ(q.field_line(2), 3u);
  ASSERT_TRUE(q.next(fields));
  EXPECT_EQ((std::vector<std::size_t>{q.column(0), q.column(1), q.column(2)}),
            (std::vector<std::size_t>{1, 2, 3}));
}

TEST(CsvRecords, EscapedFieldsSurviveBufferGrowth) {
  // Many long escaped fields in one record: the reader's buffer grows while it reads them, and
  // every view must still be right at the end.
  const int n = 40;
  std::string header, row;
  records expected(1);
  for (int i = 0; i < n; ++i) {
    const std::string value =
        std::string(100 + i * 37, static_cast<char>('a' + i % 26)) + "\"" + std::to_string(i);
    header += i ? ",c" : "c";  // not `(...) + to_string(i)`: GCC 12 -Wrestrict false positive
    header += std::to_string(i);
    row += i ? "," : "";
    row += '"';  // piece by piece: `"\"" + std::string(...)` trips GCC 12's -Wrestrict
    row.append(100 + i * 37, static_cast<char>('a' + i % 26));
    row += "\"\"";
    row += std::to_string(i);
    row += '"';
    expected[0].push_back(value);
  }
  EXPECT_EQ(body_of(header + "\n" + row + "\n"), expected);
}

TEST(CsvRecords, ReaderIsReusedAcrossRecords) {
  const csv_file f = make("a,b\n\"x\"\"1\",\"y\"\"1\"\n\"x\"\"2\",y2\nx3,y3\n");
  csv_record_reader r(f, f.split(1)[0]);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(r.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"x\"1", "y\"1"}));
  ASSERT_TRUE(r.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"x\"2", "y2"}));
  ASSERT_TRUE(r.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"x3", "y3"}));
  EXPECT_FALSE(r.next(fields));
  EXPECT_FALSE(r.next(fields));
}

TEST(CsvFile, MovingKeepsChunksValid) {
  csv_file f = make("a\n1\n");  // small enough for a short-string buffer
  const auto chunks = f.split(1);
  const csv_file g = std::move(f);
  csv_record_reader r(g, chunks[0]);
  std::vector<std::string_view> fields;
  ASSERT_TRUE(r.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string_view>{"1"}));
}

TEST(CsvScanners, MasksMatchAScalarScan) {
  std::mt19937_64 rng(3);
  const std::string alphabet = "ab,\"\n\r\x80\xFF\x2C\x0A";
  auto check = [&](auto scanner) {
    using S = decltype(scanner);
    for (int round = 0; round < 5000; ++round) {
      std::string block(S::width, ' ');
      for (char& c : block) c = alphabet[rng() % alphabet.size()];
      const detail::csv_masks m = S::scan(block.data());
      std::string seen(S::width, '.');
      for (const auto& [mask, ch] :
           {std::pair{m.commas, ','}, std::pair{m.quotes, '"'}, std::pair{m.newlines, '\n'}}) {
        for (std::uint64_t x = mask; x != 0; x &= x - 1) {
          const std::size_t k = static_cast<std::size_t>(std::countr_zero(x)) >> S::shift;
          ASSERT_LT(k, S::width);
          ASSERT_EQ(seen[k], '.');
          seen[k] = ch;
        }
      }
      for (std::size_t k = 0; k < S::width; ++k) {
        const char c = block[k];
        ASSERT_EQ(seen[k], c == ',' || c == '"' || c == '\n' ? c : '.') << k;
      }
    }
  };
  check(detail::swar_scanner{});
#if defined(__SSE2__)
  check(detail::sse2_scanner{});
#endif
}

TEST(CsvScanners, CountsMatchAScalarCount) {
  std::mt19937_64 rng(4);
  for (int round = 0; round < 300; ++round) {
    // Long runs of one byte fill the per-lane counters up to their flush point.
    std::string s(rng() % 5000, rng() % 2 ? '"' : '\n');
    for (std::size_t i = 0; i < s.size(); i += 1 + rng() % 50) s[i] = "x\"\n"[rng() % 3];
    std::size_t quotes = 1, newlines = 2;  // added to, not overwritten
    detail::count_quotes_and_newlines(s.data(), s.data() + s.size(), quotes, newlines);
    ASSERT_EQ(quotes, 1 + static_cast<std::size_t>(std::count(s.begin(), s.end(), '"')));
    ASSERT_EQ(newlines, 2 + static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')));
  }
}

// --- UTF-8 --------------------------------------------------------------------------------

TEST(CsvUtf8, ValidTextIsAccepted) {
  EXPECT_EQ(
      body_of("name\nJosé\n漢字\n🙂\n\xC2\x80\xDF\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF\n"),
      (records{{"José"}, {"漢字"}, {"🙂"}, {"\xC2\x80\xDF\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF"}}));
}

TEST(CsvUtf8, InvalidBytesAreReportedWithLineAndColumn) {
  EXPECT_EQ(error_of([] { make("a,b\n1,x\xFF\n"); }), "t.csv:2:4: invalid UTF-8 byte 0xff");
  EXPECT_EQ(error_of([] { make("a,b\n1,2\n\"x\ny\",\xC3\x28\n"); }),
            "t.csv:4:4: invalid UTF-8 byte 0xc3");
  EXPECT_EQ(error_of([] { make("a\xC0\x80,b\n"); }), "t.csv:1:2: invalid UTF-8 byte 0xc0");
  EXPECT_EQ(error_of([] {
              make(
                  "\xEF\xBB\xBF"
                  "a\x80,b\n");
            }),
            "t.csv:1:2: invalid UTF-8 byte 0x80");
  EXPECT_EQ(error_of([] { make("a\n\xED\xA0\x80\n"); }), "t.csv:2:1: invalid UTF-8 byte 0xed");
  EXPECT_EQ(error_of([] { make("a\n\xF4\x90\x80\x80\n"); }), "t.csv:2:1: invalid UTF-8 byte 0xf4");
  EXPECT_EQ(error_of([] { make("a\n\xE0\x9F\xBF\n"); }), "t.csv:2:1: invalid UTF-8 byte 0xe0");
  EXPECT_EQ(error_of([] { make("a\n\xF0\x8F\xBF\xBF\n"); }), "t.csv:2:1: invalid UTF-8 byte 0xf0");
  EXPECT_EQ(error_of([] { make("a\nx\xE2\x82"); }), "t.csv:2:2: invalid UTF-8 byte 0xe2");
  EXPECT_EQ(error_of([] { make("a\nxyz\xF5\x80\x80\x80\n"); }),
            "t.csv:2:4: invalid UTF-8 byte 0xf5");
}

/// A plain decoder, independent of the one under test: the offset of the first byte of the
/// first invalid sequence, or npos.
std::size_t reference_utf8_error(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return i;
      cp = cp << 6 | (d & 0x3F);
    }
    const std::uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return detail::npos;
}

TEST(CsvUtf8, ParallelValidationMatchesReference) {
  // Texts of many small blocks, full of multibyte characters straddling block boundaries, with
  // corruptions placed at random and right at block boundaries.
  std::mt19937_64 rng(7);
  const std::vector<std::string> pieces = {"a", "bc,", "\n", "é", "漢", "🙂", "\xF4\x8F\xBF\xBF"};
  const std::vector<std::string> bad = {"\x80",
                                        "\xFF",
                                        "\xC0\xAF",
                                        "\xED\xB0\x80",
                                        "\xE2\x82",
                                        "\xF4\x90\x80\x80",
                                        "\xBF\xBF\xBF\xBF",
                                        "\xC3"};
  for (int round = 0; round < 3000; ++round) {
    const std::size_t block = 8 + rng() % 64;
    std::string s;
    while (s.size() < block * (2 + rng() % 8)) s += pieces[rng() % pieces.size()];
    ASSERT_EQ(detail::utf8_first_error(s.data(), s.size(), block), detail::npos);
    const std::size_t at =
        round % 3 == 0
            ? rng() % s.size()
            : std::min(s.size(), (1 + rng() % (s.size() / block)) * block - 4 + rng() % 8);
    const std::string& b = bad[rng() % bad.size()];
    if (round % 2)
      s.replace(at, std::min(b.size(), s.size() - at), b);
    else
      s.insert(at, b);
    ASSERT_EQ(detail::utf8_first_error(s.data(), s.size(), block), reference_utf8_error(s))
        << "round " << round << " block " << block << " at " << at;
  }
  // The default block size, over a few blocks.
  std::string big;
  while (big.size() < (std::size_t{5} << 19)) big += pieces[rng() % pieces.size()];
  EXPECT_EQ(detail::utf8_first_error(big.data(), big.size()), detail::npos);
  big.insert((std::size_t{1} << 20) + 1, "\x80");
  EXPECT_EQ(detail::utf8_first_error(big.data(), big.size()), reference_utf8_error(big));
  EXPECT_NE(reference_utf8_error(big), detail::npos);
}

TEST(CsvUtf8, WindowsInOrderMatchTheWhole) {
  // utf8_first_error_in over consecutive windows (what open_lean does, a window at a time) finds
  // the error of the whole text, for windows cut anywhere, inside characters too.
  std::mt19937_64 rng(17);
  const std::string alphabet = "ab\n\x80\xBF\xC2\xDF\xE0\xED\xEF\xF0\xF4\xF5\xA0\x90\x8F\xC0";
  const std::vector<std::string> pieces = {"a", "é", "漢", "🙂", "\xF4\x8F\xBF\xBF"};
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    while (s.size() < 1 + rng() % 40) s += pieces[rng() % pieces.size()];
    if (round % 2) s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    const std::size_t window = 1 + rng() % 9, block = 1 + rng() % 5;
    std::size_t got = detail::npos;
    for (std::size_t w = 0; w < s.size() && got == detail::npos; w += window)
      got =
          detail::utf8_first_error_in(s.data(), s.size(), w, std::min(s.size(), w + window), block);
    ASSERT_EQ(got, reference_utf8_error(s)) << "round " << round << " window " << window;
  }
}

TEST(CsvUtf8, SmallRandomBytesMatchReference) {
  std::mt19937_64 rng(99);
  const std::string alphabet = "ab\n\x80\xBF\xC2\xDF\xE0\xED\xEF\xF0\xF4\xF5\xA0\x90\x8F\xC0";
  for (int round = 0; round < 20000; ++round) {
    std::string s(rng() % 12, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    ASSERT_EQ(detail::utf8_first_error(s.data(), s.size()), reference_utf8_error(s));
  }
}

// --- files ---------------------------------------------------------------------------------

std::filesystem::path temp_dir() {
  std::filesystem::path p = std::filesystem::path(B2BSEG_TEST_TMP) / "csv";
  std::filesystem::create_directories(p);
  return p;
}

TEST(CsvOpen, ReadsAFile) {
  const auto path = (temp_dir() / "people.csv").string();
  std::string text = "\xEF\xBB\xBFid,name\r\n";
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",\"n" + std::to_string(i) + "\"\r\n";
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  const csv_file f = csv_file::open(path);
  EXPECT_EQ(f.name(), path);
  EXPECT_EQ(f.header(), (std::vector<std::string>{"id", "name"}));
  const read_result r = read_chunks(f, 3);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.recs.size(), 20000u);
  EXPECT_EQ(r.recs[12345], (std::vector<std::string>{"12345", "n12345"}));
  EXPECT_EQ(r.lines[12345], 12347u);
}

TEST(CsvOpen, Errors) {
  EXPECT_EQ(error_of([] { csv_file::open("/nonexistent/dir/x.csv"); }),
            "/nonexistent/dir/x.csv: cannot open: No such file or directory");
  const std::string dir = temp_dir().string();
  EXPECT_EQ(error_of([&] { csv_file::open(dir); }), dir + ": cannot open: Is a directory");
  const auto empty = (temp_dir() / "empty.csv").string();
  { std::ofstream out(empty, std::ios::binary); }
  EXPECT_EQ(error_of([&] { csv_file::open(empty); }), empty + ": file is empty");
  const auto bad = (temp_dir() / "bad.csv").string();
  {
    std::ofstream out(bad, std::ios::binary);
    out << "a,b\n1,2\n3,\xFE\n";
  }
  EXPECT_EQ(error_of([&] { csv_file::open(bad); }), bad + ":3:3: invalid UTF-8 byte 0xfe");
}

TEST(CsvOpen, LeanScansAndChunkCopiesMatchTheMapping) {
  // open_lean scans copies of small pieces (cut anywhere: inside characters, quoted fields, CRLF)
  // and the reader reads copies of the chunks: the same errors, chunks, records and lines as
  // the mapped text read in place, for random files, malformed ones included.
  std::mt19937_64 rng(2026);
  const std::vector<std::string> atoms = {"a", "7", " ", "é", "漢", "🙂", ",", "\n", "\r\n"};
  const std::vector<std::string> damage = {"\xFE", "\xC0", "\"", "x\"y", "\xE0\x80"};
  const auto path = (temp_dir() / "lean-random.csv").string();
  for (int round = 0; round < 300; ++round) {
    std::string text = round % 5 == 0 ? "\xEF\xBB\xBFk,v,w\n" : "k,v,w\n";
    const int rows = 1 + static_cast<int>(rng() % 60);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < 3; ++c) {
        std::string v;
        for (std::uint64_t k = rng() % 6; k > 0; --k) v += atoms[rng() % atoms.size()];
        const bool quote = v.find_first_of(",\n\r") != std::string::npos || rng() % 4 == 0;
        if (quote) {
          std::string q = "\"";
          for (char ch : v) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
          v = q + (rng() % 3 == 0 ? "\"\"\"" : "\"");
        }
        if (c) text += ',';
        text += v;
      }
      text += rng() % 4 == 0 ? "\r\n" : "\n";
    }
    if (round % 3 == 0) text.insert(rng() % text.size(), damage[rng() % damage.size()]);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    const std::size_t piece = 1 + rng() % 17;
    const std::string where = "round " + std::to_string(round) + ", piece " +
                              std::to_string(piece) + ", text " + ::testing::PrintToString(text);
    const std::string open_error = error_of([&] { csv_file::open(path); });
    ASSERT_EQ(error_of([&] { csv_file::open_lean(path, true, piece); }), open_error) << where;
    if (open_error != "no error") continue;
    const csv_file lean = csv_file::open_lean(path, true, piece), whole = csv_file::open(path);
    for (std::size_t n : {1u, 2u, 5u, 40u}) {
      const auto a = lean.split(n), b = whole.split(n);
      ASSERT_EQ(a.size(), b.size()) << where;
      for (std::size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].begin - lean.text().data(), b[i].begin - whole.text().data()) << where;
        ASSERT_EQ(a[i].first_line, b[i].first_line) << where;
      }
      const read_result ra = read_chunks(lean, n, true), rb = read_chunks(whole, n);
      ASSERT_EQ(ra.error, rb.error) << where << ", " << n << " chunks";
      ASSERT_EQ(ra.recs, rb.recs) << where;
      ASSERT_EQ(ra.lines, rb.lines) << where;
    }
  }
  // A file that shrinks after it is opened: the copy is refused, not read as zeros.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "a,b\n1,2\n3,4\n";
  const csv_file f = csv_file::open_lean(path);
  const std::vector<csv_chunk> parts = f.split(1);
  std::filesystem::resize_file(path, 5);
  chunk_buffer buf;
  EXPECT_NE(error_of([&] { f.copy_chunk(parts[0], buf); }).find("file changed"), std::string::npos);
}

TEST(CsvOpen, LeanOpenReadsAndFailsAsOpenDoes) {
  // open_lean gives its pages back as it scans: the same header, chunks and records as open, and
  // the same errors.
  const auto path = (temp_dir() / "lean.csv").string();
  std::string text = "id,name\n";
  for (int i = 0; i < 50000; ++i) text += std::to_string(i) + ",\"n\n" + std::to_string(i) + "\"\n";
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  const csv_file lean = csv_file::open_lean(path), whole = csv_file::open(path);
  EXPECT_EQ(lean.header(), whole.header());
  EXPECT_EQ(lean.body(), whole.body());
  for (std::size_t n : {1u, 7u, 64u}) {
    const auto a = lean.split(n), b = whole.split(n);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].begin - lean.text().data(), b[i].begin - whole.text().data());
      EXPECT_EQ(a[i].first_line, b[i].first_line);
    }
    const read_result ra = read_chunks(lean, n), rb = read_chunks(whole, n);
    ASSERT_EQ(ra.error, "");
    EXPECT_EQ(ra.recs, rb.recs);
    EXPECT_EQ(ra.lines, rb.lines);
  }
  // A range of whole records splits as the body does.
  {
    const auto a =
        whole.split(csv_chunk{whole.body().data(), whole.body().data() + whole.body_size(),
                              whole.body_first_line()},
                    7);
    const auto b = whole.split(7);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].begin, b[i].begin);
      EXPECT_EQ(a[i].end, b[i].end);
      EXPECT_EQ(a[i].first_line, b[i].first_line);
    }
  }
  lean.drop_pages(lean.text().data(), lean.text().data() + lean.text().size());
  EXPECT_EQ(read_chunks(lean, 3).recs.size(), 50000u);  // dropped pages read the file again
  const auto bad = (temp_dir() / "lean-bad.csv").string();
  {
    std::ofstream out(bad, std::ios::binary);
    out << "a,b\n1,2\n3,\xFE\n";
  }
  EXPECT_EQ(error_of([&] { csv_file::open_lean(bad); }), bad + ":3:3: invalid UTF-8 byte 0xfe");
  // Without the body's check, open succeeds; the reader finds the byte and tells it as open does.
  {
    const csv_file unchecked = csv_file::open_lean(bad, false);
    const std::size_t at = unchecked.first_invalid_utf8(0, unchecked.text().size());
    ASSERT_NE(at, detail::npos);
    EXPECT_EQ(std::string(unchecked.utf8_error(at).what()), bad + ":3:3: invalid UTF-8 byte 0xfe");
  }
  const auto bad_header = (temp_dir() / "lean-bad-header.csv").string();
  {
    std::ofstream out(bad_header, std::ios::binary);
    out << "a,\xFE\n1,2\n";
  }
  EXPECT_EQ(error_of([&] { csv_file::open_lean(bad_header, false); }),
            error_of([&] { csv_file::open(bad_header); }));
  const auto broken = (temp_dir() / "lean-broken-header.csv").string();
  {
    std::ofstream out(broken, std::ios::binary);
    out << "a,,b\n1,2,\xFE\n";  // an empty column name, and an invalid byte after it
  }
  EXPECT_EQ(error_of([&] { csv_file::open_lean(broken, false); }),
            error_of([&] { csv_file::open(broken); }));
  EXPECT_NE(error_of([&] { csv_file::open(broken); }).find("UTF-8"), std::string::npos);
  // A file opened again is checked against the status of its first opening.
  {
    const auto again = (temp_dir() / "lean-again.csv").string();
    std::ofstream(again, std::ios::binary) << "a,b\n1,2\n";
    const csv_file first = csv_file::open_lean(again, false);
    const struct stat before = *first.mapped_status();
    EXPECT_EQ(error_of([&] { csv_file::open_lean(again, false).throw_if_changed(&before); }),
              "no error");
    std::ofstream(again, std::ios::binary) << "a,b\n1,2\n3,4\n";
    EXPECT_NE(error_of([&] {
                csv_file::open_lean(again, false).throw_if_changed(&before);
              }).find("file changed while it was being loaded"),
              std::string::npos);
  }
  const auto mac = (temp_dir() / "lean-mac.csv").string();
  {
    std::ofstream out(mac, std::ios::binary);
    out << "a,b\r1,2\r";
  }
  EXPECT_EQ(error_of([&] { csv_file::open_lean(mac); }), error_of([&] { csv_file::open(mac); }));
  EXPECT_NE(error_of([&] { csv_file::open(mac); }).find("CR alone"), std::string::npos);
}

// --- splitting -----------------------------------------------------------------------------

struct generated {
  std::string text;
  records recs;
  std::vector<std::size_t> lines;
};

/// A random CSV with its expected records and record lines: quoted fields with commas, quotes,
/// CR/LF and newlines, empty fields, UTF-8, mixed line ends, with or without a final newline.
generated generate(std::mt19937_64& rng, std::size_t rows) {
  static const std::vector<std::string> values = {"",
                                                  "",
                                                  "abc",
                                                  "x y",
                                                  "12345",
                                                  "a,b",
                                                  "say \"hi\"",
                                                  "line1\nline2",
                                                  "crlf\r\nend",
                                                  "\n",
                                                  "\"",
                                                  "José 漢字 🙂",
                                                  ",,,",
                                                  "\n\n\n",
                                                  "\r",
                                                  "\"\"\n\"",
                                                  "long value with spaces"};
  generated g;
  const std::size_t cols = 1 + rng() % 5;
  std::size_t line = 1;
  auto emit_record = [&](const std::vector<std::string>& rec) {
    const std::string start_text = g.text;
    for (std::size_t c = 0; c < rec.size(); ++c) {
      if (c) g.text += ',';
      const std::string& v = rec[c];
      const bool special = v.find_first_of(",\"\r\n") != std::string::npos;
      if (special || (cols == 1 && v.empty()) || rng() % 4 == 0) {
        g.text += '"';
        for (char ch : v) g.text += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        g.text += '"';
      } else {
        g.text += v;
      }
    }
    for (std::size_t i = start_text.size(); i < g.text.size(); ++i) line += g.text[i] == '\n';
  };
  std::vector<std::string> header;
  for (std::size_t c = 0; c < cols; ++c)
    header.push_back(rng() % 5 == 0 ? "col\n" + std::to_string(c) : "c" + std::to_string(c));
  emit_record(header);
  for (std::size_t r = 0; r < rows; ++r) {
    g.text += rng() % 2 ? "\n" : "\r\n";
    ++line;
    std::vector<std::string> rec;
    for (std::size_t c = 0; c < cols; ++c) rec.push_back(values[rng() % values.size()]);
    g.lines.push_back(line);
    emit_record(rec);
    g.recs.push_back(rec);
  }
  if (rng() % 2) g.text += rng() % 2 ? "\n" : "\r\n\r\n";
  return g;
}

TEST(CsvSplit, AnyChunkCountGivesTheSameRecords) {
  std::mt19937_64 rng(2026);
  for (int round = 0; round < 150; ++round) {
    const generated g = generate(rng, rng() % 60);
    const csv_file f = make(g.text);
    const read_result one = read_chunks(f, 1);
    ASSERT_EQ(one.error, "") << g.text;
    ASSERT_EQ(one.recs, g.recs) << g.text;
    ASSERT_EQ(one.lines, g.lines) << g.text;
    for (std::size_t n = 0; n <= 16; ++n) {
      const auto chunks = f.split(n);
      ASSERT_FALSE(chunks.empty());
      ASSERT_LE(chunks.size(), std::max<std::size_t>(n, 1));
      // The chunks tile the body in order.
      ASSERT_EQ(chunks.front().begin, f.body().data());
      ASSERT_EQ(chunks.back().end, f.body().data() + f.body_size());
      for (std::size_t i = 1; i < chunks.size(); ++i) {
        ASSERT_EQ(chunks[i].begin, chunks[i - 1].end);
        ASSERT_LT(chunks[i].begin, chunks[i].end);
      }
      const read_result r = read_chunks(f, n);
      ASSERT_EQ(r.error, "") << "n=" << n << "\n" << g.text;
      ASSERT_EQ(r.recs, g.recs) << "n=" << n << "\n" << g.text;
      ASSERT_EQ(r.lines, g.lines) << "n=" << n << "\n" << g.text;
    }
  }
}

TEST(CsvSplit, ChunksActuallySplit) {
  std::string text = "a,b\n";
  for (int i = 0; i < 1000; ++i) text += std::to_string(i) + ",\"x\ny\"\n";
  const csv_file f = make(text);
  EXPECT_EQ(f.split(16).size(), 16u);
  EXPECT_EQ(f.split(1).size(), 1u);
  // One huge quoted field: no boundary inside it.
  const csv_file g = make("a\n\"" + std::string(10000, '\n') + "\"\n1\n");
  const auto chunks = g.split(8);
  EXPECT_LE(chunks.size(), 2u);
  EXPECT_EQ(read_chunks(g, 8).recs, (records{{std::string(10000, '\n')}, {"1"}}));
  EXPECT_EQ(read_chunks(g, 8).lines, (std::vector<std::size_t>{2, 10003}));
}

TEST(CsvSplit, LargeBodyInParallel) {
  std::mt19937_64 rng(11);
  generated big;
  do big = generate(rng, 12000);
  while (big.recs.empty() || big.recs[0].size() < 3);
  ASSERT_GT(big.text.size(), std::size_t{1} << 18);  // over the parallel threshold
  const csv_file f = make(big.text);
  for (std::size_t n : {1, 2, 7, 16, 64, 300}) {
    const read_result r = read_chunks(f, n);
    ASSERT_EQ(r.error, "") << n;
    ASSERT_EQ(r.recs, big.recs) << n;
    ASSERT_EQ(r.lines, big.lines) << n;
  }
}

TEST(CsvSplit, MalformedFilesGiveTheSameFirstError) {
  std::mt19937_64 rng(77);
  int with_error = 0;
  for (int round = 0; round < 400; ++round) {
    std::string text = generate(rng, 5 + rng() % 40).text;
    const int mutations = 1 + static_cast<int>(rng() % 3);
    for (int m = 0; m < mutations; ++m) {
      const std::size_t at = rng() % (text.size() + 1);
      switch (rng() % 4) {
        case 0:
          text.insert(at, "\"");
          break;
        case 1:
          text.insert(at, ",");
          break;
        case 2:
          text.insert(at, "\n");
          break;
        default:
          if (at < text.size()) text.erase(at, 1);
      }
    }
    std::optional<csv_file> f;
    try {
      f.emplace(make(text));
    } catch (const data_error&) {
      continue;  // a broken header or broken UTF-8: nothing to split
    }
    const read_result one = read_chunks(*f, 1);
    with_error += !one.error.empty();
    for (std::size_t n = 2; n <= 16; ++n) {
      const read_result r = read_chunks(*f, n);
      ASSERT_EQ(r.error, one.error) << "n=" << n << "\n" << text;
      ASSERT_EQ(r.recs, one.recs) << "n=" << n << "\n" << text;
    }
  }
  EXPECT_GT(with_error, 100);  // the mutations do produce malformed files
}

}  // namespace
}  // namespace b2bseg
