// The synthetic B2B world as raw exports of Salesforce and two Marketo instances (SPEC 2.3).
//
// `generate_sources_dataset` writes the world that `generate_dataset` writes for the same options
// (people, seed, as_of: same plan, same rows), but as the systems export it, with their column
// names, id formats and overlaps, plus a schema.json that resolves it (SPEC 2.3) into the entities,
// attributes, links and reverses of the plain dataset (gen/b2b_schema.hpp), so that segments
// written for the plain dataset (datasets/demo.seg) compile and evaluate on it.
//
// Layout (paths relative to the output folder):
//
//   salesforce/Account.csv                 Account: Id, ParentId, Name, Website, ... (all accounts)
//   salesforce/Contact.csv                 Contact: Id, AccountId, Email, ... (~60% of people)
//   salesforce/Lead.csv                    Lead (unconverted): Id, Email, Company, Status, ...
//   salesforce/AccountContactRelation.csv  AccountId, ContactId, Roles, IsDirect, IsActive, ...
//   salesforce/Opportunity.csv             Opportunity: Id, AccountId, StageName, Amount, ...
//   salesforce/OpportunityContactRole.csv  Id, OpportunityId, ContactId, Role, IsPrimary
//   salesforce/Campaign.csv                Campaign: Id, Name, Type, Status, StartDate, ...
//   salesforce/CampaignMember.csv          Id, CampaignId, LeadOrContactId, Status, ...
//   marketo_na/leads.csv                   Marketo (North America, LATAM, APAC) lead export
//   marketo_emea/leads.csv                 Marketo (EMEA) lead export; same columns
//   marketo/lists.csv                      both instances' static lists
//   marketo/list_members.csv               listId, leadId, createdAt
//   marketo/activities.csv                 both instances' activities: leadId, activityDate, ...
//
// Values: Salesforce ids are 18-character case-safe ids with their object's key prefix (001
// Account, 003 Contact, 00Q Lead, 006 Opportunity, 701 Campaign, ...); Salesforce date-times read
// `2026-11-20T10:15:00.000+0000` (LastModifiedDate, CreatedDate), dates `2026-11-20` (CloseDate,
// StartDate); Marketo timestamps `2026-11-20T10:15:00Z`. Marketo lead ids are numbers per
// instance; since activities, lists and list memberships of both instances must each be one
// entity (one file, one `marketo_id` namespace), the landing step is taken to prefix them with
// their instance (`na-1000123`, `emea-200456`), which keeps them unique across instances.
// Ids encode the plain rows they come from (`sfdc_id_number` decodes Salesforce ones): Account,
// Opportunity and Campaign record n is the plain key A/O/C n, Contact and Lead record n the person
// P n, and Marketo lead `lead_base + i` (per instance) the person P i+1.
//
// Who is where (per person, drawn from the person's own random stream, so deterministic):
// - Contacts: every person on an opportunity contact role (Salesforce requires a Contact there),
//   plus 28% of the other people with an account: about 60% of people.
// - Leads: 15% of the other people, 45% of those with campaign memberships (Marketo syncs program
//   members to Salesforce as leads). Lead-to-account matching fills `Matched_Account__c` for 90%
//   of leads whose person has an account.
// - Marketo: everyone in neither Salesforce object ("leads not in the CRM"), 75% of contacts with
//   activity (30% without), 70% of leads with activity (20% without; only with an email, their
//   one shared identity). Each person's home instance is EMEA for a country in EMEA, else NA;
//   10% of Marketo people are in both instances (never without an email or a contact id to share).
//   Marketo rows of contacts carry `sfdcContactId` and `sfdcAccountId`, of leads `sfdcLeadId`.
// - Emails: the highest-ranked row of a person (Salesforce, then NA, then EMEA: the merge order)
//   carries the plain dataset's spelling; 40% of the person's other rows spell it differently
//   only in case and surrounding spaces. No two people share an email, so the rows of a person
//   resolve to exactly one profile (sfdc_id, marketo_id and normalized email in common,
//   transitively) and the rows of two people never merge. About 1.6 source rows per person.
//
// Correspondence with `generate_dataset(dir, options)` for the same options (row for row, in the
// same order; attribute values identical unless noted):
// - account: every row, from Account (resolved on sfdc_id; key `sfdc_id:001...`);
// - person: every person is one profile; attributes from the highest-ranked row holding them
//   (each row holds the plain values), except `is_customer_contact` (Contacts only: null for
//   others) and the account link (null for people only in Marketo, and for the 10% of leads not
//   matched to their account);
// - opportunity, opportunity_person: every row (`close_date` was a date already);
// - campaign: every row, `start_date`/`end_date` truncated to dates;
// - marketing_list: every list twice, once per Marketo instance (same name, type, created_at);
// - account_person: the rows of Contacts (`start_date` truncated to a date);
// - campaign_member: the rows of people in Salesforce (Contacts and Leads);
// - marketing_list_member, event: the rows of people in Marketo, each row in one of the person's
//   instances (the home one, 80% when in both).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/gen/b2b_schema.hpp"
#include "b2bseg/gen/csv_text.hpp"
#include "b2bseg/gen/generator.hpp"
#include "b2bseg/gen/model.hpp"
#include "b2bseg/gen/random.hpp"
#include "b2bseg/gen/rows.hpp"

namespace b2bseg {
namespace detail::gen {

// --- files and columns --------------------------------------------------------------------------

/// The raw export files, in writing order.
enum raw_file : std::size_t {
  rf_account,
  rf_contact,
  rf_lead,
  rf_account_contact_relation,
  rf_opportunity,
  rf_opportunity_contact_role,
  rf_campaign,
  rf_campaign_member,
  rf_marketo_na_leads,
  rf_marketo_emea_leads,
  rf_marketo_lists,
  rf_marketo_list_members,
  rf_marketo_activities,
  raw_file_count
};

/// One raw export file: its path in the output folder and its header (the column names, in
/// order, comma-separated).
struct raw_file_desc {
  std::string_view path;
  std::string_view columns;
};

// clang-format off
inline constexpr std::array<raw_file_desc, raw_file_count> raw_files = {{
    {"salesforce/Account.csv",
     "Id,ParentId,Name,Website,Industry,NumberOfEmployees,AnnualRevenue,BillingStreet,BillingCity,"
     "BillingCountry,Region__c,Phone,Type,Tier__c,Owner.Name,Tags__c,CreatedDate,LastModifiedDate"},
    {"salesforce/Contact.csv",
     "Id,AccountId,FirstName,LastName,Email,Phone,Title,Department,Seniority__c,MailingCountry,"
     "LeadSource,Lead_Status__c,mkto71_Lead_Score__c,Customer_Contact__c,HasOptedOutOfEmail,"
     "CreatedDate,LastModifiedDate"},
    {"salesforce/Lead.csv",
     "Id,FirstName,LastName,Email,Company,Phone,Title,Department__c,Seniority__c,Country,"
     "LeadSource,Status,mkto71_Lead_Score__c,HasOptedOutOfEmail,IsConverted,Matched_Account__c,"
     "CreatedDate,LastModifiedDate"},
    {"salesforce/AccountContactRelation.csv",
     "Id,AccountId,ContactId,Roles,IsDirect,IsActive,StartDate"},
    {"salesforce/Opportunity.csv",
     "Id,AccountId,Name,StageName,Amount,Probability,ForecastCategoryName,CloseDate,IsClosed,"
     "IsWon,Type,CreatedDate,LastModifiedDate"},
    {"salesforce/OpportunityContactRole.csv", "Id,OpportunityId,ContactId,Role,IsPrimary"},
    {"salesforce/Campaign.csv",
     "Id,Name,Type,Channel__c,Status,StartDate,EndDate,BudgetedCost,ActualCost"},
    {"salesforce/CampaignMember.csv",
     "Id,CampaignId,LeadOrContactId,Status,HasResponded,CreatedDate"},
    {"marketo_na/leads.csv",
     "id,email,firstName,lastName,company,phone,title,department,seniority,country,leadSource,"
     "leadStatus,leadScore,unsubscribed,sfdcType,sfdcLeadId,sfdcContactId,sfdcAccountId,"
     "createdAt,updatedAt"},
    {"marketo_emea/leads.csv",
     "id,email,firstName,lastName,company,phone,title,department,seniority,country,leadSource,"
     "leadStatus,leadScore,unsubscribed,sfdcType,sfdcLeadId,sfdcContactId,sfdcAccountId,"
     "createdAt,updatedAt"},
    {"marketo/lists.csv", "id,name,type,workspaceName,createdAt"},
    {"marketo/list_members.csv", "listId,leadId,createdAt"},
    {"marketo/activities.csv",
     "leadId,activityDate,activityTypeId,eventType,sfdcCampaignId,primaryAttributeValue"},
}};
// clang-format on

/// The header line (with its newline) of a raw file.
inline std::string raw_header(const raw_file_desc& f) {
  std::string h(f.columns);
  h.push_back('\n');
  return h;
}

// --- the mapping (schema.json) ------------------------------------------------------------------

#define B2BSEG_GEN_ARR(a) a, std::size(a)

/// An attribute, or an identity namespace, and the column (or, at entity level, the rule) for it.
struct column_map {
  std::string_view name;
  std::string_view column;
};
/// A link and the column holding its target: a value of the target's namespace `identity`, or
/// (identity empty) the target's key.
struct link_map {
  std::string_view name;
  std::string_view column;
  std::string_view identity;
};
/// One source of a resolved entity.
struct source_desc {
  std::string_view name;
  raw_file file;
  const column_map* identities;
  std::size_t identity_count;
  const column_map* attributes;
  std::size_t attribute_count;
  const link_map* links;
  std::size_t link_count;
  std::string_view updated_at;
};
/// How one entity of the plain dataset is read from the raw files: either resolved from sources
/// (`source_count` > 0; `key` is the key column name of outputs) or one file (`key`: its key
/// column, empty for none).
struct entity_layout {
  entity_index entity;
  std::string_view key;
  // resolved
  const column_map* identities;  ///< namespace -> "exact" / "email", in order of preference
  std::size_t identity_count;
  const source_desc* sources;
  std::size_t source_count;
  // one file
  raw_file file;
  const column_map* attributes;
  std::size_t attribute_count;
  const link_map* links;
  std::size_t link_count;
};

inline constexpr column_map account_identities[] = {{"sfdc_id", "exact"}};
inline constexpr column_map sf_account_identities[] = {{"sfdc_id", "Id"}};
inline constexpr column_map sf_account_attrs[] = {{"name", "Name"},
                                                  {"domain", "Website"},
                                                  {"industry", "Industry"},
                                                  {"employees", "NumberOfEmployees"},
                                                  {"annual_revenue", "AnnualRevenue"},
                                                  {"country", "BillingCountry"},
                                                  {"region", "Region__c"},
                                                  {"city", "BillingCity"},
                                                  {"billing_street", "BillingStreet"},
                                                  {"phone", "Phone"},
                                                  {"type", "Type"},
                                                  {"tier", "Tier__c"},
                                                  {"owner", "Owner.Name"},
                                                  {"created_at", "CreatedDate"},
                                                  {"tags", "Tags__c"}};
inline constexpr link_map sf_account_links[] = {{"parent", "ParentId", "sfdc_id"}};
inline constexpr source_desc account_sources[] = {
    {"salesforce", rf_account, B2BSEG_GEN_ARR(sf_account_identities),
     B2BSEG_GEN_ARR(sf_account_attrs), B2BSEG_GEN_ARR(sf_account_links), "LastModifiedDate"}};

inline constexpr column_map person_identities[] = {
    {"sfdc_id", "exact"}, {"marketo_id", "exact"}, {"email", "email"}};
inline constexpr column_map sf_contact_identities[] = {{"sfdc_id", "Id"}, {"email", "Email"}};
inline constexpr column_map sf_contact_attrs[] = {{"email", "Email"},
                                                  {"first_name", "FirstName"},
                                                  {"last_name", "LastName"},
                                                  {"phone", "Phone"},
                                                  {"job_title", "Title"},
                                                  {"seniority", "Seniority__c"},
                                                  {"department", "Department"},
                                                  {"country", "MailingCountry"},
                                                  {"lead_source", "LeadSource"},
                                                  {"lead_status", "Lead_Status__c"},
                                                  {"lead_score", "mkto71_Lead_Score__c"},
                                                  {"is_customer_contact", "Customer_Contact__c"},
                                                  {"email_opt_out", "HasOptedOutOfEmail"},
                                                  {"created_at", "CreatedDate"}};
inline constexpr link_map sf_contact_links[] = {{"account", "AccountId", "sfdc_id"}};
inline constexpr column_map sf_lead_identities[] = {{"sfdc_id", "Id"}, {"email", "Email"}};
inline constexpr column_map sf_lead_attrs[] = {{"email", "Email"},
                                               {"first_name", "FirstName"},
                                               {"last_name", "LastName"},
                                               {"phone", "Phone"},
                                               {"job_title", "Title"},
                                               {"seniority", "Seniority__c"},
                                               {"department", "Department__c"},
                                               {"country", "Country"},
                                               {"lead_source", "LeadSource"},
                                               {"lead_status", "Status"},
                                               {"lead_score", "mkto71_Lead_Score__c"},
                                               {"email_opt_out", "HasOptedOutOfEmail"},
                                               {"created_at", "CreatedDate"}};
inline constexpr link_map sf_lead_links[] = {{"account", "Matched_Account__c", "sfdc_id"}};
inline constexpr column_map marketo_identities[] = {
    {"marketo_id", "id"}, {"email", "email"}, {"sfdc_id", "sfdcContactId"}};
inline constexpr column_map marketo_attrs[] = {{"email", "email"},
                                               {"first_name", "firstName"},
                                               {"last_name", "lastName"},
                                               {"phone", "phone"},
                                               {"job_title", "title"},
                                               {"seniority", "seniority"},
                                               {"department", "department"},
                                               {"country", "country"},
                                               {"lead_source", "leadSource"},
                                               {"lead_status", "leadStatus"},
                                               {"lead_score", "leadScore"},
                                               {"email_opt_out", "unsubscribed"},
                                               {"created_at", "createdAt"}};
inline constexpr link_map marketo_links[] = {{"account", "sfdcAccountId", "sfdc_id"}};
inline constexpr source_desc person_sources[] = {
    {"salesforce_contact", rf_contact, B2BSEG_GEN_ARR(sf_contact_identities),
     B2BSEG_GEN_ARR(sf_contact_attrs), B2BSEG_GEN_ARR(sf_contact_links), "LastModifiedDate"},
    {"salesforce_lead", rf_lead, B2BSEG_GEN_ARR(sf_lead_identities), B2BSEG_GEN_ARR(sf_lead_attrs),
     B2BSEG_GEN_ARR(sf_lead_links), "LastModifiedDate"},
    {"marketo_na", rf_marketo_na_leads, B2BSEG_GEN_ARR(marketo_identities),
     B2BSEG_GEN_ARR(marketo_attrs), B2BSEG_GEN_ARR(marketo_links), "updatedAt"},
    {"marketo_emea", rf_marketo_emea_leads, B2BSEG_GEN_ARR(marketo_identities),
     B2BSEG_GEN_ARR(marketo_attrs), B2BSEG_GEN_ARR(marketo_links), "updatedAt"}};

inline constexpr column_map acr_attrs[] = {{"role", "Roles"},
                                           {"is_direct", "IsDirect"},
                                           {"is_active", "IsActive"},
                                           {"start_date", "StartDate"}};
inline constexpr link_map acr_links[] = {{"person", "ContactId", "sfdc_id"},
                                         {"account", "AccountId", "sfdc_id"}};
inline constexpr column_map opportunity_attrs_map[] = {
    {"name", "Name"},
    {"stage", "StageName"},
    {"amount", "Amount"},
    {"probability", "Probability"},
    {"forecast_category", "ForecastCategoryName"},
    {"close_date", "CloseDate"},
    {"is_closed", "IsClosed"},
    {"is_won", "IsWon"},
    {"type", "Type"},
    {"created_at", "CreatedDate"}};
inline constexpr link_map opportunity_links_map[] = {{"account", "AccountId", "sfdc_id"}};
inline constexpr column_map ocr_attrs[] = {{"role", "Role"}, {"is_primary", "IsPrimary"}};
inline constexpr link_map ocr_links[] = {{"opportunity", "OpportunityId", ""},
                                         {"person", "ContactId", "sfdc_id"}};
inline constexpr column_map campaign_attrs_map[] = {{"name", "Name"},
                                                    {"type", "Type"},
                                                    {"channel", "Channel__c"},
                                                    {"status", "Status"},
                                                    {"start_date", "StartDate"},
                                                    {"end_date", "EndDate"},
                                                    {"budgeted_cost", "BudgetedCost"},
                                                    {"actual_cost", "ActualCost"}};
inline constexpr column_map campaign_member_attrs_map[] = {
    {"status", "Status"}, {"has_responded", "HasResponded"}, {"joined_at", "CreatedDate"}};
inline constexpr link_map campaign_member_links_map[] = {{"campaign", "CampaignId", ""},
                                                         {"person", "LeadOrContactId", "sfdc_id"}};
inline constexpr column_map marketing_list_attrs_map[] = {
    {"name", "name"}, {"type", "type"}, {"created_at", "createdAt"}};
inline constexpr column_map list_member_attrs_map[] = {{"added_at", "createdAt"}};
inline constexpr link_map list_member_links_map[] = {{"marketing_list", "listId", ""},
                                                     {"person", "leadId", "marketo_id"}};
inline constexpr column_map event_attrs_map[] = {
    {"type", "eventType"}, {"timestamp", "activityDate"}, {"url", "primaryAttributeValue"}};
inline constexpr link_map event_links_map[] = {{"person", "leadId", "marketo_id"},
                                               {"campaign", "sfdcCampaignId", ""}};

/// A resolved entity's layout.
constexpr entity_layout resolved_layout(entity_index e, std::string_view key, const column_map* ids,
                                        std::size_t id_count, const source_desc* sources,
                                        std::size_t source_count) {
  return {e, key, ids, id_count, sources, source_count, raw_file_count, nullptr, 0, nullptr, 0};
}
/// A one-file entity's layout.
constexpr entity_layout file_layout(entity_index e, raw_file f, std::string_view key,
                                    const column_map* attrs, std::size_t attr_count,
                                    const link_map* links, std::size_t link_count) {
  return {e, key, nullptr, 0, nullptr, 0, f, attrs, attr_count, links, link_count};
}

/// Every entity of the plain dataset, in its order (`b2b_entities`).
inline constexpr std::array<entity_layout, entity_count> raw_layout = {{
    resolved_layout(ent_account, "account_id", B2BSEG_GEN_ARR(account_identities),
                    B2BSEG_GEN_ARR(account_sources)),
    resolved_layout(ent_person, "person_id", B2BSEG_GEN_ARR(person_identities),
                    B2BSEG_GEN_ARR(person_sources)),
    file_layout(ent_account_person, rf_account_contact_relation, "", B2BSEG_GEN_ARR(acr_attrs),
                B2BSEG_GEN_ARR(acr_links)),
    file_layout(ent_opportunity, rf_opportunity, "Id", B2BSEG_GEN_ARR(opportunity_attrs_map),
                B2BSEG_GEN_ARR(opportunity_links_map)),
    file_layout(ent_opportunity_person, rf_opportunity_contact_role, "", B2BSEG_GEN_ARR(ocr_attrs),
                B2BSEG_GEN_ARR(ocr_links)),
    file_layout(ent_campaign, rf_campaign, "Id", B2BSEG_GEN_ARR(campaign_attrs_map), nullptr, 0),
    file_layout(ent_campaign_member, rf_campaign_member, "",
                B2BSEG_GEN_ARR(campaign_member_attrs_map),
                B2BSEG_GEN_ARR(campaign_member_links_map)),
    file_layout(ent_marketing_list, rf_marketo_lists, "id",
                B2BSEG_GEN_ARR(marketing_list_attrs_map), nullptr, 0),
    file_layout(ent_marketing_list_member, rf_marketo_list_members, "",
                B2BSEG_GEN_ARR(list_member_attrs_map), B2BSEG_GEN_ARR(list_member_links_map)),
    file_layout(ent_event, rf_marketo_activities, "", B2BSEG_GEN_ARR(event_attrs_map),
                B2BSEG_GEN_ARR(event_links_map)),
}};
#undef B2BSEG_GEN_ARR

/// The schema.json text (SPEC 2.1 and 2.3) of the raw exports, pretty-printed, ending in a
/// newline: the plain dataset's entities, attributes (names, types), links (names, targets,
/// reverses), read from the raw files.
inline std::string sources_schema_json() {
  std::string s = "{\n  \"entities\": {\n";
  auto q = [&s](std::string_view v) {
    s.push_back('"');
    s.append(v);
    s.push_back('"');
  };
  auto pair = [&](std::string_view k, std::string_view v) {
    q(k);
    s.append(": ");
    q(v);
  };
  // `{ "a": "x", "b": "y" }` on one line.
  auto inline_map = [&](const column_map* m, std::size_t n) {
    s.append("{ ");
    for (std::size_t i = 0; i < n; ++i) {
      if (i) s.append(", ");
      pair(m[i].name, m[i].column);
    }
    s.append(" }");
  };
  auto ind = [&s](int n) { s.append(static_cast<std::size_t>(n), ' '); };
  for (std::size_t i = 0; i < entity_count; ++i) {
    const entity_layout& lay = raw_layout[i];
    const entity_desc& e = b2b_entities[lay.entity];
    ind(4);
    q(e.name);
    s.append(": {\n");
    const bool resolved = lay.source_count > 0;
    if (!resolved) {
      ind(6);
      pair("file", raw_files[lay.file].path);
      s.append(",\n");
    }
    if (!lay.key.empty()) {
      ind(6);
      pair("key", lay.key);
      s.append(",\n");
    }
    if (resolved) {
      ind(6);
      q("identities");
      s.append(": ");
      inline_map(lay.identities, lay.identity_count);
      s.append(",\n");
    }
    ind(6);
    q("attributes");
    s.append(": {\n");
    for (std::size_t a = 0; a < e.attr_count; ++a) {
      ind(8);
      if (resolved) {
        pair(e.attrs[a].name, e.attrs[a].type);
      } else {
        std::string_view column;
        for (std::size_t k = 0; k < lay.attribute_count; ++k)
          if (lay.attributes[k].name == e.attrs[a].name) column = lay.attributes[k].column;
        q(e.attrs[a].name);
        s.append(": { ");
        pair("type", e.attrs[a].type);
        s.append(", ");
        pair("column", column);
        s.append(" }");
      }
      s.append(a + 1 < e.attr_count ? ",\n" : "\n");
    }
    ind(6);
    s.append(e.link_count || resolved ? "},\n" : "}\n");
    if (e.link_count) {
      ind(6);
      q("links");
      s.append(": {\n");
      for (std::size_t l = 0; l < e.link_count; ++l) {
        const link_desc& k = e.links[l];
        ind(8);
        q(k.name);
        s.append(": { ");
        if (!resolved) {
          for (std::size_t m = 0; m < lay.link_count; ++m) {
            if (lay.links[m].name != k.name) continue;
            pair("column", lay.links[m].column);
            s.append(", ");
            if (!lay.links[m].identity.empty()) {
              pair("identity", lay.links[m].identity);
              s.append(", ");
            }
          }
        }
        pair("to", k.to);
        s.append(", ");
        pair("reverse", k.reverse);
        s.append(l + 1 < e.link_count ? " },\n" : " }\n");
      }
      ind(6);
      s.append(resolved ? "},\n" : "}\n");
    }
    if (resolved) {
      ind(6);
      pair("merge", "priority");
      s.append(",\n");
      ind(6);
      q("sources");
      s.append(": [\n");
      for (std::size_t k = 0; k < lay.source_count; ++k) {
        const source_desc& src = lay.sources[k];
        ind(8);
        s.append("{\n");
        ind(10);
        pair("name", src.name);
        s.append(",\n");
        ind(10);
        pair("file", raw_files[src.file].path);
        s.append(",\n");
        ind(10);
        q("identities");
        s.append(": ");
        inline_map(src.identities, src.identity_count);
        s.append(",\n");
        ind(10);
        q("attributes");
        s.append(": {\n");
        for (std::size_t a = 0; a < src.attribute_count; ++a) {
          ind(12);
          pair(src.attributes[a].name, src.attributes[a].column);
          s.append(a + 1 < src.attribute_count ? ",\n" : "\n");
        }
        ind(10);
        s.append("},\n");
        if (src.link_count) {
          ind(10);
          q("links");
          s.append(": { ");
          for (std::size_t l = 0; l < src.link_count; ++l) {
            if (l) s.append(", ");
            q(src.links[l].name);
            s.append(": { ");
            pair("column", src.links[l].column);
            if (!src.links[l].identity.empty()) {
              s.append(", ");
              pair("identity", src.links[l].identity);
            }
            s.append(" }");
          }
          s.append(" },\n");
        }
        ind(10);
        pair("updated_at", src.updated_at);
        s.push_back('\n');
        ind(8);
        s.append(k + 1 < lay.source_count ? "},\n" : "}\n");
      }
      ind(6);
      s.append("]\n");
    }
    ind(4);
    s.append(i + 1 < entity_count ? "},\n" : "}\n");
  }
  s.append("  }\n}\n");
  return s;
}

// --- ids and values -----------------------------------------------------------------------------

/// A Salesforce object: its 3-character key prefix and the record number its ids start from.
struct sfdc_object {
  std::string_view prefix;
  std::uint64_t base;
};
inline constexpr sfdc_object sf_account{"001", 4'310'000'000}, sf_contact{"003", 9'720'000'000},
    sf_lead{"00Q", 7'150'000'000}, sf_opportunity{"006", 3'060'000'000},
    sf_account_contact_relation{"07k", 1'980'000'000},
    sf_opportunity_contact_role{"00K", 2'540'000'000}, sf_campaign{"701", 1'170'000'000},
    sf_campaign_member{"00v", 5'890'000'000};
inline constexpr std::string_view base62_digits =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Appends the 18-character id of record `n` of object `o`: key prefix, pod "5g", a reserved "0",
/// nine base-62 digits of base + n, and the three-character case-safe suffix Salesforce computes
/// (per 5-character chunk, a bit per upper-case letter, as a letter or digit).
inline void append_sfdc_id(std::string& s, const sfdc_object& o, std::uint64_t n) {
  char id[18];
  for (int i = 0; i < 3; ++i) id[i] = o.prefix[static_cast<std::size_t>(i)];
  id[3] = '5';
  id[4] = 'g';
  id[5] = '0';
  std::uint64_t v = o.base + n;
  for (int i = 14; i >= 6; --i) {
    id[i] = base62_digits[v % 62];
    v /= 62;
  }
  static constexpr std::string_view suffix = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  for (int c = 0; c < 3; ++c) {
    unsigned flags = 0;
    for (int j = 0; j < 5; ++j) {
      const char ch = id[c * 5 + j];
      if (ch >= 'A' && ch <= 'Z') flags |= 1u << j;
    }
    id[15 + c] = suffix[flags];
  }
  s.append(id, 18);
}
/// The record number n of an id written by append_sfdc_id for object `o`; ~0 when it is not one.
inline std::uint64_t sfdc_id_number(std::string_view id, const sfdc_object& o) {
  if (id.size() != 18 || id.substr(0, 3) != o.prefix) return ~std::uint64_t{0};
  std::uint64_t v = 0;
  for (std::size_t i = 6; i < 15; ++i) {
    const std::size_t d = base62_digits.find(id[i]);
    if (d == std::string_view::npos) return ~std::uint64_t{0};
    v = v * 62 + d;
  }
  std::string check;
  append_sfdc_id(check, o, v - o.base);
  return v >= o.base && check == id ? v - o.base : ~std::uint64_t{0};
}

/// The two Marketo instances: id prefix, lead number base, workspace name.
struct marketo_instance {
  std::string_view prefix;
  std::uint64_t lead_base;
  std::string_view workspace;
};
inline constexpr std::array<marketo_instance, 2> marketo_instances = {
    {{"na-", 1'000'001, "North America"}, {"emea-", 200'001, "EMEA"}}};
inline constexpr std::uint64_t marketo_list_base = 1000;

/// Appends person p's lead id in instance k ("na-1000123").
inline void append_marketo_lead_id(std::string& s, std::size_t k, std::uint64_t p) {
  s.append(marketo_instances[k].prefix);
  s.append(std::to_string(marketo_instances[k].lead_base + p));
}

/// Marketo's activity type ids of the event types (Visit Webpage 1, Fill Out Form 2, Open Email
/// 10, Click Email 11, Change Program Status 104), in the order of `event_types`.
inline constexpr std::array<int, 7> marketo_activity_type = {1, 10, 11, 2, 104, 104, 2};

/// Reads the records of CSV text written by csv_rows (RFC 4180, LF line ends) one at a time.
class csv_cursor {
 public:
  explicit csv_cursor(std::string_view text) noexcept : t_(text) {}
  /// The next record's fields into f[0, n) (quotes removed); returns n, 0 at the end.
  std::size_t next(std::vector<std::string>& f) {
    if (pos_ >= t_.size()) return 0;
    std::size_t n = 0;
    for (;;) {
      if (n == f.size()) f.emplace_back();
      std::string& x = f[n++];
      x.clear();
      if (t_[pos_] == '"') {
        ++pos_;
        for (;;) {
          const std::size_t q = t_.find('"', pos_);
          if (q == std::string_view::npos) throw std::logic_error("csv_cursor: open quote");
          x.append(t_.substr(pos_, q - pos_));
          pos_ = q + 1;
          if (pos_ < t_.size() && t_[pos_] == '"') {
            x.push_back('"');
            ++pos_;
          } else {
            break;
          }
        }
      } else {
        std::size_t e = pos_;
        while (e < t_.size() && t_[e] != ',' && t_[e] != '\n') ++e;
        x.append(t_.substr(pos_, e - pos_));
        pos_ = e;
      }
      if (pos_ >= t_.size()) throw std::logic_error("csv_cursor: no line end");
      if (t_[pos_++] == '\n') return n;
    }
  }

 private:
  std::string_view t_;
  std::size_t pos_ = 0;
};

/// The column index of `name` (key, link column or attribute) in the plain CSV of entity e.
constexpr std::size_t plain_column(entity_index e, std::string_view name) {
  const entity_desc& d = b2b_entities[e];
  std::size_t i = 0;
  if (!d.key.empty()) {
    if (d.key == name) return 0;
    ++i;
  }
  for (std::size_t k = 0; k < d.link_count; ++k, ++i)
    if (d.links[k].column == name) return i;
  for (std::size_t k = 0; k < d.attr_count; ++k, ++i)
    if (d.attrs[k].name == name) return i;
  throw std::logic_error("plain_column: no such column");
}

/// The number of a plain key ("A0000614" -> 614); 0 for an empty field.
inline std::uint64_t plain_key_number(std::string_view k) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 1; i < k.size(); ++i) v = v * 10 + static_cast<std::uint64_t>(k[i] - '0');
  return v;
}
/// Seconds since the epoch of a plain timestamp (2026-03-04T10:15:00Z).
inline std::int64_t plain_seconds(std::string_view t) noexcept {
  auto num = [&](std::size_t at, std::size_t n) {
    std::int64_t v = 0;
    for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (t[i] - '0');
    return v;
  };
  return days_from_civil(num(0, 4), static_cast<unsigned>(num(5, 2)),
                         static_cast<unsigned>(num(8, 2))) *
             seconds_per_day +
         num(11, 2) * 3600 + num(14, 2) * 60 + num(17, 2);
}

/// Field writers of the raw files over a csv_rows and a scratch string.
struct raw_writer {
  csv_rows& o;
  std::string& s;

  /// A field copied as it is, quoted when it must be (a byte loop: cheaper here than
  /// csv_rows::str's find_first_of on short values).
  void copy(std::string_view v) {
    for (char ch : v) {
      if (ch == ',' || ch == '"' || ch == '\n' || ch == '\r') return o.str(v);
    }
    o.raw(v);
  }
  void sfdc(const sfdc_object& obj, std::uint64_t n) {
    s.clear();
    append_sfdc_id(s, obj, n);
    o.raw(s);
  }
  /// The Salesforce id of the record a plain key names ("A0000614"), or null.
  void sfdc_ref(const sfdc_object& obj, std::string_view plain_key) {
    if (plain_key.empty())
      o.null();
    else
      sfdc(obj, plain_key_number(plain_key));
  }
  /// A Salesforce date-time (2026-11-20T10:15:00.000+0000) from a plain timestamp, or null.
  void sf_datetime(std::string_view plain_ts) {
    if (plain_ts.empty()) return o.null();
    s.assign(plain_ts.substr(0, 19));
    s.append(".000+0000");
    o.raw(s);
  }
  void sf_datetime(std::int64_t seconds) {
    s.clear();
    csv_rows::append_timestamp(s, seconds);
    s.pop_back();
    s.append(".000+0000");
    o.raw(s);
  }
  /// A Salesforce date (2026-11-20) from a plain timestamp, or null.
  void sf_date(std::string_view plain_ts) {
    if (plain_ts.empty()) return o.null();
    o.raw(plain_ts.substr(0, 10));
  }
};

/// A last-modified instant between `created` and as_of, more likely recent.
inline std::int64_t modified_at(const plan& pl, std::int64_t created, rng& r) {
  const std::int64_t span = std::max<std::int64_t>(0, pl.as_of - created);
  return pl.as_of - static_cast<std::int64_t>(static_cast<double>(span) * r.skewed(2.0));
}

/// `email` spelled differently only in case and surrounding spaces ("Ana.Lee@x.com ").
inline void append_email_variant(std::string& s, std::string_view email, rng& r) {
  const std::size_t kind = r.below(4);
  const std::size_t at = s.size() + (kind == 3 ? 1 : 0);
  if (kind == 3) s.push_back(' ');
  s.append(email);
  auto upper = [](char& c) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  };
  if (kind == 1) {  // all upper case
    for (std::size_t i = at; i < s.size(); ++i) upper(s[i]);
  } else {  // capitalized words of the local part ("Ana.Lee@", "Ana_Lee@")
    bool start = true;
    for (std::size_t i = at; i < s.size() && s[i] != '@'; ++i) {
      if (start) upper(s[i]);
      start = s[i] == '.' || s[i] == '_' || s[i] == '-';
    }
  }
  if (kind == 2) s.push_back(' ');
}

/// The output of one block of raw rows, plus the plain rows it is rendered from and scratch.
struct source_block {
  std::array<csv_rows, raw_file_count> csv;
  block_output plain;
  std::array<std::vector<std::string>, entity_count> fields;
  std::string scratch;
  std::vector<std::uint64_t> role_people;  ///< account blocks: people on contact roles
  std::array<std::string, 2> lead_ids;     ///< person blocks: the person's Marketo lead ids
  void clear() {
    for (auto& c : csv) c.clear();
    role_people.clear();
  }
};

// --- accounts, opportunities, contact roles -----------------------------------------------------

/// Accounts [first, last) with their opportunities and contact roles, as Salesforce rows; the
/// people on contact roles are listed in `b.role_people` (they must be Contacts).
inline void write_source_account_block(const plan& pl, std::uint64_t first, std::uint64_t last,
                                       source_block& b) {
  b.plain.clear();
  write_account_block(pl, first, last, b.plain);
  {
    constexpr entity_index E = ent_account;
    constexpr std::size_t id = plain_column(E, "account_id"),
                          parent = plain_column(E, "parent_account_id"),
                          name = plain_column(E, "name"), domain = plain_column(E, "domain"),
                          industry = plain_column(E, "industry"),
                          employees = plain_column(E, "employees"),
                          revenue = plain_column(E, "annual_revenue"),
                          country = plain_column(E, "country"), region = plain_column(E, "region"),
                          city = plain_column(E, "city"),
                          street = plain_column(E, "billing_street"),
                          phone = plain_column(E, "phone"), type = plain_column(E, "type"),
                          tier = plain_column(E, "tier"), owner = plain_column(E, "owner"),
                          created = plain_column(E, "created_at"), tags = plain_column(E, "tags");
    csv_cursor cur(b.plain.csv[E].text());
    auto& f = b.fields[E];
    raw_writer w{b.csv[rf_account], b.scratch};
    while (cur.next(f)) {
      const std::uint64_t j = plain_key_number(f[id]) - 1;
      rng r(pl.seed, stream::source_account, j);
      w.sfdc(sf_account, j + 1);
      w.sfdc_ref(sf_account, f[parent]);
      for (std::size_t c : {name, domain, industry, employees, revenue, street, city, country,
                            region, phone, type, tier, owner, tags})
        w.copy(f[c]);
      w.sf_datetime(f[created]);
      w.sf_datetime(modified_at(pl, pl.account[j].created, r));
      w.o.end_row();
    }
  }
  {
    constexpr entity_index E = ent_opportunity;
    constexpr std::size_t id = plain_column(E, "opportunity_id"),
                          account = plain_column(E, "account_id"), name = plain_column(E, "name"),
                          stage = plain_column(E, "stage"), amount = plain_column(E, "amount"),
                          probability = plain_column(E, "probability"),
                          forecast = plain_column(E, "forecast_category"),
                          close = plain_column(E, "close_date"),
                          closed = plain_column(E, "is_closed"), won = plain_column(E, "is_won"),
                          type = plain_column(E, "type"), created = plain_column(E, "created_at");
    csv_cursor cur(b.plain.csv[E].text());
    auto& f = b.fields[E];
    raw_writer w{b.csv[rf_opportunity], b.scratch};
    while (cur.next(f)) {
      const std::uint64_t n = plain_key_number(f[id]);
      rng r(pl.seed, stream::source_account, ~n);
      w.sfdc(sf_opportunity, n);
      w.sfdc_ref(sf_account, f[account]);
      for (std::size_t c : {name, stage, amount, probability, forecast}) w.copy(f[c]);
      w.sf_date(f[close]);
      for (std::size_t c : {closed, won, type}) w.copy(f[c]);
      w.sf_datetime(f[created]);
      w.sf_datetime(modified_at(pl, plain_seconds(f[created]), r));
      w.o.end_row();
    }
  }
  {
    constexpr entity_index E = ent_opportunity_person;
    constexpr std::size_t opp = plain_column(E, "opportunity_id"),
                          person = plain_column(E, "person_id"), role = plain_column(E, "role"),
                          primary = plain_column(E, "is_primary");
    csv_cursor cur(b.plain.csv[E].text());
    auto& f = b.fields[E];
    raw_writer w{b.csv[rf_opportunity_contact_role], b.scratch};
    std::uint64_t last_opp = 0, m = 0;
    while (cur.next(f)) {
      const std::uint64_t o = plain_key_number(f[opp]);
      m = o == last_opp ? m + 1 : 0;
      last_opp = o;
      const std::uint64_t p = plain_key_number(f[person]) - 1;
      b.role_people.push_back(p);
      w.sfdc(sf_opportunity_contact_role, o * 8 + m);
      w.sfdc(sf_opportunity, o);
      w.sfdc(sf_contact, p + 1);
      w.copy(f[role]);
      w.copy(f[primary]);
      w.o.end_row();
    }
  }
}

/// All campaigns (Salesforce) and marketing lists (both Marketo instances).
inline void write_source_campaigns_and_lists(const plan& pl, source_block& b) {
  b.plain.clear();
  write_campaigns_and_lists(pl, b.plain);
  {
    constexpr entity_index E = ent_campaign;
    constexpr std::size_t id = plain_column(E, "campaign_id"), name = plain_column(E, "name"),
                          type = plain_column(E, "type"), channel = plain_column(E, "channel"),
                          status = plain_column(E, "status"), start = plain_column(E, "start_date"),
                          end = plain_column(E, "end_date"),
                          budget = plain_column(E, "budgeted_cost"),
                          actual = plain_column(E, "actual_cost");
    csv_cursor cur(b.plain.csv[E].text());
    auto& f = b.fields[E];
    raw_writer w{b.csv[rf_campaign], b.scratch};
    while (cur.next(f)) {
      w.sfdc_ref(sf_campaign, f[id]);
      for (std::size_t c : {name, type, channel, status}) w.copy(f[c]);
      w.sf_date(f[start]);
      w.sf_date(f[end]);
      w.copy(f[budget]);
      w.copy(f[actual]);
      w.o.end_row();
    }
  }
  {
    constexpr entity_index E = ent_marketing_list;
    constexpr std::size_t id = plain_column(E, "list_id"), name = plain_column(E, "name"),
                          type = plain_column(E, "type"), created = plain_column(E, "created_at");
    auto& f = b.fields[E];
    raw_writer w{b.csv[rf_marketo_lists], b.scratch};
    for (std::size_t k = 0; k < marketo_instances.size(); ++k) {
      csv_cursor cur(b.plain.csv[E].text());
      while (cur.next(f)) {
        b.scratch.assign(marketo_instances[k].prefix);
        b.scratch.append(std::to_string(marketo_list_base + plain_key_number(f[id])));
        w.o.raw(b.scratch);
        w.copy(f[name]);
        w.copy(f[type]);
        w.copy(marketo_instances[k].workspace);
        w.copy(f[created]);
        w.o.end_row();
      }
    }
  }
}

// --- people -------------------------------------------------------------------------------------

/// Person p's rows in the systems that hold the person (see the top of this file), and the
/// relations, campaign and list memberships and activities those systems hold. `has_role[p]`:
/// the person is on an opportunity contact role.
inline void write_source_person(const plan& pl, const std::vector<std::uint8_t>& has_role,
                                std::uint64_t p, source_block& b) {
  b.plain.clear();
  write_person(pl, p, b.plain);
  const person_core c = make_person_core(pl, p);
  rng r(pl.seed, stream::source_person, p);
  const std::uint64_t n_members = b.plain.csv[ent_campaign_member].rows();
  const std::uint64_t n_events = b.plain.csv[ent_event].rows();

  constexpr entity_index P = ent_person;
  constexpr std::size_t account = plain_column(P, "account_id"), email = plain_column(P, "email"),
                        first = plain_column(P, "first_name"), last = plain_column(P, "last_name"),
                        phone = plain_column(P, "phone"), title = plain_column(P, "job_title"),
                        seniority = plain_column(P, "seniority"),
                        department = plain_column(P, "department"),
                        country = plain_column(P, "country"),
                        source = plain_column(P, "lead_source"),
                        status = plain_column(P, "lead_status"),
                        score = plain_column(P, "lead_score"),
                        customer = plain_column(P, "is_customer_contact"),
                        opt_out = plain_column(P, "email_opt_out"),
                        created = plain_column(P, "created_at");
  auto& f = b.fields[P];
  csv_cursor(b.plain.csv[P].text()).next(f);
  const bool has_email = !f[email].empty();

  // Who holds the person.
  const bool contact = c.account && (has_role[p] || r.chance(0.28));
  const bool lead = !contact && r.chance(n_members ? 0.45 : 0.15);
  bool marketo;
  if (contact)
    marketo = r.chance(n_events ? 0.75 : 0.3);
  else if (lead)
    marketo = has_email && r.chance(n_events ? 0.7 : 0.2);
  else
    marketo = true;
  const std::size_t home = countries[c.country].region == 1 ? 1 : 0;  // EMEA: 1, else NA: 0
  const bool both = marketo && (has_email || contact) && r.chance(0.1);
  const bool in_marketo[2] = {marketo && (home == 0 || both), marketo && (home == 1 || both)};
  const bool matched = lead && c.account && r.chance(0.9);
  for (std::size_t k = 0; k < 2; ++k) {
    b.lead_ids[k].clear();
    if (in_marketo[k]) append_marketo_lead_id(b.lead_ids[k], k, p);
  }
  // The email of each row: the first-ranked row (Salesforce, NA, EMEA) spells it as the plain
  // dataset does, 40% of the others differently.
  bool first_row = true;
  std::string& s = b.scratch;
  auto write_email = [&](raw_writer& w) {
    if (!has_email || first_row || !r.chance(0.4)) {
      w.copy(f[email]);
    } else {
      s.clear();
      append_email_variant(s, f[email], r);
      w.copy(s);
    }
    first_row = false;
  };
  auto write_company = [&](raw_writer& w, bool required) {
    if (c.account) {
      s.clear();
      append_base_name(s, pl, c.account - 1);
      w.copy(s);
    } else if (required) {
      w.copy("[not provided]");
    } else {
      w.o.null();
    }
  };

  if (contact) {
    raw_writer w{b.csv[rf_contact], s};
    w.sfdc(sf_contact, p + 1);
    w.sfdc_ref(sf_account, f[account]);
    w.copy(f[first]);
    w.copy(f[last]);
    write_email(w);
    for (std::size_t k :
         {phone, title, department, seniority, country, source, status, score, customer, opt_out})
      w.copy(f[k]);
    w.sf_datetime(f[created]);
    w.sf_datetime(modified_at(pl, c.created, r));
    w.o.end_row();
  } else if (lead) {
    raw_writer w{b.csv[rf_lead], s};
    w.sfdc(sf_lead, p + 1);
    w.copy(f[first]);
    w.copy(f[last]);
    write_email(w);
    write_company(w, true);
    for (std::size_t k :
         {phone, title, department, seniority, country, source, status, score, opt_out})
      w.copy(f[k]);
    w.o.boolean(false);
    if (matched)
      w.sfdc_ref(sf_account, f[account]);
    else
      w.o.null();
    w.sf_datetime(f[created]);
    w.sf_datetime(modified_at(pl, c.created, r));
    w.o.end_row();
  }
  for (std::size_t k = 0; k < 2; ++k) {
    if (!in_marketo[k]) continue;
    raw_writer w{b.csv[k == 0 ? rf_marketo_na_leads : rf_marketo_emea_leads], s};
    w.o.raw(b.lead_ids[k]);
    write_email(w);
    w.copy(f[first]);
    w.copy(f[last]);
    write_company(w, false);
    for (std::size_t x :
         {phone, title, department, seniority, country, source, status, score, opt_out})
      w.copy(f[x]);
    if (contact) {
      w.o.raw("Contact");
      w.o.null();
      w.sfdc(sf_contact, p + 1);
      w.sfdc_ref(sf_account, f[account]);
    } else if (lead) {
      w.o.raw("Lead");
      w.sfdc(sf_lead, p + 1);
      w.o.null();
      w.o.null();
    } else {
      w.o.null();
      w.o.null();
      w.o.null();
      w.o.null();
    }
    w.o.raw(f[created]);
    s.clear();
    csv_rows::append_timestamp(s, modified_at(pl, c.created, r));
    w.o.raw(s);
    w.o.end_row();
  }
  // The instance of one of the person's Marketo rows: home, or the other one 20% of the time.
  auto pick_instance = [&] { return both && r.chance(0.2) ? 1 - home : home; };

  // Account relations (Contacts only).
  if (contact) {
    constexpr entity_index E = ent_account_person;
    constexpr std::size_t acct = plain_column(E, "account_id"), role = plain_column(E, "role"),
                          direct = plain_column(E, "is_direct"),
                          active = plain_column(E, "is_active"),
                          start = plain_column(E, "start_date");
    csv_cursor cur(b.plain.csv[E].text());
    auto& g = b.fields[E];
    raw_writer w{b.csv[rf_account_contact_relation], s};
    for (std::uint64_t m = 0; cur.next(g); ++m) {
      w.sfdc(sf_account_contact_relation, p * 2 + m);
      w.sfdc_ref(sf_account, g[acct]);
      w.sfdc(sf_contact, p + 1);
      w.copy(g[role]);
      w.copy(g[direct]);
      w.copy(g[active]);
      w.sf_date(g[start]);
      w.o.end_row();
    }
  }
  // Campaign memberships (Contacts and Leads).
  if (contact || lead) {
    constexpr entity_index E = ent_campaign_member;
    constexpr std::size_t campaign = plain_column(E, "campaign_id"), st = plain_column(E, "status"),
                          responded = plain_column(E, "has_responded"),
                          joined = plain_column(E, "joined_at");
    csv_cursor cur(b.plain.csv[E].text());
    auto& g = b.fields[E];
    raw_writer w{b.csv[rf_campaign_member], s};
    for (std::uint64_t m = 0; cur.next(g); ++m) {
      w.sfdc(sf_campaign_member, p * 32 + m);
      w.sfdc_ref(sf_campaign, g[campaign]);
      w.sfdc(contact ? sf_contact : sf_lead, p + 1);
      w.copy(g[st]);
      w.copy(g[responded]);
      w.sf_datetime(g[joined]);
      w.o.end_row();
    }
  }
  if (!marketo) return;
  // Static list memberships and activities (Marketo).
  {
    constexpr entity_index E = ent_marketing_list_member;
    constexpr std::size_t list = plain_column(E, "list_id"), added = plain_column(E, "added_at");
    csv_cursor cur(b.plain.csv[E].text());
    auto& g = b.fields[E];
    raw_writer w{b.csv[rf_marketo_list_members], s};
    while (cur.next(g)) {
      const std::size_t k = pick_instance();
      s.assign(marketo_instances[k].prefix);
      s.append(std::to_string(marketo_list_base + plain_key_number(g[list])));
      w.o.raw(s);
      w.o.raw(b.lead_ids[k]);
      w.o.raw(g[added]);
      w.o.end_row();
    }
  }
  {
    constexpr entity_index E = ent_event;
    constexpr std::size_t campaign = plain_column(E, "campaign_id"), type = plain_column(E, "type"),
                          ts = plain_column(E, "timestamp"), url = plain_column(E, "url");
    csv_cursor cur(b.plain.csv[E].text());
    auto& g = b.fields[E];
    raw_writer w{b.csv[rf_marketo_activities], s};
    while (cur.next(g)) {
      w.o.raw(b.lead_ids[pick_instance()]);
      w.o.raw(g[ts]);
      std::size_t t = 0;
      while (t + 1 < event_types.size() && event_types[t] != g[type]) ++t;
      w.o.integer(marketo_activity_type[t]);
      w.o.raw(g[type]);
      w.sfdc_ref(sf_campaign, g[campaign]);
      w.copy(g[url]);
      w.o.end_row();
    }
  }
}

}  // namespace detail::gen

/// The schema.json text that generate_sources_dataset writes (SPEC 2.3).
inline std::string default_sources_schema_json() {
  return detail::gen::sources_schema_json();
}

/// Writes the world that `generate_dataset(dir, options)` writes as raw exports of Salesforce and
/// two Marketo instances, plus a schema.json that resolves them into the plain dataset's entities,
/// attributes and links (SPEC 2.3; layout, overlaps and correspondence: the top of
/// gen/sources.hpp), into `dir` (created if missing, with its subfolders `salesforce/`,
/// `marketo_na/`, `marketo_emea/`, `marketo/`). About 1.6 person rows (Contact, Lead, Marketo
/// leads) per person. Same options -> same bytes, whatever the thread count; blocks are generated
/// in parallel as generate_dataset's, each file written aside and renamed into place. Memory: the
/// plan, a byte per person, and a few MB per thread of row buffers. `report.rows` is keyed by
/// file path ("salesforce/Contact.csv"); progress counts accounts + people.
/// Throws data_error on I/O failure.
inline generate_report generate_sources_dataset(const std::string& dir,
                                                const generate_options& options,
                                                const generate_progress& progress = {}) {
  using namespace detail::gen;
  std::vector<output_spec> outputs;
  for (const raw_file_desc& f : raw_files)
    outputs.push_back({std::string(f.path), raw_header(f), std::string(f.path)});
  return run_generator(
      dir, options, progress, outputs, sources_schema_json(),
      [](const detail::gen::plan& pl, std::size_t batch, std::vector<output_file>& files,
         std::vector<std::uint64_t>& rows, const std::function<void(std::uint64_t)>& advance) {
        // Accounts first: they say who is on a contact role, and so must be a Contact.
        std::vector<std::uint8_t> has_role(pl.people, 0);
        run_block_pipeline<source_block>(
            pl.accounts, 256, batch,
            [&pl](std::uint64_t lo, std::uint64_t hi, source_block& b) {
              write_source_account_block(pl, lo, hi, b);
            },
            [&](source_block& b) {
              append_block(files, rows, b.csv);
              for (std::uint64_t p : b.role_people) has_role[p] = 1;
            },
            advance);
        source_block small;
        write_source_campaigns_and_lists(pl, small);
        append_block(files, rows, small.csv);
        run_block_pipeline<source_block>(
            pl.people, 1024, batch,
            [&pl, &has_role](std::uint64_t lo, std::uint64_t hi, source_block& b) {
              for (std::uint64_t p = lo; p < hi; ++p) write_source_person(pl, has_role, p, b);
            },
            [&](source_block& b) { append_block(files, rows, b.csv); }, advance);
      });
}

}  // namespace b2bseg
