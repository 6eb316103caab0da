// Row writers of the generator: blocks of accounts or of people into per-entity CSV buffers.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/gen/b2b_schema.hpp"
#include "b2bseg/gen/csv_text.hpp"
#include "b2bseg/gen/model.hpp"
#include "b2bseg/gen/random.hpp"
#include "b2bseg/gen/vocab.hpp"

namespace b2bseg::detail::gen {

/// Event types, in the order of `event_kind`.
inline constexpr std::array<std::string_view, 7> event_types = {
    "web.pageview",       "email.open",       "email.click",   "form.submit",
    "webinar.registered", "webinar.attended", "demo.requested"};
enum event_kind : std::uint8_t {
  ev_pageview,
  ev_email_open,
  ev_email_click,
  ev_form_submit,
  ev_webinar_registered,
  ev_webinar_attended,
  ev_demo_requested
};
/// What a form.submit posted.
enum form_kind : std::uint8_t { form_contact, form_demo, form_gated, form_event, form_landing };

/// Campaign member statuses and whether each counts as a response.
struct member_status_info {
  std::string_view name;
  bool responded;
};
inline constexpr std::array<member_status_info, 13> member_statuses = {
    {{"Sent", false},
     {"Opened", false},
     {"Clicked", true},
     {"Bounced", false},
     {"Unsubscribed", false},
     {"Invited", false},
     {"Registered", true},
     {"Attended", true},
     {"Attended On-Demand", true},
     {"No Show", true},
     {"Visited Booth", true},
     {"Responded", true},
     {"Downloaded", true}}};
enum member_status : std::uint8_t {
  ms_sent,
  ms_opened,
  ms_clicked,
  ms_bounced,
  ms_unsubscribed,
  ms_invited,
  ms_registered,
  ms_attended,
  ms_attended_on_demand,
  ms_no_show,
  ms_visited_booth,
  ms_responded,
  ms_downloaded
};

/// One event of a person before sorting by time.
struct event_rec {
  std::int64_t ts;
  std::uint32_t seq;       ///< creation order: ties on ts keep it, so the output is deterministic
  std::uint32_t campaign;  ///< campaign number + 1; 0: none
  std::uint8_t type;       ///< event_kind
  std::uint8_t page;       ///< into site_pages, or a form_kind for form.submit
  std::uint8_t slug;       ///< into content_slugs
};

/// The output of one block: a CSV buffer per entity, plus scratch space reused across blocks.
struct block_output {
  std::array<csv_rows, entity_count> csv;
  std::string scratch;
  std::vector<event_rec> events;
  std::vector<std::uint32_t> picked;
  void clear() {
    for (auto& c : csv) c.clear();
  }
};

inline constexpr char account_prefix = 'A', person_prefix = 'P', opportunity_prefix = 'O',
                      campaign_prefix = 'C', list_prefix = 'L';
inline constexpr int campaign_key_width = 6, list_key_width = 4;

/// Appends a phone number in the country's format ("+1 415 555 0134").
inline void append_phone(std::string& s, std::size_t country, rng& r) {
  const country_info& c = countries[country];
  s.append(c.phone_code);
  auto digits = [&](int n) {
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + r.below(10)));
  };
  if (c.phone_code == "+1") {
    s.push_back(' ');
    s.append(std::to_string(r.between(201, 989)));
    s.append(" 555 01");
    digits(2);
  } else {
    s.push_back(' ');
    digits(static_cast<int>(r.between(1, 3)));
    s.push_back(' ');
    digits(4);
    s.push_back(' ');
    digits(4);
  }
}

// --- accounts, opportunities, contact roles -----------------------------------------------------

inline void write_account_row(const plan& pl, std::uint64_t j, block_output& b) {
  csv_rows& o = b.csv[ent_account];
  std::string& s = b.scratch;
  const account_core& a = pl.account[j];
  const country_info& country = countries[a.country];
  rng r(pl.seed, stream::account_row, j);
  o.key(account_prefix, j + 1);
  if (a.parent)
    o.key(account_prefix, a.parent);
  else
    o.null();
  s.clear();
  append_base_name(s, pl, j);
  s.append(pick_piped(country.legal, r));
  o.str(s);
  s.clear();
  append_domain(s, pl, j);
  o.raw(s);
  if (r.chance(0.07))
    o.null();
  else
    o.str(industries[a.industry].name);
  const bool employees_null = r.chance(0.12);
  if (employees_null)
    o.null();
  else
    o.integer(static_cast<std::int64_t>(a.employees));
  if (r.chance(employees_null ? 0.6 : 0.2)) {
    o.null();
  } else {
    const double revenue = static_cast<double>(a.employees) *
                           industries[a.industry].revenue_per_employee * r.lognormal(1.0, 0.45);
    o.cents(static_cast<std::int64_t>(revenue / 1000.0) * 100000);  // whole thousands
  }
  const bool no_country = r.chance(0.02);
  if (no_country) {
    o.null();
    o.null();
  } else {
    o.str(country.name);
    o.raw(regions[country.region]);
  }
  if (no_country || r.chance(0.05))
    o.null();
  else
    o.str(pick_piped(country.cities, r));
  if (r.chance(0.2)) {
    o.null();
  } else {
    static constexpr std::string_view streets[] = {
        "Market", "Main", "Oak",   "Mission", "Broadway", "Park", "Elm",     "Harbor",
        "Lake",   "Hill", "River", "Church",  "High",     "King", "Station", "Innovation"};
    static constexpr std::string_view kinds[] = {"Street", "Avenue", "Road", "Boulevard",
                                                 "Way",    "Drive",  "Lane", "Plaza"};
    s.clear();
    s.append(std::to_string(r.between(1, 2500)));
    s.push_back(' ');
    s.append(streets[r.below(std::size(streets))]);
    s.push_back(' ');
    s.append(kinds[r.below(std::size(kinds))]);
    if (r.chance(0.12)) {  // CRM street fields are multi-line
      s.append("\nSuite ");
      s.append(std::to_string(r.between(100, 2400)));
    }
    o.str(s);
  }
  if (r.chance(0.3)) {
    o.null();
  } else {
    s.clear();
    append_phone(s, a.country, r);
    o.raw(s);
  }
  o.str(account_types[a.type]);
  o.raw(tiers[a.tier]);
  const std::size_t ob = pl.owner_base[country.region], oe = pl.owner_base[country.region + 1];
  o.str(pl.owners[ob + r.below(oe - ob)]);
  o.timestamp(a.created);
  // Tags: a mix of industry themes and sales/marketing labels; none for ~45%.
  if (r.chance(0.45)) {
    o.null();
  } else {
    std::array<std::string_view, 4> tags{};
    std::size_t n = 0;
    auto add = [&](std::string_view t) {
      for (std::size_t i = 0; i < n; ++i)
        if (tags[i] == t) return;
      if (n < tags.size()) tags[n++] = t;
    };
    if (r.chance(0.7)) add(pick_piped(industries[a.industry].tags, r));
    if (a.type == at_customer && r.chance(0.4))
      add(r.chance(0.5) ? "reference" : r.chance(0.5) ? "upsell" : "at-risk");
    const std::uint64_t extra = r.below(3);
    for (std::uint64_t i = 0; i < extra; ++i) add(account_tags[r.below(account_tags.size())]);
    if (a.tier >= 2 && r.chance(0.3)) add("abm");
    if (n == 0) add(account_tags[r.below(account_tags.size())]);
    s.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (i) s.push_back('|');
      s.append(tags[i]);
    }
    o.raw(s);
  }
  o.end_row();
}

/// Picks k distinct values of [0, n) into `out` (k <= n).
inline void pick_distinct(rng& r, std::uint64_t n, std::uint64_t k,
                          std::vector<std::uint32_t>& out) {
  out.clear();
  if (n <= 64) {
    std::array<std::uint32_t, 64> all{};
    for (std::uint32_t i = 0; i < n; ++i) all[i] = i;
    for (std::uint64_t i = 0; i < k; ++i) {
      const std::uint64_t x = i + r.below(n - i);
      std::swap(all[i], all[x]);
      out.push_back(all[i]);
    }
    return;
  }
  while (out.size() < k) {
    const auto x = static_cast<std::uint32_t>(r.below(n));
    if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
  }
}

inline void write_opportunities(const plan& pl, std::uint64_t j, block_output& b) {
  const account_core& a = pl.account[j];
  const std::uint64_t first = pl.opportunity_base[j], last = pl.opportunity_base[j + 1];
  const std::uint64_t size = pl.account_size(j);
  csv_rows& o = b.csv[ent_opportunity];
  csv_rows& roles = b.csv[ent_opportunity_person];
  std::string& s = b.scratch;
  static constexpr double tier_amount[] = {9000, 32000, 95000, 240000};
  static constexpr double type_amount[] = {1.0, 0.6, 0.85, 0.4};
  for (std::uint64_t id = first; id < last; ++id) {
    const std::uint64_t i = id - first;
    rng r(pl.seed, stream::opportunity, id);
    // Outcome (0 open, 1 won, 2 lost) and type, consistent with the account's type: customers
    // have won their first deal, prospects have won none, former customers lost their renewals.
    std::size_t outcome = 0, type = 0;
    switch (a.type) {
      case at_customer:
        if (i == 0) {
          outcome = 1;
        } else {
          outcome = pick_index(r, {35, 45, 20});
          type = 1 + pick_index(r, {35, 35, 15});
          if (r.chance(0.15)) type = 0;
        }
        break;
      case at_prospect:
        outcome = r.chance(0.5) ? 0 : 2;
        break;
      case at_former_customer:
        if (i == 0) {
          outcome = 1;
        } else {
          outcome = pick_index(r, {15, 0, 85});  // lost renewals, win-back attempts
          type = pick_index(r, {25, 15, 60, 0});
        }
        break;
      default:
        outcome = pick_index(r, {45, 25, 30});
        type = pick_index(r, {60, 20, 20, 0});
    }
    std::size_t stage = 0;
    if (outcome == 0) {
      std::uint64_t total = 0;
      for (std::size_t k = 0; k < stage_closed_won; ++k) total += stages[k].weight;
      std::uint64_t t = r.below(total);
      for (; stage + 1 < stage_closed_won && t >= stages[stage].weight; ++stage)
        t -= stages[stage].weight;
    } else {
      stage = outcome == 1 ? stage_closed_won : stage_closed_lost;
    }
    int probability = stages[stage].probability;
    if (outcome == 0 && r.chance(0.12))  // a rep's override
      probability = std::clamp(probability + static_cast<int>(r.between(-2, 2)) * 5, 5, 95);
    // Dates: closed deals closed within three years before as_of, after the account existed.
    std::int64_t created = 0, close_day = 0;
    const std::int64_t today = floor_div(pl.as_of, day);
    const std::int64_t account_day = floor_div(a.created, day);
    bool closed = outcome != 0;
    if (closed && account_day + 15 >= today) {
      closed = false;
      outcome = 0;
      stage = 0;
      probability = stages[0].probability;
    }
    if (closed) {
      close_day = today - 1 - static_cast<std::int64_t>((3 * 365 - 1) * r.skewed(1.2));
      if (close_day < account_day + 14)
        close_day = account_day + 14 + r.between(0, today - account_day - 15);
      const std::int64_t cycle =
          static_cast<std::int64_t>(std::clamp(r.lognormal(70.0, 0.6), 7.0, 540.0) * day);
      created =
          std::max(a.created, close_day * day - cycle + static_cast<std::int64_t>(r.below(day)));
    } else {
      const std::int64_t age = std::min<std::int64_t>(
          static_cast<std::int64_t>(std::clamp(r.lognormal(45.0, 0.8), 1.0, 400.0) * day),
          pl.as_of - a.created - 3600);
      created = pl.as_of - std::max<std::int64_t>(age, 3600);
      if (r.chance(0.15))
        close_day = today - r.between(1, 45);  // overdue
      else
        close_day =
            today + static_cast<std::int64_t>(std::clamp(r.lognormal(60.0, 0.6), 1.0, 365.0));
      close_day = std::max(close_day, floor_div(created, day) + 1);
    }
    const double amount = tier_amount[a.tier] * type_amount[type] * r.lognormal(1.0, 0.8);
    const bool amount_null = outcome == 0 && stage <= 1 && r.chance(0.2);

    o.key(opportunity_prefix, id + 1);
    o.key(account_prefix, j + 1);
    s.clear();
    append_base_name(s, pl, j);
    s.append(" - ");
    if (r.chance(0.05)) {
      s.append("\"Project ");
      s.append(code_names[r.below(code_names.size())]);
      s.push_back('"');
    } else if (type == 2) {
      const civil_date d = civil_from_days(close_day);
      s.append("Renewal FY");
      s.append(std::to_string((d.year + 1) % 100));
    } else {
      s.append(products[r.below(products.size())]);
      if (type == 1) s.append(" Expansion");
      if (type == 3) s.append(" Cross-sell");
    }
    o.str(s);
    o.raw(stages[stage].name);
    if (amount_null)
      o.null();
    else if (r.chance(0.7))
      o.cents(static_cast<std::int64_t>(amount / 100.0 + 1) * 10000);
    else
      o.cents(static_cast<std::int64_t>(amount * 100.0) + 100);
    o.integer(probability);
    o.raw(stages[stage].forecast);
    o.timestamp(close_day * day);
    o.boolean(outcome != 0);
    o.boolean(outcome == 1);
    o.raw(opportunity_types[type]);
    o.timestamp(created);
    o.end_row();

    // Contact roles: a buying committee drawn from the account's people; the most senior one is
    // the primary contact.
    if (size == 0) continue;
    const std::uint64_t want = 1 + r.poisson(a.tier >= 2 ? 2.2 : 1.2);
    const std::uint64_t k = std::min<std::uint64_t>({size, want, 8});
    pick_distinct(r, size, k, b.picked);
    std::array<std::uint64_t, 8> who{};
    std::array<std::uint8_t, 8> sen{};
    std::size_t primary = 0;
    for (std::size_t m = 0; m < k; ++m) {
      const std::uint64_t slot = pl.bounds[j] + b.picked[m];
      who[m] = pl.person_slot.inverse(slot);
      sen[m] = make_person_core(pl, who[m], slot).seniority;
      if (sen[m] < sen[primary]) primary = m;
    }
    for (std::size_t m = 0; m < k; ++m) {
      roles.key(opportunity_prefix, id + 1);
      roles.key(person_prefix, who[m] + 1);
      if (r.chance(0.03))
        roles.null();
      else
        roles.raw(pick_piped(opportunity_roles[sen[m]], r));
      roles.boolean(m == primary);
      roles.end_row();
    }
  }
}

/// Accounts [first, last) with their opportunities and opportunity contact roles.
inline void write_account_block(const plan& pl, std::uint64_t first, std::uint64_t last,
                                block_output& b) {
  for (std::uint64_t j = first; j < last; ++j) {
    write_account_row(pl, j, b);
    write_opportunities(pl, j, b);
  }
}

/// All campaigns and marketing lists (small; one block).
inline void write_campaigns_and_lists(const plan& pl, block_output& b) {
  csv_rows& o = b.csv[ent_campaign];
  for (std::size_t i = 0; i < pl.campaigns.size(); ++i) {
    const campaign_core& c = pl.campaigns[i];
    o.key(campaign_prefix, i + 1, campaign_key_width);
    o.str(c.name);
    o.raw(campaign_types[c.type].name);
    o.raw(campaign_types[c.type].channel);
    o.raw(campaign_statuses[c.status]);
    o.timestamp(c.start);
    o.timestamp(c.end);
    if (c.budget < 0)
      o.null();
    else
      o.cents(c.budget);
    if (c.actual < 0)
      o.null();
    else
      o.cents(c.actual);
    o.end_row();
  }
  csv_rows& l = b.csv[ent_marketing_list];
  for (std::size_t i = 0; i < pl.lists.size(); ++i) {
    l.key(list_prefix, i + 1, list_key_width);
    l.str(pl.lists[i].name);
    l.raw(pl.lists[i].dynamic ? "Dynamic" : "Static");
    l.timestamp(pl.lists[i].created);
    l.end_row();
  }
}

// --- people and their activity ------------------------------------------------------------------

inline void append_email(std::string& s, const plan& pl, const person_core& c, std::size_t fi,
                         std::size_t li, std::uint64_t suffix, rng& r) {
  const std::string& f = first_name_table().slugs[fi];
  const std::string& l = last_name_table().slugs[li];
  if (c.account) {
    const std::uint64_t j = c.account - 1;
    switch (pl.account[j].email_format) {
      case 1:
        s.append(f).append("_").append(l);
        break;
      case 2:
        s.append(l).append(".").append(f);
        break;
      case 3:
        s.append(f).append("-").append(l);
        break;
      default:
        s.append(f).append(".").append(l);
    }
    if (suffix) s.append(std::to_string(suffix + 1));
    s.push_back('@');
    append_domain(s, pl, j);
  } else {
    s.append(f).append(".").append(l);
    if (suffix) s.append(std::to_string(suffix + 1));
    s.push_back('@');
    s.append(free_mail_domains[r.below(free_mail_domains.size())]);
  }
}

/// Appends the URL of an event to s; false when the event has no URL (email.open).
inline bool append_event_url(std::string& s, const event_rec& e) {
  auto campaign_key = [&] {
    csv_rows::append_key(s, campaign_prefix, e.campaign, campaign_key_width);
  };
  auto page = [&] {
    s.append(site);
    const std::string_view path = site_pages[e.page];
    s.append(path);
    if (path.back() == '/' && path.size() > 1) s.append(content_slugs[e.slug]);
  };
  switch (e.type) {
    case ev_email_open:
      return false;
    case ev_pageview:
      page();
      if (e.campaign) {
        s.append("?utm_source=ads&utm_medium=paid&utm_campaign=");
        campaign_key();
      }
      return true;
    case ev_email_click:
      page();
      if (e.campaign) {
        s.append("?utm_source=email&utm_medium=email&utm_campaign=");
        campaign_key();
      } else {
        s.append("?utm_source=sales_email");
      }
      return true;
    case ev_form_submit:
      s.append(site);
      switch (e.page) {
        case form_contact:
          s.append("/contact");
          break;
        case form_demo:
          s.append("/demo");
          break;
        case form_gated:
          s.append("/resources/");
          s.append(content_slugs[e.slug]);
          break;
        case form_event:
          s.append("/events/");
          campaign_key();
          s.append("/register");
          break;
        default:
          s.append("/lp/");
          s.append(content_slugs[e.slug]);
          if (e.campaign) {
            s.append("?utm_source=ads&utm_medium=paid&utm_campaign=");
            campaign_key();
          }
      }
      return true;
    case ev_webinar_registered:
      s.append(site);
      s.append("/webinars/");
      campaign_key();
      s.append("/register");
      return true;
    case ev_webinar_attended:
      s.append("https://events.vendor.example/live/");
      campaign_key();
      return true;
    default:  // demo.requested
      s.append(site);
      s.append("/demo");
      return true;
  }
}

/// Everything about person p: the person row, account relations, campaign and list memberships,
/// and the person's events in time order.
inline void write_person(const plan& pl, std::uint64_t p, block_output& b) {
  const person_core c = make_person_core(pl, p);
  const std::int64_t as_of = pl.as_of;
  std::string& s = b.scratch;
  const account_core* acct = c.account ? &pl.account[c.account - 1] : nullptr;

  // Person.
  rng r(pl.seed, stream::person_row, p);
  csv_rows& o = b.csv[ent_person];
  const std::uint64_t pair =
      (c.account ? c.rank * 7919 + (c.account - 1) * 104729 + 17 : c.rank * 7919 + 31) %
      pl.name_pairs;
  const std::uint64_t suffix = c.rank / pl.name_pairs;
  const std::size_t fcount = first_name_table().names.size();
  const std::size_t fi = pair % fcount, li = pair / fcount;
  o.key(person_prefix, p + 1);
  if (c.account)
    o.key(account_prefix, c.account);
  else
    o.null();
  if (r.chance(0.02)) {
    o.null();
  } else {
    s.clear();
    append_email(s, pl, c, fi, li, suffix, r);
    o.raw(s);
  }
  o.str(first_name_table().names[fi]);
  o.str(last_name_table().names[li]);
  if (r.chance(0.45)) {
    o.null();
  } else {
    s.clear();
    append_phone(s, c.country, r);
    o.raw(s);
  }
  if (r.chance(0.08))
    o.null();
  else
    o.str(pick_piped(job_titles[c.department][c.seniority], r));
  if (r.chance(0.04))
    o.null();
  else
    o.raw(seniorities[c.seniority]);
  if (r.chance(0.07))
    o.null();
  else
    o.str(departments[c.department]);
  if (r.chance(0.03))
    o.null();
  else
    o.str(countries[c.country].name);
  if (r.chance(0.1))
    o.null();
  else
    o.str(lead_sources.pick_value(r));
  const double bonus = c.seniority <= sen_vp ? 8 : c.seniority == sen_director ? 5 : 0;
  const int score = static_cast<int>(std::clamp(
      std::round(45 + 14 * std::log(c.engagement + 0.1) + bonus + 6 * r.normal()), 0.0, 100.0));
  // Lead status, consistent with the account and the score.
  static constexpr std::array<std::string_view, 8> statuses = {
      "New", "Working", "Nurturing", "MQL", "SQL", "Converted", "Disqualified", "Unqualified"};
  const std::uint32_t hot = score >= 65 ? 30 : 0, cold = score < 25 ? 1 : 0;
  std::size_t status;
  if (acct && acct->type == at_customer)
    status = pick_index(r, {2, 3, 10, 3, 2, 78, 2, 0});
  else if (acct)
    status = pick_index(r, {10, 12, 25, cold ? 0 : 10 + hot, cold ? 0 : 8 + hot / 2, 25, 6, 4});
  else
    status = pick_index(r, {25, 15, 28, cold ? 0 : 12 + hot, 0, 0, 10, 10});
  o.raw(statuses[status]);
  if (r.chance(0.06))
    o.null();
  else
    o.integer(score);
  o.boolean(acct && acct->type == at_customer);
  const bool opt_out = r.chance(status == 6 ? 0.25 : 0.06);
  o.boolean(opt_out);
  o.timestamp(c.created);
  o.end_row();

  // Account relations: the direct one, and for a few people an indirect one (a subsidiary's
  // people at the parent, consultants and board members elsewhere).
  if (acct) {
    rng ra(pl.seed, stream::account_relation, p);
    csv_rows& rel = b.csv[ent_account_person];
    rel.key(person_prefix, p + 1);
    rel.key(account_prefix, c.account);
    if (ra.chance(0.3))
      rel.null();
    else
      rel.raw(pick_piped(account_roles[c.seniority], ra));
    rel.boolean(true);
    rel.boolean(ra.chance(0.95));
    rel.timestamp(c.created);
    rel.end_row();
    if (ra.chance(0.04)) {
      std::uint64_t other;
      std::string_view role;
      if (acct->parent) {
        other = acct->parent;
        role = pick_piped("Executive Sponsor|Business User|Influencer", ra);
      } else {
        other = ra.below(pl.accounts) + 1;
        role = pick_piped("Consultant|Board Member|Former Employee|Advisor", ra);
      }
      if (other != c.account) {
        rel.key(person_prefix, p + 1);
        rel.key(account_prefix, other);
        rel.raw(role);
        rel.boolean(false);
        rel.boolean(role != "Former Employee");
        rel.timestamp(c.created + ra.between(0, std::max<std::int64_t>(0, as_of - c.created)));
        rel.end_row();
      }
    }
  }

  // Campaign memberships, and the events they imply.
  auto& events = b.events;
  events.clear();
  const std::int64_t window_lo = as_of - activity_window;
  auto add_event = [&](std::int64_t ts, std::uint8_t type, std::uint32_t campaign,
                       std::uint8_t page, std::uint8_t slug) {
    if (ts > as_of || ts < window_lo || ts < c.created) return;
    events.push_back({ts, static_cast<std::uint32_t>(events.size()), campaign, type, page, slug});
  };
  const double e = c.engagement;
  if (!pl.campaigns.empty()) {
    rng rc(pl.seed, stream::campaign_member, p);
    csv_rows& cm = b.csv[ent_campaign_member];
    const std::uint64_t k = std::min<std::uint64_t>(30, rc.poisson(0.8 + 1.2 * std::pow(e, 0.6)));
    auto& picked = b.picked;
    picked.clear();
    const std::uint32_t boost = e > 1.5 ? 4 : e < 0.3 ? 1 : 2;
    for (std::uint64_t m = 0; m < k; ++m) {
      for (int attempt = 0; attempt < 8; ++attempt) {
        const auto ci = static_cast<std::uint32_t>(pick_cumulative(pl.campaign_cum, rc));
        if (std::find(picked.begin(), picked.end(), ci) != picked.end()) continue;
        const campaign_core& cc = pl.campaigns[ci];
        const campaign_type_info& ct = campaign_types[cc.type];
        std::int64_t lo, hi;
        if (ct.kind == ck_webinar || ct.kind == ck_event) {
          lo = std::max({cc.start - 21 * day, c.created, window_lo});
          hi = std::min(cc.start - 600, as_of);
        } else {
          if (ct.kind == ck_email && opt_out) continue;
          lo = std::max({cc.start, c.created, window_lo});
          hi = std::min(cc.end, as_of);
        }
        if (lo > hi) continue;
        picked.push_back(ci);
        const std::int64_t joined =
            lo + static_cast<std::int64_t>(rc.below(static_cast<std::uint64_t>(hi - lo) + 1));
        const bool happened = cc.start + 3600 <= as_of;
        std::uint8_t st;
        switch (ct.kind) {
          case ck_email:
            st = static_cast<std::uint8_t>(pick_index(rc, {25, 7 * boost, 3 * boost, 2, 1}));
            break;
          case ck_webinar:
            st = happened
                     ? static_cast<std::uint8_t>(ms_invited + pick_index(rc, {25, 0, 40, 10, 25}))
                     : static_cast<std::uint8_t>(ms_invited + pick_index(rc, {40, 60}));
            break;
          case ck_event:
            st = happened
                     ? static_cast<std::uint8_t>(
                           ms_invited +
                           pick_index(rc, {30, 0, 40, 0, 15, ct.name == "Trade Show" ? 15u : 0u}))
                     : static_cast<std::uint8_t>(ms_invited + pick_index(rc, {50, 50}));
            break;
          case ck_paid:
            st = rc.chance(0.55) ? ms_clicked : ms_responded;
            break;
          case ck_content:
            st = ms_downloaded;
            break;
          default:
            st = rc.chance(0.6) ? ms_sent : ms_responded;
        }
        cm.key(campaign_prefix, ci + 1, campaign_key_width);
        cm.key(person_prefix, p + 1);
        cm.raw(member_statuses[st].name);
        cm.boolean(member_statuses[st].responded);
        cm.timestamp(joined);
        cm.end_row();
        const std::uint32_t cid = ci + 1;
        auto slug = [&] { return static_cast<std::uint8_t>(rc.below(content_slugs.size())); };
        auto pg = [&] { return static_cast<std::uint8_t>(site_pages.pick(rc)); };
        switch (ct.kind) {
          case ck_email:
            if (st == ms_opened || st == ms_clicked) {
              const std::int64_t open = joined + rc.between(300, 2 * day);
              add_event(open, ev_email_open, cid, 0, 0);
              if (st == ms_clicked)
                add_event(open + rc.between(5, 600), ev_email_click, cid, pg(), slug());
            }
            break;
          case ck_webinar:
            if (st != ms_invited) add_event(joined, ev_webinar_registered, cid, 0, 0);
            if (st == ms_attended)
              add_event(cc.start + rc.between(0, 600), ev_webinar_attended, cid, 0, 0);
            if (st == ms_attended_on_demand)
              add_event(cc.start + rc.between(day, 14 * day), ev_webinar_attended, cid, 0, 0);
            break;
          case ck_event:
            if (st != ms_invited) add_event(joined, ev_form_submit, cid, form_event, 0);
            break;
          case ck_paid: {
            add_event(joined, ev_pageview, cid, pg(), slug());
            if (st == ms_responded)
              add_event(joined + rc.between(30, 600), ev_form_submit, cid, form_landing, slug());
            break;
          }
          default:
            break;
        }
        break;
      }
    }
  }

  // Marketing list memberships.
  if (!pl.lists.empty()) {
    rng rl(pl.seed, stream::list_member, p);
    csv_rows& lm = b.csv[ent_marketing_list_member];
    const std::uint64_t k = std::min<std::uint64_t>(12, rl.poisson(0.5 + 0.6 * std::pow(e, 0.4)));
    auto& picked = b.picked;
    picked.clear();
    for (std::uint64_t m = 0; m < k; ++m) {
      for (int attempt = 0; attempt < 8; ++attempt) {
        const auto li2 = static_cast<std::uint32_t>(pick_cumulative(pl.list_cum, rl));
        if (opt_out && li2 < 2) continue;  // opted-in lists
        if (std::find(picked.begin(), picked.end(), li2) != picked.end()) continue;
        const std::int64_t lo = std::max(pl.lists[li2].created, c.created);
        if (lo > as_of) continue;
        picked.push_back(li2);
        lm.key(list_prefix, li2 + 1, list_key_width);
        lm.key(person_prefix, p + 1);
        lm.timestamp(
            lo + static_cast<std::int64_t>(rl.below(static_cast<std::uint64_t>(as_of - lo) + 1)));
        lm.end_row();
        break;
      }
    }
  }

  // Own activity: sessions of page views, sales emails, forms and demo requests; heavy-tailed in
  // the number per person and more frequent in recent months.
  rng rv(pl.seed, stream::event, p);
  std::uint64_t n = e == 0 ? 0 : std::min<std::uint64_t>(4000, rv.poisson(10.0 * e));
  const std::int64_t lo = std::max(c.created, window_lo);
  const std::int64_t span = as_of - lo;
  while (n > 0 && span > 0) {
    std::int64_t t = as_of - static_cast<std::int64_t>(static_cast<double>(span) * rv.skewed(1.6));
    const std::size_t kind = pick_index(rv, {82, 9, 5, 4});
    if (kind == 1) {
      add_event(t, ev_email_open, 0, 0, 0);
      --n;
    } else if (kind == 2) {
      add_event(t, ev_email_open, 0, 0, 0);
      add_event(t + rv.between(5, 900), ev_email_click, 0,
                static_cast<std::uint8_t>(site_pages.pick(rv)),
                static_cast<std::uint8_t>(rv.below(content_slugs.size())));
      n -= std::min<std::uint64_t>(n, 2);
    } else if (kind == 3) {
      add_event(t, ev_form_submit, 0, static_cast<std::uint8_t>(pick_index(rv, {30, 10, 60})),
                static_cast<std::uint8_t>(rv.below(content_slugs.size())));
      --n;
    } else {
      const std::uint64_t len = std::min<std::uint64_t>(n, 1 + rv.poisson(2.5));
      bool pricing = false;
      for (std::uint64_t v = 0; v < len; ++v) {
        const auto pg = static_cast<std::uint8_t>(site_pages.pick(rv));
        pricing |= site_pages[pg] == "/pricing";
        add_event(t, ev_pageview, 0, pg, static_cast<std::uint8_t>(rv.below(content_slugs.size())));
        t += rv.between(15, 300);
      }
      n -= len;
      if (pricing && rv.chance(c.seniority <= sen_director ? 0.12 : 0.04))
        add_event(t + rv.between(10, 120), ev_demo_requested, 0, 0, 0);
    }
  }
  std::sort(events.begin(), events.end(), [](const event_rec& x, const event_rec& y) {
    return x.ts != y.ts ? x.ts < y.ts : x.seq < y.seq;
  });
  csv_rows& ev = b.csv[ent_event];
  for (const event_rec& x : events) {
    ev.key(person_prefix, p + 1);
    if (x.campaign)
      ev.key(campaign_prefix, x.campaign, campaign_key_width);
    else
      ev.null();
    ev.raw(event_types[x.type]);
    ev.timestamp(x.ts);
    s.clear();
    if (append_event_url(s, x))
      ev.raw(s);
    else
      ev.null();
    ev.end_row();
  }
}

/// People [first, last) with everything hanging off them.
inline void write_person_block(const plan& pl, std::uint64_t first, std::uint64_t last,
                               block_output& b) {
  for (std::uint64_t p = first; p < last; ++p) write_person(pl, p, b);
}

}  // namespace b2bseg::detail::gen
