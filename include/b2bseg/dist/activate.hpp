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
#include <string>
#include <unordered_map>
#include <vector>

#include "b2bseg/activate/activate.hpp"
#include "b2bseg/dist/evaluate.hpp"

namespace b2bseg::dist {

namespace detail::distributed {

/// One destination's rows as process 0 gathered them: ordered as a single process orders them,
/// each with its field values as text.
class gathered_members final : public member_source {
 public:
  struct row {
    std::string order;  ///< local_evaluation::order_key
    std::string key;
    std::vector<std::string> texts;  ///< per field
    std::vector<std::uint8_t> nulls;
  };

  /// `rows`: every row any process sent (each key once); `members[i]`: the keys of the members
  /// of the destination's segment i; `segments`: their names.
  gathered_members(std::vector<const bound_field*> fields, std::vector<row> rows,
                   const std::vector<std::vector<std::string>>& members,
                   std::vector<std::string> segments)
      : fields_(std::move(fields)), rows_(std::move(rows)), segments_(std::move(segments)) {
    std::sort(rows_.begin(), rows_.end(),
              [](const row& a, const row& b) { return a.order < b.order; });
    for (std::size_t i = 0; i < rows_.size(); ++i)
      by_key_.emplace(rows_[i].key, static_cast<row_id>(i));
    for (const auto& keys : members) {
      std::vector<row_id> ids;
      ids.reserve(keys.size());
      for (const auto& k : keys) ids.push_back(by_key_.at(k));
      std::sort(ids.begin(), ids.end());
      members_.push_back(std::move(ids));
    }
  }

  /// The rows `own_rows_of` wrote for destination `d`, one message per process.
  static gathered_members from(const std::vector<std::string>& messages, const destination& d) {
    std::vector<const bound_field*> fields = graph_members::destination_fields(d);
    std::vector<row> rows;
    std::vector<std::vector<std::string>> members(d.segments.size());
    for (const std::string& m : messages) {
      wire_reader rd(m);
      const std::size_t first = rows.size();
      const std::uint64_t n = rd.u64();
      for (std::uint64_t k = 0; k < n; ++k) {
        row r;
        r.order = std::string(rd.str());
        r.key = std::string(rd.str());
        for (std::size_t i = 0; i < fields.size(); ++i) {
          r.nulls.push_back(static_cast<std::uint8_t>(rd.u64()));
          r.texts.emplace_back(rd.str());
        }
        rows.push_back(std::move(r));
      }
      for (auto& keys : members) {
        const std::uint64_t count = rd.u64();
        for (std::uint64_t j = 0; j < count; ++j) keys.push_back(rows[first + rd.u64()].key);
      }
    }
    return gathered_members(std::move(fields), std::move(rows), members, d.segment_names);
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
    const auto it = by_key_.find(std::string(key));
    return it == by_key_.end() ? no_row : it->second;
  }
  field_values values(const std::vector<row_id>& ids) const override {
    const std::size_t nf = fields_.size();
    std::vector<std::string> texts(ids.size() * nf);
    std::vector<std::uint8_t> nulls(ids.size() * nf, 1);
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (ids[k] == no_row) continue;
      for (std::size_t i = 0; i < nf; ++i) {
        texts[k * nf + i] = rows_[ids[k]].texts[i];
        nulls[k * nf + i] = rows_[ids[k]].nulls[i];
      }
    }
    return field_values(fields_, std::move(texts), std::move(nulls));
  }

 private:
  std::vector<const bound_field*> fields_;
  std::vector<row> rows_;
  std::vector<std::string> segments_;
  std::unordered_map<std::string, row_id> by_key_;
  std::vector<std::vector<row_id>> members_;
};

/// What every process sends process 0 about destination `d`: its own members of each of d's
/// segments and its own rows whose keys are in `previous` (the keys each segment last handed
/// over), with the fields' values. Collective only through the caller.
inline std::string own_rows_of(const local_evaluation& le, const bound_file& f,
                               const destination& d,
                               const std::vector<std::vector<std::string>>& previous,
                               timestamp_us as_of, unsigned threads) {
  const graph& g = le.g;
  std::vector<row_id> rows;
  std::unordered_map<row_id, std::uint32_t> index;
  auto add = [&](row_id r) {
    if (index.emplace(r, static_cast<std::uint32_t>(rows.size())).second) rows.push_back(r);
  };
  std::vector<std::vector<std::uint32_t>> member_rows(d.segments.size());
  for (std::size_t i = 0; i < d.segments.size(); ++i) {
    const std::string& name = f.segments[d.segments[i]].name;
    const Roaring* members = nullptr;
    for (const auto& sr : le.ev.segments)
      if (sr.name == name) members = &sr.members;
    if (!members) throw data_error("segment '" + name + "' was not evaluated");
    for (auto it = members->begin(); it != members->end(); ++it)
      if (le.own(d.entity, *it)) {
        add(*it);
        member_rows[i].push_back(index[*it]);
      }
    if (i < previous.size())
      for (const std::string& k : previous[i]) {
        const row_id r = g.find_key(d.entity, k);
        if (r != no_row && le.own(d.entity, r)) add(r);
      }
  }
  const std::vector<const bound_field*> fields = graph_members::destination_fields(d);
  const field_values vals(g, field_evaluator(g, fields, as_of, threads).run(rows));
  std::string out;
  wire_writer w(out);
  w.u64(rows.size());
  std::string order, text;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    order.clear();
    le.order_key(d.entity, rows[k], order);
    w.str(order);
    w.str(g.key(d.entity, rows[k]));
    for (std::size_t i = 0; i < fields.size(); ++i) {
      text.clear();
      const bool null = vals.is_null(i, k);
      if (!null) vals.text(text, i, k);
      w.u64(null ? 1 : 0);
      w.str(text);
    }
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
  std::optional<ranked_error> err;
  if (lead) {
    try {
      create_output_folder(out);
      lock.emplace(out);  // a second run into the same folder fails here, before any work
    } catch (const data_error& e) {
      err = ranked_error{{0}, "", 0, 0, e.what()};
    }
  }
  agree_on_error(c, err ? &*err : nullptr);
  o.as_of = ao.as_of;
  for (const destination& d : dests)
    for (const bound_field* x : graph_members::destination_fields(d)) o.fields.push_back(x);
  dist_activation result;
  auto after = [&](communicator& comm, const local_evaluation& le) {
    for (const destination& d : dests) {
      const std::vector<std::vector<std::string>> previous =
          d.incremental && !ao.full ? dd::previous_keys(comm, d, out)
                                    : std::vector<std::vector<std::string>>(d.segments.size());
      const std::vector<std::string> got =
          gather_to_first(comm, dd::own_rows_of(le, f, d, previous, ao.as_of, o.threads));
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
