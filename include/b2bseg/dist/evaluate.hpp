// Evaluating segments over a dataset spread across processes (SPEC 8). Each process reads a share
// of every CSV file, rows go to the process of their partition row, each process then also takes
// the rows around its own that the segments read (`reach`), loads all it holds as an ordinary
// graph, evaluates, and keeps the results of its own rows; process 0 writes what one process
// would. HACKING.md ("Scale-out") walks through the phases.
#pragma once

#include <malloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "b2bseg/common/process_memory.hpp"
#include "b2bseg/dist/comm.hpp"
#include "b2bseg/dist/partition.hpp"
#include "b2bseg/exec/executor.hpp"
#include "b2bseg/load/csv.hpp"
#include "b2bseg/load/dataset.hpp"
#include "b2bseg/load/table_builder.hpp"
#include "b2bseg/output/writer.hpp"
#include "b2bseg/plan/planner.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace b2bseg::dist {

/// What a distributed evaluation needs besides the data and the segments.
struct dist_options {
  timestamp_us as_of = 0;
  std::vector<std::uint32_t> selected;  ///< segments to evaluate (and what they use); empty: all
  unsigned threads = 0;                 ///< per process; 0: all cores
  /// A folder of this machine where each process writes the rows it holds while it loads them
  /// (removed afterwards). Must not be shared by two runs.
  std::string work_dir;
  /// Activation fields that `after` will evaluate on own rows of their entity: each process also
  /// takes the rows they read around its own (fields_reach).
  std::vector<const bound_field*> fields;
  /// Process 0 gets every segment's member list (`dist_segment::csv`); false: counts only (for
  /// work in `after` that gathers the members it needs itself).
  bool member_lists = true;
  /// How much of a file a process reads before giving back the pages read (its memory holds
  /// the rows it read, never the file), and how many bytes of rows it sends in one round when
  /// rows go to their owners. Tests make them small to cross many boundaries.
  std::size_t piece_bytes = std::size_t{32} << 20;
  std::size_t round_bytes = std::size_t{64} << 20;
};

/// What one process holds after evaluating, for work that follows on every process
/// (`evaluate_distributed`'s `after`): its graph (its own rows and those around them), the
/// evaluation of that graph, which rows are its own, and where a row comes in a single
/// process's order.
class local_evaluation {
 public:
  const graph& g;
  const evaluation& ev;
  /// Whether row `r` of entity `e` (an entity with a key) is this process's own (exactly one
  /// process owns each row). O(1).
  bool own(entity_id e, row_id r) const { return own_[e][r]; }
  /// Appends a byte string to `out` that sorts rows of entity `e` (of any process) as a single
  /// process numbers them.
  void order_key(entity_id e, row_id r, std::string& out) const;

  local_evaluation(const graph& graph, const evaluation& evaluation,
                   const std::vector<std::vector<bool>>& own, const std::vector<int>& cluster)
      : g(graph), ev(evaluation), own_(own), cluster_(cluster) {}

 private:
  const std::vector<std::vector<bool>>& own_;  // per entity with a key, per row
  const std::vector<int>& cluster_;
};

/// One segment's outcome. `csv` (the NAME.csv text, byte for byte a single process's) is filled
/// on rank 0 only; the rest on every rank.
struct dist_segment {
  std::string name;
  entity_id entity = no_entity;
  std::uint64_t count = 0;
  double eval_ms = 0;  ///< the slowest process's
  std::string csv;
};

/// One phase of a load over processes, as one process saw it.
struct load_phase {
  std::string name;
  double ms = 0;                 ///< wall time
  std::uint64_t peak_bytes = 0;  ///< the process's peak resident memory at the phase's end
};

/// The outcome of `evaluate_distributed`.
struct dist_result {
  std::vector<dist_segment> segments;  ///< evaluated segments in dependency order
  double load_ms = 0;                  ///< reading, placing and loading, wall time
  double eval_ms = 0;                  ///< evaluating, slowest process
  std::uint64_t rows_owned = 0;        ///< this process's own rows
  std::uint64_t rows_held = 0;         ///< with the rows around them and everywhere-rows
  std::uint64_t bytes_sent = 0;        ///< by this process to others, all phases
  /// Each phase of the load on this process, in order ("read", "check", "place", "links",
  /// "reach", "write", "build").
  std::vector<load_phase> phases;
};

namespace detail::distributed {

/// A row's identity in a run: entity, owning rank, index among the owner's rows of the entity.
using handle = std::uint64_t;
constexpr handle no_handle = ~handle{0};
inline handle make_handle(entity_id e, int rank, std::uint64_t idx) {
  return (std::uint64_t{e} << 56) | (std::uint64_t(rank) << 40) | idx;
}
inline entity_id handle_entity(handle h) {
  return static_cast<entity_id>(h >> 56);
}
inline int handle_rank(handle h) {
  return static_cast<int>((h >> 40) & 0xFFFF);
}
inline std::uint64_t handle_index(handle h) {
  return h & ((std::uint64_t{1} << 40) - 1);
}

/// Counts the bytes this rank sends to others.
class counting_communicator final : public communicator {
 public:
  explicit counting_communicator(communicator& c) : c_(c) {}
  int rank() const noexcept override { return c_.rank(); }
  int size() const noexcept override { return c_.size(); }
  std::vector<std::string> exchange(std::vector<std::string> out) override {
    for (std::size_t d = 0; d < out.size(); ++d)
      if (static_cast<int>(d) != c_.rank()) sent += out[d].size();
    return c_.exchange(std::move(out));
  }
  std::uint64_t sent = 0;

 private:
  communicator& c_;
};

/// The rows of one entity as they travel: per row its line and the place of its record in the
/// entity's file (every process sees the same files, so the owner of a row reads the record
/// itself when it writes its rows; the text never travels), then its key and link values laid
/// end to end in blocks of `block_bytes` (no allocation per row, no copy as the store grows, and
/// the blocks of rows already sent can be given back: `release_before`).
class row_store {
 public:
  /// The largest block, above glibc's largest mmap threshold (32 MiB), so that each large block
  /// is its own mapping: a block let go of goes back to the system at once, and room never
  /// written costs nothing.
  static constexpr std::size_t block_bytes = std::size_t{64} << 20;

  explicit row_store(std::size_t links = 0) : links_(links) {}
  std::size_t size() const noexcept { return start_.size(); }
  std::size_t links() const noexcept { return links_; }
  std::uint64_t line(std::size_t i) const noexcept { return line_[i]; }
  /// Where row i's record lies in the entity's file: byte offset and size (no line end).
  std::uint64_t record_at(std::size_t i) const noexcept { return at_[i]; }
  std::uint32_t record_size(std::size_t i) const noexcept { return size_[i]; }
  std::string_view key(std::size_t i) const noexcept { return field(i, 0); }
  std::string_view link(std::size_t i, std::size_t l) const noexcept { return field(i, 1 + l); }

  /// Appends a row; `link(l)` gives link value l.
  template <class LinkValue>
  void add(std::uint64_t line, std::uint64_t at, std::uint32_t size, std::string_view key,
           LinkValue link) {
    std::size_t n = key.size();
    for (std::size_t l = 0; l < links_; ++l) n += link(l).size();
    begin_row(line, at, size, n);
    put(key);
    for (std::size_t l = 0; l < links_; ++l) put(link(l));
  }
  /// Room for `rows` more rows (the per-row arrays; values go to blocks as they come).
  void reserve(std::size_t rows) {
    start_.reserve(start_.size() + rows);
    line_.reserve(line_.size() + rows);
    at_.reserve(at_.size() + rows);
    size_.reserve(size_.size() + rows);
    len_.reserve(len_.size() + rows * (1 + links_));
  }
  /// The bytes of row i in a message `send` writes.
  std::size_t message_size(std::size_t i) const noexcept {
    std::size_t n = 8 * 3 + 8 * (1 + links_);
    const std::size_t stride = 1 + links_;
    for (std::size_t k = 0; k < stride; ++k) n += len_[i * stride + k];
    return n;
  }
  /// Skips a row `send` wrote.
  static void skip(wire_reader& rd, std::size_t links) {
    rd.u64(), rd.u64(), rd.u64();
    for (std::size_t k = 0; k < 1 + links; ++k) rd.str();
  }
  /// Writes row i to a message (line, record's place, then each value).
  void send(std::size_t i, wire_writer& w) const {
    w.u64(line_[i]);
    w.u64(at_[i]);
    w.u64(size_[i]);
    for (std::size_t k = 0; k < 1 + links_; ++k) w.str(field(i, k));
  }
  /// Appends a row `send` wrote.
  void receive(wire_reader& rd) {
    const std::uint64_t line = rd.u64(), at = rd.u64();
    const auto size = static_cast<std::uint32_t>(rd.u64());
    values_.clear();
    std::size_t n = 0;
    for (std::size_t k = 0; k < 1 + links_; ++k) n += values_.emplace_back(rd.str()).size();
    begin_row(line, at, size, n);
    for (std::string_view v : values_) put(v);
  }
  /// Gives back the blocks that hold only the values of rows before row i (which must not be
  /// read again); the rows keep their lines and records.
  void release_before(std::size_t i) {
    const std::size_t last =
        i < size() ? static_cast<std::size_t>(start_[i] >> 32) : blocks_.size();
    for (std::size_t b = 0; b < last && b < blocks_.size(); ++b) std::string().swap(blocks_[b]);
  }
  void clear() {
    std::vector<std::string>().swap(blocks_);
    std::vector<std::uint64_t>().swap(start_);
    std::vector<std::uint64_t>().swap(line_);
    std::vector<std::uint64_t>().swap(at_);
    std::vector<std::uint32_t>().swap(size_);
    std::vector<std::uint32_t>().swap(len_);
  }

 private:
  void begin_row(std::uint64_t line, std::uint64_t at, std::uint32_t size, std::size_t n) {
    if (blocks_.empty() || blocks_.back().capacity() - blocks_.back().size() < n) {
      // Blocks double from 64 KiB (a small entity takes little) up to block_bytes.
      const std::size_t next = blocks_.empty()
                                   ? std::size_t{64} << 10
                                   : std::min(block_bytes, 2 * blocks_.back().capacity());
      blocks_.emplace_back();
      blocks_.back().reserve(std::max(n, next));
    }
    line_.push_back(line);
    at_.push_back(at);
    size_.push_back(size);
    start_.push_back((std::uint64_t(blocks_.size() - 1) << 32) | blocks_.back().size());
  }
  void put(std::string_view v) {
    blocks_.back().append(v);
    len_.push_back(static_cast<std::uint32_t>(v.size()));
  }
  std::string_view field(std::size_t i, std::size_t k) const noexcept {
    const std::size_t stride = 1 + links_;
    const std::string& block = blocks_[start_[i] >> 32];
    std::size_t at = start_[i] & 0xFFFFFFFFu;
    for (std::size_t j = 0; j < k; ++j) at += len_[i * stride + j];
    return {block.data() + at, len_[i * stride + k]};
  }
  std::size_t links_;
  std::vector<std::string> blocks_;
  std::vector<std::uint64_t> start_, line_, at_;  // start: block << 32 | offset in the block
  std::vector<std::uint32_t> size_, len_;         // len: [row * (1 + links) + value]
  std::vector<std::string_view> values_;          // receive's
};

/// Strings laid end to end in one buffer (no allocation per string).
class key_list {
 public:
  std::size_t size() const noexcept { return end_.size(); }
  std::string_view operator[](std::size_t i) const noexcept {
    const std::size_t b = i ? end_[i - 1] : 0;
    return {bytes_.data() + b, end_[i] - b};
  }
  void add(std::string_view k) {
    bytes_.append(k);
    end_.push_back(bytes_.size());
  }

 private:
  std::string bytes_;
  std::vector<std::size_t> end_;
};

/// The link a table's rows are numbered by: the first to another entity built before it (the
/// rule of `build_table`), or -1.
inline int cluster_link(const schema& s, entity_id e, const std::vector<std::size_t>& build_pos) {
  const auto& links = s.entities[e].links;
  for (std::size_t l = 0; l < links.size(); ++l)
    if (links[l].target != e && build_pos[links[l].target] < build_pos[e])
      return static_cast<int>(l);
  return -1;
}

/// A byte string that sorts rows of entity `e` as a single process numbers them: by the same
/// key of the cluster parent (rows without one last), then by key. Keys are escaped so that
/// concatenations compare part by part.
inline void order_key(const graph& g, entity_id e, row_id r, const std::vector<int>& cluster,
                      std::string& out) {
  const int cl = cluster[e];
  if (cl >= 0) {
    const row_id p = g.link(e, static_cast<std::uint32_t>(cl)).parent(r);
    if (p != no_row) {
      out += '\x01';
      order_key(g, g.schema().entities[e].links[cl].target, p, cluster, out);
    } else {
      out += '\x02';
    }
  }
  for (char ch : g.key(e, r)) {
    out += ch;
    if (ch == '\0') out += '\xFF';
  }
  out += '\0';
  out += '\x01';
}

/// The message of `x` without its place ("FILE:LINE:COL: " comes first in what()).
inline std::string message_of(const data_error& x) {
  std::string place = x.file();
  if (x.line()) place += ":" + std::to_string(x.line());
  if (x.line() && x.column()) place += ":" + std::to_string(x.column());
  place = b2bseg::detail::escape_controls(place + ": ");
  const std::string w = x.what();
  return w.rfind(place, 0) == 0 ? w.substr(place.size()) : w;
}

/// Reads records like csv_record_reader, keeping each record's bytes (a view into the file, which
/// must outlive `raws`) and line.
struct capturing_reader {
  csv_record_reader& r;
  std::vector<std::string_view>& raws;
  std::vector<std::uint64_t>& lines;
  bool next(std::vector<std::string_view>& f) {
    if (!r.next(f)) return false;
    raws.emplace_back(r.record());
    lines.push_back(r.line());
    return true;
  }
  std::size_t line() const noexcept { return r.line(); }
  std::size_t column(std::size_t i) const noexcept { return r.column(i); }
};

/// The state of one process during a distributed load.
class loader {
 public:
  loader(communicator& c, const std::string& dir, const schema& s, const reach& rc,
         std::size_t piece_bytes, std::size_t round_bytes)
      : c_(c),
        n_(c.size()),
        me_(c.rank()),
        dir_(dir),
        s_(s),
        reach_(rc),
        piece_bytes_(std::max<std::size_t>(piece_bytes, 1)),
        round_bytes_(std::max<std::size_t>(round_bytes, 1)) {
    order_ = b2bseg::detail::build_order(s_);
    build_pos_.assign(s_.entities.size(), 0);
    for (std::size_t i = 0; i < order_.size(); ++i) build_pos_[order_[i]] = i;
    place_ = place_entities(s_);
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      cluster_.push_back(cluster_link(s_, e, build_pos_));
      read_.emplace_back(s_.entities[e].links.size());
      owned_.emplace_back(s_.entities[e].links.size());
      ghost_.emplace_back(s_.entities[e].links.size());
    }
    read_columns_.resize(s_.entities.size());
    owned_fwd_.resize(s_.entities.size());
    ghost_fwd_.resize(s_.entities.size());
    files_.resize(s_.entities.size());
    status_.resize(s_.entities.size());
    headers_.resize(s_.entities.size());
    children_.resize(s_.entities.size());
  }

  /// Reads this process's share, checks keys and links across processes, places every row and
  /// gathers the rows around this process's own. Collective; throws agreed_error (the same on
  /// every process: the one a single process reports).
  void run(std::vector<load_phase>& phases) {
    auto timed = [&](const char* name, void (loader::*phase)()) {
      const auto t0 = std::chrono::steady_clock::now();
      (this->*phase)();
      phases.push_back(
          {name,
           std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
           peak_rss_bytes()});
    };
    timed("read", &loader::read_shares);
    timed("check", &loader::check_keys_and_links);
    timed("place", &loader::place_rows);
    timed("links", &loader::resolve_links);
    timed("reach", &loader::gather_reach);
  }

  /// Writes the rows held as a dataset folder (schema.json and one CSV per entity, records in
  /// file order) at `out`, then lets go of them (entity by entity, as each file is written) and
  /// of everything else the placement kept, so that the folder's load has the memory: only the
  /// keys of the rows of others stay, for `own_rows`.
  void write_dataset(const std::string& out, const std::string& schema_text) {
    namespace fs = std::filesystem;
    owned_count_ = rows_owned();
    held_count_ = owned_count_ + ghost_index_.size();
    std::unordered_map<handle, std::uint32_t>().swap(ghost_index_);
    for (auto& v : owned_fwd_) std::vector<handle>().swap(v);
    for (auto& v : ghost_fwd_) std::vector<handle>().swap(v);
    for (auto& m : children_) m.clear();
    fs::create_directories(out);
    b2bseg::detail::write_whole_file((fs::path(out) / "schema.json").string(), schema_text);
    ghost_keys_.assign(s_.entities.size(), {});
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      row_store& own = owned_[e];
      row_store& gh = ghost_[e];
      // Both in file order (rows came in rounds from every process), then merged.
      auto by_line = [](const row_store& rs) {
        std::vector<std::uint32_t> v(rs.size());
        for (std::uint32_t i = 0; i < v.size(); ++i) v[i] = i;
        std::sort(v.begin(), v.end(),
                  [&](std::uint32_t a, std::uint32_t b) { return rs.line(a) < rs.line(b); });
        return v;
      };
      const std::vector<std::uint32_t> o = by_line(own), g = by_line(gh);
      const fs::path p = fs::path(out) / s_.entities[e].file;
      fs::create_directories(p.parent_path());
      const std::string path = p.string();
      // The records come from the entity's file as it was read (same size and modification
      // time), in file order; the pages read are given back every `piece_bytes`.
      const csv_file in = csv_file::open_lean(files_[e], false);
      in.throw_if_changed(&status_[e]);
      const char* const text_begin = in.text().data();
      const char* dropped = text_begin;
      std::FILE* fp = std::fopen(path.c_str(), "wb");
      if (!fp) throw data_error(path, 0, 0, std::string("cannot write: ") + std::strerror(errno));
      bool ok = true;
      std::string text = headers_[e];  // written in pieces of about 8 MiB
      auto flush = [&](std::size_t at_least) {
        if (text.size() < at_least) return;
        ok = std::fwrite(text.data(), 1, text.size(), fp) == text.size() && ok;
        text.clear();
      };
      auto copy = [&](const row_store& rs, std::size_t i) {
        const char* record = text_begin + rs.record_at(i);
        text.append(record, rs.record_size(i));
        text += '\n';
        flush(std::size_t{8} << 20);
        if (static_cast<std::size_t>(record - dropped) >= piece_bytes_) {
          in.drop_pages(dropped, record);  // (the page of `record` comes back as it is read)
          dropped = record;
        }
      };
      std::size_t j = 0;
      for (std::size_t i = 0; i <= o.size(); ++i) {
        for (; j < g.size() && (i == o.size() || gh.line(g[j]) < own.line(o[i])); ++j)
          copy(gh, g[j]);
        if (i == o.size()) break;
        copy(own, o[i]);
      }
      flush(0);
      ok = std::fclose(fp) == 0 && ok;
      if (!ok) throw data_error(path, 0, 0, "cannot write: " + std::string(std::strerror(errno)));
      in.throw_if_changed(&status_[e]);
      if (s_.entities[e].key)
        for (std::size_t i = 0; i < gh.size(); ++i) ghost_keys_[e].add(gh.key(i));
      own.clear();
      gh.clear();
    }
  }

  /// Which rows of `g` (the graph loaded from `write_dataset`'s folder) are this process's own,
  /// per entity with a key (empty for the others): every row but those of others. O(rows held).
  std::vector<std::vector<bool>> own_rows(const graph& g) {
    std::vector<std::vector<bool>> own(s_.entities.size());
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      if (!s_.entities[e].key) continue;
      own[e].assign(g.rows(e), true);
      const key_list& gk = ghost_keys_[e];
      for (std::size_t i = 0; i < gk.size(); ++i) {
        const row_id r = g.find_key(e, gk[i]);
        if (r != no_row) own[e][r] = false;
      }
    }
    std::vector<key_list>().swap(ghost_keys_);
    return own;
  }
  std::uint64_t rows_owned() const {
    if (owned_count_) return owned_count_;
    std::uint64_t n = 0;
    for (const auto& v : owned_) n += v.size();
    return n;
  }
  std::uint64_t rows_held() const {
    return held_count_ ? held_count_ : rows_owned() + ghost_index_.size();
  }
  const std::vector<int>& cluster() const { return cluster_; }

 private:
  std::vector<std::string> blank() const { return std::vector<std::string>(n_); }

  int home(entity_id e, std::string_view key, std::uint64_t line) const {
    return s_.entities[e].key ? rank_of(key, n_) : rank_of_line(line, n_);
  }

  void note_error(std::vector<std::uint64_t> order, std::string file, std::uint64_t line,
                  std::uint64_t column, std::string message) {
    if (!err_ || order < err_->order)
      err_ = ranked_error{std::move(order), std::move(file), line, column, std::move(message)};
  }

  /// Sends `ask[d]` to each process d, which answers every question it got with
  /// `answer_one(question reader, answer writer)` (one question per call); returns the answers,
  /// `in[d]` from process d in the order asked. Collective.
  template <class AnswerOne>
  std::vector<std::string> ask_round(std::vector<std::string> ask, AnswerOne answer_one) {
    std::vector<std::string> in = c_.exchange(std::move(ask));
    auto reply = blank();
    for (int src = 0; src < n_; ++src) {
      wire_reader rd(in[src]);
      wire_writer w(reply[src]);
      while (!rd.done()) answer_one(rd, w);
      std::string().swap(in[src]);
    }
    return c_.exchange(std::move(reply));
  }

  /// One round of questions about link values: every non-empty value of link l of the rows of
  /// `rows[e]` for which `want(e, l)` holds goes to its key's process, which answers
  /// `answer(target entity, key)` (a number); then `use(e, i, l, number)` for each, in row order.
  /// A value equal to the previous row's (rows of one parent follow each other) is asked once.
  template <class Want, class Answer, class Use>
  void ask_about_links(const std::vector<row_store>& rows, Want want, Answer answer, Use use) {
    auto ask = blank();
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (std::size_t l = 0; l < rows[e].links(); ++l) {
        if (!want(e, l)) continue;
        const entity_id t = s_.entities[e].links[l].target;
        for (std::size_t i = 0; i < rows[e].size(); ++i) {
          const std::string_view v = rows[e].link(i, l);
          if (v.empty() || (i > 0 && rows[e].link(i - 1, l) == v)) continue;
          wire_writer w(ask[rank_of(v, n_)]);
          w.u64(t);
          w.str(v);
        }
      }
    const std::vector<std::string> in =
        ask_round(std::move(ask), [&](wire_reader& rd, wire_writer& w) {
          const auto t = static_cast<entity_id>(rd.u64());
          w.u64(answer(t, rd.str()));
        });
    std::vector<wire_reader> rds;
    for (const std::string& m : in) rds.emplace_back(m);
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (std::size_t l = 0; l < rows[e].links(); ++l) {
        if (!want(e, l)) continue;
        std::uint64_t last = 0;
        for (std::size_t i = 0; i < rows[e].size(); ++i) {
          const std::string_view v = rows[e].link(i, l);
          if (v.empty()) continue;
          if (!(i > 0 && rows[e].link(i - 1, l) == v)) last = rds[rank_of(v, n_)].u64();
          use(e, i, l, last);
        }
      }
  }

  // 1. Each process reads its share of every file: the body is cut into one byte range per
  //    process, each counts the quotes and newlines of its range and checks its UTF-8, the
  //    counts go to every process (so each knows the quote parity and line where its range
  //    starts), each moves its start to the first record boundary, and reads the records from
  //    there to the next process's start, in pieces of `piece_bytes`, checking values as a
  //    single load does. No process reads more of a file than its share (and a little around).
  void read_shares() {
    const std::string schema_path = (std::filesystem::path(dir_) / "schema.json").string();
    const auto n = static_cast<std::size_t>(n_), me = static_cast<std::size_t>(me_);
    constexpr std::uint64_t none = ~std::uint64_t{0};
    for (entity_id e : order_) {
      const entity_def& def = s_.entities[e];
      const std::uint64_t pos = build_pos_[e];
      std::optional<csv_file> f;
      b2bseg::detail::field_map fm;
      try {
        if (def.resolved())
          throw data_error(schema_path, 0, 0,
                           "entity '" + def.name +
                               "' merges sources, which a run over several processes does not "
                               "do yet; run in one process");
        files_[e] =
            b2bseg::detail::dataset_file(dir_, schema_path, "entity '" + def.name + "'", def.file);
        f.emplace(csv_file::open_lean(files_[e], false));
        // write_dataset reads records again: the file must then still be the one read here.
        const struct stat* st = f->mapped_status();
        if (!st)
          throw data_error(files_[e], 0, 0,
                           "not a regular file, which a run over several processes needs (each "
                           "process reads records of it where they lie)");
        status_[e] = *st;
        fm = b2bseg::detail::map_header(def, *f);
        std::string header;
        for (std::size_t i = 0; i < f->header().size(); ++i) {
          if (i) header += ',';
          append_csv_field(header, f->header()[i]);
        }
        headers_[e] = header + "\n";
      } catch (const data_error& x) {
        note_error({0, pos, 0, 0, 0}, x.file(), x.line(), x.column(), message_of(x));
        f.reset();
      }
      // This process's byte range: its quotes, newlines and first invalid UTF-8 byte, to all.
      const char* body = f ? f->body().data() : nullptr;
      const std::size_t size = f ? f->body_size() : 0;
      auto range_begin = [&](std::size_t r) { return body + size / n * r + std::min(r, size % n); };
      std::string mine;
      {
        wire_writer w(mine);
        w.u64(f ? 1 : 0);
        std::size_t quotes = 0, newlines = 0;
        std::uint64_t bad = none;
        if (f) {
          // In windows of a piece each, given back once scanned.
          const char* text = f->text().data();
          for (const char* p = range_begin(me); p < range_begin(me + 1);) {
            const char* q =
                p + std::min<std::size_t>(piece_bytes_,
                                          static_cast<std::size_t>(range_begin(me + 1) - p));
            b2bseg::detail::count_quotes_and_newlines(p, q, quotes, newlines);
            if (bad == none)
              if (const std::size_t at = f->first_invalid_utf8(static_cast<std::size_t>(p - text),
                                                               static_cast<std::size_t>(q - text));
                  at != b2bseg::detail::npos)
                bad = at;
            f->drop_pages(p, q);
            p = q;
          }
        }
        w.u64(quotes);
        w.u64(newlines);
        w.u64(bad);
      }
      const std::vector<std::string> counts = all_gather(c_, mine);
      std::vector<std::uint64_t> quotes(n), newlines(n), bad(n);
      bool all_open = true;
      for (std::size_t r = 0; r < n; ++r) {
        wire_reader rd(counts[r]);
        all_open = rd.u64() != 0 && all_open;
        quotes[r] = rd.u64();
        newlines[r] = rd.u64();
        bad[r] = rd.u64();
      }
      if (!all_open) continue;  // whoever could not open it said why
      // The first invalid byte of the whole body is the error, as one process's open tells it.
      const std::size_t first_bad =
          static_cast<std::size_t>(std::min_element(bad.begin(), bad.end()) - bad.begin());
      if (bad[first_bad] != none) {
        if (first_bad == me) {
          const data_error x = f->utf8_error(bad[me]);
          note_error({0, pos, 0, 0, 0}, x.file(), x.line(), x.column(), message_of(x));
        }
        continue;
      }
      // Where each range starts: quote parity and line; then its first record boundary.
      bool odd = false;
      std::size_t line = f->body_first_line();
      for (std::size_t r = 0; r < me; ++r) {
        odd ^= (quotes[r] & 1) != 0;
        line += newlines[r];
      }
      std::size_t end_line = f->body_first_line();
      for (std::size_t r = 0; r < n; ++r) end_line += newlines[r];
      std::uint64_t cut = none, cut_line = 0;
      if (me == 0) {
        cut = 0, cut_line = line;
      } else {
        const char* sb = range_begin(me);
        const char* last = range_begin(me + 1) - 1;
        const char* from = sb - 1;
        const char* counted = sb;
        bool parity = odd;
        std::size_t lines = line;
        while (from < last && cut == none) {
          const char* x = static_cast<const char*>(
              std::memchr(from, '\n', static_cast<std::size_t>(last - from)));
          if (x == nullptr) break;
          if (x >= sb) {
            std::size_t q = 0, unused = 0;
            b2bseg::detail::count_quotes_and_newlines(counted, x, q, unused);
            parity ^= (q & 1) != 0;
            counted = x;
            ++lines;
          }
          if (!parity) cut = static_cast<std::uint64_t>(x + 1 - body), cut_line = lines;
          from = x + 1;
        }
      }
      std::string at;
      wire_writer(at).u64(cut);
      wire_writer(at).u64(cut_line);
      const std::vector<std::string> cuts = all_gather(c_, at);
      if (cut == none) continue;  // no record starts in this range: the one before reads it
      std::uint64_t next = size, next_line = end_line;
      for (std::size_t r = me + 1; r < n; ++r) {
        wire_reader rd(cuts[r]);
        const std::uint64_t c = rd.u64(), l = rd.u64();
        if (c != none) {
          next = c, next_line = l;
          break;
        }
      }
      try {
        const csv_chunk share{body + cut, body + next, cut_line};
        const std::vector<csv_chunk> parts = f->split(share, (next - cut) / piece_bytes_ + 1);
        row_store& out = read_[e];
        auto& cols = read_columns_[e];
        // The per-row arrays sized once, from above: records are no more than lines (capacity
        // never touched costs no memory).
        const std::size_t rows = next_line - cut_line + 1;
        out.reserve(rows);
        cols.reserve(rows * (1 + def.links.size()));
        const std::vector<const key_index*> no_targets(def.links.size(), nullptr);
        for (const csv_chunk& part : parts) {
          csv_record_reader reader(*f, part);
          std::vector<std::string_view> raws;  // views into f: no copy of the piece's text
          std::vector<std::uint64_t> lines;
          capturing_reader cap{reader, raws, lines};
          b2bseg::detail::raw_chunk ch;
          try {
            b2bseg::detail::parse_records(cap, def, fm, part.begin, part.end, f->name(), false,
                                          no_targets, {}, ch);
          } catch (const data_error& x) {  // a malformed record: the reader's error
            ch.error = x;
          }
          std::uint64_t limit = none;
          if (ch.error) {
            limit = ch.error->line();
            note_error({0, pos, 0, ch.error->line(), 1}, ch.error->file(), ch.error->line(),
                       ch.error->column(), message_of(*ch.error));
          }
          for (std::size_t r = 0; r < raws.size() && lines[r] < limit; ++r) {
            if (raws[r].size() > 0xFFFFFFFFu) {  // row_store keeps a record's size in 32 bits
              note_error({0, pos, 0, lines[r], 1}, f->name(), lines[r], 1,
                         "record longer than 4 GiB, which a run over several processes does not "
                         "take; run in one process");
              break;
            }
            out.add(lines[r], static_cast<std::uint64_t>(raws[r].data() - f->text().data()),
                    static_cast<std::uint32_t>(raws[r].size()),
                    fm.key >= 0 ? ch.keys[r] : std::string_view{},
                    [&](std::size_t l) { return ch.link_keys[l][r]; });
            cols.push_back(fm.key >= 0 ? ch.key_columns[r] : 0);
            for (std::size_t l = 0; l < def.links.size(); ++l)
              cols.push_back(ch.link_columns[l][r]);
          }
          f->drop_pages(part.begin, part.end);
          if (ch.error) break;  // one process reading alone stops at the first error
        }
        f->throw_if_changed();
      } catch (const data_error& x) {
        note_error({0, pos, 0, 0, 0}, x.file(), x.line(), x.column(), message_of(x));
      }
    }
  }

  // 2. Keys meet at the process of their hash: empty and duplicate keys are found there; every
  //    link value is looked up there too. Errors are agreed on before anything moves.
  void check_keys_and_links() {
    using b2bseg::detail::quote_value;
    auto out = blank();
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      const entity_def& def = s_.entities[e];
      if (!def.key) continue;
      const std::size_t stride = 1 + def.links.size();
      for (std::size_t i = 0; i < read_[e].size(); ++i) {
        const std::string_view key = read_[e].key(i);
        const std::uint64_t col = read_columns_[e][i * stride];
        if (key.empty()) {
          note_error({0, build_pos_[e], 1, read_[e].line(i)}, files_[e], read_[e].line(i), col,
                     "column '" + *def.key + "': empty key");
          continue;
        }
        wire_writer w(out[rank_of(key, n_)]);
        w.u64(e);
        w.str(key);
        w.u64(read_[e].line(i));
        w.u64(col);
      }
    }
    // The two first places of every key homed here.
    struct first_two {
      std::uint64_t line1 = ~std::uint64_t{0}, col1 = 0, line2 = ~std::uint64_t{0}, col2 = 0;
    };
    std::vector<std::unordered_map<std::string, first_two>> seen(s_.entities.size());
    for (std::string& m : c_.exchange(std::move(out))) {
      wire_reader rd(m);
      while (!rd.done()) {
        const auto e = static_cast<entity_id>(rd.u64());
        first_two& f = seen[e][std::string(rd.str())];
        const std::uint64_t line = rd.u64(), col = rd.u64();
        if (line < f.line1) {
          f.line2 = f.line1, f.col2 = f.col1;
          f.line1 = line, f.col1 = col;
        } else if (line < f.line2) {
          f.line2 = line, f.col2 = col;
        }
      }
      std::string().swap(m);
    }
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (const auto& [key, f] : seen[e])
        if (f.line2 != ~std::uint64_t{0})
          note_error({0, build_pos_[e], 1, f.line2}, files_[e], f.line2, f.col2,
                     "column '" + *s_.entities[e].key + "': duplicate key " + quote_value(key) +
                         " (first on line " + std::to_string(f.line1) + ")");
    // Link values: does the target exist?
    ask_about_links(
        read_, [](entity_id, std::size_t) { return true; },
        [&](entity_id t, std::string_view key) -> std::uint64_t {
          return seen[t].count(std::string(key)) ? 1 : 0;
        },
        [&](entity_id e, std::size_t i, std::size_t l, std::uint64_t found) {
          if (found) return;
          const link_def& ld = s_.entities[e].links[l];
          const std::uint64_t line = read_[e].line(i);
          // Links to entities built later are checked after every table exists.
          const bool deferred = ld.target == e || build_pos_[ld.target] > build_pos_[e];
          std::vector<std::uint64_t> order =
              deferred ? std::vector<std::uint64_t>{1, build_pos_[e], l, line}
                       : std::vector<std::uint64_t>{0, build_pos_[e], 0, line, 0};
          note_error(std::move(order), files_[e], line,
                     read_columns_[e][i * (1 + s_.entities[e].links.size()) + 1 + l],
                     "column '" + ld.column + "': no " + ld.to + " with key " +
                         quote_value(read_[e].link(i, l)));
        });
    read_columns_.clear();
    agree_on_error(c_, err_ ? &*err_ : nullptr);
  }

  // 3. Owners, level by level from the partition entity: a row goes where its followed link's
  //    target went (by its own key or line when that link is empty). Keyed rows register their
  //    owner at their key's process, where the next level asks.
  void place_rows() {
    std::vector<std::vector<int>> owner(s_.entities.size());
    std::vector<std::unordered_map<std::string, int>> dir(s_.entities.size());
    int max_level = 0;
    for (const auto& p : place_) max_level = std::max(max_level, p.level);
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      owner[e].resize(read_[e].size());
      for (std::size_t i = 0; i < read_[e].size(); ++i)
        owner[e][i] = home(e, read_[e].key(i), read_[e].line(i));  // until a level says more
    }
    for (int level = 0; level < max_level; ++level) {
      auto reg = blank();
      for (entity_id e = 0; e < s_.entities.size(); ++e) {
        if (place_[e].level != level || !s_.entities[e].key) continue;
        for (std::size_t i = 0; i < read_[e].size(); ++i) {
          wire_writer w(reg[rank_of(read_[e].key(i), n_)]);
          w.u64(e);
          w.str(read_[e].key(i));
          w.u64(static_cast<std::uint64_t>(owner[e][i]));
        }
      }
      for (const std::string& m : c_.exchange(std::move(reg))) {
        wire_reader rd(m);
        while (!rd.done()) {
          const auto e = static_cast<entity_id>(rd.u64());
          std::string key(rd.str());
          dir[e][std::move(key)] = static_cast<int>(rd.u64());
        }
      }
      ask_about_links(
          read_,
          [&](entity_id e, std::size_t l) {
            return place_[e].level == level + 1 && place_[e].link == static_cast<int>(l);
          },
          [&](entity_id t, std::string_view key) -> std::uint64_t {
            auto it = dir[t].find(std::string(key));
            return it == dir[t].end() ? ~std::uint64_t{0} : static_cast<std::uint64_t>(it->second);
          },
          [&](entity_id e, std::size_t i, std::size_t, std::uint64_t o) {
            if (o != ~std::uint64_t{0}) owner[e][i] = static_cast<int>(o);
          });
    }
    // Rows go to their owners in rounds of about `round_bytes` from each process, so that a
    // process holds its rows about once as they move (the blocks of rows sent are given back
    // after each round), not twice. First the counts, so that the stores are sized once.
    {
      auto counts = blank();
      std::vector<std::vector<std::uint64_t>> n(n_, std::vector<std::uint64_t>(s_.entities.size()));
      for (entity_id e = 0; e < s_.entities.size(); ++e)
        for (std::size_t i = 0; i < read_[e].size(); ++i) ++n[owner[e][i]][e];
      for (int d = 0; d < n_; ++d) {
        wire_writer w(counts[d]);
        for (std::uint64_t k : n[d]) w.u64(k);
      }
      std::vector<std::uint64_t> rows(s_.entities.size(), 0);
      for (const std::string& m : c_.exchange(std::move(counts))) {
        wire_reader rd(m);
        for (auto& k : rows) k += rd.u64();
      }
      for (entity_id e = 0; e < s_.entities.size(); ++e) owned_[e].reserve(rows[e]);
    }
    entity_id e = 0;
    std::size_t i = 0;
    for (;;) {
      auto out = blank();
      std::size_t bytes = 0;
      for (; e < s_.entities.size() && bytes < round_bytes_; ++e, i = 0) {
        for (; i < read_[e].size() && bytes < round_bytes_; ++i) {
          wire_writer w(out[owner[e][i]]);
          w.u64(e);
          read_[e].send(i, w);
          bytes += 8 + read_[e].message_size(i);
        }
        if (i < read_[e].size()) {
          read_[e].release_before(i);
          break;
        }
        read_[e].clear();
        std::vector<int>().swap(owner[e]);
      }
      const bool more = e < s_.entities.size();
      // Rows come in order of process, then of file, in each round: write_dataset sorts them.
      for (std::string& m : c_.exchange(std::move(out))) {
        wire_reader rd(m);
        while (!rd.done()) owned_[static_cast<entity_id>(rd.u64())].receive(rd);
        std::string().swap(m);
      }
      const std::vector<std::string> any = all_gather(c_, more ? "1" : "0");
      if (std::none_of(any.begin(), any.end(), [](const std::string& x) { return x == "1"; }))
        break;
    }
  }

  // 4. Every link value becomes the handle of its target (asked at the key's process); for the
  //    links the segments walk backwards, each owner learns which rows point at its rows.
  void resolve_links() {
    std::vector<bool> target(s_.entities.size(), false);  // only these are asked about
    for (const entity_def& def : s_.entities)
      for (const link_def& ld : def.links) target[ld.target] = true;
    auto reg = blank();
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      if (!s_.entities[e].key || !target[e]) continue;
      for (std::size_t i = 0; i < owned_[e].size(); ++i) {
        wire_writer w(reg[rank_of(owned_[e].key(i), n_)]);
        w.u64(e);
        w.str(owned_[e].key(i));
        w.u64(make_handle(e, me_, i));
      }
    }
    std::vector<std::unordered_map<std::string, handle>> dir(s_.entities.size());
    for (std::string& m : c_.exchange(std::move(reg))) {
      wire_reader rd(m);
      while (!rd.done()) {
        const auto e = static_cast<entity_id>(rd.u64());
        std::string key(rd.str());
        dir[e][std::move(key)] = rd.u64();
      }
      std::string().swap(m);
    }
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      owned_fwd_[e].assign(owned_[e].size() * owned_[e].links(), no_handle);
    std::set<std::pair<entity_id, std::uint32_t>> backwards;
    for (const step& st : reach_.steps)
      if (st.reverse) backwards.insert({st.from, st.link});
    auto back = blank();
    ask_about_links(
        owned_, [](entity_id, std::size_t) { return true; },
        [&](entity_id t, std::string_view key) -> std::uint64_t {
          auto it = dir[t].find(std::string(key));
          return it == dir[t].end() ? no_handle : it->second;
        },
        [&](entity_id e, std::size_t i, std::size_t l, std::uint64_t t) {
          owned_fwd_[e][i * owned_[e].links() + l] = t;
          if (t == no_handle || !backwards.count({e, static_cast<std::uint32_t>(l)})) return;
          wire_writer w(back[handle_rank(t)]);
          w.u64(std::uint64_t{l} << 40 | handle_index(t));  // the link, the parent's index
          w.u64(make_handle(e, me_, i));                    // the child (its entity: the link's)
        });
    std::vector<std::unordered_map<std::string, handle>>().swap(dir);
    // Children per (link, parent) as CSR, straight from the messages: counted, then placed.
    const std::vector<std::string> in = c_.exchange(std::move(back));
    auto each = [&](auto&& f) {
      for (const std::string& m : in) {
        wire_reader rd(m);
        while (!rd.done()) {
          const std::uint64_t lp = rd.u64();
          const handle child = rd.u64();
          const entity_id from = handle_entity(child);
          const auto link = static_cast<std::uint32_t>(lp >> 40);
          const entity_id target = s_.entities[from].links[link].target;
          children_csr& csr = children_[target][{from, link}];
          if (csr.start.empty()) csr.start.assign(owned_[target].size() + 1, 0);
          f(csr, lp & ((std::uint64_t{1} << 40) - 1), child);
        }
      }
    };
    each([](children_csr& csr, std::uint64_t parent, handle) { ++csr.start[parent + 1]; });
    for (auto& by_link : children_)
      for (auto& [k, csr] : by_link) {
        for (std::size_t p = 1; p < csr.start.size(); ++p) csr.start[p] += csr.start[p - 1];
        csr.child.resize(csr.start.back());
        csr.fill.assign(csr.start.begin(), csr.start.end() - 1);
      }
    each([](children_csr& csr, std::uint64_t parent, handle child) {
      csr.child[csr.fill[parent]++] = child;
    });
    for (auto& by_link : children_)
      for (auto& [k, csr] : by_link) std::vector<std::uint64_t>().swap(csr.fill);
  }

  /// The handles row h links to (h held: own or fetched).
  const handle* fwd_of(handle h) const {
    const entity_id e = handle_entity(h);
    const std::size_t nl = s_.entities[e].links.size();
    if (handle_rank(h) == me_) return owned_fwd_[e].data() + handle_index(h) * nl;
    return ghost_fwd_[e].data() + static_cast<std::size_t>(ghost_index_.at(h)) * nl;
  }
  bool held(handle h) const { return handle_rank(h) == me_ || ghost_index_.count(h); }

  // 5. The rows around this process's own: `reach.depth` rounds of the steps the segments take,
  //    then the targets of every link held (so nothing held points nowhere and rows number as
  //    in a single process), then every row of the entities that are everywhere.
  void gather_reach() {
    std::vector<handle> frontier;
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (std::size_t i = 0; i < owned_[e].size(); ++i) frontier.push_back(make_handle(e, me_, i));
    std::unordered_set<handle> seen;  // rows of others reached (own rows are reached at once)
    for (std::size_t round = 0; round < reach_.depth; ++round) {
      std::vector<handle> next;
      auto visit = [&](handle h) {
        if (h == no_handle || handle_rank(h) == me_ || !seen.insert(h).second) return;
        next.push_back(h);
      };
      auto ask = blank();
      for (handle x : frontier) {
        const entity_id ex = handle_entity(x);
        for (const step& st : reach_.steps) {
          if (!st.reverse && st.from == ex) {
            visit(fwd_of(x)[st.link]);
          } else if (st.reverse && s_.entities[st.from].links[st.link].target == ex) {
            if (handle_rank(x) == me_) {
              for_children(ex, handle_index(x), st, visit);
            } else {
              wire_writer w(ask[handle_rank(x)]);
              w.u64(x);
              w.u64(st.from);
              w.u64(st.link);
            }
          }
        }
      }
      const auto children = ask_round(std::move(ask), [&](wire_reader& rd, wire_writer& w) {
        const handle x = rd.u64();
        const step st{static_cast<entity_id>(rd.u64()), static_cast<std::uint32_t>(rd.u64()), true};
        for_children(handle_entity(x), handle_index(x), st, [&](handle ch) { w.u64(ch); });
      });
      for (const std::string& m : children) {
        wire_reader rd(m);
        while (!rd.done()) visit(rd.u64());
      }
      fetch(next);
      frontier = std::move(next);
    }
    // Targets of every link held, until nothing is missing anywhere.
    std::vector<handle> fresh;
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (std::size_t i = 0; i < owned_[e].size(); ++i) fresh.push_back(make_handle(e, me_, i));
    for (const auto& [h, i] : ghost_index_) fresh.push_back(h);
    for (;;) {
      std::vector<handle> missing;
      for (handle h : fresh) {
        const handle* f = fwd_of(h);
        for (std::size_t l = 0; l < s_.entities[handle_entity(h)].links.size(); ++l)
          if (f[l] != no_handle && !held(f[l])) missing.push_back(f[l]);
      }
      std::sort(missing.begin(), missing.end());
      missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
      const std::vector<std::string> any = all_gather(c_, missing.empty() ? "0" : "1");
      if (std::all_of(any.begin(), any.end(), [](const std::string& s) { return s == "0"; })) break;
      fetch(missing);
      fresh = std::move(missing);
    }
    // Entities that are everywhere: every process gets every row.
    std::string mine;
    wire_writer w(mine);
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      if (place_[e].k != placement::kind::everywhere) continue;
      for (std::size_t i = 0; i < owned_[e].size(); ++i) send_row(make_handle(e, me_, i), w);
    }
    for (const std::string& m : all_gather(c_, mine)) {
      wire_reader rd(m);
      while (!rd.done()) receive_row(rd);
    }
  }

  template <class F>
  void for_children(entity_id target, std::uint64_t parent, const step& st, F&& f) const {
    auto it = children_[target].find({st.from, st.link});
    if (it == children_[target].end()) return;
    const children_csr& c = it->second;
    for (std::uint64_t k = c.start[parent]; k < c.start[parent + 1]; ++k) f(c.child[k]);
  }

  void send_row(handle h, wire_writer& w) const {
    const entity_id e = handle_entity(h);
    w.u64(h);
    owned_[e].send(handle_index(h), w);
    const handle* f = fwd_of(h);
    for (std::size_t l = 0; l < owned_[e].links(); ++l) w.u64(f[l]);
  }
  void receive_row(wire_reader& rd) {
    const handle h = rd.u64();
    const entity_id e = handle_entity(h);
    if (held(h)) {  // already here: skip its bytes
      row_store::skip(rd, owned_[e].links());
      for (std::size_t l = 0; l < owned_[e].links(); ++l) rd.u64();
      return;
    }
    ghost_index_.emplace(h, static_cast<std::uint32_t>(ghost_[e].size()));
    ghost_[e].receive(rd);
    for (std::size_t l = 0; l < owned_[e].links(); ++l) ghost_fwd_[e].push_back(rd.u64());
  }

  /// Brings the rows `want` (handles) that are not held yet from their owners. Collective.
  void fetch(const std::vector<handle>& want) {
    auto ask = blank();
    for (handle h : want)
      if (!held(h)) wire_writer(ask[handle_rank(h)]).u64(h);
    const auto rows =
        ask_round(std::move(ask), [&](wire_reader& rd, wire_writer& w) { send_row(rd.u64(), w); });
    for (const std::string& m : rows) {
      wire_reader rd(m);
      while (!rd.done()) receive_row(rd);
    }
  }

  struct children_csr {
    std::vector<std::uint64_t> start;
    std::vector<handle> child;
    std::vector<std::uint64_t> fill;  // while it is built: where each parent's next child goes
  };

  communicator& c_;
  int n_, me_;
  std::string dir_;
  const schema& s_;
  reach reach_;
  std::vector<entity_id> order_;
  std::vector<std::size_t> build_pos_;
  std::vector<placement> place_;
  std::vector<int> cluster_;
  std::vector<std::string> files_, headers_;
  std::vector<row_store> read_, owned_, ghost_;
  std::vector<std::vector<std::uint32_t>> read_columns_;    // per row: key column, link columns
  std::vector<std::vector<handle>> owned_fwd_, ghost_fwd_;  // per row: one handle per link
  std::unordered_map<handle, std::uint32_t> ghost_index_;   // rows of others held -> index
  // per target entity: (source entity, link) -> children of each own row
  std::vector<std::map<std::pair<entity_id, std::uint32_t>, children_csr>> children_;
  std::optional<ranked_error> err_;
  std::vector<struct stat> status_;                 // per entity: its file's, when read
  std::vector<key_list> ghost_keys_;                // per entity: keys of the rows of others held
  std::uint64_t owned_count_ = 0, held_count_ = 0;  // once write_dataset let go of the rows
  std::size_t piece_bytes_, round_bytes_;           // dist_options'
};

}  // namespace detail::distributed

inline void local_evaluation::order_key(entity_id e, row_id r, std::string& out) const {
  detail::distributed::order_key(g, e, r, cluster_, out);
}

/// Evaluates the segments of `f` (compiled against `s`, the schema of dataset folder `dir`)
/// with the processes of `c` (SPEC 8): every process calls it with the same arguments. Each
/// holds its share of the rows and those around them, never the whole dataset. Rank 0 gets
/// every segment's NAME.csv text as one process writes it (unless `o.member_lists` is false).
/// Collective. Throws data_error on every process alike (the error one process would report) for
/// bad data, a schema without partition, sources, or `top` without `per`; a process whose files
/// differ from rank 0's
/// ("the processes do not see the same data"). `after`, when given, runs on every process once
/// its evaluation is done (collective: every process must make the same exchanges in it); what
/// it throws comes out of this call on the processes that threw it.
inline dist_result evaluate_distributed(
    communicator& comm, const std::string& dir, const schema& s, const bound_file& f,
    const dist_options& o,
    const std::function<void(communicator&, const local_evaluation&)>& after = {}) {
  namespace dd = detail::distributed;
  namespace fs = std::filesystem;
  dd::counting_communicator c(comm);
  const auto t0 = std::chrono::steady_clock::now();
  // The same schema, segments and file sizes everywhere, or nobody starts.
  std::optional<ranked_error> setup;
  reach rc;
  std::string fingerprint = to_json(s);
  try {
    // A row's handle holds its entity in 8 bits and its process in 16; a child's reverse entry
    // its link in 24.
    const std::string schema_path = (fs::path(dir) / "schema.json").string();
    if (s.entities.size() > 256)
      throw data_error(schema_path, 0, 0,
                       "a run over several processes takes at most 256 entities; this schema "
                       "has " +
                           std::to_string(s.entities.size()));
    for (const entity_def& e : s.entities)
      if (e.links.size() >= (std::size_t{1} << 24))
        throw data_error(schema_path, 0, 0,
                         "entity '" + e.name +
                             "' has too many links for a run over several "
                             "processes");
    if (c.size() > 65536)
      throw data_error(schema_path, 0, 0, "a run takes at most 65,536 processes");
    rc = segments_reach(f, o.selected);
    fields_reach(f, o.fields, rc);
    place_entities(s);
    for (const entity_def& e : s.entities) {
      std::error_code ec;
      const auto size = fs::file_size(fs::path(dir) / e.file, ec);
      fingerprint += e.file + "=" + (ec ? std::string("?") : std::to_string(size)) + ";";
    }
  } catch (const data_error& x) {
    setup = ranked_error{{0}, x.file(), x.line(), x.column(), dd::message_of(x)};
  }
  for (const auto& seg : f.segments) fingerprint += seg.name + ";";
  agree_on_error(c, setup ? &*setup : nullptr);
  const std::vector<std::string> prints = all_gather(c, fingerprint);
  for (int r = 1; r < c.size(); ++r)
    if (prints[r] != prints[0])
      throw agreed_error(dir, 0, 0,  // every process compares the same prints
                         "process " + std::to_string(r) +
                             " does not see the same schema, segments and files as process 0");

  dd::loader ld(c, dir, s, rc, o.piece_bytes, o.round_bytes);
  std::vector<load_phase> phases;
  ld.run(phases);
  const std::string local = (fs::path(o.work_dir) / ("rank-" + std::to_string(c.rank()))).string();
  std::optional<graph> g;
  std::vector<std::vector<bool>> own;  // per entity with a key: which rows are this process's
  std::optional<ranked_error> load_error;
  try {
    auto t1 = std::chrono::steady_clock::now();
    auto since = [&] {
      const auto t = std::chrono::steady_clock::now();
      const double ms = std::chrono::duration<double, std::milli>(t - t1).count();
      t1 = t;
      return ms;
    };
    ld.write_dataset(local, to_json(s));
    ::malloc_trim(0);  // what the placement freed goes back before the load takes its peak
    phases.push_back({"write", since(), peak_rss_bytes()});
    g.emplace(load_dataset(local, load_options{}));
    own = ld.own_rows(*g);
    phases.push_back({"build", since(), peak_rss_bytes()});
  } catch (const data_error& x) {
    load_error = ranked_error{{0}, "", 0, 0, x.what()};  // not expected: values were checked
  }
  std::error_code ec;
  fs::remove_all(local, ec);
  agree_on_error(c, load_error ? &*load_error : nullptr);
  dist_result res;
  res.load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  executor ex(*g, o.threads);
  evaluation ev = ex.run(build_plan(g->schema(), f, o.as_of, o.selected), f);

  // Each process sends its own members, with their place in a single process's order.
  std::string mine;
  wire_writer w(mine);
  w.u64(static_cast<std::uint64_t>(ev.eval_ms * 1000));
  for (const segment_result& sr : ev.segments) {
    const std::vector<bool>& own_row = own[sr.entity];  // a segment's entity has a key
    std::vector<std::pair<std::string, std::string_view>> keep;
    std::uint64_t count = 0;
    for (auto it = sr.members.begin(); it != sr.members.end(); ++it) {
      if (!own_row[*it]) continue;
      const std::string_view key = g->key(sr.entity, *it);
      ++count;
      if (!o.member_lists) continue;
      std::string ok;
      dd::order_key(*g, sr.entity, *it, ld.cluster(), ok);
      keep.emplace_back(std::move(ok), key);
    }
    w.u64(static_cast<std::uint64_t>(sr.eval_ms * 1000));
    w.u64(count);
    for (const auto& [ok, key] : keep) {
      w.str(ok);
      w.str(key);
    }
  }
  const std::vector<std::string> in = gather_to_first(c, std::move(mine));
  // Counts and times go back to every process.
  std::string totals;
  std::vector<std::vector<std::pair<std::string, std::string>>> members(ev.segments.size());
  if (c.rank() == 0) {
    std::vector<std::uint64_t> count(ev.segments.size(), 0), us(ev.segments.size(), 0);
    std::uint64_t eval_us = 0;
    for (const std::string& m : in) {
      wire_reader rd(m);
      eval_us = std::max(eval_us, rd.u64());
      for (std::size_t k = 0; k < ev.segments.size(); ++k) {
        us[k] = std::max(us[k], rd.u64());
        const std::uint64_t n = rd.u64();
        count[k] += n;
        for (std::uint64_t j = 0; o.member_lists && j < n; ++j) {
          std::string ok(rd.str());
          members[k].emplace_back(std::move(ok), std::string(rd.str()));
        }
      }
    }
    wire_writer tw(totals);
    tw.u64(eval_us);
    for (std::size_t k = 0; k < ev.segments.size(); ++k) {
      tw.u64(count[k]);
      tw.u64(us[k]);
    }
  }
  const std::string back = broadcast_from_first(c, totals);
  wire_reader rd(back);
  res.eval_ms = static_cast<double>(rd.u64()) / 1000;
  for (std::size_t k = 0; k < ev.segments.size(); ++k) {
    dist_segment ds;
    ds.name = ev.segments[k].name;
    ds.entity = ev.segments[k].entity;
    ds.count = rd.u64();
    ds.eval_ms = static_cast<double>(rd.u64()) / 1000;
    if (c.rank() == 0 && o.member_lists) {
      auto& v = members[k];
      std::sort(v.begin(), v.end());
      append_csv_field(ds.csv, *s.entities[ds.entity].key);
      ds.csv += '\n';
      for (const auto& [ok, key] : v) {
        append_csv_field(ds.csv, key);
        ds.csv += '\n';
      }
    }
    res.segments.push_back(std::move(ds));
  }
  if (after) after(c, local_evaluation(*g, ev, own, ld.cluster()));
  res.rows_owned = ld.rows_owned();
  res.rows_held = ld.rows_held();
  res.bytes_sent = c.sent;
  res.phases = std::move(phases);
  return res;
}

}  // namespace b2bseg::dist
