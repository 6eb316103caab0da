// Evaluating segments over a dataset spread across processes (SPEC 8). Each process reads a share
// of every CSV file, rows go to the process of their partition row, each process then also takes
// the rows around its own that the segments read (`reach`), loads all it holds as an ordinary
// graph, evaluates, and keeps the results of its own rows; process 0 writes what one process
// would. HACKING.md ("Scale-out") walks through the phases.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

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

/// The outcome of `evaluate_distributed`.
struct dist_result {
  std::vector<dist_segment> segments;  ///< evaluated segments in dependency order
  double load_ms = 0;                  ///< reading, placing and loading, wall time
  double eval_ms = 0;                  ///< evaluating, slowest process
  std::uint64_t rows_owned = 0;        ///< this process's own rows
  std::uint64_t rows_held = 0;         ///< with the rows around them and everywhere-rows
  std::uint64_t bytes_sent = 0;        ///< by this process to others, all phases
};

namespace detail::distributed {

/// A row while it travels: where it was written, its bytes, its key and link values.
struct row_rec {
  std::uint64_t line = 0;
  std::string raw;
  std::string key;
  std::vector<std::string> links;
};

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

inline void put_row(wire_writer& w, const row_rec& r) {
  w.u64(r.line);
  w.str(r.raw);
  w.str(r.key);
  w.u64(r.links.size());
  for (const auto& l : r.links) w.str(l);
}
inline row_rec get_row(wire_reader& rd) {
  row_rec r;
  r.line = rd.u64();
  r.raw = std::string(rd.str());
  r.key = std::string(rd.str());
  r.links.resize(rd.u64());
  for (auto& l : r.links) l = std::string(rd.str());
  return r;
}

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

/// Reads records like csv_record_reader, keeping each record's bytes and line.
struct capturing_reader {
  csv_record_reader& r;
  std::vector<std::string>& raws;
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
  loader(communicator& c, const std::string& dir, const schema& s, const reach& rc)
      : c_(c), n_(c.size()), me_(c.rank()), dir_(dir), s_(s), reach_(rc) {
    order_ = b2bseg::detail::build_order(s_);
    build_pos_.assign(s_.entities.size(), 0);
    for (std::size_t i = 0; i < order_.size(); ++i) build_pos_[order_[i]] = i;
    place_ = place_entities(s_);
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      cluster_.push_back(cluster_link(s_, e, build_pos_));
    read_.resize(s_.entities.size());
    owned_.resize(s_.entities.size());
    files_.resize(s_.entities.size());
    headers_.resize(s_.entities.size());
  }

  /// Reads this process's share, checks keys and links across processes, places every row and
  /// gathers the rows around this process's own. Collective; throws data_error (the same on
  /// every process: the one a single process reports).
  void run() {
    read_shares();
    check_keys_and_links();
    place_rows();
    resolve_links();
    gather_reach();
  }

  /// Writes the rows held as a dataset folder (schema.json and one CSV per entity, records in
  /// file order) at `out`.
  void write_dataset(const std::string& out, const std::string& schema_text) const {
    namespace fs = std::filesystem;
    fs::create_directories(out);
    b2bseg::detail::write_whole_file((fs::path(out) / "schema.json").string(), schema_text);
    std::vector<std::vector<const held_row*>> by_entity(s_.entities.size());
    for (const auto& [h, r] : held_) by_entity[handle_entity(h)].push_back(&r);
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      auto& rows = by_entity[e];
      std::sort(rows.begin(), rows.end(),
                [](const held_row* a, const held_row* b) { return a->rec.line < b->rec.line; });
      std::string text = headers_[e];
      for (const held_row* r : rows) {
        text += r->rec.raw;
        text += '\n';
      }
      const fs::path p = fs::path(out) / s_.entities[e].file;
      fs::create_directories(p.parent_path());
      b2bseg::detail::write_whole_file(p.string(), text);
    }
  }

  /// Keys of this process's own rows of entity e.
  std::unordered_set<std::string> own_keys(entity_id e) const {
    std::unordered_set<std::string> out;
    for (const auto& r : owned_[e]) out.insert(r.rec.key);
    return out;
  }
  std::uint64_t rows_owned() const {
    std::uint64_t n = 0;
    for (const auto& v : owned_) n += v.size();
    return n;
  }
  std::uint64_t rows_held() const { return held_.size(); }
  const std::vector<int>& cluster() const { return cluster_; }

 private:
  struct owned_row {
    row_rec rec;
    std::vector<handle> fwd;  // per link
  };
  struct held_row {
    row_rec rec;
    std::vector<handle> fwd;
  };

  std::vector<std::string> blank() const { return std::vector<std::string>(n_); }

  int home(entity_id e, const std::string& key, std::uint64_t line) const {
    (void)e;
    return s_.entities[e].key ? rank_of(key, n_) : rank_of_line(line, n_);
  }

  void note_error(std::vector<std::uint64_t> order, std::string file, std::uint64_t line,
                  std::uint64_t column, std::string message) {
    if (!err_ || order < err_->order)
      err_ = ranked_error{std::move(order), std::move(file), line, column, std::move(message)};
  }

  // 1. Each process reads chunk `rank` of every file, checking values as a single load does.
  void read_shares() {
    const std::string schema_path = (std::filesystem::path(dir_) / "schema.json").string();
    for (entity_id e : order_) {
      if (err_) break;  // a single process would have stopped at this entity already
      const entity_def& def = s_.entities[e];
      const std::uint64_t pos = build_pos_[e];
      try {
        if (def.resolved())
          throw data_error(schema_path, 0, 0,
                           "entity '" + def.name +
                               "' merges sources, which a run over several processes does not "
                               "do yet; run in one process");
        files_[e] =
            b2bseg::detail::dataset_file(dir_, schema_path, "entity '" + def.name + "'", def.file);
        csv_file f = csv_file::open(files_[e]);
        const b2bseg::detail::field_map fm = b2bseg::detail::map_header(def, f);
        std::string header;
        for (std::size_t i = 0; i < f.header().size(); ++i) {
          if (i) header += ',';
          append_csv_field(header, f.header()[i]);
        }
        headers_[e] = header + "\n";
        const std::vector<csv_chunk> parts = f.split(static_cast<std::size_t>(n_));
        if (static_cast<std::size_t>(me_) >= parts.size()) continue;
        csv_record_reader reader(f, parts[me_]);
        std::vector<std::string> raws;
        std::vector<std::uint64_t> lines;
        capturing_reader cap{reader, raws, lines};
        b2bseg::detail::raw_chunk ch;
        const std::vector<const key_index*> none(def.links.size(), nullptr);
        try {
          b2bseg::detail::parse_records(cap, def, fm, parts[me_].begin, parts[me_].end, f.name(),
                                        false, none, {}, ch);
        } catch (const data_error& x) {  // a malformed record: the reader's error
          ch.error = x;
        }
        std::uint64_t limit = ~std::uint64_t{0};
        if (ch.error) {
          limit = ch.error->line();
          note_error({0, pos, 0, ch.error->line(), 1}, ch.error->file(), ch.error->line(),
                     ch.error->column(), message_of(*ch.error));
        }
        auto& out = read_[e];
        for (std::size_t i = 0; i < raws.size() && lines[i] < limit; ++i) {
          read_row r;
          r.rec.line = lines[i];
          r.rec.raw = std::move(raws[i]);
          if (fm.key >= 0) {
            r.rec.key = std::string(ch.keys[i]);
            r.key_column = ch.key_columns[i];
          }
          for (std::size_t l = 0; l < def.links.size(); ++l) {
            r.rec.links.emplace_back(ch.link_keys[l][i]);
            r.link_columns.push_back(ch.link_columns[l][i]);
          }
          out.push_back(std::move(r));
        }
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
      for (const read_row& r : read_[e]) {
        if (r.rec.key.empty()) {
          note_error({0, build_pos_[e], 1, r.rec.line}, files_[e], r.rec.line, r.key_column,
                     "column '" + *def.key + "': empty key");
          continue;
        }
        wire_writer w(out[rank_of(r.rec.key, n_)]);
        w.u64(e);
        w.str(r.rec.key);
        w.u64(r.rec.line);
        w.u64(r.key_column);
      }
    }
    std::vector<
        std::unordered_map<std::string, std::vector<std::pair<std::uint64_t, std::uint64_t>>>>
        seen(s_.entities.size());
    for (const std::string& m : c_.exchange(std::move(out))) {
      wire_reader rd(m);
      while (!rd.done()) {
        const auto e = static_cast<entity_id>(rd.u64());
        std::string key(rd.str());
        const std::uint64_t line = rd.u64(), col = rd.u64();
        seen[e][std::move(key)].emplace_back(line, col);
      }
    }
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (auto& [key, at] : seen[e]) {
        if (at.size() < 2) continue;
        std::sort(at.begin(), at.end());
        note_error({0, build_pos_[e], 1, at[1].first}, files_[e], at[1].first, at[1].second,
                   "column '" + *s_.entities[e].key + "': duplicate key " + quote_value(key) +
                       " (first on line " + std::to_string(at[0].first) + ")");
      }
    // Link values: does the target exist?
    auto ask = blank();
    std::vector<std::vector<std::tuple<entity_id, std::size_t, std::size_t>>> asked(n_);
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (std::size_t i = 0; i < read_[e].size(); ++i)
        for (std::size_t l = 0; l < s_.entities[e].links.size(); ++l) {
          const std::string& v = read_[e][i].rec.links[l];
          if (v.empty()) continue;
          const int to = rank_of(v, n_);
          wire_writer w(ask[to]);
          w.u64(s_.entities[e].links[l].target);
          w.str(v);
          asked[to].emplace_back(e, i, l);
        }
    std::vector<std::string> in = c_.exchange(std::move(ask));
    auto answer = blank();
    for (int src = 0; src < n_; ++src) {
      wire_reader rd(in[src]);
      while (!rd.done()) {
        const auto t = static_cast<entity_id>(rd.u64());
        const std::string key(rd.str());
        answer[src] += seen[t].count(key) ? '1' : '0';
      }
    }
    in = c_.exchange(std::move(answer));
    for (int src = 0; src < n_; ++src)
      for (std::size_t k = 0; k < asked[src].size(); ++k) {
        if (in[src][k] == '1') continue;
        const auto [e, i, l] = asked[src][k];
        const read_row& r = read_[e][i];
        const link_def& ld = s_.entities[e].links[l];
        // Links to entities built later are checked after every table exists.
        const bool deferred = ld.target == e || build_pos_[ld.target] > build_pos_[e];
        std::vector<std::uint64_t> order =
            deferred ? std::vector<std::uint64_t>{1, build_pos_[e], l, r.rec.line}
                     : std::vector<std::uint64_t>{0, build_pos_[e], 0, r.rec.line, 0};
        note_error(
            std::move(order), files_[e], r.rec.line, r.link_columns[l],
            "column '" + ld.column + "': no " + ld.to + " with key " + quote_value(r.rec.links[l]));
      }
    agree_on_error(c_, err_ ? &*err_ : nullptr);
  }

  // 3. Owners, level by level from the partition entity: a row goes where its followed link's
  //    target went (by its own key or line when that link is empty). Keyed rows register their
  //    owner at their key's process, where the next level asks.
  void place_rows() {
    std::vector<std::vector<int>> owner(s_.entities.size());
    // key -> owner, for keys homed here
    std::vector<std::unordered_map<std::string, int>> dir(s_.entities.size());
    int max_level = 0;
    for (const auto& p : place_) max_level = std::max(max_level, p.level);
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      owner[e].assign(read_[e].size(), -1);
      if (place_[e].k == placement::kind::follows) continue;
      for (std::size_t i = 0; i < read_[e].size(); ++i)
        owner[e][i] = home(e, read_[e][i].rec.key, read_[e][i].rec.line);
    }
    for (int level = 0; level <= max_level; ++level) {
      // Register the owners of this level's keyed rows.
      auto reg = blank();
      for (entity_id e = 0; e < s_.entities.size(); ++e) {
        if (place_[e].level != level || !s_.entities[e].key) continue;
        for (std::size_t i = 0; i < read_[e].size(); ++i) {
          wire_writer w(reg[rank_of(read_[e][i].rec.key, n_)]);
          w.u64(e);
          w.str(read_[e][i].rec.key);
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
      // The next level asks where its targets went.
      auto ask = blank();
      std::vector<std::vector<std::pair<entity_id, std::size_t>>> asked(n_);
      for (entity_id e = 0; e < s_.entities.size(); ++e) {
        if (place_[e].level != level + 1 || place_[e].k != placement::kind::follows) continue;
        const auto l = static_cast<std::size_t>(place_[e].link);
        const entity_id t = s_.entities[e].links[l].target;
        for (std::size_t i = 0; i < read_[e].size(); ++i) {
          const std::string& v = read_[e][i].rec.links[l];
          if (v.empty()) {
            owner[e][i] = home(e, read_[e][i].rec.key, read_[e][i].rec.line);
            continue;
          }
          const int to = rank_of(v, n_);
          wire_writer w(ask[to]);
          w.u64(t);
          w.str(v);
          asked[to].emplace_back(e, i);
        }
      }
      std::vector<std::string> in = c_.exchange(std::move(ask));
      auto answer = blank();
      for (int src = 0; src < n_; ++src) {
        wire_reader rd(in[src]);
        wire_writer w(answer[src]);
        while (!rd.done()) {
          const auto t = static_cast<entity_id>(rd.u64());
          const std::string key(rd.str());
          auto it = dir[t].find(key);
          w.u64(it == dir[t].end() ? ~std::uint64_t{0} : static_cast<std::uint64_t>(it->second));
        }
      }
      in = c_.exchange(std::move(answer));
      for (int src = 0; src < n_; ++src) {
        wire_reader rd(in[src]);
        for (const auto& [e, i] : asked[src]) {
          const std::uint64_t o = rd.u64();
          owner[e][i] = o == ~std::uint64_t{0} ? home(e, read_[e][i].rec.key, read_[e][i].rec.line)
                                               : static_cast<int>(o);
        }
      }
    }
    // Rows go to their owners, and are numbered there in file order.
    auto out = blank();
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (std::size_t i = 0; i < read_[e].size(); ++i) {
        wire_writer w(out[owner[e][i]]);
        w.u64(e);
        put_row(w, read_[e][i].rec);
      }
    read_.clear();
    for (const std::string& m : c_.exchange(std::move(out))) {
      wire_reader rd(m);
      while (!rd.done()) {
        const auto e = static_cast<entity_id>(rd.u64());
        owned_[e].push_back({get_row(rd), {}});
      }
    }
    for (auto& rows : owned_)
      std::sort(rows.begin(), rows.end(),
                [](const owned_row& a, const owned_row& b) { return a.rec.line < b.rec.line; });
  }

  // 4. Every link value becomes the handle of its target (asked at the key's process), and each
  //    owner learns which rows point at its rows, per link.
  void resolve_links() {
    auto reg = blank();
    for (entity_id e = 0; e < s_.entities.size(); ++e) {
      if (!s_.entities[e].key) continue;
      for (std::size_t i = 0; i < owned_[e].size(); ++i) {
        wire_writer w(reg[rank_of(owned_[e][i].rec.key, n_)]);
        w.u64(e);
        w.str(owned_[e][i].rec.key);
        w.u64(make_handle(e, me_, i));
      }
    }
    std::vector<std::unordered_map<std::string, handle>> dir(s_.entities.size());
    for (const std::string& m : c_.exchange(std::move(reg))) {
      wire_reader rd(m);
      while (!rd.done()) {
        const auto e = static_cast<entity_id>(rd.u64());
        std::string key(rd.str());
        dir[e][std::move(key)] = rd.u64();
      }
    }
    auto ask = blank();
    std::vector<std::vector<std::tuple<entity_id, std::size_t, std::size_t>>> asked(n_);
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (std::size_t i = 0; i < owned_[e].size(); ++i) {
        owned_[e][i].fwd.assign(s_.entities[e].links.size(), no_handle);
        for (std::size_t l = 0; l < s_.entities[e].links.size(); ++l) {
          const std::string& v = owned_[e][i].rec.links[l];
          if (v.empty()) continue;
          const int to = rank_of(v, n_);
          wire_writer w(ask[to]);
          w.u64(s_.entities[e].links[l].target);
          w.str(v);
          asked[to].emplace_back(e, i, l);
        }
      }
    std::vector<std::string> in = c_.exchange(std::move(ask));
    auto answer = blank();
    for (int src = 0; src < n_; ++src) {
      wire_reader rd(in[src]);
      wire_writer w(answer[src]);
      while (!rd.done()) {
        const auto t = static_cast<entity_id>(rd.u64());
        const std::string key(rd.str());
        auto it = dir[t].find(key);
        w.u64(it == dir[t].end() ? no_handle : it->second);
      }
    }
    in = c_.exchange(std::move(answer));
    auto back = blank();
    for (int src = 0; src < n_; ++src) {
      wire_reader rd(in[src]);
      for (const auto& [e, i, l] : asked[src]) {
        const handle t = rd.u64();
        owned_[e][i].fwd[l] = t;
        if (t == no_handle) continue;
        wire_writer w(back[handle_rank(t)]);
        w.u64(t);
        w.u64(l);
        w.u64(make_handle(e, me_, i));
      }
    }
    for (const std::string& m : c_.exchange(std::move(back))) {
      wire_reader rd(m);
      while (!rd.done()) {
        const handle t = rd.u64();
        const std::uint64_t l = rd.u64();
        const handle child = rd.u64();
        children_[{t, handle_entity(child), static_cast<std::uint32_t>(l)}].push_back(child);
      }
    }
    for (auto& [k, v] : children_) std::sort(v.begin(), v.end());
  }

  // 5. The rows around this process's own: `reach.depth` rounds of the steps the segments take,
  //    then the targets of every link held (so nothing held points nowhere and rows number as
  //    in a single process), then every row of the entities that are everywhere.
  void gather_reach() {
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      for (std::size_t i = 0; i < owned_[e].size(); ++i)
        held_.emplace(make_handle(e, me_, i), held_row{owned_[e][i].rec, owned_[e][i].fwd});
    std::unordered_map<handle, std::size_t> dist;
    std::vector<handle> frontier;
    for (const auto& [h, r] : held_) {
      dist[h] = 0;
      frontier.push_back(h);
    }
    for (std::size_t round = 0; round < reach_.depth; ++round) {
      std::vector<handle> next;
      auto visit = [&](handle h) {
        if (h == no_handle || dist.count(h)) return;
        dist[h] = round + 1;
        next.push_back(h);
      };
      auto ask = blank();
      for (handle x : frontier) {
        const entity_id ex = handle_entity(x);
        for (const step& st : reach_.steps) {
          if (!st.reverse && st.from == ex) {
            visit(held_.at(x).fwd[st.link]);
          } else if (st.reverse && s_.entities[st.from].links[st.link].target == ex) {
            wire_writer w(ask[handle_rank(x)]);
            w.u64(x);
            w.u64(st.from);
            w.u64(st.link);
          }
        }
      }
      std::vector<std::string> in = c_.exchange(std::move(ask));
      auto answer = blank();
      for (int src = 0; src < n_; ++src) {
        wire_reader rd(in[src]);
        wire_writer w(answer[src]);
        while (!rd.done()) {
          const handle x = rd.u64();
          const auto from = static_cast<entity_id>(rd.u64());
          const auto link = static_cast<std::uint32_t>(rd.u64());
          auto it = children_.find({x, from, link});
          if (it == children_.end()) continue;
          for (handle ch : it->second) w.u64(ch);
        }
      }
      for (const std::string& m : c_.exchange(std::move(answer))) {
        wire_reader rd(m);
        while (!rd.done()) visit(rd.u64());
      }
      fetch(next);
      frontier = std::move(next);
    }
    // Targets of every link held, until nothing is missing anywhere.
    std::vector<handle> fresh;
    for (const auto& [h, r] : held_) fresh.push_back(h);
    for (;;) {
      std::vector<handle> missing;
      for (handle h : fresh)
        for (handle t : held_.at(h).fwd)
          if (t != no_handle && !held_.count(t)) missing.push_back(t);
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
      for (std::size_t i = 0; i < owned_[e].size(); ++i) {
        w.u64(make_handle(e, me_, i));
        put_row(w, owned_[e][i].rec);
        w.u64(owned_[e][i].fwd.size());
        for (handle t : owned_[e][i].fwd) w.u64(t);
      }
    }
    for (const std::string& m : all_gather(c_, mine)) {
      wire_reader rd(m);
      while (!rd.done()) {
        const handle h = rd.u64();
        held_row r{get_row(rd), {}};
        r.fwd.resize(rd.u64());
        for (auto& t : r.fwd) t = rd.u64();
        held_.emplace(h, std::move(r));
      }
    }
  }

  /// Brings the rows `want` (handles) that are not held yet from their owners. Collective.
  void fetch(const std::vector<handle>& want) {
    auto ask = blank();
    for (handle h : want)
      if (!held_.count(h)) wire_writer(ask[handle_rank(h)]).u64(h);
    std::vector<std::string> in = c_.exchange(std::move(ask));
    auto answer = blank();
    for (int src = 0; src < n_; ++src) {
      wire_reader rd(in[src]);
      wire_writer w(answer[src]);
      while (!rd.done()) {
        const handle h = rd.u64();
        const owned_row& r = owned_[handle_entity(h)][handle_index(h)];
        w.u64(h);
        put_row(w, r.rec);
        w.u64(r.fwd.size());
        for (handle t : r.fwd) w.u64(t);
      }
    }
    for (const std::string& m : c_.exchange(std::move(answer))) {
      wire_reader rd(m);
      while (!rd.done()) {
        const handle h = rd.u64();
        held_row r{get_row(rd), {}};
        r.fwd.resize(rd.u64());
        for (auto& t : r.fwd) t = rd.u64();
        held_.emplace(h, std::move(r));
      }
    }
  }

  struct read_row {
    row_rec rec;
    std::uint64_t key_column = 0;
    std::vector<std::uint64_t> link_columns;
  };
  struct child_key {
    handle parent;
    entity_id from;
    std::uint32_t link;
    bool operator==(const child_key&) const = default;
  };
  struct child_key_hash {
    std::size_t operator()(const child_key& k) const noexcept {
      return std::hash<std::uint64_t>()(k.parent * 1000003u + k.from * 131u + k.link);
    }
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
  std::vector<std::vector<read_row>> read_;
  std::vector<std::vector<owned_row>> owned_;
  std::unordered_map<child_key, std::vector<handle>, child_key_hash> children_;
  std::unordered_map<handle, held_row> held_;
  std::optional<ranked_error> err_;
};

}  // namespace detail::distributed

/// Evaluates the segments of `f` (compiled against `s`, the schema of dataset folder `dir`)
/// with the processes of `c` (SPEC 8): every process calls it with the same arguments. Each
/// holds its share of the rows and those around them, never the whole dataset. Rank 0 gets
/// every segment's NAME.csv text as one process writes it. Collective. Throws data_error on
/// every process alike (the error one process would report) for bad data, a schema without
/// partition, sources, or `top` without `per`; a process whose files differ from rank 0's
/// ("the processes do not see the same data").
inline dist_result evaluate_distributed(communicator& comm, const std::string& dir, const schema& s,
                                        const bound_file& f, const dist_options& o) {
  namespace dd = detail::distributed;
  namespace fs = std::filesystem;
  dd::counting_communicator c(comm);
  const auto t0 = std::chrono::steady_clock::now();
  // The same schema, segments and file sizes everywhere, or nobody starts.
  std::optional<ranked_error> setup;
  reach rc;
  std::string fingerprint = to_json(s);
  try {
    rc = segments_reach(f, o.selected);
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
      throw data_error(dir, 0, 0,
                       "process " + std::to_string(r) +
                           " does not see the same schema, segments and files as process 0");

  dd::loader ld(c, dir, s, rc);
  ld.run();
  const std::string local = (fs::path(o.work_dir) / ("rank-" + std::to_string(c.rank()))).string();
  std::optional<graph> g;
  std::optional<ranked_error> load_error;
  try {
    ld.write_dataset(local, to_json(s));
    g.emplace(load_dataset(local, load_options{}));
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
  std::vector<std::unordered_set<std::string>> own(s.entities.size());
  std::vector<bool> have(s.entities.size(), false);
  for (const segment_result& sr : ev.segments) {
    if (!have[sr.entity]) own[sr.entity] = ld.own_keys(sr.entity), have[sr.entity] = true;
    std::vector<std::pair<std::string, std::string_view>> keep;
    for (auto it = sr.members.begin(); it != sr.members.end(); ++it) {
      const std::string_view key = g->key(sr.entity, *it);
      if (!own[sr.entity].count(std::string(key))) continue;
      std::string ok;
      dd::order_key(*g, sr.entity, *it, ld.cluster(), ok);
      keep.emplace_back(std::move(ok), key);
    }
    w.u64(static_cast<std::uint64_t>(sr.eval_ms * 1000));
    w.u64(keep.size());
    for (const auto& [ok, key] : keep) {
      w.str(ok);
      w.str(key);
    }
  }
  std::vector<std::string> out(static_cast<std::size_t>(c.size()));
  out[0] = std::move(mine);
  const std::vector<std::string> in = c.exchange(std::move(out));
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
        for (std::uint64_t j = 0; j < n; ++j) {
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
  std::vector<std::string> bc(static_cast<std::size_t>(c.size()));
  if (c.rank() == 0) std::fill(bc.begin(), bc.end(), totals);
  const std::string back = c.exchange(std::move(bc))[0];
  wire_reader rd(back);
  res.eval_ms = static_cast<double>(rd.u64()) / 1000;
  for (std::size_t k = 0; k < ev.segments.size(); ++k) {
    dist_segment ds;
    ds.name = ev.segments[k].name;
    ds.entity = ev.segments[k].entity;
    ds.count = rd.u64();
    ds.eval_ms = static_cast<double>(rd.u64()) / 1000;
    if (c.rank() == 0) {
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
  res.rows_owned = ld.rows_owned();
  res.rows_held = ld.rows_held();
  res.bytes_sent = c.sent;
  return res;
}

}  // namespace b2bseg::dist
