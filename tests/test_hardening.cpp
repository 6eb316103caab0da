// Hardening (issue 16): what a hostile or careless user of the b2bseg command meets. Lost or mixed
// output, crashes, costs that grow too fast, and errors that must be clear instead of confusing.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "b2bseg/output/writer.hpp"
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

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

/// Names in `dir` that a run leaves behind by mistake (staging temporaries and backups).
int leftovers(const fs::path& dir) {
  int n = 0;
  for (auto& e : fs::directory_iterator(dir)) n += e.path().filename().string()[0] == '.';
  return n;
}

const char* two_segments =
    "segment a on account where employees >= 1000\n"
    "segment b on person where seniority = \"VP\"\n";

}  // namespace

// --- 3, 5: one run's whole set of files, or the previous one -----------------------------------

TEST(Hardening, SecondRunIntoALockedFolderFailsAndWritesNothing) {
  temp_dir dir;
  const std::string seg = dir.write("s.seg", two_segments);
  fs::create_directories(dir.path() / "out");
  // Another run holds the folder (as `eval` does while it writes).
  const int fd = ::open((dir.path() / "out").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto r =
      run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() + "/out");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "another b2bseg run is writing into this folder")) << r.out;
  EXPECT_FALSE(fs::exists(dir.path() / "out" / "a.csv"));
  ::close(fd);
  r = run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() + "/out");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir.path() / "out" / "a.csv"));
}

TEST(Hardening, AFileThatCannotBeReplacedLeavesThePreviousSetWhole) {
  temp_dir dir;
  const std::string seg = dir.write("s.seg", two_segments);
  const fs::path out = dir.path() / "out";
  fs::create_directories(out);
  dir.write("out/a.csv", "old a\n");
  dir.write("out/summary.json", "old summary\n");
  fs::create_directories(out / "b.csv" / "x");  // b.csv cannot be replaced
  auto r = run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + out.string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "b.csv")) << r.out;
  EXPECT_EQ(read_file(out / "a.csv"), "old a\n");
  EXPECT_EQ(read_file(out / "summary.json"), "old summary\n");
  EXPECT_EQ(leftovers(out), 0);
}

TEST(Hardening, ARenameFailingMidwayRestoresEveryFileAlreadyReplaced) {
  temp_dir dir;
  const fs::path out = dir.path() / "out";
  fs::create_directories(out);
  dir.write("out/1.csv", "old 1\n");
  b2bseg::staged_files files;
  files.write((out / "1.csv").string(), "new 1\n");
  files.write((out / "2.csv").string(), "new 2\n");
  files.write((out / "3.csv").string(), "new 3\n");
  // Make the second temporary immutable: its rename fails (EPERM) after the first succeeded.
  fs::path second;
  for (auto& e : fs::directory_iterator(out))
    if (e.path().filename().string().ends_with("-2.tmp")) second = e.path();
  ASSERT_FALSE(second.empty());
  const int fd = ::open(second.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0 ||
      (flags |= FS_IMMUTABLE_FL, ::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)) {
    ::close(fd);
    GTEST_SKIP() << "this filesystem (or user) cannot make a file immutable";
  }
  EXPECT_THROW(files.commit(), b2bseg::data_error);
  flags &= ~FS_IMMUTABLE_FL;
  ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
  ::close(fd);
  EXPECT_EQ(read_file(out / "1.csv"), "old 1\n");  // restored
  EXPECT_FALSE(fs::exists(out / "2.csv"));
  EXPECT_FALSE(fs::exists(out / "3.csv"));
}

TEST(Hardening, CommitReplacesEveryFileAndLeavesNothingBehind) {
  temp_dir dir;
  dir.write("x.csv", "old\n");
  {
    b2bseg::staged_files files;
    files.write((dir.path() / "x.csv").string(), "new x\n");
    files.write((dir.path() / "y.csv").string(), "new y\n");
    files.commit();
  }
  EXPECT_EQ(read_file(dir.path() / "x.csv"), "new x\n");
  EXPECT_EQ(read_file(dir.path() / "y.csv"), "new y\n");
  EXPECT_EQ(leftovers(dir.path()), 0);
  {
    b2bseg::staged_files files;  // destroyed without commit: nothing changes
    files.write((dir.path() / "x.csv").string(), "newer\n");
  }
  EXPECT_EQ(read_file(dir.path() / "x.csv"), "new x\n");
  EXPECT_EQ(leftovers(dir.path()), 0);
}

// --- 4: never overwrite the dataset ------------------------------------------------------------

TEST(Hardening, OutputOverTheDatasetIsRefused) {
  temp_dir dir;
  fs::create_directories(dir.path() / "data");
  b2bseg::testing::copy_dataset("mini", dir.path() / "data");
  const std::string before = read_file(dir.path() / "data" / "person.csv");
  const std::string seg = dir.write("s.seg", "segment person on person where score > 1\n");
  auto r = run_b2bseg("eval --data " + dir.str() + "/data --segments " + seg + " --out " +
                      dir.str() + "/data");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "is the dataset folder")) << r.out;
  // The same folder under another name.
  fs::create_directory_symlink(dir.path() / "data", dir.path() / "alias");
  r = run_b2bseg("eval --data " + dir.str() + "/data --segments " + seg + " --out " + dir.str() +
                 "/alias");
  EXPECT_EQ(r.status, 2) << r.out;
  // A folder holding a file the schema names: out/person.csv is the data's person.csv.
  fs::create_directories(dir.path() / "out");
  fs::create_hard_link(dir.path() / "data" / "person.csv", dir.path() / "out" / "person.csv");
  r = run_b2bseg("eval --data " + dir.str() + "/data --segments " + seg + " --out " + dir.str() +
                 "/out");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "would overwrite the input")) << r.out;
  EXPECT_EQ(read_file(dir.path() / "data" / "person.csv"), before);
}

// --- 6: standard output that cannot be written -------------------------------------------------

TEST(Hardening, WriteErrorsOnStandardOutputAreReported) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  temp_dir dir;
  const std::string seg = dir.write("s.seg", two_segments);
  for (const std::string& args :
       {"stats --data " + mini(), "check --data " + mini() + " --segments " + seg,
        "explain --data " + mini() + " --segments " + seg + " --segment b"}) {
    auto r = run_b2bseg(args + " 2>&1 >/dev/full", false);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.out;
    EXPECT_TRUE(has(r.out, "cannot write to standard output")) << args << "\n" << r.out;
  }
}

// --- 7, 12: numbers that make no sense ---------------------------------------------------------

TEST(Hardening, AbsurdThreadAndPeopleCountsAreUsageErrors) {
  temp_dir dir;
  auto r = run_b2bseg("generate --people 10 --threads 100000 --out " + dir.str() + "/g");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "--threads")) << r.out;
  for (const char* people : {"-1", "0", "abc", "1e3"}) {
    r = run_b2bseg(std::string("generate --people ") + people + " --out " + dir.str() + "/g");
    EXPECT_EQ(r.status, 2) << people << ": " << r.out;
    EXPECT_TRUE(has(r.out, "--people")) << r.out;
  }
  const std::string seg = dir.write("s.seg", two_segments);
  r = run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() +
                 "/o --threads 5000");
  EXPECT_EQ(r.status, 2) << r.out;
  r = run_b2bseg("generate --people 20 --threads 1024 --out " + dir.str() + "/g");
  EXPECT_EQ(r.status, 0) << r.out;
}

// --- 9: long chains of segments ----------------------------------------------------------------

TEST(Hardening, AChainOfSegmentsEachUsingTheNextPlansLinearly) {
  // Each segment ORs the next one: flattening every later segment into every earlier `or` made
  // the plan quadratic (20,000 segments: 3.5 GB). The plan now holds two nodes a segment.
  temp_dir dir;
  std::string text;
  const int n = 3000;
  for (int i = 0; i < n; ++i)
    text += "segment s" + std::to_string(i) + " on person where " +
            (i + 1 < n ? "in_segment(\"s" + std::to_string(i + 1) + "\") or " : "") +
            "score = " + std::to_string(i) + "\n";
  const std::string seg = dir.write("chain.seg", text);
  // s2996 = s2997 or score = 2996, and so on: three `or` nodes of two inputs each, where the
  // flattening made one `or` of four scans.
  auto r = run_b2bseg("explain --data " + mini() + " --segments " + seg + " --segment s2996");
  ASSERT_EQ(r.status, 0) << r.out.substr(0, 2000);
  EXPECT_TRUE(has(r.out, "plan: " + std::to_string(2 * n - 1) + " nodes")) << r.out;
  std::size_t ors = 0;
  for (auto at = r.out.find("or  ["); at != std::string::npos; at = r.out.find("or  [", at + 1))
    ++ors;
  EXPECT_EQ(ors, 3u) << r.out;
  r = run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() +
                 "/out --quiet");
  EXPECT_EQ(r.status, 0) << r.out.substr(0, 2000);
  EXPECT_EQ(read_file(dir.path() / "out" / "s0.csv").substr(0, 10), "person_id\n");
}

// --- 11, 15, 16: clear errors for odd segment files ---------------------------------------------

TEST(Hardening, SegmentsFileThatIsAFolderOrHoldsNoDefinition) {
  temp_dir dir;
  auto r = run_b2bseg("check --data " + mini() + " --segments " + dir.str());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "is a folder")) << r.out;
  for (const char* text : {"", "# only a comment\n", "\n\n   \n"}) {
    const std::string seg = dir.write("empty.seg", text);
    r = run_b2bseg("check --data " + mini() + " --segments " + seg);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_TRUE(has(r.out, "empty.seg:1:1: error: no segment definitions")) << r.out;
    r = run_b2bseg("eval --data " + mini() + " --segments " + seg + " --out " + dir.str() + "/out");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_FALSE(fs::exists(dir.path() / "out" / "summary.json"));
  }
}

TEST(Hardening, ControlBytesInSegmentTextAreEscapedAndEveryErrorShows) {
  temp_dir dir;
  std::string text = "segment a on account where name = \"x";
  text += '\0';
  text += "y\" and nme = 1\nsegment b on account where industy = \"z\"\n";
  const std::string seg = dir.write("nul.seg", text);
  auto r = run_b2bseg("check --data " + mini() + " --segments " + seg);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "x\\x00y")) << r.out;
  EXPECT_EQ(r.out.find('\0'), std::string::npos);
  EXPECT_TRUE(has(r.out, "nul.seg:1:")) << r.out;
  EXPECT_TRUE(has(r.out, "nul.seg:2:28: error:")) << r.out;  // the later error is not lost
  EXPECT_TRUE(has(r.out, "did you mean 'industry'?")) << r.out;
}

TEST(Hardening, ControlBytesInValuesAreEscapedInDataErrors) {
  temp_dir dir;
  b2bseg::testing::copy_dataset("mini", dir.path());
  std::string csv = "person_id,email,seniority,score,account_id\nP1,a,VP,\"1";
  csv += '\0';
  csv += "\x1b[31m\",A1\n";
  dir.write("person.csv", csv);
  auto r = run_b2bseg("stats --data " + dir.str());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "bad int value '1\\x00\\x1b[31m'")) << r.out;
  EXPECT_EQ(r.out.find('\0'), std::string::npos);
}

TEST(Hardening, SegmentNamesTooLongForAFileAreCompileErrors) {
  temp_dir dir;
  const std::string name(250, 'n');
  const std::string seg =
      dir.write("long.seg", "segment " + name + " on account where employees > 1\n");
  auto r = run_b2bseg("check --data " + mini() + " --segments " + seg);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "long.seg:1:9: error: segment name is 250 characters long; at most 200"))
      << r.out;
  // 200 is fine, and its temporary file name stays short.
  const std::string ok =
      dir.write("ok.seg", "segment " + std::string(200, 'n') + " on account where employees > 1\n");
  r = run_b2bseg("eval --data " + mini() + " --segments " + ok + " --out " + dir.str() +
                 "/out --quiet");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir.path() / "out" / (std::string(200, 'n') + ".csv")));
}

// --- 17: a dataset folder whose name is not UTF-8 ------------------------------------------------

TEST(Hardening, DatasetFolderNameThatIsNotUtf8) {
  temp_dir dir;
  const fs::path data = dir.path() / "data\xff\xfe";
  fs::create_directories(data);
  b2bseg::testing::copy_dataset("mini", data);
  const std::string seg = dir.write("s.seg", two_segments);
  auto r = run_b2bseg("eval --data '" + data.string() + "' --segments " + seg + " --out " +
                      dir.str() + "/out --quiet");
  EXPECT_EQ(r.status, 0) << r.out;
  const std::string summary = read_file(dir.path() / "out" / "summary.json");
  EXPECT_TRUE(has(summary, "\"dataset\": \"")) << summary;
  EXPECT_TRUE(has(summary, "data\xEF\xBF\xBD\xEF\xBF\xBD")) << summary;  // U+FFFD twice
}
