// A program that keeps an audience current as data changes: a live_engine over a graph, a batch
// of changes (parsed from feed lines), and who entered and who left.
#include <b2bseg/b2bseg.hpp>
#include <b2bseg/live/engine.hpp>
#include <b2bseg/live/feed.hpp>

#include <cstdio>
#include <string>
#include <variant>
#include <vector>

int main() {
  b2bseg::graph_builder b(b2bseg::parse_schema(R"({"entities": {
    "person": {"file": "person.csv", "key": "person_id", "attributes": {"seniority": "string"}}}})",
                                               "schema.json"));
  b.add_row("person", {{"person_id", "P1"}, {"seniority", "VP"}});
  b.add_row("person", {{"person_id", "P2"}, {"seniority", "Manager"}});
  const b2bseg::graph g = b.build();
  auto f = std::make_shared<const b2bseg::bound_file>(
      b2bseg::compile_segments("segment vps on person where seniority = \"VP\"", g.schema()));
  b2bseg::live_engine live(g, f, {.as_of = b2bseg::current_time(), .lenient = false, .threads = 0});

  b2bseg::change_parser parser(live.schema());
  std::vector<b2bseg::change> batch;
  std::size_t line_no = 0;
  for (std::string line :
       {R"({"op": "upsert", "entity": "person", "row": {"person_id": "P2", "seniority": "VP"}})",
        R"({"op": "delete", "entity": "person", "key": "P1"})"}) {
    auto parsed = parser.parse(line, ++line_no);
    if (auto* e = std::get_if<b2bseg::change_error>(&parsed)) {
      std::fprintf(stderr, "%s\n", e->render("feed").c_str());
      return 1;
    }
    batch.push_back(std::get<b2bseg::change>(parsed));
  }
  const b2bseg::batch_result r = live.apply(batch);  // all of it or nothing
  for (const auto& c : r.changes)
    std::printf("%s %s %s\n", f->segments[c.segment].name.c_str(), c.key.c_str(),
                c.entered ? "entered" : "exited");
  return r.entered == 1 && r.exited == 1 ? 0 : 1;
}
