// Tests of the dataset generator: determinism, scaling, referential integrity, consistency; and of
// its raw exports (gen/sources.hpp): columns, mapping, identities, overlaps, same world.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "b2bseg/b2bseg.hpp"
#include "b2bseg/detail/json.hpp"
#include "b2bseg/gen/generator.hpp"
#include "b2bseg/gen/sources.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace fs = std::filesystem;
using b2bseg::generate_dataset;
using b2bseg::generate_options;
namespace g = b2bseg::detail::gen;

namespace {

// ctest runs each test in its own process, several at once: each test gets its own folder.
fs::path tmp_dir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  // Suite and test: Generate.X and GenerateSources.X may run at once (ctest -j).
  fs::path p = fs::path(B2BSEG_TEST_TMP) / "generate" /
               (info ? std::string(info->test_suite_name()) + "." + info->name() : "none") / name;
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

// --- raw exports (gen/sources.hpp)
// ----------------------------------------------------------------

namespace {

using b2bseg::generate_sources_dataset;

/// Relative path -> XXH3 hash of its bytes, for every file under dir (subfolders included).
std::map<std::string, std::uint64_t> hash_tree(const fs::path& dir) {
  std::map<std::string, std::uint64_t> h;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string s = read_file(e.path());
    h[fs::relative(e.path(), dir).generic_string()] = XXH3_64bits(s.data(), s.size());
  }
  return h;
}

/// Generates raw exports once per (people, seed, threads) for the tests of one binary.
const fs::path& sources(std::uint64_t people, std::uint64_t seed, unsigned threads) {
  static std::map<std::tuple<std::uint64_t, std::uint64_t, unsigned>, fs::path> cache;
  auto key = std::make_tuple(people, seed, threads);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  fs::path dir = tmp_dir("src_p" + std::to_string(people) + "_s" + std::to_string(seed) + "_t" +
                         std::to_string(threads));
  generate_options o;
  o.people = people;
  o.seed = seed;
  o.threads = threads;
  generate_sources_dataset(dir.string(), o);
  return cache.emplace(key, dir).first->second;
}

std::string header_text(const table& t) {
  std::string h;
  for (const auto& c : t.header) {
    if (!h.empty()) h += ",";
    h += c;
  }
  return h;
}

/// Trimmed of spaces and ASCII lower-cased: SPEC 2.3's `email` normalization.
std::string normalize_email(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string s(v);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool is_sf_datetime(const std::string& s) {  // 2026-11-20T10:15:00.000+0000
  return s.size() == 28 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
         s[16] == ':' && s.substr(19) == ".000+0000";
}
bool is_marketo_time(const std::string& s) {  // 2026-11-20T10:15:00Z
  return s.size() == 20 && s[10] == 'T' && s[19] == 'Z';
}

/// The person number encoded in a person row's own id (Contact, Lead or Marketo lead id).
std::uint64_t person_of_row(const std::string& source, const std::string& id) {
  if (source == "salesforce_contact") return g::sfdc_id_number(id, g::sf_contact) - 1;
  if (source == "salesforce_lead") return g::sfdc_id_number(id, g::sf_lead) - 1;
  const std::size_t k = source == "marketo_na" ? 0 : 1;
  const auto& inst = g::marketo_instances[k];
  EXPECT_EQ(id.rfind(inst.prefix, 0), 0u) << id;
  return std::stoull(id.substr(inst.prefix.size())) - inst.lead_base;
}

}  // namespace

TEST(GenerateSources, SameSeedSameBytesWhateverTheThreadCount) {
  const auto one = hash_tree(sources(12000, 7, 1));
  const auto two = hash_tree(sources(12000, 7, 2));
  EXPECT_EQ(one.size(), g::raw_file_count + 1);
  EXPECT_EQ(one, two);
  fs::path again = tmp_dir("again");
  generate_options o;
  o.people = 12000;
  o.seed = 7;
  generate_sources_dataset(again.string(), o);
  EXPECT_EQ(one, hash_tree(again));
  const auto other = hash_tree(sources(12000, 8, 2));
  for (const auto& [file, h] : one) {
    if (file == "schema.json") {
      EXPECT_EQ(h, other.at(file));
    } else {
      EXPECT_NE(h, other.at(file)) << file;
    }
  }
}

TEST(GenerateSources, ReportMatchesFiles) {
  fs::path dir = tmp_dir("report");
  generate_options o;
  o.people = 3000;
  o.seed = 5;
  std::uint64_t last_done = 0, last_total = 0;
  const auto rep = generate_sources_dataset(dir.string(), o, [&](auto done, auto total) {
    last_done = done;
    last_total = total;
  });
  EXPECT_EQ(last_total, 3300u);
  EXPECT_EQ(last_done, last_total);
  std::uint64_t bytes = 0;
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(e.path().extension(), e.path().filename() == "schema.json" ? ".json" : ".csv")
        << "left over: " << e.path();
    bytes += fs::file_size(e.path());
    ++files;
  }
  EXPECT_EQ(files, g::raw_file_count + 1);
  EXPECT_EQ(rep.bytes, bytes);
  ASSERT_EQ(rep.rows.size(), g::raw_file_count);
  for (const auto& f : g::raw_files)
    EXPECT_EQ(rep.rows.at(std::string(f.path)), read_csv(dir / std::string(f.path)).rows.size())
        << f.path;
  EXPECT_EQ(rep.rows.at("salesforce/Account.csv"), 300u);
  // Zero people: headers only; a file in the way: data_error.
  o.people = 0;
  for (const auto& [file, rows] : generate_sources_dataset(tmp_dir("empty").string(), o).rows)
    EXPECT_EQ(rows, 0u) << file;
  fs::path blocker = tmp_dir("blocked");
  fs::create_directories(blocker);
  std::ofstream(blocker / "salesforce") << "x";
  EXPECT_THROW(generate_sources_dataset(blocker.string(), o), b2bseg::data_error);
}

TEST(GenerateSources, FilesHaveTheSystemsColumns) {
  const fs::path& dir = sources(3000, 7, 1);
  auto header = [&](const char* f) { return header_text(read_csv(dir / f)); };
  EXPECT_EQ(header("salesforce/Account.csv"),
            "Id,ParentId,Name,Website,Industry,NumberOfEmployees,AnnualRevenue,BillingStreet,"
            "BillingCity,BillingCountry,Region__c,Phone,Type,Tier__c,Owner.Name,Tags__c,"
            "CreatedDate,LastModifiedDate");
  EXPECT_EQ(header("salesforce/Contact.csv"),
            "Id,AccountId,FirstName,LastName,Email,Phone,Title,Department,Seniority__c,"
            "MailingCountry,LeadSource,Lead_Status__c,mkto71_Lead_Score__c,Customer_Contact__c,"
            "HasOptedOutOfEmail,CreatedDate,LastModifiedDate");
  EXPECT_EQ(header("salesforce/Opportunity.csv"),
            "Id,AccountId,Name,StageName,Amount,Probability,ForecastCategoryName,CloseDate,"
            "IsClosed,IsWon,Type,CreatedDate,LastModifiedDate");
  EXPECT_EQ(header("salesforce/OpportunityContactRole.csv"),
            "Id,OpportunityId,ContactId,Role,IsPrimary");
  for (const char* f : {"marketo_na/leads.csv", "marketo_emea/leads.csv"})
    EXPECT_EQ(header(f),
              "id,email,firstName,lastName,company,phone,title,department,seniority,country,"
              "leadSource,leadStatus,leadScore,unsubscribed,sfdcType,sfdcLeadId,sfdcContactId,"
              "sfdcAccountId,createdAt,updatedAt")
        << f;
  EXPECT_EQ(header("marketo/activities.csv"),
            "leadId,activityDate,activityTypeId,eventType,sfdcCampaignId,primaryAttributeValue");
  // Every file: the header of its descriptor; ids with their object's prefix and a valid
  // case-safe suffix; Salesforce date-times with +0000, Marketo times with Z.
  for (const auto& f : g::raw_files) {
    const table t = read_csv(dir / std::string(f.path));
    EXPECT_EQ(header_text(t) + "\n", g::raw_header(f)) << f.path;
    EXPECT_FALSE(t.rows.empty()) << f.path;
  }
  auto check_ids = [&](const char* file, const char* column, const g::sfdc_object& o,
                       bool nullable) {
    const table t = read_csv(dir / file);
    const std::size_t c = t.col(column);
    for (const auto& r : t.rows) {
      if (nullable && r[c].empty()) continue;
      EXPECT_NE(g::sfdc_id_number(r[c], o), ~std::uint64_t{0})
          << file << " " << column << " " << r[c];
    }
  };
  check_ids("salesforce/Account.csv", "Id", g::sf_account, false);
  check_ids("salesforce/Account.csv", "ParentId", g::sf_account, true);
  check_ids("salesforce/Contact.csv", "Id", g::sf_contact, false);
  check_ids("salesforce/Contact.csv", "AccountId", g::sf_account, false);
  check_ids("salesforce/Lead.csv", "Id", g::sf_lead, false);
  check_ids("salesforce/Opportunity.csv", "Id", g::sf_opportunity, false);
  check_ids("salesforce/Campaign.csv", "Id", g::sf_campaign, false);
  check_ids("salesforce/CampaignMember.csv", "Id", g::sf_campaign_member, false);
  check_ids("salesforce/OpportunityContactRole.csv", "Id", g::sf_opportunity_contact_role, false);
  check_ids("salesforce/AccountContactRelation.csv", "Id", g::sf_account_contact_relation, false);
  for (const char* f : {"salesforce/Account.csv", "salesforce/Contact.csv", "salesforce/Lead.csv",
                        "salesforce/Opportunity.csv"}) {
    const table t = read_csv(dir / f);
    const std::size_t created = t.col("CreatedDate"), modified = t.col("LastModifiedDate");
    for (const auto& r : t.rows) {
      EXPECT_TRUE(is_sf_datetime(r[created])) << f << " " << r[created];
      EXPECT_TRUE(is_sf_datetime(r[modified])) << f << " " << r[modified];
      EXPECT_LE(r[created], r[modified]) << f;
    }
  }
  {
    const table t = read_csv(dir / "salesforce/Opportunity.csv");
    for (const auto& r : t.rows) EXPECT_EQ(r[t.col("CloseDate")].size(), 10u);
  }
  for (const char* f : {"marketo_na/leads.csv", "marketo_emea/leads.csv"}) {
    const table t = read_csv(dir / f);
    for (const auto& r : t.rows) {
      EXPECT_TRUE(is_marketo_time(r[t.col("updatedAt")])) << f;
      EXPECT_TRUE(is_marketo_time(r[t.col("createdAt")])) << f;
    }
  }
}

TEST(GenerateSources, SchemaMapsTheFilesOntoThePlainEntities) {
  const fs::path& dir = sources(3000, 7, 1);
  const std::string text = read_file(dir / "schema.json");
  EXPECT_EQ(text, b2bseg::default_sources_schema_json());
  const auto root = b2bseg::detail::json::parse(text, "schema.json");
  const auto* entities = root.find("entities");
  ASSERT_TRUE(entities && entities->is_object());
  ASSERT_EQ(entities->members.size(), g::entity_count);
  std::map<std::string, std::vector<std::string>> headers;
  auto columns_of = [&](const std::string& file) -> const std::vector<std::string>& {
    auto it = headers.find(file);
    if (it == headers.end()) it = headers.emplace(file, read_csv(dir / file).header).first;
    return it->second;
  };
  auto has_column = [&](const std::string& file, const std::string& c) {
    const auto& h = columns_of(file);
    return std::find(h.begin(), h.end(), c) != h.end();
  };
  for (std::size_t i = 0; i < g::entity_count; ++i) {
    const auto& e = g::b2b_entities[i];
    const auto& m = entities->members[i];
    ASSERT_EQ(m.key, e.name);
    const auto* attrs = m.val.find("attributes");
    ASSERT_TRUE(attrs);
    ASSERT_EQ(attrs->members.size(), e.attr_count) << e.name;
    const auto* links = m.val.find("links");
    ASSERT_EQ(links ? links->members.size() : 0u, e.link_count) << e.name;
    for (std::size_t l = 0; l < e.link_count; ++l) {
      const auto& lm = links->members[l];
      EXPECT_EQ(lm.key, e.links[l].name);
      EXPECT_EQ(lm.val.find("to")->text, e.links[l].to);
      EXPECT_EQ(lm.val.find("reverse")->text, e.links[l].reverse);
    }
    const auto* srcs = m.val.find("sources");
    EXPECT_EQ(e.key.empty(), m.val.find("key") == nullptr) << e.name;
    if (srcs) {
      // Resolved: types at entity level; every attribute and link mapped by some source, every
      // column named exists in the source's file.
      for (std::size_t a = 0; a < e.attr_count; ++a) {
        EXPECT_EQ(attrs->members[a].key, e.attrs[a].name);
        EXPECT_EQ(attrs->members[a].val.text, e.attrs[a].type);
      }
      const auto* rules = m.val.find("identities");
      ASSERT_TRUE(rules);
      std::set<std::string> mapped;
      for (const auto& s : srcs->items) {
        const std::string file = s.find("file")->text;
        for (const auto& id : s.find("identities")->members) {
          EXPECT_TRUE(rules->find(id.key)) << id.key;
          EXPECT_TRUE(has_column(file, id.val.text)) << file << " " << id.val.text;
        }
        for (const auto& a : s.find("attributes")->members) {
          EXPECT_TRUE(attrs->find(a.key)) << a.key;
          EXPECT_TRUE(has_column(file, a.val.text)) << file << " " << a.val.text;
          mapped.insert(a.key);
        }
        if (const auto* sl = s.find("links")) {
          for (const auto& l : sl->members) {
            EXPECT_TRUE(has_column(file, l.val.find("column")->text)) << file;
            mapped.insert("link:" + l.key);
          }
        }
        EXPECT_TRUE(has_column(file, s.find("updated_at")->text)) << file;
      }
      for (std::size_t a = 0; a < e.attr_count; ++a)
        EXPECT_TRUE(mapped.count(std::string(e.attrs[a].name))) << e.name << "." << e.attrs[a].name;
      for (std::size_t l = 0; l < e.link_count; ++l)
        EXPECT_TRUE(mapped.count("link:" + std::string(e.links[l].name))) << e.name;
    } else {
      const std::string file = m.val.find("file")->text;
      if (const auto* k = m.val.find("key")) {
        EXPECT_TRUE(has_column(file, k->text)) << file;
      }
      for (std::size_t a = 0; a < e.attr_count; ++a) {
        const auto& am = attrs->members[a];
        EXPECT_EQ(am.key, e.attrs[a].name);
        EXPECT_EQ(am.val.find("type")->text, e.attrs[a].type);
        EXPECT_TRUE(has_column(file, am.val.find("column")->text)) << file << " " << am.key;
      }
      for (const auto& l : links ? links->members : std::vector<b2bseg::detail::json::member>{})
        EXPECT_TRUE(has_column(file, l.val.find("column")->text)) << file << " " << l.key;
    }
  }
}

TEST(GenerateSources, SchemaParsesWhereSourcesAreUnderstood) {
  const std::string text = b2bseg::default_sources_schema_json();
  b2bseg::schema s;
  try {
    s = b2bseg::parse_schema(text, "schema.json");
  } catch (const b2bseg::data_error& e) {
    const std::string what = e.what();
    for (const char* word : {"sources", "identities", "identity", "merge"})
      if (what.find(word) != std::string::npos)
        GTEST_SKIP() << "parse_schema does not read SPEC 2.3 sources yet: " << what;
    FAIL() << what;
  }
  // The same entities, attributes (names, types), links and reverses as the plain dataset.
  const b2bseg::schema plain = b2bseg::parse_schema(b2bseg::default_b2b_schema_json(), "plain");
  ASSERT_EQ(s.entities.size(), plain.entities.size());
  for (std::size_t i = 0; i < s.entities.size(); ++i) {
    const auto &a = s.entities[i], &b = plain.entities[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.key.has_value(), b.key.has_value()) << a.name;
    ASSERT_EQ(a.attributes.size(), b.attributes.size()) << a.name;
    for (std::size_t k = 0; k < a.attributes.size(); ++k) {
      EXPECT_EQ(a.attributes[k].name, b.attributes[k].name);
      EXPECT_EQ(a.attributes[k].type, b.attributes[k].type) << a.attributes[k].name;
    }
    ASSERT_EQ(a.links.size(), b.links.size()) << a.name;
    for (std::size_t k = 0; k < a.links.size(); ++k) {
      EXPECT_EQ(a.links[k].name, b.links[k].name);
      EXPECT_EQ(a.links[k].to, b.links[k].to);
      EXPECT_EQ(a.links[k].reverse, b.links[k].reverse);
    }
    ASSERT_EQ(a.reverses.size(), b.reverses.size()) << a.name;
    for (std::size_t k = 0; k < a.reverses.size(); ++k)
      EXPECT_EQ(a.reverses[k].name, b.reverses[k].name);
  }
}

TEST(GenerateSources, EveryPersonIsOneProfile) {
  constexpr std::uint64_t people = 6000;
  const fs::path& dir = sources(people, 11, 2);
  // Union-find over the person sources' rows and the normalized identity values they carry, as
  // SPEC 2.3 merges them.
  std::vector<std::size_t> parent;
  auto find = [&](std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  std::unordered_map<std::string, std::size_t> value_node;
  std::vector<std::uint64_t> row_person;  // per row node; value nodes: ~0
  auto node = [&](std::uint64_t person) {
    parent.push_back(parent.size());
    row_person.push_back(person);
    return parent.size() - 1;
  };
  std::size_t rows = 0;
  std::map<std::string, std::size_t> rows_of;
  for (const auto& src : g::person_sources) {
    const table t = read_csv(dir / std::string(g::raw_files[src.file].path));
    rows_of[std::string(src.name)] = t.rows.size();
    for (const auto& r : t.rows) {
      const std::size_t own = t.col(std::string(src.identities[0].column));
      const std::size_t n = node(person_of_row(std::string(src.name), r[own]));
      ASSERT_LT(row_person[n], people);
      ++rows;
      std::size_t ids = 0;
      for (std::size_t i = 0; i < src.identity_count; ++i) {
        std::string v = r[t.col(std::string(src.identities[i].column))];
        if (v.empty()) continue;
        ++ids;
        if (src.identities[i].name == "email") v = normalize_email(v);
        const std::string k = std::string(src.identities[i].name) + ":" + v;
        auto [it, fresh] = value_node.emplace(k, 0);
        if (fresh) it->second = node(~std::uint64_t{0});
        parent[find(n)] = find(it->second);
      }
      EXPECT_GT(ids, 0u);
    }
  }
  std::unordered_map<std::size_t, std::uint64_t> person_of_profile;
  std::set<std::uint64_t> seen;
  for (std::size_t n = 0; n < parent.size(); ++n) {
    if (row_person[n] == ~std::uint64_t{0}) continue;
    auto [it, fresh] = person_of_profile.emplace(find(n), row_person[n]);
    if (!fresh) {
      EXPECT_EQ(it->second, row_person[n]) << "two people in one profile";
    }
    seen.insert(row_person[n]);
  }
  EXPECT_EQ(person_of_profile.size(), people) << "a person split into several profiles";
  EXPECT_EQ(seen.size(), people) << "a person without rows";
  const double per_person = static_cast<double>(rows) / people;
  EXPECT_NEAR(per_person, 1.6, 0.15);
  EXPECT_NEAR(static_cast<double>(rows_of["salesforce_contact"]) / people, 0.6, 0.05);
  EXPECT_GT(rows_of["salesforce_lead"], people / 20);
  EXPECT_GT(rows_of["marketo_emea"], people / 5);
}

TEST(GenerateSources, OverlapLikeRealSystems) {
  const fs::path& dir = sources(6000, 11, 2);
  const table contacts = read_csv(dir / "salesforce/Contact.csv");
  const table leads = read_csv(dir / "salesforce/Lead.csv");
  std::unordered_map<std::string, std::string> contact_email;
  for (const auto& r : contacts.rows) contact_email[r[0]] = r[contacts.col("Email")];
  std::unordered_set<std::string> lead_emails;
  for (const auto& r : leads.rows) lead_emails.insert(normalize_email(r[leads.col("Email")]));
  std::size_t same = 0, case_or_space = 0, not_in_crm = 0, of_contacts = 0, of_leads = 0;
  std::map<std::string, int> instances_of_email;
  std::unordered_set<std::string> leads_in_marketo;
  for (const char* f : {"marketo_na/leads.csv", "marketo_emea/leads.csv"}) {
    const table t = read_csv(dir / f);
    const std::size_t email = t.col("email"), contact = t.col("sfdcContactId"),
                      lead = t.col("sfdcLeadId"), type = t.col("sfdcType");
    for (const auto& r : t.rows) {
      if (!r[email].empty()) ++instances_of_email[normalize_email(r[email])];
      if (!r[contact].empty()) {
        ++of_contacts;
        EXPECT_EQ(r[type], "Contact");
        ASSERT_TRUE(contact_email.count(r[contact])) << r[contact];
        const std::string& sf = contact_email.at(r[contact]);
        if (sf.empty()) continue;
        EXPECT_EQ(normalize_email(r[email]), normalize_email(sf));
        if (r[email] == sf)
          ++same;
        else
          ++case_or_space;
      } else if (!r[lead].empty()) {
        ++of_leads;
        EXPECT_EQ(r[type], "Lead");
        EXPECT_TRUE(lead_emails.count(normalize_email(r[email]))) << r[email];
        leads_in_marketo.insert(r[lead]);
      } else {
        ++not_in_crm;
        EXPECT_TRUE(r[type].empty());
        EXPECT_TRUE(r[t.col("sfdcAccountId")].empty());
      }
    }
  }
  EXPECT_GT(same, case_or_space);
  EXPECT_GT(case_or_space, 100u) << "some emails differ from Salesforce's in case or spaces";
  EXPECT_GT(not_in_crm, 1000u) << "leads not in the CRM";
  EXPECT_GT(of_contacts, 2000u);
  EXPECT_GT(of_leads, 100u);
  EXPECT_LT(leads_in_marketo.size(), leads.rows.size()) << "some leads only in Salesforce";
  std::size_t in_both = 0;
  for (const auto& [e, n] : instances_of_email) in_both += n == 2;
  EXPECT_GT(in_both, 200u) << "people in both Marketo instances";
  // No email is shared by two people: within one file, an email appears once.
  for (const char* f : {"salesforce/Contact.csv", "salesforce/Lead.csv", "marketo_na/leads.csv",
                        "marketo_emea/leads.csv"}) {
    const table t = read_csv(dir / f);
    std::unordered_set<std::string> emails;
    const std::size_t c = t.col(f[0] == 's' ? "Email" : "email");
    for (const auto& r : t.rows)
      if (!r[c].empty()) {
        EXPECT_TRUE(emails.insert(normalize_email(r[c])).second) << f << r[c];
      }
  }
}

TEST(GenerateSources, KeysUniqueAndLinksResolve) {
  const fs::path& dir = sources(3000, 7, 1);
  std::map<std::string, std::unordered_set<std::string>> ids;  // "file:column" -> values
  auto collect = [&](const char* file, const char* column) -> std::unordered_set<std::string>& {
    auto& s = ids[std::string(file) + ":" + column];
    if (!s.empty()) return s;
    const table t = read_csv(dir / file);
    const std::size_t c = t.col(column);
    for (const auto& r : t.rows) {
      EXPECT_FALSE(r[c].empty()) << file;
      EXPECT_TRUE(s.insert(r[c]).second) << "duplicate " << r[c] << " in " << file;
    }
    return s;
  };
  for (const auto& f : g::raw_files) {
    const std::string path(f.path);
    const std::string first(f.columns.substr(0, f.columns.find(',')));
    if (first == "Id" || first == "id") collect(path.c_str(), first.c_str());
  }
  auto& accounts = collect("salesforce/Account.csv", "Id");
  auto& contacts = collect("salesforce/Contact.csv", "Id");
  auto& sf_leads = collect("salesforce/Lead.csv", "Id");
  auto& opportunities = collect("salesforce/Opportunity.csv", "Id");
  auto& campaigns = collect("salesforce/Campaign.csv", "Id");
  auto& lists = collect("marketo/lists.csv", "id");
  std::unordered_set<std::string> marketo = collect("marketo_na/leads.csv", "id");
  for (const auto& v : collect("marketo_emea/leads.csv", "id")) marketo.insert(v);
  std::unordered_set<std::string> people = contacts;
  people.insert(sf_leads.begin(), sf_leads.end());
  auto links = [&](const char* file, const char* column, const std::unordered_set<std::string>& to,
                   bool nullable) {
    const table t = read_csv(dir / file);
    const std::size_t c = t.col(column);
    std::size_t set = 0;
    for (const auto& r : t.rows) {
      if (r[c].empty()) {
        EXPECT_TRUE(nullable) << file << " " << column;
        continue;
      }
      ++set;
      EXPECT_TRUE(to.count(r[c])) << file << " " << column << " -> " << r[c];
    }
    EXPECT_GT(set, 0u) << file << " " << column;
  };
  links("salesforce/Account.csv", "ParentId", accounts, true);
  links("salesforce/Contact.csv", "AccountId", accounts, false);
  links("salesforce/Lead.csv", "Matched_Account__c", accounts, true);
  links("salesforce/AccountContactRelation.csv", "AccountId", accounts, false);
  links("salesforce/AccountContactRelation.csv", "ContactId", contacts, false);
  links("salesforce/Opportunity.csv", "AccountId", accounts, false);
  links("salesforce/OpportunityContactRole.csv", "OpportunityId", opportunities, false);
  links("salesforce/OpportunityContactRole.csv", "ContactId", contacts, false);
  links("salesforce/CampaignMember.csv", "CampaignId", campaigns, false);
  links("salesforce/CampaignMember.csv", "LeadOrContactId", people, false);
  for (const char* f : {"marketo_na/leads.csv", "marketo_emea/leads.csv"}) {
    links(f, "sfdcContactId", contacts, true);
    links(f, "sfdcLeadId", sf_leads, true);
    links(f, "sfdcAccountId", accounts, true);
  }
  links("marketo/list_members.csv", "listId", lists, false);
  links("marketo/list_members.csv", "leadId", marketo, false);
  links("marketo/activities.csv", "leadId", marketo, false);
  links("marketo/activities.csv", "sfdcCampaignId", campaigns, true);
}

TEST(GenerateSources, SameWorldAsThePlainDataset) {
  const fs::path& raw = sources(3000, 7, 1);
  const fs::path& plain = dataset(3000, 7, 1);
  // Row for row where every row has a correspondent.
  auto rows = [](const fs::path& p) { return read_csv(p).rows; };
  const auto account = rows(plain / "account.csv"), opportunity = rows(plain / "opportunity.csv");
  const auto sf_account = rows(raw / "salesforce/Account.csv");
  const auto sf_opportunity = rows(raw / "salesforce/Opportunity.csv");
  ASSERT_EQ(sf_account.size(), account.size());
  for (std::size_t i = 0; i < account.size(); ++i) {
    EXPECT_EQ(sf_account[i][2], account[i][2]);                                // Name = name
    EXPECT_EQ(sf_account[i][3], account[i][3]);                                // Website = domain
    EXPECT_EQ(sf_account[i][16].substr(0, 19), account[i][15].substr(0, 19));  // created
  }
  ASSERT_EQ(sf_opportunity.size(), opportunity.size());
  for (std::size_t i = 0; i < opportunity.size(); ++i) {
    EXPECT_EQ(sf_opportunity[i][2], opportunity[i][2]);  // Name
    EXPECT_EQ(sf_opportunity[i][4], opportunity[i][4]);  // Amount
  }
  EXPECT_EQ(rows(raw / "salesforce/OpportunityContactRole.csv").size(),
            rows(plain / "opportunity_person.csv").size());
  EXPECT_EQ(rows(raw / "salesforce/Campaign.csv").size(), rows(plain / "campaign.csv").size());
  EXPECT_EQ(rows(raw / "marketo/lists.csv").size(), 2 * rows(plain / "marketing_list.csv").size());
  EXPECT_LT(rows(raw / "marketo/activities.csv").size(), rows(plain / "event.csv").size());
  EXPECT_GT(rows(raw / "marketo/activities.csv").size(), rows(plain / "event.csv").size() / 2);
  // Each person row carries the plain person's values.
  const table person = read_csv(plain / "person.csv");
  const table contact = read_csv(raw / "salesforce/Contact.csv");
  for (const auto& r : contact.rows) {
    const std::uint64_t p = g::sfdc_id_number(r[0], g::sf_contact) - 1;
    const auto& q = person.rows.at(p);
    EXPECT_EQ(r[contact.col("Email")], q[person.col("email")]);
    EXPECT_EQ(r[contact.col("LastName")], q[person.col("last_name")]);
    EXPECT_EQ(r[contact.col("mkto71_Lead_Score__c")], q[person.col("lead_score")]);
    EXPECT_EQ(g::sfdc_id_number(r[contact.col("AccountId")], g::sf_account),
              g::plain_key_number(q[person.col("account_id")]));
  }
  for (const char* f : {"marketo_na/leads.csv", "marketo_emea/leads.csv"}) {
    const table t = read_csv(raw / f);
    for (const auto& r : t.rows) {
      const std::uint64_t p =
          person_of_row(f[8] == 'n' ? "marketo_na" : "marketo_emea", r[t.col("id")]);
      const auto& q = person.rows.at(p);
      EXPECT_EQ(normalize_email(r[t.col("email")]), q[person.col("email")]);
      EXPECT_EQ(r[t.col("title")], q[person.col("job_title")]);
      EXPECT_EQ(r[t.col("createdAt")], q[person.col("created_at")]);
    }
  }
}

TEST(GenerateSources, LoadsAndEvaluatesTheDemoSegments) {
  const fs::path& dir = sources(3000, 7, 1);
  std::optional<b2bseg::graph> g;
  try {
    g.emplace(b2bseg::load_dataset(dir.string()));
  } catch (const b2bseg::data_error& e) {
    const std::string what = e.what();
    for (const char* word : {"sources", "identities", "identity", "merge"})
      if (what.find(word) != std::string::npos)
        GTEST_SKIP() << "load_dataset does not read SPEC 2.3 sources yet: " << what;
    FAIL() << what;
  }
  const b2bseg::schema& s = g->schema();
  auto rows = [&](const char* e) { return g->rows(s.find_entity(e)); };
  auto file_rows = [&](const char* f) { return read_csv(dir / f).rows.size(); };
  EXPECT_EQ(rows("person"), 3000u) << "one profile per generated person";
  EXPECT_EQ(rows("account"), 300u);
  EXPECT_EQ(rows("opportunity"), file_rows("salesforce/Opportunity.csv"));
  EXPECT_EQ(rows("opportunity_person"), file_rows("salesforce/OpportunityContactRole.csv"));
  EXPECT_EQ(rows("event"), file_rows("marketo/activities.csv"));
  EXPECT_EQ(rows("marketing_list_member"), file_rows("marketo/list_members.csv"));
  // The demo segments, written for the plain dataset, compile and find members.
  const std::string seg = read_file(fs::path(B2BSEG_SOURCE_DIR) / "datasets/demo.seg");
  const b2bseg::bound_file f = b2bseg::compile_segments(seg, s, "demo.seg");
  b2bseg::eval_options eo;
  eo.as_of = b2bseg::default_generate_as_of;
  const b2bseg::evaluation ev = b2bseg::evaluate(*g, f, eo);
  ASSERT_EQ(ev.segments.size(), f.segments.size());
  std::size_t nonempty = 0;
  for (const auto& r : ev.segments) nonempty += !r.members.isEmpty();
  EXPECT_GT(nonempty, ev.segments.size() * 3 / 4);
}

TEST(GenerateSources, BundledDemoIsTheGeneratedOne) {
  // datasets/demo-sources: 1,000 people, seed 42, the default as_of.
  const fs::path bundled = fs::path(B2BSEG_SOURCE_DIR) / "datasets/demo-sources";
  if (!fs::exists(bundled / "schema.json")) GTEST_SKIP() << "no " << bundled;
  fs::path dir = tmp_dir("demo");
  generate_options o;
  o.people = 1000;
  o.seed = 42;
  generate_sources_dataset(dir.string(), o);
  EXPECT_EQ(hash_tree(dir), hash_tree(bundled))
      << "regenerate datasets/demo-sources (generate --sources --people 1000 --seed 42)";
}
