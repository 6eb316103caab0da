// The generated B2B dataset's schema: entities, CSV columns, links, and its schema.json text.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace b2bseg::detail::gen {

/// A typed attribute column.
struct attr_desc {
  std::string_view name;
  std::string_view type;  ///< SPEC type name
};
/// A link column: many-to-one reference to `to`'s key, navigable backwards as `reverse`.
struct link_desc {
  std::string_view name;
  std::string_view column;
  std::string_view to;
  std::string_view reverse;
};
/// One entity of the generated dataset. CSV columns: key (if any), link columns, attributes.
struct entity_desc {
  std::string_view name;
  std::string_view file;
  std::string_view key;  ///< empty: no key
  const attr_desc* attrs;
  std::size_t attr_count;
  const link_desc* links;
  std::size_t link_count;
};

/// Entity numbers, in file and schema order.
enum entity_index : std::size_t {
  ent_account,
  ent_person,
  ent_account_person,
  ent_opportunity,
  ent_opportunity_person,
  ent_campaign,
  ent_campaign_member,
  ent_marketing_list,
  ent_marketing_list_member,
  ent_event,
  entity_count
};

inline constexpr attr_desc account_attrs[] = {
    {"name", "string"},   {"domain", "string"},        {"industry", "string"},
    {"employees", "int"}, {"annual_revenue", "float"}, {"country", "string"},
    {"region", "string"}, {"city", "string"},          {"billing_street", "string"},
    {"phone", "string"},  {"type", "string"},          {"tier", "string"},
    {"owner", "string"},  {"created_at", "timestamp"}, {"tags", "string[]"}};
inline constexpr link_desc account_links[] = {
    {"parent", "parent_account_id", "account", "subsidiaries"}};

inline constexpr attr_desc person_attrs[] = {
    {"email", "string"},       {"first_name", "string"},   {"last_name", "string"},
    {"phone", "string"},       {"job_title", "string"},    {"seniority", "string"},
    {"department", "string"},  {"country", "string"},      {"lead_source", "string"},
    {"lead_status", "string"}, {"lead_score", "int"},      {"is_customer_contact", "bool"},
    {"email_opt_out", "bool"}, {"created_at", "timestamp"}};
inline constexpr link_desc person_links[] = {{"account", "account_id", "account", "people"}};

inline constexpr attr_desc account_person_attrs[] = {
    {"role", "string"}, {"is_direct", "bool"}, {"is_active", "bool"}, {"start_date", "timestamp"}};
inline constexpr link_desc account_person_links[] = {
    {"person", "person_id", "person", "account_relations"},
    {"account", "account_id", "account", "person_relations"}};

inline constexpr attr_desc opportunity_attrs[] = {{"name", "string"},
                                                  {"stage", "string"},
                                                  {"amount", "float"},
                                                  {"probability", "int"},
                                                  {"forecast_category", "string"},
                                                  {"close_date", "timestamp"},
                                                  {"is_closed", "bool"},
                                                  {"is_won", "bool"},
                                                  {"type", "string"},
                                                  {"created_at", "timestamp"}};
inline constexpr link_desc opportunity_links[] = {
    {"account", "account_id", "account", "opportunities"}};

inline constexpr attr_desc opportunity_person_attrs[] = {{"role", "string"},
                                                         {"is_primary", "bool"}};
inline constexpr link_desc opportunity_person_links[] = {
    {"opportunity", "opportunity_id", "opportunity", "contact_roles"},
    {"person", "person_id", "person", "opportunity_roles"}};

inline constexpr attr_desc campaign_attrs[] = {
    {"name", "string"},         {"type", "string"},          {"channel", "string"},
    {"status", "string"},       {"start_date", "timestamp"}, {"end_date", "timestamp"},
    {"budgeted_cost", "float"}, {"actual_cost", "float"}};

inline constexpr attr_desc campaign_member_attrs[] = {
    {"status", "string"}, {"has_responded", "bool"}, {"joined_at", "timestamp"}};
inline constexpr link_desc campaign_member_links[] = {
    {"campaign", "campaign_id", "campaign", "members"},
    {"person", "person_id", "person", "campaign_memberships"}};

inline constexpr attr_desc marketing_list_attrs[] = {
    {"name", "string"}, {"type", "string"}, {"created_at", "timestamp"}};

inline constexpr attr_desc marketing_list_member_attrs[] = {{"added_at", "timestamp"}};
inline constexpr link_desc marketing_list_member_links[] = {
    {"marketing_list", "list_id", "marketing_list", "members"},
    {"person", "person_id", "person", "list_memberships"}};

inline constexpr attr_desc event_attrs[] = {
    {"type", "string"}, {"timestamp", "timestamp"}, {"url", "string"}};
inline constexpr link_desc event_links[] = {{"person", "person_id", "person", "events"},
                                            {"campaign", "campaign_id", "campaign", "events"}};

#define B2BSEG_GEN_ARR(a) a, std::size(a)
inline constexpr std::array<entity_desc, entity_count> b2b_entities = {{
    {"account", "account.csv", "account_id", B2BSEG_GEN_ARR(account_attrs),
     B2BSEG_GEN_ARR(account_links)},
    {"person", "person.csv", "person_id", B2BSEG_GEN_ARR(person_attrs),
     B2BSEG_GEN_ARR(person_links)},
    {"account_person", "account_person.csv", "", B2BSEG_GEN_ARR(account_person_attrs),
     B2BSEG_GEN_ARR(account_person_links)},
    {"opportunity", "opportunity.csv", "opportunity_id", B2BSEG_GEN_ARR(opportunity_attrs),
     B2BSEG_GEN_ARR(opportunity_links)},
    {"opportunity_person", "opportunity_person.csv", "", B2BSEG_GEN_ARR(opportunity_person_attrs),
     B2BSEG_GEN_ARR(opportunity_person_links)},
    {"campaign", "campaign.csv", "campaign_id", B2BSEG_GEN_ARR(campaign_attrs), nullptr, 0},
    {"campaign_member", "campaign_member.csv", "", B2BSEG_GEN_ARR(campaign_member_attrs),
     B2BSEG_GEN_ARR(campaign_member_links)},
    {"marketing_list", "marketing_list.csv", "list_id", B2BSEG_GEN_ARR(marketing_list_attrs),
     nullptr, 0},
    {"marketing_list_member", "marketing_list_member.csv", "",
     B2BSEG_GEN_ARR(marketing_list_member_attrs), B2BSEG_GEN_ARR(marketing_list_member_links)},
    {"event", "event.csv", "", B2BSEG_GEN_ARR(event_attrs), B2BSEG_GEN_ARR(event_links)},
}};
#undef B2BSEG_GEN_ARR

/// The CSV header line (with its newline) of an entity: key, link columns, then attributes.
inline std::string csv_header(const entity_desc& e) {
  std::string h;
  auto add = [&](std::string_view c) {
    if (!h.empty()) h.push_back(',');
    h.append(c);
  };
  if (!e.key.empty()) add(e.key);
  for (std::size_t i = 0; i < e.link_count; ++i) add(e.links[i].column);
  for (std::size_t i = 0; i < e.attr_count; ++i) add(e.attrs[i].name);
  h.push_back('\n');
  return h;
}

/// The schema.json text (SPEC 2.1) of the generated dataset, pretty-printed, ending in a newline.
inline std::string b2b_schema_json() {
  std::string s = "{\n  \"entities\": {\n";
  auto q = [&s](std::string_view v) {
    s.push_back('"');
    s.append(v);
    s.push_back('"');
  };
  for (std::size_t i = 0; i < b2b_entities.size(); ++i) {
    const entity_desc& e = b2b_entities[i];
    s.append("    ");
    q(e.name);
    s.append(": {\n      \"file\": ");
    q(e.file);
    s.append(",\n");
    if (!e.key.empty()) {
      s.append("      \"key\": ");
      q(e.key);
      s.append(",\n");
    }
    s.append("      \"attributes\": {\n");
    for (std::size_t a = 0; a < e.attr_count; ++a) {
      s.append("        ");
      q(e.attrs[a].name);
      s.append(": ");
      q(e.attrs[a].type);
      s.append(a + 1 < e.attr_count ? ",\n" : "\n");
    }
    s.append(e.link_count ? "      },\n" : "      }\n");
    if (e.link_count) {
      s.append("      \"links\": {\n");
      for (std::size_t l = 0; l < e.link_count; ++l) {
        const link_desc& k = e.links[l];
        s.append("        ");
        q(k.name);
        s.append(": { \"column\": ");
        q(k.column);
        s.append(", \"to\": ");
        q(k.to);
        s.append(", \"reverse\": ");
        q(k.reverse);
        s.append(l + 1 < e.link_count ? " },\n" : " }\n");
      }
      s.append("      }\n");
    }
    s.append(i + 1 < b2b_entities.size() ? "    },\n" : "    }\n");
  }
  s.append("  }\n}\n");
  return s;
}

}  // namespace b2bseg::detail::gen
