// Activation over processes (SPEC 8, `mpirun -n N b2bseg activate`): every process evaluates its
// own rows' segments and destination fields on the rows it holds; process 0 gathers each
// destination's members with their values already written as text, puts them in a single
// process's order, and writes the same files, manifest and state as activate() does. Link with
// b2bseg::activate.
#pragma once

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "b2bseg/activate/activate.hpp"
#include "b2bseg/dist/evaluate.hpp"

namespace b2bseg::dist {

namespace detail::distributed {

/// One destination's rows as process 0 gathered them: ordered as a single process orders them,
/// each with its field values as text where the run writes them (see own_rows_of).
class gathered_members final : public member_source {
 public:
  struct row {
    std::string order;  ///< local_evaluation::order_key
    std::string key;
    bool has_values = false;
    std::vector<std::string> texts;  ///< per field, when has_values
    std::vector<std::uint8_t> nulls;
  };

  /// The rows `own_rows_of` wrote for destination `d`, one message per process.
  static gathered_members from(const std::vector<std::string>& messages, const destination& d) {
    gathered_members out(graph_members::destination_fields(d), d.segment_names);
    const std::size_t nf = out.fields_.size();
    std::vector<std::vector<std::uint32_t>> members(d.segments.size());  // indexes into rows_
    for (const std::string& m : messages) {
      wire_reader rd(m);
      const auto first = static_cast<std::uint32_t>(out.rows_.size());
      const std::uint64_t n = rd.u64();
      for (std::uint64_t k = 0; k < n; ++k) {
        row r;
        r.order = std::string(rd.str());
        r.key = std::string(rd.str());
        r.has_values = rd.u64() != 0;
        if (r.has_values)
          for (std::size_t i = 0; i < nf; ++i) {
            r.nulls.push_back(static_cast<std::uint8_t>(rd.u64()));
            r.texts.emplace_back(rd.str());
          }
        out.rows_.push_back(std::move(r));
      }
      for (auto& idx : members) {
        const std::uint64_t count = rd.u64();
        for (std::uint64_t j = 0; j < count; ++j)
          idx.push_back(first + static_cast<std::uint32_t>(rd.u64()));
      }
    }
    // Rows in a single process's order; member lists follow through the permutation.
    std::vector<std::uint32_t> perm(out.rows_.size());
    for (std::uint32_t i = 0; i < perm.size(); ++i) perm[i] = i;
    std::sort(perm.begin(), perm.end(), [&](std::uint32_t a, std::uint32_t b) {
      return out.rows_[a].order < out.rows_[b].order;
    });
    std::vector<row> sorted(perm.size());
    std::vector<row_id> place(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) {
      sorted[i] = std::move(out.rows_[perm[i]]);
      place[perm[i]] = static_cast<row_id>(i);
    }
    out.rows_ = std::move(sorted);
    for (std::size_t i = 0; i < out.rows_.size(); ++i)
      out.by_key_.emplace(out.rows_[i].key, static_cast<row_id>(i));
    for (const auto& idx : members) {
      std::vector<row_id> ids;
      ids.reserve(idx.size());
      for (std::uint32_t x : idx) ids.push_back(place[x]);
      std::sort(ids.begin(), ids.end());
      out.members_.push_back(std::move(ids));
    }
    return out;
  }

  std::vector<b2bseg::detail::out_row> members(const std::string& seg) const override {
    const auto at = std::find(segments_.begin(), segments_.end(), seg);
    if (at == segments_.end()) throw data_error("segment '" + seg + "' was not evaluated");
    std::vector<b2bseg::detail::out_row> out;
    for (row_id r : members_[static_cast<std::size_t>(at - segments_.begin())])
      out.push_back({r, rows_[r].key, false});
    return out;
  }
  row_id find_key(std::string_view key) const override {
    const auto it = by_key_.find(key);
    return it == by_key_.end() ? no_row : it->second;
  }
  /// Throws std::logic_error for a row whose values were not sent (own_rows_of sends those of
  /// every row the run can write).
  field_values values(const std::vector<row_id>& ids) const override {
    const std::size_t nf = fields_.size();
    std::vector<std::string> texts(ids.size() * nf);
    std::vector<std::uint8_t> nulls(ids.size() * nf, 1);
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (ids[k] == no_row) continue;
      const row& r = rows_[ids[k]];
      if (!r.has_values)
        throw std::logic_error("activate_distributed: no values were sent for key " + r.key);
      for (std::size_t i = 0; i < nf; ++i) {
        texts[k * nf + i] = r.texts[i];
        nulls[k * nf + i] = r.nulls[i];
      }
    }
    return field_values(fields_, std::move(texts), std::move(nulls));
  }

 private:
  gathered_members(std::vector<const bound_field*> fields, std::vector<std::string> segments)
      : fields_(std::move(fields)), segments_(std::move(segments)) {}

  std::vector<const bound_field*> fields_;
  std::vector<row> rows_;
  std::vector<std::string> segments_;
  std::unordered_map<std::string_view, row_id> by_key_;  ///< views into rows_' keys
  std::vector<std::vector<row_id>> members_;
};

/// What every process sends process 0 about destination `d`: its own members of each of d's
/// segments and its own rows whose keys are in `previous` (the keys each segment last handed
/// over; empty lists for a run that writes every member), each with its place in a single
/// process's order, and field values for the rows the run writes: members not handed over
/// before, and handed-over rows that left. Collective only through the caller.
inline std::string own_rows_of(const local_evaluation& le, const destination& d,
                               const std::vector<std::vector<std::string>>& previous,
                               timestamp_us as_of, unsigned threads) {
  const graph& g = le.g;
  const graph_members local(g, le.ev, d, as_of, threads);
  std::vector<row_id> rows;
  std::vector<std::uint8_t> written;  // per row: its values go out
  std::unordered_map<row_id, std::uint32_t> index;
  auto add = [&](row_id r, bool write) {
    const auto [it, fresh] = index.emplace(r, static_cast<std::uint32_t>(rows.size()));
    if (fresh) {
      rows.push_back(r);
      written.push_back(0);
    }
    written[it->second] |= write ? 1 : 0;
    return it->second;
  };
  std::vector<std::vector<std::uint32_t>> member_rows(d.segments.size());
  for (std::size_t i = 0; i < d.segments.size(); ++i) {
    const Roaring& members = local.member_set(d.segment_names[i]);
    const std::unordered_set<std::string_view> before(previous[i].begin(), previous[i].end());
    for (auto it = members.begin(); it != members.end(); ++it)
      if (le.own(d.entity, *it))
        member_rows[i].push_back(add(*it, !before.count(g.key(d.entity, *it))));
    for (const std::string& k : previous[i]) {
      const row_id r = g.find_key(d.entity, k);
      if (r != no_row && le.own(d.entity, r)) add(r, !members.contains(r));
    }
  }
  std::vector<row_id> to_write;
  for (std::size_t k = 0; k < rows.size(); ++k)
    if (written[k]) to_write.push_back(rows[k]);
  const field_values vals = local.values(to_write);
  const std::size_t nf = graph_members::destination_fields(d).size();
  std::string out;
  wire_writer w(out);
  w.u64(rows.size());
  std::string order, text;
  for (std::size_t k = 0, v = 0; k < rows.size(); ++k) {
    order.clear();
    le.order_key(d.entity, rows[k], order);
    w.str(order);
    w.str(g.key(d.entity, rows[k]));
    w.u64(written[k]);
    if (!written[k]) continue;
    for (std::size_t i = 0; i < nf; ++i) {
      text.clear();
      const bool null = vals.is_null(i, v);
      if (!null) vals.text(text, i, v);
      w.u64(null ? 1 : 0);
      w.str(text);
    }
    ++v;
  }
  for (const auto& m : member_rows) {
    w.u64(m.size());
    for (std::uint32_t x : m) w.u64(x);
  }
  return out;
}

/// The keys each of `d`'s segments last handed over (its state under `out`), on every process:
/// process 0 reads them, the others receive them. A state that cannot be read goes as no keys:
/// the destination's run on process 0 reads it again and fails as one process's does.
/// Collective.
inline std::vector<std::vector<std::string>> previous_keys(communicator& c, const destination& d,
                                                           const std::string& out) {
  std::string told;
  if (c.rank() == 0) {
    wire_writer w(told);
    for (const std::string& seg : d.segment_names) {
      std::vector<std::string> keys;
      try {
        bool had = false;
        keys = b2bseg::detail::read_state(
            std::filesystem::path(out) / d.name / ".state" / (seg + ".csv"), had);
      } catch (const std::exception&) {  // told by the destination's own run
      }
      w.u64(keys.size());
      for (const auto& k : keys) w.str(k);
    }
  }
  const std::string back = broadcast_from_first(c, told);
  wire_reader rd(back);
  std::vector<std::vector<std::string>> previous(d.segments.size());
  for (auto& keys : previous) {
    keys.resize(rd.u64());
    for (auto& k : keys) k = std::string(rd.str());
  }
  return previous;
}

}  // namespace detail::distributed

/// What `activate_distributed` did: the destinations' reports (on process 0; empty on the
/// others) and the evaluation's outcome.
struct dist_activation {
  std::vector<destination_report> reports;
  dist_result eval;
};

/// activate() over the processes of `c` (SPEC 8): every process calls it with the same
/// arguments; each evaluates the segments (at `ao.as_of`) and the destinations' fields on the
/// rows it holds (its own and those around them), and process 0 writes every destination's
/// files, manifest and state under `out` byte for byte as one process does, one destination
/// after the other. Collective. Process 0 takes the folder's lock first. Throws agreed_error on
/// every process alike for what stops a single process before it writes (the output folder
/// cannot be made or is locked by another run; the errors of evaluate_distributed). A
/// destination that fails on process 0 (its state unreadable, a write that fails) is reported in
/// its report's `error` and the others go on, as in activate(). Memory on process 0: one
/// destination's members with their values at a time; every process receives the keys each
/// incremental destination's segments last handed over.
inline dist_activation activate_distributed(communicator& c, const std::string& dir,
                                            const schema& s, const bound_file& f,
                                            const std::vector<destination>& dests,
                                            const std::string& out, dist_options o,
                                            const activate_options& ao) {
  namespace dd = detail::distributed;
  const bool lead = c.rank() == 0;
  std::optional<folder_lock> lock;
  on_first(c, [&] {
    create_output_folder(out);
    lock.emplace(out);  // a second run into the same folder fails here, before any work
  });
  o.as_of = ao.as_of;
  o.member_lists = false;  // each destination gathers its own rows
  for (const destination& d : dests)
    for (const bound_field* x : graph_members::destination_fields(d)) o.fields.push_back(x);
  dist_activation result;
  auto after = [&](communicator& comm, const local_evaluation& le) {
    for (const destination& d : dests) {
      const std::vector<std::vector<std::string>> previous =
          d.incremental && !ao.full ? dd::previous_keys(comm, d, out)
                                    : std::vector<std::vector<std::string>>(d.segments.size());
      const std::vector<std::string> got =
          gather_to_first(comm, dd::own_rows_of(le, d, previous, ao.as_of, o.threads));
      if (!lead) continue;
      const dd::gathered_members src = dd::gathered_members::from(got, d);
      result.reports.push_back(
          activate_destination(src, d, *s.entities[d.entity].key, out, ao));  // never throws
    }
  };
  result.eval = evaluate_distributed(c, dir, s, f, o, after);
  return result;
}

}  // namespace b2bseg::dist
