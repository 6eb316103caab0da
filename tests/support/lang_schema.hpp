// Test support: a SPEC-like B2B schema built directly as structs, for the language tests.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "b2bseg/storage/schema.hpp"

namespace b2bseg::test {

/// Fills every link's `target` and each entity's `reverses` (in schema order of the sources),
/// as schema validation does. Links to unknown entities keep `no_entity`.
inline void link_up(schema& s) {
  for (entity_def& e : s.entities) e.reverses.clear();
  for (std::size_t src = 0; src < s.entities.size(); ++src) {
    for (std::size_t l = 0; l < s.entities[src].links.size(); ++l) {
      link_def& link = s.entities[src].links[l];
      link.target = s.find_entity(link.to);
      if (link.target == no_entity || link.reverse.empty()) continue;
      s.entities[link.target].reverses.push_back(
          {link.reverse, static_cast<entity_id>(src), static_cast<std::uint32_t>(l)});
    }
  }
}

/// An attribute whose CSV column has its own name.
inline attribute_def attr(std::string name, value_type t) {
  attribute_def a;
  a.column = name;
  a.name = std::move(name);
  a.type = t;
  return a;
}

/// A link read from column `<name>_id`.
inline link_def link(std::string name, std::string to, std::string reverse) {
  link_def l;
  l.column = name + "_id";
  l.name = std::move(name);
  l.to = std::move(to);
  l.reverse = std::move(reverse);
  return l;
}

/// An entity; `key` empty means none.
inline entity_def entity(std::string name, std::string key, std::vector<attribute_def> attrs,
                         std::vector<link_def> links = {}) {
  entity_def e;
  e.file = name + ".csv";
  e.name = std::move(name);
  if (!key.empty()) e.key = std::move(key);
  e.attributes = std::move(attrs);
  e.links = std::move(links);
  return e;
}

/// The B2B schema of the SPEC, extended: accounts (with a parent account), people,
/// opportunities, the roles people play on them, campaigns and their members, marketing lists
/// and their members, and experience events. `campaign_member`, `list_member` and `event` have
/// no key. Names that are keywords of the language (`last`) or function names (`count`) appear on
/// purpose.
inline schema b2b_schema() {
  using vt = value_type;
  schema s;
  s.entities.push_back(entity(
      "account", "account_id",
      {attr("name", vt::string), attr("industry", vt::string), attr("employees", vt::integer),
       attr("annual_revenue", vt::floating), attr("is_customer", vt::boolean),
       attr("created_at", vt::timestamp), attr("tags", vt::string_list)},
      {link("parent", "account", "subsidiaries")}));
  s.entities.push_back(entity(
      "person", "person_id",
      {attr("email", vt::string), attr("first_name", vt::string), attr("last", vt::string),
       attr("seniority", vt::string), attr("job_title", vt::string), attr("score", vt::floating),
       attr("age", vt::integer), attr("is_subscribed", vt::boolean),
       attr("created_at", vt::timestamp), attr("interests", vt::string_list)},
      {link("account", "account", "people")}));
  s.entities.push_back(
      entity("opportunity", "opportunity_id",
             {attr("name", vt::string), attr("stage", vt::string), attr("amount", vt::floating),
              attr("is_closed", vt::boolean), attr("is_won", vt::boolean),
              attr("close_date", vt::timestamp), attr("created_at", vt::timestamp),
              attr("budgeted_cost", vt::integer), attr("actual_cost", vt::floating)},
             {link("account", "account", "opportunities")}));
  s.entities.push_back(entity("opportunity_role", "role_id",
                              {attr("role", vt::string), attr("is_primary", vt::boolean)},
                              {link("opportunity", "opportunity", "roles"),
                               link("person", "person", "opportunity_roles")}));
  s.entities.push_back(entity("campaign", "campaign_id",
                              {attr("name", vt::string), attr("channel", vt::string),
                               attr("start_date", vt::timestamp), attr("budget", vt::floating)}));
  s.entities.push_back(entity(
      "campaign_member", "", {attr("status", vt::string), attr("responded_at", vt::timestamp)},
      {link("campaign", "campaign", "members"), link("person", "person", "campaigns")}));
  s.entities.push_back(entity("marketing_list", "list_id", {attr("name", vt::string)}));
  s.entities.push_back(
      entity("list_member", "", {attr("added_at", vt::timestamp)},
             {link("list", "marketing_list", "members"), link("person", "person", "lists")}));
  s.entities.push_back(entity("event", "",
                              {attr("type", vt::string), attr("timestamp", vt::timestamp),
                               attr("count", vt::integer), attr("url", vt::string)},
                              {link("person", "person", "events")}));
  link_up(s);
  return s;
}

}  // namespace b2bseg::test
