// Tests of the b2bseg command: exit statuses, outputs written whole, errors, help, explain, stats.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using b2bseg::testing::read_file;
using b2bseg::testing::temp_dir;
namespace fs = std::filesystem;

namespace {

using b2bseg::testing::run_b2bseg;

std::string mini() {
  return std::string(B2BSEG_SOURCE_DIR) + "/tests/data/mini";
}

}  // namespace

TEST(Cli, EvalWritesOneCsvPerSegmentAndASummary) {
  temp_dir dir;
  std::string seg =
      dir.write("s.seg",
                "# accounts\nsegment big on account where employees >= 1000\n"
                "segment vps on person where seniority = \"VP\" and account.in_segment(\"big\")\n");
  auto r = run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() +
                      "/out --as-of 2026-11-22");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read_file(dir.path() / "out" / "big.csv"), "account_id\nA1\nA4\n");
  EXPECT_EQ(read_file(dir.path() / "out" / "vps.csv"), "person_id\nP1\n");
  std::string summary = read_file(dir.path() / "out" / "summary.json");
  EXPECT_NE(summary.find("\"as_of\": \"2026-11-22T00:00:00Z\""), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"name\": \"vps\""), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"count\": 1"), std::string::npos) << summary;
  EXPECT_NE(r.out.find("big"), std::string::npos);
  // No temporaries are left behind.
  for (auto& e : fs::directory_iterator(dir.path() / "out"))
    EXPECT_NE(e.path().filename().string()[0], '.');
}

TEST(Cli, SelectedSegmentsOnly) {
  temp_dir dir;
  std::string seg = dir.write("s.seg",
                              "segment big on account where employees >= 1000\n"
                              "segment other on account where employees < 10\n"
                              "segment vps on person where account.in_segment(\"big\")\n");
  auto r = run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() +
                      "/out --segment vps");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir.path() / "out" / "vps.csv"));
  EXPECT_FALSE(fs::exists(dir.path() / "out" / "other.csv"));
  EXPECT_FALSE(fs::exists(dir.path() / "out" / "big.csv"));
  r = run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() +
                 "/out --segment vpss");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("unknown segment 'vpss' (did you mean 'vps'?)"), std::string::npos) << r.out;
}

TEST(Cli, CompileErrorsExitTwoAndWriteNothing) {
  temp_dir dir;
  std::string seg = dir.write("bad.seg",
                              "segment ok on account where employees > 1\n"
                              "segment bad on account where industy = \"x\"\n");
  auto r =
      run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() + "/out");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(seg + ":2:30: error: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("did you mean 'industry'?"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir.path() / "out" / "ok.csv"));
  r = run_b2bseg("check --data " + mini() + " --segments " + seg);
  EXPECT_EQ(r.status, 2);
  std::string good = dir.write("good.seg", "segment ok on account where employees > 1\n");
  r = run_b2bseg("check --data " + mini() + " --segments " + good);
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST(Cli, DataErrorsExitOne) {
  temp_dir dir;
  std::string seg = dir.write("s.seg", "segment ok on account where employees > 1\n");
  auto r = run_b2bseg("eval --data " + dir.str() + " --segments " + seg + " --out " + dir.str() +
                      "/out");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("schema.json"), std::string::npos) << r.out;
  b2bseg::testing::copy_dataset("mini", dir.path());
  dir.write("person.csv", "person_id,email,seniority,score,account_id\nP1,a,VP,x1,A1\n");
  r = run_b2bseg("stats --data " + dir.str());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("person.csv:2:9: column 'score': bad int value 'x1'"), std::string::npos)
      << r.out;
  r = run_b2bseg("stats --data " + dir.str() + " --lenient");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("1 bad values"), std::string::npos) << r.out;
}

TEST(Cli, UsageErrorsAndHelp) {
  EXPECT_EQ(run_b2bseg("").status, 2);
  EXPECT_EQ(run_b2bseg("frobnicate").status, 2);
  EXPECT_EQ(run_b2bseg("eval --data " + mini()).status, 2);
  auto r = run_b2bseg("eval --data " + mini() + " --segments x --out y --as-of yesterday");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--as-of"), std::string::npos) << r.out;
  for (const char* sub : {"generate", "eval", "check", "explain", "stats", "overlap", "why"}) {
    r = run_b2bseg(std::string(sub) + " --help");
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.out.find("--"), std::string::npos) << sub;
  }
  EXPECT_EQ(run_b2bseg("--help").status, 0);
}

TEST(Cli, ExplainShowsTheTreeWithSizesAndSharing) {
  temp_dir dir;
  std::string seg =
      dir.write("s.seg",
                "segment a on person where account.industry = \"Software\" and seniority = \"VP\"\n"
                "segment b on person where account.industry = \"Software\" and score > 50\n");
  auto r = run_b2bseg("explain --data " + mini() + " --segments " + seg +
                      " --segment b --as-of 2026-11-22");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("segment b on person: 2 members"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("via person.account"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("account.industry = \"Software\"  [2 rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shared"), std::string::npos) << r.out;
}

TEST(Cli, OverlapCountsEveryPairOfOneEntity) {
  temp_dir dir;
  std::string seg = dir.write("s.seg",
                              "segment vp on person where seniority = \"VP\"\n"
                              "segment acme on person where account.name = \"Acme, Inc.\"\n"
                              "segment big on account where employees >= 1000\n"
                              "segmentation tier on person bucket hi where score >= 50 else lo\n");
  auto r = run_b2bseg("overlap --data " + mini() + " --segments " + seg +
                      " --segment acme --segment vp --segment vp --json");  // file order wins
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out,
            "{\"entity\": \"person\", \"segments\": [{\"name\": \"vp\", \"count\": 2}, "
            "{\"name\": \"acme\", \"count\": 2}], \"pairs\": [{\"a\": \"vp\", \"b\": "
            "\"acme\", \"count\": 1, \"jaccard\": 0.3333333333333333}]}\n");
  r = run_b2bseg("overlap --data " + mini() + " --segments " + seg + " --entity person");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("4 segments on person, 6 pairs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tier.hi"), std::string::npos) << r.out;
  // Several entities without a choice, segments of two entities, an unknown segment: usage.
  r = run_b2bseg("overlap --data " + mini() + " --segments " + seg);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("several entities (account, person)"), std::string::npos) << r.out;
  r = run_b2bseg("overlap --data " + mini() + " --segments " + seg + " --segment vp --segment big");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("overlap compares segments of one entity"), std::string::npos) << r.out;
  r = run_b2bseg("overlap --data " + mini() + " --segments " + seg + " --segment vpp");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("did you mean 'vp'"), std::string::npos) << r.out;
}

TEST(Cli, WhyShowsTheTreeAndRefusesUnknownKeys) {
  temp_dir dir;
  std::string seg = dir.write(
      "s.seg", "segment s on person where seniority = \"VP\" and account.employees >= 1000\n");
  auto r = run_b2bseg("why --data " + mini() + " --segments " + seg + " --segment s --key P2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out,
            "segment s on person \"P2\": not a member\n"
            "false  seniority = \"VP\" and account.employees >= 1000\n"
            "├─ false  seniority = \"VP\"  [actual \"Director\"]\n"
            "└─ true   account.employees >= 1000  [actual 1200]\n");
  r = run_b2bseg("why --data " + mini() + " --segments " + seg + " --segment s --key P1 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("{\"segment\": \"s\", \"key\": \"P1\", \"member\": true, ", 0), 0u)
      << r.out;
  r = run_b2bseg("why --data " + mini() + " --segments " + seg + " --segment s --key P404");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("no person with key \"P404\""), std::string::npos) << r.out;
  EXPECT_EQ(run_b2bseg("why --data " + mini() + " --segments " + seg + " --key P1").status, 2);
}

TEST(Cli, StatsReportsCountsNullsAndMemory) {
  auto r = run_b2bseg("stats --data " + mini());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("person: 5 rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("link account -> account: 4 of 5 rows set"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory by structure"), std::string::npos) << r.out;
}

TEST(Cli, GenerateIsDeterministic) {
  temp_dir dir;
  auto a = run_b2bseg("generate --people 300 --seed 7 --out " + dir.str() + "/a --threads 1");
  auto b = run_b2bseg("generate --people 300 --seed 7 --out " + dir.str() + "/b --threads 2");
  ASSERT_EQ(a.status, 0) << a.out;
  ASSERT_EQ(b.status, 0) << b.out;
  for (auto& e : fs::directory_iterator(dir.path() / "a"))
    EXPECT_EQ(read_file(e.path()), read_file(dir.path() / "b" / e.path().filename())) << e.path();
  auto st = run_b2bseg("stats --data " + dir.str() + "/a");
  EXPECT_EQ(st.status, 0) << st.out;
}
