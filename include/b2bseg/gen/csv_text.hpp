// CSV row building for the dataset generator: RFC 4180 quoting, numbers, ISO 8601 timestamps.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace b2bseg::detail::gen {

inline constexpr std::int64_t seconds_per_day = 86400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// The date of a day number (inverse of days_from_civil).
struct civil_date {
  std::int64_t year;
  unsigned month;
  unsigned day;
};
constexpr civil_date civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

/// Floor division for possibly negative values.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/// Builds CSV rows into a string: call the field functions in column order, then `end_row`.
/// The buffer keeps its capacity across `clear`, so one builder serves many blocks.
class csv_rows {
 public:
  std::string& text() noexcept { return out_; }
  const std::string& text() const noexcept { return out_; }
  std::uint64_t rows() const noexcept { return rows_; }
  void clear() noexcept {
    out_.clear();
    rows_ = 0;
    first_ = true;
  }

  /// A string field, quoted when it holds a comma, a quote, CR or LF.
  void str(std::string_view s) {
    sep();
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
      out_.append(s);
      return;
    }
    out_.push_back('"');
    for (char c : s) {
      if (c == '"') out_.push_back('"');
      out_.push_back(c);
    }
    out_.push_back('"');
  }
  /// A field known to need no quoting (identifiers, enum values, URLs without commas).
  void raw(std::string_view s) {
    sep();
    out_.append(s);
  }
  /// An empty field: null.
  void null() { sep(); }
  void integer(std::int64_t v) {
    sep();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  /// A decimal with two fraction digits from an integer number of hundredths: 1234567 -> 12345.67.
  void cents(std::int64_t v) {
    sep();
    if (v < 0) {
      out_.push_back('-');
      v = -v;
    }
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v / 100);
    out_.append(buf, r.ptr);
    const int c = static_cast<int>(v % 100);
    out_.push_back('.');
    out_.push_back(static_cast<char>('0' + c / 10));
    out_.push_back(static_cast<char>('0' + c % 10));
  }
  void boolean(bool b) { raw(b ? std::string_view("true") : std::string_view("false")); }
  /// A key: a prefix letter and a number zero-padded to `width` digits ("A0000123").
  void key(char prefix, std::uint64_t n, int width = 7) {
    sep();
    append_key(out_, prefix, n, width);
  }
  /// A timestamp in seconds since the epoch, as 2026-03-04T10:15:00Z.
  void timestamp(std::int64_t seconds) {
    sep();
    append_timestamp(out_, seconds);
  }
  void end_row() {
    out_.push_back('\n');
    first_ = true;
    ++rows_;
  }

  /// Appends "A0000123" (prefix, then n zero-padded to width digits) to s.
  static void append_key(std::string& s, char prefix, std::uint64_t n, int width = 7) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    const int len = static_cast<int>(r.ptr - buf);
    s.push_back(prefix);
    for (int i = len; i < width; ++i) s.push_back('0');
    s.append(buf, r.ptr);
  }
  /// Appends an ISO 8601 UTC timestamp with seconds and a Z.
  static void append_timestamp(std::string& s, std::int64_t seconds) {
    const std::int64_t days = floor_div(seconds, seconds_per_day);
    std::int64_t sod = seconds - days * seconds_per_day;
    const civil_date d = civil_from_days(days);
    char buf[32];
    char* p = buf;
    std::int64_t y = d.year;
    if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;  // not reached by the generator's ranges
    p[0] = static_cast<char>('0' + y / 1000);
    p[1] = static_cast<char>('0' + y / 100 % 10);
    p[2] = static_cast<char>('0' + y / 10 % 10);
    p[3] = static_cast<char>('0' + y % 10);
    p[4] = '-';
    two(p + 5, d.month);
    p[7] = '-';
    two(p + 8, d.day);
    p[10] = 'T';
    two(p + 11, static_cast<unsigned>(sod / 3600));
    p[13] = ':';
    two(p + 14, static_cast<unsigned>(sod / 60 % 60));
    p[16] = ':';
    two(p + 17, static_cast<unsigned>(sod % 60));
    p[19] = 'Z';
    s.append(buf, 20);
  }

 private:
  static void two(char* p, unsigned v) noexcept {
    p[0] = static_cast<char>('0' + v / 10 % 10);
    p[1] = static_cast<char>('0' + v % 10);
  }
  void sep() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }

  std::string out_;
  std::uint64_t rows_ = 0;
  bool first_ = true;
};

}  // namespace b2bseg::detail::gen
