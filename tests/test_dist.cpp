// Scale-out (SPEC 8): random graphs and random segments evaluated by 1, 2 and 3 processes (threads
// of this process through dist::thread_world; the MPI runtime is checked by `mpirun` tests when
// the build has B2BSEG_MPI) give NAME.csv byte for byte as one process writes it; bad input gives
// one process's error on every process.
//
// Environment: B2BSEG_DIST_GRAPHS  random graphs to run (default 40)
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "b2bseg/activate/activate.hpp"
#include "b2bseg/b2bseg.hpp"
#include "b2bseg/dist/activate.hpp"
#include "b2bseg/dist/comm.hpp"
#include "b2bseg/dist/evaluate.hpp"
#include "support/random_fields.hpp"
#include "support/random_graph.hpp"
#include "support/random_segments.hpp"
#include "support/temp_dir.hpp"

namespace b2bseg {
namespace {

using namespace test_support;
namespace fs = std::filesystem;

/// Adds `"partition": "account"` to the schema.json in `dir`.
/// NAME.csv texts of a single process, by segment name.
std::map<std::string, std::string> single(const std::string& dir, const std::string& seg_text,
                                          timestamp_us as_of) {
  graph g = load_dataset(dir);
  bound_file f = compile_segments(seg_text, g.schema(), "random.seg");
  evaluation ev = evaluate(g, f, eval_options{.as_of = as_of, .threads = 0, .segments = {}});
  std::map<std::string, std::string> out;
  for (const auto& s : ev.segments) out[s.name] = members_csv(g, s.entity, s.members);
  return out;
}

/// NAME.csv texts of `n` processes (rank 0's), by segment name; also the rows each rank held.
/// With `small_pieces`, processes read files in pieces of 64 bytes and send rows in rounds of
/// 128 bytes, so that every boundary of the load is crossed many times.
std::map<std::string, std::string> spread(int n, const std::string& dir, const std::string& work,
                                          const std::string& seg_text, timestamp_us as_of,
                                          std::vector<dist::dist_result>* all = nullptr,
                                          bool small_pieces = false) {
  std::map<std::string, std::string> out;
  std::mutex mu;
  std::vector<dist::dist_result> results(static_cast<std::size_t>(n));
  dist::thread_world w(n);
  w.run([&](dist::communicator& c) {
    const schema s = read_schema((fs::path(dir) / "schema.json").string());
    const bound_file f = compile_segments(seg_text, s, "random.seg");
    dist::dist_options o;
    o.as_of = as_of;
    o.work_dir = work;
    if (small_pieces) o.piece_bytes = 64, o.round_bytes = 128;
    dist::dist_result r = dist::evaluate_distributed(c, dir, s, f, o);
    std::lock_guard<std::mutex> lk(mu);
    if (c.rank() == 0)
      for (const auto& seg : r.segments) out[seg.name] = seg.csv;
    results[static_cast<std::size_t>(c.rank())] = std::move(r);
  });
  if (all) *all = std::move(results);
  return out;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

TEST(Dist, PlacementFollowsTheFirstLinkTowardThePartition) {
  schema s = parse_schema(
      testing::read_file(fs::path(B2BSEG_SOURCE_DIR) / "datasets/demo/schema.json"), "schema.json");
  EXPECT_THROW(dist::place_entities(s), data_error);
  s.partition = "account";
  const auto p = dist::place_entities(s);
  using K = dist::placement::kind;
  auto at = [&](const char* n) { return p[s.find_entity(n)]; };
  EXPECT_EQ(at("account").k, K::partition);
  EXPECT_EQ(at("person").k, K::follows);
  EXPECT_EQ(at("person").level, 1);
  EXPECT_EQ(at("event").k, K::follows);
  EXPECT_EQ(s.entities[s.find_entity("event")].links[at("event").link].to, "person");
  // campaign_member's first link is to campaign (everywhere): it follows its person instead.
  EXPECT_EQ(s.entities[s.find_entity("campaign_member")].links[at("campaign_member").link].to,
            "person");
  EXPECT_EQ(at("campaign").k, K::everywhere);
  EXPECT_EQ(at("marketing_list").k, K::everywhere);
}

TEST(Dist, SchemaPartitionIsCheckedAndRoundTrips) {
  const std::string base = R"({"entities": {"a": {"key": "id", "attributes": {}},
                                             "b": {"attributes": {}}}, "partition": )";
  EXPECT_EQ(parse_schema(base + "\"a\"}", "s.json").partition, "a");
  EXPECT_EQ(parse_schema(to_json(parse_schema(base + "\"a\"}", "s.json")), "t").partition, "a");
  try {
    parse_schema(base + "\"aa\"}", "s.json");
    FAIL();
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find("'partition' names unknown entity 'aa'"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(e.line(), 2u);
  }
  try {
    parse_schema(base + "\"b\"}", "s.json");
    FAIL();
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find("has no 'key'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_schema(base + "3}", "s.json"), data_error);
}

TEST(Dist, ExchangeDeliversEveryMessage) {
  for (int n : {1, 2, 3, 5}) {
    dist::thread_world w(n);
    w.run([&](dist::communicator& c) {
      for (int round = 0; round < 20; ++round) {
        std::vector<std::string> out(static_cast<std::size_t>(n));
        for (int d = 0; d < n; ++d)
          out[d] = std::to_string(c.rank()) + ">" + std::to_string(d) + "#" + std::to_string(round);
        auto in = c.exchange(std::move(out));
        for (int s = 0; s < n; ++s)
          ASSERT_EQ(in[s], std::to_string(s) + ">" + std::to_string(c.rank()) + "#" +
                               std::to_string(round));
      }
    });
  }
}

TEST(Dist, RandomGraphsGiveTheBytesOfOneProcess) {
  const int graphs = env_int("B2BSEG_DIST_GRAPHS", 40);
  testing::temp_dir tmp;
  std::size_t compared = 0, nonempty = 0;
  for (int k = 0; k < graphs; ++k) {
    const std::uint64_t seed = 1000 + static_cast<std::uint64_t>(k);
    random_dataset ds = make_random_dataset(seed, {.scale = 2.0, .exact_sizes = false});
    const std::string dir = (tmp.path() / ("g" + std::to_string(seed))).string();
    fs::create_directories(dir);
    ASSERT_TRUE(write_dataset_files(ds, dir));
    add_partition(dir);
    segment_generator gen(ds.graph, ds.as_of, seed);
    segment_options so;
    so.segments = 16;
    so.top = 0;  // a `top` without `per` is refused over several processes (own test below)
    const generated_segments segs = gen.file(so);
    std::map<std::string, std::string> want;
    try {
      want = single(dir, segs.text, ds.as_of);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "seed " << seed << ": single process failed: " << e.what();
      continue;
    }
    for (int n : {1, 2, 3}) {
      std::map<std::string, std::string> got;
      try {
        got = spread(n, dir, (tmp.path() / "work").string(), segs.text, ds.as_of, nullptr,
                     k % 2 == 1);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "seed " << seed << ", " << n << " processes: " << e.what()
                      << "\n--- segments ---\n"
                      << segs.text;
        continue;
      }
      ASSERT_EQ(got.size(), want.size()) << "seed " << seed << ", " << n << " processes";
      for (const auto& [name, csv] : want) {
        ++compared;
        if (csv.find('\n') + 1 < csv.size()) ++nonempty;
        EXPECT_EQ(got[name], csv) << "segment " << name << ", seed " << seed << ", " << n
                                  << " processes\n--- segments ---\n"
                                  << segs.text;
      }
    }
  }
  EXPECT_GT(nonempty, compared / 4) << "most segments were empty: the test proves little";
}

/// Every file under `dir`, by path relative to it.
std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).string()] = testing::read_file(e.path());
  return out;
}

/// Random destinations of every type over the segments of one entity of `f`, with random fields;
/// empty when no entity with a key has a segment.
std::string random_destinations(const schema& s, const bound_file& f, std::uint64_t seed) {
  test_support::rng r(seed * 31 + 7);
  entity_id e = no_entity;
  std::vector<std::string> segs;
  for (const auto& seg : f.segments) {
    if (!s.entities[seg.entity].key) continue;
    if (e == no_entity) e = seg.entity;
    if (seg.entity == e && segs.size() < 3) segs.push_back(seg.name);
  }
  if (e == no_entity) return "";
  std::string names;
  for (const auto& n : segs) names += (names.empty() ? "\"" : ", \"") + n + "\"";
  std::string fields;
  for (int k = 0; k < 5; ++k) {
    const std::string x = test_support::random_field(s, e, r);
    if (x.empty()) continue;
    try {
      compile_field(x, s, e);
    } catch (const compile_error&) {
      continue;
    }
    fields += (fields.empty() ? "\"c" : ", \"c") + std::to_string(k) + "\": \"" + x + "\"";
  }
  std::string text_attr;  // a string attribute, for the list types' email and name columns
  for (const auto& a : s.entities[e].attributes)
    if (a.type == value_type::string && text_attr.empty()) text_attr = "`" + a.name + "`";
  std::string lead = test_support::random_field(s, e, r);  // may be null for some rows
  try {
    compile_field(lead, s, e);
  } catch (const compile_error&) {
    lead.clear();
  }
  if (lead.empty()) lead = text_attr;
  std::string json = "{\"destinations\": [\n";
  json += "{\"name\": \"csv\", \"type\": \"files\", \"mode\": \"incremental\", \"segments\": [" +
          names + "], \"fields\": {" + fields + "}},\n";
  json +=
      "{\"name\": \"json\", \"type\": \"files\", \"format\": \"ndjson\", \"compression\": "
      "\"gzip\", \"segments\": [" +
      names + "], \"fields\": {" + fields + "}}";
  if (!text_attr.empty()) {
    json +=
        ",\n{\"name\": \"mkto\", \"type\": \"marketo_list\", \"mode\": \"incremental\", "
        "\"segments\": [" +
        names + "], \"fields\": {\"email\": \"" + text_attr + "\", \"firstName\": \"" + text_attr +
        "\", \"lastName\": \"" + text_attr + "\"}},\n";
    json +=
        "{\"name\": \"leads\", \"type\": \"marketo_list\", \"create_leads\": false, "
        "\"lead_id\": \"" +
        lead + "\", \"mode\": \"incremental\", \"segments\": [" + names +
        "], \"fields\": {\"email\": \"" + text_attr + "\"}},\n";
    json +=
        "{\"name\": \"li\", \"type\": \"linkedin_contact_list\", \"mode\": \"incremental\", "
        "\"segments\": [" +
        names + "], \"fields\": {\"email\": \"" + text_attr + "\", \"jobtitle\": \"" + text_attr +
        "\"}, \"hash\": [\"email\"]}";
  }
  return json + "\n]}";
}

/// Moves the attribute values of entity `e`'s rows one row on (keys and links stay): memberships
/// change.
void shift_attributes(random_dataset& ds, entity_id e) {
  auto& rows = ds.rows[e];
  if (rows.size() < 2) return;
  std::set<std::string> columns;
  for (const auto& a : ds.schema.entities[e].attributes) columns.insert(a.column);
  const std::vector<model_row> before = rows;
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (auto& [column, text] : rows[i].fields)
      if (columns.count(column))
        for (const auto& [c2, t2] : before[(i + 1) % rows.size()].fields)
          if (c2 == column) text = t2;
}

/// Drops about a fifth of the keyed rows that no row links to: their keys leave the dataset.
void drop_unlinked_rows(random_dataset& ds, std::uint64_t seed) {
  test_support::rng r(seed * 131 + 5);
  std::vector<std::set<std::string>> linked(ds.schema.entities.size());
  for (entity_id e = 0; e < ds.schema.entities.size(); ++e)
    for (const model_row& row : ds.rows[e])
      for (std::size_t l = 0; l < row.parents.size(); ++l)
        if (!row.parents[l].empty())
          linked[ds.schema.entities[e].links[l].target].insert(row.parents[l]);
  for (entity_id e = 0; e < ds.schema.entities.size(); ++e) {
    if (!ds.schema.entities[e].key) continue;
    auto& rows = ds.rows[e];
    std::erase_if(rows,
                  [&](const model_row& row) { return !linked[e].count(row.key) && r.chance(0.2); });
  }
}

/// Turns the state of segment `seg` of destination `dest` under `out` into a file that is not a
/// state file (two columns).
void spoil_state(const fs::path& out, const std::string& dest, const std::string& seg) {
  std::ofstream(out / dest / ".state" / (seg + ".csv"), std::ios::binary) << "a,b\n1,2\n";
}

TEST(Dist, ActivationWritesTheFilesOfOneProcess) {
  const int graphs = std::max(3, env_int("B2BSEG_DIST_GRAPHS", 40) / 4);
  testing::temp_dir tmp;
  std::size_t compared = 0, rows = 0, exited = 0;
  for (int k = 0; k < graphs; ++k) {
    const std::uint64_t seed = 5000 + static_cast<std::uint64_t>(k);
    random_dataset ds = make_random_dataset(seed, {.scale = 2.0, .exact_sizes = false});
    // Two datasets, one per run: in the second, every entity's attribute values moved one row on.
    std::string dirs[2];
    for (int run = 0; run < 2; ++run) {
      dirs[run] = (tmp.path() / ("g" + std::to_string(seed) + "-" + std::to_string(run))).string();
      fs::create_directories(dirs[run]);
      ASSERT_TRUE(write_dataset_files(ds, dirs[run]));
      add_partition(dirs[run]);
      for (entity_id e = 0; e < ds.schema.entities.size(); ++e) shift_attributes(ds, e);
      drop_unlinked_rows(ds, seed);
    }
    segment_generator gen(ds.graph, ds.as_of, seed);
    segment_options so;
    so.segments = 8;
    so.top = 0;
    const std::string seg_text = gen.file(so).text;
    const schema s = read_schema((fs::path(dirs[0]) / "schema.json").string());
    const bound_file f = compile_segments(seg_text, s, "random.seg");
    const std::string json = random_destinations(s, f, seed);
    if (json.empty()) continue;
    const std::vector<destination> dests = parse_destinations(json, s, f, "d.json");
    // Three runs a month apart: the second hands over only what changed (values moved, rows
    // gone); before the third, one segment's state of destination "csv" is spoiled, so that
    // destination fails (as in one process) and the others go on.
    const timestamp_us month = 30LL * 86'400'000'000LL;
    const fs::path one = tmp.path() / ("one" + std::to_string(seed));
    const std::string spoiled = dests[0].segment_names[0];
    std::vector<std::string> one_errors;  // per destination, of the third run
    for (int n : {1, 2, 3}) {
      const fs::path many = tmp.path() / ("many" + std::to_string(seed) + "-" + std::to_string(n));
      for (int run = 0; run < 3; ++run) {
        const timestamp_us at = ds.as_of + run * month;
        const std::string& data = dirs[std::min(run, 1)];
        activate_options ao;
        ao.as_of = at;
        if (run == 2) spoil_state(many, "csv", spoiled);
        if (n == 1) {  // the single process's files, once per run
          if (run == 2) spoil_state(one, "csv", spoiled);
          const graph g = load_dataset(data);
          const evaluation ev = evaluate(g, f, {.as_of = at, .threads = 0, .segments = {}});
          for (const auto& r : activate(g, ev, dests, one.string(), ao)) {
            if (run == 2) one_errors.push_back(r.error);
            if (run < 2) {
              ASSERT_EQ(r.error, "") << "seed " << seed;
            }
          }
        }
        dist::thread_world w(n);
        std::vector<std::string> errors;
        w.run([&](dist::communicator& c) {
          dist::dist_options o;
          o.as_of = at;
          o.work_dir = (tmp.path() / "work").string();
          if (k % 2 == 1) o.piece_bytes = 64, o.round_bytes = 128;  // many pieces and rounds
          const dist::dist_activation a =
              dist::activate_distributed(c, data, s, f, dests, many.string(), o, ao);
          if (c.rank() == 0)
            for (const auto& r : a.reports) errors.push_back(r.error);
          else
            EXPECT_TRUE(a.reports.empty());
        });
        // One process ran every run before two and three processes start: compare after their last.
        if (run == 0 || (n > 1 && run < 2)) continue;
        if (run == 2) {  // the same destination failed, for the same reason
          ASSERT_EQ(errors.size(), one_errors.size());
          for (std::size_t i = 0; i < errors.size(); ++i) {
            EXPECT_EQ(errors[i].empty(), one_errors[i].empty()) << "destination " << i;
            EXPECT_EQ(errors[i].empty(), i != 0) << errors[i];
            EXPECT_NE(errors[i].find(i ? "" : "not a b2bseg state file"), std::string::npos);
          }
        }
        // The same files, byte for byte, and the same state.
        const auto want = files_under(one), got = files_under(many);
        ASSERT_EQ(got.size(), want.size()) << "seed " << seed << ", " << n << " processes";
        for (const auto& [path, bytes] : want) {
          ++compared;
          rows += static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\n'));
          for (std::size_t at = bytes.find(",exited\n"); at != std::string::npos;
               at = bytes.find(",exited\n", at + 1))
            ++exited;
          ASSERT_TRUE(got.count(path)) << path << ", seed " << seed << ", " << n << " processes";
          EXPECT_EQ(got.at(path), bytes) << path << ", seed " << seed << ", " << n << " processes\n"
                                         << json << "\n"
                                         << seg_text;
        }
      }
    }
  }
  std::printf("activation files compared: %zu, %zu lines, %zu rows that exited\n", compared, rows,
              exited);
  EXPECT_GT(compared, 20u);
  EXPECT_GT(rows, 200u) << "the activation files were nearly empty: the test proves little";
  EXPECT_GT(exited, 0u) << "no member left a segment between the runs: exits are untested";
}

TEST(Dist, ProcessesHoldLessThanTheWholeGraph) {
  testing::temp_dir tmp;
  random_dataset ds = make_random_dataset(77, {.scale = 6.0, .exact_sizes = false});
  ASSERT_TRUE(write_dataset_files(ds, tmp.str()));
  add_partition(tmp.str());
  const std::string seg = "segment big on person where events.count() >= 1\n";
  std::vector<dist::dist_result> all;
  const auto got = spread(3, tmp.str(), (tmp.path() / "work").string(), seg, ds.as_of, &all);
  EXPECT_EQ(got.at("big"), single(tmp.str(), seg, ds.as_of).at("big"));
  std::uint64_t owned = 0, total = 0;
  for (std::size_t e = 0; e < ds.graph.entity_count(); ++e) total += ds.graph.rows(e);
  for (const auto& r : all) {
    owned += r.rows_owned;
    EXPECT_LT(r.rows_held, total) << "a process held the whole graph";
    EXPECT_GT(r.bytes_sent, 0u);
  }
  EXPECT_EQ(owned, total);  // every row is some process's own, once
}

TEST(Dist, TopPerGroupWorksAndTopOfAllIsRefused) {
  testing::temp_dir tmp;
  random_dataset ds = make_random_dataset(5, {.scale = 3.0, .exact_sizes = false});
  ASSERT_TRUE(write_dataset_files(ds, tmp.str()));
  add_partition(tmp.str());
  const auto& acc = ds.schema.entities[ds.schema.find_entity("person")];
  ASSERT_FALSE(acc.links.empty());
  std::string by;
  for (const auto& a : acc.attributes)
    if (a.type == value_type::integer || a.type == value_type::floating) by = a.name;
  ASSERT_FALSE(by.empty());
  const std::string per =
      "segment t on person where top(2, by " + by + " desc, per " + acc.links[0].name + ")\n";
  EXPECT_EQ(spread(2, tmp.str(), (tmp.path() / "w").string(), per, ds.as_of).at("t"),
            single(tmp.str(), per, ds.as_of).at("t"));
  const std::string all = "segment t on person where top(2, by " + by + ")\n";
  try {
    spread(2, tmp.str(), (tmp.path() / "w").string(), all, ds.as_of);
    FAIL();
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find("without 'per'"), std::string::npos) << e.what();
  }
}

/// The error of one process, and of 2 and 3, for the dataset in `dir`.
void expect_same_error(const std::string& dir, const std::string& seg, const std::string& part) {
  std::string want;
  try {
    single(dir, seg, 0);
    FAIL() << "no error in one process";
  } catch (const data_error& e) {
    want = e.what();
  }
  EXPECT_NE(want.find(part), std::string::npos) << want;
  for (int n : {2, 3})
    for (bool small : {false, true}) {
      try {
        spread(n, dir, dir + "/work", seg, 0, nullptr, small);
        ADD_FAILURE() << "no error with " << n << " processes";
      } catch (const data_error& e) {
        EXPECT_EQ(std::string(e.what()), want) << n << " processes, small pieces: " << small;
      }
    }
}

class DistBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.write("schema.json", R"({"partition": "account", "entities": {
  "account": {"key": "id", "attributes": {"n": "int"}, "links": {"parent": {"to": "account", "column": "parent_id"}}},
  "person": {"key": "id", "attributes": {"n": "int"}, "links": {"account": {"to": "account", "column": "account_id"}}}}}
)");
  }
  void write(const std::string& accounts, const std::string& people) {
    tmp_.write("account.csv", "id,n,parent_id\n" + accounts);
    tmp_.write("person.csv", "id,n,account_id\n" + people);
  }
  std::string rows(const char* prefix, int n, const std::string& tail) {
    std::string s;
    for (int i = 0; i < n; ++i) s += prefix + std::to_string(i) + "," + std::to_string(i) + tail;
    return s;
  }
  testing::temp_dir tmp_;
  const std::string seg_ = "segment s on person where n > 3\n";
};

TEST_F(DistBadInput, ABadValueIsOneProcesssError) {
  write(rows("a", 40, ",\n"),
        rows("p", 30, ",a1\n") + "px,notanumber,a2\n" + rows("q", 30, ",a3\n"));
  expect_same_error(tmp_.str(), seg_, "notanumber");
}

TEST_F(DistBadInput, ADuplicateKeyIsOneProcesssError) {
  write(rows("a", 40, ",\n"), rows("p", 30, ",a1\n") + "p3,9,a2\n" + rows("q", 30, ",a3\n"));
  expect_same_error(tmp_.str(), seg_, "duplicate key 'p3' (first on line 5)");
}

TEST_F(DistBadInput, ADanglingLinkIsOneProcesssError) {
  write(rows("a", 40, ",\n"), rows("p", 30, ",a1\n") + "px,9,nowhere\n" + rows("q", 30, ",a3\n"));
  expect_same_error(tmp_.str(), seg_, "no account with key 'nowhere'");
}

TEST_F(DistBadInput, ADanglingSelfLinkIsOneProcesssError) {
  write(rows("a", 40, ",\n") + "ax,1,gone\n", rows("p", 30, ",a1\n"));
  expect_same_error(tmp_.str(), seg_, "no account with key 'gone'");
}

TEST_F(DistBadInput, TheFirstErrorInBuildOrderWins) {
  // A bad value among accounts (built first) beats a dangling link among people.
  write(rows("a", 40, ",\n") + "ax,bad,\n", "px,9,nowhere\n");
  expect_same_error(tmp_.str(), seg_, "'bad'");
}

TEST_F(DistBadInput, ASchemaWithoutPartitionIsRefused) {
  write(rows("a", 4, ",\n"), rows("p", 3, ",a1\n"));
  tmp_.write("schema.json",
             R"({"entities": {"account": {"key": "id", "attributes": {"n": "int"}}}})");
  try {
    spread(2, tmp_.str(), tmp_.str() + "/work", "segment s on account where n > 1\n", 0);
    FAIL();
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find("names no partition entity"), std::string::npos)
        << e.what();
  }
}

TEST_F(DistBadInput, InvalidUtf8IsOneProcesssErrorWhereverItLies) {
  // Each process checks only its byte range: the first invalid byte of the file is still the
  // error, at its line and column, before anything else in the file (a bad value after it too).
  for (int at : {0, 7, 15, 29}) {
    std::string people = rows("p", 30, ",a1\n");
    std::size_t line_start = 0;
    for (int i = 0; i < at; ++i) line_start = people.find('\n', line_start) + 1;
    people.insert(line_start + 2, "\xC3(");  // a lead byte without its continuation
    write(rows("a", 40, ",\n"), people + "px,notanumber,a2\n");
    expect_same_error(tmp_.str(), seg_, "invalid UTF-8 byte 0xc3");
  }
  // In the header: told as open tells it.
  tmp_.write("person.csv", "id,n\xFF,account_id\n" + rows("p", 3, ",a1\n"));
  expect_same_error(tmp_.str(), seg_, "invalid UTF-8 byte 0xff");
}

TEST_F(DistBadInput, MoreEntitiesThanAHandleHoldsAreRefused) {
  // A row's handle keeps its entity in 8 bits: 257 entities would alias rows silently.
  std::string js = R"({"partition": "e0", "entities": {)";
  for (int i = 0; i < 257; ++i) {
    if (i) js += ',';
    js += "\"e";
    js += std::to_string(i);
    js += R"(": {"key": "id", "attributes": {"n": "int"}})";
  }
  tmp_.write("schema.json", js + "}}");
  try {
    spread(2, tmp_.str(), tmp_.str() + "/work", "segment s on e0 where n > 1\n", 0);
    FAIL();
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 256 entities"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace b2bseg
