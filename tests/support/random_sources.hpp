// Random multi-source datasets for identity resolution tests (SPEC 2.3): accounts resolved from a
// CRM and an enrichment feed, people from Salesforce and one or two Marketo instances, plain
// entities linking into them by identity or by profile key (events, opportunities, and traces
// that name each source row's profile), and a plain entity the people link to by key. Rows overlap
// in their identities (chains that join transitively, emails differing in case and surrounding
// whitespace, duplicates within a source, rows with and without `updated_at`, equal `updated_at`
// spelled differently). The data is kept in memory as reference_resolver.hpp's tables and written
// as schema.json plus CSV files (columns in random order, CRLF now and then); shuffle_rows()
// permutes the rows. Every profile stays under 50 rows and every link resolves, so strict loads
// succeed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "random_graph.hpp"
#include "reference_resolver.hpp"

namespace b2bseg::test_support {

struct source_data_options {
  std::string merge = "priority";  ///< both resolved entities: "priority" or "latest"
  /// Every source has an `updated_at` column and every row its own instant: no ranking ties,
  /// so the merged values do not depend on row order.
  bool distinct_updates = false;
  double scale = 1.0;  ///< multiplies the numbers of profiles and rows
};

/// A generated dataset: the tables as written, and the instant the timestamps are near.
struct source_dataset {
  std::uint64_t seed = 0;
  timestamp_us as_of = 0;
  ref_dataset data;
};

namespace detail_src {

class generator {
 public:
  generator(std::uint64_t seed, const source_data_options& o)
      : r_(seed * 0x2545F4914F6CDD1DULL + 99), o_(o) {
    as_of_ = tstext::days_from_date(2026, 3, 1) * tstext::us_per_day;
    const int pool = static_cast<int>(r_.range(3, 10));  // few instants: many ties
    for (int i = 0; i < pool; ++i)
      update_pool_.push_back(as_of_ - r_.range(1, 90 * 86400) * tstext::us_per_second -
                             (r_.chance(0.3) ? r_.range(1, 999) * 1000 : 0));
  }

  source_dataset make(std::uint64_t seed) {
    source_dataset out;
    out.seed = seed;
    out.as_of = as_of_;
    reps_ = count(3, 8);
    ref_entity account = accounts();
    {
      ref_result tmp;
      for (const auto& p : detail_ref::resolve_identities(account, false, tmp).profiles)
        account_keys_.push_back(p.key);
    }
    out.data.entities.push_back(std::move(account));
    out.data.entities.push_back(people());
    out.data.entities.push_back(sales_reps());  // after person: a link to an entity named later
    if (r_.chance(0.7)) out.data.entities.push_back(opportunities());
    out.data.entities.push_back(events());
    out.data.entities.push_back(traces(out.data));
    return out;
  }

 private:
  rng r_;
  source_data_options o_;
  timestamp_us as_of_ = 0;
  std::vector<timestamp_us> update_pool_;
  std::int64_t distinct_ = 0;
  // Identity values that rows hold (exact ones as written, email ones normalized): link values
  // are drawn from them, so that every link finds its profile.
  std::vector<std::string> account_ids_, domains_, person_ids_, marketo_ids_, emails_;
  std::vector<std::string> account_keys_;
  std::size_t reps_ = 0;  // sales reps, keyed "U0".."U<n-1>"

  using vt = value_type;
  using fields = std::map<std::string, std::string>;

  std::size_t count(std::size_t lo, std::size_t hi) {
    const auto n = static_cast<double>(
                       r_.range(static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi))) *
                   o_.scale;
    return std::max<std::size_t>(1, static_cast<std::size_t>(n));
  }

  /// A table with `columns` in random order, now and then with a column the schema ignores.
  ref_table table(const std::string& file, std::vector<std::string> columns) {
    if (r_.chance(0.3)) columns.push_back("Notes, ignored");
    for (std::size_t k = columns.size(); k > 1; --k)
      std::swap(columns[k - 1], columns[r_.below(k)]);
    ref_table t;
    t.file = file;
    t.header = std::move(columns);
    return t;
  }
  static void add(ref_table& t, const fields& f) {
    std::vector<std::string> row;
    for (const auto& c : t.header) {
      auto it = f.find(c);
      row.push_back(it == f.end() ? (c == "Notes, ignored" ? "n/a" : "") : it->second);
    }
    t.rows.push_back(std::move(row));
  }

  // --- values ----------------------------------------------------------------------------------
  /// An email-rule value as a source might spell it: other case, surrounding whitespace.
  std::string variant(const std::string& v) {
    std::string s = v;
    switch (r_.below(6)) {
      case 0:
        for (char& c : s)
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        break;
      case 1:
        for (char& c : s)
          if (c >= 'a' && c <= 'z' && r_.chance(0.5)) c = static_cast<char>(c - 'a' + 'A');
        break;
      case 2:
        if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
        break;
      default:
        break;
    }
    static const char* pads[] = {" ", "\t", "  ", " \t"};
    if (r_.chance(0.2)) s = pads[r_.below(4)] + s;
    if (r_.chance(0.2)) s += pads[r_.below(4)];
    return s;
  }

  /// An `updated_at` field: from a small pool of instants in any ISO spelling, or empty.
  std::string updated(bool may_be_empty = true) {
    if (o_.distinct_updates)
      return tstext::any_form(
          as_of_ - (++distinct_) * 3637 * tstext::us_per_second - r_.range(0, 999) * 1000, r_);
    if (may_be_empty && r_.chance(0.25)) return "";
    return tstext::any_form(r_.pick(update_pool_), r_);
  }

  /// A non-null value of type `t`, as a CSV field.
  std::string value(vt t) {
    switch (t) {
      case vt::string: {
        const auto& v = detail_gen::vocabulary();
        for (;;) {
          const std::string& w = v[r_.below(v.size())];
          if (!w.empty() && w.find('\n') == std::string::npos) return w;
        }
      }
      case vt::integer: {
        const std::int64_t x =
            r_.chance(0.8) ? r_.range(-20, 500) : r_.range(-4'000'000'000, 9'000'000'000'000'000);
        return (x >= 0 && r_.chance(0.1) ? "+" : "") + std::to_string(x);
      }
      case vt::floating: {
        static const char* fixed[] = {"1e3", ".5", "-2.25", "0", "1234567.125", "3E-2"};
        if (r_.chance(0.3)) return fixed[r_.below(6)];
        return double_text(static_cast<double>(r_.range(-400000, 400000)) / 8.0);
      }
      case vt::boolean: {
        static const char* words[] = {"true", "false", "TRUE", "False", "yes", "No", "1", "0"};
        return words[r_.below(8)];
      }
      case vt::timestamp:
        return tstext::any_form(as_of_ - r_.range(-30, 400) * tstext::us_per_day +
                                    r_.range(0, 86399) * tstext::us_per_second,
                                r_);
      case vt::string_list: {
        static const char* items[] = {"ai", "cloud",       "saas",     "security",
                                      "AI", "Caf\xC3\xA9", "data ops", "x"};
        std::string s;
        const auto n = r_.range(1, 3);
        for (std::int64_t i = 0; i < n; ++i) s += (i ? "|" : "") + std::string(items[r_.below(8)]);
        return s;
      }
    }
    return "";
  }
  /// Sets `f[column]` to a value of type `t`, or leaves it null now and then.
  void maybe(fields& f, const std::string& column, vt t, double null_rate = 0.35) {
    if (!r_.chance(null_rate)) f[column] = value(t);
  }

  static std::string flip_case(std::string s) {
    for (char& c : s) {
      if (c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 'a' + 'A');
      else if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
  }
  /// An exact id with letters: `prefix` + an upper and a lower letter + `n`.
  static std::string exact_id(const std::string& prefix, std::size_t n) {
    std::string s = prefix;
    s += static_cast<char>('A' + n % 26);
    s += static_cast<char>('a' + n / 26 % 26);
    return s + std::to_string(n);
  }

  template <class T>
  static void remember(std::vector<std::string>& pool, const T& v) {
    if (std::find(pool.begin(), pool.end(), v) == pool.end()) pool.push_back(v);
  }

  // --- account: a CRM and an enrichment feed ----------------------------------------------------
  ref_entity accounts() {
    ref_entity e;
    e.name = "account";
    e.key = "account_id";
    e.identities = {{"sfdc_account_id", "exact"}, {"domain", "email"}};
    if (r_.chance(0.3)) std::swap(e.identities[0], e.identities[1]);
    e.attributes = {{"name", vt::string, ""},         {"industry", vt::string, ""},
                    {"employees", vt::integer, ""},   {"revenue", vt::floating, ""},
                    {"is_customer", vt::boolean, ""}, {"founded", vt::timestamp, ""},
                    {"tags", vt::string_list, ""}};
    e.links = {{"parent", "account", "subsidiaries", {}}};
    e.merge = o_.merge;
    e.write_merge = o_.merge != "priority" || r_.chance(0.5);
    e.write_max_rows = r_.chance(0.3);

    ref_source crm;
    crm.name = "crm";
    crm.table = table("sfdc_account.csv",
                      {"Id", "Website", "Name", "Industry", "NumberOfEmployees", "AnnualRevenue",
                       "IsCustomer__c", "CreatedDate", "ParentId", "LastModifiedDate"});
    crm.identities = {{"sfdc_account_id", "Id"}, {"domain", "Website"}};
    crm.attributes = {{"name", "Name"},
                      {"industry", "Industry"},
                      {"employees", "NumberOfEmployees"},
                      {"revenue", "AnnualRevenue"},
                      {"is_customer", "IsCustomer__c"},
                      {"founded", "CreatedDate"}};
    crm.links = {{"parent", {"ParentId", "sfdc_account_id"}}};
    crm.updated_at = "LastModifiedDate";

    const bool enrich = r_.chance(0.7);
    const bool enrich_updated = o_.distinct_updates || r_.chance(0.5);
    ref_source feed;
    feed.name = "enrichment";
    std::vector<std::string> cols = {"domain", "company_name", "employee_count", "industry",
                                     "tags"};
    if (enrich_updated) cols.push_back("refreshed_at");
    feed.table = table("enrich/companies.csv", cols);
    feed.identities = {{"domain", "domain"}};
    feed.attributes = {{"name", "company_name"},
                       {"employees", "employee_count"},
                       {"industry", "industry"},
                       {"tags", "tags"}};
    if (enrich_updated) feed.updated_at = "refreshed_at";

    static const char* words[] = {"acme", "globex", "initech", "umbrella", "hooli", "stark"};
    const std::size_t n = count(8, 28);
    std::vector<std::string> prev_domains;
    int chain = 0;
    std::vector<std::size_t> crm_rows;  // rows whose ParentId is set below
    for (std::size_t c = 0; c < n; ++c) {
      std::vector<std::string> ids = {exact_id("001", c)};
      if (c > 0 && r_.chance(0.1)) ids[0] = flip_case(exact_id("001", c - 1));  // other value
      std::vector<std::string> domains = {std::string(words[c % 6]) + std::to_string(c) +
                                          (r_.chance(0.5) ? ".com" : ".io")};
      if (r_.chance(0.2)) domains.push_back("www." + domains[0]);
      // A chain: this company shares a domain with the previous one.
      if (!prev_domains.empty() && chain < 2 && r_.chance(0.15)) {
        domains.push_back(prev_domains.back());
        ++chain;
      } else {
        chain = 0;
      }
      bool any = false;
      const std::int64_t crm_n = r_.range(0, 2), feed_n = enrich ? r_.range(0, 2) : 0;
      for (std::int64_t k = 0; k < crm_n || (!any && feed_n == 0); ++k) {
        fields f;
        if (r_.chance(0.9)) f["Id"] = r_.pick(ids);
        if (r_.chance(0.6) || !f.count("Id")) f["Website"] = variant(r_.pick(domains));
        maybe(f, "Name", vt::string);
        maybe(f, "Industry", vt::string);
        maybe(f, "NumberOfEmployees", vt::integer);
        maybe(f, "AnnualRevenue", vt::floating);
        maybe(f, "IsCustomer__c", vt::boolean);
        maybe(f, "CreatedDate", vt::timestamp);
        f["LastModifiedDate"] = updated();
        if (f.count("Id")) remember(account_ids_, f["Id"]);
        if (f.count("Website")) remember(domains_, ref_normalize("email", f["Website"]));
        crm_rows.push_back(crm.table.rows.size());
        add(crm.table, f);
        any = true;
      }
      for (std::int64_t k = 0; k < feed_n; ++k) {
        fields f;
        f["domain"] = variant(r_.pick(domains));
        maybe(f, "company_name", vt::string);
        maybe(f, "employee_count", vt::integer);
        maybe(f, "industry", vt::string);
        maybe(f, "tags", vt::string_list);
        if (enrich_updated) f["refreshed_at"] = updated();
        remember(domains_, ref_normalize("email", f["domain"]));
        add(feed.table, f);
      }
      prev_domains = domains;
    }
    // Parents: by Salesforce id, any account (its own profile now and then).
    const int parent_col = crm.table.column("ParentId");
    for (std::size_t row : crm_rows)
      if (!account_ids_.empty() && r_.chance(0.3))
        crm.table.rows[row][static_cast<std::size_t>(parent_col)] = r_.pick(account_ids_);
    e.sources.push_back(std::move(crm));
    if (enrich) e.sources.push_back(std::move(feed));
    if (e.sources.size() == 2 && r_.chance(0.3)) std::swap(e.sources[0], e.sources[1]);
    return e;
  }

  // --- person: Salesforce contacts and Marketo leads -------------------------------------------
  ref_entity people() {
    ref_entity e;
    e.name = "person";
    e.key = "person_id";
    switch (r_.below(3)) {
      case 0:
        e.identities = {{"sfdc_id", "exact"}, {"marketo_id", "exact"}, {"email", "email"}};
        break;
      case 1:
        e.identities = {{"email", "email"}, {"sfdc_id", "exact"}, {"marketo_id", "exact"}};
        break;
      default:
        e.identities = {{"marketo_id", "exact"}, {"email", "email"}, {"sfdc_id", "exact"}};
        break;
    }
    e.attributes = {{"email", vt::string, ""},        {"first_name", vt::string, ""},
                    {"title", vt::string, ""},        {"lead_score", vt::integer, ""},
                    {"engagement", vt::floating, ""}, {"opted_out", vt::boolean, ""},
                    {"last_seen", vt::timestamp, ""}, {"interests", vt::string_list, ""}};
    e.links = {{"account", "account", "people", {}}, {"owner", "sales_rep", "contacts", {}}};
    e.merge = o_.merge;
    e.write_merge = o_.merge != "priority" || r_.chance(0.5);
    e.write_max_rows = r_.chance(0.3);

    ref_source sf;
    sf.name = "salesforce";
    sf.table = table("sfdc_contact.csv", {"Id", "Email", "FirstName", "Title", "HasOptedOutOfEmail",
                                          "AccountId", "OwnerId", "LastModifiedDate"});
    sf.identities = {{"sfdc_id", "Id"}, {"email", "Email"}};
    sf.attributes = {{"email", "Email"},
                     {"first_name", "FirstName"},
                     {"title", "Title"},
                     {"opted_out", "HasOptedOutOfEmail"}};
    // The owner: a plain entity's key.
    sf.links = {{"account", {"AccountId", "sfdc_account_id"}}, {"owner", {"OwnerId", ""}}};
    sf.updated_at = "LastModifiedDate";

    const bool by_domain = r_.chance(0.5);  // else by the account's profile key
    const std::string account_col = by_domain ? "company_domain" : "account_key";
    ref_source mk;
    mk.name = "marketo";
    mk.table = table("marketo_leads.csv",
                     {"id", "email", "sfdcContactId", "firstName", "leadScore", "engagement",
                      "interests", "lastActivity", account_col, "updatedAt"});
    mk.identities = {{"marketo_id", "id"}, {"email", "email"}, {"sfdc_id", "sfdcContactId"}};
    mk.attributes = {{"email", "email"},          {"first_name", "firstName"},
                     {"lead_score", "leadScore"}, {"engagement", "engagement"},
                     {"interests", "interests"},  {"last_seen", "lastActivity"}};
    mk.links = {{"account", {account_col, by_domain ? "domain" : ""}}};
    mk.updated_at = "updatedAt";

    const bool emea = r_.chance(0.6);
    ref_source em;
    em.name = "marketo_emea";
    std::vector<std::string> cols = {"Id", "Email", "Score", "JobTitle", "Unsubscribed"};
    if (o_.distinct_updates) cols.push_back("ModifiedAt");
    em.table = table("marketo/emea leads.csv", cols);
    em.identities = {{"marketo_id", "Id"}, {"email", "Email"}};
    em.attributes = {{"lead_score", "Score"}, {"title", "JobTitle"}, {"opted_out", "Unsubscribed"}};
    if (o_.distinct_updates) em.updated_at = "ModifiedAt";

    static const char* names[] = {"ana", "bo",     "chen",  "\xC3\xA9mile",
                                  "eli", "fatima", "goran", "hana"};
    const std::size_t n = count(15, 55);
    std::set<std::string> sfdc_taken;
    std::vector<std::string> prev_emails;
    int chain = 0;
    std::vector<std::pair<std::size_t, std::size_t>> account_rows;  // (source, row)
    for (std::size_t c = 0; c < n; ++c) {
      std::string sfdc;
      if (r_.chance(0.75)) {
        sfdc = exact_id("003", c);
        if (c > 0 && r_.chance(0.1)) sfdc = flip_case(exact_id("003", c - 1));
        // Now and then the same text as some Marketo id: another namespace, no match.
        if (r_.chance(0.15)) sfdc = std::to_string(70000 + r_.below(n * 3));
        if (!sfdc_taken.insert(sfdc).second) sfdc = exact_id("003", c);
        sfdc_taken.insert(sfdc);
      }
      std::vector<std::string> mids;
      if (r_.chance(0.85)) mids.push_back(std::to_string(70000 + c * 3));
      if (r_.chance(0.15)) mids.push_back(std::to_string(70000 + c * 3 + 1));
      std::vector<std::string> emails = {std::string(names[c % 8]) + "." + std::to_string(c) + "@" +
                                         (domains_.empty() ? "example.com" : r_.pick(domains_))};
      if (r_.chance(0.1))
        emails.push_back(std::string(names[(c + 3) % 8]) + std::to_string(c) + "@gmail.com");
      // A chain: this person shares an address with the previous one (info@...).
      if (!prev_emails.empty() && chain < 2 && r_.chance(0.15)) {
        const std::string shared = "info" + std::to_string(c) + "@shared.example";
        emails.push_back(shared);
        // The previous person's rows are written already: one more row of it holds the address.
        fields f;
        f["email"] = variant(shared);
        if (!marketo_prev_.empty() && r_.chance(0.5)) f["id"] = marketo_prev_;
        maybe(f, "firstName", vt::string);
        f["updatedAt"] = updated();
        add(mk.table, f);
        ++chain;
      } else {
        chain = 0;
      }
      bool any = false;
      const std::int64_t sf_n = sfdc.empty() ? (r_.chance(0.2) ? 1 : 0) : r_.range(0, 2);
      for (std::int64_t k = 0; k < sf_n; ++k) {
        fields f;
        if (!sfdc.empty() && r_.chance(0.92)) f["Id"] = sfdc;
        if (r_.chance(0.75) || !f.count("Id")) f["Email"] = variant(r_.pick(emails));
        maybe(f, "FirstName", vt::string);
        maybe(f, "Title", vt::string);
        maybe(f, "HasOptedOutOfEmail", vt::boolean);
        if (r_.chance(0.6)) f["OwnerId"] = "U" + std::to_string(r_.below(reps_));
        f["LastModifiedDate"] = updated();
        account_rows.emplace_back(0, sf.table.rows.size());
        add(sf.table, f);
        any = true;
      }
      const std::int64_t mk_n = r_.range(0, 3);
      for (std::int64_t k = 0; k < mk_n || !any; ++k) {
        fields f;
        if (!mids.empty() && r_.chance(0.9)) f["id"] = r_.pick(mids);
        if (r_.chance(0.8) || !f.count("id")) f["email"] = variant(r_.pick(emails));
        if (!sfdc.empty() && r_.chance(0.3)) f["sfdcContactId"] = sfdc;
        maybe(f, "firstName", vt::string);
        maybe(f, "leadScore", vt::integer);
        maybe(f, "engagement", vt::floating);
        maybe(f, "interests", vt::string_list);
        maybe(f, "lastActivity", vt::timestamp);
        f["updatedAt"] = updated();
        account_rows.emplace_back(1, mk.table.rows.size());
        add(mk.table, f);
        any = true;
      }
      const std::int64_t em_n = emea ? r_.range(0, 2) : 0;
      for (std::int64_t k = 0; k < em_n; ++k) {
        fields f;
        if (!mids.empty() && r_.chance(0.6)) f["Id"] = r_.pick(mids);
        if (r_.chance(0.8) || !f.count("Id")) f["Email"] = variant(r_.pick(emails));
        maybe(f, "Score", vt::integer);
        maybe(f, "JobTitle", vt::string);
        maybe(f, "Unsubscribed", vt::boolean);
        if (o_.distinct_updates) f["ModifiedAt"] = updated();
        add(em.table, f);
      }
      prev_emails = emails;
      marketo_prev_ = mids.empty() ? "" : mids[0];
    }
    // Account links: by Salesforce account id, by domain (any spelling) or by profile key.
    for (const auto& [s, row] : account_rows) {
      ref_table& t = s == 0 ? sf.table : mk.table;
      const std::string col = s == 0 ? "AccountId" : account_col;
      const auto ci = static_cast<std::size_t>(t.column(col));
      if (!r_.chance(0.7)) continue;
      if (s == 0 && !account_ids_.empty())
        t.rows[row][ci] = r_.pick(account_ids_);
      else if (s == 1 && by_domain && !domains_.empty())
        t.rows[row][ci] = variant(r_.pick(domains_));
      else if (s == 1 && !by_domain && !account_keys_.empty())
        t.rows[row][ci] = r_.pick(account_keys_);
    }
    // The identity values the rows hold, for the links of other entities.
    auto collect = [&](const ref_table& t, const char* id, const char* mid, const char* mail) {
      for (std::size_t i = 0; i < t.rows.size(); ++i) {
        if (id && !t.field(i, id).empty()) remember(person_ids_, t.field(i, id));
        if (mid && !t.field(i, mid).empty()) remember(marketo_ids_, t.field(i, mid));
        if (!t.field(i, mail).empty()) remember(emails_, ref_normalize("email", t.field(i, mail)));
      }
    };
    collect(sf.table, "Id", nullptr, "Email");
    collect(mk.table, "sfdcContactId", "id", "email");
    collect(em.table, nullptr, "Id", "Email");
    e.sources.push_back(std::move(sf));
    e.sources.push_back(std::move(mk));
    if (emea) e.sources.push_back(std::move(em));
    // Source order decides priority: shuffle it now and then.
    if (r_.chance(0.4)) std::swap(e.sources[0], e.sources[1]);
    if (emea && r_.chance(0.3)) std::swap(e.sources[0], e.sources[2]);
    return e;
  }
  std::string marketo_prev_;

  // --- plain entities --------------------------------------------------------------------------
  /// Sales reps: keyed, the owners of Salesforce contacts.
  ref_entity sales_reps() {
    ref_entity e;
    e.name = "sales_rep";
    e.key = "UserId";
    e.attributes = {{"name", vt::string, "Name"}, {"region", vt::string, "Region"}};
    e.table = table("users.csv", {"UserId", "Name", "Region"});
    for (std::size_t i = 0; i < reps_; ++i) {
      fields f;
      f["UserId"] = "U" + std::to_string(i);
      maybe(f, "Name", vt::string, 0.1);
      maybe(f, "Region", vt::string, 0.3);
      add(e.table, f);
    }
    return e;
  }

  /// Opportunities: keyed, linking to accounts and contacts by Salesforce id.
  ref_entity opportunities() {
    ref_entity e;
    e.name = "opportunity";
    e.key = "Id";
    e.attributes = {{"amount", vt::floating, "Amount"},
                    {"stage", vt::string, "StageName"},
                    {"close_date", vt::timestamp, "close_date"}};
    e.links = {{"account", "account", "opportunities", {"AccountId", "sfdc_account_id"}},
               {"contact", "person", "opportunities", {"ContactId", "sfdc_id"}}};
    e.table = table("opportunities.csv",
                    {"Id", "Amount", "StageName", "close_date", "AccountId", "ContactId"});
    const std::size_t n = count(5, 30);
    for (std::size_t i = 0; i < n; ++i) {
      fields f;
      f["Id"] = exact_id("006", i);
      maybe(f, "Amount", vt::floating, 0.2);
      maybe(f, "StageName", vt::string, 0.2);
      maybe(f, "close_date", vt::timestamp, 0.2);
      if (!account_ids_.empty() && r_.chance(0.85)) f["AccountId"] = r_.pick(account_ids_);
      if (!person_ids_.empty() && r_.chance(0.6)) f["ContactId"] = r_.pick(person_ids_);
      add(e.table, f);
    }
    return e;
  }

  /// Events: no key; a person by Marketo id or by email (any spelling), an account by key.
  ref_entity events() {
    ref_entity e;
    e.name = "event";
    const bool by_email = r_.chance(0.5);
    const std::string person_col = by_email ? "email" : "leadId";
    e.attributes = {{"type", vt::string, "activityType"},
                    {"occurred_at", vt::timestamp, "activityDate"},
                    {"value", vt::integer, "value"}};
    e.links = {{"person", "person", "events", {person_col, by_email ? "email" : "marketo_id"}},
               {"account", "account", "account_events", {"account_key", ""}}};
    e.table =
        table("events.csv", {"activityType", "activityDate", "value", person_col, "account_key"});
    const std::size_t n = count(20, 120);
    for (std::size_t i = 0; i < n; ++i) {
      fields f;
      maybe(f, "activityType", vt::string, 0.1);
      maybe(f, "activityDate", vt::timestamp, 0.1);
      maybe(f, "value", vt::integer, 0.5);
      if (r_.chance(0.9)) {
        if (by_email && !emails_.empty()) f[person_col] = variant(r_.pick(emails_));
        if (!by_email && !marketo_ids_.empty()) f[person_col] = r_.pick(marketo_ids_);
      }
      if (!account_keys_.empty() && r_.chance(0.3)) f["account_key"] = r_.pick(account_keys_);
      add(e.table, f);
    }
    return e;
  }

  /// Traces: one row per source row of every resolved entity, naming the row ("SOURCE#ORIGIN")
  /// and linking to its profile by one of the row's identities: the dump then shows which
  /// profile each source row went into.
  ref_entity traces(const ref_dataset& ds) {
    ref_entity e;
    e.name = "trace";
    e.attributes = {{"origin", vt::string, "origin"}};
    struct target {
      std::string link, entity, ns, column;
    };
    const std::vector<target> targets = {{"p_sfdc", "person", "sfdc_id", "person sfdc"},
                                         {"p_marketo", "person", "marketo_id", "person marketo"},
                                         {"p_email", "person", "email", "person email"},
                                         {"a_sfdc", "account", "sfdc_account_id", "account sfdc"},
                                         {"a_domain", "account", "domain", "account domain"}};
    std::vector<std::string> cols = {"origin"};
    for (const auto& t : targets) {
      e.links.push_back({t.link, t.entity, "traces_" + t.ns, {t.column, t.ns}});
      cols.push_back(t.column);
    }
    e.table = table("trace.csv", cols);
    for (const ref_entity& re : ds.entities) {
      if (!re.resolved()) continue;
      for (const ref_source& src : re.sources)
        for (std::size_t i = 0; i < src.table.rows.size(); ++i) {
          std::vector<fields> choices;
          for (const auto& [ns, col] : src.identities) {
            const std::string v = src.table.field(i, col);
            if (v.empty()) continue;
            for (const auto& t : targets)
              if (t.entity == re.name && t.ns == ns) {
                const bool email = detail_ref::rule_of(re, ns) == "email";
                choices.push_back({{t.column, email ? variant(ref_normalize("email", v)) : v}});
              }
          }
          if (choices.empty()) continue;
          fields f = r_.pick(choices);
          f["origin"] = src.name + "#" + std::to_string(src.table.origin_of(i));
          add(e.table, f);
        }
    }
    return e;
  }
};

}  // namespace detail_src

/// A random multi-source dataset from `seed` (the same seed, the same data).
inline source_dataset make_source_dataset(std::uint64_t seed, const source_data_options& o = {}) {
  detail_src::generator g(seed, o);
  return g.make(seed);
}

/// Permutes the data rows of every table (their `origin` follows them, so that a row keeps its
/// name) and the columns of every file.
inline void shuffle_rows(ref_dataset& ds, std::uint64_t seed) {
  rng r(seed * 0x9E3779B97F4A7C15ULL + 17);
  auto shuffle = [&](ref_table& t) {
    if (t.origin.empty())
      for (std::size_t i = 0; i < t.rows.size(); ++i) t.origin.push_back(i);
    for (std::size_t k = t.rows.size(); k > 1; --k) {
      const std::size_t j = r.below(k);
      std::swap(t.rows[k - 1], t.rows[j]);
      std::swap(t.origin[k - 1], t.origin[j]);
    }
    std::vector<std::size_t> perm(t.header.size());
    for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    for (std::size_t k = perm.size(); k > 1; --k) std::swap(perm[k - 1], perm[r.below(k)]);
    auto permute = [&](std::vector<std::string>& v) {
      std::vector<std::string> out;
      for (std::size_t p : perm) out.push_back(v[p]);
      v = std::move(out);
    };
    permute(t.header);
    for (auto& row : t.rows) permute(row);
  };
  for (auto& e : ds.entities) {
    shuffle(e.table);
    for (auto& s : e.sources) shuffle(s.table);
  }
}

namespace detail_src {

inline std::string csv_field(const std::string& v, rng& r) {
  const bool must = v.find_first_of(",\"\r\n") != std::string::npos;
  if (!must && (v.empty() || !r.chance(0.1))) return v;
  std::string s = "\"";
  for (char c : v) {
    if (c == '"') s += '"';
    s += c;
  }
  return s + "\"";
}

inline std::string json_map(const std::vector<std::pair<std::string, std::string>>& m) {
  std::string s = "{";
  for (std::size_t i = 0; i < m.size(); ++i)
    s += (i ? ", " : "") + json_string(m[i].first) + ": " + json_string(m[i].second);
  return s + "}";
}

inline std::string schema_json(const ref_dataset& ds, rng& r) {
  std::string js = "{\n  \"entities\": {";
  for (std::size_t k = 0; k < ds.entities.size(); ++k) {
    const ref_entity& e = ds.entities[k];
    js += (k ? ",\n    " : "\n    ") + json_string(e.name) + ": {";
    std::vector<std::string> members;
    if (!e.key.empty()) members.push_back("\"key\": " + json_string(e.key));
    if (e.resolved()) members.push_back("\"identities\": " + json_map(e.identities));
    std::string attrs = "\"attributes\": {";
    for (std::size_t a = 0; a < e.attributes.size(); ++a) {
      const ref_attr& ad = e.attributes[a];
      const std::string type = json_string(to_string(ad.type));
      attrs += (a ? ", " : "") + json_string(ad.name) + ": ";
      if (e.resolved() || (ad.column == ad.name && r.chance(0.8)))
        attrs += type;
      else
        attrs += "{\"type\": " + type + ", \"column\": " + json_string(ad.column) + "}";
    }
    members.push_back(attrs + "}");
    if (!e.links.empty()) {
      std::string links = "\"links\": {";
      for (std::size_t l = 0; l < e.links.size(); ++l) {
        const ref_link& ld = e.links[l];
        links += (l ? ", " : "") + json_string(ld.name) + ": {";
        if (!e.resolved()) links += "\"column\": " + json_string(ld.map.column) + ", ";
        links += "\"to\": " + json_string(ld.to) + ", \"reverse\": " + json_string(ld.reverse);
        if (!e.resolved() && !ld.map.identity.empty())
          links += ", \"identity\": " + json_string(ld.map.identity);
        links += "}";
      }
      members.push_back(links + "}");
    }
    if (e.resolved()) {
      if (e.write_merge) members.push_back("\"merge\": " + json_string(e.merge));
      if (e.write_max_rows)
        members.push_back("\"max_rows_per_profile\": " + std::to_string(e.max_rows_per_profile));
      std::string srcs = "\"sources\": [";
      for (std::size_t s = 0; s < e.sources.size(); ++s) {
        const ref_source& src = e.sources[s];
        srcs += (s ? ",\n        " : "\n        ");
        srcs += "{\"name\": " + json_string(src.name) +
                ", \"file\": " + json_string(src.table.file) +
                ",\n         \"identities\": " + json_map(src.identities);
        if (!src.attributes.empty())
          srcs += ",\n         \"attributes\": " + json_map(src.attributes);
        if (!src.links.empty()) {
          srcs += ",\n         \"links\": {";
          for (std::size_t l = 0; l < src.links.size(); ++l) {
            const auto& [name, m] = src.links[l];
            srcs += (l ? ", " : "") + json_string(name) + ": {\"column\": " + json_string(m.column);
            if (!m.identity.empty()) srcs += ", \"identity\": " + json_string(m.identity);
            srcs += "}";
          }
          srcs += "}";
        }
        if (!src.updated_at.empty())
          srcs += ",\n         \"updated_at\": " + json_string(src.updated_at);
        srcs += "}";
      }
      members.push_back(srcs + "\n      ]");
    } else {
      members.insert(members.begin(), "\"file\": " + json_string(e.table.file));
    }
    for (std::size_t m = 0; m < members.size(); ++m)
      js += (m ? ",\n      " : "\n      ") + members[m];
    js += "\n    }";
  }
  return js + "\n  }\n}\n";
}

inline bool write_text(const std::filesystem::path& p, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  std::FILE* f = std::fopen(p.string().c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

inline std::string csv_text(const ref_table& t, rng& r) {
  const std::string eol = r.chance(0.3) ? "\r\n" : "\n";
  std::string text = r.chance(0.15) ? "\xEF\xBB\xBF" : "";
  // Piece by piece: `"," + std::string` trips GCC 12's -Wrestrict false positive.
  auto line = [&](const std::vector<std::string>& fields) {
    for (std::size_t c = 0; c < fields.size(); ++c) {
      if (c) text += ',';
      text += csv_field(fields[c], r);
    }
  };
  line(t.header);
  for (const auto& row : t.rows) {
    text += eol;
    line(row);
  }
  if (r.chance(0.7)) text += eol;
  return text;
}

}  // namespace detail_src

/// Writes `ds` into folder `dir`: schema.json (SPEC 2.3) and every table as an RFC 4180 CSV file
/// (fields quoted where needed and now and then where not, `\n` or `\r\n`, sometimes a BOM).
/// `seed` picks the spellings. Returns false when a file cannot be written.
inline bool write_source_dataset(const ref_dataset& ds, const std::string& dir,
                                 std::uint64_t seed) {
  rng r(seed * 131 + 5);
  const std::filesystem::path root(dir);
  if (!detail_src::write_text(root / "schema.json", detail_src::schema_json(ds, r))) return false;
  for (const ref_entity& e : ds.entities) {
    if (!e.resolved() &&
        !detail_src::write_text(root / e.table.file, detail_src::csv_text(e.table, r)))
      return false;
    for (const ref_source& s : e.sources)
      if (!detail_src::write_text(root / s.table.file, detail_src::csv_text(s.table, r)))
        return false;
  }
  return true;
}

}  // namespace b2bseg::test_support
