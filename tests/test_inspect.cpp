// `why`, `overlap`, `bucket()` and segmentations (SPEC 3.5 and 4): why agrees with evaluate for
// every row of random graphs and random segments, and each of its nodes of the segment's own
// entity with the reference evaluator; overlap equals intersections counted one by one; bucket
// values match an outside XXH3 (xxhsum); segmentations put each entity in its first bucket.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "b2bseg/b2bseg.hpp"
#include "support/random_graph.hpp"
#include "support/random_segments.hpp"
#include "support/reference_evaluator.hpp"

namespace b2bseg {
namespace {

using namespace test_support;

const timestamp_us as_of = 1'790'000'000'000'000;  // 2026-09-21

// Checks why's nodes of the segment's own entity against the reference, walking the compiled
// tree and the why tree together (relation filters are about related rows: their nodes are
// checked through their counts instead).
void check_nodes(reference_evaluator& ref, const bound_expr& e, const why_node& w, row_id row,
                 std::string& failure) {
  if (!failure.empty()) return;
  if (ref.holds(e, row) != w.value) {
    failure = "node '" + e.text + "' is " + (w.value ? "true" : "false") + " in why";
    return;
  }
  using K = bound_expr::kind;
  if (e.k == K::and_ || e.k == K::or_ || e.k == K::not_) {
    if (e.children.size() != w.children.size()) {
      failure = "node '" + e.text + "' has " + std::to_string(w.children.size()) + " children";
      return;
    }
    for (std::size_t i = 0; i < e.children.size(); ++i)
      check_nodes(ref, *e.children[i], w.children[i], row, failure);
  }
}

TEST(Why, AgreesWithEvaluateOnEveryRowOfRandomGraphs) {
  std::size_t rows_checked = 0, segments = 0, buckets = 0, memberships = 0, sequences = 0, tops = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    random_dataset ds = make_random_dataset(seed);
    reference_evaluator ref(ds.graph);
    for (int k = 0; k < 2; ++k) {
      segment_generator gen(ds.graph, ds.as_of, seed * 100 + static_cast<std::uint64_t>(k));
      segment_options o;
      o.segments = 6;
      o.max_depth = 3;
      o.bucket = 0.15;
      o.segmentation = 0.7;
      o.sequence = 0.15;
      o.top = 0.1;
      const generated_segments file = gen.file(o);
      for (const auto& d : file.definitions) {
        sequences += d.find(".sequence(") != std::string::npos;
        tops += d.find("top(") != std::string::npos;
      }
      const bound_file f = compile_segments(file.text, ds.graph.schema(), "random.seg");
      const evaluation ev =
          evaluate(ds.graph, f, {.as_of = ds.as_of, .threads = 1, .segments = {}});
      ref.bind(f, ds.as_of);
      for (const segment_result& s : ev.segments) {
        const auto seg = static_cast<std::uint32_t>(f.find(s.name));
        ++segments;
        buckets += s.name.find('.') != std::string::npos;
        for (row_id r = 0; r < ds.graph.rows(s.entity); ++r) {
          const why_result w = explain_membership(ds.graph, f, seg, r, ds.as_of);
          ASSERT_EQ(w.member, s.members.contains(r))
              << "seed " << seed << " file " << k << " segment " << s.name << " row " << r << "\n"
              << file.text << why_text(w, ds.graph.schema());
          ASSERT_EQ(w.tree.value, w.member);
          ASSERT_EQ(w.key, ds.graph.key(s.entity, r));
          std::string failure;
          check_nodes(ref, *f.segments[seg].where, w.tree, r, failure);
          ASSERT_TRUE(failure.empty())
              << "seed " << seed << " segment " << s.name << " row " << r << ": " << failure << "\n"
              << file.text << why_text(w, ds.graph.schema());
          memberships += w.member;
          ++rows_checked;
        }
      }
    }
  }
  EXPECT_GT(rows_checked, 5000u);
  EXPECT_GT(buckets, 5u);
  EXPECT_GT(memberships, 100u);
  EXPECT_GT(sequences, 10u);
  EXPECT_GT(tops, 10u);
  std::printf(
      "why: %zu rows of %zu segments (%zu buckets of segmentations, %zu definitions with a "
      "sequence, %zu with a top), %zu members\n",
      rows_checked, segments, buckets, sequences, tops, memberships);
}

graph small_graph() {
  schema s = parse_schema(R"({
    "entities": {
      "account": {"file": "account.csv", "key": "account_id",
                  "attributes": {"industry": "string", "employees": "int"}},
      "person": {"file": "person.csv", "key": "person_id",
                 "attributes": {"seniority": "string", "score": "float",
                                "created_at": "timestamp"},
                 "links": {"account": {"to": "account", "column": "account_id",
                                        "reverse": "people"}}},
      "event": {"file": "event.csv",
                "attributes": {"type": "string", "timestamp": "timestamp"},
                "links": {"person": {"to": "person", "column": "person_id",
                                      "reverse": "events"}}}
    }
  })",
                          "schema.json");
  graph_builder b(s);
  b.add_row("account", {{"account_id", "A1"}, {"industry", "Software"}, {"employees", "1200"}});
  b.add_row("account", {{"account_id", "A2"}, {"industry", "Retail"}});
  b.add_row("person", {{"person_id", "P1"},
                       {"account_id", "A1"},
                       {"seniority", "VP"},
                       {"score", "2.5"},
                       {"created_at", "2026-01-02T03:04:05Z"}});
  b.add_row("person", {{"person_id", "P2"}, {"account_id", "A1"}, {"seniority", "Manager"}});
  b.add_row("person", {{"person_id", "P3"}, {"account_id", "A2"}});
  b.add_row("person", {{"person_id", "P100"}});
  const std::vector<std::pair<std::string, std::string>> events = {{"P1", "webinar.attended"},
                                                                   {"P1", "webinar.attended"},
                                                                   {"P1", "page.viewed"},
                                                                   {"P2", "page.viewed"},
                                                                   {"P3", "webinar.attended"}};
  for (const auto& [p, t] : events)
    b.add_row("event", {{"person_id", p}, {"type", t}, {"timestamp", "2026-09-01T00:00:00Z"}});
  return b.build();
}

std::vector<std::string> members(const graph& g, const std::string& text, const std::string& name) {
  const bound_file f = compile_segments(text, g.schema(), "t.seg");
  const evaluation ev = evaluate(g, f, {.as_of = as_of, .threads = 0, .segments = {}});
  std::vector<std::string> out;
  for (const auto& s : ev.segments)
    if (s.name == name)
      for (std::uint32_t r : s.members) out.emplace_back(g.key(s.entity, r));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Bucket, MatchesXxhsumOfSaltZeroByteAndKey) {
  // printf 'q4-holdout\0P1' | xxhsum -H3 = af1cf10cf7fcd97b (P2 f9974f05f11ba184, P3
  // 87dccbfb693c7f2d, P100 a13618d828d50041): mod 100 35, 80, 1, 53; mod 7 4, 2, 1, 6.
  const graph g = small_graph();
  const std::map<std::string, std::pair<int, int>> want = {
      {"P1", {35, 4}}, {"P2", {80, 2}}, {"P3", {1, 1}}, {"P100", {53, 6}}};
  for (const auto& [key, b] : want) {
    bucket_hasher h100("q4-holdout", 100), h7("q4-holdout", 7);
    EXPECT_EQ(h100(key), static_cast<std::uint64_t>(b.first)) << key;
    EXPECT_EQ(h7(key), static_cast<std::uint64_t>(b.second)) << key;
  }
  EXPECT_EQ(members(g, "segment h on person where bucket(\"q4-holdout\", 100) < 40", "h"),
            (std::vector<std::string>{"P1", "P3"}));
  EXPECT_EQ(members(g, "segment h on person where bucket(\"q4-holdout\", 7) in (1, 6)", "h"),
            (std::vector<std::string>{"P100", "P3"}));
  EXPECT_EQ(
      members(g, "segment h on person where bucket(\"q4-holdout\", 100) between 50 and 80", "h"),
      (std::vector<std::string>{"P100", "P2"}));
  EXPECT_EQ(members(g, "segment h on person where bucket(\"q4-holdout\", 1) = 0", "h").size(), 4u);
  // Inside a relation, over the related entity's own key.
  EXPECT_EQ(members(g,
                    "segment a on account where people.count(bucket(\"q4-holdout\", 100) > 50) "
                    ">= 1",
                    "a"),
            (std::vector<std::string>{"A1"}));
}

TEST(Segmentation, EachEntityInItsFirstBucketAndElseTakesTheRest) {
  const graph g = small_graph();
  const std::string text = R"(
segmentation tier on person
    bucket vp where seniority = "VP"
    bucket software where account.industry = "Software"
    bucket engaged where events.any(type = "webinar.attended")
    else rest
segment vp_again on person where in_segment("tier.vp")
)";
  EXPECT_EQ(members(g, text, "tier.vp"), (std::vector<std::string>{"P1"}));
  EXPECT_EQ(members(g, text, "tier.software"), (std::vector<std::string>{"P2"}));  // not P1
  EXPECT_EQ(members(g, text, "tier.engaged"), (std::vector<std::string>{"P3"}));   // not P1
  EXPECT_EQ(members(g, text, "tier.rest"), (std::vector<std::string>{"P100"}));
  EXPECT_EQ(members(g, text, "vp_again"), (std::vector<std::string>{"P1"}));
  const std::string no_else = "segmentation t on person bucket a where seniority = \"VP\"\n";
  EXPECT_EQ(compile_segments(no_else, g.schema()).segments.size(), 1u);
}

TEST(Why, RelationsCountAndValuesShowWhatDecided) {
  const graph g = small_graph();
  const std::string text =
      "segment s on person where seniority = \"VP\" and "
      "events.where(type = \"webinar.attended\").count() >= 3 and account.employees > 1000\n"
      "segment t on account where people.avg(score) >= 2 or people.count() > 5\n"
      "segment u on person where events.any(type = \"webinar.attended\" and timestamp within "
      "last 30 days)\n";
  const bound_file f = compile_segments(text, g.schema(), "t.seg");
  const why_result w = explain_membership(g, f, 0, g.find_key(1, "P1"), as_of);
  EXPECT_FALSE(w.member);
  EXPECT_EQ(why_json(w),
            "{\"segment\": \"s\", \"key\": \"P1\", \"member\": false, \"tree\": {\"text\": "
            "\"seniority = \\\"VP\\\" and events.where(type = \\\"webinar.attended\\\").count() "
            ">= 3 and account.employees > 1000\", \"value\": false, \"children\": [{\"text\": "
            "\"seniority = \\\"VP\\\"\", \"value\": true, \"actual\": \"VP\", \"children\": []}, "
            "{\"text\": \"events.where(type = \\\"webinar.attended\\\").count() >= 3\", "
            "\"value\": false, \"count\": 2, \"actual\": 2, \"children\": [{\"text\": \"type = "
            "\\\"webinar.attended\\\"\", \"value\": true, \"count\": 2, \"children\": []}]}, "
            "{\"text\": \"account.employees > 1000\", \"value\": true, \"actual\": 1200, "
            "\"children\": []}]}}\n");
  const why_result t = explain_membership(g, f, 1, g.find_key(0, "A1"), as_of);
  EXPECT_TRUE(t.member);
  ASSERT_EQ(t.tree.children.size(), 2u);
  EXPECT_EQ(t.tree.children[0].actual, "2.5");  // only P1 has a score
  EXPECT_EQ(t.tree.children[0].count, 2u);      // both people are related
  EXPECT_EQ(t.tree.children[1].actual, "2");
  // A null compared: actual is null.
  const why_result p3 = explain_membership(g, f, 0, g.find_key(1, "P3"), as_of);
  EXPECT_EQ(p3.tree.children[0].actual, "null");
  EXPECT_EQ(p3.tree.children[2].actual, "null");  // A2 has no employees
  const why_result u = explain_membership(g, f, 2, g.find_key(1, "P1"), as_of);
  EXPECT_TRUE(u.member);
  const std::string tree = why_text(u, g.schema());
  EXPECT_NE(tree.find("segment u on person \"P1\": member"), std::string::npos) << tree;
  EXPECT_NE(tree.find("   ├─ true   type = \"webinar.attended\"  [count 2]"), std::string::npos)
      << tree;
}

graph sequence_graph() {
  schema s = parse_schema(R"({
    "entities": {
      "account": {"file": "account.csv", "key": "account_id", "attributes": {"name": "string"}},
      "person": {"file": "person.csv", "key": "person_id", "attributes": {"name": "string"}},
      "event": {"file": "event.csv",
                "attributes": {"type": "string", "timestamp": "timestamp"},
                "links": {"person": {"to": "person", "column": "person_id",
                                     "reverse": "events"}}},
      "opportunity": {"file": "opportunity.csv", "key": "opportunity_id",
                      "attributes": {"amount": "float", "stage": "string"},
                      "links": {"account": {"to": "account", "column": "account_id",
                                            "reverse": "opportunities"}}}
    }
  })",
                          "schema.json");
  graph_builder b(s);
  for (const char* a : {"A1", "A2"}) b.add_row("account", {{"account_id", a}});
  for (const char* p : {"P1", "P2", "P3", "P4", "P5"}) b.add_row("person", {{"person_id", p}});
  const std::vector<std::tuple<std::string, std::string, std::string>> events = {
      {"P1", "webinar", "2026-09-01T00:00:00Z"}, {"P1", "demo", "2026-09-01T00:00:00Z"},
      {"P2", "webinar", "2026-09-01T00:00:00Z"}, {"P2", "demo", "2026-09-11T00:00:00Z"},
      {"P3", "demo", "2026-09-01T00:00:00Z"},    {"P3", "webinar", "2026-09-02T00:00:00Z"},
      {"P4", "webinar", "2026-08-01T00:00:00Z"}, {"P4", "webinar", "2026-08-20T00:00:00Z"},
      {"P4", "demo", "2026-09-01T00:00:00Z"},    {"P5", "webinar", ""},
      {"P5", "demo", "2026-09-01T00:00:00Z"}};
  for (const auto& [p, t, ts] : events)
    b.add_row("event", {{"person_id", p}, {"type", t}, {"timestamp", ts}});
  const std::vector<std::tuple<std::string, std::string, std::string>> opps = {
      {"O1", "A1", "100"}, {"O2", "A1", "300"}, {"O3", "A1", ""},
      {"O4", "A1", "300"}, {"O5", "A2", "50"},  {"O6", "", "900"}};
  for (const auto& [o, a, amount] : opps)
    b.add_row("opportunity", {{"opportunity_id", o}, {"account_id", a}, {"amount", amount}});
  return b.build();
}

TEST(Sequence, StepsInStrictTimeOrderWithinTheBound) {
  const graph g = sequence_graph();
  auto seq = [&](const std::string& args) {
    return members(g, "segment s on person where events.sequence(timestamp, " + args + ")", "s");
  };
  using v = std::vector<std::string>;
  // P1's two steps share an instant: not a sequence; P3's come in the wrong order; P5's webinar
  // has no time.
  EXPECT_EQ(seq("type = \"webinar\" then type = \"demo\""), (v{"P2", "P4"}));
  // P4: the later webinar starts the sequence that fits in 14 days.
  EXPECT_EQ(seq("type = \"webinar\" then type = \"demo\" within 14 days"), (v{"P2", "P4"}));
  EXPECT_EQ(seq("type = \"webinar\" then type = \"demo\" within 10 days"), (v{"P2"}));
  EXPECT_EQ(seq("type = \"webinar\" then type = \"demo\" within 9 days"), (v{}));
  EXPECT_EQ(seq("type = \"webinar\" then type = \"webinar\" then type = \"demo\""), (v{"P4"}));
  EXPECT_EQ(seq("type = \"demo\""), (v{"P1", "P2", "P3", "P4", "P5"}));  // one step: any
  EXPECT_EQ(seq("type = \"demo\" then type = \"webinar\" within 1 day"), (v{"P3"}));
}

TEST(Top, FirstNOfEachGroupNullsLastTiesByKey) {
  const graph g = sequence_graph();
  auto top = [&](const std::string& args) {
    return members(g, "segment s on opportunity where top(" + args + ")", "s");
  };
  using v = std::vector<std::string>;
  EXPECT_EQ(top("2, by amount desc, per account"), (v{"O2", "O4", "O5"}));       // O6: no account
  EXPECT_EQ(top("3, by amount asc, per account"), (v{"O1", "O2", "O4", "O5"}));  // O3 null: last
  EXPECT_EQ(top("4, by amount, per account"), (v{"O1", "O2", "O3", "O4", "O5"}));
  EXPECT_EQ(top("2, by amount desc"), (v{"O2", "O6"}));  // 900, then O2 before O4 (key)
  EXPECT_EQ(top("1, by amount desc, per account, where amount < 300"), (v{"O1", "O5"}));
  EXPECT_EQ(top("1, by stage, per account"), (v{"O1", "O5"}));  // every stage null: by key
  const bound_file f = compile_segments(
      "segment s on opportunity where top(2, by amount desc, per account)", g.schema(), "t.seg");
  const why_result w = explain_membership(g, f, 0, g.find_key(3, "O1"), as_of);
  EXPECT_FALSE(w.member);
  EXPECT_EQ(w.tree.actual, "3");  // third in A1, after O2 and O4
}

TEST(Top, LargeGroupsRankInParallelBlocksAsOneSortWould) {
  // 50,000 rows: several blocks of the kernel, in one group (the parallel cut) and per parent.
  schema s = parse_schema(R"({
    "entities": {
      "account": {"file": "account.csv", "key": "account_id", "attributes": {}},
      "person": {"file": "person.csv", "key": "person_id",
                 "attributes": {"score": "int", "seen": "timestamp"},
                 "links": {"account": {"to": "account", "column": "account_id",
                                       "reverse": "people"}}}
    }
  })",
                          "schema.json");
  graph_builder b(s);
  // Keys built with append: GCC 12's -Wrestrict misfires on `"A" + std::to_string(...)`.
  auto key = [](char c, std::uint64_t i) { return std::string(1, c).append(std::to_string(i)); };
  for (int a = 0; a < 7; ++a) b.add_row("account", {{"account_id", key('A', a)}});
  struct row {
    std::string key, account;
    int score;
    bool null_score;
  };
  std::vector<row> rows;
  rng pick(7);
  for (int i = 0; i < 50000; ++i) {
    row r{key('P', i), pick.chance(0.1) ? "" : key('A', pick.below(7)),
          static_cast<int>(pick.below(500)), pick.chance(0.05)};
    rows.push_back(r);
    b.add_row("person", {{"person_id", r.key},
                         {"account_id", r.account},
                         {"score", r.null_score ? "" : std::to_string(r.score)}});
  }
  const graph g = b.build();
  auto want = [&](bool per, std::size_t n) {
    std::vector<row> sorted = rows;
    std::sort(sorted.begin(), sorted.end(), [&](const row& x, const row& y) {
      if (per && x.account != y.account) return x.account < y.account;
      if (x.null_score != y.null_score) return y.null_score;
      if (!x.null_score && x.score != y.score) return x.score > y.score;
      return x.key < y.key;
    });
    std::vector<std::string> out;
    std::map<std::string, std::size_t> taken;
    for (const row& r : sorted) {
      if (per && r.account.empty()) continue;
      if (taken[per ? r.account : ""]++ < n) out.push_back(r.key);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(members(g, "segment s on person where top(100, by score desc)", "s"), want(false, 100));
  EXPECT_EQ(members(g, "segment s on person where top(40000, by score desc)", "s"),
            want(false, 40000));
  EXPECT_EQ(members(g, "segment s on person where top(50, by score desc, per account)", "s"),
            want(true, 50));
  EXPECT_EQ(members(g, "segment s on person where top(5000, by score desc, per account)", "s"),
            want(true, 5000));
}

TEST(Overlap, EqualsIntersectionsCountedOneByOne) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    random_graph_options go;
    go.scale = 3.0;
    random_dataset ds = make_random_dataset(seed, go);
    for (entity_id e = 0; e < ds.graph.entity_count(); ++e) {
      const std::size_t n = ds.graph.rows(e);
      std::vector<Roaring> sets(7);
      rng pick(seed * 31 + e);
      for (std::size_t i = 0; i < sets.size(); ++i)
        for (row_id r = 0; r < n; ++r)
          if (pick.chance(i == 0 ? 0.0 : i == 1 ? 1.0 : 0.1 * double(i))) sets[i].add(r);
      std::vector<const Roaring*> ptrs;
      std::vector<std::string> names;
      for (std::size_t i = 0; i < sets.size(); ++i) {
        ptrs.push_back(&sets[i]);
        names.push_back(std::string(1, 's').append(std::to_string(i)));
      }
      const overlap_result o = compute_overlap(n, ptrs, names);
      ASSERT_EQ(o.pairs.size(), 21u);
      std::size_t k = 0;
      for (std::uint32_t a = 0; a < sets.size(); ++a)
        for (std::uint32_t b = a + 1; b < sets.size(); ++b, ++k) {
          std::uint64_t both = 0;
          for (row_id r = 0; r < n; ++r) both += sets[a].contains(r) && sets[b].contains(r);
          const std::uint64_t either = sets[a].cardinality() + sets[b].cardinality() - both;
          EXPECT_EQ(o.pairs[k].a, a);
          EXPECT_EQ(o.pairs[k].b, b);
          EXPECT_EQ(o.pairs[k].count, both);
          EXPECT_EQ(o.pairs[k].jaccard, either ? double(both) / double(either) : 0.0);
        }
    }
  }
  const Roaring a = Roaring::bitmapOf(3, 1, 2, 3), b = Roaring::bitmapOf(2, 3, 70000);
  const overlap_result o = compute_overlap(70001, {&a, &b}, {"a", "b\""});
  EXPECT_EQ(overlap_json(o, "person"),
            "{\"entity\": \"person\", \"segments\": [{\"name\": \"a\", \"count\": 3}, {\"name\": "
            "\"b\\\"\", \"count\": 2}], \"pairs\": [{\"a\": \"a\", \"b\": \"b\\\"\", \"count\": 1, "
            "\"jaccard\": 0.25}]}\n");
}

}  // namespace
}  // namespace b2bseg
