// Tests of the dataset generator: determinism, scaling, referential integrity, consistency.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "b2bseg/gen/generator.hpp"

namespace fs = std::filesystem;
using b2bseg::generate_dataset;
using b2bseg::generate_options;
namespace g = b2bseg::detail::gen;

namespace {

// ctest runs each test in its own process, several at once: each test gets its own folder.
fs::path tmp_dir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path p = fs::path(B2BSEG_TEST_TMP) / "generate" / (info ? info->name() : "none") / name;
  fs::remove_all(p);
  return p;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// File name -> XXH3 hash of its bytes, for every file in dir.
std::map<std::string, std::uint64_t> hash_dir(const fs::path& dir) {
  std::map<std::string, std::uint64_t> h;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string s = read_file(e.path());
    h[e.path().filename().string()] = XXH3_64bits(s.data(), s.size());
  }
  return h;
}

/// A whole CSV file, RFC 4180: header then records, quoted fields may hold commas, quotes, LF.
struct table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t col(const std::string& name) const {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<std::size_t>(it - header.begin());
  }
};
table read_csv(const fs::path& p) {
  const std::string s = read_file(p);
  std::vector<std::vector<std::string>> recs;
  std::vector<std::string> rec;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      EXPECT_TRUE(field.empty()) << p << ": quote inside an unquoted field";
      quoted = true;
    } else if (c == ',') {
      rec.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      rec.push_back(std::move(field));
      field.clear();
      recs.push_back(std::move(rec));
      rec.clear();
    } else {
      EXPECT_NE(c, '\r');
      field.push_back(c);
    }
    any = true;
  }
  EXPECT_FALSE(quoted) << p;
  EXPECT_TRUE(!any || s.back() == '\n') << p << ": no final newline";
  table t;
  if (recs.empty()) return t;
  t.header = recs.front();
  t.rows.assign(recs.begin() + 1, recs.end());
  for (const auto& r : t.rows) EXPECT_EQ(r.size(), t.header.size()) << p;
  return t;
}

/// The ISO 8601 timestamps the generator writes: 2026-03-04T10:15:00Z -> seconds since epoch.
std::int64_t parse_ts(const std::string& s) {
  EXPECT_EQ(s.size(), 20u) << s;
  if (s.size() != 20) return 0;
  EXPECT_TRUE(s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
              s[19] == 'Z')
      << s;
  auto num = [&](std::size_t at, std::size_t n) { return std::stoll(s.substr(at, n)); };
  const auto days = g::days_from_civil(num(0, 4), static_cast<unsigned>(num(5, 2)),
                                       static_cast<unsigned>(num(8, 2)));
  return days * 86400 + num(11, 2) * 3600 + num(14, 2) * 60 + num(17, 2);
}

/// Generates a dataset once per (people, seed, threads) for the tests of one binary.
const fs::path& dataset(std::uint64_t people, std::uint64_t seed, unsigned threads) {
  static std::map<std::tuple<std::uint64_t, std::uint64_t, unsigned>, fs::path> cache;
  auto key = std::make_tuple(people, seed, threads);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  fs::path dir = tmp_dir("p" + std::to_string(people) + "_s" + std::to_string(seed) + "_t" +
                         std::to_string(threads));
  generate_options o;
  o.people = people;
  o.seed = seed;
  o.threads = threads;
  generate_dataset(dir.string(), o);
  return cache.emplace(key, dir).first->second;
}

}  // namespace

TEST(Generate, SameSeedSameBytesWhateverTheThreadCount) {
  // Enough people for several batches of blocks, so batches of different sizes are written.
  const auto one = hash_dir(dataset(20000, 7, 1));
  const auto two = hash_dir(dataset(20000, 7, 2));
  EXPECT_EQ(one.size(), 11u);
  EXPECT_EQ(one, two);
  // And a second run into another folder, with all threads.
  fs::path again = tmp_dir("again");
  generate_options o;
  o.people = 20000;
  o.seed = 7;
  generate_dataset(again.string(), o);
  EXPECT_EQ(one, hash_dir(again));
}

TEST(Generate, DifferentSeedDiffers) {
  const auto a = hash_dir(dataset(4000, 7, 1));
  const auto b = hash_dir(dataset(4000, 8, 1));
  for (const auto& [file, h] : a) {
    if (file == "schema.json") {
      EXPECT_EQ(h, b.at(file));
    } else {
      EXPECT_NE(h, b.at(file)) << file;
    }
  }
}

TEST(Generate, ReportMatchesFiles) {
  fs::path dir = tmp_dir("report");
  generate_options o;
  o.people = 3000;
  o.seed = 5;
  const auto rep = generate_dataset(dir.string(), o);
  std::uint64_t bytes = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().extension(), e.path().filename() == "schema.json" ? ".json" : ".csv")
        << "left over: " << e.path();
    bytes += fs::file_size(e.path());
  }
  EXPECT_EQ(rep.bytes, bytes);
  ASSERT_EQ(rep.rows.size(), g::entity_count);
  for (const auto& e : g::b2b_entities)
    EXPECT_EQ(rep.rows.at(std::string(e.name)), read_csv(dir / std::string(e.file)).rows.size())
        << e.name;
  EXPECT_EQ(rep.rows.at("person"), 3000u);
}

TEST(Generate, RowCountsScaleWithPeople) {
  generate_options o;
  std::map<std::string, std::uint64_t> small, large;
  o.people = 2000;
  small = generate_dataset(tmp_dir("small").string(), o).rows;
  o.people = 16000;
  large = generate_dataset(tmp_dir("large").string(), o).rows;
  EXPECT_EQ(small.at("person"), 2000u);
  EXPECT_EQ(large.at("person"), 16000u);
  EXPECT_EQ(large.at("account"), 1600u);
  for (const char* e : {"account", "account_person", "opportunity", "opportunity_person",
                        "campaign_member", "marketing_list_member", "event"}) {
    const double ratio = static_cast<double>(large.at(e)) / static_cast<double>(small.at(e));
    EXPECT_GT(ratio, 5.0) << e;
    EXPECT_LT(ratio, 12.0) << e;
  }
  // Typical cardinalities per person (datasets/README.md).
  const double n = 16000;
  EXPECT_NEAR(large.at("opportunity") / n, 0.3, 0.06);
  EXPECT_NEAR(large.at("event") / n, 10.0, 3.0);
  EXPECT_NEAR(large.at("account_person") / n, 0.96, 0.05);
  EXPECT_GT(large.at("campaign"), 100u);
  EXPECT_LT(large.at("campaign"), 800u);
  // Zero people: headers only.
  o.people = 0;
  fs::path empty = tmp_dir("empty");
  const auto none = generate_dataset(empty.string(), o);
  for (const auto& [entity, rows] : none.rows) EXPECT_EQ(rows, 0u) << entity;
  EXPECT_EQ(read_csv(empty / "person.csv").header.size(), 16u);
}

TEST(Generate, KeysUniqueAndLinksResolve) {
  const fs::path& dir = dataset(4000, 7, 1);
  std::map<std::string, std::unordered_set<std::string>> keys;
  std::map<std::string, table> tables;
  for (const auto& e : g::b2b_entities) {
    table t = read_csv(dir / std::string(e.file));
    EXPECT_EQ(g::csv_header(e), [&] {
      std::string h;
      for (const auto& c : t.header) h += (h.empty() ? "" : ",") + c;
      return h + "\n";
    }()) << e.name;
    if (!e.key.empty()) {
      auto& k = keys[std::string(e.name)];
      const std::size_t c = t.col(std::string(e.key));
      for (const auto& r : t.rows) {
        EXPECT_FALSE(r[c].empty()) << e.name;
        EXPECT_TRUE(k.insert(r[c]).second) << "duplicate key " << r[c] << " in " << e.name;
      }
      EXPECT_FALSE(k.empty()) << e.name;
    }
    tables.emplace(std::string(e.name), std::move(t));
  }
  for (const auto& e : g::b2b_entities) {
    const table& t = tables.at(std::string(e.name));
    for (std::size_t l = 0; l < e.link_count; ++l) {
      const auto& target = keys.at(std::string(e.links[l].to));
      const std::size_t c = t.col(std::string(e.links[l].column));
      std::size_t set = 0;
      for (const auto& r : t.rows) {
        if (r[c].empty()) continue;
        ++set;
        EXPECT_TRUE(target.count(r[c])) << e.name << "." << e.links[l].name << " -> " << r[c];
      }
      EXPECT_GT(set, 0u) << e.name << "." << e.links[l].name;
    }
  }
}

TEST(Generate, ValuesAreConsistent) {
  const fs::path& dir = dataset(4000, 7, 1);
  const std::int64_t as_of = b2bseg::default_generate_as_of / 1000000;

  // Accounts: one level of parents, never oneself.
  const table acc = read_csv(dir / "account.csv");
  std::unordered_map<std::string, std::string> parent_of, type_of;
  for (const auto& r : acc.rows) {
    parent_of[r[0]] = r[acc.col("parent_account_id")];
    type_of[r[0]] = r[acc.col("type")];
    EXPECT_LE(parse_ts(r[acc.col("created_at")]), as_of);
  }
  std::size_t quoted_names = 0;
  for (const auto& [a, p] : parent_of) {
    if (p.empty()) continue;
    EXPECT_NE(a, p);
    EXPECT_TRUE(parent_of.at(p).empty()) << "parent " << p << " has a parent";
  }
  for (const auto& r : acc.rows) quoted_names += r[acc.col("name")].find(',') != std::string::npos;
  EXPECT_GT(quoted_names, 0u) << "some company names need quoting";

  // Opportunities: stage, flags and probability agree.
  const table opp = read_csv(dir / "opportunity.csv");
  std::unordered_map<std::string, std::string> opp_account;
  for (const auto& r : opp.rows) {
    const std::string& stage = r[opp.col("stage")];
    const bool closed = r[opp.col("is_closed")] == "true", won = r[opp.col("is_won")] == "true";
    const int prob = std::stoi(r[opp.col("probability")]);
    EXPECT_EQ(closed, stage == "Closed Won" || stage == "Closed Lost") << stage;
    EXPECT_EQ(won, stage == "Closed Won") << stage;
    if (stage == "Closed Won") {
      EXPECT_EQ(prob, 100);
    }
    if (stage == "Closed Lost") {
      EXPECT_EQ(prob, 0);
    }
    if (!closed) {
      EXPECT_GT(prob, 0);
      EXPECT_LT(prob, 100);
    }
    const auto created = parse_ts(r[opp.col("created_at")]);
    const auto close = parse_ts(r[opp.col("close_date")]);
    EXPECT_LT(created, close);
    EXPECT_LE(created, as_of);
    if (closed) {
      EXPECT_LE(close, as_of);
    }
    if (!r[opp.col("amount")].empty()) {
      EXPECT_GT(std::stod(r[opp.col("amount")]), 0.0);
    }
    if (won) {
      EXPECT_NE(type_of.at(r[1]), "Prospect");
    }
    opp_account[r[0]] = r[1];
  }

  // People: the direct account relation agrees with person.account_id.
  const table per = read_csv(dir / "person.csv");
  std::unordered_map<std::string, std::string> account_of;
  for (const auto& r : per.rows) {
    account_of[r[0]] = r[1];
    EXPECT_EQ(r[per.col("is_customer_contact")] == "true",
              !r[1].empty() && type_of.at(r[1]) == "Customer");
  }
  const table ap = read_csv(dir / "account_person.csv");
  std::set<std::pair<std::string, std::string>> pairs;
  std::size_t direct = 0;
  for (const auto& r : ap.rows) {
    EXPECT_TRUE(pairs.emplace(r[0], r[1]).second) << "duplicate relation " << r[0] << " " << r[1];
    if (r[ap.col("is_direct")] == "true") {
      ++direct;
      EXPECT_EQ(account_of.at(r[0]), r[1]);
    }
  }
  std::size_t with_account = 0;
  for (const auto& [p, a] : account_of) with_account += !a.empty();
  EXPECT_EQ(direct, with_account);
  EXPECT_NEAR(static_cast<double>(with_account) / per.rows.size(), 0.92, 0.01);

  // Contact roles: people of the opportunity's account, one primary per opportunity.
  const table op = read_csv(dir / "opportunity_person.csv");
  std::unordered_map<std::string, int> primaries;
  for (const auto& r : op.rows) {
    EXPECT_EQ(account_of.at(r[1]), opp_account.at(r[0]));
    primaries[r[0]] += r[op.col("is_primary")] == "true";
  }
  for (const auto& [o, n] : primaries) EXPECT_EQ(n, 1) << o;

  // Memberships: one per (campaign, person) and (list, person).
  for (const char* f : {"campaign_member.csv", "marketing_list_member.csv"}) {
    const table t = read_csv(dir / f);
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& r : t.rows) EXPECT_TRUE(seen.emplace(r[0], r[1]).second) << f;
  }

  // Events: within the two years before as_of, in time order per person, after the person's
  // creation; only email.open has no URL.
  std::unordered_map<std::string, std::int64_t> created;
  for (const auto& r : per.rows) created[r[0]] = parse_ts(r[per.col("created_at")]);
  const table ev = read_csv(dir / "event.csv");
  std::unordered_map<std::string, std::int64_t> last;
  std::map<std::string, std::size_t> types;
  for (const auto& r : ev.rows) {
    const auto ts = parse_ts(r[ev.col("timestamp")]);
    EXPECT_LE(ts, as_of);
    EXPECT_GE(ts, as_of - 730 * 86400);
    EXPECT_GE(ts, created.at(r[0]));
    auto [it, fresh] = last.emplace(r[0], ts);
    if (!fresh) {
      EXPECT_GE(ts, it->second) << r[0];
      it->second = ts;
    }
    const std::string& type = r[ev.col("type")];
    ++types[type];
    EXPECT_EQ(r[ev.col("url")].empty(), type == "email.open") << type;
  }
  for (const char* t : {"web.pageview", "email.open", "email.click", "form.submit",
                        "webinar.registered", "webinar.attended", "demo.requested"})
    EXPECT_GT(types[t], 0u) << t;
  EXPECT_EQ(types.size(), 7u);
}

TEST(Generate, ActivityIsHeavyTailed) {
  const fs::path& dir = dataset(4000, 7, 1);
  const table ev = read_csv(dir / "event.csv");
  std::unordered_map<std::string, std::size_t> per_person;
  for (const auto& r : ev.rows) ++per_person[r[0]];
  std::vector<std::size_t> counts;
  for (const auto& [p, n] : per_person) counts.push_back(n);
  counts.resize(4000, 0);  // people without events
  std::sort(counts.begin(), counts.end());
  const double mean = static_cast<double>(ev.rows.size()) / 4000.0;
  EXPECT_LT(static_cast<double>(counts[2000]), mean);            // median below the mean
  EXPECT_GT(static_cast<double>(counts[3960]), 4.0 * mean);      // p99 far above it
  EXPECT_GT(std::count(counts.begin(), counts.end(), 0u), 200);  // dormant people
}

/// "\"name\"" built by appending (GCC 12 warns falsely on `"\"" + std::string(...)`).
std::string q(std::string_view v) {
  std::string s(1, '"');
  s.append(v);
  s.push_back('"');
  return s;
}

TEST(Generate, SchemaTextIsTheOneWritten) {
  const fs::path& dir = dataset(4000, 7, 1);
  const std::string text = b2bseg::default_b2b_schema_json();
  EXPECT_EQ(read_file(dir / "schema.json"), text);
  // Every entity, attribute and link of the descriptor table is in the text, in its section.
  for (std::size_t i = 0; i < g::b2b_entities.size(); ++i) {
    const auto& e = g::b2b_entities[i];
    const std::size_t begin = text.find(q(e.name) + ": {");
    ASSERT_NE(begin, std::string::npos) << e.name;
    const std::size_t end = i + 1 < g::b2b_entities.size()
                                ? text.find(q(g::b2b_entities[i + 1].name) + ": {", begin)
                                : text.size();
    const std::string section = text.substr(begin, end - begin);
    EXPECT_NE(section.find(q("file") + ": " + q(e.file)), std::string::npos);
    if (!e.key.empty()) {
      EXPECT_NE(section.find(q("key") + ": " + q(e.key)), std::string::npos);
    } else {
      EXPECT_EQ(section.find(q("key")), std::string::npos);
    }
    for (std::size_t a = 0; a < e.attr_count; ++a)
      EXPECT_NE(section.find(q(e.attrs[a].name) + ": " + q(e.attrs[a].type)), std::string::npos)
          << e.name << "." << e.attrs[a].name;
    for (std::size_t l = 0; l < e.link_count; ++l) {
      const auto& k = e.links[l];
      const std::string want = q(k.name) + ": { " + q("column") + ": " + q(k.column) + ", " +
                               q("to") + ": " + q(k.to) + ", " + q("reverse") + ": " +
                               q(k.reverse) + " }";
      EXPECT_NE(section.find(want), std::string::npos) << e.name << "." << k.name;
    }
  }
  // Balanced braces, no trailing commas.
  EXPECT_EQ(std::count(text.begin(), text.end(), '{'), std::count(text.begin(), text.end(), '}'));
  EXPECT_EQ(text.find(",\n    }"), std::string::npos);
  EXPECT_EQ(text.find(",\n      }"), std::string::npos);
}

TEST(Generate, ProgressFromCallingThreadUpToTotal) {
  generate_options o;
  o.people = 5000;
  o.threads = 2;
  const auto me = std::this_thread::get_id();
  std::uint64_t last_done = 0, last_total = 0, calls = 0;
  bool monotonic = true, same_thread = true;
  generate_dataset(tmp_dir("progress").string(), o, [&](std::uint64_t done, std::uint64_t total) {
    same_thread &= std::this_thread::get_id() == me;
    monotonic &= done >= last_done && done <= total;
    last_done = done;
    last_total = total;
    ++calls;
  });
  EXPECT_TRUE(same_thread);
  EXPECT_TRUE(monotonic);
  EXPECT_GT(calls, 2u);
  EXPECT_EQ(last_total, 5500u);  // accounts + people
  EXPECT_EQ(last_done, last_total);
}

TEST(Generate, IoFailureIsDataError) {
  fs::path file = tmp_dir("not_a_dir");
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "x";
  generate_options o;
  o.people = 100;
  EXPECT_THROW(generate_dataset(file.string(), o), b2bseg::data_error);
  EXPECT_THROW(generate_dataset((file / "sub").string(), o), b2bseg::data_error);
}
