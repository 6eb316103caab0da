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
#include <utility>
#include <vector>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/task_arena.h>

#include "b2bseg/exec/executor.hpp"
#include "b2bseg/exec/parallel.hpp"
#include "b2bseg/exec/row_eval.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/live/change.hpp"
#include "b2bseg/live/rows.hpp"
#include "b2bseg/live/view.hpp"
#include "b2bseg/plan/planner.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// How a live engine starts and treats bad changes.
struct live_options {
  timestamp_us as_of = 0;  ///< the initial `now`
  bool lenient = false;    ///< skip a change that cannot apply (else the whole batch fails)
  unsigned threads = 0;    ///< evaluation threads; 0 = all cores
  /// The dataset folder the base graph was loaded from: needed when it has entities with
  /// sources, whose source rows a graph does not keep, unless the graph is a snapshot that
  /// carries them (see `live_rows`).
  std::string dataset{};
  bool load_lenient = false;  ///< whether `dataset` was loaded leniently (rows dropped)
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

namespace detail::live {

/// Keys of the rows added since the last compaction, per entity, readable from other threads
/// while the writer adds more: chunks that never move, so a reader of an older state reads only
/// slots written before that state was published (the publishing mutex orders them).
class key_tail {
 public:
  static constexpr std::size_t chunk_bits = 12, chunk = std::size_t{1} << chunk_bits;
  static constexpr std::size_t max_chunks = 4096;  ///< 16M added rows per entity at most

  explicit key_tail(std::size_t entities) : chunks_(entities) {
    for (auto& c : chunks_) c.resize(max_chunks);
  }
  /// Whether slot `i` can be written (else the engine compacts first).
  static bool fits(std::size_t i) noexcept { return i < max_chunks * chunk; }
  void set(entity_id e, std::size_t i, std::string_view key) {
    auto& c = chunks_[e][i >> chunk_bits];
    if (!c) c = std::make_unique<std::string[]>(chunk);
    c[i & (chunk - 1)].assign(key);
  }
  std::string_view get(entity_id e, std::size_t i) const noexcept {
    return chunks_[e][i >> chunk_bits][i & (chunk - 1)];
  }

 private:
  std::vector<std::vector<std::unique_ptr<std::string[]>>> chunks_;
};

/// The values of one indexed column in the rows the delta holds (added, or changed since the
/// base was built), by value, for ticks: (value, row) pairs in sorted runs laid end to end,
/// each run more than twice as long as the next newer one. A batch's pairs are sorted into a
/// run of their own, then merged with the newest runs while those are not that much longer (as
/// a binary counter carries), so a column holds O(log pairs) runs and a pair is merged O(log
/// pairs) times. Runs stop merging at `max_run` pairs, so that no batch merges more (the merge
/// of 800k pairs stalled one batch in a thousand for tens of milliseconds at 1M people): past
/// that, a column holds about pairs / (max_run / 2) runs more. A row changed in several batches
/// is listed once per batch, under each value it had; readers test the rows found again, so a
/// stale pair costs a test, never a wrong answer. 16 bytes a pair, and as much again for the
/// merges' room, which is kept: a batch allocates nothing once they have grown (fresh pages
/// were most of a batch's cost here).
class delta_runs {
 public:
  delta_runs() = default;
  /// Runs of at most `max_run` pairs are made by merges (at least 2).
  explicit delta_runs(std::size_t max_run) : max_run_(std::max<std::size_t>(2, max_run)) {}

  struct pair {
    std::int64_t value;
    row_id row;
    friend bool operator<(const pair& a, const pair& b) noexcept {
      return a.value != b.value ? a.value < b.value : a.row < b.row;
    }
  };

  /// Room for `n` pairs in all: pushing that many never moves the pairs (a move of a million
  /// into fresh pages stalled a batch). Costs no page until used.
  void reserve(std::size_t n) { pairs_.reserve(n); }

  /// Adds a pair to the run `seal` makes next. O(1) amortized.
  void push(std::int64_t value, row_id row) { pairs_.push_back({value, row}); }

  /// Makes the pairs pushed since the last call a run, then merges. O(p log p) for its p pairs,
  /// plus the merges: amortized O(log pairs) a pair, the longest O(pairs).
  void seal() {
    const std::size_t begin = ends_.empty() ? 0 : ends_.back();
    if (pairs_.size() == begin) return;
    std::sort(pairs_.begin() + static_cast<std::ptrdiff_t>(begin), pairs_.end());
    ends_.push_back(pairs_.size());
    while (ends_.size() >= 2) {
      const std::size_t n = ends_.size(), b_end = ends_[n - 1], a_end = ends_[n - 2];
      const std::size_t a_begin = n >= 3 ? ends_[n - 3] : 0;
      if (a_end - a_begin > 2 * (b_end - a_end) || b_end - a_begin > max_run_) break;
      if (scratch_.size() < b_end - a_begin) scratch_.resize(b_end - a_begin);
      auto at = [&](std::size_t i) { return pairs_.begin() + static_cast<std::ptrdiff_t>(i); };
      std::merge(at(a_begin), at(a_end), at(a_end), at(b_end), scratch_.begin());
      std::copy_n(scratch_.begin(), b_end - a_begin, at(a_begin));
      ends_.pop_back();
      ends_.back() = b_end;
    }
  }

  /// Calls f(row) for every sealed pair whose value lies in [lo, hi]. O(runs x log pairs +
  /// found).
  template <class F>
  void rows_between(std::int64_t lo, std::int64_t hi, F&& f) const {
    std::size_t begin = 0;
    for (const std::size_t end : ends_) {
      auto it = std::partition_point(pairs_.begin() + static_cast<std::ptrdiff_t>(begin),
                                     pairs_.begin() + static_cast<std::ptrdiff_t>(end),
                                     [&](const pair& x) { return x.value < lo; });
      for (; it != pairs_.begin() + static_cast<std::ptrdiff_t>(end) && it->value <= hi; ++it)
        f(it->row);
      begin = end;
    }
  }

  /// Sealed pairs.
  std::size_t size() const noexcept { return ends_.empty() ? 0 : ends_.back(); }
  std::size_t runs() const noexcept { return ends_.size(); }

 private:
  std::vector<pair> pairs_;
  std::vector<std::size_t> ends_;  ///< where each run ends in `pairs_`, oldest first
  std::vector<pair> scratch_;      ///< room for the merges
  std::size_t max_run_ = std::size_t{1} << 17;
};

inline bool test_bit(const std::vector<std::uint64_t>& w, std::size_t i) noexcept {
  return (w[i >> 6] >> (i & 63)) & 1;
}

}  // namespace detail::live

/// What readers see: one whole batch's results, immutable. Keep the shared_ptr for as long as
/// its members or keys are used.
struct live_state {
  /// One segment's members: ids of live rows of `entity` (read their keys with `key`).
  struct segment {
    std::string name;
    entity_id entity = no_entity;
    std::shared_ptr<const Roaring> members;
  };
  std::uint64_t batch = 0;  ///< batches applied so far
  timestamp_us now = 0;
  std::vector<segment> segments;  ///< in the segments file's order
  double eval_ms = 0;             ///< the last full evaluation's time

  /// The key of row `id` of `e`, for an id in this state's members. O(1).
  std::string_view key(entity_id e, row_id id) const noexcept {
    return id < base_rows[e] ? base->key(e, id) : tail->get(e, id - base_rows[e]);
  }

  std::shared_ptr<const graph> base;  ///< the rows as of the last compaction
  std::vector<std::size_t> base_rows;
  std::shared_ptr<const detail::live::key_tail> tail;  ///< keys of rows added since
};

/// The current rows as a graph with the current members, in that graph's ids (for writing the
/// results as `eval` does, or for checking them).
struct live_snapshot {
  graph data;
  std::vector<segment_result> segments;  ///< in the segments file's order
  timestamp_us now = 0;
};

/// A dataset that changes: the rows loaded, a compiled segments file and the current members,
/// moved forward by `apply` one batch at a time. One writer (`apply` is not reentrant); any
/// number of readers call `current()` from other threads and see whole batches only (the state is
/// published by swapping a shared pointer under a mutex; a reader never waits for a batch).
///
/// Incremental: the engine keeps every plan node's set and, after a batch, recomputes only the
/// rows the batch can have changed (`row_evaluator` over `live_view`: the graph of the last
/// compaction plus the changed rows), node by node; a tick recomputes the rows that cross a
/// window edge (found through a value index) and re-tests cached min/max values. A batch that
/// changes many rows, or a delta grown past an eighth of the rows, compacts instead: the rows are
/// rebuilt into a graph and every segment evaluated in full (HACKING, "The live path").
class live_engine {
 public:
  /// Takes the rows of `base` (copied; `base` may go away afterwards) and `file` (compiled
  /// against `base`'s schema; shared, never changed) and evaluates every segment as of
  /// `o.as_of`. Throws data_error for a dataset with sources whose source rows neither `base`
  /// (a snapshot that carries them) nor `o.dataset` gives (or whose files changed since).
  live_engine(const graph& base, std::shared_ptr<const bound_file> file, live_options o)
      : rows_(base, o.dataset, o.load_lenient),
        file_holder_(std::move(file)),
        file_(*file_holder_),
        opts_(o) {
    rows_.set_now(o.as_of);
    state_ = compact(true, 0);
  }

  /// The same over a shared graph, which the engine keeps as its first base (no copy of the
  /// indexes: one rebuild fewer at start).
  live_engine(std::shared_ptr<const graph> base, std::shared_ptr<const bound_file> file,
              live_options o)
      : rows_(*base, o.dataset, o.load_lenient),
        file_holder_(std::move(file)),
        file_(*file_holder_),
        opts_(o) {
    rows_.set_now(o.as_of);
    state_ = compact(false, 0, std::move(base));
  }

  const bound_file& segments() const noexcept { return file_; }
  const b2bseg::schema& schema() const noexcept { return rows_.schema(); }

  /// The current rows, as texts by key (`find`, `field`) and as the row evaluator reads them
  /// (`view`: what `explain_membership_in` takes). They change in `apply`: read them on the
  /// writer's thread, or while no batch runs (`serve` keeps two engines and reads the one that
  /// is not being written).
  const live_rows& rows() const noexcept { return rows_; }
  const live_view& view() const noexcept { return *view_; }

  /// Whether row `r` of segment `k`'s entity (`k` in the segments file's order) is a member of
  /// segment `k` after the last whole batch: what `current()->segments[k].members` holds, read
  /// as one bit of the engine's own flat set of that segment (no Roaring search: a look-up that
  /// asks for every segment of a row pays a bit test each). Reads what `apply` changes, as
  /// `rows()` does: call it on the writer's thread or while no batch runs. O(1), noexcept.
  bool in_segment(std::size_t k, row_id r) const noexcept {
    const words& w = bits_[plan_.roots[root_index_[k]].node];
    return (r >> 6) < w.size() && detail::live::test_bit(w, r);
  }

  /// The state after the last whole batch. Thread-safe; O(1).
  std::shared_ptr<const live_state> current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }

  /// How the last batches were computed (incremental, or by compaction and full evaluation).
  struct counters {
    std::uint64_t incremental = 0, compactions = 0, full_nodes = 0;
    std::uint64_t rows_evaluated = 0;     ///< rows recomputed one by one
    std::uint64_t counted_rows = 0;       ///< rows of count nodes re-tested from their kept counts
    std::uint64_t indexed_scans = 0;      ///< window scans a tick moved, done through a value index
    std::uint64_t cached_aggregates = 0;  ///< min/max tests a tick moved, re-tested from a cache
    std::uint64_t carried_indexes = 0;    ///< time indexes carried over a compaction, not sorted

    counters& operator+=(const counters& o) noexcept {
      incremental += o.incremental;
      compactions += o.compactions;
      full_nodes += o.full_nodes;
      rows_evaluated += o.rows_evaluated;
      counted_rows += o.counted_rows;
      indexed_scans += o.indexed_scans;
      cached_aggregates += o.cached_aggregates;
      carried_indexes += o.carried_indexes;
      return *this;
    }
  };
  const counters& stats() const noexcept { return counters_; }

  /// Rows added or changed since the last compaction: what the next one folds in. O(1).
  std::size_t delta_rows() const noexcept { return view_->delta_rows(); }

  /// Compacts when the delta would hold more than `rows` changed or added rows; 0 (the
  /// default) means an eighth of the rows, at least 1,024. Small values test compaction.
  void set_compact_after(std::size_t rows) noexcept { compact_after_ = rows; }

  /// A node's candidate rows are tested on the engine's threads (`live_options::threads`) when
  /// there are at least `rows` of them, else on the caller's; default 512. Small values test
  /// the parallel path.
  void set_parallel_candidates(std::size_t rows) noexcept {
    parallel_candidates_ = std::max<std::size_t>(1, rows);
  }

  /// The nodes of one level of the plan run on the engine's threads when the batch changed at
  /// least `rows` rows or moved `now`, else one after another on the caller's (handing out a
  /// hundred nodes with little to do each costs more than it saves: a batch of one event took
  /// 0.07 ms instead of 0.03); default 64. Small values test the parallel path.
  void set_parallel_nodes(std::size_t rows) noexcept { parallel_nodes_ = rows; }

  /// The first change of `changes` that cannot apply after the ones before it, or nothing; a
  /// dry run that leaves the data as it was. O(changes), deletes aside.
  std::optional<change_error> check(std::span<const change> changes) {
    undo_log undo;
    std::optional<change_error> err;
    rows_.begin_batch();
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
  /// ones before it; then updates the members and returns who entered and who left. A change
  /// that cannot apply fails the whole batch (nothing applied, `failed()`, the error in `errors`)
  /// or, with `lenient`, is skipped and counted. Every call that does not fail takes a number,
  /// also when every change in it was skipped. Cost: the rows the batch touches and what depends
  /// on them, or O(rows) when it compacts.
  ///
  /// Throws only where the batch can be neither applied nor taken back: an exception (memory
  /// exhausted) after a compaction renumbered the rows, or during the recovery from one. The
  /// engine is then unusable: every later call throws std::logic_error.
  batch_result apply(std::span<const change> changes) {
    if (!broken_.empty())
      throw std::logic_error("live_engine: unusable after a failed batch: " + broken_);
    const auto t0 = std::chrono::steady_clock::now();
    renumbered_ = false;
    batch_result res;
    undo_log undo, one;
    rows_.begin_batch();
    for (std::size_t i = 0; i < changes.size(); ++i) {
      // The look-ups of the next changes asked for ahead: their misses overlap.
      if (i % prefetch_window == 0)
        rows_.prefetch(changes.subspan(i, std::min(prefetch_window, changes.size() - i)));
      const change& c = changes[i];
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
    std::shared_ptr<const live_state> before = current();
    std::shared_ptr<const live_state> after;
    try {
      after = undo.entries.empty() ? restamp(*before) : update(undo, *before, res);
    } catch (const std::exception& e) {
      // The checks of each change should make this impossible; if not, the batch is refused
      // whole, whatever the mode, and the engine starts again from the rows as they were. The
      // undo log names rows by id, so that works only if no compaction renumbered them.
      if (renumbered_) {
        broken_ = e.what();
        throw;
      }
      rows_.rollback(undo);
      res = {};
      res.errors.push_back({changes.empty() ? 0 : changes.back().line,
                            std::string("the batch cannot be applied: ") + e.what()});
      try {
        auto s = compact(true, before->batch);
        std::lock_guard<std::mutex> lock(mu_);
        state_ = std::move(s);
      } catch (const std::exception& again) {
        broken_ = again.what();
        throw;
      }
      return res;
    }
    res.batch = after->batch;
    res.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu_);
    state_ = std::move(after);
    return res;
  }

  /// The current rows built into a graph, with the current members in its ids. O(rows): for
  /// writing results at the end of a stream and for tests; same thread as `apply`.
  live_snapshot materialize() const {
    live_snapshot out{rows_.build(), {}, rows_.now()};
    const auto s = current();
    for (std::size_t i = 0; i < s->segments.size(); ++i) {
      const auto& seg = s->segments[i];
      segment_result r;
      r.name = seg.name;
      r.entity = seg.entity;
      r.node = plan_.roots[root_index_[i]].node;
      for (auto it = seg.members->begin(); it != seg.members->end(); ++it)
        r.members.add(out.data.find_key(seg.entity, s->key(seg.entity, *it)));
      out.segments.push_back(std::move(r));
    }
    return out;
  }

 private:
  using words = std::vector<std::uint64_t>;

  /// Rebuilds the rows into a new base graph when `rebuild` (else uses `g`, or the current base,
  /// which must hold every row as it is), evaluates the whole plan at the current `now`, keeps
  /// every node's set and returns the state, numbered `batch`.
  ///
  /// Exception safety: everything is built aside first, so a throw leaves the engine's rows,
  /// view and sets as they were when it was called (a batch that compacts has moved the view
  /// and the key tail forward first: `apply`'s recovery rolls the rows back and compacts again
  /// without `view_current`, which makes a new view); then it is swapped in by moves
  /// (`renumbered_` says it was).
  /// The rows' texts move to the new graph's order last, at the swap: a throw there (memory
  /// exhausted) leaves the engine unusable, as `apply` says.
  ///
  /// `view_current`: the view has seen every row and change of the rows (`refresh`), so its
  /// parents are the rows the link values name, and the rebuild takes them instead of looking
  /// each key up. `numbering`, when given, receives the rebuild's (per entity, each new row's
  /// row before), or stays empty when nothing was rebuilt.
  std::shared_ptr<const live_state> compact(
      bool rebuild, std::uint64_t batch, std::shared_ptr<const graph> g = nullptr,
      bool view_current = false, std::vector<std::vector<std::uint32_t>>* numbering = nullptr) {
    const bool fresh = !g && rebuild;
    std::vector<std::vector<std::uint32_t>> from;  // a fresh graph's row: the row it came from
    if (g) {
      // the rows were read from it
    } else if (rebuild) {
      // A view that has seen every change also knows which base rows none touched: their
      // values are copied from the base graph's columns instead of parsed from their texts.
      live_rows::link_parents known;
      live_rows::base_values unchanged;
      if (view_current) {
        const b2bseg::schema& sc = rows_.schema();
        known.resize(sc.entities.size());
        unchanged.graph = &view_->base();
        for (entity_id e = 0; e < sc.entities.size(); ++e) {
          for (std::uint32_t l = 0; l < sc.entities[e].links.size(); ++l)
            known[e].push_back(view_->parents(e, l));
          unchanged.changed.push_back(view_->changed(e));
        }
      }
      g = std::make_shared<const graph>(
          rows_.build(&from, view_current ? &known : nullptr, view_current ? &unchanged : nullptr));
    } else {
      g = view_->base_ptr();
    }
    plan p = build_plan(g->schema(), file_, rows_.now());
    std::vector<prepared_node> prepared = prepared_for(p);
    tick_aids aids = tick_aids_for(*g, p, fresh && view_current ? &from : nullptr);
    executor ex(*g, opts_.threads);
    std::vector<bitset> kept;
    evaluation ev = ex.run(p, file_, &kept);
    std::vector<words> bits(kept.size());
    const std::size_t total = detail::live::total_rows(*g);
    for (std::size_t i = 0; i < kept.size(); ++i) {
      // Room for the rows the delta may add before the next compaction, so growing a set by a
      // word does not copy it.
      const std::size_t n = (kept[i].size() + 63) / 64;
      bits[i].reserve((detail::live::with_room(kept[i].size(), total) + 63) / 64);
      bits[i].assign(kept[i].words(), kept[i].words() + n);
    }
    kept.clear();
    std::vector<std::uint8_t> counted(p.nodes.size(), 0);
    std::vector<std::uint32_t> count_nodes;
    for (std::uint32_t i = 0; i < p.nodes.size(); ++i)
      if (p.nodes[i].op == plan_op::rev_count) {
        counted[i] = 1;
        count_nodes.push_back(i);
      }
    std::vector<std::vector<std::uint32_t>> counts(p.nodes.size());
    arena_.execute([&] {
      b2bseg::detail::parallel_for(std::size_t{0}, count_nodes.size(), [&](std::size_t x) {
        const plan_node& n = p.nodes[count_nodes[x]];
        counts[count_nodes[x]] = count_children(*g, n, bits[n.inputs[0]]);
      });
    });
    // The view keeps a reference to the engine's `rows_` object and reads only its layout here,
    // which the moved rows share: it is built before the swap, where only that move can throw.
    auto view = std::make_unique<live_view>(g, rows_);
    auto tail = std::make_shared<detail::live::key_tail>(g->schema().entities.size());
    std::vector<std::uint32_t> root_index(file_.segments.size(), 0);
    for (std::size_t k = 0; k < p.roots.size(); ++k)
      root_index[p.roots[k].segment] = static_cast<std::uint32_t>(k);
    std::vector<std::vector<std::uint32_t>> levels = plan_levels(p);
    auto s = std::make_shared<live_state>();
    s->segments.resize(file_.segments.size());
    for (auto& r : ev.segments) {
      const auto i = static_cast<std::size_t>(file_.find(r.name));
      s->segments[i] = {r.name, r.entity, std::make_shared<const Roaring>(std::move(r.members))};
    }
    s->base_rows.reserve(g->schema().entities.size());
    // The calling thread's marks, sized and touched now rather than in the first batches (the
    // other threads' grow when first used). Scratch, all clear between uses: replacing them
    // before the swap changes nothing if what follows throws.
    marks_.clear();
    std::vector<words>& marks = marks_.local();
    marks.resize(g->schema().entities.size());
    for (entity_id e = 0; e < marks.size(); ++e) {
      marks[e].assign((detail::live::with_room(g->rows(e), total) + 63) / 64, 0);
    }

    // The swap: moves only, but for the rows' texts (a table of keys is made).
    if (fresh) {
      renumbered_ = true;
      // The entities' rows move side by side (the live_rows constructor's parallel_for).
      std::optional<live_rows> moved;
      arena_.execute([&] { moved.emplace(*g, std::move(rows_), from); });
      rows_ = std::move(*moved);
      if (numbering) *numbering = std::move(from);
      ++counters_.compactions;
    }
    view_ = std::move(view);
    evals_.reset();  // they read the view that went
    rows_.set_child_finder(
        [this](entity_id ce, std::uint32_t l, row_id p, std::vector<row_id>& out) {
          const entity_id to = rows_.schema().entities[ce].links[l].target;
          if (p < view_->rows(to))
            view_->for_each_child(ce, l, p, [&](row_id c) { out.push_back(c); });
        });
    tail_ = std::move(tail);
    plan_ = std::move(p);
    prepared_ = std::move(prepared);
    root_index_ = std::move(root_index);
    levels_ = std::move(levels);
    indexes_ = std::move(aids.indexes);
    node_index_ = std::move(aids.node_index);
    extremes_ = std::move(aids.extremes);
    bits_ = std::move(bits);
    counts_ = std::move(counts);
    counted_ = std::move(counted);
    // The extremes of the min/max nodes that move with `now`, so that no tick reads children.
    // (No allocation: the caches were sized above.)
    row_evaluator<live_view> eval(*view_);
    kept_bits in{&bits_};
    for (std::uint32_t i = 0; i < extremes_.size(); ++i) {
      if (!extremes_[i].on) continue;
      for (row_id r = 0; r < extremes_[i].value.size(); ++r) refresh_extreme(eval, i, r, in);
      extremes_[i].valid = true;
    }

    s->batch = batch;
    s->now = rows_.now();
    s->eval_ms = ev.eval_ms;
    publish_frame(*s);
    return s;
  }

  /// Each node of `p` prepared for row tests.
  std::vector<prepared_node> prepared_for(const plan& p) const {
    std::vector<prepared_node> out;
    out.reserve(p.nodes.size());
    for (const auto& n : p.nodes) out.push_back(prepare_node(rows_.schema(), n));
    return out;
  }

  /// Reads node `j`'s bit of row `x` from `bits_`: the input lookup of `row_evaluator`.
  struct kept_bits {
    const std::vector<words>* bits;
    bool operator()(std::uint32_t j, row_id x) const {
      return detail::live::test_bit((*bits)[j], x);
    }
  };

  void publish_frame(live_state& s) const {
    s.base = view_->base_ptr();
    s.base_rows.clear();
    for (entity_id e = 0; e < rows_.schema().entities.size(); ++e)
      s.base_rows.push_back(view_->base_rows(e));
    s.tail = tail_;
  }

  /// The same data and members under the next number (a batch that changed nothing).
  static std::shared_ptr<const live_state> restamp(const live_state& before) {
    auto s = std::make_shared<live_state>(before);
    ++s->batch;
    return s;
  }

  /// Moves the members forward by the batch whose undo entries are `undo`: incrementally, or by
  /// compaction when that costs less.
  std::shared_ptr<const live_state> update(const undo_log& undo, const live_state& before,
                                           batch_result& res) {
    const b2bseg::schema& sc = rows_.schema();
    const std::size_t n_entities = sc.entities.size();
    std::size_t base_total = 0, dirty_total = 0;
    for (entity_id e = 0; e < n_entities; ++e) base_total += view_->base_rows(e);
    // The rows the batch changed (added, killed, set), each once.
    bool now_moved = false;
    std::vector<std::vector<row_id>> dirty(n_entities);
    for (const auto& u : undo.entries)
      if (u.what == undo_log::kind::now)
        now_moved = true;
      else if (undo_log::names_row(u.what))
        dirty[u.entity].push_back(u.row);
    for (entity_id e = 0; e < n_entities; ++e) {
      distinct(e, rows_.rows(e), dirty[e]);
      dirty_total += dirty[e].size();
    }
    bool fits = true;
    for (entity_id e = 0; e < n_entities; ++e)
      fits = fits && detail::live::key_tail::fits(rows_.rows(e) - view_->base_rows(e));
    const std::size_t limit =
        compact_after_ ? compact_after_ : detail::live::compaction_bound(base_total);
    if (!fits) {  // the table of added rows' keys is full: they cannot go into the view
      std::vector<std::vector<std::uint32_t>> from;
      auto s = compact(true, before.batch + 1, nullptr, false, &from);
      diff_across(before, *s, from, res);
      return s;
    }
    const bool compacts = view_->delta_rows() + dirty_total > limit;

    // 1. The delta: rows added, rows changed (their links followed), links moved.
    std::vector<std::vector<std::vector<link_move>>> moved(n_entities);  // [e][link]
    std::vector<std::size_t> old_rows(n_entities);
    std::vector<std::uint8_t> reordered(n_entities, 0);  // an older row moved its cluster link
    for (entity_id e = 0; e < n_entities; ++e) {
      old_rows[e] = view_->rows(e);
      moved[e].resize(sc.entities[e].links.size());
      const int key = rows_.layout().entities[e].key;
      while (view_->rows(e) < rows_.rows(e)) {
        const auto r = static_cast<row_id>(view_->rows(e));
        view_->add_row(e);
        if (key >= 0) tail_->set(e, r - view_->base_rows(e), rows_.field(e, r, key));
      }
    }
    for (entity_id e = 0; e < n_entities; ++e)
      for (row_id r : dirty[e])
        view_->refresh(e, r, [&](std::uint32_t l, row_id from, row_id to) {
          moved[e][l].push_back({r, from, to});
          if (static_cast<int>(l) == view_->cluster_link(e) && r < old_rows[e]) reordered[e] = 1;
        });
    if (compacts) {
      // Past the delta's bound: rebuilt, the view's links (now current) sparing the key look-ups.
      std::vector<std::vector<std::uint32_t>> from;
      auto s = compact(true, before.batch + 1, nullptr, true, &from);
      diff_across(before, *s, from, res);
      return s;
    }
    // The time indexes learn the current values of the rows the batch added or changed (before
    // a tick below looks for the rows crossing a window edge).
    for (value_index& x : indexes_) {
      const entity_id e = x.entity;
      for (row_id r : dirty[e])
        if (view_->alive(e, r) && !view_->is_null(e, x.attribute, r))
          x.delta.push(view_->int_at(e, x.attribute, r), r);
      x.delta.seal();
    }
    // Float sums add children in the order a fresh load numbers them, which follows the cluster
    // links of the entities above the children's: when a row there moved, every parent is
    // summed again (a moved child of the children's own entity is a candidate anyway).
    auto order_changed = [&](entity_id s) {
      for (entity_id a = s;;) {
        const int c = view_->cluster_link(a);
        if (c < 0) return false;
        if (a != s && reordered[a]) return true;
        a = sc.entities[a].links[static_cast<std::size_t>(c)].target;
      }
    };

    // 2. The plan: a tick changes the time literals, so the scans that hold them are run again.
    std::vector<std::uint8_t> rerun(plan_.nodes.size(), 0);
    std::vector<detail::int_range> old_ranges;  // a moved scan's range before the tick
    if (now_moved) {
      plan next = build_plan(sc, file_, rows_.now());
      std::vector<prepared_node> next_prepared = prepared_for(next);
      // A count kept per parent assumes its own test stays put (a count's literals are numbers,
      // so none moves with `now` today); were one to move, the batch compacts instead.
      bool replan = !same_shape(plan_, next);
      for (std::size_t i = 0; !replan && i < next.nodes.size(); ++i)
        replan = counted_[i] && !same_range(prepared_[i].ints, next_prepared[i].ints);
      if (replan) {
        std::vector<std::vector<std::uint32_t>> from;
        auto s = compact(view_->delta_rows() > 0, before.batch + 1, nullptr, true, &from);
        diff_across(before, *s, from, res);
        return s;
      }
      for (std::size_t i = 0; i < next.nodes.size(); ++i)
        rerun[i] = next.nodes[i].key != plan_.nodes[i].key;
      old_ranges.resize(next.nodes.size());
      for (std::size_t i = 0; i < next.nodes.size(); ++i)
        if (rerun[i]) old_ranges[i] = prepared_[i].ints;
      plan_ = std::move(next);
      prepared_ = std::move(next_prepared);  // roots stay: the shape is the same
    }

    // 3. Node by node: the candidates, recomputed one by one. A node's inputs come before it,
    // so the plan falls into levels (a node's level: one more than its inputs' highest) whose
    // nodes are independent; a segments file's plan is wide (at 1M people, the bench suite's
    // batches spend most of this step in its first three levels), so each level's nodes run on
    // the arena's threads. Each node writes only its own set, changes, counts and caches.
    std::vector<std::vector<row_id>> changed(plan_.nodes.size());
    kept_bits in{&bits_};
    const bool any_dirty = dirty_total > 0;
    if (!evals_)
      evals_ = std::make_unique<evaluators>([this] { return row_evaluator<live_view>(*view_); });
    evaluators& evals = *evals_;
    std::vector<counters> tally(plan_.nodes.size());  // per node; added up once all have run
    auto run_node = [&](std::uint32_t i) {
      counters& c = tally[i];
      row_evaluator<live_view>& eval = evals.local();
      std::vector<row_id> cand;
      const plan_node& n = plan_.nodes[i];
      const entity_id e = n.entity;
      words& w = bits_[i];
      w.resize((view_->rows(e) + 63) / 64, 0);
      auto set_to = [&](row_id r, bool v) {
        if (detail::live::test_bit(w, r) == v) return;
        w[r >> 6] ^= std::uint64_t(1) << (r & 63);
        changed[i].push_back(r);
      };
      const bool path_compare = n.op == plan_op::scan &&
                                n.pred.k == scan_pred::kind::compare_attrs &&
                                (!n.pred.left.path.empty() || !n.pred.right.path.empty());
      if (rerun[i] && n.op == plan_op::scan && !(path_compare && view_->delta_rows() > 0)) {
        if (!window_candidates(i, old_ranges[i], cand)) {
          rerun_scan(i, changed[i], c);
          return;
        }
        // The rows whose value lies between an old and a new window edge, and those the batch
        // changed (tested as any batch tests them): nothing else can flip.
        ++c.indexed_scans;
        cand.insert(cand.end(), dirty[e].begin(), dirty[e].end());
        if (cand.size() > 1) distinct(e, view_->rows(e), cand);
      } else if (n.op == plan_op::and_ || n.op == plan_op::or_) {
        // Only input bits matter: a row born or killed flips the inputs it is (was) in, and
        // one in none of them stays out.
        cand.clear();
      } else {
        cand.assign(dirty[e].begin(), dirty[e].end());
      }
      if (counted_[i]) {
        // A count kept per parent: moved by the children whose input bit flipped or whose link
        // moved (those children's parents are the candidates, with the changed parents), then
        // each candidate's test is O(1). A tick that moved the input's literals reaches it
        // through the input's flipped bits (its own test never moves: see the tick above).
        std::vector<std::uint32_t>& cnt = counts_[i];
        cnt.resize(view_->rows(e), 0);
        recount(n, changed[n.inputs[0]], moved[n.source][n.link], cnt, cand);
        if (cand.size() > 1) distinct(e, view_->rows(e), cand);
        c.counted_rows += cand.size();
        for (row_id r : cand)
          set_to(r, view_->alive(e, r) &&
                        row_evaluator<live_view>::count_passes(prepared_[i], std::int64_t{cnt[r]}));
        return;
      }
      if (n.op == plan_op::top) {
        // A rank depends on the whole group: any row of the entity changed or moved in or out
        // of the condition re-ranks everything, in one sort (top_rows), not row by row.
        if (!dirty[e].empty() || !changed[n.inputs[0]].empty() || rerun[i]) {
          ++c.full_nodes;
          const std::size_t rows = view_->rows(e);
          std::vector<row_id> top;
          top_rows(
              *view_, n, rows, [&](row_id r) { return in(n.inputs[0], r); }, top);
          std::vector<std::uint8_t> member(rows, 0);
          for (row_id r : top) member[r] = 1;
          for (row_id r = 0; r < rows; ++r) set_to(r, member[r] != 0);
          c.rows_evaluated += rows;
        }
        return;
      }
      // A compare through links reads other rows' values, and a node whose literals moved may
      // change anywhere: every row is recomputed (an extreme is cached while at it).
      extreme_cache& xc = extremes_[i];
      const bool cached = xc.on && xc.valid;
      const bool float_sum =
          n.op == plan_op::rev_aggregate &&
          (n.fn == aggregate_fn::sum || n.fn == aggregate_fn::avg) &&
          sc.entities[n.source].attributes[n.attribute].type == value_type::floating;
      if ((path_compare && (any_dirty || rerun[i])) ||
          (rerun[i] && n.op != plan_op::scan && !cached) ||
          (float_sum && order_changed(n.source))) {
        ++c.full_nodes;
        const std::size_t rows = view_->rows(e);
        if (xc.on) {
          xc.value.assign(rows, 0);
          xc.has.assign(rows, 0);
          xc.valid = true;
        }
        for (row_id r = 0; r < rows; ++r)
          set_to(r, xc.on ? refresh_extreme(eval, i, r, in) : eval(n, prepared_[i], r, in));
        c.rows_evaluated += rows;
        return;
      }
      switch (n.op) {
        case plan_op::and_:
        case plan_op::or_:
        case plan_op::not_:
          for (auto j : n.inputs) cand.insert(cand.end(), changed[j].begin(), changed[j].end());
          break;
        case plan_op::to_one:
          for (row_id p : changed[n.inputs[0]])
            view_->for_each_child(e, n.link, p, [&](row_id c) { cand.push_back(c); });
          break;
        case plan_op::rev_count:
        case plan_op::rev_aggregate: {
          auto add_parent = [&](row_id c) {
            const row_id p = view_->parent(n.source, n.link, c);
            if (p != no_row) cand.push_back(p);
          };
          // A child counts in its parent's count or aggregate when it is alive and in the
          // input set; a child added, deleted or leaving or entering the input flipped its input
          // bit. What else can move a parent: a child whose link moved, and, for an aggregate, a
          // child in the input whose value may have changed.
          for (row_id c : changed[n.inputs[0]]) add_parent(c);
          if (n.op == plan_op::rev_aggregate)
            for (row_id c : dirty[n.source])
              if (in(n.inputs[0], c)) add_parent(c);
          add_moved_parents(moved[n.source][n.link], cand);
          break;
        }
        case plan_op::rev_sequence:
          // A parent can move when a child enters or leaves a step, changes its time (dirty),
          // or moves between parents.
          for (auto j : n.inputs)
            for (row_id c : changed[j])
              if (const row_id p = view_->parent(n.source, n.link, c); p != no_row)
                cand.push_back(p);
          for (row_id c : dirty[n.source])
            if (const row_id p = view_->parent(n.source, n.link, c); p != no_row) cand.push_back(p);
          add_moved_parents(moved[n.source][n.link], cand);
          break;
        default:
          break;
      }
      if (cand.size() > 1) distinct(e, view_->rows(e), cand);
      c.rows_evaluated += cand.size();
      if (!cached) {
        if (cand.size() >= parallel_candidates_) {
          // Many candidates (a batch of event inserts brings as many people to each node that
          // counts events): tested on the arena's threads, an evaluator each, which only read
          // the view and the inputs' sets; then set in order, here.
          std::vector<std::uint8_t> verdicts(cand.size());
          on_threads(cand.size(), 128, [&](std::size_t begin, std::size_t end) {
            row_evaluator<live_view>& ev = evals.local();
            for (std::size_t k = begin; k < end; ++k)
              verdicts[k] = ev(n, prepared_[i], cand[k], in);
          });
          for (std::size_t k = 0; k < cand.size(); ++k) set_to(cand[k], verdicts[k] != 0);
          return;
        }
        for (row_id r : cand) set_to(r, eval(n, prepared_[i], r, in));
        return;
      }
      xc.value.resize(view_->rows(e), 0);
      xc.has.resize(view_->rows(e), 0);
      if (!rerun[i]) {
        for (row_id r : cand) set_to(r, refresh_extreme(eval, i, r, in));
        return;
      }
      // A moved test over cached extremes: the candidates' values first, then every row's test.
      ++c.cached_aggregates;
      for (row_id r : cand) refresh_extreme(eval, i, r, in);
      for (row_id r = 0; r < view_->rows(e); ++r)
        set_to(r, xc.has[r] && row_evaluator<live_view>::passes(n, prepared_[i], xc.value[r]));
    };
    // A tick's new plan has the same shape (checked above), so the levels stay.
    const bool wide = dirty_total >= parallel_nodes_ || now_moved;
    for (const auto& nodes : levels_) {
      if (wide)
        on_threads(nodes.size(), 1, [&](std::size_t begin, std::size_t end) {
          for (std::size_t k = begin; k < end; ++k) run_node(nodes[k]);
        });
      else
        for (std::uint32_t i : nodes) run_node(i);
    }
    for (const counters& c : tally) counters_ += c;
    ++counters_.incremental;

    // 4. The roots' changes become entered and exited keys; changed members are copied.
    auto s = std::make_shared<live_state>();
    s->batch = before.batch + 1;
    s->now = rows_.now();
    s->eval_ms = before.eval_ms;
    s->segments = before.segments;
    publish_frame(*s);
    std::vector<std::pair<std::string_view, bool>> keys;
    for (std::size_t k = 0; k < file_.segments.size(); ++k) {
      const std::uint32_t node = plan_.roots[root_index_[k]].node;
      const auto& ch = changed[node];
      if (ch.empty()) continue;
      auto& seg = s->segments[k];
      auto members = std::make_shared<Roaring>(*seg.members);
      const int key = rows_.layout().entities[seg.entity].key;
      keys.clear();
      for (row_id r : ch) {
        const bool now_in = detail::live::test_bit(bits_[node], r);
        if (now_in)
          members->add(r);
        else
          members->remove(r);
        keys.emplace_back(rows_.field(seg.entity, r, static_cast<std::uint32_t>(key)), now_in);
      }
      seg.members = std::move(members);
      // A key deleted and created again that stays a member makes no change.
      std::sort(keys.begin(), keys.end());
      for (std::size_t a = 0; a < keys.size(); ++a) {
        if (a + 1 < keys.size() && keys[a].first == keys[a + 1].first) {
          ++a;
          continue;
        }
        res.changes.push_back(
            {static_cast<std::uint32_t>(k), std::string(keys[a].first), keys[a].second});
        ++(keys[a].second ? res.entered : res.exited);
      }
    }
    return s;
  }

  /// Calls f(begin, end) over parts of [0, n) of at least `grain` (but for the last) on the
  /// arena's threads, or f(0, n) on the caller's when the arena has one thread or n <= grain.
  template <class F>
  void on_threads(std::size_t n, std::size_t grain, F&& f) {
    if (n <= grain || arena_.max_concurrency() < 2) {
      if (n) f(std::size_t{0}, n);
      return;
    }
    arena_.execute([&] {
      b2bseg::detail::parallel_for(
          tbb::blocked_range<std::size_t>(0, n, grain),
          [&](const tbb::blocked_range<std::size_t>& g) { f(g.begin(), g.end()); });
    });
  }

  /// The nodes of `p` by level: a node's level is one more than its inputs' highest (0 for a
  /// node without inputs), so the nodes of one level are independent. O(nodes).
  static std::vector<std::vector<std::uint32_t>> plan_levels(const plan& p) {
    std::vector<std::uint32_t> level(p.nodes.size(), 0);
    std::vector<std::vector<std::uint32_t>> out;
    for (std::uint32_t i = 0; i < p.nodes.size(); ++i) {
      for (auto j : p.nodes[i].inputs) level[i] = std::max(level[i], level[j] + 1);
      if (out.size() <= level[i]) out.resize(level[i] + 1);
      out[level[i]].push_back(i);
    }
    return out;
  }

  /// A min or max node's value per row (`has`: some child counts), valid once filled.
  struct extreme_cache {
    bool on = false, valid = false;
    std::vector<long double> value;
    std::vector<std::uint8_t> has;
  };

  /// Recomputes node `i`'s extreme for row `r` into its cache; returns the row's bit.
  template <class In>
  bool refresh_extreme(row_evaluator<live_view>& eval, std::uint32_t i, row_id r, In& in) {
    extreme_cache& xc = extremes_[i];
    const auto x = eval.extreme(plan_.nodes[i], r, in);
    xc.has[r] = x.has_value();
    xc.value[r] = x.value_or(0);
    return x && row_evaluator<live_view>::passes(plan_.nodes[i], prepared_[i], *x);
  }

  /// Base rows of one integer or timestamp column sorted by value, nulls left out.
  struct value_index {
    entity_id entity = no_entity;
    std::uint32_t attribute = 0;
    std::vector<row_id> rows;        ///< the base rows not null there, by their base value
    detail::live::delta_runs delta;  ///< the delta's rows by their current value
  };

  /// What ticks need, built at compaction for the nodes whose literals move with `now` (those
  /// whose key differs in the plan an hour later). For each scan that tests a range of an
  /// integer or timestamp column, that column's base rows sorted by value: a tick then finds the
  /// rows that cross a window edge by binary search instead of scanning (4 bytes a row; sorted,
  /// O(rows log rows) per such column, or carried over from the last compaction's,
  /// O(rows + delta log delta)). Each min or max aggregate gets a cache of its values (17 bytes
  /// a row), filled by `compact` (O(children)).
  struct tick_aids {
    std::vector<value_index> indexes;
    std::vector<int> node_index;  ///< per plan node: its value index, or -1
    std::vector<extreme_cache> extremes;
  };

  /// `from`, when given: `g` was just built from the rows the current view has seen whole (a
  /// compaction's numbering: g's row -> the row it was built from), so the indexes the engine
  /// holds are carried over rather than sorted again.
  tick_aids tick_aids_for(const graph& g, const plan& p,
                          const std::vector<std::vector<std::uint32_t>>* from = nullptr) {
    tick_aids out;
    out.node_index.assign(p.nodes.size(), -1);
    out.extremes.assign(p.nodes.size(), {});
    const plan later = build_plan(g.schema(), file_, rows_.now() + 3'600'000'000);
    if (!same_shape(p, later)) return out;
    using K = scan_pred::kind;
    // The columns to index first (each once, however many scans test it), then their indexes
    // made side by side: each reads only `g`, the indexes held and the view.
    struct wanted {
      entity_id entity;
      std::uint32_t attribute;
      const value_index* held;  ///< the index to carry over, or null: sort the column
    };
    std::vector<wanted> wants;
    for (std::size_t i = 0; i < p.nodes.size(); ++i) {
      const plan_node& n = p.nodes[i];
      if (n.key == later.nodes[i].key) continue;
      if (n.op == plan_op::rev_aggregate &&
          (n.fn == aggregate_fn::min || n.fn == aggregate_fn::max)) {
        out.extremes[i].on = true;
        out.extremes[i].value.assign(g.rows(n.entity), 0);  // filled by `compact`
        out.extremes[i].has.assign(g.rows(n.entity), 0);
      }
      if (n.op != plan_op::scan) continue;
      if (n.pred.k != K::compare && n.pred.k != K::between) continue;
      const value_type t = g.schema().entities[n.entity].attributes[n.pred.attribute].type;
      if (t != value_type::integer && t != value_type::timestamp) continue;
      auto it = std::find_if(wants.begin(), wants.end(), [&](const wanted& x) {
        return x.entity == n.entity && x.attribute == n.pred.attribute;
      });
      if (it == wants.end()) {
        const auto held = std::find_if(indexes_.begin(), indexes_.end(), [&](const value_index& x) {
          return x.entity == n.entity && x.attribute == n.pred.attribute;
        });
        wants.push_back(
            {n.entity, n.pred.attribute, from && held != indexes_.end() ? &*held : nullptr});
        it = std::prev(wants.end());
      }
      out.node_index[i] = static_cast<int>(it - wants.begin());
    }
    out.indexes.resize(wants.size());
    const std::size_t total = detail::live::total_rows(g);
    on_threads(wants.size(), 1, [&](std::size_t begin, std::size_t end) {
      for (std::size_t k = begin; k < end; ++k) {
        const wanted& w = wants[k];
        out.indexes[k] = w.held ? carried_by_value(g, *w.held, (*from)[w.entity])
                                : sorted_by_value(g, w.entity, w.attribute);
        const std::size_t n = g.rows(w.entity);
        out.indexes[k].delta.reserve(detail::live::with_room(n, total) - n);
      }
    });
    for (const wanted& w : wants) counters_.carried_indexes += w.held ? 1 : 0;
    return out;
  }

  value_index sorted_by_value(const graph& g, entity_id e, std::uint32_t a) {
    const column& c = g.attribute(e, a);
    const std::size_t n = g.rows(e);
    std::vector<std::uint8_t> null(n, 0);
    for (auto it = c.nulls().begin(); it != c.nulls().end(); ++it) null[*it] = 1;
    std::vector<std::pair<std::int64_t, row_id>> by_value;
    by_value.reserve(n - c.nulls().cardinality());
    for (std::size_t r = 0; r < n; ++r)
      if (!null[r]) by_value.emplace_back(c.ints()[r], static_cast<row_id>(r));
    arena_.execute([&] { detail::parallel_sort(by_value.begin(), by_value.end(), std::less<>()); });
    value_index out{e, a, {}, {}};
    out.rows.reserve(by_value.size());
    for (const auto& [v, r] : by_value) out.rows.push_back(r);
    return out;
  }

  /// `held`, the index of the base rows before a compaction, carried over to `g`, the graph the
  /// compaction built from the rows the view has seen whole (`from`: g's row -> the row it came
  /// from). The base rows the view never changed kept their values, so they keep their order,
  /// renumbered; the rows changed or added since (the view's delta) are sorted and merged in.
  /// The same rows as `sorted_by_value` (rows of one value may come in another order).
  /// O(rows + changed log changed), against a sort of every row. Reads only; safe to run beside
  /// other indexes' calls.
  value_index carried_by_value(const graph& g, const value_index& held,
                               const std::vector<std::uint32_t>& from) const {
    const entity_id e = held.entity;
    const column& c = g.attribute(e, held.attribute);
    const std::size_t n = g.rows(e), before = rows_.rows(e);
    // The row before -> its row in g, for the rows that keep their place in `held` (dead rows
    // and the delta's rows: none).
    std::vector<row_id> now(before, no_row);
    for (std::size_t r = 0; r < n; ++r) now[from[r]] = static_cast<row_id>(r);
    std::vector<std::pair<std::int64_t, row_id>> added;
    view_->for_each_delta_row(e, [&](row_id r) {
      const row_id x = std::exchange(now[r], no_row);
      if (x != no_row && !c.is_null(x)) added.emplace_back(c.ints()[x], x);
    });
    std::sort(added.begin(), added.end());
    value_index out{e, held.attribute, {}, {}};
    out.rows.reserve(held.rows.size() + added.size());
    const int_array& v = c.ints();
    std::size_t j = 0;
    // `held` in order: each row's new id and (while added rows remain to merge) its value are
    // random reads of large arrays, asked for ahead (the new ids twice as far) so that their
    // cache misses overlap.
    constexpr std::size_t ahead = 16;
    const std::size_t m = held.rows.size();
    const std::uint8_t* bytes = v.bytes().data();
    const std::size_t width = v.width();
    for (std::size_t k = 0; k < m; ++k) {
      if (k + 2 * ahead < m) __builtin_prefetch(&now[held.rows[k + 2 * ahead]]);
      if (k + ahead < m && j < added.size())
        if (const row_id y = now[held.rows[k + ahead]]; y != no_row)
          __builtin_prefetch(bytes + y * width);
      const row_id x = now[held.rows[k]];
      if (x == no_row) continue;
      if (j < added.size()) {
        const std::int64_t value = v[x];
        for (; j < added.size() && added[j].first < value; ++j) out.rows.push_back(added[j].second);
      }
      out.rows.push_back(x);
    }
    for (; j < added.size(); ++j) out.rows.push_back(added[j].second);
    return out;
  }

  /// Node `i`, a scan whose range moved from `old` to its prepared one: sets `cand` to the rows
  /// whose value lies in the part of either range the other lacks (with its edges), found in
  /// the node's value index: the base rows by their base value, the delta's by their current
  /// one (a changed base row may come twice). False when the node has no index or a range is
  /// not one interval.
  bool window_candidates(std::uint32_t i, const detail::int_range& old,
                         std::vector<row_id>& cand) const {
    cand.clear();
    const detail::int_range& now = prepared_[i].ints;
    if (node_index_[i] < 0 || old.has_exclude || now.has_exclude) return false;
    const value_index& x = indexes_[static_cast<std::size_t>(node_index_[i])];
    const int_array& v = view_->base().attribute(x.entity, x.attribute).ints();
    auto add = [&](std::int64_t lo, std::int64_t hi) {
      auto first =
          std::partition_point(x.rows.begin(), x.rows.end(), [&](row_id r) { return v[r] < lo; });
      for (auto it = first; it != x.rows.end() && v[*it] <= hi; ++it) cand.push_back(*it);
      x.delta.rows_between(lo, hi, [&](row_id r) { cand.push_back(r); });
    };
    if (old.empty || now.empty) {
      if (!old.empty) add(old.lo, old.hi);
      if (!now.empty) add(now.lo, now.hi);
    } else {
      add(std::min(old.lo, now.lo), std::max(old.lo, now.lo));
      add(std::min(old.hi, now.hi), std::max(old.hi, now.hi));
    }
    return true;
  }

  /// Node `i`, a scan whose literals moved: the kernel over the base rows, the delta's rows one
  /// by one; `changed` gets the rows whose bit flipped.
  void rerun_scan(std::uint32_t i, std::vector<row_id>& changed, counters& c) {
    const plan_node& n = plan_.nodes[i];
    const entity_id e = n.entity;
    ++c.full_nodes;
    bitset fresh = detail::eval_scan(view_->base(), e, n.pred);
    words w;
    w.reserve(bits_[i].capacity());  // keep the room for added rows
    w.assign(bits_[i].size(), 0);
    std::copy_n(fresh.words(), std::min(w.size(), (fresh.size() + 63) / 64), w.begin());
    row_evaluator<live_view> eval(*view_);
    kept_bits in{&bits_};
    view_->for_each_delta_row(e, [&](row_id r) {
      const bool v = eval(n, prepared_[i], r, in);
      const std::uint64_t bit = std::uint64_t(1) << (r & 63);
      w[r >> 6] = v ? (w[r >> 6] | bit) : (w[r >> 6] & ~bit);
      ++c.rows_evaluated;
    });
    const words& old = bits_[i];
    for (std::size_t k = 0; k < w.size(); ++k) {
      std::uint64_t x = w[k] ^ old[k];
      while (x) {
        changed.push_back(static_cast<row_id>(k * 64 + static_cast<unsigned>(__builtin_ctzll(x))));
        x &= x - 1;
      }
    }
    bits_[i] = std::move(w);
  }

  /// Whether two plans of one file differ only in their literals (the same nodes, ops and
  /// inputs): then node ids carry over and only nodes whose key changed need work.
  static bool same_shape(const plan& a, const plan& b) {
    if (a.nodes.size() != b.nodes.size() || a.roots.size() != b.roots.size()) return false;
    for (std::size_t i = 0; i < a.nodes.size(); ++i) {
      const auto &x = a.nodes[i], &y = b.nodes[i];
      if (x.op != y.op || x.entity != y.entity || x.inputs != y.inputs || x.link != y.link ||
          x.source != y.source || x.fn != y.fn || x.attribute != y.attribute ||
          x.pred.k != y.pred.k || x.pred.attribute != y.pred.attribute ||
          x.pred.link != y.pred.link)
        return false;
    }
    for (std::size_t k = 0; k < a.roots.size(); ++k)
      if (a.roots[k].node != b.roots[k].node || a.roots[k].segment != b.roots[k].segment)
        return false;
    return true;
  }

  /// A row of a batch whose link moved from one parent to another (either may be `no_row`).
  struct link_move {
    row_id child, from, to;
  };

  /// Adds the parents each move left and joined to `cand`.
  static void add_moved_parents(const std::vector<link_move>& moves, std::vector<row_id>& cand) {
    for (const link_move& m : moves) {
      if (m.from != no_row) cand.push_back(m.from);
      if (m.to != no_row) cand.push_back(m.to);
    }
  }

  static bool same_range(const detail::int_range& a, const detail::int_range& b) noexcept {
    return a.lo == b.lo && a.hi == b.hi && a.empty == b.empty && a.has_exclude == b.has_exclude &&
           a.exclude == b.exclude;
  }

  /// Node `n`'s kept counts (a `rev_count`, its input already updated) moved forward by a batch:
  /// `flipped` are the children whose input bit flipped (the input's `changed`), `moves` the
  /// children whose link moved. A child's old bit is its bit now unless it flipped; a moved child
  /// takes its old bit from its old parent to its new one, then a flipped one adds or removes
  /// its new bit at its parent now. The parents touched go to `cand`. O(flipped + moves).
  void recount(const plan_node& n, const std::vector<row_id>& flipped,
               const std::vector<link_move>& moves, std::vector<std::uint32_t>& cnt,
               std::vector<row_id>& cand) {
    const words& in = bits_[n.inputs[0]];
    if (!moves.empty()) {
      // `distinct`'s marks (all clear between uses) mark the flipped children meanwhile.
      std::vector<words>& marks = marks_.local();
      if (marks.size() <= n.source) marks.resize(n.source + 1);
      words& mark = marks[n.source];
      const std::size_t rows = view_->rows(n.source);
      if (mark.size() * 64 < rows) mark.resize((rows + rows / 8 + 64) / 64, 0);
      for (row_id c : flipped) mark[c >> 6] |= std::uint64_t(1) << (c & 63);
      for (const link_move& m : moves) {
        const bool before =
            detail::live::test_bit(in, m.child) != detail::live::test_bit(mark, m.child);
        if (before && m.from != no_row) --cnt[m.from];
        if (before && m.to != no_row) ++cnt[m.to];
      }
      for (row_id c : flipped) mark[c >> 6] &= ~(std::uint64_t(1) << (c & 63));
      add_moved_parents(moves, cand);
    }
    // The parents first, their counts asked for ahead: a million parents' counts are larger
    // than the cache and a batch's children have parents anywhere, so the counts' misses
    // overlap instead of coming one after another.
    const std::size_t first = cand.size();
    for (row_id c : flipped) {
      const row_id p = view_->parent(n.source, n.link, c);
      cand.push_back(p);
      if (p != no_row) __builtin_prefetch(&cnt[p]);
    }
    std::size_t k = first;
    for (std::size_t j = 0; j < flipped.size(); ++j) {
      const row_id p = cand[first + j];
      if (p == no_row) continue;
      if (detail::live::test_bit(in, flipped[j]))
        ++cnt[p];
      else
        --cnt[p];
      cand[k++] = p;
    }
    cand.resize(k);
  }

  /// Node `n` (a `rev_count`) over `g`, whose rows are all alive: per parent row, how many of
  /// its children over the node's link are in `in`, the input's set. O(children in `in` + the
  /// children's rows / 64); room kept for the rows the delta may add.
  static std::vector<std::uint32_t> count_children(const graph& g, const plan_node& n,
                                                   const words& in) {
    const std::size_t parents = g.rows(n.entity), children = g.rows(n.source);
    std::vector<std::uint32_t> out;
    out.reserve(detail::live::with_room(parents, detail::live::total_rows(g)));
    out.assign(parents, 0);
    const row_id* par = g.link(n.source, n.link).parents().data();
    for (std::size_t w = 0; w < in.size(); ++w)
      for (std::uint64_t x = in[w]; x; x &= x - 1) {
        const std::size_t c = w * 64 + static_cast<unsigned>(__builtin_ctzll(x));
        if (c < children && par[c] != no_row) ++out[par[c]];
      }
    return out;
  }

  /// Removes repeated rows from `v` (rows of `e`, fewer than `rows`), keeping first ones: a bit
  /// per row marks them and is cleared again (cheaper than sorting, and no order is needed).
  void distinct(entity_id e, std::size_t rows, std::vector<row_id>& v) {
    std::vector<words>& marks = marks_.local();
    if (marks.size() <= e) marks.resize(e + 1);
    words& m = marks[e];
    if (m.size() * 64 < rows) m.resize((rows + rows / 8 + 64) / 64, 0);
    std::size_t k = 0;
    for (row_id r : v) {
      const std::uint64_t bit = std::uint64_t(1) << (r & 63);
      if (m[r >> 6] & bit) continue;
      m[r >> 6] |= bit;
      v[k++] = r;
    }
    v.resize(k);
    for (row_id r : v) m[r >> 6] &= ~(std::uint64_t(1) << (r & 63));
  }

  /// Entered and exited between `before` and `after`, the state a compaction just made: its
  /// members taken back to `before`'s ids through the compaction's numbering `from` (empty: the
  /// same ids, nothing was rebuilt), compared as flat sets, and only the rows that differ named
  /// by key, in key order. A key deleted and created again that stays a member makes no change.
  /// O(members + changes log changes): no key is read for a row that stays.
  static void diff_across(const live_state& before, const live_state& after,
                          const std::vector<std::vector<std::uint32_t>>& from, batch_result& res) {
    std::vector<std::uint64_t> was;
    std::vector<std::pair<std::string_view, bool>> keys;
    for (std::size_t i = 0; i < after.segments.size(); ++i) {
      const Roaring& old_members = *before.segments[i].members;
      const Roaring& members = *after.segments[i].members;
      const entity_id e = after.segments[i].entity;
      const std::uint32_t* back = from.empty() ? nullptr : from[e].data();  // (no rows: none)
      was.assign(old_members.isEmpty() ? 0 : old_members.maximum() / 64 + 1, 0);
      for (auto it = old_members.begin(); it != old_members.end(); ++it)
        was[*it >> 6] |= std::uint64_t(1) << (*it & 63);
      keys.clear();
      for (auto it = members.begin(); it != members.end(); ++it) {
        const std::uint32_t x = back ? back[*it] : *it;  // its row before
        if ((x >> 6) < was.size() && detail::live::test_bit(was, x))
          was[x >> 6] &= ~(std::uint64_t(1) << (x & 63));  // stays
        else
          keys.emplace_back(after.key(e, *it), true);
      }
      for (std::size_t w = 0; w < was.size(); ++w)
        for (std::uint64_t b = was[w]; b; b &= b - 1)
          keys.emplace_back(before.key(e, static_cast<row_id>(
                                              w * 64 + static_cast<unsigned>(__builtin_ctzll(b)))),
                            false);
      std::sort(keys.begin(), keys.end());
      const auto seg = static_cast<std::uint32_t>(i);
      for (std::size_t a = 0; a < keys.size(); ++a) {
        if (a + 1 < keys.size() && keys[a].first == keys[a + 1].first) {
          ++a;
          continue;
        }
        res.changes.push_back({seg, std::string(keys[a].first), keys[a].second});
        ++(keys[a].second ? res.entered : res.exited);
      }
    }
  }

  live_rows rows_;
  std::shared_ptr<const bound_file> file_holder_;
  const bound_file& file_;
  live_options opts_;
  std::unique_ptr<live_view> view_;
  /// Per-thread values kept as long as the engine. Their elements live in memory from the
  /// standard allocator: TBB's default allocator takes them from tbbmalloc when it is installed,
  /// whose pages a leak checker does not scan, so what an element owns showed as leaked in the
  /// fuzz targets (which keep one engine until exit).
  template <class T>
  using per_thread = tbb::enumerable_thread_specific<T, std::allocator<T>>;
  /// Row evaluators over `view_`, one per thread, made when first used and dropped with the view.
  /// Each keeps only scratch between calls, and a call never waits for other tasks, so no thread
  /// is ever in two calls of its own at once.
  using evaluators = per_thread<row_evaluator<live_view>>;
  std::unique_ptr<evaluators> evals_;
  std::shared_ptr<detail::live::key_tail> tail_;
  plan plan_;
  std::vector<prepared_node> prepared_;
  std::vector<std::uint32_t> root_index_;  ///< per segment (file order): its index in roots
  std::vector<std::vector<std::uint32_t>> levels_;  ///< plan_levels(plan_)
  std::vector<words> bits_;                         ///< every plan node's set, over live ids
  /// Per plan node: for a `rev_count` node (`counted_`), each parent row's number of children
  /// (over the node's link) in the input's set, kept in step with `bits_`; else empty. 4 bytes
  /// a parent row per such node.
  std::vector<std::vector<std::uint32_t>> counts_;
  std::vector<std::uint8_t> counted_;
  std::vector<value_index> indexes_;     ///< of the base, for the window scans
  std::vector<int> node_index_;          ///< per plan node: its value index, or -1
  std::vector<extreme_cache> extremes_;  ///< per plan node; `on` for min/max moved by ticks
  /// Per thread, per entity, a bit per row, all clear between uses: the marks of `distinct` and
  /// `recount` (nodes run on several threads; neither waits for other tasks while marking).
  per_thread<std::vector<words>> marks_;
  counters counters_;
  std::size_t compact_after_ = 0;
  std::size_t parallel_candidates_ = 512;
  std::size_t parallel_nodes_ = 64;
  /// Changes whose key look-ups `apply` asks for ahead at a time (live_rows::prefetch): enough
  /// for their cache misses to overlap, few enough for the lines to stay until they are read.
  static constexpr std::size_t prefetch_window = 256;
  /// Where candidates are tested in parallel: `opts_.threads` threads (0: all cores).
  tbb::task_arena arena_{opts_.threads ? static_cast<int>(opts_.threads)
                                       : tbb::task_arena::automatic};
  bool renumbered_ = false;  ///< a compaction in this batch replaced the rows (new ids)
  std::string broken_;       ///< why the engine cannot go on, once it cannot
  mutable std::mutex mu_;
  std::shared_ptr<const live_state> state_;
};

}  // namespace b2bseg
