// Tests of the graph store and the loader: CSV and in-memory builds, ids, indexes, errors, lenient.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <span>

#include "b2bseg/b2bseg.hpp"
#include "support/graph_dump.hpp"
#include "support/temp_dir.hpp"

using namespace b2bseg;
using b2bseg::testing::temp_dir;

namespace {

std::string mini_dir() {
  return std::string(B2BSEG_SOURCE_DIR) + "/tests/data/mini";
}

std::string load_error(const std::string& dir, bool lenient = false) {
  try {
    load_options o;
    o.lenient = lenient;
    load_dataset(dir, o);
  } catch (const data_error& e) {
    return e.what();
  }
  return "no error";
}

/// A dataset folder holding the mini dataset with one file replaced.
struct patched_dataset {
  temp_dir dir;
  patched_dataset(const std::string& file, const std::string& text) {
    b2bseg::testing::copy_dataset("mini", dir.path());
    dir.write(file, text);
  }
  std::string error(bool lenient = false) { return load_error(dir.str(), lenient); }
};

}  // namespace

TEST(Store, LoadsMiniDataset) {
  load_report rep;
  graph g = load_dataset(mini_dir(), {}, &rep);
  g.validate();
  const schema& s = g.schema();
  entity_id account = s.find_entity("account"), person = s.find_entity("person"),
            event = s.find_entity("event");
  ASSERT_NE(account, no_entity);
  EXPECT_EQ(g.rows(account), 4u);
  EXPECT_EQ(g.rows(person), 5u);
  EXPECT_EQ(g.rows(event), 6u);
  EXPECT_EQ(rep.total_rows, 15u);
  EXPECT_EQ(rep.entities.size(), 3u);

  // Quoted fields, "" escapes, BOM, CRLF and a column given under another name.
  row_id a1 = g.find_key(account, "A1"), a3 = g.find_key(account, "A3");
  ASSERT_NE(a1, no_row);
  EXPECT_EQ(g.attribute(account, 0).string_at(a1), "Acme, Inc.");
  EXPECT_EQ(g.attribute(account, 0).string_at(a3), "Initech \"Labs\"");
  EXPECT_EQ(g.attribute(account, 1).string_at(a1), "Software");
  EXPECT_TRUE(g.attribute(account, 1).is_null(g.find_key(account, "A4")));
  EXPECT_TRUE(g.attribute(account, 2).is_null(a3));
  EXPECT_EQ(g.attribute(account, 2).ints()[a1], 1200);
  EXPECT_DOUBLE_EQ(g.attribute(account, 3).floats()[a1], 1.5e7);
  EXPECT_TRUE(g.attribute(account, 4).bool_at(a1));
  EXPECT_FALSE(g.attribute(account, 4).bool_at(g.find_key(account, "A2")));
  EXPECT_FALSE(g.attribute(account, 4).is_null(g.find_key(account, "A4")));
  timestamp_us t = 0;
  ASSERT_TRUE(parse_timestamp("2023-03-03T08:30:00Z", t));
  EXPECT_EQ(g.attribute(account, 5).ints()[a3], t);
  // Lists: sorted, distinct codes; an empty list is null.
  const column& tags = g.attribute(account, 6);
  EXPECT_EQ(tags.list_at(a1).size(), 3u);
  EXPECT_TRUE(tags.is_null(g.find_key(account, "A2")));
  EXPECT_EQ(tags.value_bitmap(std::uint32_t(tags.dictionary().find("ai"))).cardinality(), 2u);

  // Links both ways; people are numbered by account, so an account's people are a range.
  const link_index& pa = g.link(person, 0);
  EXPECT_TRUE(pa.clustered());
  EXPECT_EQ(pa.degree(a1), 2u);
  auto [b, e] = pa.child_range(a1);
  EXPECT_EQ(g.key(person, b), "P1");
  EXPECT_EQ(g.key(person, e - 1), "P2");
  EXPECT_EQ(pa.parent(g.find_key(person, "P4")), no_row);
  // The self link account.parent resolves after all accounts exist.
  const link_index& parent = g.link(account, 0);
  EXPECT_EQ(parent.parent(g.find_key(account, "A2")), a1);
  EXPECT_EQ(parent.degree(a1), 2u);
  EXPECT_EQ(g.link(event, 0).degree(g.find_key(person, "P1")), 3u);
}

TEST(Store, MemoryReportCoversEveryStructure) {
  graph g = load_dataset(mini_dir());
  auto m = g.memory_report();
  // keys of 2 keyed entities, 12 attributes, 3 links
  EXPECT_EQ(m.size(), 2u + 12u + 3u);
  std::size_t total = 0;
  for (auto& i : m) total += i.bytes;
  EXPECT_EQ(total, g.memory_bytes());
  EXPECT_GT(total, 0u);
}

TEST(Store, ShuffledRowsAndColumnsGiveTheSameGraph) {
  graph a = load_dataset(mini_dir());
  std::string reference = b2bseg::testing::dump(a);
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    temp_dir dir;
    b2bseg::testing::copy_dataset("mini", dir.path());
    for (const char* name : {"account.csv", "person.csv", "event.csv"}) {
      // Re-read through the loader's own CSV reader, then write rows and columns shuffled.
      csv_file f = csv_file::open((dir.path() / name).string());
      std::vector<std::vector<std::string>> rows;
      for (const auto& chunk : f.split(1)) {
        csv_record_reader rd(f, chunk);
        std::vector<std::string_view> fields;
        while (rd.next(fields)) rows.emplace_back(fields.begin(), fields.end());
      }
      std::vector<std::size_t> cols(f.header().size());
      for (std::size_t i = 0; i < cols.size(); ++i) cols[i] = i;
      std::shuffle(cols.begin(), cols.end(), rng);
      std::shuffle(rows.begin(), rows.end(), rng);
      std::string text;
      for (std::size_t i = 0; i < cols.size(); ++i) {
        if (i) text += ",";
        text += f.header()[cols[i]];
      }
      text += "\n";
      for (auto& r : rows) {
        for (std::size_t i = 0; i < cols.size(); ++i) {
          if (i) text += ",";
          append_csv_field(text, r[cols[i]]);
        }
        text += round % 2 ? "\r\n" : "\n";
      }
      dir.write(name, text);
    }
    graph b = load_dataset(dir.str());
    b.validate();
    EXPECT_EQ(b2bseg::testing::dump(b), reference);
    // Keyed entities get the same dense ids whatever the file order.
    for (entity_id e : {a.schema().find_entity("account"), a.schema().find_entity("person")})
      for (row_id r = 0; r < a.rows(e); ++r) EXPECT_EQ(a.key(e, r), b.key(e, r));
  }
}

TEST(Store, ManyChunksGiveTheSameGraphAsOne) {
  temp_dir dir;
  b2bseg::testing::copy_dataset("mini", dir.path());
  std::string people = "person_id,email,seniority,score,account_id\n";
  std::string events = "type,timestamp,person_id\n";
  for (int i = 0; i < 3000; ++i) {
    std::string id = "Q" + std::to_string(i);
    people += id + ",\"" + id + "@x.com\"," + (i % 3 ? "VP" : "\"Dir,ector\"") + "," +
              std::to_string(i % 97) + "," + (i % 5 ? "A" + std::to_string(1 + i % 4) : "") + "\n";
    events += std::string(i % 2 ? "email.open" : "\"web\npage\"") +
              ",2026-01-01T00:00:" + std::to_string(10 + i % 50) + "Z," + id + "\n";
  }
  dir.write("person.csv", people);
  dir.write("event.csv", events);
  load_options one;
  one.chunks = 1;
  load_options many;
  many.chunks = 13;
  graph a = load_dataset(dir.str(), one), b = load_dataset(dir.str(), many);
  a.validate();
  b.validate();
  EXPECT_EQ(b2bseg::testing::dump(a), b2bseg::testing::dump(b));
  EXPECT_EQ(a.rows(a.schema().find_entity("person")), 3000u);
}

TEST(Store, InMemoryBuilderMatchesCsvLoad) {
  graph csv = load_dataset(mini_dir());
  graph_builder b(read_schema(mini_dir() + "/schema.json"));
  b.add_row("account", {{"account_id", "A1"},
                        {"name", "Acme, Inc."},
                        {"Industry", "Software"},
                        {"employees", "1200"},
                        {"annual_revenue", "1.5e7"},
                        {"is_customer", "true"},
                        {"created_at", "2024-01-15"},
                        {"tags", "ai|cloud|saas"}});
  b.add_row("account", {{"account_id", "A2"},
                        {"name", "Globex"},
                        {"Industry", "Fintech"},
                        {"employees", "80"},
                        {"is_customer", "no"},
                        {"created_at", "2025-06-01T10:00:00Z"},
                        {"parent_id", "A1"}});
  b.add_row("account", {{"account_id", "A3"},
                        {"name", "Initech \"Labs\""},
                        {"Industry", "Software"},
                        {"annual_revenue", "250000.5"},
                        {"is_customer", "YES"},
                        {"created_at", "2023-03-03 08:30:00"},
                        {"tags", "cloud"},
                        {"parent_id", "A1"}});
  b.add_row("account", {{"account_id", "A4"},
                        {"name", "Umbrella"},
                        {"employees", "5000"},
                        {"annual_revenue", "9e8"},
                        {"is_customer", "0"},
                        {"tags", "saas|ai"}});
  b.add_row("person", {{"person_id", "P1"},
                       {"email", "ann@acme.com"},
                       {"seniority", "VP"},
                       {"score", "90"},
                       {"account_id", "A1"}});
  b.add_row("person", {{"person_id", "P2"},
                       {"email", "bob@acme.com"},
                       {"seniority", "Director"},
                       {"score", "40"},
                       {"account_id", "A1"}});
  b.add_row("person", {{"person_id", "P3"},
                       {"email", "cy@globex.com"},
                       {"seniority", "Manager"},
                       {"account_id", "A2"}});
  b.add_row(
      "person",
      {{"person_id", "P4"}, {"email", "dee@example.com"}, {"seniority", "VP"}, {"score", "75"}});
  b.add_row("person", {{"person_id", "P5"},
                       {"email", "eve@initech.com"},
                       {"seniority", "C-Level"},
                       {"score", "60"},
                       {"account_id", "A3"}});
  for (auto [type, ts, p] : std::vector<std::tuple<const char*, const char*, const char*>>{
           {"webinar.attended", "2026-11-01T10:00:00Z", "P1"},
           {"email.open", "2026-10-01T10:00:00+01:00", "P1"},
           {"web.pageview", "2026-11-20", "P2"},
           {"webinar.attended", "2025-01-01", "P3"},
           {"email.click", "2026-11-21T23:59:59.123Z", "P5"},
           {"web.pageview", "2026-11-10", "P1"}})
    b.add_row("event", {{"type", type}, {"timestamp", ts}, {"person_id", p}});
  graph mem = b.build();
  mem.validate();
  EXPECT_EQ(b2bseg::testing::dump(mem), b2bseg::testing::dump(csv));
  EXPECT_THROW(b.add_row("nobody", {}), data_error);
  EXPECT_THROW(b.add_row("person", {{"nope", "1"}}), data_error);
}

// graph_builder parses in parts of 64Ki rows on all cores: past two parts, the graph must be
// the CSV load's, an error must name its row, and `build_from` must leave out what it is told.
TEST(Store, InMemoryBuildsOverManyPartsMatchTheCsvLoad) {
  temp_dir dir;
  b2bseg::testing::copy_dataset("mini", dir.path());
  const std::size_t n_events = 140'000;
  std::string people = "person_id,email,seniority,score,account_id\n";
  std::string events = "type,timestamp,person_id\n";
  const schema s = read_schema(mini_dir() + "/schema.json");
  graph_builder b(s);
  auto account = [](int i) { return i % 5 ? "A" + std::to_string(1 + i % 4) : std::string(); };
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "Q" + std::to_string(i);
    people += id + "," + id + "@x.com,VP," + std::to_string(i % 97) + "," + account(i) + "\n";
  }
  for (const char* a : {"A1", "A2", "A3", "A4"})
    b.add_row("account", {{"account_id", a}, {"name", a}, {"is_customer", "true"}});
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "Q" + std::to_string(i), mail = id + "@x.com";
    const std::string score = std::to_string(i % 97), acc = account(i);
    b.add_row("person", {{"person_id", id},
                         {"email", mail},
                         {"seniority", "VP"},
                         {"score", score},
                         {"account_id", acc}});
  }
  std::vector<std::vector<std::string>> rows;  // type, timestamp, person_id: build_from's slots
  for (std::size_t i = 0; i < n_events; ++i) {
    const std::string type = i % 3 ? "email.open" : "web.pageview";
    const std::string ts = "2026-01-01T00:" + std::to_string(10 + i % 50) + ":00Z";
    const std::string person = "Q" + std::to_string((i * 7919) % 1000);
    events += type + "," + ts + "," + person + "\n";
    b.add_row("event", {{"type", type}, {"timestamp", ts}, {"person_id", person}});
    rows.push_back({type, ts, person});
  }
  std::string accounts =
      "account_id,name,Industry,employees,annual_revenue,is_customer,"
      "created_at,tags,parent_id\n";
  for (const char* a : {"A1", "A2", "A3", "A4"})
    accounts += std::string(a) + "," + a + ",,,,true,,,\n";
  dir.write("account.csv", accounts);
  dir.write("person.csv", people);
  dir.write("event.csv", events);
  graph csv = load_dataset(dir.str());
  graph mem = b.build();
  mem.validate();
  EXPECT_EQ(b2bseg::testing::dump(mem), b2bseg::testing::dump(csv));
  // The same ids too (a dump sorts): the live engine's rows keep theirs across a compaction.
  for (entity_id e = 0; e < s.entities.size(); ++e)
    for (row_id r = 0; r < csv.rows(e); ++r)
      if (b2bseg::testing::row_text(mem, e, r) != b2bseg::testing::row_text(csv, e, r)) {
        ADD_FAILURE() << s.entities[e].name << " row " << r << " differs";
        break;
      }

  // The events alone, read in place, every third one left out: the graph of the others.
  struct slots {
    const std::vector<std::vector<std::string>>& events;
    std::size_t rows(entity_id) const { return events.size(); }
    const std::string* fields(entity_id, std::size_t i) const {
      return i % 3 == 1 ? nullptr : events[i].data();
    }
    int column(entity_id, const std::string& name) const {
      return name == "type" ? 0 : name == "timestamp" ? 1 : -1;
    }
  };
  schema events_only;  // the event entity without its link, so no other rows are needed
  for (const auto& def : s.entities)
    if (def.name == "event") events_only.entities.push_back(def);
  events_only.entities[0].links.clear();
  graph_builder kept(events_only);
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (i % 3 != 1) kept.add_row("event", {{"type", rows[i][0]}, {"timestamp", rows[i][1]}});
  graph skipped = graph_builder(events_only).build_from(slots{rows});
  EXPECT_EQ(b2bseg::testing::dump(skipped), b2bseg::testing::dump(kept.build()));
  EXPECT_EQ(skipped.rows(0), n_events - (n_events + 1) / 3);  // slots 1, 4, 7, ... left out

  // A bad value in the third part is named by its slot, which counts the slots left out.
  rows[131'073][1] = "yesterday";
  try {
    graph_builder(events_only).build_from(slots{rows});
    ADD_FAILURE() << "no error";
  } catch (const data_error& e) {
    EXPECT_EQ(e.line(), 131'074u) << e.what();
    EXPECT_EQ(e.column(), 2u) << e.what();
    EXPECT_NE(std::string(e.what()).find("yesterday"), std::string::npos) << e.what();
  }
}

namespace {

/// Keyed accounts and keyed people clustered by account (a person's texts: id, score, link): the
/// schema of the in-memory build tests below.
schema accounts_and_people() {
  return parse_schema(R"({"entities": {
    "account": {"file": "a.csv", "key": "id", "attributes": {}},
    "person": {"file": "p.csv", "key": "id", "attributes": {"score": "int"},
               "links": {"account": {"to": "account", "column": "account_id"}}}}})",
                      "s.json");
}

}  // namespace

TEST(Store, InMemoryBuildNumbersEachRowBySlot) {
  // Keyed rows are numbered by key, so the graph's order is not the slots': `numbering` says
  // which slot each row came from. Accounts cluster their people, so people
  // are numbered by account, then by key.
  const schema s = accounts_and_people();
  std::vector<std::vector<std::vector<std::string>>> slots(2);  // [entity][slot]: id, score, link
  std::mt19937 rng(5);
  auto name = [](char c, std::uint64_t x) {  // (not "A" + to_string: g++ 12 warns, -Wrestrict)
    std::string s(1, c);
    s += std::to_string(x);
    return s;
  };
  for (int i = 0; i < 300; ++i) slots[0].push_back({name('A', rng() % 100000), "", ""});
  std::sort(slots[0].begin(), slots[0].end());
  slots[0].erase(std::unique(slots[0].begin(), slots[0].end()), slots[0].end());
  std::shuffle(slots[0].begin(), slots[0].end(), rng);
  for (int i = 0; i < 200'000; ++i)
    slots[1].push_back({name('P', std::uint64_t(i) * 7919 % 200'000), std::to_string(i % 50),
                        i % 11 ? slots[0][rng() % slots[0].size()][0] : ""});
  struct source {
    const std::vector<std::vector<std::vector<std::string>>>& slots;
    std::size_t rows(entity_id e) const { return slots[e].size(); }
    const std::string* fields(entity_id e, std::size_t i) const {
      return e == 1 && i % 5 == 2 ? nullptr : slots[e][i].data();
    }
    int column(entity_id, const std::string& name) const {
      return name == "id" ? 0 : name == "score" ? 1 : name == "account_id" ? 2 : -1;
    }
  };
  std::vector<std::vector<std::uint32_t>> numbering;
  const graph g = graph_builder(s).build_from(source{slots}, {}, nullptr, &numbering);
  ASSERT_EQ(numbering.size(), 2u);
  std::vector<std::vector<std::size_t>> read(2);  // the slots read, in order
  for (entity_id e = 0; e < 2; ++e)
    for (std::size_t i = 0; i < slots[e].size(); ++i)
      if (e == 0 || i % 5 != 2) read[e].push_back(i);
  for (entity_id e = 0; e < 2; ++e) {
    ASSERT_EQ(numbering[e].size(), g.rows(e));
    ASSERT_EQ(g.rows(e), read[e].size());
    std::vector<std::uint8_t> seen(slots[e].size(), 0);
    for (row_id r = 0; r < g.rows(e); ++r) {
      const std::uint32_t i = numbering[e][r];
      ASSERT_LT(i, slots[e].size());
      EXPECT_TRUE(e == 0 || i % 5 != 2) << "a slot left out named by row " << r;
      EXPECT_FALSE(seen[i]) << "slot used twice";
      seen[i] = 1;
      ASSERT_EQ(g.key(e, r), slots[e][i][0]) << "entity " << e << " row " << r;
    }
  }
  // The order really is not the slots' (else this test would prove nothing).
  EXPECT_FALSE(std::is_sorted(numbering[1].begin(), numbering[1].end()));
}

TEST(Store, InMemoryBuildTakesTheParentsItsSourceNames) {
  // A source that knows which slot each link value names (the live engine's view) spares the
  // builder the key look-ups. Every link must come out as its text says, where the source knows
  // (a slot), does not know (no_row, or past its span) or leaves a row out. What it names is
  // taken unchecked (the contract): the last part proves that the look-up was skipped.
  const schema s = accounts_and_people();
  std::vector<std::vector<std::vector<std::string>>> slots(2);  // [entity][slot]: id, score, link
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string k(1, 'A');  // (not "A" + to_string: g++ 12 warns, -Wrestrict)
    k += std::to_string(i * 37 % 500);
    slots[0].push_back({k, "", ""});
  }
  // Account slots 4, 13, 22, ... are left out: no text names them, but some people name one as
  // their parent (what a row deleted since looks like): not known, the key is looked up.
  auto left_out = [](std::size_t a) { return a % 9 == 4; };
  std::vector<row_id> parent_slot;  // per person slot: its account's slot, or no_row
  for (int i = 0; i < 20'000; ++i) {
    std::string k(1, 'P');
    k += std::to_string(std::uint64_t(i) * 7919 % 20'000);
    auto a = static_cast<row_id>(rng() % slots[0].size());
    if (left_out(a)) a = (a + 1) % static_cast<row_id>(slots[0].size());
    const bool linked = i % 13 != 0;
    slots[1].push_back({k, std::to_string(i % 50), linked ? slots[0][a][0] : ""});
    parent_slot.push_back(!linked || i % 7 == 0 ? no_row : i % 11 == 5 ? 4 : a);  // some unknown
  }
  parent_slot.resize(parent_slot.size() - 1000);  // the last 1,000 past the span: not known
  struct source {
    const std::vector<std::vector<std::vector<std::string>>>& slots;
    std::span<const row_id> known;
    std::size_t rows(entity_id e) const { return slots[e].size(); }
    const std::string* fields(entity_id e, std::size_t i) const {
      return (e == 1 && i % 5 == 2) || (e == 0 && i % 9 == 4) ? nullptr : slots[e][i].data();
    }
    int column(entity_id, const std::string& name) const {
      return name == "id" ? 0 : name == "score" ? 1 : name == "account_id" ? 2 : -1;
    }
    std::span<const row_id> parents(entity_id e, std::uint32_t) const {
      return e == 1 ? known : std::span<const row_id>();
    }
  };
  const graph g = graph_builder(s).build_from(source{slots, parent_slot});
  ASSERT_EQ(g.rows(1), 16'000u);
  std::size_t linked = 0;
  for (std::size_t i = 0; i < slots[1].size(); ++i) {
    if (i % 5 == 2) continue;
    const row_id r = g.find_key(1, slots[1][i][0]);
    ASSERT_NE(r, no_row);
    const std::string& want = slots[1][i][2];
    const row_id p = g.link(1, 0).parent(r);
    if (want.empty()) {
      EXPECT_EQ(p, no_row) << "person slot " << i;
      continue;
    }
    ++linked;
    ASSERT_NE(p, no_row) << "person slot " << i;
    EXPECT_EQ(g.key(0, p), want) << "person slot " << i;
  }
  EXPECT_GT(linked, 13'000u);

  // Taken at its word: a source that names another account than the text says.
  std::vector<row_id> wrong = parent_slot;
  std::size_t lied = 0;
  while (wrong[lied] == no_row || wrong[lied] == 4 || lied % 5 == 2) ++lied;
  wrong[lied] =
      wrong[lied] + 1 < slots[0].size() && !left_out(wrong[lied] + 1) ? wrong[lied] + 1 : 0;
  const graph taken = graph_builder(s).build_from(source{slots, wrong});
  const row_id r = taken.find_key(1, slots[1][lied][0]);
  ASSERT_NE(r, no_row);
  ASSERT_NE(taken.link(1, 0).parent(r), no_row);
  EXPECT_EQ(taken.key(0, taken.link(1, 0).parent(r)), slots[0][wrong[lied]][0]);
}

TEST(Store, BadValueNamesFileLineColumnAndValue) {
  patched_dataset d("person.csv", "person_id,email,seniority,score,account_id\nP1,a@b,VP,12x,A1\n");
  EXPECT_EQ(d.error(),
            (d.dir.path() / "person.csv").string() + ":2:11: column 'score': bad int value '12x'");
}

TEST(Store, BadTimestamp) {
  patched_dataset d("event.csv", "type,timestamp,person_id\nx,2026-13-01,P1\n");
  EXPECT_EQ(d.error(), (d.dir.path() / "event.csv").string() +
                           ":2:3: column 'timestamp': bad timestamp value '2026-13-01'");
}

TEST(Store, DuplicateKey) {
  patched_dataset d(
      "person.csv",
      "person_id,email,seniority,score,account_id\nP1,a,VP,1,A1\nP2,b,VP,1,A1\nP1,c,VP,1,A1\n");
  EXPECT_EQ(d.error(), (d.dir.path() / "person.csv").string() +
                           ":4:1: column 'person_id': duplicate key 'P1' (first on line 2)");
}

TEST(Store, DanglingLink) {
  patched_dataset d("person.csv", "person_id,email,seniority,score,account_id\nP1,a,VP,1,A9\n");
  EXPECT_EQ(d.error(), (d.dir.path() / "person.csv").string() +
                           ":2:11: column 'account_id': no account with key 'A9'");
}

TEST(Store, DanglingSelfLink) {
  patched_dataset d(
      "account.csv",
      "account_id,name,Industry,employees,annual_revenue,is_customer,created_at,tags,parent_id\n"
      "A1,n,i,1,1,true,2024-01-01,,\nA2,n,i,1,1,true,2024-01-01,,A1\nA3,n,i,1,1,true,2024-01-01,,"
      "ZZ\n");
  EXPECT_EQ(d.error(), (d.dir.path() / "account.csv").string() +
                           ":4:29: column 'parent_id': no account with key 'ZZ'");
}

TEST(Store, MissingHeaderColumn) {
  patched_dataset d("person.csv", "person_id,email,score,account_id\nP1,a,1,A1\n");
  EXPECT_EQ(d.error(), (d.dir.path() / "person.csv").string() +
                           ":1: column 'seniority' named in the schema is missing from the header");
}

TEST(Store, MissingFileEmptyFileAndBadSchema) {
  {
    temp_dir dir;
    b2bseg::testing::copy_dataset("mini", dir.path());
    std::filesystem::remove(dir.path() / "event.csv");
    std::string e = load_error(dir.str());
    EXPECT_NE(e.find((dir.path() / "event.csv").string()), std::string::npos) << e;
  }
  {
    patched_dataset d("event.csv", "");
    std::string e = d.error();
    EXPECT_NE(e.find("event.csv"), std::string::npos) << e;
    EXPECT_NE(e.find("empty"), std::string::npos) << e;
  }
  {
    patched_dataset d("schema.json", "this is not json");
    std::string e = d.error();
    EXPECT_EQ(e.rfind((d.dir.path() / "schema.json").string() + ":1:1:", 0), 0u) << e;
  }
  {
    patched_dataset d("person.csv",
                      "person_id,email,seniority,score,account_id\nP1,caf\xe9,VP,1,A1\n");
    std::string e = d.error();
    EXPECT_NE(e.find("person.csv:2:"), std::string::npos) << e;
    EXPECT_NE(e.find("UTF-8"), std::string::npos) << e;
  }
}

TEST(Store, LenientTurnsErrorsIntoCountedNulls) {
  patched_dataset d("person.csv",
                    "person_id,email,seniority,score,account_id\n"
                    "P1,a,VP,12x,A1\n"
                    "P2,b,VP,7,A9\n"
                    "P1,c,VP,3,A1\n"
                    "P3,d,VP,oops,A2\n");
  // P5 in event.csv now dangles too.
  load_options o;
  o.lenient = true;
  load_report rep;
  graph g = load_dataset(d.dir.str(), o, &rep);
  g.validate();
  entity_id person = g.schema().find_entity("person");
  EXPECT_EQ(g.rows(person), 3u);  // P1, P2, P3; the second P1 dropped
  EXPECT_EQ(rep.bad_values, 2u);
  EXPECT_EQ(rep.duplicate_keys, 1u);
  EXPECT_EQ(rep.dangling_links, 2u);  // P2 -> A9, event -> P5
  row_id p1 = g.find_key(person, "P1"), p2 = g.find_key(person, "P2");
  EXPECT_TRUE(g.attribute(person, 2).is_null(p1));
  EXPECT_EQ(g.attribute(person, 0).string_at(p1), "a");  // the first row is kept
  EXPECT_EQ(g.link(person, 0).parent(p2), no_row);
  ASSERT_EQ(rep.issues.size(), 4u);
  std::string all;
  for (auto& i : rep.issues) all += i + "\n";
  EXPECT_NE(all.find("column 'score': 2 bad int values turned into null (first: line 2, '12x')"),
            std::string::npos)
      << all;
  EXPECT_NE(
      all.find("column 'person_id': 1 rows with a duplicate key dropped (first: line 4, 'P1')"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("column 'account_id': 1 links to missing account keys turned into null "
                     "(first: line 3, 'A9')"),
            std::string::npos)
      << all;
}

TEST(Store, ValidateCatchesBrokenIndexes) {
  std::vector<row_id> parents = {0, 1, no_row, 1};
  link_index li(parents, 2);
  EXPECT_NO_THROW(li.validate());
  EXPECT_FALSE(li.clustered());
  link_index clustered(std::vector<row_id>{0, 0, 1, no_row}, 2);
  EXPECT_TRUE(clustered.clustered());
  EXPECT_NO_THROW(clustered.validate());
  key_index keys(std::vector<std::string_view>{"a", "b", "c"});
  EXPECT_NO_THROW(keys.validate());
  EXPECT_EQ(keys.find("b"), 1u);
  EXPECT_EQ(keys.find("z"), no_row);
}

// --- issue 16 (hardening): the loader's edges ----------------------------------------------------

TEST(Store, DanglingSelfLinkReportsTheFirstLineOfTheFile) {
  // Rows are resolved in id order (by key: A1 before A4), but the error names the first line.
  patched_dataset d(
      "account.csv",
      "account_id,name,Industry,employees,annual_revenue,is_customer,created_at,tags,parent_id\n"
      "A4,n,i,1,1,true,2024-01-01,,ZZ\nA1,n,i,1,1,true,2024-01-01,,YY\n"
      "A2,n,i,1,1,true,2024-01-01,,\nA3,n,i,1,1,true,2024-01-01,,\n");
  EXPECT_EQ(d.error(), (d.dir.path() / "account.csv").string() +
                           ":2:29: column 'parent_id': no account with key 'ZZ'");
  load_report rep;
  load_options lenient;
  lenient.lenient = true;
  load_dataset(d.dir.str(), lenient, &rep);
  ASSERT_EQ(rep.dangling_links, 2u);
  bool named = false;
  for (const auto& i : rep.issues) named |= i.find("(first: line 2, 'ZZ')") != std::string::npos;
  EXPECT_TRUE(named) << ::testing::PrintToString(rep.issues);
}

TEST(Store, ColumnsTheSchemaDoesNotNameMayRepeat) {
  patched_dataset d("person.csv",
                    "person_id,x,email,seniority,x,score,account_id,x\nP1,1,a,VP,2,1,A1,3\n"
                    "P2,1,b,VP,2,1,A1,3\nP3,1,c,VP,2,1,A1,3\nP4,1,d,VP,2,1,A1,3\n"
                    "P5,1,e,VP,2,1,A1,3\n");
  EXPECT_EQ(d.error(), "no error");
  patched_dataset twice("person.csv",
                        "person_id,email,seniority,score,email,account_id\nP1,a,VP,1,b,A1\n");
  EXPECT_EQ(twice.error(), (twice.dir.path() / "person.csv").string() +
                               ":1:33: duplicate column name 'email' in header");
}

TEST(Store, CrOnlyLineEndsAreNamed) {
  patched_dataset d("person.csv", "person_id,email,seniority,score,account_id\rP1,a,VP,1,A1\r");
  EXPECT_EQ(d.error(), (d.dir.path() / "person.csv").string() +
                           ":1:43: lines end with CR alone (old Mac line ends); save the file "
                           "with LF or CRLF line ends");
}

TEST(Store, LinkToAnEntityWithoutKeyIsASchemaError) {
  temp_dir dir;
  dir.write("schema.json", R"({"entities": {
    "event": {"file": "event.csv", "attributes": {"type": "string"}},
    "person": {"file": "person.csv", "key": "id",
               "links": {"last": {"column": "event_id", "to": "event"}}}}})");
  dir.write("event.csv", "type\nx\n");
  dir.write("person.csv", "id,event_id\nP1,\n");
  const std::string e = load_error(dir.str());
  EXPECT_NE(e.find("link 'person.last' points to entity 'event', which has no \"key\""),
            std::string::npos)
      << e;
  EXPECT_EQ(e.rfind((dir.path() / "schema.json").string() + ":4:", 0), 0u) << e;
}

TEST(Store, SchemaFilesMustStayInsideTheFolderAndBeRegular) {
  auto with_file = [](temp_dir& dir, const std::string& file) {
    b2bseg::testing::copy_dataset("mini", dir.path());
    std::string schema = b2bseg::testing::read_file(dir.path() / "schema.json");
    const std::string from = "\"file\": \"event.csv\"";
    schema.replace(schema.find(from), from.size(), "\"file\": \"" + file + "\"");
    dir.write("schema.json", schema);
    return load_error(dir.str());
  };
  {
    temp_dir dir;
    const std::string e = with_file(dir, "/etc/passwd");
    EXPECT_NE(e.find("entity 'event': file '/etc/passwd' is an absolute path"), std::string::npos)
        << e;
  }
  {
    temp_dir dir;
    const std::string e = with_file(dir, "../mini/event.csv");
    EXPECT_NE(e.find("entity 'event': file '../mini/event.csv' leads outside the dataset folder"),
              std::string::npos)
        << e;
  }
  {
    temp_dir dir;
    std::filesystem::create_symlink("/dev/zero", dir.path() / "zero.csv");
    const std::string e = with_file(dir, "zero.csv");
    EXPECT_NE(e.find("leads outside the dataset folder"), std::string::npos) << e;
  }
  {
    temp_dir dir;
    std::filesystem::create_directories(dir.path() / "sub");
    ASSERT_EQ(::mkfifo((dir.path() / "sub" / "fifo.csv").c_str(), 0600), 0);
    const std::string e = with_file(dir, "sub/fifo.csv");
    EXPECT_NE(e.find("file 'sub/fifo.csv' is not a regular file"), std::string::npos) << e;
  }
  {
    temp_dir dir;  // a subfolder and a symbolic link that stay inside are fine
    std::filesystem::create_directories(dir.path() / "sub");
    b2bseg::testing::copy_dataset("mini", dir.path() / "sub");
    std::filesystem::create_symlink(dir.path() / "sub" / "event.csv", dir.path() / "ev.csv");
    EXPECT_EQ(with_file(dir, "sub/../ev.csv"), "no error");
  }
}

TEST(Store, AFileTruncatedWhileMappedIsAnErrorNotACrash) {
  temp_dir dir;
  std::string text = "id,v\n";
  for (int i = 0; i < 200000; ++i) {  // piece by piece: GCC 12 -Wrestrict false positive
    text += 'K';
    text += std::to_string(i);
    text += ',';
    text += std::to_string(i);
    text += '\n';
  }
  const std::string path = dir.write("big.csv", text);
  csv_file f = csv_file::open(path);
  EXPECT_FALSE(f.changed());
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  // Reading the vanished pages gives zeros instead of SIGBUS ...
  std::size_t records = 0;
  for (const csv_chunk& c : f.split(4)) {
    csv_record_reader r(f, c);
    std::vector<std::string_view> fields;
    try {
      while (r.next(fields)) ++records;
    } catch (const data_error&) {
    }
  }
  // ... and the file is known to have changed.
  EXPECT_TRUE(f.changed());
  try {
    f.throw_if_changed();
    ADD_FAILURE() << "no error";
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find("file changed while it was being loaded"),
              std::string::npos)
        << e.what();
  }
}

TEST(Store, AFileRewrittenInPlaceWhileMappedIsNoticed) {
  temp_dir dir;
  const std::string path = dir.write("f.csv", "id,v\nA,1\n");
  csv_file f = csv_file::open(path);
  EXPECT_FALSE(f.changed());
  timespec times[2] = {{0, UTIME_OMIT}, {1, 0}};  // same size, another modification time
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  EXPECT_TRUE(f.changed());
}
