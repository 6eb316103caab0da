// The README's library example is the consumer program the tests build and run: keep them equal.
#include <gtest/gtest.h>

#include "b2bseg/activate/destinations.hpp"
#include "b2bseg/b2bseg.hpp"
#include "support/temp_dir.hpp"

TEST(Docs, ReadmeExampleIsTheTestedConsumerProgram) {
  std::string readme = b2bseg::testing::read_file(std::string(B2BSEG_SOURCE_DIR) + "/README.md");
  std::string program =
      b2bseg::testing::read_file(std::string(B2BSEG_SOURCE_DIR) + "/tests/consumers/app/main.cpp");
  auto marker = readme.find("<!-- library-example -->");
  ASSERT_NE(marker, std::string::npos);
  auto begin = readme.find("```cpp\n", marker);
  ASSERT_NE(begin, std::string::npos);
  begin += 7;
  auto end = readme.find("```", begin);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(readme.substr(begin, end - begin), program);
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
