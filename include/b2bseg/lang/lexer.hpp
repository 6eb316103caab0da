// Lexer of the segment language (SPEC 3): tokens, keywords, literals and lexical diagnostics.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/common/types.hpp"
#include "b2bseg/common/utf8.hpp"
#include "b2bseg/lang/bound.hpp"

namespace b2bseg {

/// The kinds of token of the segment language.
enum class token_kind : std::uint8_t {
  name,       ///< identifier or keyword (`value` = the name; `quoted` for a backtick name)
  string,     ///< `"..."`, `value` = the decoded bytes
  integer,    ///< digits only; `text` holds them (the sign is a separate `minus` token)
  decimal,    ///< digits with a fraction and/or exponent; `text` holds them
  timestamp,  ///< `@2026-01-01...`; `time` holds the instant
  lparen,
  rparen,
  comma,
  dot,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  plus,
  minus,
  error,  ///< a lexical error, already reported as a diagnostic
  eof,
};

/// One token. `text` points into the source text, which must outlive it.
struct token {
  token_kind kind = token_kind::eof;
  std::string_view text;  ///< the raw source bytes of the token
  std::string value;      ///< decoded name or string contents
  bool quoted = false;    ///< a backtick-quoted name: never a keyword
  timestamp_us time = 0;  ///< for timestamp tokens
  source_pos pos;
  std::size_t offset = 0;  ///< byte offset of the token in the source
};

namespace detail::lang {

/// The reserved words of the language. They are names only when written in backticks.
inline constexpr std::string_view lang_keywords[] = {
    "segment", "on",   "where", "and",  "or",    "not",    "in",   "between", "like",
    "ilike",   "is",   "null",  "true", "false", "within", "last", "next",    "now",
    "bucket",  "else", "then",  "top",  "by",    "per",    "asc",  "desc",    "segmentation"};

/// True when `s` is one of lang_keywords. O(keywords).
constexpr bool is_lang_keyword(std::string_view s) noexcept {
  for (std::string_view k : lang_keywords)
    if (k == s) return true;
  return false;
}

constexpr bool is_name_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
constexpr bool is_name_char(char c) noexcept {
  return is_name_start(c) || is_digit(c);
}

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// A segments text with its line starts, to turn byte offsets into diagnostics. Holds a view:
/// the text must outlive it.
class source_text {
 public:
  /// Indexes the line starts of `text`. O(size).
  source_text(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {
    starts_.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') starts_.push_back(i + 1);
  }

  std::string_view text() const noexcept { return text_; }
  const std::string& file() const noexcept { return file_; }

  /// The 1-based line and byte column of byte `offset`. O(log lines).
  source_pos position(std::size_t offset) const noexcept {
    std::size_t lo = 0, hi = starts_.size();
    while (hi - lo > 1) {
      const std::size_t mid = (lo + hi) / 2;
      if (starts_[mid] <= offset)
        lo = mid;
      else
        hi = mid;
    }
    return {static_cast<std::uint32_t>(lo + 1),
            static_cast<std::uint32_t>(offset - starts_[lo] + 1)};
  }

  /// The text of 1-based line `line`, without its line end. O(1).
  std::string_view line_text(std::uint32_t line) const noexcept {
    if (line == 0 || line > starts_.size()) return {};
    const std::size_t b = starts_[line - 1];
    std::size_t e = line < starts_.size() ? starts_[line] - 1 : text_.size();
    if (e > b && text_[e - 1] == '\r') --e;
    return text_.substr(b, e - b);
  }

  /// A diagnostic at `pos` with `message`, without its source line (see finish). O(1).
  diagnostic make(source_pos pos, std::string message) const {
    diagnostic d;
    d.line = pos.line;
    d.column = pos.column;
    d.message = std::move(message);
    return d;
  }

  /// Puts `diags` in source order (stable), keeps the first `max_diagnostics` and a last one
  /// saying that more were dropped, and fills in the file name and the source lines.
  /// O(n log n + shown line lengths).
  void finish(std::vector<diagnostic>& diags) const {
    std::stable_sort(diags.begin(), diags.end(), [](const diagnostic& a, const diagnostic& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    if (diags.size() > max_diagnostics) {
      diags.resize(max_diagnostics + 1);
      diags.back().message = "too many errors; stopped after " + std::to_string(max_diagnostics);
    }
    for (diagnostic& d : diags) {
      d.file = file_;
      d.source_line = std::string(line_text(static_cast<std::uint32_t>(d.line)));
    }
  }

  /// At most this many diagnostics are shown for one file.
  static constexpr std::size_t max_diagnostics = 100;

 private:
  std::string_view text_;
  std::string file_;
  std::vector<std::size_t> starts_;
};

/// Turns the text into tokens, appending a diagnostic per lexical error (and an `error` token
/// in its place). Always ends with an `eof` token.
class lexer {
 public:
  lexer(const source_text& src, std::vector<diagnostic>& diags) : src_(src), diags_(diags) {}

  /// Lexes the whole text. O(size); allocates the tokens.
  std::vector<token> run() {
    std::vector<token> out;
    const std::string_view s = src_.text();
    std::size_t i = 0;
    // A UTF-8 byte-order mark at the very start is skipped.
    if (s.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
    while (true) {
      while (i < s.size()) {
        const char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
          ++i;
        } else if (c == '#') {
          while (i < s.size() && s[i] != '\n') ++i;
        } else {
          break;
        }
      }
      if (i >= s.size()) {
        token t;
        t.kind = token_kind::eof;
        t.offset = s.size();
        t.pos = src_.position(s.size());
        out.push_back(std::move(t));
        return out;
      }
      out.push_back(next(i));
    }
  }

 private:
  token make(token_kind k, std::size_t begin, std::size_t end) const {
    token t;
    t.kind = k;
    t.text = src_.text().substr(begin, end - begin);
    t.offset = begin;
    t.pos = src_.position(begin);
    return t;
  }

  token fail(std::size_t begin, std::size_t end, std::size_t at, std::string message) {
    diags_.push_back(src_.make(src_.position(at), std::move(message)));
    return make(token_kind::error, begin, end);
  }

  // Lexes one token starting at a non-space byte s[i]; advances i past it.
  token next(std::size_t& i) {
    const std::string_view s = src_.text();
    const std::size_t b = i;
    const char c = s[i];
    const char c1 = i + 1 < s.size() ? s[i + 1] : '\0';
    auto single = [&](token_kind k, std::size_t n) {
      i += n;
      return make(k, b, i);
    };
    if (is_name_start(c)) {
      while (i < s.size() && is_name_char(s[i])) ++i;
      token t = make(token_kind::name, b, i);
      t.value = std::string(t.text);
      return t;
    }
    if (is_digit(c) || (c == '.' && is_digit(c1))) return number(i);
    switch (c) {
      case '"':
        return string_literal(i);
      case '`':
        return quoted_name(i);
      case '@':
        return timestamp_literal(i);
      case '(':
        return single(token_kind::lparen, 1);
      case ')':
        return single(token_kind::rparen, 1);
      case ',':
        return single(token_kind::comma, 1);
      case '.':
        return single(token_kind::dot, 1);
      case '+':
        return single(token_kind::plus, 1);
      case '-':
        return single(token_kind::minus, 1);
      case '=':
        if (c1 == '=') {
          i += 2;
          return fail(b, i, b, "'==' is not an operator; write '=' to test equality");
        }
        return single(token_kind::eq, 1);
      case '!':
        if (c1 == '=') return single(token_kind::ne, 2);
        ++i;
        return fail(b, i, b, "unexpected character '!'; write '!=' or 'not'");
      case '<':
        if (c1 == '=') return single(token_kind::le, 2);
        if (c1 == '>') {
          i += 2;
          return fail(b, i, b, "'<>' is not an operator; write '!=' to test inequality");
        }
        return single(token_kind::lt, 1);
      case '>':
        if (c1 == '=') return single(token_kind::ge, 2);
        return single(token_kind::gt, 1);
      default:
        break;
    }
    // Anything else is not part of the language. A multi-byte UTF-8 character is reported whole.
    std::size_t n = 1;
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0xC0) {
      const std::size_t want = u >= 0xF0 ? 4 : u >= 0xE0 ? 3 : 2;
      while (n < want && i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80)
        ++n;
    }
    i += n;
    std::string shown;
    if (u < 0x20 || u == 0x7F || (u >= 0x80 && u < 0xC0)) {
      static constexpr char hex[] = "0123456789ABCDEF";
      shown = std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
      return fail(b, i, b, "unexpected " + shown);
    }
    shown = std::string(s.substr(b, n));
    return fail(b, i, b, "unexpected character '" + shown + "'");
  }

  token number(std::size_t& i) {
    const std::string_view s = src_.text();
    const std::size_t b = i;
    bool is_decimal = false, ok = true;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i < s.size() && s[i] == '.') {
      // A point must be followed by digits: `5.` and `5.x` are bad numbers.
      is_decimal = true;
      ++i;
      const std::size_t f = i;
      while (i < s.size() && is_digit(s[i])) ++i;
      if (i == f) ok = false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      std::size_t j = i + 1;
      if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
      if (j < s.size() && is_digit(s[j])) {
        is_decimal = true;
        i = j;
        while (i < s.size() && is_digit(s[i])) ++i;
      } else {
        ok = false;
        i = j;
      }
    }
    // A number runs into no name character, dot or digit: `12abc`, `1.2.3` are one bad number.
    while (i < s.size() && (is_name_char(s[i]) || s[i] == '.')) {
      ok = false;
      ++i;
    }
    if (!ok) return fail(b, i, b, "bad number '" + std::string(s.substr(b, i - b)) + "'");
    return make(is_decimal ? token_kind::decimal : token_kind::integer, b, i);
  }

  token string_literal(std::size_t& i) {
    const std::string_view s = src_.text();
    const std::size_t b = i++;
    std::string value;
    bool bad = false;
    while (true) {
      if (i >= s.size() || s[i] == '\n' || (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) {
        // The string runs to the end of its line: report it there and lex on from the next line.
        return fail(b, i, b, "unterminated string");
      }
      const char c = s[i];
      if (c == '"') {
        ++i;
        break;
      }
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      const std::size_t esc = i;
      const char e = i + 1 < s.size() ? s[i + 1] : '\0';
      switch (e) {
        case '"':
          value += '"';
          i += 2;
          continue;
        case '\\':
          value += '\\';
          i += 2;
          continue;
        case 'n':
          value += '\n';
          i += 2;
          continue;
        case 't':
          value += '\t';
          i += 2;
          continue;
        case 'u': {
          std::uint32_t cp = 0;
          std::size_t j = esc + 2;
          if (!hex4(j, cp)) {
            bad |= report_escape(esc, j, "\\u needs 4 hex digits");
            i = j;
            continue;
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed by an escaped low surrogate: one code point.
            std::uint32_t low = 0;
            std::size_t k = j + 2;
            if (j + 1 < s.size() && s[j] == '\\' && s[j + 1] == 'u' && hex4(k, low) &&
                low >= 0xDC00 && low <= 0xDFFF) {
              append_utf8(value, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
              i = k;
              continue;
            }
            bad |= report_escape(esc, j, "unpaired surrogate");
            i = j;
            continue;
          }
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            bad |= report_escape(esc, j, "unpaired surrogate");
            i = j;
            continue;
          }
          append_utf8(value, cp);
          i = j;
          continue;
        }
        default: {
          std::size_t j = esc + 1;
          if (j < s.size() && s[j] != '\n' && s[j] != '\r') ++j;
          bad |= report_escape(esc, j, "write \\\" \\\\ \\n \\t or \\uXXXX");
          i = j;
          continue;
        }
      }
    }
    if (bad) return make(token_kind::error, b, i);
    token t = make(token_kind::string, b, i);
    t.value = std::move(value);
    return t;
  }

  // Reads 4 hex digits at j into cp, advancing j past the hex digits it read.
  bool hex4(std::size_t& j, std::uint32_t& cp) const {
    const std::string_view s = src_.text();
    cp = 0;
    for (int k = 0; k < 4; ++k, ++j) {
      if (j >= s.size()) return false;
      const int h = hex_value(s[j]);
      if (h < 0) return false;
      cp = cp * 16 + static_cast<std::uint32_t>(h);
    }
    return true;
  }

  bool report_escape(std::size_t at, std::size_t end, std::string_view why) {
    diags_.push_back(src_.make(src_.position(at),
                               "bad escape '" + std::string(src_.text().substr(at, end - at)) +
                                   "' in string: " + std::string(why)));
    return true;
  }

  token quoted_name(std::size_t& i) {
    const std::string_view s = src_.text();
    const std::size_t b = i++;
    while (i < s.size() && s[i] != '`' && s[i] != '\n') ++i;
    if (i >= s.size() || s[i] != '`') return fail(b, i, b, "unterminated quoted name");
    ++i;
    token t = make(token_kind::name, b, i);
    t.value = std::string(s.substr(b + 1, i - b - 2));
    t.quoted = true;
    // Backticks only let a keyword be a name: the name itself is still an identifier.
    bool ok = !t.value.empty() && is_name_start(t.value[0]);
    for (char ch : t.value) ok = ok && is_name_char(ch);
    if (!ok)
      return fail(b, i, b,
                  "bad quoted name '" + std::string(t.text) +
                      "': a name starts with a letter or '_' and holds letters, digits and '_'");
    return t;
  }

  token timestamp_literal(std::size_t& i) {
    const std::string_view s = src_.text();
    const std::size_t b = i++;
    // The literal runs over the characters an ISO 8601 timestamp may hold.
    while (i < s.size() &&
           (is_name_char(s[i]) || s[i] == '-' || s[i] == ':' || s[i] == '.' || s[i] == '+'))
      ++i;
    const std::string_view body = s.substr(b + 1, i - b - 1);
    timestamp_us t = 0;
    if (body.empty() || !parse_timestamp(body, t))
      return fail(b, i, b,
                  "bad timestamp literal '" + std::string(s.substr(b, i - b)) +
                      "'; write @YYYY-MM-DD or @YYYY-MM-DDThh:mm:ssZ");
    token tok = make(token_kind::timestamp, b, i);
    tok.time = t;
    return tok;
  }

  const source_text& src_;
  std::vector<diagnostic>& diags_;
};

}  // namespace detail::lang

/// Lexes `text` into tokens ending with `eof`, appending one diagnostic per lexical error
/// (unterminated string, bad escape, bad number, bad timestamp, stray character) to `diags`; each
/// such error leaves an `error` token. The tokens view `text`, which must outlive them.
/// O(size); never throws except std::bad_alloc.
inline std::vector<token> lex_segments(std::string_view text, const std::string& file,
                                       std::vector<diagnostic>& diags) {
  detail::lang::source_text src(text, file);
  std::vector<diagnostic> found;
  std::vector<token> tokens = detail::lang::lexer(src, found).run();
  src.finish(found);
  diags.insert(diags.end(), found.begin(), found.end());
  return tokens;
}

}  // namespace b2bseg
