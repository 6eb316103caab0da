// Activation (SPEC 6): destinations files checked with located errors, every destination type,
// full and incremental runs, crash safety of the state, field values and their formats.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "b2bseg/activate/activate.hpp"
#include "b2bseg/b2bseg.hpp"
#include "support/random_fields.hpp"
#include "support/random_graph.hpp"
#include "support/reference_evaluator.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

namespace b2bseg {
namespace {

using testing::read_file;
using testing::temp_dir;
namespace fs = std::filesystem;

const timestamp_us as_of = [] {
  timestamp_us t = 0;
  parse_timestamp("2026-11-22T00:00:00Z", t);
  return t;
}();

std::string mini() {
  return std::string(B2BSEG_SOURCE_DIR) + "/tests/data/mini";
}

const char* segments_text =
    "segment big on account where employees >= 1000\n"
    "segment vps on person where seniority in (\"VP\", \"C-Level\")\n"
    "segment scored on person where score >= 50\n";

struct fixture {
  graph g = load_dataset(mini());
  bound_file f = compile_segments(segments_text, g.schema(), "s.seg");

  std::vector<destination> parse(const std::string& json) {
    return parse_destinations(json, g.schema(), f, "d.json");
  }
  std::vector<destination_report> run(const std::string& json, const std::string& out,
                                      bool full = false, timestamp_us at = as_of) {
    const auto dests = parse(json);
    const evaluation ev = evaluate(g, f, eval_options{.as_of = at, .threads = 0, .segments = {}});
    activate_options o;
    o.as_of = at;
    o.full = full;
    return activate(g, ev, dests, out, o);
  }
};

std::string error_of(fixture& fx, const std::string& json) {
  try {
    fx.parse(json);
  } catch (const compile_error& e) {
    return e.what();
  }
  return "no error";
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t b = 0;
  while (b < text.size()) {
    std::size_t e = text.find('\n', b);
    lines.push_back(text.substr(b, e - b));
    b = e + 1;
  }
  std::sort(lines.begin() + 1, lines.end());  // the header stays first
  return lines;
}

// --- the destinations file ---------------------------------------------------------------------

TEST(Activate, DestinationErrorsAreLocatedWithHints) {
  fixture fx;
  EXPECT_TRUE(has(error_of(fx, "{\"destinations\": [}"), "d.json:1:19: error: invalid JSON"));
  std::string e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "file", "segments": ["vps"]}]})J");
  EXPECT_TRUE(has(e, "d.json:2:25: error: unknown destination type 'file' (did you mean 'files'?)"))
      << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "files", "segments": ["vsp"]}]})J");
  EXPECT_TRUE(has(e, "d.json:2:47: error: unknown segment 'vsp' (did you mean 'vps'?)")) << e;
  // A field expression: the column inside the string.
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "files", "segments": ["vps"], "fields": {"a": "account.nme"}}]})J");
  EXPECT_TRUE(has(e,
                  "d.json:2:80: error: in field 'a': unknown attribute 'nme' of entity "
                  "'account'; did you mean 'name'?"))
      << e;
  EXPECT_TRUE(has(e, "^")) << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "files", "segments": ["vps"], "fields": {"a": "account.sum(name)"}}]})J");
  EXPECT_TRUE(has(e, "in field 'a': ")) << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "files", "segments": ["big"], "fields": {"a": "people.sum(email)"}}]})J");
  EXPECT_TRUE(has(e, "cannot aggregate string attribute 'email'")) << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "linkedin_company_list", "segments": ["vps"],
   "fields": {"industry": "account.industry"}}]})J");
  EXPECT_TRUE(has(e, "a linkedin_company_list needs one of companyname")) << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "linkedin_company_list", "segments": ["big"],
   "fields": {"company_name": "name"}}]})J");
  EXPECT_TRUE(has(e,
                  "unknown column 'company_name' of a linkedin_company_list (did you mean "
                  "'companyname'?)"))
      << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "files", "segments": ["vps", "big"]}]})J");
  EXPECT_TRUE(has(e, "all segments of a destination are on one entity")) << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "marketo_list", "segments": ["vps"], "fields": {"email": "email"}}]})J");
  EXPECT_TRUE(has(e, "needs firstName and lastName mapped")) << e;
  std::string many = R"J({"destinations": [{"name": "x", "type": "marketo_list",
    "create_leads": false, "segments": ["vps"], "fields": {"email": "email")J";
  for (int i = 0; i < 51; ++i) many += ", \"f" + std::to_string(i) + "\": \"score\"";
  e = error_of(fx, many + "}}]}");
  EXPECT_TRUE(has(e, "at most 50 fields besides email; this one maps 51")) << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "x", "type": "files", "segments": ["vps"], "modee": "full", "format": "parquet"}]})J");
  EXPECT_TRUE(has(e, "unknown member 'modee' (did you mean 'mode'?)")) << e;
  EXPECT_TRUE(has(e, "\"format\" is one of csv, ndjson, not 'parquet'")) << e;
  e = error_of(fx, R"J({"destinations": [
  {"name": "../x", "type": "files", "segments": ["vps"]}]})J");
  EXPECT_TRUE(has(e, "a destination name names its folder")) << e;
}

// --- every type ---------------------------------------------------------------------------------

TEST(Activate, FilesCsvWithAttributesPathsAndAggregates) {
  fixture fx;
  temp_dir dir;
  const auto reps = fx.run(R"J({"destinations": [{"name": "bucket", "type": "files",
    "segments": ["vps"], "fields": {"email": "email", "acct": "account.name",
    "events": "events.count()",
    "recent": "events.where(timestamp within last 30 days).count()",
    "last": "events.max(timestamp)", "score": "score", "tags": "account.tags"}}]})J",
                           dir.str());
  ASSERT_EQ(reps.size(), 1u);
  ASSERT_EQ(reps[0].error, "");
  const fs::path run = dir.path() / "bucket" / "20261122T000000Z";
  EXPECT_EQ(sorted_lines(read_file(run / "vps.csv")),
            (std::vector<std::string>{
                "person_id,email,acct,events,recent,last,score,tags",
                "P1,ann@acme.com,\"Acme, Inc.\",3,2,2026-11-10T00:00:00Z,90,ai|cloud|saas",
                "P4,dee@example.com,,0,0,,75,",
                "P5,eve@initech.com,\"Initech \"\"Labs\"\"\",1,1,2026-11-21T23:59:59.123Z,60,cloud",
            }));
  const std::string manifest = read_file(run / "manifest.json");
  EXPECT_TRUE(has(manifest, "\"destination\": \"bucket\"")) << manifest;
  EXPECT_TRUE(has(manifest, "\"mode\": \"full\"")) << manifest;
  EXPECT_TRUE(has(manifest, "\"as_of\": \"2026-11-22T00:00:00Z\"")) << manifest;
  EXPECT_TRUE(has(manifest, "{\"segment\": \"vps\", \"path\": \"vps.csv\", \"rows\": 3"))
      << manifest;
}

TEST(Activate, FilesNdjsonGzipAndZstdAndAccountAggregates) {
  fixture fx;
  temp_dir dir;
  const auto reps = fx.run(R"J({"destinations": [
    {"name": "j", "type": "files", "format": "ndjson", "segments": ["big"],
     "fields": {"n": "people.count()", "sum": "people.sum(score)", "avg": "people.avg(score)",
                "rev": "annual_revenue", "tags": "tags", "customer": "is_customer",
                "created": "created_at"}},
    {"name": "g", "type": "files", "compression": "gzip", "segments": ["big"],
     "fields": {"name": "name"}},
    {"name": "z", "type": "files", "compression": "zstd", "format": "ndjson",
     "segments": ["big"], "fields": {"name": "name"}}]})J",
                           dir.str());
  for (const auto& r : reps) EXPECT_EQ(r.error, "") << r.name;
  EXPECT_EQ(
      sorted_lines(read_file(dir.path() / "j" / "20261122T000000Z" / "big.ndjson")),
      (std::vector<std::string>{
          R"({"account_id":"A1","n":2,"sum":130,"avg":65,"rev":15000000,"tags":["ai","cloud","saas"],"customer":true,"created":"2024-01-15T00:00:00Z"})",
          R"({"account_id":"A4","n":0,"sum":0,"avg":null,"rev":900000000,"tags":["ai","saas"],"customer":false,"created":null})"}));
  EXPECT_TRUE(fs::exists(dir.path() / "g" / "20261122T000000Z" / "big.csv.gz"));
  EXPECT_TRUE(fs::exists(dir.path() / "z" / "20261122T000000Z" / "big.ndjson.zst"));
  const std::string gz = read_file(dir.path() / "g" / "20261122T000000Z" / "big.csv.gz");
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  const std::string zs = read_file(dir.path() / "z" / "20261122T000000Z" / "big.ndjson.zst");
  ASSERT_GE(zs.size(), 4u);
  EXPECT_EQ(zs.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
}

TEST(Activate, LinkedInListsWithHashingSkipsAndWarnings) {
  fixture fx;
  temp_dir dir;
  const auto reps = fx.run(R"J({"destinations": [
    {"name": "co", "type": "linkedin_company_list", "segments": ["big"],
     "fields": {"companyname": "name", "industry": "industry"}},
    {"name": "people", "type": "linkedin_contact_list", "segments": ["scored"],
     "fields": {"email": "email", "employeecompany": "account.name", "jobtitle": "seniority"},
     "hash": ["email"]}]})J",
                           dir.str());
  ASSERT_EQ(reps.size(), 2u);
  EXPECT_EQ(sorted_lines(read_file(dir.path() / "co" / "20261122T000000Z" / "big.csv")),
            (std::vector<std::string>{"companyname,companywebsite,companyemaildomain,"
                                      "linkedincompanypageurl,stocksymbol,industry,city,state,"
                                      "companycountry,zipcode",
                                      "\"Acme, Inc.\",,,,,Software,,,,", "Umbrella,,,,,,,,,"}));
  EXPECT_EQ(reps[0].warnings.size(), 1u);
  EXPECT_TRUE(has(reps[0].warnings[0], "big.csv has 2 rows; LinkedIn needs at least 300"));
  const std::string people = read_file(dir.path() / "people" / "20261122T000000Z" / "scored.csv");
  EXPECT_TRUE(has(people, "email,firstname,lastname,jobtitle,employeecompany,country,googleaid\n"))
      << people;
  // SHA-256 of "ann@acme.com" (trimmed, lower-cased).
  EXPECT_TRUE(has(people,
                  "f9669db96e65a194239696238f1c70f32c9cba34c3d842b805cf2c9e42b1f3a5,,,VP,\"Acme, "
                  "Inc.\",,\n"))
      << people;
  EXPECT_EQ(reps[1].rows(), 3u);  // P1, P4, P5: all have an email
}

TEST(Activate, MarketoRulesInOrder) {
  // Emails: invalid ones skipped, then duplicates ignoring case (the first by key kept).
  temp_dir root;
  fs::create_directories(root.path() / "data");
  const fs::path data = root.path() / "data";
  testing::copy_dataset("mini", data);
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(data / name, std::ios::binary) << text;
  };
  write("person.csv",
        "person_id,email,seniority,score,account_id\n"
        "P1, Ann@Acme.com ,VP,90,A1\nP2,ann@acme.COM,VP,40,A1\nP3,bad@nodot,VP,1,A2\n"
        "P4,two@@x.com,VP,75,\nP5,eve@initech.com,VP,60,A3\nP6,,VP,1,A1\n"
        "P7,a b@x.com,VP,1,A1\nP8,x@a..com,VP,1,A1\n");
  write("event.csv", "type,timestamp,person_id\n");
  graph g = load_dataset(data.string());
  const bound_file f =
      compile_segments("segment all_people on person where score >= 0", g.schema());
  const auto dests = parse_destinations(R"J({"destinations": [
    {"name": "m", "type": "marketo_list", "segments": ["all_people"],
     "fields": {"email": "email", "firstName": "seniority", "lastName": "seniority",
                "company": "account.name"}}]})J",
                                        g.schema(), f);
  const fs::path out = root.path() / "out";
  activate_options o;
  o.as_of = as_of;
  const auto reps = activate(g, evaluate(g, f, {.as_of = as_of, .threads = 0, .segments = {}}),
                             dests, out.string(), o);
  ASSERT_EQ(reps[0].error, "");
  EXPECT_EQ(sorted_lines(read_file(out / "m" / "20261122T000000Z" / "all_people.csv")),
            (std::vector<std::string>{"email,firstName,lastName,company",
                                      "Ann@Acme.com,VP,VP,\"Acme, Inc.\"",
                                      "eve@initech.com,VP,VP,\"Initech \"\"Labs\"\"\""}));
  const auto& skipped = reps[0].files[0].skipped;
  EXPECT_EQ(skipped, (std::vector<std::pair<std::string, std::uint64_t>>{{"duplicate_email", 1},
                                                                         {"invalid_email", 5}}));
}

// --- incremental runs and crash safety
// ------------------------------------------------------------

TEST(Activate, IncrementalHandsOverOnlyWhatChanged) {
  temp_dir root;  // one per test: data/ and out/ inside
  fs::create_directories(root.path() / "data");
  fs::create_directories(root.path() / "out");
  struct {
    fs::path p;
    std::string str() const { return p.string(); }
    const fs::path& path() const { return p; }
    void write(const std::string& name, const std::string& text) const {
      std::ofstream(p / name, std::ios::binary) << text;
    }
  } data{root.path() / "data"}, out{root.path() / "out"};
  testing::copy_dataset("mini", data.path());
  const std::string json = R"J({"destinations": [
    {"name": "f", "type": "files", "mode": "incremental", "segments": ["vps"],
     "fields": {"email": "email"}},
    {"name": "m", "type": "marketo_list", "mode": "incremental", "create_leads": false,
     "segments": ["vps"], "fields": {"email": "email"}}]})J";
  auto run = [&](timestamp_us at, bool full = false) {
    graph g = load_dataset(data.str());
    const bound_file f = compile_segments(segments_text, g.schema());
    activate_options o;
    o.as_of = at;
    o.full = full;
    return activate(g, evaluate(g, f, {.as_of = at, .threads = 0, .segments = {}}),
                    parse_destinations(json, g.schema(), f), out.str(), o);
  };
  auto day = [](int d) { return as_of + static_cast<timestamp_us>(d) * 86'400'000'000; };
  run(day(0));
  const fs::path f0 = out.path() / "f" / "20261122T000000Z";
  EXPECT_EQ(
      sorted_lines(read_file(f0 / "vps.csv")),
      (std::vector<std::string>{"person_id,email,status", "P1,ann@acme.com,realized",
                                "P4,dee@example.com,realized", "P5,eve@initech.com,realized"}));
  // P1 leaves the segment, P2 joins, P5 leaves the dataset.
  data.write("person.csv",
             "person_id,email,seniority,score,account_id\nP1,ann@acme.com,Manager,90,A1\n"
             "P2,bob@acme.com,VP,40,A1\nP3,cy@globex.com,Manager,,A2\nP4,dee@example.com,VP,75,\n");
  data.write("event.csv", "type,timestamp,person_id\nweb.pageview,2026-11-20,P2\n");
  run(day(1));
  const fs::path f1 = out.path() / "f" / "20261123T000000Z";
  EXPECT_EQ(sorted_lines(read_file(f1 / "vps.csv")),
            (std::vector<std::string>{"person_id,email,status", "P1,ann@acme.com,exited",
                                      "P2,bob@acme.com,realized", "P5,,exited"}));
  const fs::path m1 = out.path() / "m" / "20261123T000000Z";
  EXPECT_EQ(read_file(m1 / "vps.csv"), "email\nbob@acme.com\n");
  EXPECT_EQ(read_file(m1 / "vps.exited.csv"), "email\nann@acme.com\n");  // P5 has no email now
  // No change: header-only files.
  run(day(2));
  EXPECT_EQ(read_file(out.path() / "f" / "20261124T000000Z" / "vps.csv"),
            "person_id,email,status\n");
  EXPECT_EQ(read_file(out.path() / "m" / "20261124T000000Z" / "vps.exited.csv"), "email\n");
  // --full: every member once, realized.
  run(day(3), true);
  EXPECT_EQ(sorted_lines(read_file(out.path() / "f" / "20261125T000000Z" / "vps.csv")),
            (std::vector<std::string>{"person_id,email,status", "P2,bob@acme.com,realized",
                                      "P4,dee@example.com,realized"}));
}

TEST(Activate, AFailedRunHandsTheSameChangesOverAgain) {
  // The state is replaced only after the files are in place: when it cannot be (here .state is
  // a file), the run fails and the next one hands the same changes over again.
  fixture fx;
  temp_dir out;
  const std::string json = R"J({"destinations": [
    {"name": "f", "type": "files", "mode": "incremental", "segments": ["vps"]},
    {"name": "g", "type": "files", "mode": "incremental", "segments": ["big"]}]})J";
  fs::create_directories(out.path() / "f");
  out.write("f/.state", "in the way");
  auto reps = fx.run(json, out.str());
  EXPECT_NE(reps[0].error, "");
  EXPECT_EQ(reps[1].error, "");  // each destination on its own
  fs::remove(out.path() / "f" / ".state");
  const timestamp_us later = as_of + 3'600'000'000;
  reps = fx.run(json, out.str(), false, later);
  ASSERT_EQ(reps[0].error, "");
  EXPECT_EQ(reps[0].rows(), 3u);  // every member again, as realized
  reps = fx.run(json, out.str(), false, later + 3'600'000'000);
  EXPECT_EQ(reps[0].rows(), 0u);  // now handed over
  EXPECT_EQ(reps[1].rows(), 0u);
  // No staging folder is left behind.
  for (auto& e : fs::directory_iterator(out.path() / "f"))
    EXPECT_FALSE(e.path().filename().string().starts_with(".b2bseg")) << e.path();
}

TEST(Activate, KilledRunsNeverLoseAChange) {
  // Kill `activate` at arbitrary moments (bounded: 12 tries, each a few ms), then let one run
  // finish: whatever was or was not handed over, the finished run's state is the whole segment
  // and its file holds every member that no earlier finished run handed over.
  temp_dir dir;
  const std::string data = dir.str() + "/data";
  ASSERT_EQ(std::system((std::string(B2BSEG_EXE) + " generate --people 3000 --seed 3 --out " +
                         data + " >/dev/null 2>&1")
                            .c_str()),
            0);
  const std::string seg = dir.write("s.seg", "segment vps on person where seniority = \"VP\"\n");
  const std::string dest = dir.write("d.json", R"J({"destinations": [{"name": "f",
    "type": "files", "mode": "incremental", "segments": ["vps"], "fields": {"e": "email"}}]})J");
  const std::string cmd = std::string(B2BSEG_EXE) + " activate --quiet --data " + data +
                          " --segments " + seg + " --destinations " + dest + " --out " + dir.str() +
                          "/out --as-of ";
  for (int i = 0; i < 12; ++i) {
    const std::string at =
        "2026-11-22T00:00:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "Z";
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", ("exec " + cmd + at + " >/dev/null 2>&1").c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::usleep(static_cast<useconds_t>(2000 + 9000 * i));
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
  }
  ASSERT_EQ(std::system((cmd + "2026-11-22T01:00:00Z").c_str()), 0);
  const std::string state = read_file(dir.path() / "out" / "f" / ".state" / "vps.csv");
  const std::string file = read_file(dir.path() / "out" / "f" / "20261122T010000Z" / "vps.csv");
  graph g = load_dataset(data);
  const bound_file f = compile_segments(read_file(seg), g.schema());
  const evaluation ev = evaluate(g, f, {.as_of = as_of, .threads = 0, .segments = {}});
  std::size_t members = ev.segments[0].members.cardinality();
  EXPECT_EQ(std::count(state.begin(), state.end(), '\n'), static_cast<long>(members + 1));
  // Every run that finished wrote a run folder; members handed over by finished runs plus this
  // file's rows cover the segment.
  std::set<std::string> delivered;
  for (auto& run : fs::directory_iterator(dir.path() / "out" / "f")) {
    const std::string name = run.path().filename().string();
    if (name[0] == '.') continue;
    const std::string text = read_file(run.path() / "vps.csv");
    std::size_t b = text.find('\n') + 1;
    while (b < text.size()) {
      const std::size_t e = text.find('\n', b);
      const std::string line = text.substr(b, e - b);
      delivered.insert(line.substr(0, line.find(',')));
      b = e + 1;
    }
  }
  EXPECT_EQ(delivered.size(), members);
  EXPECT_FALSE(file.empty());
}

// --- values and formats
// ---------------------------------------------------------------------------

TEST(Activate, FloatsInPlainShortestNotation) {
  std::string s;
  for (double d : {1000000.0, 2.5, 0.00000025, 0.1, -3.0, 1e21, 123456.789}) {
    detail::append_double(s, d);
    s += ' ';
  }
  EXPECT_EQ(s, "1000000 2.5 0.00000025 0.1 -3 1000000000000000000000 123456.789 ");
}

TEST(Activate, AveragesAreRoundedOnce) {
  using detail::int128;
  EXPECT_EQ(detail::nearest_double(1, 3), 1.0 / 3.0);
  EXPECT_EQ(detail::nearest_double(2, 3), 2.0 / 3.0);
  // 2^64 - 8 over 2 = 2^63 - 4: not a double; the nearest is 2^63.
  const int128 s = (static_cast<int128>(1) << 64) - 8;
  EXPECT_EQ(detail::nearest_double(s, 2), 9223372036854775808.0);
  // (2^53 + 1) / 1 lies halfway between 2^53 and 2^53 + 2: ties to even (2^53).
  EXPECT_EQ(detail::nearest_double((static_cast<int128>(1) << 53) + 1, 1), 9007199254740992.0);
  EXPECT_EQ(detail::nearest_double((static_cast<int128>(1) << 53) + 3, 1), 9007199254740996.0);
  EXPECT_EQ(detail::nearest_double(-7, 2), -3.5);
}

TEST(Activate, EmailRule) {
  for (const char* ok : {"a@b.co", "first.last@sub.example.com", "x+y@a.b"})
    EXPECT_TRUE(detail::valid_email(ok)) << ok;
  for (const char* bad : {"", "@a.b", "a@b", "a@@b.c", "a@b@c.d", "a@.b", "a@b.", "a@b..c",
                          "a b@c.d", "a@b.c\t", "a\x01@b.c"})
    EXPECT_FALSE(detail::valid_email(bad)) << bad;
}

TEST(Activate, PartsSplitByRowsAndBytes) {
  detail::part_writer pw;
  pw.header = "h\n";
  pw.max_rows = 2;
  for (int i = 0; i < 5; ++i) pw.add("r\n");
  pw.finish();
  EXPECT_EQ(pw.parts, (std::vector<std::string>{"h\nr\nr\n", "h\nr\nr\n", "h\nr\n"}));
  detail::part_writer by_bytes;
  by_bytes.header = "h\n";
  by_bytes.max_rows = 100;
  by_bytes.max_bytes = 6;
  for (int i = 0; i < 3; ++i) by_bytes.add("ab\n");
  by_bytes.finish();
  EXPECT_EQ(by_bytes.parts, (std::vector<std::string>{"h\nab\n", "h\nab\n", "h\nab\n"}));
}

// --- field values against the naive reference on random graphs -------------------------------

TEST(Activate, FieldValuesMatchTheReferenceOnRandomGraphs) {
  std::size_t checked = 0, fields_total = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const test_support::random_dataset ds = test_support::make_random_dataset(seed);
    const graph& g = ds.graph;
    const schema& s = g.schema();
    test_support::rng r(seed * 7919);
    test_support::reference_evaluator ref(g);
    bound_file none;
    ref.bind(none, ds.as_of);
    for (entity_id e = 0; e < s.entities.size(); ++e) {
      if (!s.entities[e].key || g.rows(e) == 0) continue;
      std::vector<std::string> texts;
      std::vector<bound_field> fields;
      for (int k = 0; k < 6; ++k) {
        const std::string text = test_support::random_field(s, e, r);
        if (text.empty()) continue;
        try {
          fields.push_back(compile_field(text, s, e));
          texts.push_back(text);
        } catch (const compile_error& err) {
          ADD_FAILURE() << "seed " << seed << ": " << text << "\n" << err.what();
        }
      }
      std::vector<const bound_field*> ptrs;
      for (const auto& f : fields) ptrs.push_back(&f);
      std::vector<row_id> members;
      for (row_id row = 0; row < g.rows(e); ++row)
        if (r.chance(0.7)) members.push_back(row);
      members.push_back(no_row);  // a key that left the dataset: every field null
      const auto cols = evaluate_fields(g, ptrs, members, ds.as_of, 1 + seed % 2);
      for (std::size_t i = 0; i < fields.size(); ++i) {
        ++fields_total;
        for (std::size_t k = 0; k < members.size(); ++k) {
          std::string engine;
          append_field_text(engine, g, cols[i], k);
          const std::string want =
              members[k] == no_row ? "" : ref.field_text(fields[i], members[k]);
          ++checked;
          if (engine != want) {
            ADD_FAILURE() << "seed " << seed << ", entity " << s.entities[e].name << ", field "
                          << texts[i] << ", row " << members[k] << ": engine '" << engine
                          << "', reference '" << want << "'";
            break;
          }
        }
      }
    }
  }
  std::printf("field values checked: %zu over %zu fields\n", checked, fields_total);
  EXPECT_GT(fields_total, 200u);
}

// --- the command
// ----------------------------------------------------------------------------------

TEST(Activate, CommandWritesEveryDestinationOrNothing) {
  temp_dir dir;
  const std::string seg = dir.write("s.seg", segments_text);
  const std::string good = dir.write("d.json", R"J({"destinations": [
    {"name": "f", "type": "files", "segments": ["vps"], "fields": {"email": "email"}}]})J");
  auto r =
      testing::run_b2bseg("activate --data " + mini() + " --segments " + seg + " --destinations " +
                          good + " --out " + dir.str() + "/out --as-of 2026-11-22");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r.out, "f  ")) << r.out;
  EXPECT_TRUE(fs::exists(dir.path() / "out" / "f" / "20261122T000000Z" / "vps.csv"));
  const std::string bad = dir.write("bad.json", R"J({"destinations": [
    {"name": "g", "type": "files", "segments": ["vps"], "fields": {"email": "emial"}}]})J");
  r = testing::run_b2bseg("activate --data " + mini() + " --segments " + seg + " --destinations " +
                          bad + " --out " + dir.str() + "/out2");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "bad.json:2:78: error: in field 'email': unknown attribute 'emial'"))
      << r.out;
  EXPECT_FALSE(fs::exists(dir.path() / "out2"));
  r = testing::run_b2bseg("activate --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(has(r.out, "--destinations")) << r.out;
}

TEST(Activate, DemoDestinationsRunOnTheDemoDataset) {
  temp_dir dir;
  const std::string src = B2BSEG_SOURCE_DIR;
  auto r = testing::run_b2bseg("activate --data " + src + "/datasets/demo --segments " + src +
                               "/datasets/demo.seg --destinations " + src +
                               "/datasets/demo.destinations.json --out " + dir.str() +
                               " --as-of 2026-11-22T00:00:00Z");
  EXPECT_EQ(r.status, 0) << r.out;
  for (const char* d :
       {"linkedin_abm", "linkedin_people", "marketo_nurture", "sales_bucket", "warehouse"})
    EXPECT_TRUE(fs::exists(dir.path() / d / "20261122T000000Z" / "manifest.json")) << d;
}

}  // namespace
}  // namespace b2bseg
