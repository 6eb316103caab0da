// A program that uses b2bseg as a library: build a graph in memory, compile, evaluate, print keys.
#include <b2bseg/b2bseg.hpp>

#include <cstdio>

int main() {
  b2bseg::schema s;
  s.entities.push_back({"account",
                        "account.csv",
                        "account_id",
                        {{"industry", b2bseg::value_type::string, ""}},
                        {},
                        {}});
  s.entities.push_back({"person",
                        "person.csv",
                        "person_id",
                        {{"seniority", b2bseg::value_type::string, ""}},
                        {{"account", "account_id", "account", "people"}},
                        {}});
  b2bseg::graph_builder b(s);
  b.add_row("account", {{"account_id", "A1"}, {"industry", "Software"}});
  b.add_row("account", {{"account_id", "A2"}, {"industry", "Retail"}});
  b.add_row("person", {{"person_id", "P1"}, {"seniority", "VP"}, {"account_id", "A1"}});
  b.add_row("person", {{"person_id", "P2"}, {"seniority", "VP"}, {"account_id", "A2"}});
  b2bseg::graph g = b.build();
  auto f = b2bseg::compile_segments(
      "segment vps on person where seniority = \"VP\" and account.industry = \"Software\"",
      g.schema());
  auto ev = b2bseg::evaluate(g, f);
  for (auto id : ev.segments[0].members)
    std::printf("%s\n", std::string(g.key(ev.segments[0].entity, id)).c_str());
  return ev.segments[0].members.cardinality() == 1 ? 0 : 1;
}
