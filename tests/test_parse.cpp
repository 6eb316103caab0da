// Tests of the value parsers (int, float, bool, timestamp) and format_timestamp.
#include "b2bseg/common/parse.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace b2bseg {
namespace {

std::int64_t int_or(std::string_view s, std::int64_t fallback = -999) {
  std::int64_t v = fallback;
  return parse_int64(s, v) ? v : fallback;
}

TEST(ParseInt64, AcceptsSignsDigitsAndSurroundingSpaces) {
  EXPECT_EQ(int_or("0"), 0);
  EXPECT_EQ(int_or("42"), 42);
  EXPECT_EQ(int_or("+42"), 42);
  EXPECT_EQ(int_or("-42"), -42);
  EXPECT_EQ(int_or("007"), 7);
  EXPECT_EQ(int_or("-0"), 0);
  EXPECT_EQ(int_or("  12 "), 12);
  EXPECT_EQ(int_or("\t-3\t"), -3);
}

TEST(ParseInt64, LimitsAndOverflow) {
  EXPECT_EQ(int_or("9223372036854775807"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(int_or("-9223372036854775808"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(int_or("+9223372036854775807"), std::numeric_limits<std::int64_t>::max());
  std::int64_t v = 5;
  EXPECT_FALSE(parse_int64("9223372036854775808", v));
  EXPECT_FALSE(parse_int64("-9223372036854775809", v));
  EXPECT_FALSE(parse_int64("18446744073709551616", v));
  EXPECT_FALSE(parse_int64("99999999999999999999999", v));
  EXPECT_EQ(v, 5);  // untouched on failure
}

TEST(ParseInt64, RejectsNonIntegers) {
  std::int64_t v = 5;
  for (const char* s : {"", " ", "+", "-", "--1", "+-1", "-+1", "1a", "a1", "1 2", "1.0", "1e3",
                        "0x10", "1,000", "١"}) {
    EXPECT_FALSE(parse_int64(s, v)) << s;
  }
  EXPECT_EQ(v, 5);
}

double double_or(std::string_view s, double fallback = -999.0) {
  double v = fallback;
  return parse_double(s, v) ? v : fallback;
}

TEST(ParseDouble, AcceptsDecimalsExponentsAndIntegers) {
  EXPECT_EQ(double_or("1.5"), 1.5);
  EXPECT_EQ(double_or("-2.5e3"), -2500.0);
  EXPECT_EQ(double_or("2.5E-3"), 0.0025);
  EXPECT_EQ(double_or("1e6"), 1e6);
  EXPECT_EQ(double_or("+1e+2"), 100.0);
  EXPECT_EQ(double_or(".5"), 0.5);
  EXPECT_EQ(double_or("-.5"), -0.5);
  EXPECT_EQ(double_or("5."), 5.0);
  EXPECT_EQ(double_or("42"), 42.0);
  EXPECT_EQ(double_or("+42"), 42.0);
  EXPECT_EQ(double_or("  3.25 "), 3.25);
  EXPECT_EQ(double_or("0.1"), 0.1);  // correctly rounded
  EXPECT_EQ(double_or("1.7976931348623157e308"), std::numeric_limits<double>::max());
  EXPECT_EQ(double_or("4.9e-324"), std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(std::signbit(double_or("-0.0")));
}

TEST(ParseDouble, RejectsSpecialValuesAndGarbage) {
  double v = 7.0;
  for (const char* s :
       {"",    " ",   "+",    "-",     ".",      "inf",    "-inf",  "+inf",  "Infinity",
        "nan", "NaN", "-nan", "1e400", "-1e400", "1e-400", "1.2.3", "0x1p3", "+-1",
        "-+1", "--1", "1e",   "1e+",   "e5",     "1,5",    "1 5",   "12abc"}) {
    EXPECT_FALSE(parse_double(s, v)) << s;
  }
  EXPECT_EQ(v, 7.0);
}

TEST(ParseBool, AllSpellingsAnyCase) {
  for (const char* s : {"true", "TRUE", "True", "tRuE", "1", "yes", "YES", "Yes", " true "}) {
    bool v = false;
    EXPECT_TRUE(parse_bool(s, v)) << s;
    EXPECT_TRUE(v) << s;
  }
  for (const char* s : {"false", "FALSE", "False", "0", "no", "NO", "No", "\tno"}) {
    bool v = true;
    EXPECT_TRUE(parse_bool(s, v)) << s;
    EXPECT_FALSE(v) << s;
  }
  bool v = true;
  for (const char* s : {"", "t", "f", "y", "n", "2", "-1", "truee", "nope", "01", "on", "off"})
    EXPECT_FALSE(parse_bool(s, v)) << s;
  EXPECT_TRUE(v);
}

constexpr timestamp_us us(std::int64_t seconds) {
  return seconds * 1'000'000;
}

timestamp_us ts(std::string_view s) {
  timestamp_us v = 0;
  EXPECT_TRUE(parse_timestamp(s, v)) << s;
  return v;
}

TEST(ParseTimestamp, DateOnlyIsMidnightUtc) {
  EXPECT_EQ(ts("1970-01-01"), 0);
  EXPECT_EQ(ts("1970-01-02"), us(86400));
  EXPECT_EQ(ts("1969-12-31"), us(-86400));
  EXPECT_EQ(ts("2026-11-22"), us(1795305600));
  EXPECT_EQ(ts("2000-02-29"), us(951782400));
  EXPECT_EQ(ts("2000-03-01"), us(951868800));
  EXPECT_EQ(ts("0000-01-01"), us(-62167219200));
  EXPECT_EQ(ts("9999-12-31"), us(253402214400));
  EXPECT_EQ(ts("  2026-11-22 "), us(1795305600));
}

TEST(ParseTimestamp, TimeForms) {
  const timestamp_us t = us(1795305600 + 10 * 3600 + 15 * 60);  // 2026-11-22T10:15:00Z
  EXPECT_EQ(ts("2026-11-22T10:15:00Z"), t);
  EXPECT_EQ(ts("2026-11-22t10:15:00z"), t);
  EXPECT_EQ(ts("2026-11-22 10:15:00"), t);
  EXPECT_EQ(ts("2026-11-22T10:15:00"), t);
  EXPECT_EQ(ts("2026-11-22T10:15"), t);
  EXPECT_EQ(ts("2026-11-22T10:15Z"), t);
  EXPECT_EQ(ts("2026-11-22T10:15:07Z"), t + us(7));
  EXPECT_EQ(ts("2026-11-22T23:59:59Z"), us(1795305600 + 86399));
}

TEST(ParseTimestamp, FractionalSeconds) {
  const timestamp_us t = ts("2026-11-22T10:15:00Z");
  EXPECT_EQ(ts("2026-11-22T10:15:00.5Z"), t + 500'000);
  EXPECT_EQ(ts("2026-11-22T10:15:00.123Z"), t + 123'000);
  EXPECT_EQ(ts("2026-11-22T10:15:00,123Z"), t + 123'000);
  EXPECT_EQ(ts("2026-11-22T10:15:00.123456Z"), t + 123'456);
  EXPECT_EQ(ts("2026-11-22T10:15:00.1234567"), t + 123'456);     // truncated
  EXPECT_EQ(ts("2026-11-22T10:15:00.999999999Z"), t + 999'999);  // 9 digits, truncated
  EXPECT_EQ(ts("2026-11-22T10:15:00.000001+00:00"), t + 1);
  timestamp_us v = 0;
  EXPECT_FALSE(parse_timestamp("2026-11-22T10:15:00.1234567890Z", v));  // 10 digits
  EXPECT_FALSE(parse_timestamp("2026-11-22T10:15:00.Z", v));
  EXPECT_FALSE(parse_timestamp("2026-11-22T10:15:00.", v));
}

TEST(ParseTimestamp, Offsets) {
  const timestamp_us utc = ts("2026-11-22T09:15:00Z");
  EXPECT_EQ(ts("2026-11-22T10:15:00+01:00"), utc);
  EXPECT_EQ(ts("2026-11-22T10:15:00+0100"), utc);
  EXPECT_EQ(ts("2026-11-22T10:15:00+01"), utc);
  EXPECT_EQ(ts("2026-11-22T04:15:00-05:00"), utc);
  EXPECT_EQ(ts("2026-11-22T04:15:00-0500"), utc);
  EXPECT_EQ(ts("2026-11-22T04:15-05"), utc);
  EXPECT_EQ(ts("2026-11-22T14:45:00+05:30"), utc);
  EXPECT_EQ(ts("2026-11-22 09:15:00+00:00"), utc);
  EXPECT_EQ(ts("2026-11-22T09:15:00-00:00"), utc);
  EXPECT_EQ(ts("2026-11-22T10:15:00.25+01:00"), utc + 250'000);
  // Offsets crossing midnight and a year boundary.
  EXPECT_EQ(ts("2027-01-01T00:30:00+01:00"), ts("2026-12-31T23:30:00Z"));
  EXPECT_EQ(ts("2026-12-31T20:00:00-05:00"), ts("2027-01-01T01:00:00Z"));
}

TEST(ParseTimestamp, RejectsBadDatesAndForms) {
  timestamp_us v = 42;
  for (const char* s : {"",
                        "2026",
                        "2026-11",
                        "2026-1-22",
                        "26-11-22",
                        "2026/11/22",
                        "20261122",
                        "2026-13-01",
                        "2026-00-10",
                        "2026-11-00",
                        "2026-11-31",
                        "2026-02-29",
                        "1900-02-29",
                        "2100-02-29",
                        "2026-04-31",
                        "2026-11-22T24:00:00Z",
                        "2026-11-22T10:60:00Z",
                        "2026-11-22T10:15:60Z",
                        "2026-11-22T10",
                        "2026-11-22T10:1",
                        "2026-11-22T1:15",
                        "2026-11-22T10:15:0",
                        "2026-11-22T",
                        "2026-11-22X10:15",
                        "2026-11-22Z",
                        "2026-11-22T10:15:00+1",
                        "2026-11-22T10:15:00+01:0",
                        "2026-11-22T10:15:00+24:00",
                        "2026-11-22T10:15:00+01:60",
                        "2026-11-22T10:15:00 +01:00",
                        "2026-11-22T10:15:00ZZ",
                        "2026-11-22T10:15:00UTC",
                        "2026-11-22T10:15:00+01:00x",
                        "-2026-11-22",
                        "+2026-11-22",
                        "10000-01-01",
                        "2026-11-22T10:15:00.abc",
                        "2026-11-22T10:15:00.12.3"}) {
    EXPECT_FALSE(parse_timestamp(s, v)) << s;
  }
  EXPECT_EQ(v, 42);
  // Leap days that exist.
  EXPECT_TRUE(parse_timestamp("2024-02-29", v));
  EXPECT_TRUE(parse_timestamp("2000-02-29", v));
  EXPECT_TRUE(parse_timestamp("0000-02-29", v));
}

TEST(ParseTimestamp, AgreesWithDayCountingAcrossCenturies) {
  // Count days one by one from 1970-01-01 forward and backward and compare.
  std::int64_t days = 0;
  for (int y = 1970; y <= 2430; ++y)
    for (int m = 1; m <= 12; ++m)
      for (int d = 1; d <= detail::days_in_month(y, m); ++d, ++days)
        ASSERT_EQ(detail::days_from_civil(y, m, d), days) << y << "-" << m << "-" << d;
  days = -1;
  for (int y = 1969; y >= 0; --y)
    for (int m = 12; m >= 1; --m)
      for (int d = detail::days_in_month(y, m); d >= 1; --d, --days)
        ASSERT_EQ(detail::days_from_civil(y, m, d), days) << y << "-" << m << "-" << d;
}

TEST(FormatTimestamp, Forms) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp(ts("2026-11-22T10:15:00Z")), "2026-11-22T10:15:00Z");
  EXPECT_EQ(format_timestamp(ts("2026-11-22T10:15:00.5Z")), "2026-11-22T10:15:00.500Z");
  EXPECT_EQ(format_timestamp(ts("2026-11-22T10:15:00.123Z")), "2026-11-22T10:15:00.123Z");
  EXPECT_EQ(format_timestamp(ts("2026-11-22T10:15:00.000001Z")), "2026-11-22T10:15:00.000001Z");
  EXPECT_EQ(format_timestamp(ts("2026-11-22T10:15:00.12345Z")), "2026-11-22T10:15:00.123450Z");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(ts("2000-02-29T12:00:00+01:00")), "2000-02-29T11:00:00Z");
  EXPECT_EQ(format_timestamp(ts("0000-01-01")), "0000-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp(ts("9999-12-31T23:59:59.999999Z")), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(ts("0000-01-01") - us(86400)), "-0001-12-31T00:00:00Z");
  // The extremes of int64 do not overflow.
  EXPECT_FALSE(format_timestamp(std::numeric_limits<std::int64_t>::min()).empty());
  EXPECT_FALSE(format_timestamp(std::numeric_limits<std::int64_t>::max()).empty());
}

TEST(FormatTimestamp, RoundTripsRandomInstants) {
  std::mt19937_64 rng(12345);
  const timestamp_us lo = ts("0000-01-01"), hi = ts("9999-12-31T23:59:59.999999Z");
  std::uniform_int_distribution<timestamp_us> any(lo, hi);
  for (int i = 0; i < 20000; ++i) {
    timestamp_us t = any(rng);
    if (i % 3 == 0) t -= t % 1'000'000;  // whole seconds
    if (i % 3 == 1) t -= t % 1'000;      // milliseconds
    const std::string s = format_timestamp(t);
    timestamp_us back = 0;
    ASSERT_TRUE(parse_timestamp(s, back)) << s;
    ASSERT_EQ(back, t) << s;
    const std::size_t size = t % 1'000'000 == 0 ? 20 : t % 1'000 == 0 ? 24 : 27;
    ASSERT_EQ(s.size(), size) << s;
  }
}

}  // namespace
}  // namespace b2bseg
