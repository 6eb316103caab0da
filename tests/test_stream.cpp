// Tests of `b2bseg stream` (SPEC 2.4 and 4): the demo feed, standard input in a pipe, --final-out
// against a fresh eval of the changed rows, bad input with and without --lenient, usage errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>

#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using b2bseg::testing::read_file;
using b2bseg::testing::run_b2bseg;
using b2bseg::testing::temp_dir;
namespace fs = std::filesystem;

namespace {

std::string src(const std::string& p) {
  return std::string(B2BSEG_SOURCE_DIR) + "/" + p;
}

std::string mini() {
  return src("tests/data/mini");
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

/// Runs a shell pipeline with the b2bseg binary as $B; returns exit status and output.
b2bseg::testing::command_result shell(const std::string& script) {
  const std::string cmd = "B=" + std::string(B2BSEG_EXE) + "; " + script + " 2>&1";
  b2bseg::testing::command_result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace

TEST(Stream, TheDemoFeedWritesBatchLinesAndFinalMembers) {
  temp_dir dir;
  auto r = run_b2bseg("stream --data " + src("datasets/demo") + " --segments " +
                          src("datasets/demo.seg") + " --changes " +
                          src("datasets/demo.changes.ndjson") +
                          " --as-of 2026-11-22T00:00:00Z --final-out " + dir.str() + "/final",
                      /*merge_stderr=*/false);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.out, "\"applied\""), 3u) << r.out;
  EXPECT_NE(r.out.find("{\"batch\": 1, \"segment\": \"icp_accounts\", \"key\": \"A0000001\", "
                       "\"change\": \"entered\"}\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("{\"batch\": 3, \"segment\": \"big_open_deal_accounts\", \"key\": "
                       "\"A0000001\", \"change\": \"exited\"}\n"),
            std::string::npos)
      << r.out;
  // The final members are those of the last batch: A0000001 stays in the ICP list.
  const std::string icp = read_file(dir.path() / "final" / "icp_accounts.csv");
  EXPECT_EQ(icp.rfind("account_id\n", 0), 0u);
  EXPECT_NE(icp.find("\nA0000001\n"), std::string::npos);
  EXPECT_NE(
      read_file(dir.path() / "final" / "summary.json").find("\"as_of\": \"2026-11-23T00:00:00Z\""),
      std::string::npos);
}

TEST(Stream, FinalMembersEqualAnEvalOfTheChangedCsv) {
  // The feed's changes made by hand to a copy of mini's CSVs and evaluated by `eval`: the
  // stream's --final-out must hold the same files, byte for byte (summary.json aside).
  temp_dir dir;
  const std::string seg =
      dir.write("s.seg",
                "segment big on account where employees >= 1000\n"
                "segment vps on person where seniority = \"VP\" and account.in_segment(\"big\")\n");
  const std::string feed =
      dir.write("feed.ndjson",
                "{\"op\": \"upsert\", \"entity\": \"account\", \"row\": {\"account_id\": \"A2\", "
                "\"employees\": 5000}}\n"
                "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P3\", "
                "\"seniority\": \"VP\"}}\n"
                "{\"op\": \"commit\"}\n"
                "{\"op\": \"delete\", \"entity\": \"account\", \"key\": \"A1\"}\n");
  auto r = run_b2bseg("stream --quiet --data " + mini() + " --segments " + seg + " --changes " +
                          feed + " --as-of 2026-11-22 --final-out " + dir.str() + "/final",
                      false);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("{\"batch\": 2, \"segment\": \"big\", \"key\": \"A1\", \"change\": "
                       "\"exited\"}"),
            std::string::npos)
      << r.out;

  const fs::path data = dir.path() / "data";
  fs::create_directories(data);
  fs::copy(mini() + "/schema.json", data / "schema.json");
  dir.write("data/account.csv",
            "account_id,name,Industry,employees,annual_revenue,is_customer,created_at,tags,"
            "parent_id\n"
            "A2,Globex,Fintech,5000,,no,2025-06-01T10:00:00Z,,\n"
            "A3,\"Initech \"\"Labs\"\"\",Software,,250000.5,YES,2023-03-03 08:30:00,cloud,\n"
            "A4,Umbrella,,5000,9e8,0,,saas|ai,\n");
  std::string person = read_file(fs::path(mini()) / "person.csv");
  // P1 and P2 lose their account (A1 deleted); P3 becomes a VP.
  for (const char* from : {",A1\n", ",A1\r\n"})
    for (auto at = person.find(from); at != std::string::npos; at = person.find(from))
      person.replace(at, std::string(from).size(), ",\n");
  const auto p3 = person.find("P3,cy@globex.com,Manager");
  ASSERT_NE(p3, std::string::npos);
  person.replace(p3, 24, "P3,cy@globex.com,VP");
  dir.write("data/person.csv", person);
  // Events of deleted rows: mini's events link to people, none of whom is deleted.
  fs::copy(mini() + "/event.csv", data / "event.csv");
  auto e = run_b2bseg("eval --quiet --data " + data.string() + " --segments " + seg + " --out " +
                      dir.str() + "/eval --as-of 2026-11-22");
  ASSERT_EQ(e.status, 0) << e.out;
  for (const char* f : {"big.csv", "vps.csv"})
    EXPECT_EQ(read_file(dir.path() / "final" / f), read_file(dir.path() / "eval" / f)) << f;
  EXPECT_EQ(read_file(dir.path() / "final" / "big.csv"), "account_id\nA2\nA4\n");
}

TEST(Stream, ReadsStandardInputInAPipe) {
  temp_dir dir;
  const std::string seg = dir.write("s.seg", "segment vps on person where seniority = \"VP\"\n");
  auto r = shell(
      "printf '%s\\n' '{\"op\": \"upsert\", \"entity\": \"person\", \"row\": "
      "{\"person_id\": \"P2\", \"seniority\": \"VP\"}}' | $B stream --quiet --data " +
      mini() + " --segments " + seg + " --as-of 2026-11-22 | cat");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("{\"batch\": 1, \"segment\": \"vps\", \"key\": \"P2\", \"change\": "
                       "\"entered\"}"),
            std::string::npos)
      << r.out;
}

TEST(Stream, BadChangesStopWithExitOneOrAreSkippedWhenLenient) {
  temp_dir dir;
  const std::string seg = dir.write("s.seg", "segment vps on person where seniority = \"VP\"\n");
  const std::string feed =
      dir.write("feed.ndjson",
                "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P2\", "
                "\"seniority\": \"VP\"}}\n{\"op\": \"commit\"}\n"
                "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P1\", "
                "\"seniority\": \"CEO\"}}\n"
                "{\"op\": \"upsert\", \"entity\": \"person\", \"row\": {\"person_id\": \"P9\", "
                "\"account_id\": \"NOPE\"}}\n");
  const std::string base = "stream --data " + mini() + " --segments " + seg + " --changes " + feed +
                           " --as-of 2026-11-22";
  auto r = run_b2bseg(base + " --out " + dir.str() + "/changes.ndjson");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find(feed + ":4: error: field 'account_id': no account with key \"NOPE\""),
            std::string::npos)
      << r.out;
  const std::string written = read_file(dir.path() / "changes.ndjson");
  EXPECT_EQ(count(written, "\"applied\""), 1u) << written;  // batch 1 only
  r = run_b2bseg(base + " --lenient --quiet", false);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("{\"batch\": 2, \"applied\": 1, \"rejected\": 1,"), std::string::npos)
      << r.out;
}

TEST(Stream, AHundredMegabyteLineIsABadChangeNotAnOutOfMemory) {
  temp_dir dir;
  const std::string seg = dir.write("s.seg", "segment vps on person where seniority = \"VP\"\n");
  const std::string args =
      " stream --data " + mini() + " --segments " + seg + " --as-of 2026-11-22";
  auto r = shell(
      "{ head -c 100000000 /dev/zero | tr '\\0' x; echo; echo '{\"op\": \"tick\", "
      "\"now\": \"2026-11-23\"}'; } | $B" +
      args + " --lenient");
  EXPECT_EQ(r.status, 0) << r.out.substr(0, 2000);
  EXPECT_NE(r.out.find("<stdin>:1: error: line longer than 67108864 bytes"), std::string::npos)
      << r.out.substr(0, 2000);
  EXPECT_NE(r.out.find("\"applied\": 1, \"rejected\": 1"), std::string::npos)
      << r.out.substr(0, 2000);
  r = shell("{ head -c 100000000 /dev/zero | tr '\\0' x; echo; } | $B" + args);
  EXPECT_EQ(r.status, 1) << r.out.substr(0, 2000);
}

TEST(Stream, UsageErrorsExitTwo) {
  temp_dir dir;
  const std::string seg = dir.write("s.seg", "segment vps on person where seniority = \"VP\"\n");
  const std::string base = "stream --data " + mini() + " --segments " + seg;
  EXPECT_EQ(run_b2bseg(base + " --batch-size 0").status, 2);
  EXPECT_EQ(run_b2bseg(base + " --max-delay -1").status, 2);
  EXPECT_EQ(run_b2bseg(base + " --as-of yesterday").status, 2);
  auto r = run_b2bseg(base + " --out " + seg);
  EXPECT_EQ(r.status, 2) << r.out;
  r = run_b2bseg(base + " --changes " + dir.str() + "/missing.ndjson");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("missing.ndjson: cannot open"), std::string::npos) << r.out;
  r = run_b2bseg("stream --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--final-out"), std::string::npos);
  EXPECT_NE(r.out.find("{\"op\": \"tick\""), std::string::npos);
}
