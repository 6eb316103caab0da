// The live engine: a dataset that takes batches of changes and reports, per segment, who entered
// and who left (SPEC 2.4). Library API under `b2bseg stream` (and, later, `serve`).
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/exec/executor.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/live/change.hpp"
#include "b2bseg/live/rows.hpp"
#include "b2bseg/plan/planner.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// How a live engine starts and treats bad changes.
struct live_options {
  timestamp_us as_of = 0;  ///< the initial `now`
  bool lenient = false;    ///< skip a change that cannot apply (else the whole batch fails)
  unsigned threads = 0;    ///< evaluation threads; 0 = all cores
};

/// One key that entered or left one segment in a batch.
struct membership_change {
  std::uint32_t segment = 0;  ///< index in the segments file (file order)
  std::string key;
  bool entered = false;  ///< false: exited
};

/// What one batch did.
struct batch_result {
  std::uint64_t batch = 0;  ///< its number, from 1; 0 when it failed and nothing was applied
  std::size_t applied = 0;  ///< changes applied (ticks included)
  std::size_t rejected = 0;
  std::vector<change_error> errors;  ///< why each rejected change was (or the failing one)
  /// Ordered by segment (file order), then key (bytes). A key deleted and created again that
  /// stays a member makes no change.
  std::vector<membership_change> changes;
  std::size_t entered = 0, exited = 0;
  double ms = 0;  ///< from the start of `apply` to the membership changes
  bool failed() const noexcept { return batch == 0; }
};

/// What readers see: one whole batch's data and results, immutable. Keep the shared_ptr for as
/// long as its graph or members are used.
struct live_state {
  std::uint64_t batch = 0;  ///< batches applied so far
  timestamp_us now = 0;
  std::shared_ptr<const graph> data;     ///< the current rows, indexed
  std::vector<segment_result> segments;  ///< in the segments file's order; ids of `data`
  double eval_ms = 0;
};

/// A dataset that changes: the rows loaded, a compiled segments file and the current members,
/// moved forward by `apply` one batch at a time. One writer (`apply` is not reentrant); any
/// number of readers call `current()` from other threads and see whole batches only (the state is
/// published by swapping a shared pointer under a mutex; a reader never waits for a batch).
///
/// This first form rebuilds the graph from its rows and evaluates every segment after each batch
/// (O(rows) per batch, exact by construction); incremental evaluation is the next step.
class live_engine {
 public:
  /// Takes the rows of `base` (copied; `base` may go away afterwards) and `file` (compiled
  /// against `base`'s schema; shared, never changed) and evaluates every segment as of
  /// `o.as_of`. Throws data_error for a dataset with sources.
  live_engine(const graph& base, std::shared_ptr<const bound_file> file, live_options o)
      : rows_(base), file_holder_(std::move(file)), file_(*file_holder_), opts_(o) {
    rows_.set_now(o.as_of);
    auto s = evaluate(std::make_shared<const graph>(rows_.build()), 0);
    state_ = std::move(s);
  }

  const bound_file& segments() const noexcept { return file_; }
  const b2bseg::schema& schema() const noexcept { return rows_.schema(); }

  /// The state after the last whole batch. Thread-safe; O(1).
  std::shared_ptr<const live_state> current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }

  /// The first change of `changes` that cannot apply after the ones before it, or nothing; a
  /// dry run that leaves the data as it was. O(changes), deletes aside.
  std::optional<change_error> check(std::span<const change> changes) {
    undo_log undo;
    std::optional<change_error> err;
    for (const change& c : changes) {
      std::string m = rows_.apply(c, undo);
      if (m.empty()) continue;
      err = change_error{c.line, std::move(m)};
      break;
    }
    rows_.rollback(undo);
    return err;
  }

  /// Applies `changes` as one batch (commits among them are ignored), in order, each seeing the
  /// ones before it; then evaluates and returns who entered and who left. A change that cannot
  /// apply fails the whole batch (nothing applied, `failed()`, the error in `errors`) or, with
  /// `lenient`, is skipped and counted. Every call that does not fail takes a number, also when
  /// every change in it was skipped. O(rows) (a rebuild and a full evaluation).
  batch_result apply(std::span<const change> changes) {
    const auto t0 = std::chrono::steady_clock::now();
    batch_result res;
    undo_log undo, one;
    for (const change& c : changes) {
      if (c.op == change_op::commit) continue;
      std::string err = rows_.apply(c, one);
      if (err.empty()) {
        ++res.applied;
        undo.entries.insert(undo.entries.end(), std::make_move_iterator(one.entries.begin()),
                            std::make_move_iterator(one.entries.end()));
        one.entries.clear();
        continue;
      }
      res.errors.push_back({c.line, std::move(err)});
      if (!opts_.lenient) {
        rows_.rollback(undo);
        res.applied = 0;
        return res;
      }
      ++res.rejected;
    }
    // Rows changed: rebuild and evaluate; only `now` moved: evaluate the same graph again.
    bool rows_changed = false, now_moved = false;
    for (const auto& u : undo.entries)
      (u.what == undo_log::kind::now ? now_moved : rows_changed) = true;
    std::shared_ptr<const live_state> before = current();
    std::shared_ptr<const live_state> after;
    try {
      after = rows_changed
                  ? evaluate(std::make_shared<const graph>(rows_.build()), before->batch + 1)
              : now_moved ? evaluate(before->data, before->batch + 1)
                          : restamp(*before);
    } catch (const std::exception& e) {
      // The checks of each change should make this impossible; if not, the batch is refused
      // whole, whatever the mode, rather than leaving the rows and the results apart.
      rows_.rollback(undo);
      res = {};
      res.errors.push_back({changes.empty() ? 0 : changes.back().line,
                            std::string("the batch cannot be applied: ") + e.what()});
      return res;
    }
    if (rows_changed || now_moved) diff(*before, *after, res);
    res.batch = after->batch;
    res.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu_);
    state_ = std::move(after);
    return res;
  }

 private:
  std::shared_ptr<const live_state> evaluate(std::shared_ptr<const graph> g, std::uint64_t batch) {
    auto s = std::make_shared<live_state>();
    s->batch = batch;
    s->now = rows_.now();
    executor ex(*g, opts_.threads);
    evaluation ev = ex.run(build_plan(g->schema(), file_, s->now), file_);
    s->eval_ms = ev.eval_ms;
    s->segments.resize(file_.segments.size());
    for (auto& r : ev.segments) {
      const int i = file_.find(r.name);
      s->segments[static_cast<std::size_t>(i)] = std::move(r);
    }
    s->data = std::move(g);
    return s;
  }

  /// The same data and members under the next number (a batch that applied nothing).
  static std::shared_ptr<const live_state> restamp(const live_state& before) {
    auto s = std::make_shared<live_state>(before);
    ++s->batch;
    return s;
  }

  /// Keys of `s`'s members of segment `i`, sorted by bytes.
  static std::vector<std::string_view> member_keys(const live_state& s, std::size_t i) {
    const segment_result& r = s.segments[i];
    std::vector<std::string_view> keys;
    keys.reserve(r.members.cardinality());
    for (auto it = r.members.begin(); it != r.members.end(); ++it)
      keys.push_back(s.data->key(r.entity, *it));
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void diff(const live_state& before, const live_state& after, batch_result& res) const {
    for (std::size_t i = 0; i < file_.segments.size(); ++i) {
      const auto old_keys = member_keys(before, i);
      const auto new_keys = member_keys(after, i);
      std::size_t a = 0, b = 0;
      const auto seg = static_cast<std::uint32_t>(i);
      while (a < old_keys.size() || b < new_keys.size()) {
        if (b == new_keys.size() || (a < old_keys.size() && old_keys[a] < new_keys[b])) {
          res.changes.push_back({seg, std::string(old_keys[a++]), false});
          ++res.exited;
        } else if (a == old_keys.size() || new_keys[b] < old_keys[a]) {
          res.changes.push_back({seg, std::string(new_keys[b++]), true});
          ++res.entered;
        } else {
          ++a;
          ++b;
        }
      }
    }
  }

  live_rows rows_;
  std::shared_ptr<const bound_file> file_holder_;
  const bound_file& file_;
  live_options opts_;
  mutable std::mutex mu_;
  std::shared_ptr<const live_state> state_;
};

}  // namespace b2bseg
