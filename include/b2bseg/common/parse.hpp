// Value parsers for CSV fields (int, float, bool, ISO 8601 timestamp) and the timestamp formatter.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include "b2bseg/common/types.hpp"

namespace b2bseg {

namespace detail {

/// `s` without leading and trailing ASCII spaces and tabs. O(spaces).
constexpr std::string_view trim_spaces(std::string_view s) noexcept {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// ASCII lower case of `c`; other bytes unchanged.
constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// True when `s` equals the lower-case word `w`, ignoring ASCII case.
constexpr bool iequals(std::string_view s, std::string_view w) noexcept {
  if (s.size() != w.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (ascii_lower(s[i]) != w[i]) return false;
  return true;
}

/// Reads exactly `n` decimal digits of `s` at `i` into `out`; advances `i`. False when fewer.
constexpr bool fixed_digits(std::string_view s, std::size_t& i, int n, int& out) noexcept {
  if (s.size() - i < static_cast<std::size_t>(n)) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[i + static_cast<std::size_t>(k)];
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  i += static_cast<std::size_t>(n);
  out = v;
  return true;
}

constexpr bool is_leap_year(std::int64_t y) noexcept {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/// Number of days in month `m` (1-12) of year `y`, proleptic Gregorian calendar.
constexpr int days_in_month(std::int64_t y, int m) noexcept {
  constexpr int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/// Floor division for a positive divisor.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// The calendar arithmetic below counts in 400-year cycles ("eras") of 146097 days, with years
// that start on March 1 so that the leap day is the last day of a year. Day 0 of the shifted
// calendar, 0000-03-01, lies 719468 days before 1970-01-01.
inline constexpr std::int64_t days_per_era = 146097;
inline constexpr std::int64_t epoch_shift = 719468;

/// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1-12, d 1-31). O(1).
constexpr std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
  const std::int64_t year = m <= 2 ? y - 1 : y;  // year counted from March
  const std::int64_t era = floor_div(year, 400);
  const std::int64_t year_of_era = year - era * 400;            // [0, 399]
  const std::int64_t month_from_march = m > 2 ? m - 3 : m + 9;  // [0, 11]
  // Month lengths from March repeat as 31,30,31,30,31 over five months (153 days): the day of
  // the year where month k starts is (153 k + 2) / 5.
  const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + (d - 1);  // [0, 365]
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // [0, 146096]
  return era * days_per_era + day_of_era - epoch_shift;
}

/// The inverse of days_from_civil: the date of day `days` since 1970-01-01. O(1).
constexpr void civil_from_days(std::int64_t days, std::int64_t& y, int& m, int& d) noexcept {
  const std::int64_t z = days + epoch_shift;
  const std::int64_t era = floor_div(z, days_per_era);
  const std::int64_t day_of_era = z - era * days_per_era;  // [0, 146096]
  // Remove the leap days before this day (one every 4 years, none every 100, one every 400; the
  // last day of the era is the 400-year leap day) to get the year within the era.
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // [0, 365]
  const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;           // [0, 11]
  d = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  m = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  y = year_of_era + era * 400 + (m <= 2 ? 1 : 0);
}

inline constexpr std::int64_t us_per_second = 1'000'000;
inline constexpr std::int64_t us_per_day = 86'400 * us_per_second;

}  // namespace detail

/// Parses a 64-bit signed decimal integer: optional `+`/`-`, then digits; ASCII spaces and tabs
/// around it are allowed. False (and `out` untouched) on anything else or on overflow. O(size).
inline bool parse_int64(std::string_view s, std::int64_t& out) noexcept {
  s = detail::trim_spaces(s);
  std::size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i == s.size()) return false;
  // Accumulate the magnitude as unsigned; the limit is 2^63 for negatives, 2^63 - 1 otherwise.
  const std::uint64_t limit =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
  std::uint64_t v = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (!detail::is_digit(c)) return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (limit - digit) / 10) return false;
    v = v * 10 + digit;
  }
  // Two's complement: -v for v == 2^63 is INT64_MIN, computed without signed overflow.
  out = negative ? static_cast<std::int64_t>(~v + 1) : static_cast<std::int64_t>(v);
  return true;
}

/// Parses a decimal floating-point number (`42`, `-1.5`, `.5`, `1e6`, `2.5E-3`, leading `+`),
/// with ASCII spaces and tabs around it allowed. Rejects `inf`/`nan` spellings, hexadecimal, and
/// values outside the range of double (overflow or underflow to zero). Locale-independent
/// (std::from_chars). False (and `out` untouched) on failure. O(size).
inline bool parse_double(std::string_view s, double& out) noexcept {
  s = detail::trim_spaces(s);
  const bool plus = !s.empty() && s[0] == '+';
  const std::size_t i = plus ? 1 : 0;  // from_chars accepts '-' but not '+'
  const std::size_t first = !plus && !s.empty() && s[0] == '-' ? 1 : i;
  // Only a digit or a decimal point may start the number: this rejects inf, nan and "+-1".
  if (first >= s.size() || !(detail::is_digit(s[first]) || s[first] == '.')) return false;
  double v = 0;
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data() + i, end, v, std::chars_format::general);
  if (r.ec != std::errc{} || r.ptr != end) return false;
  out = v;
  return true;
}

/// Parses a bool: `true`/`false`, `1`/`0`, `yes`/`no`, in any ASCII case, with ASCII spaces and
/// tabs around it allowed. False (and `out` untouched) on anything else. O(size).
inline bool parse_bool(std::string_view s, bool& out) noexcept {
  s = detail::trim_spaces(s);
  if (s == "1" || detail::iequals(s, "true") || detail::iequals(s, "yes")) {
    out = true;
    return true;
  }
  if (s == "0" || detail::iequals(s, "false") || detail::iequals(s, "no")) {
    out = false;
    return true;
  }
  return false;
}

/// Parses an ISO 8601 timestamp into microseconds since 1970-01-01T00:00:00Z. Forms:
/// `YYYY-MM-DD`, optionally followed by `T`, `t` or a space and `hh:mm`, `hh:mm:ss`, or
/// `hh:mm:ss.f` with 1 to 9 fraction digits (`.` or `,`; digits beyond microseconds are
/// truncated), then optionally an offset: `Z`/`z`, `+hh:mm`, `+hhmm`, `+hh` or the same with `-`.
/// Without an offset the time is UTC. Years 0000-9999; month, day (leap years included), hour
/// (< 24), minute and second (< 60, no leap seconds) and the offset (< 24:00) are range-checked.
/// ASCII spaces and tabs around it are allowed. False (and `out` untouched) on failure. O(size).
inline bool parse_timestamp(std::string_view s, timestamp_us& out) noexcept {
  using namespace detail;
  s = trim_spaces(s);
  std::size_t i = 0;
  int year = 0, month = 0, day = 0;
  if (!fixed_digits(s, i, 4, year) || i >= s.size() || s[i++] != '-' ||
      !fixed_digits(s, i, 2, month) || i >= s.size() || s[i++] != '-' ||
      !fixed_digits(s, i, 2, day))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  std::int64_t us = days_from_civil(year, month, day) * us_per_day;
  if (i == s.size()) {
    out = us;
    return true;
  }
  if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
  ++i;
  int hour = 0, minute = 0, second = 0;
  if (!fixed_digits(s, i, 2, hour) || i >= s.size() || s[i++] != ':' ||
      !fixed_digits(s, i, 2, minute))
    return false;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!fixed_digits(s, i, 2, second)) return false;
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
      ++i;
      std::int64_t fraction = 0;  // microseconds
      std::int64_t scale = 100'000;
      int digits = 0;
      for (; i < s.size() && is_digit(s[i]); ++i, ++digits) {
        if (digits == 9) return false;
        fraction += (s[i] - '0') * scale;
        scale /= 10;  // becomes 0 past microseconds: further digits are truncated
      }
      if (digits == 0) return false;
      us += fraction;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return false;
  us += (static_cast<std::int64_t>(hour) * 3600 + minute * 60 + second) * us_per_second;
  if (i < s.size()) {
    const char c = s[i++];
    if (c == 'Z' || c == 'z') {
      // UTC
    } else if (c == '+' || c == '-') {
      int off_hour = 0, off_minute = 0;
      if (!fixed_digits(s, i, 2, off_hour)) return false;
      if (i < s.size()) {
        if (s[i] == ':') ++i;
        if (!fixed_digits(s, i, 2, off_minute)) return false;
      }
      if (off_hour > 23 || off_minute > 59) return false;
      const std::int64_t offset =
          (static_cast<std::int64_t>(off_hour) * 3600 + off_minute * 60) * us_per_second;
      // Local time = UTC + offset, so UTC = local - offset.
      us += c == '+' ? -offset : offset;
    } else {
      return false;
    }
    if (i != s.size()) return false;
  }
  out = us;
  return true;
}

/// Formats `t` as ISO 8601 UTC: `2026-11-22T10:15:00Z`, with a `.fff` fraction when `t` has
/// milliseconds and `.ffffff` when it has microseconds, none when whole seconds. Inverse of
/// parse_timestamp for years 0000-9999 (other years are written with as many digits as they need
/// and a leading `-` when negative). O(1); allocates the result.
inline std::string format_timestamp(timestamp_us t) {
  using namespace detail;
  // Floor division without overflow, even for the extremes of int64.
  std::int64_t days = t / us_per_day;
  std::int64_t in_day = t % us_per_day;
  if (in_day < 0) {
    in_day += us_per_day;  // [0, us_per_day)
    --days;
  }
  std::int64_t year = 0;
  int month = 0, day = 0;
  civil_from_days(days, year, month, day);
  const auto seconds = in_day / us_per_second;
  const auto micro = in_day % us_per_second;

  char buf[48];
  char* p = buf;
  auto put = [&p](std::int64_t v, int width) {
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0);
    while (n < width) tmp[n++] = '0';
    while (n > 0) *p++ = tmp[--n];
  };
  if (year < 0) *p++ = '-';
  put(year < 0 ? -year : year, 4);
  *p++ = '-';
  put(month, 2);
  *p++ = '-';
  put(day, 2);
  *p++ = 'T';
  put(seconds / 3600, 2);
  *p++ = ':';
  put(seconds / 60 % 60, 2);
  *p++ = ':';
  put(seconds % 60, 2);
  if (micro != 0) {
    *p++ = '.';
    if (micro % 1000 == 0)
      put(micro / 1000, 3);
    else
      put(micro, 6);
  }
  *p++ = 'Z';
  return std::string(buf, p);
}

}  // namespace b2bseg
