// The small fixed graph the live-data fuzz targets start from: accounts (with a parent link and
// one attribute of every type), people, and keyless events.
#pragma once

#include "b2bseg/load/graph_builder.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace fuzz_support {

/// Accounts "A1", "A2" (whose parent is A1) and "A/3", people "P1" (of A1) and "P 2" (of A/3),
/// one event of P1.
inline b2bseg::graph small_graph() {
  b2bseg::graph_builder b(b2bseg::parse_schema(R"J({
  "entities": {
    "account": {
      "file": "account.csv", "key": "account_id",
      "attributes": { "name": "string", "employees": "int", "revenue": "float",
                      "customer": "bool", "tags": "string[]", "created_at": "timestamp" },
      "links": { "parent": { "column": "parent_id", "to": "account", "reverse": "subsidiaries" } }
    },
    "person": {
      "file": "person.csv", "key": "person_id",
      "attributes": { "email": "string", "score": "int" },
      "links": { "account": { "column": "account_id", "to": "account", "reverse": "people" } }
    },
    "event": {
      "file": "event.csv",
      "attributes": { "type": "string", "at": { "type": "timestamp", "column": "timestamp" } },
      "links": { "person": { "column": "person_id", "to": "person", "reverse": "events" } }
    }
  }
})J",
                                               "schema.json"));
  b.add_row("account", {{"account_id", "A1"}, {"employees", "10"}, {"tags", "x|y"}});
  b.add_row("account", {{"account_id", "A2"}, {"parent_id", "A1"}, {"revenue", "2.5"}});
  b.add_row("account", {{"account_id", "A/3"}, {"customer", "true"}});
  b.add_row("person", {{"person_id", "P1"}, {"account_id", "A1"}, {"score", "7"}});
  b.add_row("person", {{"person_id", "P 2"}, {"account_id", "A/3"}, {"email", "x@y"}});
  b.add_row("event", {{"person_id", "P1"}, {"type", "t"}, {"timestamp", "2026-01-01"}});
  return b.build();
}

}  // namespace fuzz_support
