// The README's library example is the consumer program the tests build and run: keep them equal.
#include <gtest/gtest.h>

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
