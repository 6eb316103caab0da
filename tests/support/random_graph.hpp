// Random B2B graphs for tests: a fixed B2B-like schema, random rows from a seed (skewed sizes,
// nulls, empty and duplicated lists, awkward strings, unset links), built through graph_builder,
// with a plain model of every value so that the built graph can be checked against it.
#pragma once

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "b2bseg/load/graph_builder.hpp"
#include "b2bseg/storage/graph.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg::test_support {

/// A small deterministic generator (splitmix64): the same seed gives the same sequence on every
/// platform, unlike the standard distributions.
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) (0 when n is 0); the modulo bias is irrelevant here.
  std::uint64_t below(std::uint64_t n) noexcept { return n ? next() % n : 0; }
  /// Uniform in [lo, hi], inclusive.
  std::int64_t range(std::int64_t lo, std::int64_t hi) noexcept {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  /// Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) noexcept { return unit() < p; }
  /// An index in [0, n) skewed towards 0: larger `power`, stronger skew.
  std::size_t skewed(std::size_t n, double power) noexcept {
    if (n == 0) return 0;
    auto i = static_cast<std::size_t>(std::pow(unit(), power) * static_cast<double>(n));
    return std::min(i, n - 1);
  }
  template <class T>
  const T& pick(const std::vector<T>& v) noexcept {
    return v[below(v.size())];
  }

 private:
  std::uint64_t s_;
};

// --- timestamps, written independently of the library's parser ---------------------------------

namespace tstext {

inline constexpr std::int64_t us_per_second = 1'000'000;
inline constexpr std::int64_t us_per_day = 86'400 * us_per_second;

inline bool leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}
inline int days_in_month(std::int64_t y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[m - 1];
}
inline std::int64_t days_in_year(std::int64_t y) {
  return leap(y) ? 366 : 365;
}

/// Days since 1970-01-01 of a civil date, by counting (years 1000..3000 only; tests need no more).
inline std::int64_t days_from_date(std::int64_t y, int m, int d) {
  std::int64_t days = 0;
  for (std::int64_t k = 1970; k < y; ++k) days += days_in_year(k);
  for (std::int64_t k = y; k < 1970; ++k) days -= days_in_year(k);
  for (int k = 1; k < m; ++k) days += days_in_month(y, k);
  return days + d - 1;
}

inline void date_from_days(std::int64_t days, std::int64_t& y, int& m, int& d) {
  y = 1970;
  while (days < 0) days += days_in_year(--y);
  while (days >= days_in_year(y)) days -= days_in_year(y++);
  m = 1;
  while (days >= days_in_month(y, m)) days -= days_in_month(y, m++);
  d = static_cast<int>(days) + 1;
}

inline std::string two(std::int64_t v) {
  char b[8];
  std::snprintf(b, sizeof b, "%02d", static_cast<int>(v));
  return b;
}

/// Date and time of `t` (UTC), plus the fraction: "YYYY-MM-DD", "hh:mm:ss", "" or ".fff" or
/// ".ffffff".
inline void split(std::int64_t t, std::string& date, std::string& time, std::string& frac) {
  std::int64_t days = t / us_per_day, in_day = t % us_per_day;
  if (in_day < 0) {
    in_day += us_per_day;
    --days;
  }
  std::int64_t y = 0;
  int m = 0, d = 0;
  date_from_days(days, y, m, d);
  char b[32];
  std::snprintf(b, sizeof b, "%04d-%02d-%02d", static_cast<int>(y), m, d);
  date = b;
  const std::int64_t s = in_day / us_per_second, us = in_day % us_per_second;
  time = two(s / 3600) + ":" + two(s / 60 % 60) + ":" + two(s % 60);
  frac.clear();
  if (us % 1000 == 0 && us != 0) {
    std::snprintf(b, sizeof b, ".%03d", static_cast<int>(us / 1000));
    frac = b;
  } else if (us != 0) {
    std::snprintf(b, sizeof b, ".%06d", static_cast<int>(us));
    frac = b;
  }
}

/// `t` as ISO 8601 UTC with a `Z` (fraction only when needed): `2026-01-02T03:04:05.678Z`.
inline std::string iso_utc(std::int64_t t) {
  std::string date, time, frac;
  split(t, date, time, frac);
  return date + "T" + time + frac + "Z";
}

/// `t` in one of the SPEC 2.2 forms, chosen at random among those that denote exactly `t`: date
/// only, `T...Z`, space separated without offset (unless `!space_ok`: segment literals cannot
/// hold a space), with a `+hh:mm`, `+hhmm` or `-hh:mm` offset.
inline std::string any_form(std::int64_t t, rng& r, bool space_ok = true) {
  std::string date, time, frac;
  split(t, date, time, frac);
  const bool midnight = time == "00:00:00" && frac.empty();
  const int form = static_cast<int>(r.below(6));
  if (midnight && form == 0) return date;
  if (form == 1) return date + (space_ok ? " " : "T") + time + frac;
  if (form >= 2 && form <= 4) {
    // A local time with an offset: local = UTC + offset.
    std::int64_t off_min = r.range(-11, 13) * 60 + (r.chance(0.3) ? 30 : 0);
    if (off_min == 0) off_min = 60;
    split(t + off_min * 60 * us_per_second, date, time, frac);
    const std::int64_t a = off_min < 0 ? -off_min : off_min;
    const std::string sign = off_min < 0 ? "-" : "+";
    if (form == 3) return date + "T" + time + frac + sign + two(a / 60) + two(a % 60);
    return date + "T" + time + frac + sign + two(a / 60) + ":" + two(a % 60);
  }
  return date + "T" + time + frac + "Z";
}

}  // namespace tstext

/// The shortest text that reads back as exactly `x` (std::to_chars round trip).
inline std::string double_text(double x) {
  char b[64];
  auto res = std::to_chars(b, b + sizeof b, x);
  return std::string(b, res.ptr);
}

// --- the model -----------------------------------------------------------------------------

/// The value a generated row holds for one attribute, as the test meant it.
struct model_value {
  bool null = true;
  std::int64_t i = 0;             ///< int, timestamp
  double f = 0;                   ///< float
  bool b = false;                 ///< bool
  std::string s;                  ///< string
  std::vector<std::string> list;  ///< string[]: distinct, sorted by bytes; empty when null
};

/// One generated row: its key (empty without key), values and the key of each link's target.
struct model_row {
  std::string key;
  std::vector<model_value> values;   ///< per schema attribute
  std::vector<std::string> parents;  ///< per schema link: target key, empty when unset
  std::vector<std::pair<std::string, std::string>> fields;  ///< the text handed to the builder
};

/// A generated dataset: the schema, the rows as meant, and the graph built from them.
struct random_dataset {
  std::uint64_t seed = 0;
  timestamp_us as_of = 0;
  b2bseg::schema schema;
  std::vector<std::vector<model_row>> rows;  ///< per entity id, in the order they were added
  b2bseg::graph graph;
};

struct random_graph_options {
  /// Multiplies the row counts (1 = tens to a few hundred rows per entity).
  double scale = 1.0;
  /// Row counts exactly `base x scale` (no random sizes, no empty entities).
  bool exact_sizes = false;
};

namespace detail_gen {

enum class gen : std::uint8_t {
  category,     // low-cardinality string, skewed
  name,         // high-cardinality string with awkward characters
  email,        // unique string
  int_small,    // small ints, negatives and zero
  int_wide,     // wide ints
  int_huge,     // around 2^53, shared with float_huge
  float_money,  // amounts with fractions
  float_unit,   // in [0, 1]
  float_huge,   // around 2^53
  boolean,
  ts_recent,  // near as_of, with values on `now - N days` boundaries
  ts_wide,    // 1965..2035
  list,       // string[] from a small vocabulary, with duplicates and empty lists
  seq,        // unique int identifying a keyless row
};

struct attr_spec {
  std::string name;
  value_type type;
  gen kind;
  std::string column;  // empty: same as name
};
struct link_spec {
  std::string name, column, to, reverse;
};
struct entity_spec {
  std::string name;
  std::string key;  // empty: no key
  std::vector<attr_spec> attrs;
  std::vector<link_spec> links;
  std::size_t base_rows;
};

inline std::vector<entity_spec> b2b_specs() {
  using vt = value_type;
  return {
      {"account",
       "account_id",
       {{"name", vt::string, gen::name, ""},
        {"industry", vt::string, gen::category, "Industry"},
        {"employees", vt::integer, gen::int_wide, ""},
        {"annual_revenue", vt::floating, gen::float_money, "Annual Revenue"},
        {"is_customer", vt::boolean, gen::boolean, ""},
        {"created_at", vt::timestamp, gen::ts_wide, ""},
        {"tags", vt::string_list, gen::list, ""},
        {"last", vt::timestamp, gen::ts_recent, "last_activity"},
        {"duns", vt::integer, gen::int_huge, ""},
        {"market_cap", vt::floating, gen::float_huge, ""}},
       {{"parent", "parent_id", "account", "subsidiaries"},
        // A cycle with person.account: one of the two must be resolved after both tables exist.
        {"owner", "owner_id", "person", "owned_accounts"}},
       40},
      {"person",
       "person_id",
       {{"email", vt::string, gen::email, ""},
        {"seniority", vt::string, gen::category, ""},
        {"first_name", vt::string, gen::name, "First Name"},
        {"segment", vt::string, gen::category, ""},
        {"score", vt::integer, gen::int_small, ""},
        {"rating", vt::floating, gen::float_unit, ""},
        {"is_active", vt::boolean, gen::boolean, ""},
        {"last_seen", vt::timestamp, gen::ts_recent, ""},
        {"interests", vt::string_list, gen::list, ""}},
       {{"account", "account_id", "account", "people"},
        {"manager", "manager_id", "person", "reports"}},
       120},
      {"opportunity",
       "opportunity_id",
       {{"name", vt::string, gen::name, ""},
        {"stage", vt::string, gen::category, ""},
        {"amount", vt::floating, gen::float_money, ""},
        {"probability", vt::integer, gen::int_small, ""},
        {"is_closed", vt::boolean, gen::boolean, ""},
        {"close_date", vt::timestamp, gen::ts_recent, ""},
        {"created_at", vt::timestamp, gen::ts_recent, ""},
        {"budgeted_cost", vt::floating, gen::float_money, ""},
        {"actual_cost", vt::integer, gen::int_wide, ""},
        {"products", vt::string_list, gen::list, ""}},
       {{"account", "account_id", "account", "opportunities"}},
       60},
      {"opportunity_person",
       "role_id",
       {{"role", vt::string, gen::category, ""},
        {"is_primary", vt::boolean, gen::boolean, ""},
        {"since", vt::timestamp, gen::ts_recent, ""},
        {"weight", vt::floating, gen::float_unit, ""},
        {"influence", vt::integer, gen::int_small, ""}},
       {{"opportunity", "opportunity_id", "opportunity", "roles"},
        {"person", "person_id", "person", "opportunity_roles"}},
       80},
      {"event",
       "",
       {{"type", vt::string, gen::category, ""},
        {"timestamp", vt::timestamp, gen::ts_recent, ""},
        {"value", vt::integer, gen::int_wide, ""},
        {"duration", vt::floating, gen::float_money, ""},
        {"seq", vt::integer, gen::seq, ""},
        {"labels", vt::string_list, gen::list, ""},
        {"is_bot", vt::boolean, gen::boolean, ""},
        {"null", vt::string, gen::category, "null_reason"}},
       {{"person", "person_id", "person", "events"},
        {"account", "account_id", "account", "account_events"}},
       200},
  };
}

/// Words that strings are made of: ASCII, case variants, UTF-8, LIKE metacharacters, commas,
/// quotes, backslashes.
inline const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> v = {"Software",
                                             "software",
                                             "SOFTWARE",
                                             "Fintech",
                                             "Healthcare",
                                             "Retail",
                                             "Manufacturing",
                                             "VP",
                                             "Director",
                                             "C-Level",
                                             "Manager",
                                             "Engineer",
                                             "Intern",
                                             "webinar.attended",
                                             "email.opened",
                                             "page.viewed",
                                             "form_submitted",
                                             "Closed Won",
                                             "Closed Lost",
                                             "Prospecting",
                                             "Decision Maker",
                                             "Champion",
                                             "Influencer",
                                             "SMB",
                                             "Enterprise",
                                             "Mid-Market",
                                             "ai",
                                             "cloud",
                                             "saas",
                                             "security",
                                             "AI",
                                             "Café",
                                             "café",
                                             "CAFÉ",
                                             "naïve",
                                             "Zürich",
                                             "日本",
                                             "東京",
                                             "Ωmega",
                                             "emoji 🚀",
                                             "50%",
                                             "100% off",
                                             "a_b",
                                             "a%b",
                                             "back\\slash",
                                             "\\",
                                             "%",
                                             "_",
                                             "comma, inc",
                                             "\"quoted\"",
                                             "it's",
                                             "x",
                                             "X",
                                             "",
                                             "tab\there",
                                             "line\nbreak",
                                             "Z",
                                             "~tilde",
                                             " space"};
  return v;
}

inline std::string word(rng& r) {
  const std::string& w = r.pick(vocabulary());
  return w.empty() ? std::string("empty") : w;
}

/// Per-seed generation state of one attribute: its pools and null rate.
struct attr_state {
  double null_rate = 0;
  std::vector<std::string> strings;  // category / list pool
  std::vector<std::int64_t> ints;
  std::vector<double> floats;
  double skew = 2;
};

inline attr_state make_state(const attr_spec& a, rng& r, timestamp_us as_of) {
  attr_state st;
  static const double null_rates[] = {0, 0, 0.05, 0.2, 0.5, 0.9};
  st.null_rate = null_rates[r.below(6)];
  if (a.kind == gen::seq || a.kind == gen::email) st.null_rate = a.kind == gen::seq ? 0 : 0.05;
  st.skew = 1 + r.unit() * 3;
  switch (a.kind) {
    case gen::category:
    case gen::list: {
      // Mostly a few values; now and then many (more than 16 matching codes: the scan paths).
      const std::size_t n = r.chance(0.25) ? 20 + r.below(40) : 1 + r.below(10);
      while (st.strings.size() < n) {
        std::string w = word(r);
        if (n > 10 && r.chance(0.6)) w += " " + std::to_string(r.below(100));
        if (a.kind == gen::list) {
          // List elements cannot hold '|' (the separator) and are never empty.
          if (w.find('|') != std::string::npos) continue;
        }
        if (std::find(st.strings.begin(), st.strings.end(), w) == st.strings.end())
          st.strings.push_back(w);
      }
      break;
    }
    case gen::int_small:
      for (int k = 0; k < 8; ++k) st.ints.push_back(r.range(-2, 12));
      break;
    case gen::int_wide:
      for (int k = 0; k < 12; ++k)
        st.ints.push_back(r.chance(0.5) ? r.range(0, 2000) : r.range(-1'000'000, 1'000'000'000));
      st.ints.push_back(0);
      break;
    case gen::int_huge:
    case gen::float_huge: {
      const std::int64_t p53 = std::int64_t(1) << 53;
      for (std::int64_t d = -3; d <= 3; ++d) st.ints.push_back(p53 + d);
      st.ints.push_back(p53 * 2 + 1);
      st.ints.push_back(1'000'000'000'000'000);
      st.ints.push_back(-p53 - 1);
      st.ints.push_back(12345);
      for (auto x : st.ints) st.floats.push_back(static_cast<double>(x));
      if (a.kind == gen::int_huge && r.chance(0.5)) {
        // The extremes of int64: sums over them overflow, so generated segments never sum them.
        st.ints.push_back(INT64_MAX);
        st.ints.push_back(INT64_MAX - 1);
        st.ints.push_back(INT64_MIN);
      }
      st.floats.push_back(9223372036854775808.0);   // 2^63, just above every int64
      st.floats.push_back(-9223372036854775808.0);  // -2^63 = INT64_MIN
      st.floats.push_back(9007199254740992.5);      // not representable: reads as 2^53
      st.floats.push_back(4503599627370496.5);      // 2^52 + 0.5, exact
      st.floats.push_back(0.5);
      break;
    }
    case gen::float_money:
      for (int k = 0; k < 10; ++k) {
        double x = static_cast<double>(r.range(0, 200'000)) / (r.chance(0.5) ? 1.0 : 4.0);
        if (r.chance(0.1)) x = -x;
        st.floats.push_back(x);
      }
      st.floats.push_back(0.1);
      st.floats.push_back(0.2);
      st.floats.push_back(0.30000000000000004);
      st.floats.push_back(-0.0);
      st.floats.push_back(1e15);
      break;
    case gen::float_unit:
      for (int k = 0; k < 6; ++k) st.floats.push_back(static_cast<double>(r.range(0, 20)) / 20.0);
      st.floats.push_back(1.0 / 3.0);
      break;
    case gen::ts_recent: {
      // On the `now - N days` boundaries that `within last N days` tests, and off by one
      // microsecond or millisecond either side.
      static const std::int64_t days[] = {0, 1, 7, 30, 90, 365};
      for (std::int64_t d : days)
        for (std::int64_t delta : {std::int64_t(0), std::int64_t(-1), std::int64_t(1000)}) {
          st.ints.push_back(as_of - d * tstext::us_per_day + delta);
          st.ints.push_back(as_of + d * tstext::us_per_day + delta);
        }
      break;
    }
    default:
      break;
  }
  return st;
}

inline model_value make_value(const attr_spec& a, attr_state& st, rng& r, timestamp_us as_of,
                              std::size_t row_index, std::string& text) {
  model_value v;
  text.clear();
  if (r.chance(st.null_rate) && a.kind != gen::seq) return v;  // null: empty text
  v.null = false;
  switch (a.kind) {
    case gen::category:
      v.s = st.strings[r.skewed(st.strings.size(), st.skew)];
      if (v.s.empty()) v.s = "empty";
      text = v.s;
      break;
    case gen::name: {
      std::string s = word(r);
      if (r.chance(0.7)) s += " " + word(r);
      if (r.chance(0.6)) s += " " + std::to_string(r.below(1000));
      v.s = s;
      text = s;
      break;
    }
    case gen::email: {
      v.s = "user" + std::to_string(row_index) + (r.chance(0.5) ? "@Example.com" : "@corp.io");
      text = v.s;
      break;
    }
    case gen::int_small:
    case gen::int_wide:
    case gen::int_huge:
      v.i = r.chance(0.8)
                ? st.ints[r.skewed(st.ints.size(), st.skew)]
                : (a.kind == gen::int_small ? r.range(-5, 30) : r.range(-5'000'000, 5'000'000));
      text = std::to_string(v.i);
      break;
    case gen::seq:
      v.i = static_cast<std::int64_t>(row_index) * 7 + 3;
      text = std::to_string(v.i);
      break;
    case gen::float_money:
    case gen::float_unit:
    case gen::float_huge: {
      v.f = r.chance(0.8) ? st.floats[r.skewed(st.floats.size(), st.skew)]
                          : static_cast<double>(r.range(-100000, 100000)) / 8.0;
      // Different spellings of the same double.
      const int form = static_cast<int>(r.below(4));
      if (form == 0) {
        char b[64];
        std::snprintf(b, sizeof b, "%.17g", v.f);
        text = b;
      } else if (form == 1 && v.f != 0) {
        char b[64];
        auto res = std::to_chars(b, b + sizeof b, v.f, std::chars_format::scientific);
        text = std::string(b, res.ptr);
      } else {
        text = double_text(v.f);
      }
      if (a.kind == gen::float_huge && st.floats.size() > 2 && r.chance(0.1)) {
        // A decimal that is not exactly representable: the loader must round it as strtod does.
        text = "9007199254740993";
        v.f = 9007199254740992.0;
      }
      break;
    }
    case gen::boolean: {
      v.b = r.chance(0.5);
      static const char* t[] = {"true", "TRUE", "1", "yes", "Yes", "True"};
      static const char* f[] = {"false", "FALSE", "0", "no", "No", "False"};
      text = v.b ? t[r.below(6)] : f[r.below(6)];
      break;
    }
    case gen::ts_recent: {
      if (r.chance(0.5)) {
        v.i = st.ints[r.below(st.ints.size())];
      } else {
        v.i = as_of + r.range(-400, 60) * tstext::us_per_day + r.range(0, 86'399'999) * 1000;
      }
      text = tstext::any_form(v.i, r);
      break;
    }
    case gen::ts_wide: {
      const std::int64_t day =
          r.range(tstext::days_from_date(1965, 1, 1), tstext::days_from_date(2035, 12, 31));
      v.i = day * tstext::us_per_day;
      if (r.chance(0.4)) v.i += r.range(0, 86'399) * tstext::us_per_second;
      text = tstext::any_form(v.i, r);
      break;
    }
    case gen::list: {
      // 0 to 5 elements, skewed, with duplicates; an empty list is null.
      const std::size_t n = r.chance(0.15) ? 0 : 1 + r.skewed(5, 2);
      std::vector<std::string> elems;
      for (std::size_t k = 0; k < n; ++k) {
        elems.push_back(st.strings[r.skewed(st.strings.size(), st.skew)]);
        if (r.chance(0.15)) elems.push_back(elems.back());
      }
      for (std::size_t k = 0; k < elems.size(); ++k) text += (k ? "|" : "") + elems[k];
      std::sort(elems.begin(), elems.end());
      elems.erase(std::unique(elems.begin(), elems.end()), elems.end());
      v.list = elems;
      if (elems.empty()) v.null = true;
      break;
    }
  }
  return v;
}

inline std::string make_key(const std::string& entity, std::size_t i, rng& r) {
  const std::string p = entity.substr(0, 3);
  switch (r.below(8)) {
    case 0:
      return p + ", \"" + std::to_string(i) + "\"";
    case 1:
      return "ü-" + p + std::to_string(i);
    case 2:
      return p + " " + std::to_string(i) + " ";
    default:
      return p + std::to_string(i);
  }
}

inline std::size_t pick_size(std::size_t base, double scale, bool exact, rng& r) {
  if (exact) return static_cast<std::size_t>(static_cast<double>(base) * scale);
  static const std::size_t edges[] = {0, 1, 2, 63, 64, 65, 127, 128, 129};
  if (r.chance(0.04)) return 0;
  if (r.chance(0.15)) return edges[r.below(9)];
  const double f = 0.2 + r.unit() * 1.8;
  return static_cast<std::size_t>(static_cast<double>(base) * f * scale) + 1;
}

}  // namespace detail_gen

/// Generates a dataset from `seed`: the B2B schema (entity order shuffled), rows with skewed
/// sizes and distributions, and the graph built from them with graph_builder. Throws what the
/// builder throws (a generated dataset is always valid, so that is a bug).
inline random_dataset make_random_dataset(std::uint64_t seed,
                                          const random_graph_options& opts = {}) {
  using namespace detail_gen;
  rng r(seed * 0x2545F4914F6CDD1DULL + 17);
  random_dataset ds;
  ds.seed = seed;
  // An as-of instant in 2026 with a millisecond part.
  ds.as_of = tstext::days_from_date(2026, 1, 1) * tstext::us_per_day +
             r.range(0, 364) * tstext::us_per_day + r.range(0, 86'399'999) * 1000;

  std::vector<entity_spec> specs = b2b_specs();
  // Shuffle the entity order: it changes build order, reverse order and entity ids.
  for (std::size_t k = specs.size(); k > 1; --k) std::swap(specs[k - 1], specs[r.below(k)]);
  // Shuffle attribute order within each entity too.
  for (auto& sp : specs)
    for (std::size_t k = sp.attrs.size(); k > 1; --k)
      std::swap(sp.attrs[k - 1], sp.attrs[r.below(k)]);

  schema s;
  for (const auto& sp : specs) {
    entity_def e;
    e.name = sp.name;
    e.file = sp.name + ".csv";
    if (!sp.key.empty()) e.key = sp.key;
    for (const auto& a : sp.attrs)
      e.attributes.push_back({a.name, a.type, a.column.empty() ? a.name : a.column});
    for (const auto& l : sp.links) {
      link_def ld;
      ld.name = l.name;
      ld.column = l.column;
      ld.to = l.to;
      ld.reverse = l.reverse;
      e.links.push_back(std::move(ld));
    }
    s.entities.push_back(std::move(e));
  }
  graph_builder builder(s);  // validates: fills targets and reverses
  ds.schema = builder.schema();

  // Keys first, so that links can point at them.
  std::vector<std::vector<std::string>> keys(specs.size());
  std::vector<std::size_t> sizes(specs.size());
  for (std::size_t e = 0; e < specs.size(); ++e) {
    sizes[e] = pick_size(specs[e].base_rows, opts.scale, opts.exact_sizes, r);
    if (!specs[e].key.empty())
      for (std::size_t i = 0; i < sizes[e]; ++i) keys[e].push_back(make_key(specs[e].name, i, r));
  }
  ds.rows.resize(specs.size());
  for (std::size_t e = 0; e < specs.size(); ++e) {
    const auto& sp = specs[e];
    const entity_def& def = ds.schema.entities[e];
    std::vector<attr_state> states;
    for (const auto& a : sp.attrs) states.push_back(make_state(a, r, ds.as_of));
    // Per link: how often unset, how skewed, and a permutation of the targets so that the
    // popular parents are not always the first ones.
    struct link_state {
      double unset;
      double power;
      std::vector<std::size_t> perm;
    };
    std::vector<link_state> ls;
    for (const auto& l : def.links) {
      static const double unset_rates[] = {0, 0.05, 0.2, 0.5, 1.0};
      link_state st{unset_rates[r.below(5)], 1 + r.unit() * 3, {}};
      if (l.name == "account" && sp.name == "event") st.unset = 0.7;
      const std::size_t n = keys[l.target].size();
      for (std::size_t k = 0; k < n; ++k) st.perm.push_back(k);
      for (std::size_t k = n; k > 1; --k) std::swap(st.perm[k - 1], st.perm[r.below(k)]);
      ls.push_back(std::move(st));
    }
    for (std::size_t i = 0; i < sizes[e]; ++i) {
      model_row row;
      if (def.key) {
        row.key = keys[e][i];
        row.fields.emplace_back(*def.key, row.key);
      }
      for (std::size_t a = 0; a < sp.attrs.size(); ++a) {
        std::string text;
        row.values.push_back(make_value(sp.attrs[a], states[a], r, ds.as_of, i, text));
        row.fields.emplace_back(def.attributes[a].column, text);
      }
      for (std::size_t l = 0; l < def.links.size(); ++l) {
        const auto& targets = keys[def.links[l].target];
        std::string parent;
        if (!targets.empty() && !r.chance(ls[l].unset))
          parent = targets[ls[l].perm[r.skewed(targets.size(), ls[l].power)]];
        row.parents.push_back(parent);
        row.fields.emplace_back(def.links[l].column, parent);
      }
      ds.rows[e].push_back(std::move(row));
    }
  }
  // Hand the rows to the builder (it numbers them itself: by cluster parent, then key).
  for (std::size_t e = 0; e < specs.size(); ++e)
    for (const auto& row : ds.rows[e]) builder.add_row(ds.schema.entities[e].name, row.fields);
  ds.graph = builder.build();
  return ds;
}

// --- checks and dumps ----------------------------------------------------------------------

/// One value of row `r` as text, for reports: `null`, `"str"`, `[a|b]`, numbers, ISO timestamps.
inline std::string cell_text(const graph& g, entity_id e, std::uint32_t a, row_id r) {
  const column& c = g.attribute(e, a);
  if (c.is_null(r)) return "null";
  switch (c.type()) {
    case value_type::string:
      return "\"" + std::string(c.string_at(r)) + "\"";
    case value_type::string_list: {
      std::string s = "[";
      bool first = true;
      for (auto code : c.list_at(r)) {
        s += (first ? "\"" : "|\"") + std::string(c.dictionary()[code]) + "\"";
        first = false;
      }
      return s + "]";
    }
    case value_type::integer:
      return std::to_string(c.ints()[r]);
    case value_type::timestamp:
      return "@" + tstext::iso_utc(c.ints()[r]);
    case value_type::floating:
      return double_text(c.floats()[r]);
    case value_type::boolean:
      return c.bool_at(r) ? "true" : "false";
  }
  return "?";
}

/// Row `r` of entity `e`: key, every attribute and the key of every link's target.
inline std::string describe_row(const graph& g, entity_id e, row_id r) {
  const entity_def& def = g.schema().entities[e];
  std::string s = def.name + "#" + std::to_string(r);
  if (def.key) s += " key=\"" + std::string(g.key(e, r)) + "\"";
  for (std::uint32_t a = 0; a < def.attributes.size(); ++a)
    s += " " + def.attributes[a].name + "=" + cell_text(g, e, a, r);
  for (std::uint32_t l = 0; l < def.links.size(); ++l) {
    row_id p = g.link(e, l).parent(r);
    const entity_id t = def.links[l].target;
    s += " " + def.links[l].name + "->";
    if (p == no_row)
      s += "unset";
    else if (g.schema().entities[t].key)
      s += "\"" + std::string(g.key(t, p)) + "\"";
    else
      s += "#" + std::to_string(p);
  }
  return s;
}

/// Every row of every entity, one per line (for failure reports).
inline std::string dump_graph(const graph& g) {
  std::string s;
  for (entity_id e = 0; e < g.entity_count(); ++e)
    for (row_id r = 0; r < g.rows(e); ++r) s += describe_row(g, e, r) + "\n";
  return s;
}

/// Compares graph `g` (by default the one built from the dataset) with the model of what was
/// generated: row counts, every value, every link. Keyless rows are matched by their `seq`
/// attribute. Returns the differences (at most 20), empty when `g` holds exactly what was meant.
inline std::vector<std::string> check_against_model(const random_dataset& ds,
                                                    const graph* other = nullptr) {
  std::vector<std::string> out;
  const graph& g = other ? *other : ds.graph;
  auto fail = [&](const std::string& m) {
    if (out.size() < 20) out.push_back(m);
  };
  for (entity_id e = 0; e < ds.schema.entities.size(); ++e) {
    const entity_def& def = ds.schema.entities[e];
    if (g.rows(e) != ds.rows[e].size()) {
      fail(def.name + ": " + std::to_string(g.rows(e)) + " rows, generated " +
           std::to_string(ds.rows[e].size()));
      continue;
    }
    std::map<std::int64_t, row_id> by_seq;
    const int seq = def.find_attribute("seq");
    if (!def.key && seq >= 0)
      for (row_id r = 0; r < g.rows(e); ++r) by_seq[g.attribute(e, seq).ints()[r]] = r;
    for (std::size_t i = 0; i < ds.rows[e].size(); ++i) {
      const model_row& m = ds.rows[e][i];
      row_id r = no_row;
      if (def.key) {
        r = g.find_key(e, m.key);
      } else if (seq >= 0) {
        auto it = by_seq.find(m.values[seq].i);
        if (it != by_seq.end()) r = it->second;
      }
      const std::string where = def.name + " row " + std::to_string(i) + " (" + m.key + ")";
      if (r == no_row) {
        fail(where + ": not found in the graph");
        continue;
      }
      if (def.key && g.key(e, r) != m.key)
        fail(where + ": key reads back as " + std::string(g.key(e, r)));
      for (std::uint32_t a = 0; a < def.attributes.size(); ++a) {
        const column& c = g.attribute(e, a);
        const model_value& v = m.values[a];
        const std::string what = where + " " + def.attributes[a].name + ": ";
        bool null = c.is_null(r);
        if (c.type() == value_type::string_list && c.list_at(r).empty() != null)
          fail(what + "empty list and null disagree");
        if (null != v.null) {
          fail(what + (null ? "null, generated " : "not null, generated null"));
          continue;
        }
        if (null) continue;
        bool ok = true;
        switch (c.type()) {
          case value_type::integer:
          case value_type::timestamp:
            ok = c.ints()[r] == v.i;
            break;
          case value_type::floating:
            ok = c.floats()[r] == v.f;
            break;
          case value_type::boolean:
            ok = c.bool_at(r) == v.b;
            break;
          case value_type::string:
            ok = c.string_at(r) == v.s;
            break;
          case value_type::string_list: {
            std::vector<std::string> got;
            for (auto code : c.list_at(r)) got.emplace_back(c.dictionary()[code]);
            ok = got == v.list;
            break;
          }
        }
        if (!ok) fail(what + "reads back as " + cell_text(g, e, a, r));
      }
      for (std::uint32_t l = 0; l < def.links.size(); ++l) {
        const row_id p = g.link(e, l).parent(r);
        const entity_id t = def.links[l].target;
        const std::string got = p == no_row ? "" : std::string(g.key(t, p));
        if (got != m.parents[l])
          fail(where + " link " + def.links[l].name + ": points at '" + got + "', generated '" +
               m.parents[l] + "'");
      }
    }
  }
  return out;
}

// --- the dataset as files (SPEC 2) -----------------------------------------------------------

inline std::string json_string(std::string_view v) {
  std::string s = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') s += '\\';
    s += c;
  }
  return s + "\"";
}

/// A CSV field: quoted when it must be (comma, quote, line break, or empty text that must stay
/// apart from null is not a thing here) and now and then when it need not be.
inline std::string csv_field(std::string_view v, rng& r) {
  const bool must = v.find_first_of(",\"\r\n") != std::string_view::npos;
  if (!must && !r.chance(0.1)) return std::string(v);
  std::string s = "\"";
  for (char c : v) {
    if (c == '"') s += '"';
    s += c;
  }
  return s + "\"";
}

/// Writes `ds` as a dataset folder: `schema.json` (attributes as bare types or with a column
/// object) and one CSV per entity, columns in random order plus one the schema does not name,
/// RFC 4180 quoting, `\n` or `\r\n` line ends, sometimes a byte-order mark. Returns false when a
/// file cannot be written.
inline bool write_dataset_files(const random_dataset& ds, const std::string& dir) {
  rng r(ds.seed * 31 + 7);
  std::string js = "{\n  \"entities\": {";
  for (std::size_t e = 0; e < ds.schema.entities.size(); ++e) {
    const entity_def& def = ds.schema.entities[e];
    js += (e ? ",\n    " : "\n    ") + json_string(def.name) +
          ": {\n      \"file\": " + json_string(def.file);
    if (def.key) js += ",\n      \"key\": " + json_string(*def.key);
    js += ",\n      \"attributes\": {";
    for (std::size_t a = 0; a < def.attributes.size(); ++a) {
      const attribute_def& ad = def.attributes[a];
      js += (a ? ", " : "") + json_string(ad.name) + ": ";
      const std::string type = json_string(to_string(ad.type));
      if (ad.column == ad.name && r.chance(0.8))
        js += type;
      else
        js += "{\"type\": " + type + ", \"column\": " + json_string(ad.column) + "}";
    }
    js += "}";
    if (!def.links.empty()) {
      js += ",\n      \"links\": {";
      for (std::size_t l = 0; l < def.links.size(); ++l) {
        const link_def& ld = def.links[l];
        js += (l ? ", " : "") + json_string(ld.name) + ": {\"column\": " + json_string(ld.column) +
              ", \"to\": " + json_string(ld.to) + ", \"reverse\": " + json_string(ld.reverse) + "}";
      }
      js += "}";
    }
    js += "\n    }";
  }
  js += "\n  }\n}\n";
  {
    std::FILE* f = std::fopen((dir + "/schema.json").c_str(), "wb");
    if (!f) return false;
    std::fwrite(js.data(), 1, js.size(), f);
    std::fclose(f);
  }
  for (std::size_t e = 0; e < ds.schema.entities.size(); ++e) {
    const entity_def& def = ds.schema.entities[e];
    // Columns: those of the rows' fields, in random order, and one more that is ignored.
    std::vector<std::string> columns;
    if (!ds.rows[e].empty())
      for (const auto& f : ds.rows[e][0].fields) columns.push_back(f.first);
    else {
      if (def.key) columns.push_back(*def.key);
      for (const auto& a : def.attributes) columns.push_back(a.column);
      for (const auto& l : def.links) columns.push_back(l.column);
    }
    columns.push_back("not, in the schema");
    for (std::size_t k = columns.size(); k > 1; --k) std::swap(columns[k - 1], columns[r.below(k)]);
    const std::string eol = r.chance(0.3) ? "\r\n" : "\n";
    std::string text = r.chance(0.2) ? "\xEF\xBB\xBF" : "";
    for (std::size_t c = 0; c < columns.size(); ++c)
      text += (c ? "," : "") + csv_field(columns[c], r);
    for (const model_row& row : ds.rows[e]) {
      text += eol;
      for (std::size_t c = 0; c < columns.size(); ++c) {
        std::string v = "junk, \"ignored\"";
        for (const auto& f : row.fields)
          if (f.first == columns[c]) v = f.second;
        if (c) text += ',';
        text += csv_field(v, r);
      }
    }
    if (r.chance(0.7)) text += eol;
    std::FILE* f = std::fopen((dir + "/" + def.file).c_str(), "wb");
    if (!f) return false;
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  return true;
}

/// Names `entity` as the partition of the dataset folder `dir` (SPEC 8): inserts
/// `"partition": ENTITY` at the top of its schema.json.
inline void add_partition(const std::string& dir, const std::string& entity = "account") {
  const std::string p = dir + "/schema.json";
  std::string text;
  {
    std::ifstream in(p, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  text.insert(text.find('{') + 1, "\n  \"partition\": \"" + entity + "\",");
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace b2bseg::test_support
