// Activation (SPEC 6): each destination's files for the members of its segments, in full or as
// the changes since the destination's last successful run, with a manifest and the state that
// makes the next run incremental. Link with b2bseg::activate (libcrypto, zlib, libzstd).
#pragma once

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "b2bseg/activate/destinations.hpp"
#include "b2bseg/activate/fields.hpp"
#include "b2bseg/common/error.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/exec/executor.hpp"
#include "b2bseg/load/csv.hpp"
#include "b2bseg/output/compress.hpp"
#include "b2bseg/output/writer.hpp"

namespace b2bseg {

/// Options of `activate`.
struct activate_options {
  timestamp_us as_of = 0;  ///< the evaluation's instant; names the run folder
  bool full = false;       ///< write every member once, also for incremental destinations
  unsigned threads = 0;    ///< worker threads for field filters; 0 = all cores
};

/// One file a destination run wrote.
struct activation_file {
  std::string segment;
  std::string path;  ///< relative to the run folder
  std::uint64_t rows = 0;
  std::vector<std::pair<std::string, std::uint64_t>> skipped;  ///< reason, count
};

/// What one destination's run did: its files, or the error that made it write nothing.
struct destination_report {
  std::string name;
  destination_type type = destination_type::files;
  std::string run_folder;  ///< OUT/DEST/RUN
  std::vector<activation_file> files;
  std::vector<std::string> warnings;
  std::string error;  ///< empty on success

  std::uint64_t rows() const {
    std::uint64_t n = 0;
    for (const auto& f : files) n += f.rows;
    return n;
  }
  std::uint64_t skipped() const {
    std::uint64_t n = 0;
    for (const auto& f : files)
      for (const auto& [reason, k] : f.skipped) n += k;
    return n;
  }
};

namespace detail {

/// `YYYYMMDDTHHMMSSZ` of an instant: the run folder's name.
inline std::string run_name(timestamp_us t) {
  std::string iso = format_timestamp(t - ((t % 1'000'000) + 1'000'000) % 1'000'000);
  std::string out;
  for (char c : iso)
    if (c != '-' && c != ':') out += c;
  return out;
}

/// Lower-case hex SHA-256 of `s` trimmed of ASCII whitespace and ASCII lower-cased.
inline std::string normalized_sha256(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  std::string norm(s);
  for (char& c : norm)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(norm.data(), norm.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw data_error("SHA-256: libcrypto failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

/// SPEC 6's Marketo email rule, on an email already trimmed of spaces.
inline bool valid_email(std::string_view e) {
  const auto at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos)
    return false;
  for (char c : e)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  const std::string_view domain = e.substr(at + 1);
  if (domain.find('.') == std::string_view::npos) return false;
  std::size_t b = 0;
  for (;;) {
    const std::size_t dot = domain.find('.', b);
    const std::size_t end = dot == std::string_view::npos ? domain.size() : dot;
    if (end == b) return false;  // an empty label
    if (dot == std::string_view::npos) return true;
    b = dot + 1;
  }
}

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

/// One output row: a member and its change. `row` is what a member_source knows it by (a row
/// id of the graph for graph_members), ordered as the rows are in the output; no_row when its
/// key left the dataset.
struct out_row {
  row_id row = no_row;
  std::string key;
  bool exited = false;
};

}  // namespace detail

/// A destination's field values for a list of rows, in the forms activation writes: read from a
/// graph through the field evaluator's columns, or given as texts (rows evaluated elsewhere, as
/// by the processes of a scale-out run). `text` is append_field_text's form. Either way the
/// bytes written are the same.
class field_values {
 public:
  /// Values of `cols` (from field_evaluator::run) read from `g`, which must outlive this.
  field_values(const graph& g, std::vector<field_column> cols) : g_(&g), cols_(std::move(cols)) {}
  /// Given values: `texts[k * fields.size() + i]` is row k's text of field i (empty when
  /// `nulls` says null). The fields must outlive this.
  field_values(std::vector<const bound_field*> fields, std::vector<std::string> texts,
               std::vector<std::uint8_t> nulls)
      : fields_(std::move(fields)), texts_(std::move(texts)), nulls_(std::move(nulls)) {}

  /// Whether row k's value of field i is null. O(1).
  bool is_null(std::size_t i, std::size_t k) const {
    return g_ ? field_is_null(*g_, cols_[i], k) : nulls_[k * fields_.size() + i] != 0;
  }
  /// Appends row k's value of field i as text (append_field_text).
  void text(std::string& out, std::size_t i, std::size_t k) const {
    if (g_)
      append_field_text(out, *g_, cols_[i], k);
    else
      out += texts_[k * fields_.size() + i];
  }
  /// Appends it as one CSV field (append_csv_value).
  void csv(std::string& out, std::size_t i, std::size_t k, std::string& scratch) const {
    if (g_)
      append_csv_value(out, *g_, cols_[i], k, scratch);
    else
      append_csv_field(out, texts_[k * fields_.size() + i]);
  }
  /// Appends it as JSON (append_json_value).
  void json(std::string& out, std::size_t i, std::size_t k, std::string& scratch) const;

 private:
  const graph* g_ = nullptr;
  std::vector<field_column> cols_;
  std::vector<const bound_field*> fields_;
  std::vector<std::string> texts_;
  std::vector<std::uint8_t> nulls_;
};

inline void field_values::json(std::string& out, std::size_t i, std::size_t k,
                               std::string& scratch) const {
  if (g_) return append_json_value(out, *g_, cols_[i], k, scratch);
  if (is_null(i, k)) {
    out += "null";
    return;
  }
  append_json_text(out, fields_[i]->type, texts_[k * fields_.size() + i]);
}

/// Where a destination run takes its rows from: each segment's members in output order, the
/// rows of keys that left a segment, and the destination's field values for any of them.
class member_source {
 public:
  virtual ~member_source() = default;
  /// The members of segment `seg` in output order (`exited` false).
  virtual std::vector<detail::out_row> members(const std::string& seg) const = 0;
  /// The row of the destination's entity whose key is `key`, ordered as members' rows are, or
  /// no_row when no row has it.
  virtual row_id find_key(std::string_view key) const = 0;
  /// The destination's field values (its fields, then lead_id) of `rows` (no_row: nulls).
  virtual field_values values(const std::vector<row_id>& rows) const = 0;
};

/// The members and fields of one destination read from a graph and its evaluation: what a
/// single process activates. The graph, evaluation and destination must outlive it.
class graph_members final : public member_source {
 public:
  /// Cost: one evaluation of the fields' filters (field_evaluator).
  graph_members(const graph& g, const evaluation& ev, const destination& d, timestamp_us as_of,
                unsigned threads)
      : g_(g), ev_(ev), d_(d), fields_(g, destination_fields(d), as_of, threads) {}

  std::vector<detail::out_row> members(const std::string& seg) const override {
    const Roaring& set = member_set(seg);
    std::vector<detail::out_row> out;
    out.reserve(set.cardinality());
    for (auto it = set.begin(); it != set.end(); ++it)
      out.push_back({*it, std::string(g_.key(d_.entity, *it)), false});
    return out;
  }
  /// The members of segment `seg` as the evaluation holds them. Throws data_error when it was
  /// not evaluated.
  const Roaring& member_set(const std::string& seg) const {
    for (const auto& s : ev_.segments)
      if (s.name == seg) return s.members;
    throw data_error("segment '" + seg + "' was not evaluated");
  }
  row_id find_key(std::string_view key) const override { return g_.find_key(d_.entity, key); }
  field_values values(const std::vector<row_id>& rows) const override {
    return field_values(g_, fields_.run(rows));
  }

  /// The fields a destination writes, lead_id last.
  static std::vector<const bound_field*> destination_fields(const destination& d) {
    std::vector<const bound_field*> fields;
    for (const auto& f : d.fields) fields.push_back(&f.field);
    if (d.lead_id) fields.push_back(&d.lead_id->field);
    return fields;
  }

 private:
  const graph& g_;
  const evaluation& ev_;
  const destination& d_;
  field_evaluator fields_;  // filters evaluated once for all of the destination's files
};

namespace detail {

/// A file's text split into parts by rows and bytes (header repeated), then named.
struct part_writer {
  std::string header;
  std::uint64_t max_rows = 0, max_bytes = 0;
  std::vector<std::string> parts;
  std::vector<std::uint64_t> rows;

  /// Adds the lines of a block (`ends`: the end offset of each line in `text`), whole when the
  /// current part has room for all of them.
  void add_block(std::string_view text, const std::vector<std::uint32_t>& ends) {
    if (parts.empty() && !ends.empty()) {
      parts.push_back(header);
      rows.push_back(0);
    }
    if (!ends.empty() && rows.back() + ends.size() <= max_rows &&
        (!max_bytes || parts.back().size() + text.size() <= max_bytes)) {
      parts.back() += text;
      rows.back() += ends.size();
      return;
    }
    std::size_t b = 0;
    for (std::uint32_t e : ends) {
      add(text.substr(b, e - b));
      b = e;
    }
  }

  void add(std::string_view line) {
    if (parts.empty() || rows.back() >= max_rows ||
        (max_bytes && rows.back() > 0 && parts.back().size() + line.size() > max_bytes)) {
      parts.push_back(header);
      rows.push_back(0);
    }
    parts.back() += line;
    ++rows.back();
  }
  void finish() {
    if (parts.empty()) {  // a header-only file
      parts.push_back(header);
      rows.push_back(0);
    }
  }
};

/// The state file of a destination's segment: the keys it last received, one CSV field a line.
inline std::vector<std::string> read_state(const std::filesystem::path& p, bool& exists) {
  std::error_code ec;
  exists = std::filesystem::exists(p, ec);
  std::vector<std::string> keys;
  if (!exists) return keys;
  csv_file f = csv_file::open(p.string());
  if (f.header().size() != 1) throw data_error(p.string(), 1, 0, "not a b2bseg state file");
  std::vector<std::string_view> fields;
  for (const csv_chunk& c : f.split(1)) {
    csv_record_reader r(f, c);
    while (r.next(fields)) keys.emplace_back(fields[0]);
  }
  return keys;
}

class destination_run {
 public:
  /// `key_column`: the name of the key column of the destination's entity.
  destination_run(const member_source& src, const destination& d, std::string key_column,
                  const std::filesystem::path& out, const activate_options& o)
      : src_(src), d_(d), key_column_(std::move(key_column)), dir_(out / d.name), o_(o) {}

  destination_report run() {
    namespace fs = std::filesystem;
    destination_report rep;
    rep.name = d_.name;
    rep.type = d_.type;
    const std::string run = run_name(o_.as_of);
    rep.run_folder = (dir_ / run).string();
    const fs::path staging = dir_ / (".b2bseg-staging-" + std::to_string(::getpid()));
    try {
      fs::create_directories(dir_);
      fs::remove_all(staging);
      fs::create_directory(staging);
      std::vector<std::pair<std::string, std::string>> state;  // segment, keys CSV
      std::vector<std::pair<std::string, std::string>> files;  // name in the run folder, bytes
      for (std::size_t i = 0; i < d_.segments.size(); ++i)
        segment(d_.segment_names[i], rep, files, state);
      // Compression: the files in parallel (zlib and zstd each use one thread).
      if (d_.compression != "none")
        detail::parallel_for(std::size_t{0}, files.size(), [&](std::size_t i) {
          files[i].second = d_.compression == "gzip" ? gzip_compress(files[i].second)
                                                     : zstd_compress(files[i].second);
        });
      files.emplace_back("manifest.json", manifest(rep));
      for (const auto& [name, bytes] : files) write_whole_file((staging / name).string(), bytes);
      // The run folder whole: flushed, then renamed into place (replacing a run of the same
      // instant); only then the state, so a failure before it hands the same changes over again.
      sync_folder(staging.string(), true);
      const fs::path target = dir_ / run;
      const fs::path old = dir_ / (".b2bseg-old-" + std::to_string(::getpid()));
      fs::remove_all(old);
      if (fs::exists(target)) fs::rename(target, old);
      fs::rename(staging, target);
      fs::remove_all(old);
      fs::create_directories(dir_ / ".state");
      staged_files st;
      for (const auto& [seg, keys] : state)
        st.write((dir_ / ".state" / (seg + ".csv")).string(), keys);
      st.commit();
    } catch (const std::exception& e) {
      std::error_code ec;
      fs::remove_all(staging, ec);
      rep.error = e.what();
      rep.files.clear();
    }
    return rep;
  }

 private:
  void segment(const std::string& seg, destination_report& rep,
               std::vector<std::pair<std::string, std::string>>& files,
               std::vector<std::pair<std::string, std::string>>& state) {
    std::vector<out_row> current = src_.members(seg);
    // The state to keep: every current key.
    std::string keys;
    append_csv_field(keys, key_column_);
    keys += '\n';
    for (const auto& r : current) {
      append_csv_field(keys, r.key);
      keys += '\n';
    }
    state.emplace_back(seg, std::move(keys));

    bool had_state = false;
    const std::vector<std::string> previous =
        d_.incremental && !o_.full ? read_state(dir_ / ".state" / (seg + ".csv"), had_state)
                                   : std::vector<std::string>{};
    std::vector<out_row> entered, exited;
    if (!d_.incremental || o_.full || !had_state) {
      entered = std::move(current);
    } else {
      std::unordered_set<std::string_view> before(previous.begin(), previous.end());
      std::unordered_set<std::string_view> now;
      for (auto& r : current) {
        now.insert(r.key);
        if (!before.count(r.key)) entered.push_back(std::move(r));
      }
      std::vector<out_row> gone;
      for (const std::string& k : previous) {
        if (now.count(k)) continue;
        const row_id row = src_.find_key(k);
        (row == no_row ? gone : exited).push_back({row, k, true});
      }
      std::sort(exited.begin(), exited.end(),
                [](const out_row& a, const out_row& b) { return a.row < b.row; });
      std::sort(gone.begin(), gone.end(),
                [](const out_row& a, const out_row& b) { return a.key < b.key; });
      for (auto& r : gone) exited.push_back(std::move(r));
    }
    const bool lists = d_.type != destination_type::files;
    if (lists && d_.incremental) {
      emit(seg, seg, entered, rep, files);
      emit(seg, seg + ".exited", exited, rep, files);
    } else {
      for (auto& r : exited) entered.push_back(std::move(r));
      emit(seg, seg, entered, rep, files);
    }
  }

  // Writes the rows of one logical file (split into parts as the type requires).
  void emit(const std::string& seg, const std::string& stem, const std::vector<out_row>& rows,
            destination_report& rep, std::vector<std::pair<std::string, std::string>>& files) {
    std::vector<row_id> ids(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) ids[k] = rows[k].row;
    const field_values vals = src_.values(ids);

    std::map<std::string, std::uint64_t> skipped;
    part_writer pw;
    std::string line, scratch, text;
    auto value_text = [&](std::size_t field, std::size_t k) {
      text.clear();
      vals.text(text, field, k);
      return std::string_view(text);
    };
    const bool incremental_files = d_.type == destination_type::files && d_.incremental;
    std::string ext = ".csv";
    switch (d_.type) {
      case destination_type::files: {
        pw.max_rows = 5'000'000;
        const std::string& key_column = key_column_;
        if (d_.ndjson) {
          ext = ".ndjson";
        } else {
          append_csv_field(pw.header, key_column);
          for (const auto& f : d_.fields) {
            pw.header += ',';
            append_csv_field(pw.header, f.column);
          }
          if (incremental_files) pw.header += ",status";
          pw.header += '\n';
        }
        // Rows rendered in parallel blocks, then added in order.
        constexpr std::size_t block = 8192;
        const std::size_t blocks = (rows.size() + block - 1) / block;
        std::vector<std::string> texts(blocks);
        std::vector<std::vector<std::uint32_t>> ends(blocks);
        detail::parallel_for(std::size_t{0}, blocks, [&](std::size_t b) {
          std::string& t = texts[b];
          std::string scratch_b;
          const std::size_t end = std::min(rows.size(), (b + 1) * block);
          for (std::size_t k = b * block; k < end; ++k) {
            if (d_.ndjson) {
              t += '{';
              detail::append_json_string(t, key_column);
              t += ':';
              detail::append_json_string(t, rows[k].key);
              for (std::size_t i = 0; i < d_.fields.size(); ++i) {
                t += ',';
                detail::append_json_string(t, d_.fields[i].column);
                t += ':';
                vals.json(t, i, k, scratch_b);
              }
              if (incremental_files)
                t += rows[k].exited ? ",\"status\":\"exited\"" : ",\"status\":\"realized\"";
              t += "}\n";
            } else {
              append_csv_field(t, rows[k].key);
              for (std::size_t i = 0; i < d_.fields.size(); ++i) {
                t += ',';
                vals.csv(t, i, k, scratch_b);
              }
              if (incremental_files) t += rows[k].exited ? ",exited" : ",realized";
              t += '\n';
            }
            ends[b].push_back(static_cast<std::uint32_t>(t.size()));
          }
        });
        for (std::size_t b = 0; b < blocks; ++b) pw.add_block(texts[b], ends[b]);
        if (d_.compression == "gzip") ext += ".gz";
        if (d_.compression == "zstd") ext += ".zst";
        break;
      }
      case destination_type::linkedin_company_list:
      case destination_type::linkedin_contact_list: {
        const bool company = d_.type == destination_type::linkedin_company_list;
        const auto& header = company ? linkedin_company_columns() : linkedin_contact_columns();
        pw.max_rows = 300'000;
        pw.max_bytes = 20'000'000;
        std::vector<int> source(header.size(), -1);
        for (std::size_t c = 0; c < header.size(); ++c) {
          if (c) pw.header += ',';
          pw.header += header[c];
          for (std::size_t i = 0; i < d_.fields.size(); ++i)
            if (d_.fields[i].column == header[c]) source[c] = static_cast<int>(i);
        }
        pw.header += '\n';
        std::vector<std::string> cells(header.size());
        for (std::size_t k = 0; k < rows.size(); ++k) {
          for (std::size_t c = 0; c < header.size(); ++c) {
            cells[c].clear();
            if (source[c] < 0) continue;
            cells[c] = value_text(static_cast<std::size_t>(source[c]), k);
          }
          auto has = [&](std::string_view col) {
            for (std::size_t c = 0; c < header.size(); ++c)
              if (header[c] == col) return !cells[c].empty();
            return false;
          };
          if (company) {
            if (!has("companyname") && !has("companywebsite") && !has("companyemaildomain") &&
                !has("linkedincompanypageurl")) {
              ++skipped["no_company_identifier"];
              continue;
            }
          } else if (!has("email") &&
                     !(has("firstname") && has("lastname") && has("employeecompany"))) {
            ++skipped["no_email_or_name"];
            continue;
          }
          line.clear();
          for (std::size_t c = 0; c < header.size(); ++c) {
            if (c) line += ',';
            if (!cells[c].empty() &&
                std::find(d_.hash.begin(), d_.hash.end(), header[c]) != d_.hash.end())
              cells[c] = normalized_sha256(cells[c]);
            append_csv_field(line, cells[c]);
          }
          line += '\n';
          pw.add(line);
        }
        break;
      }
      case destination_type::marketo_list: {
        pw.max_rows = ~std::uint64_t{0};
        pw.max_bytes = 10'000'000;
        for (std::size_t i = 0; i < d_.fields.size(); ++i) {
          if (i) pw.header += ',';
          append_csv_field(pw.header, d_.fields[i].column);
        }
        pw.header += '\n';
        std::size_t email = 0;
        for (std::size_t i = 0; i < d_.fields.size(); ++i)
          if (d_.fields[i].column == "email") email = i;
        // Rules in order: a valid email, a lead id, one row per email (the first by key).
        std::vector<std::string> emails(rows.size());
        std::vector<char> keep(rows.size(), 0);
        std::map<std::string, std::size_t> first_by_email;  // lower-cased email -> row
        std::uint64_t eligible = 0;                         // rows that pass the first two rules
        for (std::size_t k = 0; k < rows.size(); ++k) {
          emails[k] = std::string(trim_spaces(value_text(email, k)));
          if (!valid_email(emails[k])) {
            ++skipped["invalid_email"];
            continue;
          }
          if (d_.lead_id && vals.is_null(d_.fields.size(), k)) {
            ++skipped["no_lead_id"];
            continue;
          }
          ++eligible;
          auto [it, fresh] = first_by_email.emplace(ascii_lower(emails[k]), k);
          if (!fresh && rows[k].key < rows[it->second].key) it->second = k;
        }
        for (const auto& [e, k] : first_by_email) keep[k] = 1;
        for (std::size_t k = 0; k < rows.size(); ++k) {
          if (!keep[k]) continue;
          line.clear();
          for (std::size_t i = 0; i < d_.fields.size(); ++i) {
            if (i) line += ',';
            if (i == email)
              append_csv_field(line, emails[k]);
            else
              vals.csv(line, i, k, scratch);
          }
          line += '\n';
          pw.add(line);
        }
        if (eligible > first_by_email.size())
          skipped["duplicate_email"] = eligible - first_by_email.size();
        break;
      }
    }
    pw.finish();
    for (std::size_t p = 0; p < pw.parts.size(); ++p) {
      activation_file f;
      f.segment = seg;
      f.path = pw.parts.size() == 1 ? stem + ext : stem + ".part" + std::to_string(p + 1) + ext;
      f.rows = pw.rows[p];
      if (p == 0) f.skipped.assign(skipped.begin(), skipped.end());
      if (d_.type != destination_type::files && pw.rows[p] < 300 && p + 1 == pw.parts.size() &&
          (d_.type == destination_type::linkedin_company_list ||
           d_.type == destination_type::linkedin_contact_list))
        rep.warnings.push_back(f.path + " has " + std::to_string(pw.rows[p]) +
                               " rows; LinkedIn needs at least 300 to use a list");
      files.emplace_back(f.path, std::move(pw.parts[p]));  // compressed later, in parallel
      rep.files.push_back(std::move(f));
    }
  }

  std::string manifest(const destination_report& rep) const {
    std::string m = "{\n  \"destination\": ";
    detail::append_json_string(m, d_.name);
    m += ",\n  \"type\": ";
    detail::append_json_string(m, to_string(d_.type));
    m += ",\n  \"mode\": ";
    m += d_.incremental ? "\"incremental\"" : "\"full\"";
    m += ",\n  \"as_of\": ";
    detail::append_json_string(m, format_timestamp(o_.as_of));
    m += ",\n  \"files\": [";
    for (std::size_t i = 0; i < rep.files.size(); ++i) {
      const auto& f = rep.files[i];
      m += i ? ",\n    {" : "\n    {";
      m += "\"segment\": ";
      detail::append_json_string(m, f.segment);
      m += ", \"path\": ";
      detail::append_json_string(m, f.path);
      m += ", \"rows\": " + std::to_string(f.rows) + ", \"skipped\": {";
      for (std::size_t k = 0; k < f.skipped.size(); ++k) {
        if (k) m += ", ";
        detail::append_json_string(m, f.skipped[k].first);
        m += ": " + std::to_string(f.skipped[k].second);
      }
      m += "}}";
    }
    m += rep.files.empty() ? "],\n" : "\n  ],\n";
    m += "  \"warnings\": [";
    for (std::size_t i = 0; i < rep.warnings.size(); ++i) {
      if (i) m += ", ";
      detail::append_json_string(m, rep.warnings[i]);
    }
    m += "]\n}\n";
    return m;
  }

  const member_source& src_;
  const destination& d_;
  std::string key_column_;
  std::filesystem::path dir_;
  activate_options o_;
};

}  // namespace detail

/// The run of destination `d` over the rows of `src` into `out` (its folder `out/NAME/`): the
/// destination's report, with the failure that made it write nothing in `error`. The caller holds
/// a folder_lock on `out`. `key_column`: the name of the key column of d's entity. Never throws.
inline destination_report activate_destination(const member_source& src, const destination& d,
                                               const std::string& key_column,
                                               const std::string& out, const activate_options& o) {
  return detail::destination_run(src, d, key_column, out, o).run();
}

/// Activates `dests` (from parse_destinations) with the members of evaluation `ev` of `g`: for
/// each destination, the files of its type under `out/NAME/RUN/` (RUN = as-of time as
/// `YYYYMMDDTHHMMSSZ`) with a `manifest.json`, staged in a hidden folder and renamed into place
/// whole; then the destination's state (`out/NAME/.state/`, the keys each segment handed over)
/// is replaced, so a run that fails before that hands the same changes over again. Each
/// destination is all or nothing on its own: a failure is reported in its report's `error` and
/// the others go on. Holds a folder_lock on `out` (throws data_error when another run holds it).
/// Cost: the fields' evaluation plus O(rows written).
inline std::vector<destination_report> activate(const graph& g, const evaluation& ev,
                                                const std::vector<destination>& dests,
                                                const std::string& out, const activate_options& o) {
  create_output_folder(out);
  folder_lock lock(out);
  std::vector<destination_report> reports;
  for (const destination& d : dests)
    reports.push_back(activate_destination(graph_members(g, ev, d, o.as_of, o.threads), d,
                                           *g.schema().entities[d.entity].key, out, o));
  return reports;
}

}  // namespace b2bseg
