// Reading a change feed (SPEC 2.4): NDJSON lines from a file descriptor, parsed with simdjson's
// On-Demand API into typed, checked changes.
#pragma once

#include <poll.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/live/change.hpp"
#include "b2bseg/load/table_builder.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

/// Splits the bytes read from a file descriptor into lines, without ever blocking longer than
/// asked: a stream reader for pipes (a message-queue client writing into `b2bseg stream`) as much
/// as for files. `\r\n` and `\n` end lines; a byte-order mark before line 1 is skipped; a last
/// line without an end counts. A line longer than `max_line` bytes is discarded as it streams
/// (memory stays bounded) and reported as `too_long`. Does not own the descriptor.
class feed_reader {
 public:
  enum class status : std::uint8_t { line, timeout, eof, too_long };

  explicit feed_reader(int fd, std::size_t max_line = std::size_t{64} << 20)
      : fd_(fd), max_line_(max_line) {}

  /// The next line that is not blank (spaces and tabs only), in `line` (valid until the next
  /// call) and its 1-based number in
  /// `line_no` (blank lines are counted). `timeout_ms` < 0 waits as long as it takes; otherwise,
  /// when no whole line arrives within that many milliseconds, returns `timeout` (a partial line
  /// stays buffered). Throws data_error (naming `name`) when reading fails.
  status next(std::string_view& line, std::size_t& line_no, int timeout_ms,
              const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      // A whole line in the buffer?
      const char* begin = buf_.data() + start_;
      const std::size_t avail = end_ - start_;
      const void* nl =
          avail > scanned_ ? std::memchr(begin + scanned_, '\n', avail - scanned_) : nullptr;
      if (nl || (eof_ && avail > 0)) {
        std::size_t len = nl ? static_cast<const char*>(nl) - begin : avail;
        start_ += nl ? len + 1 : len;
        scanned_ = 0;
        ++line_no_;
        line_no = line_no_;
        if (discarding_ || len > max_line_) {  // a line too long (or the end of one)
          discarding_ = false;
          return status::too_long;
        }
        std::string_view l(begin, len);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        if (line_no_ == 1 && l.substr(0, 3) == "\xEF\xBB\xBF") l.remove_prefix(3);
        if (l.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank
        line_.assign(l);  // the buffer moves on the next read
        line = line_;
        return status::line;
      }
      if (eof_) {
        if (!discarding_) return status::eof;
        discarding_ = false;  // an oversized last line without an end
        line_no = ++line_no_;
        return status::too_long;
      }
      scanned_ = avail;
      if (avail > max_line_) {  // drop what is held of an oversized line, keep reading to its end
        discarding_ = true;
        start_ = end_;
        scanned_ = 0;
      }
      if (timeout_ms >= 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        // A deadline already past still looks (poll with 0): only an input that has nothing
        // to give is a pause.
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::max<long long>(left, 0)));
        if (r == 0) return status::timeout;
        if (r < 0 && errno != EINTR)
          throw data_error(name, 0, 0, std::string("cannot read: ") + std::strerror(errno));
        if (r < 0) continue;
      }
      fill(name);
    }
  }

  /// Lines read so far, blank ones included.
  std::size_t lines() const noexcept { return line_no_; }

 private:
  void fill(const std::string& name) {
    constexpr std::size_t chunk = 64 * 1024;
    if (start_ > 0) {  // keep only the unread tail
      std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    if (buf_.size() < end_ + chunk) buf_.resize(end_ + chunk);
    ssize_t n;
    do n = ::read(fd_, buf_.data() + end_, chunk);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw data_error(name, 0, 0, std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) eof_ = true;
    end_ += static_cast<std::size_t>(n);
  }

  int fd_;
  std::size_t max_line_;
  std::vector<char> buf_;
  std::size_t start_ = 0, end_ = 0;
  std::size_t scanned_ = 0;  ///< bytes after start_ known to hold no newline
  std::size_t line_no_ = 0;
  bool eof_ = false;
  bool discarding_ = false;
  std::string line_;
};

namespace detail::live {

/// True when `s` is a number by JSON's grammar (simdjson checks a number's text only when it is
/// converted, and the text is handed to the CSV parsers instead). O(size).
inline bool is_json_number(std::string_view s) noexcept {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0')
    ++i;
  else if (!digits())
    return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

}  // namespace detail::live

/// Turns feed lines into checked changes for one schema (SPEC 2.4). Every value is checked by
/// the CSV rules of its column's type (the string "42" is an int, "" and null are null, a
/// `string[]` is an array of strings or a `|`-joined string); key existence and links are checked
/// when the change is applied. Reuses one simdjson parser: not thread-safe; one per thread.
class change_parser {
 public:
  /// `s` must be a validated schema. Keeps a reference: `s` must outlive the parser.
  explicit change_parser(const schema& s) : schema_(s), layout_(s) {
    column_types_.resize(s.entities.size());
    source_types_.resize(s.entities.size());
    for (std::size_t e = 0; e < s.entities.size(); ++e) {
      const auto& def = s.entities[e];
      auto& types = column_types_[e];
      types.assign(layout_.entities[e].names.size(), {});
      for (std::size_t a = 0; a < def.attributes.size(); ++a)
        types[layout_.entities[e].attribute_column[a]].push_back(def.attributes[a].type);
      for (std::size_t k = 0; k < def.sources.size(); ++k) {
        const auto& sc = layout_.entities[e].sources[k];
        auto& st = source_types_[e].emplace_back(sc.names.size());
        for (std::size_t j = 0; j < sc.attribute_column.size(); ++j)
          st[sc.attribute_column[j]].push_back(
              def.attributes[def.sources[k].attributes[j].index].type);
        if (sc.updated_at >= 0) st[sc.updated_at].push_back(value_type::timestamp);
      }
    }
  }

  const row_layout& layout() const noexcept { return layout_; }

  /// Parses `line` as the feed's line `line_no`: a change, or the error naming the field.
  /// Copies the line into a padded buffer of its own first (simdjson reads a little past the
  /// end), so any string_view will do. O(line length).
  std::variant<change, change_error> parse(std::string_view line, std::size_t line_no) {
    change c;
    c.line = line_no;
    std::string err = parse_into(line, c);
    if (!err.empty()) return change_error{line_no, std::move(err)};
    return c;
  }

 private:
  using json_type = simdjson::ondemand::json_type;

  static std::string json_error(simdjson::error_code e) {
    if (e == simdjson::UTF8_ERROR) return "invalid UTF-8";
    return std::string("malformed JSON (") + simdjson::error_message(e) + ")";
  }

  /// A scalar's text by the CSV rules, or an error. `list`: arrays of strings are allowed.
  std::string value_text(simdjson::ondemand::value v, bool list, std::string& out, bool& null,
                         bool* was_array = nullptr) {
    null = false;
    if (was_array) *was_array = false;
    out.clear();
    json_type t;
    if (auto e = v.type().get(t)) return json_error(e);
    switch (t) {
      case json_type::string: {
        std::string_view s;
        if (auto e = v.get_string().get(s)) return json_error(e);
        out.assign(s);
        break;
      }
      case json_type::number: {
        std::string_view s = v.raw_json_token();
        while (!s.empty() &&
               (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
          s.remove_suffix(1);
        if (!detail::live::is_json_number(s))
          return "malformed JSON (bad number " + detail::live::quoted(s) + ")";
        out.assign(s);
        break;
      }
      case json_type::boolean: {
        bool b = false;
        if (auto e = v.get_bool().get(b)) return json_error(e);
        out = b ? "true" : "false";
        break;
      }
      case json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null); e || !is_null) return json_error(e);
        break;
      }
      case json_type::array: {
        if (!list) return "an array is a value only for a string[] column";
        if (was_array) *was_array = true;
        simdjson::ondemand::array arr;
        if (auto e = v.get_array().get(arr)) return json_error(e);
        for (auto item : arr) {
          std::string_view s;
          if (auto e = item.get_string().get(s)) {
            if (e == simdjson::INCORRECT_TYPE) return "a string[] array holds strings only";
            return json_error(e);
          }
          if (s.find('|') != std::string_view::npos)
            return "list element " + detail::live::quoted(s) +
                   " holds '|', which separates elements";
          if (s.empty()) continue;
          if (!out.empty()) out += '|';
          out.append(s);
        }
        break;
      }
      case json_type::object:
        return "an object is not a value";
    }
    null = out.empty();
    return {};
  }

  /// Checks `v` (non-empty) against every type that reads column `col` of entity `e` (of its
  /// source `source`, unless ~0u).
  std::string check_types(entity_id e, std::uint32_t col, std::string_view v,
                          std::uint32_t source = ~0u) const {
    for (value_type t : types_of(e, col, source)) {
      bool ok = true;
      switch (t) {
        case value_type::integer: {
          std::int64_t x;
          ok = parse_int64(v, x);
          break;
        }
        case value_type::floating: {
          double x;
          ok = parse_double(v, x);
          break;
        }
        case value_type::boolean: {
          bool x;
          ok = parse_bool(v, x);
          break;
        }
        case value_type::timestamp: {
          timestamp_us x;
          ok = parse_timestamp(v, x);
          break;
        }
        case value_type::string:
        case value_type::string_list:
          break;
      }
      if (!ok)
        return "bad " + std::string(detail::type_word(t)) + " value " + detail::live::quoted(v);
    }
    return {};
  }

  /// The types that read column `col` of entity `e` (of its source `source`, unless ~0u).
  const std::vector<value_type>& types_of(entity_id e, std::uint32_t col,
                                          std::uint32_t source) const {
    return source == ~0u ? column_types_[e][col] : source_types_[e][source][col];
  }

  bool is_list(entity_id e, std::uint32_t col, std::uint32_t source = ~0u) const {
    for (value_type t : types_of(e, col, source))
      if (t == value_type::string_list) return true;
    return false;
  }

  std::string parse_into(std::string_view line, change& c) {
    padded_.assign(line);
    padded_.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    simdjson::ondemand::document doc;
    if (auto e = parser_.iterate(padded_.data(), padded_.size(), padded_.capacity()).get(doc))
      return json_error(e);
    simdjson::ondemand::object obj;
    if (auto e = doc.get_object().get(obj))
      return e == simdjson::INCORRECT_TYPE ? "a change is a JSON object" : json_error(e);

    // Members first, checked against the op once it is known.
    bool has_op = false, has_entity = false, has_key = false, has_now = false, has_row = false,
         has_source = false;
    std::string op, entity, key, now, source;
    struct row_field {
      std::string column, text;  // text "" = null
      bool array;
    };
    std::vector<row_field> row;
    std::string text;
    bool null = false;
    for (auto member : obj) {
      simdjson::ondemand::field f;
      if (auto e = std::move(member).get(f)) return json_error(e);
      std::string_view name;
      if (auto e = f.unescaped_key().get(name)) return json_error(e);
      const std::string n(name);
      auto once = [&](bool& seen) -> std::string {
        if (seen) return "member '" + n + "' given twice";
        seen = true;
        return {};
      };
      auto scalar_string = [&](std::string& into, bool& seen, bool numbers) -> std::string {
        if (auto m = once(seen); !m.empty()) return m;
        json_type t;
        if (auto e = f.value().type().get(t)) return json_error(e);
        if (t != json_type::string && !(numbers && t == json_type::number))
          return "member '" + n + "' must be a string";
        if (auto m = value_text(f.value(), false, into, null); !m.empty()) return m;
        return {};
      };
      std::string m;
      if (n == "op") {
        m = scalar_string(op, has_op, false);
      } else if (n == "entity") {
        m = scalar_string(entity, has_entity, false);
      } else if (n == "key") {
        m = scalar_string(key, has_key, true);
      } else if (n == "now") {
        m = scalar_string(now, has_now, false);
      } else if (n == "row") {
        if (auto mm = once(has_row); !mm.empty()) return mm;
        simdjson::ondemand::object r;
        if (auto e = f.value().get_object().get(r))
          return e == simdjson::INCORRECT_TYPE ? "member 'row' must be an object" : json_error(e);
        for (auto rf : r) {
          simdjson::ondemand::field field;
          if (auto e = std::move(rf).get(field)) return json_error(e);
          std::string_view col;
          if (auto e = field.unescaped_key().get(col)) return json_error(e);
          for (const auto& seen : row)
            if (seen.column == col) return "field '" + std::string(col) + "' given twice";
          // Arrays are parsed now; whether the column takes one is checked below.
          bool array = false;
          if (auto mm = value_text(field.value(), true, text, null, &array); !mm.empty())
            return "field '" + std::string(col) + "': " + mm;
          row.push_back({std::string(col), text, array});
        }
      } else if (n == "source") {
        m = scalar_string(source, has_source, false);
      } else {
        continue;  // other members (a producer's id or envelope) are not the change's business
      }
      if (!m.empty()) return m;
    }
    // At the end of the input, the location is out of bounds; anywhere else, content follows.
    const char* rest = nullptr;
    if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS)
      return "malformed JSON (content after the object)";

    if (!has_op) return "member 'op' missing";
    if (op == "commit" || op == "tick") {
      c.op = op == "commit" ? change_op::commit : change_op::tick;
      if (has_entity || has_key || has_row || has_source)
        return "member '" +
               std::string(has_entity ? "entity"
                           : has_key  ? "key"
                           : has_row  ? "row"
                                      : "source") +
               "' does not belong to a " + op;
      if (c.op == change_op::commit) {
        if (has_now) return "member 'now' does not belong to a commit";
        return {};
      }
      if (!has_now) return "member 'now' missing (tick needs the new time)";
      if (!parse_timestamp(now, c.now))
        return "member 'now': bad timestamp value " + detail::live::quoted(now);
      return {};
    }
    if (op == "upsert")
      c.op = change_op::upsert;
    else if (op == "insert")
      c.op = change_op::insert;
    else if (op == "delete")
      c.op = change_op::erase;
    else
      return "member 'op': unknown op " + detail::live::quoted(op) +
             " (expected upsert, insert, delete, tick or commit)";
    if (!has_entity) return "member 'entity' missing";
    if (has_now) return "member 'now' does not belong to a " + op;
    c.entity = schema_.find_entity(entity);
    if (c.entity == no_entity)
      return "member 'entity': unknown entity " + detail::live::quoted(entity);
    const entity_def& def = schema_.entities[c.entity];
    const auto& cols = layout_.entities[c.entity];
    if (def.resolved())
      return parse_source_change(def, has_source, source, has_key, has_row, row, c);
    if (has_source)
      return "member 'source': entity '" + def.name + "' has no sources (its rows have a key)";
    if (c.op == change_op::erase) {
      if (has_row) return "member 'row' does not belong to a delete";
      if (!def.key) return "entity '" + def.name + "' has no key: its rows cannot be deleted";
      if (!has_key) return "member 'key' missing";
      if (key.empty()) return "member 'key': the key is empty";
      c.key = std::move(key);
      return {};
    }
    if (has_key) return "member 'key' does not belong to an " + op + " (the key is a row field)";
    if (!has_row) return "member 'row' missing";
    if (c.op == change_op::upsert && !def.key)
      return "entity '" + def.name + "' has no key: add its rows with insert";
    if (c.op == change_op::insert && def.key)
      return "entity '" + def.name + "' has a key: create or update its rows with upsert";
    for (auto& [col, value, array] : row) {
      const int i = cols.find(col);
      if (i < 0) return "field '" + col + "': entity '" + def.name + "' has no such column";
      const auto ci = static_cast<std::uint32_t>(i);
      if (array && !is_list(c.entity, ci))
        return "field '" + col + "': an array is a value only for a string[] column";
      if (!value.empty())
        if (auto m = check_types(c.entity, ci, value); !m.empty())
          return "field '" + col + "': " + m;
      if (i == cols.key) {
        if (value.empty()) return "field '" + col + "': the key is empty";
        c.key = value;
      }
      c.fields.push_back({ci, std::move(value)});
    }
    if (c.op == change_op::upsert && c.key.empty())
      return "field '" + *def.key + "' (the key) missing";
    return {};
  }

  /// The rest of a change to an entity with sources (SPEC 2.4): it names a source, and its row
  /// holds columns of that source; an upsert's row names at least one identity, a delete's row
  /// exactly the identity that finds the source rows.
  template <class Row>
  std::string parse_source_change(const entity_def& def, bool has_source, std::string& source,
                                  bool has_key, bool has_row, Row& row, change& c) {
    if (!has_source)
      return "member 'source' missing (entity '" + def.name +
             "' has sources: name the one the row comes from)";
    for (std::uint32_t k = 0; k < def.sources.size(); ++k)
      if (def.sources[k].name == source) c.source = k;
    if (c.source == ~0u) {
      std::string names;
      for (const auto& src : def.sources) names += (names.empty() ? "'" : ", '") + src.name + "'";
      return "member 'source': entity '" + def.name + "' has no source " +
             detail::live::quoted(source) + " (its sources: " + names + ")";
    }
    if (c.op == change_op::insert)
      return "entity '" + def.name + "' has sources: create or update its rows with upsert";
    if (has_key)
      return "member 'key' does not belong to a change of an entity with sources (the row names "
             "its identities)";
    if (!has_row) return "member 'row' missing";
    const auto& sc = layout_.entities[c.entity].sources[c.source];
    std::string identities;
    for (auto col : sc.identity_column)
      identities += (identities.empty() ? "'" : ", '") + sc.names[col] + "'";
    std::size_t given = 0;
    for (auto& [col, value, array] : row) {
      const int i = sc.find(col);
      if (i < 0)
        return "field '" + col + "': source '" + source + "' of entity '" + def.name +
               "' has no such column";
      const auto ci = static_cast<std::uint32_t>(i);
      if (array && !is_list(c.entity, ci, c.source))
        return "field '" + col + "': an array is a value only for a string[] column";
      if (!value.empty())
        if (auto m = check_types(c.entity, ci, value, c.source); !m.empty())
          return "field '" + col + "': " + m;
      const bool identity = std::find(sc.identity_column.begin(), sc.identity_column.end(), ci) !=
                            sc.identity_column.end();
      if (identity && !value.empty()) ++given;
      if (c.op == change_op::erase && !identity)
        return "field '" + col + "': a delete names the source row by one identity (" + identities +
               ") and nothing else";
      c.fields.push_back({ci, std::move(value)});
    }
    if (given == 0)
      return "the row names no identity of source '" + source + "' (" + identities + ")";
    if (c.op == change_op::erase && given > 1)
      return "a delete names the source row by one identity, not " + std::to_string(given);
    return {};
  }

  const schema& schema_;
  row_layout layout_;
  std::vector<std::vector<std::vector<value_type>>> column_types_;  // entity, column: its types
  /// entity, source, column: the types that read it
  std::vector<std::vector<std::vector<std::vector<value_type>>>> source_types_;
  simdjson::ondemand::parser parser_;
  std::string padded_;  ///< the line being parsed, with simdjson's padding after it
};

}  // namespace b2bseg
