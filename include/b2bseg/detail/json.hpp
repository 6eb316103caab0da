// A small, strict JSON reader (RFC 8259) that builds a DOM in which every value knows its position.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/utf8.hpp"

namespace b2bseg::detail::json {

/// Arrays and objects may nest this deep by default; deeper input is rejected, so that hostile
/// input cannot exhaust the stack of the recursive parser.
inline constexpr std::size_t default_max_depth = 256;

/// The kind of a JSON value.
enum class kind : std::uint8_t { null, boolean, number, string, array, object };

/// The JSON spelling of a kind, for messages: "null", "boolean", "number", "string", "array",
/// "object".
constexpr std::string_view kind_name(kind k) noexcept {
  switch (k) {
    case kind::null:
      return "null";
    case kind::boolean:
      return "boolean";
    case kind::number:
      return "number";
    case kind::string:
      return "string";
    case kind::array:
      return "array";
    case kind::object:
      return "object";
  }
  return "?";
}

struct member;

/// One JSON value. Only the fields of its kind are meaningful. `line` and `column` (1-based, column
/// in bytes) are where the value starts: its first character, the opening quote of a string.
struct value {
  kind type = kind::null;
  std::size_t line = 0;
  std::size_t column = 0;
  bool boolean = false;         ///< kind::boolean
  double number = 0.0;          ///< kind::number, nearest double (underflow gives 0)
  std::string text;             ///< kind::string: the decoded UTF-8; kind::number: the literal
  std::vector<value> items;     ///< kind::array
  std::vector<member> members;  ///< kind::object, in document order, keys unique

  bool is_null() const noexcept { return type == kind::null; }
  bool is_boolean() const noexcept { return type == kind::boolean; }
  bool is_number() const noexcept { return type == kind::number; }
  bool is_string() const noexcept { return type == kind::string; }
  bool is_array() const noexcept { return type == kind::array; }
  bool is_object() const noexcept { return type == kind::object; }

  /// The member of an object named `key`, or nullptr (also when this is not an object).
  /// O(members).
  const value* find(std::string_view key) const noexcept;

  /// A number literal written without fraction or exponent that fits in 64 bits; else nullopt.
  std::optional<std::int64_t> as_int64() const noexcept {
    if (type != kind::number) return std::nullopt;
    if (text.find_first_of(".eE") != std::string::npos) return std::nullopt;
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return v;
  }
};

/// One member of an object: its key, where the key starts (its opening quote), and its value.
struct member {
  std::string key;
  std::size_t line = 0;
  std::size_t column = 0;
  value val;
};

inline const value* value::find(std::string_view key) const noexcept {
  for (const member& m : members)
    if (m.key == key) return &m.val;
  return nullptr;
}

namespace impl {

/// Recursive-descent parser over one document. Holds a reference to `file` for its errors.
class parser {
 public:
  parser(std::string_view text, const std::string& file, std::size_t max_depth)
      : s_(text), file_(file), max_depth_(max_depth) {}

  value parse_document() {
    // A UTF-8 byte-order mark is tolerated (RFC 8259 section 8.1); columns count after it.
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = line_start_ = 3;
    skip_ws();
    if (at_end()) fail_here("empty input");
    value v = parse_value(0);
    skip_ws();
    if (!at_end()) fail_here("unexpected " + describe_here() + " after the end of the document");
    return v;
  }

 private:
  [[noreturn]] void fail_at(std::size_t line, std::size_t column, const std::string& what) const {
    throw data_error(file_, line, column, "invalid JSON: " + what);
  }
  [[noreturn]] void fail_here(const std::string& what) const { fail_at(line_, column(), what); }

  bool at_end() const noexcept { return pos_ >= s_.size(); }
  unsigned char peek() const noexcept { return static_cast<unsigned char>(s_[pos_]); }
  std::size_t column() const noexcept { return pos_ - line_start_ + 1; }

  static bool is_word_char(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }

  /// What stands at the current position, for messages: a word, a quoted character, or a byte.
  std::string describe_here() const {
    if (at_end()) return "end of input";
    unsigned char c = peek();
    if (is_word_char(c)) {
      std::size_t end = pos_;
      while (end < s_.size() && end - pos_ < 32 &&
             is_word_char(static_cast<unsigned char>(s_[end])))
        ++end;
      return "'" + std::string(s_.substr(pos_, end - pos_)) + "'";
    }
    if (c > 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
    return "byte " + hex_byte(c);
  }

  static std::string hex_byte(unsigned char c) {
    const char* digits = "0123456789ABCDEF";
    return std::string("0x") + digits[c >> 4] + digits[c & 15];
  }

  void skip_ws() noexcept {
    while (!at_end()) {
      char c = s_[pos_];
      if (c == '\n') {
        ++pos_;
        ++line_;
        line_start_ = pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  /// Parses the value at the current position (whitespace already skipped). `depth` counts the
  /// arrays and objects that enclose it.
  value parse_value(std::size_t depth) {
    if (at_end()) fail_here("unexpected end of input (expected a value)");
    value v;
    v.line = line_;
    v.column = column();
    unsigned char c = peek();
    if (c == '{' || c == '[') {
      if (depth + 1 > max_depth_)
        fail_here("nesting deeper than " + std::to_string(max_depth_) + " levels");
      if (c == '{')
        parse_object(v, depth + 1);
      else
        parse_array(v, depth + 1);
    } else if (c == '"') {
      v.type = kind::string;
      parse_string(v.text);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      parse_number(v);
    } else if (is_word_char(c)) {
      std::size_t end = pos_;
      while (end < s_.size() && is_word_char(static_cast<unsigned char>(s_[end]))) ++end;
      std::string_view word = s_.substr(pos_, end - pos_);
      if (word == "true" || word == "false") {
        v.type = kind::boolean;
        v.boolean = word == "true";
      } else if (word == "null") {
        v.type = kind::null;
      } else {
        fail_here("unexpected " + describe_here() + " (expected a value)");
      }
      pos_ = end;
    } else {
      fail_here("unexpected " + describe_here() + " (expected a value)");
    }
    return v;
  }

  [[noreturn]] void fail_unclosed(char open, std::size_t line, std::size_t col) const {
    fail_here(std::string("unexpected end of input ('") + open + "' at line " +
              std::to_string(line) + ", column " + std::to_string(col) + " is not closed)");
  }

  void parse_object(value& v, std::size_t depth) {
    v.type = kind::object;
    ++pos_;  // '{'
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return;
    }
    for (;;) {
      if (at_end()) fail_unclosed('{', v.line, v.column);
      if (peek() != '"') fail_here("unexpected " + describe_here() + " (expected a string key)");
      member m;
      m.line = line_;
      m.column = column();
      parse_string(m.key);
      skip_ws();
      if (at_end()) fail_unclosed('{', v.line, v.column);
      if (peek() != ':') fail_here("unexpected " + describe_here() + " (expected ':' after a key)");
      ++pos_;
      skip_ws();
      m.val = parse_value(depth);
      v.members.push_back(std::move(m));
      skip_ws();
      if (at_end()) fail_unclosed('{', v.line, v.column);
      if (peek() == '}') {
        ++pos_;
        break;
      }
      if (peek() != ',')
        fail_here("unexpected " + describe_here() + " (expected ',' or '}' after a member)");
      std::size_t comma_line = line_, comma_column = column();
      ++pos_;
      skip_ws();
      if (!at_end() && peek() == '}') fail_at(comma_line, comma_column, "trailing comma");
    }
    check_unique_keys(v);
  }

  /// Duplicate keys are an error: the first key that repeats an earlier one is reported.
  void check_unique_keys(const value& v) const {
    if (v.members.size() < 2) return;
    std::unordered_set<std::string_view> seen;
    seen.reserve(v.members.size());
    for (const member& m : v.members)
      if (!seen.insert(m.key).second) fail_at(m.line, m.column, "duplicate key " + quoted(m.key));
  }

  void parse_array(value& v, std::size_t depth) {
    v.type = kind::array;
    ++pos_;  // '['
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return;
    }
    for (;;) {
      if (at_end()) fail_unclosed('[', v.line, v.column);
      v.items.push_back(parse_value(depth));
      skip_ws();
      if (at_end()) fail_unclosed('[', v.line, v.column);
      if (peek() == ']') {
        ++pos_;
        return;
      }
      if (peek() != ',')
        fail_here("unexpected " + describe_here() + " (expected ',' or ']' after an element)");
      std::size_t comma_line = line_, comma_column = column();
      ++pos_;
      skip_ws();
      if (!at_end() && peek() == ']') fail_at(comma_line, comma_column, "trailing comma");
    }
  }

  static int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  /// Reads the 4 hex digits of a \u escape whose backslash is at `at`; -1 when malformed.
  long read_hex4(std::size_t at) const noexcept {
    if (at + 6 > s_.size()) return -1;
    long cp = 0;
    for (std::size_t i = at + 2; i < at + 6; ++i) {
      int h = hex_value(s_[i]);
      if (h < 0) return -1;
      cp = cp * 16 + h;
    }
    return cp;
  }

  /// Length of the well-formed UTF-8 sequence at `at` (lead byte >= 0x80), or 0 when it is not
  /// (overlong forms, encoded surrogates and code points above U+10FFFF are ill-formed).
  std::size_t utf8_length(std::size_t at) const noexcept {
    auto byte = [&](std::size_t i) -> unsigned {
      return i < s_.size() ? static_cast<unsigned char>(s_[i]) : 0u;
    };
    auto cont = [](unsigned b) { return b >= 0x80 && b <= 0xBF; };
    unsigned c = byte(at);
    if (c >= 0xC2 && c <= 0xDF) return cont(byte(at + 1)) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      unsigned b1 = byte(at + 1);
      return b1 >= lo && b1 <= hi && cont(byte(at + 2)) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      unsigned b1 = byte(at + 1);
      return b1 >= lo && b1 <= hi && cont(byte(at + 2)) && cont(byte(at + 3)) ? 4 : 0;
    }
    return 0;
  }

  /// Parses the string whose opening quote is at the current position into `out` (decoded UTF-8).
  void parse_string(std::string& out) {
    const std::size_t open_line = line_, open_column = column();
    ++pos_;  // '"'
    for (;;) {
      // Copy the run of plain ASCII characters at once.
      std::size_t run = pos_;
      while (run < s_.size()) {
        unsigned char c = static_cast<unsigned char>(s_[run]);
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
        ++run;
      }
      out.append(s_.data() + pos_, run - pos_);
      pos_ = run;
      if (at_end()) fail_at(open_line, open_column, "unterminated string");
      unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        return;
      }
      if (c == '\n' || c == '\r') fail_at(open_line, open_column, "unterminated string");
      if (c < 0x20) fail_here("unescaped control character " + hex_byte(c) + " in a string");
      if (c >= 0x80) {
        std::size_t n = utf8_length(pos_);
        if (n == 0) fail_here("invalid UTF-8 in a string (byte " + hex_byte(c) + ")");
        out.append(s_.data() + pos_, n);
        pos_ += n;
        continue;
      }
      parse_escape(out, open_line, open_column);
    }
  }

  /// Decodes the escape whose backslash is at the current position, in the string opened at
  /// `open_line`:`open_column`.
  void parse_escape(std::string& out, std::size_t open_line, std::size_t open_column) {
    const std::size_t at = pos_, at_column = column();
    if (at + 1 >= s_.size()) fail_at(open_line, open_column, "unterminated string");
    char e = s_[at + 1];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        long cp = read_hex4(at);
        if (cp < 0) fail_here("invalid \\u escape (expected 4 hex digits)");
        std::size_t len = 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          fail_here("unpaired surrogate \\u" + std::string(s_.substr(at + 2, 4)));
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          long lo = at + 7 < s_.size() && s_[at + 6] == '\\' && s_[at + 7] == 'u'
                        ? read_hex4(at + 6)
                        : -1;
          if (lo < 0xDC00 || lo > 0xDFFF)
            fail_here("unpaired surrogate \\u" + std::string(s_.substr(at + 2, 4)));
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          len = 12;
        }
        b2bseg::detail::append_utf8(out, static_cast<std::uint32_t>(cp));
        pos_ += len;
        return;
      }
      default: {
        unsigned char u = static_cast<unsigned char>(e);
        std::string shown = u > 0x20 && u < 0x7F ? std::string("'\\") + e + "'" : hex_byte(u);
        fail_at(line_, at_column, "invalid escape " + shown);
      }
    }
    pos_ += 2;
  }

  /// True when `t` matches -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  static bool valid_number(std::string_view t) noexcept {
    std::size_t i = 0, n = t.size();
    auto digits = [&] {
      std::size_t start = i;
      while (i < n && t[i] >= '0' && t[i] <= '9') ++i;
      return i > start;
    };
    if (i < n && t[i] == '-') ++i;
    if (i < n && t[i] == '0') {
      ++i;
    } else if (!digits()) {
      return false;
    }
    if (i < n && t[i] == '.') {
      ++i;
      if (!digits()) return false;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
      ++i;
      if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
      if (!digits()) return false;
    }
    return i == n;
  }

  /// Whether a valid literal that does not fit a double is too small (true) or too large (false):
  /// the decimal exponent of its first significant digit decides.
  static bool underflows(std::string_view t) noexcept {
    std::size_t i = t[0] == '-' ? 1 : 0;
    long long magnitude = 0;  // position of the first significant digit relative to the point
    std::size_t int_start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    std::size_t int_len = i - int_start;
    if (!(int_len == 1 && t[int_start] == '0')) {
      magnitude = static_cast<long long>(int_len);
    } else if (i < t.size() && t[i] == '.') {
      ++i;
      long long zeros = 0;
      while (i < t.size() && t[i] == '0') ++i, ++zeros;
      magnitude = -zeros;
    }
    std::size_t e = t.find_first_of("eE");
    long long exponent = 0;
    if (e != std::string_view::npos) {
      std::size_t j = e + 1;
      bool negative = t[j] == '-';
      if (t[j] == '+' || t[j] == '-') ++j;
      for (; j < t.size(); ++j) {
        if (exponent < 1'000'000'000) exponent = exponent * 10 + (t[j] - '0');
      }
      if (negative) exponent = -exponent;
    }
    return magnitude + exponent < 0;
  }

  void parse_number(value& v) {
    std::size_t end = pos_;
    while (end < s_.size()) {
      char c = s_[end];
      if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')
        ++end;
      else
        break;
    }
    std::string_view t = s_.substr(pos_, end - pos_);
    if (!valid_number(t) || (end < s_.size() && is_word_char(static_cast<unsigned char>(s_[end]))))
      fail_here("invalid number '" + std::string(t.substr(0, 40)) + "'");
    v.type = kind::number;
    v.text = std::string(t);
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v.number);
    if (ec == std::errc::result_out_of_range) {
      if (!underflows(t)) fail_here("number out of range '" + std::string(t.substr(0, 40)) + "'");
      v.number = t[0] == '-' ? -0.0 : 0.0;
    } else if (ec != std::errc{} || ptr != t.data() + t.size()) {
      fail_here("invalid number '" + std::string(t.substr(0, 40)) + "'");
    }
    pos_ = end;
  }

  /// `s` in single quotes, control bytes shown as \xNN, cut after 64 bytes.
  static std::string quoted(std::string_view s) {
    std::string q = "'";
    for (std::size_t i = 0; i < s.size() && i < 64; ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == 0x7F)
        q += "\\x" + hex_byte(c).substr(2);
      else
        q += static_cast<char>(c);
    }
    if (s.size() > 64) q += "...";
    return q + "'";
  }

  std::string_view s_;
  const std::string& file_;
  std::size_t max_depth_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::size_t line_start_ = 0;
};

}  // namespace impl

/// Parses one JSON document (RFC 8259; a leading UTF-8 byte-order mark is skipped). Strict: no
/// comments, trailing commas, duplicate keys, lone surrogates or invalid UTF-8; arrays and objects
/// nest at most `max_depth` deep. O(size of text); the returned DOM owns copies of all strings and
/// does not refer to `text`. Throws data_error(file, line, column, "invalid JSON: ...") pointing at
/// the first offending byte.
inline value parse(std::string_view text, const std::string& file,
                   std::size_t max_depth = default_max_depth) {
  return impl::parser(text, file, max_depth).parse_document();
}

}  // namespace b2bseg::detail::json

namespace b2bseg::detail {

/// `s` as a JSON string (quotes, backslashes and control characters escaped).
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      switch (c) {
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
      }
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace b2bseg::detail
