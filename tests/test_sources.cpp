// Identity resolution at load (SPEC 2.3): entities with `sources` merged into profiles by shared
// identities. Random multi-source datasets (tests/support/random_sources.hpp) are loaded by the
// engine and resolved by a naive reference (tests/support/reference_resolver.hpp), for both merge
// policies and under row shuffles; random segments run over the resolved graphs against the
// reference evaluator; hand-made datasets check worked examples and the errors.
//
// Environment:
//   B2BSEG_SOURCES_SEEDS  random datasets per merge policy (default 40)
//   B2BSEG_SOURCES_SEED   first seed (default 1); a failure prints the seed and keeps its files
//   B2BSEG_SOURCES_KEEP   when set, keep the files of passing seeds too (build/tests/tmp/sources)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "b2bseg/b2bseg.hpp"
#include "support/graph_dump.hpp"
#include "support/random_segments.hpp"
#include "support/random_sources.hpp"
#include "support/reference_evaluator.hpp"
#include "support/reference_resolver.hpp"
#include "support/temp_dir.hpp"

namespace b2bseg {
namespace {

using namespace test_support;
namespace fs = std::filesystem;

std::uint64_t env_count(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 10);
}

const std::uint64_t first_seed = env_count("B2BSEG_SOURCES_SEED", 1);
const std::uint64_t seed_count = env_count("B2BSEG_SOURCES_SEEDS", 40);

/// Removes a passing dataset's folder, unless B2BSEG_SOURCES_KEEP is set.
void remove_passed(const std::string& dir) {
  if (!std::getenv("B2BSEG_SOURCES_KEEP")) fs::remove_all(dir);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

/// The lines only in `want` and only in `got` (both sorted dumps), a few of each.
std::string dump_diff(const std::string& want, const std::string& got) {
  const auto a = lines_of(want), b = lines_of(got);
  std::vector<std::string> missing, extra;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(missing));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(extra));
  std::string s;
  auto show = [&](const char* title, const std::vector<std::string>& v) {
    if (v.empty()) return;
    s += std::string("--- ") + title + " (" + std::to_string(v.size()) + ") ---\n";
    for (std::size_t i = 0; i < v.size() && i < 8; ++i) s += v[i] + "\n";
  };
  show("reference only", missing);
  show("engine only", extra);
  return s;
}

/// A fresh folder for one dataset, under the test's temporary folder.
std::string dataset_dir(const std::string& name) {
  const fs::path p = fs::path(B2BSEG_TEST_TMP) / "sources" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

/// The dump lines the row order cannot change: resolved entities reduced to "entity key",
/// plain entities whole (their links name profile keys; traces name each source row's profile).
std::string order_free_lines(const ref_dataset& ds, const std::string& dump) {
  std::set<std::string> resolved;
  for (const auto& e : ds.entities)
    if (e.resolved()) resolved.insert(e.name);
  std::string out;
  for (const std::string& l : lines_of(dump)) {
    const auto sp = l.find(' ');
    if (resolved.count(l.substr(0, sp)))
      out += l.substr(0, l.find(' ', sp + 1)) + "\n";
    else
      out += l + "\n";
  }
  return out;
}

/// Loads `dir`, or fails the test with the message (nullopt).
std::optional<graph> try_load(const std::string& dir, const std::string& where,
                              load_options lo = {}) {
  try {
    graph g = load_dataset(dir, lo);
    g.validate();
    return g;
  } catch (const std::exception& e) {
    ADD_FAILURE() << where << ": load failed: " << e.what() << " (files in " << dir << ")";
    return std::nullopt;
  }
}

/// The reference on `ds`, or fails the test (a generator bug: its data must load strictly).
std::optional<ref_result> try_reference(const ref_dataset& ds, const std::string& where) {
  try {
    return resolve_reference(ds);
  } catch (const ref_error& e) {
    ADD_FAILURE() << where << ": the generated data is not loadable by the SPEC: " << e.what();
    return std::nullopt;
  }
}

// --- (a) engine against the reference on random data ----------------------------------------

TEST(sources, resolved_profiles_match_the_reference) {
  std::size_t profiles = 0, merged = 0, multi_source = 0, failures = 0;
  for (const char* policy : {"priority", "latest"}) {
    for (std::uint64_t seed = first_seed; seed < first_seed + seed_count; ++seed) {
      const std::string where = std::string("merge ") + policy + ", seed " + std::to_string(seed) +
                                " (rerun: B2BSEG_SOURCES_SEED=" + std::to_string(seed) +
                                " B2BSEG_SOURCES_SEEDS=1)";
      source_data_options o;
      o.merge = policy;
      const source_dataset ds = make_source_dataset(seed, o);
      const std::string dir = dataset_dir(std::string(policy) + "-" + std::to_string(seed));
      ASSERT_TRUE(write_source_dataset(ds.data, dir, seed));
      const auto ref = try_reference(ds.data, where);
      if (!ref) continue;
      for (const auto& [entity, ps] : ref->profiles)
        for (const auto& p : ps) {
          ++profiles;
          merged += p.members.size() > 1;
          std::set<std::string> sources;
          for (const auto& m : p.members) sources.insert(m.substr(0, m.find('#')));
          multi_source += sources.size() > 1;
        }
      load_options lo;
      static const unsigned chunks[] = {0, 1, 2, 3, 7};  // several chunks even for small files
      lo.chunks = chunks[seed % 5];
      const auto g = try_load(dir, where, lo);
      if (!g) {
        if (++failures >= 5) return;
        continue;
      }
      const std::string got = testing::dump(*g);
      if (got != ref->dump) {
        ADD_FAILURE() << where << ": the engine's profiles differ from the reference's (files in "
                      << dir << ")\n"
                      << dump_diff(ref->dump, got);
        if (++failures >= 5) return;
        continue;
      }
      remove_passed(dir);
    }
  }
  std::printf("sources: %zu profiles, %zu merging several rows, %zu several sources\n", profiles,
              merged, multi_source);
  // The data must exercise the merging, or the test proves little.
  EXPECT_GT(merged, profiles / 5);
  EXPECT_GT(multi_source, profiles / 10);
}

// --- (b) row order ---------------------------------------------------------------------------

TEST(sources, row_order_changes_no_profile) {
  std::size_t failures = 0;
  for (const char* policy : {"priority", "latest"}) {
    for (std::uint64_t seed = first_seed;
         seed < first_seed + std::min<std::uint64_t>(seed_count, 20); ++seed) {
      const std::string where =
          std::string("merge ") + policy + ", seed " + std::to_string(seed) + " shuffled";
      source_data_options o;
      o.merge = policy;
      // Every third seed without ranking ties: then even the merged values are order-free.
      o.distinct_updates = seed % 3 == 0;
      const source_dataset ds = make_source_dataset(seed, o);
      source_dataset shuffled = ds;
      shuffle_rows(shuffled.data, seed);
      const std::string dir_a =
          dataset_dir(std::string(policy) + "-" + std::to_string(seed) + "-a");
      const std::string dir_b =
          dataset_dir(std::string(policy) + "-" + std::to_string(seed) + "-b");
      ASSERT_TRUE(write_source_dataset(ds.data, dir_a, seed));
      ASSERT_TRUE(write_source_dataset(shuffled.data, dir_b, seed + 1000));
      const auto ref_a = try_reference(ds.data, where);
      const auto ref_b = try_reference(shuffled.data, where);
      if (!ref_a || !ref_b) continue;
      // The reference itself: the same profiles (keys and member rows) in either order.
      for (const auto& [entity, ps] : ref_a->profiles) {
        const auto& qs = ref_b->profiles.at(entity);
        ASSERT_EQ(ps.size(), qs.size()) << where;
        for (std::size_t i = 0; i < ps.size(); ++i) {
          EXPECT_EQ(ps[i].key, qs[i].key) << where;
          EXPECT_EQ(ps[i].members, qs[i].members) << where << ", profile " << ps[i].key;
        }
      }
      if (o.distinct_updates) {
        EXPECT_EQ(ref_a->dump, ref_b->dump) << where;
      }
      const auto ga = try_load(dir_a, where), gb = try_load(dir_b, where);
      if (!ga || !gb) {
        if (++failures >= 5) return;
        continue;
      }
      const std::string da = testing::dump(*ga), db = testing::dump(*gb);
      bool ok = true;
      if (db != ref_b->dump) {
        ADD_FAILURE() << where << ": the engine's profiles differ from the reference's (files in "
                      << dir_b << ")\n"
                      << dump_diff(ref_b->dump, db);
        ok = false;
      }
      // Keys, and which profile each source row went into (the traces), whatever the order.
      const std::string ka = order_free_lines(ds.data, da), kb = order_free_lines(ds.data, db);
      if (ka != kb) {
        ADD_FAILURE() << where << ": keys or memberships change with the row order (files in "
                      << dir_a << " and " << dir_b << ")\n"
                      << dump_diff(ka, kb);
        ok = false;
      }
      if (o.distinct_updates && da != db) {
        ADD_FAILURE() << where << ": without ties, the merged values change with the row order"
                      << " (files in " << dir_a << " and " << dir_b << ")\n"
                      << dump_diff(da, db);
        ok = false;
      }
      if (!ok) {
        if (++failures >= 5) return;
        continue;
      }
      remove_passed(dir_a);
      remove_passed(dir_b);
    }
  }
}

// --- (c) segments over resolved data ---------------------------------------------------------

TEST(sources, segments_over_resolved_profiles_match_the_reference_evaluator) {
  std::size_t segments = 0, trivial = 0, failures = 0;
  const std::uint64_t seeds = std::min<std::uint64_t>(seed_count, 20);
  for (std::uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    source_data_options o;
    o.merge = seed % 2 ? "latest" : "priority";
    const source_dataset ds = make_source_dataset(seed, o);
    const std::string dir = dataset_dir("segments-" + std::to_string(seed));
    ASSERT_TRUE(write_source_dataset(ds.data, dir, seed));
    const auto loaded = try_load(dir, "seed " + std::to_string(seed));
    if (!loaded) continue;
    const graph& g = *loaded;
    reference_evaluator ref(g), meant_ref(g);
    for (int k = 0; k < 5; ++k) {
      const std::uint64_t file_seed = seed * 1000 + static_cast<std::uint64_t>(k);
      segment_generator gen(g, ds.as_of, file_seed);
      segment_options opts;
      opts.max_depth = 1 + k % 4;
      rng pick(file_seed ^ 0x5A5A5A5AULL);
      // Most segments whose result is empty or every row are drawn again: they prove little.
      auto accept = [&](const std::string& text, std::size_t index) {
        bound_file f;
        try {
          f = compile_segments(text, g.schema(), "candidate.seg");
        } catch (const compile_error&) {
          return true;
        }
        ref.bind(f, ds.as_of);
        const auto rows = ref.member_rows(f, static_cast<std::uint32_t>(index), ds.as_of);
        return !(rows.empty() || rows.size() == g.rows(f.segments[index].entity)) ||
               pick.chance(0.15);
      };
      const generated_segments file = gen.file(opts, accept);
      const std::string where =
          "seed " + std::to_string(seed) + ", file " + std::to_string(k) + " (data in " + dir + ")";
      bound_file f;
      try {
        f = compile_segments(file.text, g.schema(), "random.seg");
      } catch (const compile_error& e) {
        ADD_FAILURE() << where << ": generated segments do not compile: " << e.what() << "\n"
                      << file.text;
        ++failures;
        continue;
      }
      const evaluation ev = evaluate(
          g, f, eval_options{.as_of = ds.as_of, .threads = k % 2 ? 2u : 1u, .segments = {}});
      ref.bind(f, ds.as_of);
      meant_ref.bind(file.meant, ds.as_of);
      for (const segment_result& res : ev.segments) {
        const auto seg = static_cast<std::uint32_t>(f.find(res.name));
        const std::vector<row_id> want = ref.member_rows(f, seg, ds.as_of);
        const std::vector<row_id> meant = meant_ref.member_rows(file.meant, seg, ds.as_of);
        std::vector<row_id> got;
        for (auto it = res.members.begin(); it != res.members.end(); ++it) got.push_back(*it);
        ++segments;
        trivial += want.empty() || want.size() == g.rows(res.entity);
        if (got == want && want == meant) continue;
        ++failures;
        ADD_FAILURE() << where << ": segment '" << res.name << "': engine " << got.size()
                      << " members, reference " << want.size() << ", generator's meaning "
                      << meant.size() << "\n"
                      << file.definitions[seg] << "\n--- whole file ---\n"
                      << file.text;
      }
      if (failures >= 10) return;
    }
    if (failures == 0) remove_passed(dir);
  }
  std::printf("sources: %zu segments over resolved data, %zu trivial\n", segments, trivial);
  EXPECT_GE(segments, seeds * 40);  // 5 files of 10 segments per seed
  EXPECT_LT(trivial, segments / 2);
}

// --- hand-made data: worked examples ----------------------------------------------------------

ref_table make_table(const std::string& file, std::vector<std::string> header,
                     std::vector<std::vector<std::string>> rows) {
  ref_table t;
  t.file = file;
  t.header = std::move(header);
  t.rows = std::move(rows);
  return t;
}

/// Events (events.csv: lead, type) linking to person by namespace `ns` through column "lead".
ref_entity hand_events(const std::string& ns, std::vector<std::vector<std::string>> rows) {
  ref_entity ev;
  ev.name = "event";
  ev.attributes = {{"type", value_type::string, "type"}};
  ev.links = {{"person", "person", "events", {"lead", ns}}};
  ev.table = make_table("events.csv", {"lead", "type"}, std::move(rows));
  return ev;
}

/// People from Salesforce and Marketo, events linking to them by Marketo id.
///   sfdc.csv                          marketo.csv
///   2: 003A, "Ana@X.com ", Ana, 01-05   2: 71, ana@x.com, Anna, 10, 01-09
///   3: 003B, bo@y.com, Bo, -            3: 72, " BO@Y.COM", Bob, 20, 01-02
///   4: 003C, -, Cy, 01-01               4: 72, -, -, 25, 01-02 (the same instant, spelled else)
///                                       5: 73, -, Dee, -, -
///                                       6: 71, Ann@X.com, -, 30, 01-01
ref_dataset hand_people(const std::string& merge) {
  ref_dataset ds;
  ref_entity p;
  p.name = "person";
  p.key = "person_id";
  p.identities = {{"sfdc_id", "exact"}, {"marketo_id", "exact"}, {"email", "email"}};
  p.attributes = {{"first_name", value_type::string, ""}, {"score", value_type::integer, ""}};
  p.merge = merge;
  ref_source sf;
  sf.name = "salesforce";
  sf.table = make_table("sfdc.csv", {"Id", "Email", "FirstName", "Modified"},
                        {{"003A", "Ana@X.com ", "Ana", "2026-01-05"},
                         {"003B", "bo@y.com", "Bo", ""},
                         {"003C", "", "Cy", "2026-01-01T00:00:00Z"}});
  sf.identities = {{"sfdc_id", "Id"}, {"email", "Email"}};
  sf.attributes = {{"first_name", "FirstName"}};
  sf.updated_at = "Modified";
  ref_source mk;
  mk.name = "marketo";
  mk.table = make_table("marketo.csv", {"id", "email", "firstName", "score", "updatedAt"},
                        {{"71", "ana@x.com", "Anna", "10", "2026-01-09"},
                         {"72", " BO@Y.COM", "Bob", "20", "2026-01-02"},
                         {"72", "", "", "25", "2026-01-02T01:00:00+01:00"},
                         {"73", "", "Dee", "", ""},
                         {"71", "Ann@X.com", "", "30", "2026-01-01"}});
  mk.identities = {{"marketo_id", "id"}, {"email", "email"}};
  mk.attributes = {{"first_name", "firstName"}, {"score", "score"}};
  mk.updated_at = "updatedAt";
  p.sources = {sf, mk};
  ds.entities = {p, hand_events("marketo_id", {{"72", "open"}, {"73", "click"}, {"71", "visit"}})};
  return ds;
}

/// Writes `ds` into a fresh folder named after the running test (plus `suffix`).
std::string write_hand(const ref_dataset& ds, const std::string& suffix = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string dir = dataset_dir(std::string("hand-") + info->name() + suffix);
  EXPECT_TRUE(write_source_dataset(ds, dir, 7));
  return dir;
}

void expect_dump(const ref_dataset& ds, const std::string& want) {
  EXPECT_EQ(resolve_reference(ds).dump, want) << "the reference";
  const auto g = try_load(write_hand(ds), "hand-made data");
  if (g) {
    EXPECT_EQ(testing::dump(*g), want) << "the engine";
  }
}

TEST(sources, worked_example_priority) {
  // Profiles: {sfdc 2, marketo 2, 6} by ana@x.com and marketo id 71; {sfdc 3, marketo 3, 4} by
  // bo@y.com and 72; {sfdc 4}; {marketo 5}. Keys: sfdc_id first, else marketo_id.
  // priority: Salesforce first; within Marketo 01-09 before 01-01, and lines 3 and 4 tie on
  // 2026-01-02T00:00Z, so the later line 4 (score 25) comes first.
  expect_dump(hand_people("priority"),
              "event  type='click' person->marketo_id:73\n"
              "event  type='open' person->sfdc_id:003B\n"
              "event  type='visit' person->sfdc_id:003A\n"
              "person marketo_id:73 first_name='Dee' score=NULL\n"
              "person sfdc_id:003A first_name='Ana' score=10\n"
              "person sfdc_id:003B first_name='Bo' score=25\n"
              "person sfdc_id:003C first_name='Cy' score=NULL\n");
}

TEST(sources, worked_example_latest) {
  // latest: Marketo 01-09 (Anna) before Salesforce 01-05; for 003B the Marketo rows (01-02,
  // line 4 first: no first name, then line 3: Bob) before Salesforce's row without a date.
  expect_dump(hand_people("latest"),
              "event  type='click' person->marketo_id:73\n"
              "event  type='open' person->sfdc_id:003B\n"
              "event  type='visit' person->sfdc_id:003A\n"
              "person marketo_id:73 first_name='Dee' score=NULL\n"
              "person sfdc_id:003A first_name='Anna' score=10\n"
              "person sfdc_id:003B first_name='Bob' score=25\n"
              "person sfdc_id:003C first_name='Cy' score=NULL\n");
}

TEST(sources, worked_example_keys_follow_the_identity_order) {
  // email first: the smallest normalized address ("ana@x.com" < "ann@x.com"), lower case.
  ref_dataset ds = hand_people("priority");
  ds.entities[0].identities = {{"email", "email"}, {"marketo_id", "exact"}, {"sfdc_id", "exact"}};
  expect_dump(ds,
              "event  type='click' person->marketo_id:73\n"
              "event  type='open' person->email:bo@y.com\n"
              "event  type='visit' person->email:ana@x.com\n"
              "person email:ana@x.com first_name='Ana' score=10\n"
              "person email:bo@y.com first_name='Bo' score=25\n"
              "person marketo_id:73 first_name='Dee' score=NULL\n"
              "person sfdc_id:003C first_name='Cy' score=NULL\n");
}

/// A source `name` reading `file` (`header`, `rows`) that maps `identities` (namespace ->
/// column), the attribute n from column "n", and `updated_at` when not empty.
ref_source hand_source(const std::string& name, const std::string& file,
                       std::vector<std::string> header, std::vector<std::vector<std::string>> rows,
                       std::vector<std::pair<std::string, std::string>> identities,
                       const std::string& updated_at = "") {
  ref_source s;
  s.name = name;
  s.table = make_table(file, std::move(header), std::move(rows));
  s.identities = std::move(identities);
  s.attributes = {{"n", "n"}};
  s.updated_at = updated_at;
  return s;
}

/// A dataset of one entity, person, resolved by `identities` from `sources`, with an int n.
ref_dataset hand_person(std::vector<std::pair<std::string, std::string>> identities,
                        std::vector<ref_source> sources) {
  ref_entity p;
  p.name = "person";
  p.key = "person_id";
  p.identities = std::move(identities);
  p.attributes = {{"n", value_type::integer, ""}};
  p.sources = std::move(sources);
  ref_dataset ds;
  ds.entities = {p};
  return ds;
}

TEST(sources, worked_example_chain_and_namespaces) {
  // Rows join through a chain A-B-C (sfdc 1 ~ marketo 1 by email, marketo 1 ~ marketo 2 by id,
  // marketo 2 ~ sfdc 2 by sfdc id), and equal text in two namespaces joins nothing ("9").
  const ref_dataset ds = hand_person(
      {{"marketo_id", "exact"}, {"sfdc_id", "exact"}, {"email", "email"}},
      {hand_source("sf", "sf.csv", {"Id", "Email", "n"},
                   {{"S1", "a@x.com", "1"}, {"S2", "", "2"}, {"9", "", "3"}},
                   {{"sfdc_id", "Id"}, {"email", "Email"}}),
       hand_source("mk", "mk.csv", {"id", "email", "sfdc", "n"},
                   {{"M1", "\tA@X.COM", "", "4"}, {"M1", "", "S2", "5"}, {"9", "", "", "6"}},
                   {{"marketo_id", "id"}, {"email", "email"}, {"sfdc_id", "sfdc"}})});
  expect_dump(ds,
              "person marketo_id:9 n=6\n"
              "person marketo_id:M1 n=2\n"
              "person sfdc_id:9 n=3\n");
}

TEST(sources, exact_rule_keeps_the_value_as_written) {
  // SPEC 2.3: `exact` compares the value as written: case and surrounding spaces count.
  const ref_dataset ds = hand_person(
      {{"sfdc_id", "exact"}},
      {hand_source("s", "s.csv", {"Id", "n"}, {{"S1", "1"}, {" S1", "2"}, {"s1", "3"}, {"S1", "4"}},
                   {{"sfdc_id", "Id"}})});
  expect_dump(ds,
              "person sfdc_id: S1 n=2\n"
              "person sfdc_id:S1 n=4\n"
              "person sfdc_id:s1 n=3\n");
}

TEST(sources, values_whose_hashes_collide_stay_apart) {
  // Resolving sorts identity values by a 48-bit hash: these pairs share it (found by a birthday
  // search), so only comparing the bytes keeps them apart, in the profiles and in the index that
  // links by namespace look up.
  ASSERT_EQ(identity_key(0, "k10070968"), identity_key(0, "k15012617"));
  ASSERT_EQ(identity_key(0, "k1993187"), identity_key(0, "k23658227"));
  ref_dataset ds = hand_person({{"sfdc_id", "exact"}}, {hand_source("s", "s.csv", {"Id", "n"},
                                                                    {{"k10070968", "1"},
                                                                     {"k15012617", "2"},
                                                                     {"k10070968", "3"},
                                                                     {"k1993187", "4"},
                                                                     {"k23658227", "5"}},
                                                                    {{"sfdc_id", "Id"}})});
  ds.entities.push_back(hand_events(
      "sfdc_id", {{"k15012617", "open"}, {"k10070968", "click"}, {"k23658227", "visit"}}));
  const std::string want = resolve_reference(ds).dump;
  for (const char* line : {"person sfdc_id:k10070968 n=3", "person sfdc_id:k15012617 n=2",
                           "person sfdc_id:k1993187 n=4", "person sfdc_id:k23658227 n=5"})
    EXPECT_NE(want.find(line), std::string::npos) << line << "\n" << want;
  const auto g = try_load(write_hand(ds), "colliding values");
  if (g) {
    EXPECT_EQ(testing::dump(*g), want);
  }
}

TEST(sources, values_too_long_to_pack_resolve_as_short_ones) {
  // A source row's fields are packed in 8 bytes with a 16-bit size; longer ones are kept aside.
  const std::string a(70000, 'a'), b = std::string(69999, 'a') + "b";
  const ref_dataset ds = hand_person(
      {{"sfdc_id", "exact"}},
      {hand_source("s", "s.csv", {"Id", "n"}, {{a, "1"}, {b, "2"}, {a, "3"}, {"short", "4"}},
                   {{"sfdc_id", "Id"}})});
  expect_dump(
      ds, "person sfdc_id:" + a + " n=3\nperson sfdc_id:" + b + " n=2\nperson sfdc_id:short n=4\n");
}

TEST(sources, email_rule_trims_every_ascii_whitespace) {
  // SPEC 2.3: leading and trailing whitespace removed; here also CR, LF, form feed, vertical tab.
  const ref_dataset ds =
      hand_person({{"email", "email"}}, {hand_source("s", "s.csv", {"Email", "n", "t"},
                                                     {{"\r\nana@x.com", "1", "2026-01-01"},
                                                      {"ANA@x.com\f", "2", "2026-01-02"},
                                                      {"\vAna@X.com \t", "3", "2026-01-03"}},
                                                     {{"email", "Email"}}, "t")});
  expect_dump(ds, "person email:ana@x.com n=3\n");
}

TEST(sources, email_rule_lowers_ascii_letters_only) {
  // "ASCII lower-cased": \xC3\x89 stays as it is, so it never matches \xC3\xA9 (É and é).
  const ref_dataset ds = hand_person(
      {{"email", "email"}},
      {hand_source(
          "s", "s.csv", {"Email", "n"},
          {{"\xC3\x89MILE@X.COM", "1"}, {"\xC3\xA9mile@x.com", "2"}, {"\xC3\xA9MILE@x.Com", "3"}},
          {{"email", "Email"}})});
  expect_dump(ds,
              "person email:\xC3\x89mile@x.com n=1\n"
              "person email:\xC3\xA9mile@x.com n=3\n");
}

// --- (d) errors, strict and lenient -----------------------------------------------------------

/// Loads `dir` strictly and returns the data_error's message ("" and a failure when none).
std::string load_error(const std::string& dir) {
  try {
    load_dataset(dir);
  } catch (const data_error& e) {
    std::printf("data_error: %s\n", e.what());
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a data_error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "the load of " << dir << " succeeded";
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Loads `dir` leniently and checks it against the reference's lenient result; returns the dump.
std::string lenient_load(const ref_dataset& ds, const std::string& dir) {
  load_report rep;
  std::string got;
  try {
    load_options lo;
    lo.lenient = true;
    const graph g = load_dataset(dir, lo, &rep);
    g.validate();
    got = testing::dump(g);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "lenient load failed: " << e.what();
    return "";
  }
  EXPECT_FALSE(rep.issues.empty()) << "a lenient load that dropped rows reports no issue";
  const ref_result ref = resolve_reference(ds, true);
  EXPECT_EQ(got, ref.dump) << dump_diff(ref.dump, got);
  return got;
}

TEST(sources, a_row_without_identity) {
  ref_dataset ds = hand_people("priority");
  ds.entities[0].sources[0].table.rows.push_back({"", "", "Ghost", "2026-01-03"});  // line 5
  const std::string dir = write_hand(ds);
  const std::string msg = load_error(dir);
  EXPECT_TRUE(has(msg, "sfdc.csv:5")) << msg;
  const std::string got = lenient_load(ds, dir);
  EXPECT_FALSE(has(got, "Ghost")) << got;
  EXPECT_TRUE(has(got, "person sfdc_id:003A")) << got;
}

TEST(sources, a_source_column_missing_from_its_file) {
  ref_dataset ds = hand_people("priority");
  ds.entities[0].sources[1].table.header[2] = "first_name";  // the schema reads firstName
  const std::string msg = load_error(write_hand(ds));
  EXPECT_TRUE(has(msg, "marketo.csv:1")) << msg;
  EXPECT_TRUE(has(msg, "firstName")) << msg;
}

TEST(sources, a_link_to_no_profile) {
  ref_dataset ds = hand_people("priority");
  ds.entities[1].table.rows.push_back({"79", "bounce"});  // line 5
  const std::string msg = load_error(write_hand(ds));
  EXPECT_TRUE(has(msg, "events.csv:5")) << msg;
  EXPECT_TRUE(has(msg, "no person with")) << msg;
  EXPECT_TRUE(has(msg, "79")) << msg;
}

TEST(sources, an_oversized_profile) {
  // Four rows share info@acme.com (spelled four ways); at most 3 rows per profile.
  ref_dataset ds = hand_people("priority");
  ref_entity& p = ds.entities[0];
  p.max_rows_per_profile = 3;
  p.write_max_rows = true;
  auto& mk = p.sources[1].table.rows;
  mk.push_back({"81", "info@acme.com", "I1", "1", ""});
  mk.push_back({"82", " INFO@acme.com", "I2", "2", ""});
  mk.push_back({"83", "Info@Acme.com\t", "I3", "3", ""});
  mk.push_back({"84", "info@ACME.COM", "I4", "4", ""});
  ds.entities[1].table.rows.push_back({"83", "webinar"});  // links to the oversized profile
  const std::string dir = write_hand(ds);
  const std::string msg = load_error(dir);
  EXPECT_TRUE(has(msg, "info@acme.com")) << msg;
  const std::string got = lenient_load(ds, dir);
  for (const char* gone : {"info@acme.com", "I1", "I2", "I3", "I4", "marketo_id:8"})
    EXPECT_FALSE(has(got, gone)) << gone << " in\n" << got;
  EXPECT_TRUE(has(got, "event  type='webinar' person->NULL")) << got;
  EXPECT_TRUE(has(got, "person sfdc_id:003A")) << got;
}

TEST(sources, a_link_by_key_matches_the_profile_key_only) {
  // Without "identity" the column holds the target's key: sfdc_id:003A is 003A's profile key;
  // email:ana@x.com is an identity of that profile but not its key, so it matches nothing.
  ref_dataset ds = hand_people("priority");
  ref_entity& ev = ds.entities[1];
  ev.links[0].map = {"person_key", ""};
  ev.table = make_table("events.csv", {"person_key", "type"},
                        {{"sfdc_id:003A", "open"}, {"email:ana@x.com", "click"}});
  const std::string dir = write_hand(ds);
  const std::string msg = load_error(dir);
  EXPECT_TRUE(has(msg, "events.csv:3")) << msg;
  EXPECT_TRUE(has(msg, "no person with key")) << msg;
  const std::string got = lenient_load(ds, dir);
  EXPECT_TRUE(has(got, "event  type='click' person->NULL\n")) << got;
  EXPECT_TRUE(has(got, "event  type='open' person->sfdc_id:003A\n")) << got;
}

TEST(sources, fifty_rows_per_profile_by_default) {
  // "max_rows_per_profile" left out: 50 rows sharing an address are one profile, 51 an error.
  for (int rows : {50, 51}) {
    static const char* spellings[] = {"info@acme.com", " Info@acme.com", "INFO@ACME.COM\t"};
    std::vector<std::vector<std::string>> lines;
    for (int i = 0; i < rows; ++i) lines.push_back({spellings[i % 3], std::to_string(i)});
    const ref_dataset ds =
        hand_person({{"email", "email"}},
                    {hand_source("s", "s.csv", {"Email", "n"}, lines, {{"email", "Email"}})});
    const std::string dir = write_hand(ds, std::to_string(rows));
    if (rows == 50) {
      // Rows without updated_at: the later line first.
      EXPECT_EQ(resolve_reference(ds).dump, "person email:info@acme.com n=49\n");
      const auto g = try_load(dir, "50 rows");
      if (g) {
        EXPECT_EQ(testing::dump(*g), "person email:info@acme.com n=49\n");
      }
    } else {
      const std::string msg = load_error(dir);
      EXPECT_TRUE(has(msg, "info@acme.com")) << msg;
    }
  }
}

TEST(sources, a_bad_updated_at) {
  // Marketo line 2 (71, Anna, score 10) has no valid date: an error naming file, line and value;
  // lenient: null, so the row ranks after line 6 (01-01, score 30) within Marketo.
  ref_dataset ds = hand_people("priority");
  ds.entities[0].sources[1].table.rows[0][4] = "2026-13-01";
  const std::string dir = write_hand(ds);
  const std::string msg = load_error(dir);
  EXPECT_TRUE(has(msg, "marketo.csv:2")) << msg;
  EXPECT_TRUE(has(msg, "2026-13-01")) << msg;
  const std::string got = lenient_load(ds, dir);
  EXPECT_TRUE(has(got, "person sfdc_id:003A first_name='Ana' score=30\n")) << got;
}

TEST(sources, lenient_nulls_come_before_the_merge) {
  // SPEC 2.2: lenient turns a bad value and a dangling link into null; SPEC 2.3: each attribute
  // and link takes the first ranked row where it is not null. So 003A's best row (01-05) with a
  // bad score and a dangling account gives way to the next row's values.
  ref_dataset ds;
  ref_entity a;
  a.name = "account";
  a.key = "id";
  a.table = make_table("account.csv", {"id"}, {{"A1"}, {"A2"}});
  ref_entity p;
  p.name = "person";
  p.key = "person_id";
  p.identities = {{"sfdc_id", "exact"}};
  p.attributes = {{"score", value_type::integer, ""}};
  p.links = {{"account", "account", "people", {}}};
  ref_source s;
  s.name = "s";
  s.table = make_table("s.csv", {"Id", "Score", "Acc", "T"},
                       {{"003A", "7", "A2", "2026-01-01"},
                        {"003A", "abc", "A9", "2026-01-05"},
                        {"003A", "5", "A1", "2026-01-03"},
                        {"003B", "x", "A8", ""}});
  s.identities = {{"sfdc_id", "Id"}};
  s.attributes = {{"score", "Score"}};
  s.links = {{"account", {"Acc", ""}}};
  s.updated_at = "T";
  p.sources = {s};
  ds.entities = {a, p};
  const std::string dir = write_hand(ds);
  const std::string msg = load_error(dir);
  EXPECT_TRUE(has(msg, "s.csv:")) << msg;
  const std::string got = lenient_load(ds, dir);
  EXPECT_EQ(got,
            "account A1\n"
            "account A2\n"
            "person sfdc_id:003A score=5 account->A1\n"
            "person sfdc_id:003B score=NULL account->NULL\n");
}

TEST(sources, a_merge_policy_that_does_not_exist) {
  ref_dataset ds = hand_people("newest");
  const std::string msg = load_error(write_hand(ds));
  EXPECT_TRUE(has(msg, "schema.json:")) << msg;
  EXPECT_TRUE(has(msg, "newest")) << msg;
}

TEST(sources, a_link_with_an_unknown_namespace) {
  ref_dataset ds = hand_people("priority");
  ds.entities[1].links[0].map.identity = "nope";
  const std::string msg = load_error(write_hand(ds));
  EXPECT_TRUE(has(msg, "schema.json:")) << msg;
  EXPECT_TRUE(has(msg, "nope")) << msg;
}

TEST(sources, a_source_file_outside_the_folder) {
  ref_dataset ds = hand_people("priority");
  const std::string dir = write_hand(ds);
  // A real file beside the dataset folder, so that only the path's direction is wrong.
  fs::copy_file(fs::path(dir) / "marketo.csv", fs::path(dir).parent_path() / "x.csv",
                fs::copy_options::overwrite_existing);
  ds.entities[0].sources[1].table.file = "../x.csv";
  rng spelling(1);
  const std::string js = detail_src::schema_json(ds, spelling);
  ASSERT_TRUE(detail_src::write_text(fs::path(dir) / "schema.json", js));
  const std::string msg = load_error(dir);
  EXPECT_TRUE(has(msg, "schema.json")) << msg;
  EXPECT_TRUE(has(msg, "../x.csv")) << msg;
  EXPECT_TRUE(has(msg, "marketo")) << msg;  // the source's name
}

}  // namespace
TEST(sources, a_dangling_link_resolved_after_the_merge_is_told_at_its_source_row) {
  // person and account link to each other: person, listed first, is built first, so its links
  // to account are checked only once account exists, on the merged profiles. The error must
  // still name the source row and column the link's value came from; --lenient nulls it.
  testing::temp_dir dir;
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir.path() / name, std::ios::binary) << text;
  };
  write("schema.json", R"J({"entities": {
    "person": {"key": "person_id", "identities": {"crm_id": "exact"},
      "attributes": {"name": "string", "score": "int"},
      "links": {"account": {"to": "account", "reverse": "people"}},
      "sources": [
        {"name": "crm", "file": "crm.csv", "identities": {"crm_id": "Id"},
         "attributes": {"name": "Name"}, "links": {"account": "AccountId"}},
        {"name": "web", "file": "web.csv", "identities": {"crm_id": "crm"},
         "attributes": {"score": "Score"}, "links": {"account": "acct"}}]},
    "account": {"file": "account.csv", "key": "id", "attributes": {"name": "string"},
      "links": {"owner": {"column": "owner", "to": "person", "reverse": "owned"}}}}})J");
  write("crm.csv", "Id,Name,AccountId\n1,Ana,A1\n2,Bob,\n3,Cy,A2\n");
  write("web.csv", "crm,Score,acct\n1,5,\n2,7,NOPE\n3,9,A1\n");
  write("account.csv", "id,name,owner\nA1,Acme,crm_id:1\nA2,Beta,\n");
  const std::string msg = load_error(dir.path().string());
  EXPECT_TRUE(has(msg, "web.csv:3:5")) << msg;
  EXPECT_TRUE(has(msg, "column 'acct'")) << msg;
  EXPECT_TRUE(has(msg, "'NOPE'")) << msg;
  load_options lo;
  lo.lenient = true;
  load_report rep;
  const graph g = load_dataset(dir.path().string(), lo, &rep);
  EXPECT_EQ(rep.dangling_links, 1u);
  EXPECT_EQ(testing::dump(g),
            "account A1 name='Acme' owner->crm_id:1\n"
            "account A2 name='Beta' owner->NULL\n"
            "person crm_id:1 name='Ana' score=5 account->A1\n"
            "person crm_id:2 name='Bob' score=7 account->NULL\n"
            "person crm_id:3 name='Cy' score=9 account->A2\n");
}

}  // namespace b2bseg

TEST(sources, a_list_without_elements_is_null_in_the_merge) {
  // "|" holds no element: null, so the merge takes the next row's list; "  " is no email.
  b2bseg::testing::temp_dir dir;
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir.path() / name, std::ios::binary) << text;
  };
  write("schema.json", R"J({"entities": {"person": {"key": "person_id",
    "identities": {"sfdc_id": "exact", "email": "email"}, "attributes": {"tags": "string[]"},
    "sources": [
      {"name": "a", "file": "a.csv", "identities": {"sfdc_id": "Id", "email": "Email"},
       "attributes": {"tags": "Tags"}},
      {"name": "b", "file": "b.csv", "identities": {"email": "email"}, "attributes": {"tags": "t"}}
    ]}}})J");
  write("a.csv", "Id,Email,Tags\n003A,ana@x.com,|\n003B,  ,||\n");
  write("b.csv", "email,t\nANA@x.com,ai|cloud\n");
  const b2bseg::graph g = b2bseg::load_dataset(dir.path().string());
  EXPECT_EQ(b2bseg::testing::dump(g),
            "person sfdc_id:003A tags=[ai|cloud|]\n"
            "person sfdc_id:003B tags=NULL\n");
}
