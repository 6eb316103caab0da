// The documentation runs: the README's library example is the consumer program the tests build,
// and every example of docs/ (commands, segments, schema, destinations) runs here.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "b2bseg/activate/destinations.hpp"
#include "b2bseg/b2bseg.hpp"
#include "b2bseg/dist/partition.hpp"
#include "support/temp_dir.hpp"

namespace {

/// The cpp block after `marker` in README.md.
std::string readme_block(const std::string& marker) {
  std::string readme = b2bseg::testing::read_file(std::string(B2BSEG_SOURCE_DIR) + "/README.md");
  auto at = readme.find(marker);
  if (at == std::string::npos) return "(no " + marker + ")";
  auto begin = readme.find("```cpp\n", at);
  if (begin == std::string::npos) return "(no cpp block)";
  begin += 7;
  auto end = readme.find("```", begin);
  return end == std::string::npos ? "(unterminated)" : readme.substr(begin, end - begin);
}

}  // namespace

TEST(Docs, ReadmeExamplesAreTheTestedConsumerPrograms) {
  const std::string dir = std::string(B2BSEG_SOURCE_DIR) + "/tests/consumers/app/";
  EXPECT_EQ(readme_block("<!-- library-example -->"), b2bseg::testing::read_file(dir + "main.cpp"));
  EXPECT_EQ(readme_block("<!-- live-example -->"), b2bseg::testing::read_file(dir + "live.cpp"));
}

TEST(Docs, ActivateGuideExampleIsAValidDestinationsFile) {
  // docs/activate.md's example destinations file parses against the demo dataset and segments.
  const std::string src = B2BSEG_SOURCE_DIR;
  const std::string page = b2bseg::testing::read_file(src + "/docs/activate.md");
  const auto marker = page.find("<!-- destinations-example -->");
  ASSERT_NE(marker, std::string::npos);
  auto begin = page.find("```json\n", marker);
  ASSERT_NE(begin, std::string::npos);
  begin += 8;
  const auto end = page.find("```", begin);
  const b2bseg::schema s = b2bseg::read_schema(src + "/datasets/demo/schema.json");
  const b2bseg::bound_file f = b2bseg::compile_segments(
      b2bseg::testing::read_file(src + "/datasets/demo.seg"), s, "demo.seg");
  const auto dests = b2bseg::parse_destinations(page.substr(begin, end - begin), s, f);
  EXPECT_EQ(dests.size(), 4u);
}

namespace {

/// The fenced blocks of language `lang` in `page` (```lang ... ```), in order.
std::vector<std::string> fenced_blocks(const std::string& page, const std::string& lang) {
  std::vector<std::string> out;
  const std::string open = "```" + lang + "\n";
  for (auto b = page.find(open); b != std::string::npos; b = page.find(open, b)) {
    b += open.size();
    const auto e = page.find("```", b);
    out.push_back(page.substr(b, e - b));
    b = e;
  }
  return out;
}

std::string doc(const std::string& name) {
  return b2bseg::testing::read_file(std::string(B2BSEG_SOURCE_DIR) + "/docs/" + name);
}

}  // namespace

TEST(Docs, EveryCommandOfTheCliPageRuns) {
  // docs/cli.md: every `b2bseg ...` line of its sh blocks, from the repository root, with out/
  // standing for a temporary folder.
  b2bseg::testing::temp_dir dir;
  std::size_t ran = 0;
  for (const std::string& block : fenced_blocks(doc("cli.md"), "sh")) {
    std::size_t b = 0;
    while (b < block.size()) {
      const auto e = block.find('\n', b);
      std::string line = block.substr(b, e - b);
      b = e + 1;
      if (line.rfind("b2bseg ", 0) != 0) continue;
      for (auto at = line.find(" out/"); at != std::string::npos; at = line.find(" out/", at + 1))
        line.replace(at + 1, 3, dir.str());
      const std::string cmd = std::string("cd ") + B2BSEG_SOURCE_DIR + " && " + B2BSEG_EXE +
                              line.substr(6) + " >/dev/null 2>&1; echo $?";
      FILE* p = popen(cmd.c_str(), "r");
      char buf[16] = {0};
      const bool read = std::fgets(buf, sizeof buf, p) != nullptr;
      pclose(p);
      EXPECT_TRUE(read && std::string(buf) == "0\n") << line << " exited " << buf;
      ++ran;
    }
  }
  EXPECT_GE(ran, 7u);
}

TEST(Docs, SourceChangesOfTheCliPageApplyToTheSourcesDemo) {
  // docs/cli.md's change lines for an entity with sources, streamed over datasets/demo-sources:
  // every one applies, and the deleted contact leaves its segment.
  const auto blocks = fenced_blocks(doc("cli.md"), "ndjson");
  ASSERT_EQ(blocks.size(), 1u);
  b2bseg::testing::temp_dir dir;
  const std::string feed = dir.write("changes.ndjson", blocks[0]);
  const std::string out = (dir.path() / "out.ndjson").string();
  const std::string cmd = std::string("cd ") + B2BSEG_SOURCE_DIR + " && " + B2BSEG_EXE +
                          " stream --data datasets/demo-sources --segments datasets/demo.seg "
                          "--as-of 2026-11-22T00:00:00Z --changes " +
                          feed + " --out " + out + " 2>&1; echo $?";
  FILE* p = popen(cmd.c_str(), "r");
  std::string said;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) said += buf;
  pclose(p);
  EXPECT_NE(said.find("3 changes applied, 0 rejected"), std::string::npos) << said;
  EXPECT_EQ(said.substr(said.size() - 2), "0\n") << said;
  EXPECT_NE(b2bseg::testing::read_file(out).find("\"key\": \"sfdc_id:0035g0000Abo81ZAQQ\", "
                                                 "\"change\": \"exited\""),
            std::string::npos);
  // The same over a snapshot of the folder, which carries the source rows: the same lines.
  const std::string snap = (dir.path() / "demo-sources.b2bs").string();
  const std::string out2 = (dir.path() / "out2.ndjson").string();
  const std::string cmd2 = std::string("cd ") + B2BSEG_SOURCE_DIR + " && " + B2BSEG_EXE +
                           " snapshot --data datasets/demo-sources --out " + snap + " && " +
                           B2BSEG_EXE + " stream --data " + snap +
                           " --segments datasets/demo.seg --as-of 2026-11-22T00:00:00Z --changes " +
                           feed + " --out " + out2 + " 2>&1; echo $?";
  p = popen(cmd2.c_str(), "r");
  said.clear();
  while (std::fgets(buf, sizeof buf, p)) said += buf;
  pclose(p);
  EXPECT_EQ(said.substr(said.size() - 2), "0\n") << said;
  auto without_ms = [](std::string text) {  // the batch lines' times differ from run to run
    std::string outs;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      outs += line.substr(0, line.find(", \"ms\": ")) + "\n";
    return outs;
  };
  EXPECT_EQ(without_ms(b2bseg::testing::read_file(out2)),
            without_ms(b2bseg::testing::read_file(out)));
}

TEST(Docs, EveryLanguageExampleCompilesAndEvaluatesOnTheDemo) {
  const std::string src = B2BSEG_SOURCE_DIR;
  static const b2bseg::graph g = b2bseg::load_dataset(src + "/datasets/demo");
  b2bseg::timestamp_us as_of = 0;
  b2bseg::parse_timestamp("2026-11-22T00:00:00Z", as_of);
  const auto blocks = fenced_blocks(doc("language.md"), "seg");
  EXPECT_GE(blocks.size(), 5u);
  std::size_t nonempty = 0, segments = 0;
  for (const std::string& text : blocks) {
    b2bseg::bound_file f;
    try {
      f = b2bseg::compile_segments(text, g.schema(), "language.md");
    } catch (const b2bseg::compile_error& e) {
      ADD_FAILURE() << e.what() << "\n" << text;
      continue;
    }
    const auto ev = b2bseg::evaluate(g, f, {.as_of = as_of, .threads = 0, .segments = {}});
    for (const auto& s : ev.segments) {
      ++segments;
      nonempty += s.members.cardinality() > 0;
    }
  }
  // The examples describe real audiences of the demo data: most of them have members.
  EXPECT_GE(nonempty * 4, segments * 3) << nonempty << " of " << segments;
}

TEST(Docs, DatasetSchemaExampleIsValid) {
  const std::string page = doc("datasets.md");
  const auto marker = page.find("<!-- schema-example -->");
  ASSERT_NE(marker, std::string::npos);
  const auto blocks = fenced_blocks(page.substr(marker), "json");
  ASSERT_FALSE(blocks.empty());
  const b2bseg::schema s = b2bseg::parse_schema(blocks[0], "datasets.md");
  EXPECT_EQ(s.entities.size(), 3u);
}

TEST(Docs, ScaleOutSchemaExamplePlacesAsThePageSays) {
  const std::string page = doc("scale-out.md");
  const auto marker = page.find("<!-- partition-example -->");
  ASSERT_NE(marker, std::string::npos);
  const auto blocks = fenced_blocks(page.substr(marker), "json");
  ASSERT_FALSE(blocks.empty());
  const b2bseg::schema s = b2bseg::parse_schema(blocks[0], "scale-out.md");
  EXPECT_EQ(s.partition, "account");
  const auto p = b2bseg::dist::place_entities(s);
  using K = b2bseg::dist::placement::kind;
  EXPECT_EQ(p[s.find_entity("account")].k, K::partition);
  EXPECT_EQ(p[s.find_entity("person")].k, K::follows);
  const auto& ev = p[s.find_entity("event")];
  EXPECT_EQ(ev.k, K::follows);
  EXPECT_EQ(s.entities[s.find_entity("event")].links[ev.link].to, "person");
  EXPECT_EQ(p[s.find_entity("campaign")].k, K::everywhere);
}

TEST(Docs, SourcesSchemaExampleIsValid) {
  const std::string page = doc("datasets.md");
  const auto marker = page.find("<!-- sources-example -->");
  ASSERT_NE(marker, std::string::npos);
  const auto blocks = fenced_blocks(page.substr(marker), "json");
  ASSERT_FALSE(blocks.empty());
  const b2bseg::schema s = b2bseg::parse_schema(blocks[0], "datasets.md");
  ASSERT_EQ(s.entities.size(), 3u);
  EXPECT_EQ(s.entities[1].sources.size(), 2u);
  EXPECT_EQ(s.entities[2].links[0].identity, "marketo_id");
}

TEST(Docs, ReadmePointsOnlyInsideTheRepository) {
  const std::string src = B2BSEG_SOURCE_DIR;
  const std::string readme = b2bseg::testing::read_file(src + "/README.md");
  EXPECT_EQ(readme.find("../shared"), std::string::npos);
  // Every docs/ page it names exists.
  for (auto at = readme.find("docs/"); at != std::string::npos; at = readme.find("docs/", at + 1)) {
    auto end = at + 5;
    while (end < readme.size() && (std::isalnum(static_cast<unsigned char>(readme[end])) ||
                                   readme[end] == '_' || readme[end] == '-'))
      ++end;
    if (readme.compare(end, 3, ".md") != 0) continue;  // `docs/` alone, not a page
    const std::string page = readme.substr(at, end + 3 - at);
    EXPECT_TRUE(std::filesystem::exists(src + "/" + page)) << page;
  }
}
