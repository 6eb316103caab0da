// Runs a plan DAG with oneTBB: a node starts when its inputs are done, independent nodes run
// concurrently, large nodes split by id range, and each result is freed after its last consumer.
#pragma once

#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <roaring/roaring.hh>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "b2bseg/exec/kernels.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/plan/plan.hpp"
#include "b2bseg/storage/graph.hpp"

namespace b2bseg {

/// Size and time of one plan node, as measured during a run.
struct node_stats {
  std::uint64_t count = 0;  ///< rows in the node's set
  double ms = 0;            ///< time to compute the node alone (inputs excluded)
};

/// The members of one segment.
struct segment_result {
  std::string name;
  entity_id entity = no_entity;
  Roaring members;         ///< dense row ids of `entity`
  std::uint32_t node = 0;  ///< root node in the plan
  /// Compute time of the plan nodes of the segment's own definition (nodes shared with other
  /// segments counted for each; a segment used through `in_segment` counts on its own).
  double eval_ms = 0;
};

/// The outcome of one evaluation.
struct evaluation {
  b2bseg::plan plan;
  std::vector<segment_result> segments;  ///< in the file's dependency order
  std::vector<node_stats> nodes;         ///< per plan node
  double eval_ms = 0;                    ///< wall time of the whole run
};

/// Evaluates plans over one graph. Holds a oneTBB arena sized by `threads` (0: all cores), reused
/// across runs; the graph must outlive the executor. `run` may be called repeatedly (not
/// concurrently on one executor).
class executor {
 public:
  explicit executor(const graph& g, unsigned threads = 0)
      : g_(g),
        arena_(threads ? static_cast<int>(std::min(threads, max_threads))
                       : tbb::task_arena::automatic) {}

  /// Computes every root of `p` and returns the members of each segment. Cost: each node once,
  /// O(rows of its entity / 64) words plus its kernel's work, split across the arena's threads.
  /// Peak memory: the live intermediate bitsets (every node's, when `keep` is given: then
  /// `*keep` receives each node's set, by node id). Throws std::bad_alloc when memory runs out.
  evaluation run(b2bseg::plan p, const bound_file& f, std::vector<bitset>* keep = nullptr) {
    evaluation ev;
    const std::size_t n = p.nodes.size();
    ev.nodes.resize(n);
    std::vector<std::unique_ptr<bitset>> results(n);
    std::vector<std::vector<std::uint32_t>> consumers(n);
    std::unique_ptr<std::atomic<std::uint32_t>[]> pending(new std::atomic<std::uint32_t>[n]);
    std::unique_ptr<std::atomic<std::uint32_t>[]> remaining(new std::atomic<std::uint32_t>[n]);
    std::vector<std::vector<std::uint32_t>> roots_of(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      pending[i].store(static_cast<std::uint32_t>(p.nodes[i].inputs.size()));
      remaining[i].store(p.nodes[i].uses);
      for (auto in : p.nodes[i].inputs) consumers[in].push_back(i);
    }
    ev.segments.resize(p.roots.size());
    for (std::size_t k = 0; k < p.roots.size(); ++k) {
      const auto& seg = f.segments[p.roots[k].segment];
      ev.segments[k].name = seg.name;
      ev.segments[k].entity = seg.entity;
      ev.segments[k].node = p.roots[k].node;
      roots_of[p.roots[k].node].push_back(static_cast<std::uint32_t>(k));
    }
    auto release = [&](std::uint32_t i) {
      if (remaining[i].fetch_sub(1, std::memory_order_acq_rel) == 1 && !keep) results[i].reset();
    };

    auto t0 = std::chrono::steady_clock::now();
    arena_.execute([&] {
      tbb::task_group tg;
      std::function<void(std::uint32_t)> run_node = [&](std::uint32_t i) {
        auto t1 = std::chrono::steady_clock::now();
        results[i] = std::make_unique<bitset>(compute(p.nodes[i], results));
        ev.nodes[i].count = results[i]->count();
        ev.nodes[i].ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1)
                .count();
        for (auto in : p.nodes[i].inputs) release(in);
        for (auto k : roots_of[i]) {
          ev.segments[k].members = to_roaring_cpp(*results[i]);
          release(i);
        }
        for (auto c : consumers[i])
          if (pending[c].fetch_sub(1, std::memory_order_acq_rel) == 1)
            tg.run([&run_node, c] { run_node(c); });
      };
      for (std::uint32_t i = 0; i < n; ++i)
        if (p.nodes[i].inputs.empty()) tg.run([&run_node, i] { run_node(i); });
      tg.wait();
    });
    ev.eval_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (keep) {
      keep->clear();
      keep->reserve(n);
      for (auto& r : results) keep->push_back(std::move(*r));
    }

    // Each segment's own cost: the nodes reachable from its root without entering another
    // segment's root (a segment it uses through in_segment counts on its own). Bounded by the
    // segment's own expression, so the whole pass is linear in the file, also for long chains
    // of segments each using the next.
    std::vector<std::uint32_t> mark(n, ~0u), stack;
    std::vector<bool> is_root(n, false);
    for (const auto& s : ev.segments) is_root[s.node] = true;
    for (std::size_t k = 0; k < ev.segments.size(); ++k) {
      double ms = 0;
      stack.assign(1, ev.segments[k].node);
      while (!stack.empty()) {
        std::uint32_t i = stack.back();
        stack.pop_back();
        if (mark[i] == k) continue;
        mark[i] = static_cast<std::uint32_t>(k);
        ms += ev.nodes[i].ms;
        for (auto in : p.nodes[i].inputs)
          if (!is_root[in]) stack.push_back(in);
      }
      ev.segments[k].eval_ms = ms;
    }
    ev.plan = std::move(p);
    return ev;
  }

 private:
  bitset compute(const plan_node& node, const std::vector<std::unique_ptr<bitset>>& r) const {
    const std::size_t rows = g_.rows(node.entity);
    switch (node.op) {
      case plan_op::all:
        return bitset(rows, true);
      case plan_op::empty:
        return bitset(rows, false);
      case plan_op::scan:
        return detail::eval_scan(g_, node.entity, node.pred);
      case plan_op::and_:
      case plan_op::or_: {
        bitset out = r[node.inputs[0]]->clone();
        for (std::size_t k = 1; k < node.inputs.size(); ++k) {
          const bitset& in = *r[node.inputs[k]];
          detail::parallel_words(rows, [&](std::size_t w0, std::size_t w1) {
            if (node.op == plan_op::and_)
              out.and_with(in, w0, w1);
            else
              out.or_with(in, w0, w1);
          });
        }
        return out;
      }
      case plan_op::not_: {
        bitset out = r[node.inputs[0]]->clone();
        out.flip_all();
        return out;
      }
      case plan_op::to_one:
        return detail::eval_to_one(g_, node.entity, node.link, *r[node.inputs[0]]);
      case plan_op::rev_count:
        return detail::eval_rev_count(g_, node, *r[node.inputs[0]]);
      case plan_op::rev_aggregate:
        return detail::eval_rev_aggregate(g_, node, *r[node.inputs[0]]);
      case plan_op::rev_sequence: {
        std::vector<const bitset*> steps;
        for (auto i : node.inputs) steps.push_back(r[i].get());
        return detail::eval_rev_sequence(g_, node, steps);
      }
      case plan_op::top:
        return detail::eval_top(g_, node, *r[node.inputs[0]]);
    }
    return bitset(rows);
  }

  const graph& g_;
  tbb::task_arena arena_;
};

}  // namespace b2bseg
