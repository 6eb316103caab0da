// The generator's world model: account sizes and profiles, campaigns, lists, person profiles.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/gen/csv_text.hpp"
#include "b2bseg/gen/random.hpp"
#include "b2bseg/gen/vocab.hpp"

namespace b2bseg::detail::gen {

inline constexpr std::int64_t day = seconds_per_day;
inline constexpr std::int64_t year = 365 * day;
/// Events, campaigns and memberships cover the two years before as_of.
inline constexpr std::int64_t activity_window = 730 * day;

/// The profile of an account that other rows depend on (people, opportunities).
struct account_core {
  std::int64_t created = 0;       ///< seconds since the epoch
  std::uint64_t employees = 0;    ///< true head count (the CSV may hide it as null)
  std::uint64_t parent = 0;       ///< parent account number + 1; 0: none
  std::uint8_t industry = 0;      ///< into `industries`
  std::uint8_t country = 0;       ///< into `countries`
  std::uint8_t type = 0;          ///< account_type
  std::uint8_t tier = 0;          ///< into `tiers`
  std::uint8_t tld = 0;           ///< 0 .com, 1 the country's, 2 .io
  std::uint8_t email_format = 0;  ///< into `email_formats`
};

/// A campaign: its dates, status and how many members it tends to attract.
struct campaign_core {
  std::string name;
  std::int64_t start = 0, end = 0;  ///< seconds
  std::int64_t budget = -1;         ///< cents; -1: null
  std::int64_t actual = -1;         ///< cents; -1: null
  std::uint8_t type = 0;            ///< into `campaign_types`
  std::uint8_t status = 0;          ///< into `campaign_statuses`
};
inline constexpr std::array<std::string_view, 4> campaign_statuses = {"Planned", "In Progress",
                                                                      "Completed", "Aborted"};

/// A marketing list.
struct list_core {
  std::string name;
  std::int64_t created = 0;
  bool dynamic = false;
};

/// Everything decided before rows are written. Built once, then read concurrently.
struct plan {
  std::uint64_t seed = 0;
  std::int64_t as_of = 0;  ///< seconds
  std::uint64_t people = 0;
  std::uint64_t accounts = 0;
  std::uint64_t affiliated = 0;  ///< people with an account: slots [0, affiliated)
  std::vector<std::uint64_t>
      bounds;  ///< accounts + 1: account j owns slots [bounds[j], bounds[j+1])
  std::vector<account_core> account;
  std::vector<std::uint64_t> opportunity_base;  ///< accounts + 1: account j's opportunities
  std::vector<campaign_core> campaigns;
  std::vector<double> campaign_cum;  ///< cumulative popularity, for weighted draws
  std::vector<list_core> lists;
  std::vector<double> list_cum;
  permutation person_slot;  ///< person number -> slot (who works where, scattered over the file)
  permutation name_code;    ///< account number -> company-name code
  std::uint64_t name_space = 0;
  std::uint64_t name_pairs = 0;     ///< distinct (first, last) name pairs
  std::vector<std::string> owners;  ///< sales reps; region r owns [owner_base[r], owner_base[r+1])
  std::array<std::size_t, 5> owner_base{};

  std::uint64_t account_size(std::uint64_t j) const noexcept { return bounds[j + 1] - bounds[j]; }
  /// The account owning slot s (s < affiliated).
  std::uint64_t account_of_slot(std::uint64_t s) const noexcept {
    return static_cast<std::uint64_t>(std::upper_bound(bounds.begin(), bounds.end(), s) -
                                      bounds.begin()) -
           1;
  }
  std::uint64_t opportunities() const noexcept { return opportunity_base.back(); }
};

/// Draws an index from a cumulative weight table.
inline std::size_t pick_cumulative(const std::vector<double>& cum, rng& r) noexcept {
  const double t = r.uniform() * cum.back();
  const auto it = std::upper_bound(cum.begin(), cum.end(), t);
  return std::min<std::size_t>(static_cast<std::size_t>(it - cum.begin()), cum.size() - 1);
}

/// Company name parts of account j: prefix, stem, noun, and a number (0: none).
struct name_parts {
  std::size_t prefix, stem, noun;
  std::uint64_t number;
};
inline name_parts account_name_parts(const plan& pl, std::uint64_t j) noexcept {
  std::uint64_t x = pl.name_code.forward(j % pl.name_space);
  name_parts p{};
  p.number = j / pl.name_space;
  p.noun = x % name_nouns.size();
  x /= name_nouns.size();
  p.prefix = x % name_prefixes.size();
  p.stem = x / name_prefixes.size();
  return p;
}
/// "Bluewave Systems" (no legal form).
inline void append_base_name(std::string& s, const plan& pl, std::uint64_t j) {
  const name_parts p = account_name_parts(pl, j);
  s.append(name_prefixes[p.prefix]);
  s.append(name_stems[p.stem]);
  s.push_back(' ');
  s.append(name_nouns[p.noun]);
  if (p.number) {
    s.push_back(' ');
    s.append(std::to_string(p.number + 1));
  }
}
/// "bluewavesystems.co.uk": distinct across accounts, as the name code is.
inline void append_domain(std::string& s, const plan& pl, std::uint64_t j) {
  const name_parts p = account_name_parts(pl, j);
  for (char c : name_prefixes[p.prefix]) s.push_back(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  s.append(name_stems[p.stem]);
  for (char c : name_nouns[p.noun]) s.push_back(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (p.number) s.append(std::to_string(p.number + 1));
  const account_core& a = pl.account[j];
  s.append(a.tld == 1 ? countries[a.country].tld : a.tld == 2 ? ".io" : ".com");
}

/// The profile of a person that several files depend on.
struct person_core {
  std::uint64_t slot = 0;
  std::uint64_t account = 0;  ///< account number + 1; 0: an unconverted lead without account
  std::uint64_t rank = 0;     ///< position within the account, or among the leads
  std::int64_t created = 0;
  double engagement = 0;  ///< activity multiplier, mean 1, heavy-tailed; 0: dormant
  std::uint8_t seniority = 0;
  std::uint8_t department = 0;
  std::uint8_t country = 0;
};

/// The profile of person p, whose slot is `slot` (= pl.person_slot.forward(p)).
inline person_core make_person_core(const plan& pl, std::uint64_t p, std::uint64_t slot) {
  person_core c;
  c.slot = slot;
  rng r(pl.seed, stream::person_core, p);
  const account_core* a = nullptr;
  std::uint64_t size = 0;
  if (slot < pl.affiliated) {
    const std::uint64_t j = pl.account_of_slot(slot);
    c.account = j + 1;
    c.rank = slot - pl.bounds[j];
    a = &pl.account[j];
    size = pl.account_size(j);
  } else {
    c.rank = slot - pl.affiliated;
  }
  // Small companies' contacts are founders and executives; large ones' mostly staff.
  if (a && size <= 5)
    c.seniority = static_cast<std::uint8_t>(pick_index(r, {18, 12, 18, 25, 27}));
  else if (a)
    c.seniority = static_cast<std::uint8_t>(pick_index(r, {4, 8, 15, 27, 46}));
  else
    c.seniority = static_cast<std::uint8_t>(pick_index(r, {7, 8, 14, 28, 43}));
  if (c.seniority == sen_c_level && r.chance(0.45)) {
    c.department = 0;  // Executive
  } else {
    std::uint64_t total = 0;
    for (auto w : department_weights) total += w;
    std::uint64_t t = r.below(total);
    std::size_t d = 1;
    for (; d < department_weights.size(); ++d) {
      if (t < department_weights[d]) break;
      t -= department_weights[d];
    }
    c.department = static_cast<std::uint8_t>(std::min<std::size_t>(d, departments.size() - 1));
  }
  c.country = a && r.chance(0.88) ? a->country : static_cast<std::uint8_t>(pick_country(r));
  // Log-normal activity with mean 1 (sigma 1.1), and 12% dormant.
  const double z = r.normal();
  c.engagement = r.chance(0.12) ? 0.0 : std::exp(1.1 * z - 0.605);
  const std::int64_t hi = pl.as_of - 3600;
  if (a) {
    std::int64_t lo = std::max(a->created, pl.as_of - 8 * year);
    if (lo > hi - day) lo = hi - day;
    c.created = hi - static_cast<std::int64_t>(static_cast<double>(hi - lo) * r.skewed(1.3));
  } else {
    c.created = hi - static_cast<std::int64_t>(3.0 * year * r.skewed(1.4));
  }
  return c;
}
inline person_core make_person_core(const plan& pl, std::uint64_t p) {
  return make_person_core(pl, p, pl.person_slot.forward(p));
}

/// Number of campaigns for n people: a few hundred for large n.
inline std::uint64_t campaign_count(std::uint64_t n) {
  const double c = 20.0 * std::log2(static_cast<double>(n) + 2.0);
  return std::max<std::uint64_t>(8, std::min<std::uint64_t>(static_cast<std::uint64_t>(c), n / 4));
}
/// Number of marketing lists for n people.
inline std::uint64_t list_count(std::uint64_t n) {
  const double c = 10.0 + 2.0 * std::log2(static_cast<double>(n) + 2.0);
  return std::max<std::uint64_t>(6, std::min<std::uint64_t>(static_cast<std::uint64_t>(c), 72));
}

/// Builds the plan for `people` people. Parallel parts run in the caller's TBB arena; the result
/// does not depend on the thread count (sums are sequential, draws keyed by row).
inline plan build_plan(std::uint64_t people, std::uint64_t seed, std::int64_t as_of) {
  plan pl;
  pl.seed = seed;
  pl.as_of = as_of;
  pl.people = people;
  pl.accounts = people == 0 ? 0 : std::max<std::uint64_t>(1, (people + 5) / 10);
  pl.affiliated = people - (people * 8 + 50) / 100;  // ~8% unconverted leads
  if (pl.accounts == 0) pl.affiliated = 0;
  const std::uint64_t A = pl.accounts;
  pl.person_slot = permutation(people, mix64(seed ^ 0x51a7));
  pl.name_space = name_prefixes.size() * name_stems.size() * name_nouns.size();
  pl.name_code = permutation(pl.name_space, mix64(seed ^ 0xc0de));
  pl.name_pairs = first_name_table().names.size() * last_name_table().names.size();

  // Account sizes: Pareto weights (Zipf-like), then the affiliated slots split in proportion.
  std::vector<std::uint64_t> weight(A);
  b2bseg::detail::parallel_for(tbb::blocked_range<std::uint64_t>(0, A, 4096),
                               [&](const auto& range) {
                                 for (std::uint64_t j = range.begin(); j != range.end(); ++j) {
                                   rng r(seed, stream::account_size, j);
                                   const double w = std::min(r.pareto(1.35), 3000.0) - 0.6;
                                   weight[j] = static_cast<std::uint64_t>(w * 1024.0);
                                 }
                               });
  pl.bounds.assign(A + 1, 0);
  {
    unsigned __int128 total = 0;
    for (auto w : weight) total += w;
    unsigned __int128 cum = 0;
    for (std::uint64_t j = 0; j < A; ++j) {
      cum += weight[j];
      pl.bounds[j + 1] =
          total ? static_cast<std::uint64_t>(cum * pl.affiliated / total) : pl.affiliated;
    }
  }

  // Account profiles.
  pl.account.resize(A);
  b2bseg::detail::parallel_for(
      tbb::blocked_range<std::uint64_t>(0, A, 2048), [&](const auto& range) {
        for (std::uint64_t j = range.begin(); j != range.end(); ++j) {
          rng r(seed, stream::account_core, j);
          account_core& a = pl.account[j];
          const std::uint64_t size = pl.account_size(j);
          a.industry = static_cast<std::uint8_t>(pick_industry(r));
          a.country = static_cast<std::uint8_t>(pick_country(r));
          double emp = (static_cast<double>(size) + 1.0) * r.lognormal(22.0, 1.2);
          emp = std::clamp(emp, 1.0, 2300000.0);
          std::uint64_t e = static_cast<std::uint64_t>(emp);
          if (e >= 10000)
            e = e / 100 * 100;
          else if (e >= 1000)
            e = e / 10 * 10;
          a.employees = e;
          a.tier = e >= 10000 ? 3 : e >= 1000 ? 2 : e >= 100 ? 1 : 0;
          const std::uint32_t customer_w = 18 + (size >= 10 ? 14 : 0) + (a.tier >= 2 ? 10 : 0);
          a.type = static_cast<std::uint8_t>(pick_index(r, {58, customer_w, 6, 3, 6, 1, 4}));
          const double age_days = 30.0 + 3620.0 * r.skewed(1.3);
          a.created = as_of - static_cast<std::int64_t>(age_days * day) -
                      static_cast<std::int64_t>(r.below(day));
          const bool software = industries[a.industry].name == "Software";
          if (countries[a.country].tld == ".com")
            a.tld = software && r.chance(0.15) ? 2 : 0;
          else
            a.tld = static_cast<std::uint8_t>(pick_index(r, {40, 55, software ? 15u : 3u}));
          a.email_format = static_cast<std::uint8_t>(pick_index(r, {70, 10, 10, 10}));
        }
      });
  // Parents: ~7% of the non-strategic accounts are subsidiaries of a strategic account (one level,
  // so no cycles); most share their parent's industry.
  std::vector<std::uint64_t> strategic;
  for (std::uint64_t j = 0; j < A; ++j)
    if (pl.account[j].tier == 3) strategic.push_back(j);
  if (!strategic.empty()) {
    b2bseg::detail::parallel_for(
        tbb::blocked_range<std::uint64_t>(0, A, 4096), [&](const auto& range) {
          for (std::uint64_t j = range.begin(); j != range.end(); ++j) {
            account_core& a = pl.account[j];
            if (a.tier == 3) continue;
            rng r(seed, stream::account_parent, j);
            if (!r.chance(0.07)) continue;
            const std::uint64_t parent = strategic[r.below(strategic.size())];
            a.parent = parent + 1;
            if (r.chance(0.8))
              a.industry = pl.account[parent].industry;  // parents are never edited
          }
        });
  }

  // Opportunities: ~0.3 per person, more at customers, sub-linear in the account's size.
  static constexpr double type_factor[] = {0.8, 1.8, 0.6, 0.9, 1.0, 0.0, 0.3};
  std::vector<double> lambda(A);
  double lambda_sum = 0;
  for (std::uint64_t j = 0; j < A; ++j) {
    lambda[j] = std::pow(static_cast<double>(pl.account_size(j)) + 0.5, 0.8) *
                type_factor[pl.account[j].type];
    lambda_sum += lambda[j];
  }
  const double scale = lambda_sum > 0 ? 0.3 * static_cast<double>(people) / lambda_sum : 0.0;
  pl.opportunity_base.assign(A + 1, 0);
  b2bseg::detail::parallel_for(tbb::blocked_range<std::uint64_t>(0, A, 4096),
                               [&](const auto& range) {
                                 for (std::uint64_t j = range.begin(); j != range.end(); ++j) {
                                   rng r(seed, stream::opportunity_count, j);
                                   pl.opportunity_base[j + 1] = r.poisson(lambda[j] * scale);
                                 }
                               });
  for (std::uint64_t j = 0; j < A; ++j) pl.opportunity_base[j + 1] += pl.opportunity_base[j];

  // Sales reps by region.
  {
    const auto& fn = first_name_table().names;
    const auto& ln = last_name_table().names;
    static constexpr std::size_t reps[] = {16, 12, 8, 4};
    std::size_t k = 0;
    for (std::size_t reg = 0; reg < 4; ++reg) {
      pl.owner_base[reg] = pl.owners.size();
      for (std::size_t i = 0; i < reps[reg]; ++i, ++k) {
        rng r(seed, stream::account_row, ~std::uint64_t{0} - k);
        pl.owners.push_back(std::string(fn[r.below(fn.size())]) + " " +
                            std::string(ln[r.below(ln.size())]));
      }
    }
    pl.owner_base[4] = pl.owners.size();
  }

  // Campaigns over the two years before as_of (and a few planned ones after).
  const std::uint64_t C = people == 0 ? 0 : campaign_count(people);
  pl.campaigns.resize(C);
  pl.campaign_cum.resize(C);
  double cum = 0;
  for (std::uint64_t i = 0; i < C; ++i) {
    rng r(seed, stream::campaign, i);
    campaign_core& c = pl.campaigns[i];
    std::uint64_t tw = 0;
    for (const auto& t : campaign_types) tw += t.weight;
    std::uint64_t t = r.below(tw);
    std::size_t ti = 0;
    for (; ti + 1 < campaign_types.size() && t >= campaign_types[ti].weight; ++ti)
      t -= campaign_types[ti].weight;
    c.type = static_cast<std::uint8_t>(ti);
    const campaign_type_info& ct = campaign_types[ti];
    const std::int64_t start_day =
        floor_div(as_of, day) - 700 + static_cast<std::int64_t>(r.below(746));
    c.start = start_day * day + (ct.kind == ck_webinar ? 16 * 3600 : 9 * 3600 + 1800);
    const std::int64_t dur = r.between(ct.min_days, ct.max_days);
    c.end = ct.kind == ck_webinar ? c.start + 3600 : c.start + dur * day - 1800;
    const double budget = ct.median_budget * r.lognormal(1.0, 0.5);
    const std::int64_t budget_cents = static_cast<std::int64_t>(budget / 100.0) * 10000 + 10000;
    c.budget = r.chance(0.08) ? -1 : budget_cents;
    double popularity = ct.popularity * r.lognormal(1.0, 0.8);
    if (c.start > as_of) {
      c.status = 0;
      popularity *= 0.3;
    } else if (c.end >= as_of) {
      c.status = 1;
      const double frac = static_cast<double>(as_of - c.start) /
                          static_cast<double>(std::max<std::int64_t>(1, c.end - c.start));
      c.actual = static_cast<std::int64_t>(static_cast<double>(budget_cents) * frac *
                                           r.lognormal(1.0, 0.15));
    } else if (r.chance(0.08)) {
      c.status = 3;
      popularity *= 0.3;
      c.actual = static_cast<std::int64_t>(static_cast<double>(budget_cents) * r.uniform() * 0.6);
    } else {
      c.status = 2;
      c.actual =
          static_cast<std::int64_t>(static_cast<double>(budget_cents) * r.lognormal(1.0, 0.2));
    }
    if (c.budget < 0 && c.actual >= 0 && r.chance(0.4)) c.actual = -1;
    cum += popularity;
    pl.campaign_cum[i] = cum;
    const civil_date d = civil_from_days(start_day);
    std::string& n = c.name;
    n = "FY" + std::to_string(d.year % 100 / 10) + std::to_string(d.year % 10) + " Q" +
        std::to_string((d.month - 1) / 3 + 1) + " ";
    n += campaign_themes[r.below(campaign_themes.size())];
    n += ' ';
    n += ct.name;
    if (r.chance(0.35)) {
      n += " - ";
      n += regions[r.below(regions.size())];
    }
  }

  // Marketing lists: a few big ones (newsletter) and many small ones.
  const std::uint64_t L = people == 0 ? 0 : list_count(people);
  pl.lists.resize(L);
  pl.list_cum.resize(L);
  cum = 0;
  for (std::uint64_t i = 0; i < L; ++i) {
    rng r(seed, stream::marketing_list, i);
    list_core& l = pl.lists[i];
    l.name = std::string(list_names[i % list_names.size()]);
    if (i >= list_names.size()) l.name += " " + std::to_string(2019 + i / list_names.size());
    l.dynamic = r.chance(0.35);
    l.created = as_of - static_cast<std::int64_t>((30.0 + 1000.0 * r.uniform()) * day) -
                static_cast<std::int64_t>(r.below(day));
    cum += (i < 2 ? 8.0 : 1.0) * r.lognormal(1.0, 0.9);
    pl.list_cum[i] = cum;
  }
  return pl;
}

}  // namespace b2bseg::detail::gen
