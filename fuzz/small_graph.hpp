// The small fixed graph the live-data fuzz targets start from: accounts (with a parent link and
// one attribute of every type), people, and keyless events; and the schema of the targets that
// read an entity with sources.
#pragma once

#include <string>

#include "b2bseg/load/graph_builder.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace fuzz_support {

/// schema.json of people from two sources (a Salesforce-like `a.csv`: id, email, name, upd, acct;
/// a Marketo-like `b.csv`: lead, mail, sfdc, score, ts, acct) merged by identity with policy
/// `merge` and `max_rows` rows at most, accounts (`account.csv`: Id, name) and events linking
/// by Marketo id (`e.csv`: lead, type).
inline std::string two_source_schema(const std::string& merge, unsigned max_rows) {
  return R"J({"entities": {
  "account": {"file": "account.csv", "key": "Id", "attributes": {"name": "string"}},
  "person": {"key": "person_id", "merge": ")J" +
         merge + R"J(", "max_rows_per_profile": )J" + std::to_string(max_rows) + R"J(,
    "identities": {"sfdc_id": "exact", "marketo_id": "exact", "email": "email"},
    "attributes": {"email": "string", "name": "string", "score": "int"},
    "links": {"account": {"to": "account", "reverse": "people"}},
    "sources": [
      {"name": "sfdc", "file": "a.csv", "identities": {"sfdc_id": "id", "email": "email"},
       "attributes": {"email": "email", "name": "name"}, "links": {"account": "acct"},
       "updated_at": "upd"},
      {"name": "mkto", "file": "b.csv",
       "identities": {"marketo_id": "lead", "email": "mail", "sfdc_id": "sfdc"},
       "attributes": {"email": "mail", "score": "score"},
       "links": {"account": "acct"}, "updated_at": "ts"}]},
  "event": {"file": "e.csv", "attributes": {"type": "string"},
    "links": {"person": {"column": "lead", "to": "person", "identity": "marketo_id"}}}
}})J";
}

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
