// Engine tests: exact members of hand-checked segments on the mini dataset, SPEC semantics of
// nulls, lists, unset links and empty relations, sharing of sub-expressions, threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <random>
#include <set>

#include "b2bseg/b2bseg.hpp"
#include "support/temp_dir.hpp"

using namespace b2bseg;

namespace {

const graph& mini() {
  static graph g = load_dataset(std::string(B2BSEG_SOURCE_DIR) + "/tests/data/mini");
  return g;
}

timestamp_us as_of() {
  timestamp_us t = 0;
  parse_timestamp("2026-11-22T00:00:00Z", t);
  return t;
}

/// Members (keys, sorted) of the last segment of `text`.
std::set<std::string> members(const std::string& text, unsigned threads = 0) {
  bound_file f = compile_segments(text, mini().schema(), "test.seg");
  eval_options o;
  o.as_of = as_of();
  o.threads = threads;
  evaluation ev = evaluate(mini(), f, o);
  std::set<std::string> out;
  for (const auto& s : ev.segments)
    if (s.name == f.segments.back().name)
      for (auto id : s.members) out.insert(std::string(mini().key(s.entity, id)));
  return out;
}

using keys = std::set<std::string>;

}  // namespace

TEST(Engine, ComparisonsAndNulls) {
  EXPECT_EQ(members("segment s on account where employees >= 1000"), (keys{"A1", "A4"}));
  // != and not in are false on null; `not` is plain complement.
  EXPECT_EQ(members("segment s on account where industry != \"Software\""), (keys{"A2"}));
  EXPECT_EQ(members("segment s on account where not industry = \"Software\""), (keys{"A2", "A4"}));
  EXPECT_EQ(members("segment s on account where industry not in (\"Fintech\")"),
            (keys{"A1", "A3"}));
  EXPECT_EQ(members("segment s on account where industry is null"), (keys{"A4"}));
  EXPECT_EQ(members("segment s on account where employees between 80 and 1200"),
            (keys{"A1", "A2"}));
  EXPECT_EQ(members("segment s on account where annual_revenue > 1000000"), (keys{"A1", "A4"}));
  EXPECT_EQ(members("segment s on account where annual_revenue < 250000.5"), (keys{}));
  EXPECT_EQ(members("segment s on account where annual_revenue <= 250000.5"), (keys{"A3"}));
  EXPECT_EQ(members("segment s on account where employees > 79.5 and employees < 80.5"),
            (keys{"A2"}));
  EXPECT_EQ(members("segment s on account where is_customer"), (keys{"A1", "A3"}));
  EXPECT_EQ(members("segment s on account where is_customer = false"), (keys{"A2", "A4"}));
  EXPECT_EQ(members("segment s on account where name like \"%, Inc.\""), (keys{"A1"}));
  EXPECT_EQ(members("segment s on account where name ilike \"initech%\""), (keys{"A3"}));
  EXPECT_EQ(members("segment s on account where name like \"_lobex\""), (keys{"A2"}));
  EXPECT_EQ(members("segment s on account where name < \"H\""), (keys{"A1", "A2"}));
  EXPECT_EQ(members("segment s on account where created_at >= @2024-01-15"), (keys{"A1", "A2"}));
  EXPECT_EQ(members("segment s on account where created_at within last 600 days"), (keys{"A2"}));
}

TEST(Engine, ListsMatchAnyElement) {
  EXPECT_EQ(members("segment s on account where tags = \"ai\""), (keys{"A1", "A4"}));
  EXPECT_EQ(members("segment s on account where tags != \"cloud\""), (keys{"A1", "A4"}));
  EXPECT_EQ(members("segment s on account where tags in (\"cloud\")"), (keys{"A1", "A3"}));
  EXPECT_EQ(members("segment s on account where tags is null"), (keys{"A2"}));
  EXPECT_EQ(members("segment s on account where tags like \"s%\""), (keys{"A1", "A4"}));
}

TEST(Engine, ToOneLinksAndUnsetLinks) {
  EXPECT_EQ(members("segment s on person where account.industry = \"Software\""),
            (keys{"P1", "P2", "P5"}));
  // Through an unset link everything is false, even != and none().
  EXPECT_EQ(members("segment s on person where account.industry != \"Fintech\""),
            (keys{"P1", "P2", "P5"}));
  EXPECT_EQ(members("segment s on person where account.people.none(seniority = \"CEO\")"),
            (keys{"P1", "P2", "P3", "P5"}));
  EXPECT_EQ(members("segment s on person where account is null"), (keys{"P4"}));
  EXPECT_EQ(members("segment s on person where account is not null"),
            (keys{"P1", "P2", "P3", "P5"}));
  EXPECT_EQ(members("segment s on person where account.parent.name = \"Acme, Inc.\""),
            (keys{"P3", "P5"}));
  EXPECT_EQ(members("segment s on account where parent is null"), (keys{"A1", "A4"}));
}

TEST(Engine, ReverseLinksCountsAndAggregates) {
  EXPECT_EQ(members("segment s on account where people.any()"), (keys{"A1", "A2", "A3"}));
  EXPECT_EQ(members("segment s on account where people.none()"), (keys{"A4"}));
  EXPECT_EQ(members("segment s on account where people.all(seniority = \"VP\")"), (keys{"A4"}));
  EXPECT_EQ(members("segment s on account where people.all(score >= 40)"),
            (keys{"A1", "A3", "A4"}));
  EXPECT_EQ(members("segment s on account where people.count() >= 2"), (keys{"A1"}));
  EXPECT_EQ(members("segment s on account where people.count() < 1"), (keys{"A4"}));
  EXPECT_EQ(members("segment s on account where people.count(seniority = \"VP\") = 0"),
            (keys{"A2", "A3", "A4"}));
  EXPECT_EQ(members("segment s on account where people.count() between 1 and 1"),
            (keys{"A2", "A3"}));
  EXPECT_EQ(members("segment s on account where people.sum(score) > 100"), (keys{"A1"}));
  EXPECT_EQ(members("segment s on account where people.sum(score) = 0"), (keys{"A2", "A4"}));
  EXPECT_EQ(members("segment s on account where people.avg(score) >= 60"), (keys{"A1", "A3"}));
  EXPECT_EQ(members("segment s on account where people.min(score) < 50"), (keys{"A1"}));
  EXPECT_EQ(members("segment s on account where people.max(score) >= 0"), (keys{"A1", "A3"}));
  EXPECT_EQ(members("segment s on account where people.where(seniority = \"VP\").count() >= 1"),
            (keys{"A1"}));
  EXPECT_EQ(members("segment s on account where subsidiaries.count() = 2"), (keys{"A1"}));
  EXPECT_EQ(members("segment s on person where events.where(type = \"webinar.attended\" and "
                    "timestamp within last 90 days).count() >= 1"),
            (keys{"P1"}));
  EXPECT_EQ(members("segment s on person where events.max(timestamp) >= now - 7 days"),
            (keys{"P2", "P5"}));
  EXPECT_EQ(members("segment s on account where people.any(events.count() >= 3)"), (keys{"A1"}));
  EXPECT_EQ(members("segment s on person where account.people.count() >= 2"), (keys{"P1", "P2"}));
}

// Counts over a link that is not clustered (members are numbered by group, their first link, so
// `team` is not): tests that only ask "has one" (>= 1, = 0, != 0, < 1, ...) mark parents from the
// passing children when those are few; other tests and dense inputs count. Every form against
// counts taken from the rows as written.
TEST(Engine, CountsOverAnUnclusteredLinkMatchCountsOfTheRows) {
  b2bseg::testing::temp_dir tmp;
  tmp.write("schema.json", R"({"entities": {
    "grp": {"file": "grp.csv", "key": "id", "attributes": {"name": "string"}},
    "team": {"file": "team.csv", "key": "id", "attributes": {"name": "string"}},
    "member": {"file": "member.csv", "key": "id", "attributes": {"flag": "bool"},
      "links": {"grp": {"column": "grp_id", "to": "grp", "reverse": "members"},
                "team": {"column": "team_id", "to": "team", "reverse": "members"}}}}})");
  std::mt19937_64 rng(5);
  // A key such as "T12", built by appending: GCC 12 warns (-Wrestrict, a false positive) on
  // "T" + std::to_string(n).
  auto key = [](char prefix, std::size_t n) {
    std::string k(1, prefix);
    k += std::to_string(n);
    return k;
  };
  const std::size_t groups = 50, teams = 700, rows = 6000;
  std::string grp = "id,name\n", team = "id,name\n", member = "id,flag,grp_id,team_id\n";
  for (std::size_t g = 0; g < groups; ++g) grp += key('G', g) + ",g\n";
  for (std::size_t t = 0; t < teams; ++t) team += key('T', t) + ",t\n";
  std::vector<std::int64_t> flagged(teams, 0), unflagged(teams, 0), all(teams, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    const bool flag = rng() % 12 == 0;
    const bool linked = rng() % 10 != 0;
    // Teams of many sizes: a few large, most small, some with no member.
    const std::size_t t = rng() % 4 == 0 ? rng() % 20 : rng() % teams;
    member += "M";
    member += std::to_string(r);
    member += flag ? ",true,G" : ",false,G";
    member += std::to_string(rng() % groups);
    member += linked ? "," + key('T', t) + "\n" : ",\n";
    if (!linked) continue;
    ++all[t];
    ++(flag ? flagged : unflagged)[t];
  }
  tmp.write("grp.csv", grp);
  tmp.write("team.csv", team);
  tmp.write("member.csv", member);
  const graph g = load_dataset(tmp.str());
  std::vector<std::string> team_keys(teams);
  for (std::size_t t = 0; t < teams; ++t) team_keys[t] = key('T', t);
  const entity_id me = g.schema().find_entity("member"), te = g.schema().find_entity("team");
  ASSERT_FALSE(g.link(me, static_cast<std::uint32_t>(g.schema().entities[me].find_link("team")))
                   .clustered());
  const std::vector<std::pair<std::string, std::function<bool(std::int64_t)>>> tests = {
      {">= 1", [](std::int64_t k) { return k >= 1; }},
      {"= 0", [](std::int64_t k) { return k == 0; }},
      {"!= 0", [](std::int64_t k) { return k != 0; }},
      {"< 1", [](std::int64_t k) { return k < 1; }},
      {"> 0", [](std::int64_t k) { return k > 0; }},
      {"<= 0", [](std::int64_t k) { return k <= 0; }},
      {"> 0.5", [](std::int64_t k) { return k > 0; }},
      {"between 1 and 100000", [](std::int64_t k) { return k >= 1; }},
      {"between 1 and 2", [](std::int64_t k) { return k >= 1 && k <= 2; }},
      {">= 2", [](std::int64_t k) { return k >= 2; }},
      {"!= 1", [](std::int64_t k) { return k != 1; }},
      {"< 0", [](std::int64_t) { return false; }},
  };
  const std::vector<std::pair<std::string, const std::vector<std::int64_t>*>> inputs = {
      {"members.where(flag)", &flagged},        // few children pass: pushed to the parents
      {"members.where(not flag)", &unflagged},  // most pass: counted per parent
      {"members", &all}};
  for (const auto& [rel, counts] : inputs)
    for (const auto& [test, pass] : tests) {
      const std::string text = "segment s on team where " + rel + ".count() " + test;
      SCOPED_TRACE(text);
      const bound_file f = compile_segments(text, g.schema(), "test.seg");
      const evaluation ev = evaluate(g, f, {.as_of = as_of(), .threads = 2, .segments = {}});
      std::set<std::string> got, want;
      for (auto id : ev.segments.back().members) got.insert(std::string(g.key(te, id)));
      for (std::size_t t = 0; t < teams; ++t)
        if (pass((*counts)[t])) want.insert(team_keys[t]);
      ASSERT_EQ(got, want);
    }
}

TEST(Engine, SegmentsOfSegmentsAndAttributeComparisons) {
  std::string text =
      "segment big on account where employees >= 1000\n"
      "segment in_big on person where account.in_segment(\"big\") and seniority = \"VP\"\n"
      "segment not_big on person where not in_segment(\"in_big\")\n";
  EXPECT_EQ(members(text), (keys{"P2", "P3", "P4", "P5"}));
  EXPECT_EQ(members("segment s on account where created_at > parent.created_at"), (keys{"A2"}));
  EXPECT_EQ(members("segment s on person where score < account.employees"), (keys{"P1", "P2"}));
}

TEST(Engine, SharedSubExpressionsAreComputedOnce) {
  std::string text =
      "segment a on person where account.industry = \"Software\" and seniority = \"VP\"\n"
      "segment b on person where seniority = \"VP\" and account.industry = \"Software\" and score "
      "> 50\n"
      "segment c on person where account.industry = \"Software\" or score > 50\n";
  bound_file f = compile_segments(text, mini().schema(), "share.seg");
  plan p = build_plan(mini().schema(), f, as_of());
  std::size_t industry_scans = 0, to_ones = 0;
  for (const auto& n : p.nodes) {
    if (n.op == plan_op::scan && n.label.find("industry") != std::string::npos) ++industry_scans;
    if (n.op == plan_op::to_one) ++to_ones;
  }
  EXPECT_EQ(industry_scans, 1u);
  EXPECT_EQ(to_ones, 1u);
  EXPECT_GT(p.requested, p.nodes.size());
  // a's conjunction is an input of b's (flattened and de-duplicated), so `a and score > 50` shares
  // it.
  evaluation ev = executor(mini()).run(std::move(p), f);
  ASSERT_EQ(ev.segments.size(), 3u);
  EXPECT_EQ(ev.segments[0].members.cardinality(), 1u);  // P1
  EXPECT_EQ(ev.segments[1].members.cardinality(), 1u);
}

TEST(Engine, SelectedSegmentsBringTheirDependencies) {
  std::string text =
      "segment big on account where employees >= 1000\n"
      "segment unrelated on account where employees < 10\n"
      "segment in_big on person where account.in_segment(\"big\")\n";
  bound_file f = compile_segments(text, mini().schema(), "sel.seg");
  eval_options o;
  o.as_of = as_of();
  o.segments = {"in_big"};
  evaluation ev = evaluate(mini(), f, o);
  std::set<std::string> names;
  for (auto& s : ev.segments) names.insert(s.name);
  EXPECT_EQ(names, (std::set<std::string>{"big", "in_big"}));
  o.segments = {"nope"};
  EXPECT_THROW(evaluate(mini(), f, o), data_error);
}

TEST(Engine, ThreadCountsAgree) {
  std::string text =
      "segment s on person where events.count() >= 1 and account.people.count() >= 1";
  EXPECT_EQ(members(text, 1), members(text, 2));
  EXPECT_EQ(members(text, 1), (keys{"P1", "P2", "P3", "P5"}));
}

TEST(Engine, LikeMatcher) {
  EXPECT_TRUE(like_match("a%", "abc", false));
  EXPECT_TRUE(like_match("%c", "abc", false));
  EXPECT_TRUE(like_match("a_c", "abc", false));
  EXPECT_TRUE(like_match("_", "\xc3\xa9", false));  // one UTF-8 character
  EXPECT_FALSE(like_match("__", "\xc3\xa9", false));
  EXPECT_TRUE(like_match("100\\%", "100%", false));
  EXPECT_FALSE(like_match("100\\%", "1000", false));
  EXPECT_TRUE(like_match("A%C", "abc", true));
  EXPECT_FALSE(like_match("A%C", "abc", false));
  EXPECT_TRUE(like_match("%", "", false));
  EXPECT_FALSE(like_match("_", "", false));
  EXPECT_TRUE(like_match("%a%b%c%", "xxaxxbxxcxx", false));
}

TEST(Engine, CompiledLikeAgreesWithTheGeneralMatcher) {
  std::mt19937 rng(3);
  const std::string alpha = "abAB%_\\";
  const std::string text_alpha = "abAB%_";
  for (int i = 0; i < 20000; ++i) {
    std::string p, t;
    for (int k = rng() % 7; k > 0; --k) p += alpha[rng() % alpha.size()];
    for (int k = rng() % 9; k > 0; --k) t += text_alpha[rng() % text_alpha.size()];
    for (bool ci : {false, true}) {
      ASSERT_EQ(like_matcher(p, ci)(t), like_match(p, t, ci))
          << "pattern '" << p << "' text '" << t << "' ci " << ci;
    }
  }
}

// The narrow kernels of int_array's stored values (u8, u16, u32), with ranges that wrap when
// subtracted (lo near the top) and the type's extremes.
template <class T>
void check_narrow_range_kernel(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::uint64_t top = std::numeric_limits<T>::max();
  for (std::size_t n : {0u, 1u, 63u, 64u, 65u, 1000u, 4097u}) {
    std::vector<T> v(n);
    for (auto& x : v)
      x = T(rng() % 4 == 0 ? top - rng() % 3 : rng() % (std::min<std::uint64_t>(top, 300) + 1));
    const std::size_t words = (n + 63) / 64;
    for (auto level : all_simd_levels) {
      if (!simd_level_supported(level)) continue;
      detail::force_simd_level(level);
      for (int t = 0; t < 30; ++t) {
        T lo = T(t == 0 ? 0 : t == 1 ? top : rng() % (std::min<std::uint64_t>(top, 300) + 1));
        T hi = T(t == 0 ? top : t == 1 ? top : std::min<std::uint64_t>(top, lo + rng() % 120));
        std::vector<std::uint64_t> a(words + 1, ~0ull);
        detail::range_words(v.data(), n, lo, hi, a.data(), 0, words);
        for (std::size_t i = 0; i < n; ++i)
          ASSERT_EQ((a[i / 64] >> (i % 64)) & 1, std::uint64_t(lo <= v[i] && v[i] <= hi))
              << i << " " << simd_level_name(level) << " width " << sizeof(T);
        if (n % 64) {
          EXPECT_EQ(a[words - 1] >> (n % 64), 0u);
        }
        EXPECT_EQ(a[words], ~0ull);
      }
    }
    detail::reset_simd_level();
  }
}

TEST(Engine, NarrowRangeScanKernelsAgreeAtEverySimdLevel) {
  check_narrow_range_kernel<std::uint8_t>(5);
  check_narrow_range_kernel<std::uint16_t>(6);
  check_narrow_range_kernel<std::uint32_t>(7);
}

// int_array picks the narrowest frame: widths and scales as the values allow, nulls ignored.
TEST(Engine, IntArrayEncodesNarrowAndDecodesExactly) {
  struct case_t {
    std::vector<std::int64_t> values;
    std::vector<std::uint32_t> nulls;
    unsigned width;
    std::int64_t scale;
  };
  const std::int64_t s = 1'000'000, day = 86'400 * s;
  const std::int64_t t0 = 1'700'000'000 * s;  // 2023-11-14, whole seconds
  const std::vector<case_t> cases = {
      {{}, {}, 1, 86'400'000'000},
      {{5, 0, 100}, {1}, 1, 5},  // 5 and 100 differ by 95: no listed scale but 1 divides it
      {{0, 255}, {}, 1, 1},
      {{-1, 255}, {}, 2, 1},
      {{t0, t0 + 7 * day, t0 + 365 * day}, {}, 2, 86'400'000'000},
      {{t0, t0 + 3 * s, t0 + 365 * day}, {}, 4, 1'000'000},
      {{t0, t0 + 1, t0 + 365 * day}, {}, 8, 1},
      {{INT64_MIN, INT64_MAX}, {}, 8, 1},
      {{INT64_MAX - 3, INT64_MAX}, {}, 1, 1},
      {{INT64_MIN, INT64_MIN + 4'294'967'295}, {}, 4, 1},
      {{7, 123456789, 7}, {1}, 1, 86'400'000'000},  // the null's value plays no part
  };
  for (const auto& c : cases) {
    int_array a(c.values, c.nulls);
    const std::int64_t want_scale = c.scale == 5 ? 1 : c.scale;
    EXPECT_EQ(a.width(), c.width) << ::testing::PrintToString(c.values);
    EXPECT_EQ(a.scale(), want_scale) << ::testing::PrintToString(c.values);
    ASSERT_EQ(a.size(), c.values.size());
    for (std::size_t i = 0; i < c.values.size(); ++i)
      if (std::find(c.nulls.begin(), c.nulls.end(), i) == c.nulls.end()) {
        EXPECT_EQ(a[i], c.values[i]) << i;
      }
  }
}

// stored_range and stored_of translate a value range or value into stored form exactly: the
// stored values they keep are those whose decoded value passes, for random frames.
TEST(Engine, StoredRangeKeepsExactlyTheValuesInRange) {
  std::mt19937_64 rng(17);
  auto check = [&](auto tag) {
    using T = decltype(tag);
    for (int round = 0; round < 400; ++round) {
      const std::int64_t scales[] = {1, 1000, 1'000'000, 86'400'000'000};
      const std::int64_t scale = scales[rng() % 4];
      const std::int64_t base =
          std::int64_t(rng() % 2000) - 1000 + (round % 3 == 0 ? INT64_MIN / 2 : 0);
      int_array a(sizeof(T), base, scale, {});
      std::vector<std::uint64_t> stored = {0, 1, 2, std::numeric_limits<T>::max(),
                                           std::uint64_t(std::numeric_limits<T>::max()) - 1};
      for (int k = 0; k < 20; ++k) stored.push_back(rng() % 50);
      // A valid array holds only stored values that decode inside int64.
      std::erase_if(stored, [&](std::uint64_t u) {
        return detail::int128(base) + detail::int128(scale) * u > INT64_MAX;
      });
      auto value = [&](std::uint64_t u) { return a.decode(u); };
      auto pick = [&]() -> std::int64_t {
        switch (rng() % 4) {
          case 0:
            return value(stored[rng() % stored.size()]) + std::int64_t(rng() % 3) - 1;
          case 1:
            return base + std::int64_t(rng() % 5) - 2;
          case 2:
            return (rng() % 2) ? INT64_MIN : INT64_MAX;
          default:
            return std::int64_t(rng());
        }
      };
      std::int64_t lo = pick(), hi = pick();
      if (lo > hi) std::swap(lo, hi);
      T ulo{}, uhi{};
      const bool any = detail::stored_range<T>(a, lo, hi, ulo, uhi);
      for (std::uint64_t u : stored) {
        const bool want = lo <= value(u) && value(u) <= hi;
        const bool got = any && ulo <= u && u <= uhi;
        ASSERT_EQ(got, want) << "base " << base << " scale " << scale << " u " << u << " [" << lo
                             << ", " << hi << "]";
        auto x = detail::stored_of<T>(a, value(u));
        ASSERT_TRUE(x.has_value());
        EXPECT_EQ(std::uint64_t(*x), u);
        auto y = detail::stored_of<T>(a, value(u) + (scale > 1 ? 1 : 0));
        if (scale > 1) {
          EXPECT_FALSE(y.has_value());
        }
      }
    }
  };
  check(std::uint8_t{});
  check(std::uint16_t{});
  check(std::uint32_t{});
}

TEST(Engine, RangeScanKernelsAgreeAtEverySimdLevel) {
  std::mt19937_64 rng(11);
  for (std::size_t n : {0u, 1u, 63u, 64u, 65u, 1000u, 4097u, 12289u}) {
    std::vector<std::int64_t> iv(n);
    std::vector<double> fv(n);
    for (std::size_t i = 0; i < n; ++i) {
      iv[i] = std::int64_t(rng() % 200) - 100;
      fv[i] = double(iv[i]) / 4;
    }
    const std::size_t words = (n + 63) / 64;
    for (auto level : all_simd_levels) {
      if (!simd_level_supported(level)) continue;
      detail::force_simd_level(level);
      for (int t = 0; t < 20; ++t) {
        std::int64_t lo = std::int64_t(rng() % 240) - 120, hi = lo + std::int64_t(rng() % 100);
        std::vector<std::uint64_t> a(words + 1, ~0ull), b(words + 1, ~0ull);
        detail::range_words(iv.data(), n, lo, hi, a.data(), 0, words);
        detail::range_words(fv.data(), n, double(lo) / 4, double(hi) / 4, b.data(), 0, words);
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_EQ((a[i / 64] >> (i % 64)) & 1, std::uint64_t(lo <= iv[i] && iv[i] <= hi))
              << i << " " << simd_level_name(level);
          ASSERT_EQ((b[i / 64] >> (i % 64)) & 1, std::uint64_t(lo <= iv[i] && iv[i] <= hi)) << i;
        }
        if (n % 64) {
          EXPECT_EQ(a[words - 1] >> (n % 64), 0u);  // no bit past the end
          EXPECT_EQ(b[words - 1] >> (n % 64), 0u);
        }
        EXPECT_EQ(a[words], ~0ull);  // nothing written past the range
      }
      // Per-parent counts over contiguous child ranges: long ranges (about 70 children), and
      // short ones (0 to 2), so that there are parents past a 4,096-parent block at n = 12289.
      for (std::uint32_t step : {140u, 3u}) {
        std::vector<std::uint32_t> off(1, 0);
        while (off.back() < n)
          off.push_back(
              std::min<std::uint32_t>(std::uint32_t(n), off.back() + std::uint32_t(rng() % step)));
        const std::size_t parents = off.size() - 1;
        const std::size_t out_words = (parents + 63) / 64;
        std::vector<std::uint64_t> bits(words, 0), out(out_words + 1, ~0ull);
        for (std::size_t i = 0; i < n; ++i)
          if (rng() % 3 == 0) bits[i / 64] |= 1ull << (i % 64);
        std::int64_t lo = std::int64_t(rng() % 5), hi = lo + std::int64_t(rng() % 40);
        // In two calls, the second from a word boundary past the first parent, as tasks split it.
        const std::size_t mid = std::min(parents, 64 * (parents / 128));
        detail::range_counts(bits.data(), words, off.data(), 0, mid, lo, hi, out.data());
        detail::range_counts(bits.data(), words, off.data(), mid, parents, lo, hi, out.data());
        for (std::size_t p = 0; p < parents; ++p) {
          std::int64_t c = 0;
          for (std::size_t i = off[p]; i < off[p + 1]; ++i) c += (bits[i / 64] >> (i % 64)) & 1;
          ASSERT_EQ((out[p / 64] >> (p % 64)) & 1, std::uint64_t(lo <= c && c <= hi))
              << p << " of " << parents << " " << simd_level_name(level);
        }
        if (parents % 64) {
          EXPECT_EQ(out[out_words - 1] >> (parents % 64), 0u);  // no bit past the last parent
        }
        EXPECT_EQ(out[out_words], ~0ull);  // nothing written past the parents' words
      }
      // Each child's parent's bit (no_row: none), gathered.
      std::vector<std::uint32_t> par(n);
      const std::size_t parent_rows = 1 + rng() % 3000;
      std::vector<std::uint64_t> in((parent_rows + 63) / 64, 0), got(words + 1, ~0ull);
      for (auto& w : in) w = rng();
      if (parent_rows % 64) in.back() &= (std::uint64_t{1} << (parent_rows % 64)) - 1;
      for (auto& x : par) x = rng() % 5 == 0 ? no_row : std::uint32_t(rng() % parent_rows);
      detail::gather_bits(par.data(), n, in.data(), got.data(), 0, words);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t want = par[i] == no_row ? 0 : (in[par[i] / 64] >> (par[i] % 64)) & 1;
        ASSERT_EQ((got[i / 64] >> (i % 64)) & 1, want) << i << " " << simd_level_name(level);
      }
      if (n % 64) {
        EXPECT_EQ(got[words - 1] >> (n % 64), 0u);
      }
      EXPECT_EQ(got[words], ~0ull);
    }
    detail::reset_simd_level();
  }
}
